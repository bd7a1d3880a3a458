// A stream's tick path allocates nothing once its buffers are sized (docs/design.md 8.8): this
// executable replaces the global operator new with one that counts, and replays calm updates
// (no risk run, no transition, no book change) after a warm-up, counting every allocation made
// while they run: the engine's, the CPU backend's revaluation pass with funding and states, and
// the transitions' selection.
//
// Its own executable (not a test_*.cpp of marginsync_tests): replacing operator new is
// program-wide. It counts allocations, never time.
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <new>

#include "io/load_inputs.hpp"
#include "marginsync/backend_registry.hpp"
#include "stream/stream_engine.hpp"
#include "test_support.hpp"

namespace {
std::atomic<bool> counting{false};
std::atomic<long> allocations{0};
}  // namespace

void* operator new(std::size_t size) {
  if (counting.load(std::memory_order_relaxed)) ++allocations;
  if (void* p = std::malloc(size ? size : 1)) return p;
  throw std::bad_alloc();
}
// Every other form of new and delete, on the same malloc and free.
#include "other_new_forms.hpp"

namespace msync {
namespace {

TEST(tick_path_allocations, a_calm_update_allocates_nothing_once_warm) {
  book_location where;
  where.book = test::sample_book();
  book_inputs in = load_book_at(where);
  in.risk.scenarios = 1000;
  in.risk.heartbeat_ms = 1000000000;  // no heartbeat within the replay
  in.risk.deviation_threshold = 0.5;  // nor a deviation: the prices below barely move
  const std::vector<double> spot = in.market.spot;
  const std::int64_t t0 = in.market.as_of_ns;
  // Every underlying ticks at each update, 1 ms apart, with moves of a millionth: funding
  // accrues (the sample book holds perpetuals) and every position is revalued.
  std::vector<std::vector<stream_event>> updates(40);
  for (std::size_t k = 0; k < updates.size(); ++k)
    for (std::uint32_t u = 0; u < spot.size(); ++u) {
      stream_event e;
      e.ts_ns = t0 + static_cast<std::int64_t>(k) * 1000000;
      e.underlying = u;
      e.price = spot[u] * (1.0 + 1e-6 * static_cast<double>(k % 3));
      e.vol = std::nan("");
      updates[k].push_back(e);
    }
  for (const int threads : {1, 2}) {
    auto engine = make_cpu_backend(threads);
    margin_stream stream(in, *engine);
    // Warm-up: the first update runs the risk path and sizes every buffer; the second is the
    // first calm one.
    ASSERT_NE(stream.update(t0, updates[0]).trigger, risk_trigger::none);
    ASSERT_EQ(stream.update(updates[1].front().ts_ns, updates[1]).trigger, risk_trigger::none);
    std::size_t transitions = 0, risk_runs = 0;
    allocations = 0;
    counting = true;
    for (std::size_t k = 2; k < updates.size(); ++k) {
      const update_outcome u = stream.update(updates[k].front().ts_ns, updates[k]);
      transitions += u.accounts.size() + u.oracles.size();
      risk_runs += u.trigger == risk_trigger::none ? 0 : 1;
    }
    counting = false;
    ASSERT_EQ(risk_runs, 0u) << "the replay must stay on the tick path";
    ASSERT_EQ(transitions, 0u) << "the replay must report nothing (a transition is an output)";
    EXPECT_EQ(allocations.load(), 0)
        << threads << " threads: allocations in " << updates.size() - 2 << " calm updates";
    double funding = 0.0;
    for (double c : stream.collateral_change()) funding += std::fabs(c);
    EXPECT_GT(funding, 0.0);  // funding accrued within those updates
  }
}

// A run's results are read where the CPU backend holds them (backend.hpp, held_revaluation and
// held_risk): no allocation, so no second copy of the revaluation (about 12 bytes per position)
// or of the risk result; the same arrays every call, until the next revalue.
TEST(held_results, the_cpu_backend_lends_its_results_without_a_copy) {
  book_location where;
  where.book = test::sample_book();
  book_inputs in = load_book_at(where);
  in.risk.scenarios = 500;
  auto engine = make_cpu_backend(1);
  engine->load_book(in.positions, in.risk);
  engine->revalue(in.market, {});
  engine->scenario_risk(scenario_source{}, in.risk);
  allocations = 0;
  counting = true;
  const revaluation& reval = engine->held_revaluation();
  const risk_result& risk = engine->held_risk();
  const revaluation& again = engine->held_revaluation();
  counting = false;
  EXPECT_EQ(allocations.load(), 0);
  EXPECT_EQ(&again, &reval);
  EXPECT_EQ(reval.account_equity.size(), in.positions.accounts());
  EXPECT_EQ(risk.var.size(), in.positions.accounts());
  EXPECT_EQ(reval.account_equity, engine->copy_revaluation().account_equity);
  const double* equity = reval.account_equity.data();
  engine->revalue(in.market, {});  // the same arrays, written again
  EXPECT_EQ(engine->held_revaluation().account_equity.data(), equity);
}

}  // namespace
}  // namespace msync
