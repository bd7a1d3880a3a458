// The stream's tick path in one call (backend::revalue_tick): the CPU backend's one pass over the
// accounts (funding, revaluation and states together) gives the bits of the steps one after the
// other (the interface's default: accrue_funding, revalue, tick_states), on a generated book and
// feed with perpetual funding, risk runs, trades and a new account; and funding stays out of
// the collateral a caller reads after `applied`.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <memory>

#include "forwarding_backend.hpp"
#include "io/load_inputs.hpp"
#include "io/tick_stream.hpp"
#include "stream/stream_engine.hpp"
#include "synth/generate_book.hpp"
#include "synth/generate_ticks.hpp"
#include "test_support.hpp"

namespace msync {
namespace {

// The CPU backend with revalue_tick left to the interface's default: the steps one at a time.
class step_by_step_backend : public test::forwarding_backend {
 public:
  step_by_step_backend() : forwarding_backend(make_cpu_backend(2)) {}
};

bool same_bits(double a, double b) {
  return std::memcmp(&a, &b, sizeof a) == 0;
}

void expect_same_bits(const std::vector<double>& a, const std::vector<double>& b,
                      const char* what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  std::size_t differ = 0;
  for (std::size_t i = 0; i < a.size(); ++i) differ += same_bits(a[i], b[i]) ? 0 : 1;
  EXPECT_EQ(differ, 0u) << what << ": entries that differ";
}

struct generated_feed {
  test::temp_dir dir;
  book_inputs inputs;
  std::vector<std::vector<stream_event>> updates;
};

// 2,000 accounts on 4 underlyings with funding, 20 s of ticks at 10 Hz with frequent jumps (so
// accounts change state between risk runs), 200 scenarios (a risk run every 10 updates).
std::unique_ptr<generated_feed> make_feed() {
  auto f = std::make_unique<generated_feed>();
  generate_options g;
  g.accounts = 2000;
  g.underlyings = 4;
  g.positions_per_account = 6;
  g.seed = 7;
  generate_book(g, f->dir.path());
  book_location where;
  where.book = f->dir.path();
  f->inputs = load_book_at(where);
  f->inputs.risk.scenarios = 200;
  tick_generate_options t;
  t.seconds = 20;
  t.rate_hz = 10;
  t.jumps_per_hour = 3000;
  t.jump_vol = 0.03;
  t.seed = 3;
  generate_ticks(f->inputs.market, t, f->dir / "ticks.csv");
  f->updates = read_updates(f->dir / "ticks.csv", f->inputs.market.symbols,
                            f->inputs.market.as_of_ns, tick_time_bound{});
  // Book changes: trades on held positions (a patch) at one update, a new account (a reload) and
  // a deposit at another; the updates between are price ticks only.
  const book& b = f->inputs.positions;
  auto trade_on = [&](std::size_t update, std::uint32_t a, double q) {
    stream_event e;
    e.kind = stream_event_kind::trade;
    e.ts_ns = f->updates[update].front().ts_ns;
    e.account = b.account_id[a];
    e.instrument = b.instruments.id[b.position_instrument[b.account_position_begin[a]]];
    e.quantity = q;
    e.price = 1.0;
    f->updates[update].push_back(e);
  };
  trade_on(55, 3, 0.5);
  trade_on(55, 900, -1.0);
  stream_event opened;
  opened.kind = stream_event_kind::trade;
  opened.ts_ns = f->updates[123].front().ts_ns;
  opened.account = "newcomer";
  opened.instrument = b.instruments.id[0];
  opened.quantity = 2;
  opened.price = 1.0;
  f->updates[123].push_back(opened);
  stream_event deposit;
  deposit.kind = stream_event_kind::collateral;
  deposit.ts_ns = opened.ts_ns;
  deposit.account = b.account_id[17];
  deposit.amount = 12345.5;
  f->updates[123].push_back(deposit);
  return f;
}

TEST(tick_pass, one_pass_gives_the_bits_of_funding_revalue_and_states_one_after_the_other) {
  const std::unique_ptr<generated_feed> f = make_feed();
  auto cpu = make_cpu_backend(2);
  step_by_step_backend steps;
  margin_stream one_pass(f->inputs, *cpu), step_by_step(f->inputs, steps);
  std::size_t tick_only_transitions = 0, risk_runs = 0;
  for (std::size_t k = 0; k < f->updates.size(); ++k) {
    const std::vector<stream_event>& group = f->updates[k];
    const update_outcome x = one_pass.update(group.front().ts_ns, group);
    const update_outcome y = step_by_step.update(group.front().ts_ns, group);
    ASSERT_EQ(x.trigger, y.trigger) << k;
    ASSERT_EQ(x.accounts.size(), y.accounts.size()) << k;
    for (std::size_t i = 0; i < x.accounts.size(); ++i) {
      const account_transition &p = x.accounts[i], &q = y.accounts[i];
      EXPECT_EQ(p.account, q.account) << k;
      EXPECT_EQ(p.from, q.from) << k;
      EXPECT_EQ(p.to, q.to) << k;
      EXPECT_TRUE(same_bits(p.equity, q.equity)) << k;
      EXPECT_TRUE(same_bits(p.initial_margin, q.initial_margin)) << k;
      EXPECT_TRUE(same_bits(p.maintenance_margin, q.maintenance_margin)) << k;
      EXPECT_TRUE(same_bits(p.breach_probability, q.breach_probability)) << k;
    }
    if (x.trigger == risk_trigger::none)
      tick_only_transitions += x.accounts.size();
    else
      ++risk_runs;
    expect_same_bits(one_pass.collateral_change(), step_by_step.collateral_change(),
                     "collateral change");
  }
  // The feed exercised what it is for: states changed on updates without a risk run.
  EXPECT_GT(tick_only_transitions, 0u);
  EXPECT_GT(risk_runs, 2u);
  EXPECT_EQ(one_pass.inputs().positions.accounts(), f->inputs.positions.accounts() + 1);
  const revaluation &r = one_pass.current_revaluation(), &s = step_by_step.current_revaluation();
  expect_same_bits(r.account_own_funds, s.account_own_funds, "own funds");
  expect_same_bits(r.account_equity, s.account_equity, "equity");
  expect_same_bits(r.account_gross_notional, s.account_gross_notional, "gross notional");
  expect_same_bits(r.account_floor_notional, s.account_floor_notional, "floor notional");
  expect_same_bits(r.account_liquidity_addon, s.account_liquidity_addon, "liquidity add-on");
  expect_same_bits(r.exposure_delta, s.exposure_delta, "delta");
  expect_same_bits(r.exposure_decay, s.exposure_decay, "decay");
  EXPECT_EQ(one_pass.states(), step_by_step.states());
}

// Funding is part of the collateral moved: with a caller that reads it after `applied` (a server's
// what-ifs), it accrues before `applied`, and the revaluation moves it no further.
TEST(tick_pass, funding_is_in_the_collateral_a_caller_reads_after_applied) {
  const std::unique_ptr<generated_feed> f = make_feed();
  auto cpu = make_cpu_backend(2), other = make_cpu_backend(1);
  margin_stream stream(f->inputs, *cpu), reference(f->inputs, *other);
  std::vector<double> at_applied;
  for (std::size_t k = 0; k < 30; ++k) {
    const std::vector<stream_event>& group = f->updates[k];
    stream.update(group.front().ts_ns, group, [&] { at_applied = stream.collateral_change(); });
    expect_same_bits(stream.collateral_change(), at_applied, "collateral after applied");
    // The same funding as a stream that accrues it in the revaluation pass.
    reference.update(group.front().ts_ns, group);
    expect_same_bits(stream.collateral_change(), reference.collateral_change(), "funding");
  }
  double moved = 0.0;
  for (double c : stream.collateral_change()) moved += std::fabs(c);
  EXPECT_GT(moved, 0.0);  // the book's perpetuals paid funding
}

}  // namespace
}  // namespace msync
