// Liquidations (and undoing them) on the resident book without uploading it again: only the
// patched accounts' positions and base equity are written, so a cascade round or a replay's
// close-out moves bytes in proportion to the accounts it closes.
#include "cuda_check.cuh"
#include "launchers.cuh"

namespace msync::cuda {

namespace {

__global__ void patch_accounts_kernel(account_patch_view patch, const std::uint64_t* account_position_begin,
                                      double* position_quantity, double* position_cost, double* base_equity) {
  const std::uint64_t stride = static_cast<std::uint64_t>(gridDim.x) * blockDim.x;
  for (std::uint64_t i = blockIdx.x * static_cast<std::uint64_t>(blockDim.x) + threadIdx.x; i < patch.count;
       i += stride) {
    const std::uint32_t a = patch.accounts[i];
    const std::uint64_t begin = account_position_begin[a];
    for (std::uint64_t k = patch.first[i]; k < patch.first[i + 1]; ++k) {
      position_quantity[begin + (k - patch.first[i])] = patch.quantity[k];
      position_cost[begin + (k - patch.first[i])] = patch.cost[k];
    }
    base_equity[a] = patch.base_equity[i];
  }
}

}  // namespace

void launch_patch_accounts(const account_patch_view& patch, const std::uint64_t* account_position_begin,
                           double* position_quantity, double* position_cost, double* base_equity,
                           cudaStream_t stream) {
  if (patch.count == 0) return;
  patch_accounts_kernel<<<elementwise_blocks(patch.count), elementwise_threads, 0, stream>>>(
      patch, account_position_begin, position_quantity, position_cost, base_equity);
  MSYNC_CUDA_CHECK_LAUNCH();
}

}  // namespace msync::cuda
