// The device's limits, for `marginsync bench` to state each stage's floor: memory bandwidth
// measured by a large device-to-device copy (read + write), host-to-device bandwidth measured from
// pageable memory (what load_book copies from), the FP64 rate from the SM count and clock, and
// the bandwidth of reads that hit L2 (a buffer of a quarter of L2 read again and again, as the
// tiled `full` kernel gathers its tile of the P&L table: bench's floor for that gather).
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

// Reads buf[0 .. count) `rounds` times, a 16-byte load per thread per step, consecutive threads on
// consecutive elements; each thread's sum goes to out so that no load is optimised away.
__global__ void l2_read_kernel(const double2* buf, std::size_t count, int rounds, double* out) {
  const std::size_t stride = static_cast<std::size_t>(gridDim.x) * blockDim.x;
  const std::size_t first = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x;
  double sum = 0.0;
  for (int r = 0; r < rounds; ++r)
    for (std::size_t i = first; i < count; i += stride) {
      const double2 v = buf[i];
      sum += v.x + v.y;
    }
  out[first] = sum;
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

  int l2_bytes = 0;
  MSYNC_CUDA_TRY(cudaDeviceGetAttribute(&l2_bytes, cudaDevAttrL2CacheSize, device));
  if (l2_bytes > 0) {
    const std::size_t count = static_cast<std::size_t>(l2_bytes) / 4 / sizeof(double2);
    const int rounds = 64;
    const unsigned threads = 512, blocks = 4 * static_cast<unsigned>(prop.multiProcessorCount);
    device_buffer<double> out(std::size_t{threads} * blocks, s.get());
    const double read = best_time(s.get(), 3, [&] {
      l2_read_kernel<<<blocks, threads, 0, s.get()>>>(reinterpret_cast<const double2*>(a.data()),
                                                      count, rounds, out.data());
      MSYNC_CUDA_CHECK_LAUNCH();
    });
    p.l2_read_bandwidth = static_cast<double>(count * sizeof(double2)) * rounds / read;
  }
  s.synchronize();
  return p;
}

}  // namespace msync::cuda
