// Running out of memory inside an OpenMP region must fail the call with std::bad_alloc (main()
// turns it into "out of memory", exit status 1), never abort the process: an exception that
// leaves a region calls std::terminate. This executable replaces the global operator new so that,
// while armed, every allocation on a worker thread of a parallel region fails; the scenario-risk
// regions of the CPU backend allocate per-thread buffers there.
//
// Its own executable (not a test_*.cpp of marginsync_tests): replacing operator new is
// program-wide.
#include <gtest/gtest.h>
#include <omp.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <stdexcept>

#include "cpu/omp_guard.hpp"
#include "cpu/scenario_set.hpp"
#include "io/load_inputs.hpp"
#include "marginsync/backend_registry.hpp"
#include "test_support.hpp"

namespace {
std::atomic<bool> fail_worker_allocations{false};
}  // namespace

void* operator new(std::size_t size) {
  if (fail_worker_allocations.load(std::memory_order_relaxed) && omp_in_parallel() &&
      omp_get_thread_num() != 0)
    throw std::bad_alloc();
  if (void* p = std::malloc(size ? size : 1)) return p;
  throw std::bad_alloc();
}
// Every other form of new and delete, on the same malloc and free.
#include "other_new_forms.hpp"

namespace msync {
namespace {

// Arms the failing allocator for one scope.
struct worker_allocations_fail {
  worker_allocations_fail() { fail_worker_allocations = true; }
  ~worker_allocations_fail() { fail_worker_allocations = false; }
};

TEST(omp_guard, keeps_the_first_exception_and_rethrows_it_after_the_region) {
  cpu::omp_guard guard;
  std::atomic<int> ran{0};
#pragma omp parallel for num_threads(4) schedule(static, 1)
  for (int i = 0; i < 1000; ++i)
    guard.run([&] {
      ++ran;
      if (i == 3) throw std::runtime_error("iteration 3");
    });
  EXPECT_TRUE(guard.failed());
  EXPECT_LT(ran.load(), 1000);  // the rest is skipped once a thread has failed
  try {
    guard.rethrow();
    ADD_FAILURE() << "nothing rethrown";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "iteration 3");
  }
}

TEST(omp_guard, without_an_exception_runs_everything_and_rethrows_nothing) {
  cpu::omp_guard guard;
  std::atomic<int> ran{0};
#pragma omp parallel for num_threads(4)
  for (int i = 0; i < 1000; ++i) guard.run([&] { ++ran; });
  EXPECT_FALSE(guard.failed());
  EXPECT_EQ(ran.load(), 1000);
  EXPECT_NO_THROW(guard.rethrow());
}

class out_of_memory_in_a_region : public ::testing::Test {
 protected:
  void SetUp() override {
    test::copy_sample_book(dir_.path());
    in_ = load_book_inputs(book_paths::in_directory(dir_.path()));
    in_.risk.scenarios = 4096;
  }
  test::temp_dir dir_;
  book_inputs in_;
};

TEST_F(out_of_memory_in_a_region, scenario_generation_throws_bad_alloc) {
  {
    const worker_allocations_fail armed;
    EXPECT_THROW(build_scenario_set(in_.market, scenario_source{}, in_.risk, 4), std::bad_alloc);
  }
  EXPECT_EQ(build_scenario_set(in_.market, scenario_source{}, in_.risk, 4).count, 4096);
}

TEST_F(out_of_memory_in_a_region, cpu_scenario_risk_throws_bad_alloc_and_the_backend_recovers) {
  // Given scenarios: their set is built without allocating in a region, so the failure is the
  // risk region's own (per-thread loss buffers).
  scenario_file_data given;
  given.path = "given.csv";
  for (int s = 0; s < 512; ++s) {
    given.scenario_id.push_back(std::to_string(s));
    for (std::size_t u = 0; u < in_.market.size(); ++u) {
      given.spot_return.push_back(0.001 * (s - 256));
      given.vol_change.push_back(0.0);
    }
  }
  for (const scenario_source source : {scenario_source{}, scenario_source{&given}})
    for (risk_method method : {risk_method::full, risk_method::delta_gamma}) {
      in_.risk.method = method;
      // A P&L table too small for the book: `full` prices rows into a per-thread buffer too.
      for (std::size_t table_bytes : {default_pnl_table_bytes, std::size_t{0}}) {
        auto engine = make_cpu_backend(4, table_bytes);
        engine->load_book(in_.positions, in_.risk);
        engine->revalue(in_.market, {});
        {
          const worker_allocations_fail armed;
          EXPECT_THROW(engine->scenario_risk(source, in_.risk), std::bad_alloc);
        }
        engine->scenario_risk(source, in_.risk);
        EXPECT_EQ(engine->copy_risk().var.size(), in_.positions.accounts());
      }
    }
}

}  // namespace
}  // namespace msync
