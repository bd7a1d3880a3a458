#pragma once
// Wall time on the host (a steady clock), in seconds: the one stopwatch behind the stage times of
// the CPU backend and the jobs, and the latencies of a stream. Device stages are timed with CUDA
// events instead (kernels/cuda_backend.cuh), never with a host clock around asynchronous work.
#include <chrono>

namespace msync {

class stopwatch {
 public:
  // Seconds since construction or the last lap().
  double seconds() const { return std::chrono::duration<double>(clock::now() - start_).count(); }
  // Seconds since construction or the last lap(), and restarts.
  double lap() {
    const clock::time_point now = clock::now();
    const double s = std::chrono::duration<double>(now - start_).count();
    start_ = now;
    return s;
  }

 private:
  using clock = std::chrono::steady_clock;
  clock::time_point start_ = clock::now();
};

}  // namespace msync
