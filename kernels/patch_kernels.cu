// Liquidations (and undoing them) on the resident book without uploading it again: only the
// patched accounts' positions and collateral are written, and only the closed accounts' numbers
// are gathered for the host, so a cascade round or a replay's close-out moves bytes in proportion
// to the accounts it closes.
#include "cuda_check.cuh"
#include "launchers.cuh"

namespace msync::cuda {

namespace {

__global__ void patch_accounts_kernel(account_patch_view patch,
                                      const std::uint64_t* account_position_begin,
                                      double* position_quantity, double* position_cost,
                                      double* collateral) {
  const std::uint64_t stride = static_cast<std::uint64_t>(gridDim.x) * blockDim.x;
  for (std::uint64_t i = blockIdx.x * static_cast<std::uint64_t>(blockDim.x) + threadIdx.x;
       i < patch.count; i += stride) {
    const std::uint32_t a = patch.accounts[i];
    const std::uint64_t begin = account_position_begin[a];
    for (std::uint64_t k = patch.first[i]; k < patch.first[i + 1]; ++k) {
      position_quantity[begin + (k - patch.first[i])] = patch.quantity[k];
      position_cost[begin + (k - patch.first[i])] = patch.cost[k];
    }
    collateral[a] = patch.collateral[i];
  }
}

__global__ void gather_accounts_kernel(account_gather_view out,
                                       const std::uint64_t* account_exposure_begin,
                                       revaluation_view reval) {
  const std::uint64_t stride = static_cast<std::uint64_t>(gridDim.x) * blockDim.x;
  for (std::uint64_t i = blockIdx.x * static_cast<std::uint64_t>(blockDim.x) + threadIdx.x;
       i < out.count; i += stride) {
    const std::uint32_t a = out.accounts[i];
    out.equity[i] = reval.account_equity[a];
    out.own_funds[i] = reval.account_own_funds[a];
    out.gross[i] = reval.account_gross_notional[a];
    const std::uint64_t begin = account_exposure_begin[a];
    for (std::uint64_t k = out.first[i]; k < out.first[i + 1]; ++k)
      out.delta[k] = reval.exposure_delta[begin + (k - out.first[i])];
  }
}

}  // namespace

void launch_patch_accounts(const account_patch_view& patch,
                           const std::uint64_t* account_position_begin, double* position_quantity,
                           double* position_cost, double* collateral, cudaStream_t stream) {
  if (patch.count == 0) return;
  patch_accounts_kernel<<<elementwise_blocks(patch.count), elementwise_threads, 0, stream>>>(
      patch, account_position_begin, position_quantity, position_cost, collateral);
  MSYNC_CUDA_CHECK_LAUNCH();
}

void launch_gather_accounts(const account_gather_view& out,
                            const std::uint64_t* account_exposure_begin,
                            const revaluation_view& reval, cudaStream_t stream) {
  if (out.count == 0) return;
  gather_accounts_kernel<<<elementwise_blocks(out.count), elementwise_threads, 0, stream>>>(
      out, account_exposure_begin, reval);
  MSYNC_CUDA_CHECK_LAUNCH();
}

}  // namespace msync::cuda
