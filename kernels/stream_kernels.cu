// A stream's tick path on the device (README "Streaming"): after a revalue of the resident book,
// every account's staleness add-on and state against the margins in force, a flag where the state
// changed, and the few changed accounts gathered for the host. Only those leave the device (the
// collateral that moved comes up as a compact list that the revaluation kernel adds,
// revalue_kernels.cu).
#include "cuda_check.cuh"
#include "launchers.cuh"
#include "marginsync/staleness.hpp"
#include "marginsync/stream_rules.hpp"

namespace msync::cuda {

namespace {

__device__ double account_addon(const stream_tick_view& v, std::uint64_t a, bool& on_stale) {
  return account_staleness_addon(v.account_exposure_begin[a], v.account_exposure_begin[a + 1],
                                 v.exposure_underlying, v.exposure_delta, v.spot, v.vol, v.stale,
                                 v.z, v.tau_years, on_stale);
}

__global__ void stream_state_kernel(stream_tick_view v, std::uint8_t* changed) {
  const std::uint64_t stride = static_cast<std::uint64_t>(gridDim.x) * blockDim.x;
  for (std::uint64_t a = blockIdx.x * static_cast<std::uint64_t>(blockDim.x) + threadIdx.x;
       a < v.accounts; a += stride) {
    bool on_stale = false;
    const double addon = account_addon(v, a, on_stale);
    const margin_levels in_force{v.initial_margin[a] + addon, v.maintenance_margin[a] + addon};
    // From the state after the last tick: the calm-state rule.
    const std::uint8_t state = static_cast<std::uint8_t>(
        account_stream_state(v.equity[a], in_force, v.breach_probability[a], v.preemptive_threshold,
                             on_stale, static_cast<stream_state>(v.state[a]), v.recovery_band));
    changed[a] = state != v.state[a] ? 1 : 0;
    v.state[a] = state;
    v.addon[a] = addon;
  }
}

__device__ state_change change_of(const stream_tick_view& v, std::uint32_t a) {
  return state_change{a,
                      v.state[a],
                      v.equity[a],
                      v.initial_margin[a] + v.addon[a],
                      v.maintenance_margin[a] + v.addon[a],
                      v.breach_probability[a]};
}

__global__ void gather_changes_kernel(const std::uint32_t* selected, std::uint32_t count,
                                      stream_tick_view v, state_change* out) {
  const std::uint64_t stride = static_cast<std::uint64_t>(gridDim.x) * blockDim.x;
  for (std::uint64_t i = blockIdx.x * static_cast<std::uint64_t>(blockDim.x) + threadIdx.x;
       i < count; i += stride)
    out[i] = change_of(v, selected[i]);
}

// As gather_changes_kernel, the count read on the device (where the select wrote it), at most
// `capacity` of them: the host learns the count and the changes from one copy.
__global__ void gather_changes_upto_kernel(const std::uint32_t* selected,
                                           const std::uint32_t* count, std::uint32_t capacity,
                                           stream_tick_view v, state_change* out) {
  const std::uint32_t n = min(*count, capacity);
  const std::uint64_t stride = static_cast<std::uint64_t>(gridDim.x) * blockDim.x;
  for (std::uint64_t i = blockIdx.x * static_cast<std::uint64_t>(blockDim.x) + threadIdx.x; i < n;
       i += stride)
    out[i] = change_of(v, selected[i]);
}

}  // namespace

void launch_stream_states(const stream_tick_view& v, std::uint8_t* changed, cudaStream_t stream) {
  if (v.accounts == 0) return;
  stream_state_kernel<<<elementwise_blocks(v.accounts), elementwise_threads, 0, stream>>>(v,
                                                                                          changed);
  MSYNC_CUDA_CHECK_LAUNCH();
}

void launch_gather_changes(const std::uint32_t* selected, std::uint32_t count,
                           const stream_tick_view& v, state_change* out, cudaStream_t stream) {
  if (count == 0) return;
  gather_changes_kernel<<<elementwise_blocks(count), elementwise_threads, 0, stream>>>(
      selected, count, v, out);
  MSYNC_CUDA_CHECK_LAUNCH();
}

void launch_gather_changes_upto(const std::uint32_t* selected, const std::uint32_t* count,
                                std::uint32_t capacity, const stream_tick_view& v,
                                state_change* out, cudaStream_t stream) {
  if (capacity == 0) return;
  gather_changes_upto_kernel<<<elementwise_blocks(capacity), elementwise_threads, 0, stream>>>(
      selected, count, capacity, v, out);
  MSYNC_CUDA_CHECK_LAUNCH();
}

void load_stream_kernels() {
  cudaFuncAttributes attributes{};
  MSYNC_CUDA_TRY(cudaFuncGetAttributes(&attributes, stream_state_kernel));
  MSYNC_CUDA_TRY(cudaFuncGetAttributes(&attributes, gather_changes_kernel));
  MSYNC_CUDA_TRY(cudaFuncGetAttributes(&attributes, gather_changes_upto_kernel));
}

}  // namespace msync::cuda
