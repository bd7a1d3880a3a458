#pragma once
// An exception must not leave an OpenMP region: the runtime calls std::terminate and the process
// dies with SIGABRT, so running out of memory on one thread would crash the engine instead of
// failing with "out of memory" (exit status 1). A region that can allocate or call back into
// other code runs that work through an omp_guard, which keeps the first exception of any thread;
// after the region, rethrow() throws it on the calling thread, where main() reports it.
//
//   cpu::omp_guard guard;
//   #pragma omp parallel
//   {
//     std::vector<double> buffer;
//     guard.run([&] { buffer.resize(n); });   // every thread still reaches the loop below
//     #pragma omp for
//     for (std::int64_t i = 0; i < n; ++i)
//       guard.run([&] { work(i, buffer); });  // skipped once any thread has failed
//   }
//   guard.rethrow();
//
// A worksharing loop must be reached by every thread of the team, so a failure does not leave
// the region early: the remaining iterations are skipped. Regions with no allocation and no
// callback (pure arithmetic on sized arrays) need no guard.
#include <atomic>
#include <exception>
#include <utility>

namespace msync::cpu {

class omp_guard {
 public:
  // Runs `work` unless a thread has already failed; an exception it throws is kept, not thrown.
  template <class Work>
  void run(Work&& work) noexcept {
    if (failed()) return;
    try {
      work();
    } catch (...) {
      keep(std::current_exception());
    }
  }

  bool failed() const noexcept { return failed_.load(std::memory_order_acquire); }

  // After the region: throws the first exception kept, if any.
  void rethrow() const {
    if (first_) std::rethrow_exception(first_);
  }

 private:
  void keep(std::exception_ptr e) noexcept {
#pragma omp critical(msync_omp_guard)
    {
      if (!first_) first_ = std::move(e);
      failed_.store(true, std::memory_order_release);
    }
  }

  std::atomic<bool> failed_{false};
  std::exception_ptr first_;
};

}  // namespace msync::cpu
