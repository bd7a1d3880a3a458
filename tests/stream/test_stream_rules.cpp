// The calm-state rule of include/marginsync/stream_rules.hpp (docs/design.md 8.4): a worse state
// at once, a better one only past the threshold by the recovery band. A table of cases at and
// around every threshold, from every previous state, in both directions; the thresholds with the
// band are computed here as the rule's contract writes them (IM (1 + band), MM (1 + band),
// threshold (1 - band)), and the cases sit on them and one ulp to either side.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "marginsync/stream_rules.hpp"

namespace msync {
namespace {

constexpr double im = 100.0, mm = 60.0, threshold = 0.25, band = 0.02;
const margin_levels levels{im, mm};

double below(double x) {
  return std::nextafter(x, -HUGE_VAL);
}

struct rule_case {
  stream_state previous;
  double equity, breach_probability;
  bool stale;
  stream_state expected;
};

std::string describe(const rule_case& c) {
  return "from " + std::to_string(static_cast<int>(c.previous)) + " at E " +
         std::to_string(c.equity) + " P " + std::to_string(c.breach_probability) +
         (c.stale ? " stale" : "");
}

using s = stream_state;

TEST(stream_rules, a_worse_state_is_entered_at_once_and_a_better_one_past_the_band) {
  const double im_up = im * (1.0 + band), mm_up = mm * (1.0 + band);
  const double p_down = threshold * (1.0 - band);
  const rule_case cases[] = {
      // From ok: the thresholds themselves, no band (nothing to recover from).
      {s::ok, im, 0.0, false, s::ok},
      {s::ok, below(im), 0.0, false, s::margin_call},
      {s::ok, mm, 0.0, false, s::margin_call},
      {s::ok, below(mm), 0.0, false, s::liquidate},
      {s::ok, below(mm), 0.0, true, s::liquidation_held},
      {s::ok, im, threshold, false, s::preemptive},
      {s::ok, im, below(threshold), false, s::ok},
      // From preemptive: out only when P < threshold (1 - band); worse at once.
      {s::preemptive, im, threshold, false, s::preemptive},
      {s::preemptive, im, below(threshold), false, s::preemptive},
      {s::preemptive, im, p_down, false, s::preemptive},
      {s::preemptive, im, below(p_down), false, s::ok},
      {s::preemptive, below(im), 0.0, false, s::margin_call},
      {s::preemptive, below(mm), 0.0, true, s::liquidation_held},
      // From margin_call: out only when E >= IM (1 + band), and to preemptive while
      // P >= threshold (1 - band); worse at once.
      {s::margin_call, im, 0.0, false, s::margin_call},
      {s::margin_call, below(im_up), 0.0, false, s::margin_call},
      {s::margin_call, im_up, 0.0, false, s::ok},
      {s::margin_call, im_up, p_down, false, s::preemptive},
      {s::margin_call, im_up, below(p_down), false, s::ok},
      {s::margin_call, mm, 0.0, false, s::margin_call},
      {s::margin_call, below(mm), 0.0, false, s::liquidate},
      // From liquidate: out only when E >= MM (1 + band), then to margin_call unless also
      // E >= IM (1 + band).
      {s::liquidate, mm, 0.0, false, s::liquidate},
      {s::liquidate, below(mm_up), 0.0, false, s::liquidate},
      {s::liquidate, below(mm_up), 0.0, true, s::liquidation_held},
      {s::liquidate, mm_up, 0.0, false, s::margin_call},
      {s::liquidate, im, 0.0, false, s::margin_call},
      {s::liquidate, below(im_up), 0.0, false, s::margin_call},
      {s::liquidate, im_up, 0.0, false, s::ok},
      {s::liquidate, im_up, p_down, false, s::preemptive},
      // liquidation_held ranks with liquidate: the same band, the stale rule both ways.
      {s::liquidation_held, below(mm_up), 0.0, false, s::liquidate},
      {s::liquidation_held, below(mm_up), 0.0, true, s::liquidation_held},
      {s::liquidation_held, mm_up, 0.0, true, s::margin_call},
      {s::liquidation_held, im_up, 0.0, false, s::ok},
      // error has no rank: left at once, to whatever the thresholds say without the band.
      {s::error, im, 0.0, false, s::ok},
      {s::error, below(im), 0.0, false, s::margin_call},
      {s::error, im, threshold, false, s::preemptive},
      {s::error, mm, 0.0, false, s::margin_call},
      // ...and entered at once from every state.
      {s::ok, NAN, 0.0, false, s::error},
      {s::liquidate, HUGE_VAL, 0.0, false, s::error},
      {s::margin_call, NAN, 0.0, true, s::error},
  };
  for (const rule_case& c : cases)
    EXPECT_EQ(account_stream_state(c.equity, levels, c.breach_probability, threshold, c.stale,
                                   c.previous, band),
              c.expected)
        << describe(c);
}

TEST(stream_rules, band_zero_is_the_rule_without_memory) {
  const stream_state all[] = {s::ok,        s::preemptive,       s::margin_call,
                              s::liquidate, s::liquidation_held, s::error};
  for (stream_state previous : all) {
    EXPECT_EQ(account_stream_state(im, levels, 0.0, threshold, false, previous, 0.0), s::ok);
    EXPECT_EQ(account_stream_state(mm, levels, 0.0, threshold, false, previous, 0.0),
              s::margin_call);
    EXPECT_EQ(account_stream_state(below(mm), levels, 0.0, threshold, true, previous, 0.0),
              s::liquidation_held);
    EXPECT_EQ(account_stream_state(im, levels, below(threshold), threshold, false, previous, 0.0),
              s::ok);
    EXPECT_EQ(account_stream_state(im, levels, threshold, threshold, false, previous, 0.0),
              s::preemptive);
  }
}

TEST(stream_rules, the_order_of_states) {
  EXPECT_LT(stream_state_rank(s::ok), stream_state_rank(s::preemptive));
  EXPECT_LT(stream_state_rank(s::preemptive), stream_state_rank(s::margin_call));
  EXPECT_LT(stream_state_rank(s::margin_call), stream_state_rank(s::liquidate));
  EXPECT_EQ(stream_state_rank(s::liquidate), stream_state_rank(s::liquidation_held));
  EXPECT_LT(stream_state_rank(s::error), 0);
}

// The tick rule passes the previous state and the band through, with the add-on widening both
// margins before the band does.
TEST(stream_rules, the_tick_state_applies_the_band_to_the_margins_in_force) {
  const double spot = 100.0, vol = 0.5;
  const std::uint32_t underlying = 0;
  const double delta = 0.0;  // no exposure: no add-on
  const std::uint8_t fresh = 0;
  auto tick = [&](double equity, stream_state previous) {
    return account_tick_state(0, 1, &underlying, &delta, &spot, &vol, &fresh, 2.33, 0.01, equity,
                              im, mm, 0.0, threshold, previous, band)
        .state;
  };
  EXPECT_EQ(tick(101.0, s::ok), s::ok);
  EXPECT_EQ(tick(101.0, s::margin_call), s::margin_call);
  EXPECT_EQ(tick(im * (1.0 + band), s::margin_call), s::ok);
}

}  // namespace
}  // namespace msync
