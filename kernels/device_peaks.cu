// The device's limits, for `marginsync bench` to state each stage's floor: memory bandwidth
// measured by a large device-to-device copy (read + write), host-to-device bandwidth measured from
// pageable memory (what load_book copies from), and the FP64 rate from the SM count and clock.
#include <algorithm>
#include <vector>

#include "cuda_check.cuh"
#include "cuda_entry.hpp"
#include "device_buffer.cuh"

namespace msync::cuda {

namespace {
// FP64 fused multiply-adds per SM per clock: the data-centre parts (GA100, GH100, GB100) have
// full-rate FP64; others a 1/64 rate.
int fp64_fma_per_sm_clock(int major, int minor) {
  if (major == 8 && minor == 0) return 32;
  if (major == 9 && minor == 0) return 64;
  if (major == 10 && minor == 0) return 64;
  return 2;
}

// The best of `repeats` timings of `work` on the stream, in seconds.
template <class F>
double best_time(cudaStream_t s, int repeats, F&& work) {
  event start, stop;
  double best = 1e30;
  for (int r = 0; r < repeats; ++r) {
    start.record(s);
    work();
    stop.record(s);
    MSYNC_CUDA_TRY(cudaEventSynchronize(stop.get()));
    float ms = 0.0f;
    MSYNC_CUDA_TRY(cudaEventElapsedTime(&ms, start.get(), stop.get()));
    best = std::min(best, static_cast<double>(ms) / 1e3);
  }
  return best;
}
}  // namespace

accelerator_peaks measure_device_peaks() {
  int device = 0;
  MSYNC_CUDA_TRY(cudaGetDevice(&device));
  cudaDeviceProp prop{};
  MSYNC_CUDA_TRY(cudaGetDeviceProperties(&prop, device));
  int clock_khz = 0, memory_khz = 0;
  MSYNC_CUDA_TRY(cudaDeviceGetAttribute(&clock_khz, cudaDevAttrClockRate, device));
  MSYNC_CUDA_TRY(cudaDeviceGetAttribute(&memory_khz, cudaDevAttrMemoryClockRate, device));
  accelerator_peaks p;
  p.name = prop.name;
  // Double data rate: two transfers per memory clock.
  p.nominal_bandwidth = 2.0 * memory_khz * 1e3 * (prop.memoryBusWidth / 8.0);
  p.fp64_rate = 2.0 * fp64_fma_per_sm_clock(prop.major, prop.minor) * prop.multiProcessorCount *
                clock_khz * 1e3;

  stream s;
  const std::size_t bytes = std::size_t{1} << 30;
  device_buffer<unsigned char> a(bytes, s.get()), b(bytes, s.get());
  MSYNC_CUDA_TRY(cudaMemsetAsync(a.data(), 1, bytes, s.get()));
  const double copy = best_time(s.get(), 5, [&] {
    MSYNC_CUDA_TRY(cudaMemcpyAsync(b.data(), a.data(), bytes, cudaMemcpyDeviceToDevice, s.get()));
  });
  p.memory_bandwidth = 2.0 * static_cast<double>(bytes) / copy;

  const std::size_t host_bytes = std::size_t{256} << 20;
  std::vector<unsigned char> host(host_bytes, 1);
  const double up = best_time(s.get(), 3, [&] {
    MSYNC_CUDA_TRY(
        cudaMemcpyAsync(a.data(), host.data(), host_bytes, cudaMemcpyHostToDevice, s.get()));
  });
  p.host_to_device = static_cast<double>(host_bytes) / up;
  s.synchronize();
  return p;
}

}  // namespace msync::cuda
