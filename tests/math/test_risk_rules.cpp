// Tests of risk_rules.hpp against docs/design.md section 3 "Risk numbers": the VaR order statistic,
// initial and maintenance margin, health, status, breach, the pre-emptive flag and bad debt. All
// expected values are exact (small integers and dyadic fractions, or products whose rounding is
// stated), so most checks are EXPECT_EQ.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

#include "marginsync/risk_rules.hpp"
#include "marginsync/stream_rules.hpp"

namespace {

using msync::account_status;
using msync::margin_levels;
using msync::margin_rule;
using msync::tail_count;

TEST(TailCount, DesignExamples) {
  EXPECT_EQ(tail_count(0.99, 10000), 100);
  // (1 - 0.95) * 200 = 10.000000000000002 in doubles: the 1e-9 tolerance keeps it at 10, not 11.
  EXPECT_EQ(tail_count(0.95, 200), 10);
  EXPECT_EQ(tail_count(0.975, 10000), 250);
  EXPECT_EQ(tail_count(0.99, 250), 3);  // 2.5 rounds up
  EXPECT_EQ(tail_count(0.5, 3), 2);     // 1.5 rounds up
  EXPECT_EQ(tail_count(0.9, 10), 1);    // 0.9999999999999998 in doubles
  EXPECT_EQ(tail_count(0.99, 1000000), 10000);
}

TEST(TailCount, AtLeastOneAtMostN) {
  EXPECT_EQ(tail_count(0.99, 10), 1);  // (1 - c) N = 0.1
  EXPECT_EQ(tail_count(0.99, 1), 1);
  EXPECT_EQ(tail_count(0.999999999, 1000), 1);  // confidence near 1
  EXPECT_EQ(tail_count(1.0 - 1e-15, 5), 1);
  EXPECT_EQ(tail_count(1e-12, 5), 5);  // confidence near 0: the whole sample
  EXPECT_EQ(tail_count(1e-12, 1), 1);
}

// Against the docs/design.md formula written with std::ceil, over a grid; and the bounds.
TEST(TailCount, MatchesFormulaOnGrid) {
  const double confidences[] = {0.5, 0.8, 0.9, 0.95, 0.975, 0.99, 0.995, 0.999, 0.9999};
  for (double c : confidences) {
    for (std::int64_t n = 1; n <= 2000; ++n) {
      const double x = std::ceil((1.0 - c) * static_cast<double>(n) - 1e-9);
      std::int64_t expected = static_cast<std::int64_t>(x);
      if (expected < 1) expected = 1;
      const std::int64_t k = tail_count(c, n);
      ASSERT_EQ(k, expected) << "confidence " << c << ", N " << n;
      ASSERT_GE(k, 1);
      ASSERT_LE(k, n);
    }
  }
}

// IM = max(M, min_margin_rate * G, 0) * im_multiplier; MM = maintenance_ratio * IM.
TEST(MarginRequirement, MeasureMinimumAndFloor) {
  const margin_rule rule{0.01, 0.6, 1.0};
  // The measure dominates: 500 > 0.01 * 10000 = 100.
  margin_levels m = msync::margin_requirement(500.0, 10000.0, 0.0, rule);
  EXPECT_EQ(m.initial, 500.0);
  EXPECT_DOUBLE_EQ(m.maintenance, 300.0);
  // The minimum rate dominates: 50 < 100.
  m = msync::margin_requirement(50.0, 10000.0, 0.0, rule);
  EXPECT_EQ(m.initial, 100.0);
  EXPECT_DOUBLE_EQ(m.maintenance, 60.0);
  // A negative measure (the account gains in the tail) falls back to the minimum...
  m = msync::margin_requirement(-50.0, 1000.0, 0.0, rule);
  EXPECT_EQ(m.initial, 10.0);
  EXPECT_DOUBLE_EQ(m.maintenance, 6.0);
  // ...and with no notional the requirement is floored at zero, never negative.
  m = msync::margin_requirement(-50.0, 0.0, 0.0, rule);
  EXPECT_EQ(m.initial, 0.0);
  EXPECT_EQ(m.maintenance, 0.0);
  // Measure equal to the minimum: either way the same number.
  m = msync::margin_requirement(100.0, 10000.0, 0.0, rule);
  EXPECT_EQ(m.initial, 100.0);
}

// The liquidity add-on is added to IM after the multiplier (docs/design.md 3.8), and so to MM.
TEST(MarginRequirement, LiquidityAddonAfterTheMultiplier) {
  const margin_rule rule{0.01, 0.5, 2.0};
  margin_levels m = msync::margin_requirement(1000.0, 5000.0, 30.0, rule);
  EXPECT_EQ(m.initial, 2030.0);
  EXPECT_EQ(m.maintenance, 1015.0);
  // No notional and no loss: the add-on alone.
  m = msync::margin_requirement(-5.0, 0.0, 12.0, rule);
  EXPECT_EQ(m.initial, 12.0);
  EXPECT_TRUE(std::isnan(msync::margin_requirement(1.0, 1.0, NAN, rule).initial));
}

TEST(MarginRequirement, TierMultiplierScalesBothLevels) {
  const margin_rule vip{0.01, 0.5, 0.75};
  const margin_rule risky{0.01, 0.5, 2.0};
  margin_levels m = msync::margin_requirement(1000.0, 5000.0, 0.0, vip);
  EXPECT_EQ(m.initial, 750.0);
  EXPECT_EQ(m.maintenance, 375.0);
  m = msync::margin_requirement(1000.0, 5000.0, 0.0, risky);
  EXPECT_EQ(m.initial, 2000.0);
  EXPECT_EQ(m.maintenance, 1000.0);
  // The multiplier applies after the minimum-rate floor too: 0.01 * 5000 * 2 = 100.
  m = msync::margin_requirement(10.0, 5000.0, 0.0, risky);
  EXPECT_EQ(m.initial, 100.0);
  EXPECT_EQ(m.maintenance, 50.0);
}

TEST(HealthFactor, RatioAndZeroMaintenance) {
  EXPECT_EQ(msync::health_factor(150.0, 100.0), 1.5);
  EXPECT_EQ(msync::health_factor(-50.0, 100.0), -0.5);
  EXPECT_EQ(msync::health_factor(0.0, 100.0), 0.0);
  // MM = 0: +inf when E >= 0 (including E = 0), 0 when E < 0.
  EXPECT_EQ(msync::health_factor(5.0, 0.0), std::numeric_limits<double>::infinity());
  EXPECT_EQ(msync::health_factor(0.0, 0.0), std::numeric_limits<double>::infinity());
  EXPECT_EQ(msync::health_factor(-1.0, 0.0), 0.0);
  EXPECT_EQ(msync::health_factor(-1e-300, 0.0), 0.0);
  // Equity that is not a number has no health, whatever MM is.
  EXPECT_TRUE(std::isnan(msync::health_factor(std::nan(""), 0.0)));
  EXPECT_TRUE(std::isnan(msync::health_factor(std::nan(""), 5.0)));
}

// liquidate if E < MM, else margin_call if E < IM, else ok.
TEST(MarginStatus, Boundaries) {
  const margin_levels m{100.0, 60.0};
  EXPECT_EQ(msync::margin_status(-10.0, m), account_status::liquidate);
  EXPECT_EQ(msync::margin_status(59.99, m), account_status::liquidate);
  EXPECT_EQ(msync::margin_status(std::nextafter(60.0, 0.0), m), account_status::liquidate);
  EXPECT_EQ(msync::margin_status(60.0, m), account_status::margin_call);  // E == MM
  EXPECT_EQ(msync::margin_status(99.99, m), account_status::margin_call);
  EXPECT_EQ(msync::margin_status(std::nextafter(100.0, 0.0), m), account_status::margin_call);
  EXPECT_EQ(msync::margin_status(100.0, m), account_status::ok);  // E == IM
  EXPECT_EQ(msync::margin_status(1e12, m), account_status::ok);
  // No requirement: any non-negative equity is ok, negative equity is below MM = 0.
  const margin_levels none{0.0, 0.0};
  EXPECT_EQ(msync::margin_status(0.0, none), account_status::ok);
  EXPECT_EQ(msync::margin_status(-0.01, none), account_status::liquidate);
}

// A NaN or infinite equity, IM or MM is never ok, nor any other decision: `error`. Margins from a
// tail with a NaN or infinite VaR or ES are NaN, whichever measure the margin is on; a NaN
// measure is never dropped by the floor's max.
TEST(MarginStatus, NumbersThatAreNotFiniteAreAnError) {
  const double nan = std::nan(""), inf = std::numeric_limits<double>::infinity();
  const margin_levels m{100.0, 60.0};
  for (double e : {nan, inf, -inf})
    EXPECT_EQ(msync::margin_status(e, m), account_status::error) << e;
  for (double x : {nan, inf, -inf}) {
    EXPECT_EQ(msync::margin_status(1e6, margin_levels{x, 60.0}), account_status::error) << x;
    EXPECT_EQ(msync::margin_status(1e6, margin_levels{100.0, x}), account_status::error) << x;
  }
  EXPECT_EQ(std::string(msync::status_name(account_status::error)), "error");
  EXPECT_FALSE(msync::preemptive_flag(account_status::error, 1.0, 0.25));

  const msync::margin_rule rule{0.01, 0.6, 1.0};
  EXPECT_TRUE(std::isnan(msync::margin_requirement(nan, 1000.0, 0.0, rule).initial));
  EXPECT_TRUE(std::isnan(msync::margin_requirement(5.0, nan, 0.0, rule).maintenance));
  for (bool on_es : {false, true})
    for (double x : {nan, inf, -inf}) {
      EXPECT_TRUE(std::isnan(msync::account_margins(x, 5.0, on_es, 1000.0, 0.0, rule).initial));
      EXPECT_TRUE(std::isnan(msync::account_margins(5.0, x, on_es, 1000.0, 0.0, rule).maintenance));
    }
  const margin_levels ok = msync::account_margins(5.0, 20.0, true, 1000.0, 0.0, rule);
  EXPECT_EQ(ok.initial, 20.0);
  EXPECT_EQ(ok.maintenance, 12.0);

  EXPECT_EQ(msync::account_stream_state(nan, m, 0.0, 0.25, false, msync::stream_state::ok, 0.02),
            msync::stream_state::error);
  EXPECT_EQ(msync::account_stream_state(1e6, margin_levels{inf, inf}, 0.0, 0.25, true,
                                        msync::stream_state::margin_call, 0.02),
            msync::stream_state::error);
}

TEST(MarginStatus, Names) {
  EXPECT_EQ(std::string(msync::status_name(account_status::ok)), "ok");
  EXPECT_EQ(std::string(msync::status_name(account_status::margin_call)), "margin_call");
  EXPECT_EQ(std::string(msync::status_name(account_status::liquidate)), "liquidate");
}

// A scenario breaches when E - L < MM (strictly).
TEST(BreachesMaintenance, StrictInequality) {
  EXPECT_FALSE(msync::breaches_maintenance(100.0, 40.0, 60.0));  // ends exactly at MM
  EXPECT_TRUE(msync::breaches_maintenance(100.0, 40.5, 60.0));
  EXPECT_FALSE(msync::breaches_maintenance(100.0, 39.5, 60.0));
  EXPECT_FALSE(msync::breaches_maintenance(100.0, -25.0, 60.0));  // a gain
  EXPECT_TRUE(msync::breaches_maintenance(50.0, -5.0, 60.0));     // below MM even after a gain
  EXPECT_FALSE(msync::breaches_maintenance(0.0, 0.0, 0.0));
  EXPECT_TRUE(msync::breaches_maintenance(0.0, 1e-9, 0.0));
}

// Flagged when P >= threshold and status is ok.
TEST(PreemptiveFlag, OnlyForOkAccountsAtOrAboveThreshold) {
  EXPECT_TRUE(msync::preemptive_flag(account_status::ok, 0.30, 0.25));
  EXPECT_TRUE(msync::preemptive_flag(account_status::ok, 0.25, 0.25));  // P == threshold
  EXPECT_FALSE(msync::preemptive_flag(account_status::ok, 0.2499, 0.25));
  EXPECT_FALSE(msync::preemptive_flag(account_status::ok, 0.0, 0.25));
  EXPECT_FALSE(msync::preemptive_flag(account_status::margin_call, 1.0, 0.25));
  EXPECT_FALSE(msync::preemptive_flag(account_status::liquidate, 1.0, 0.25));
}

// B = max(0, L - E).
TEST(BadDebt, ShortfallOnly) {
  EXPECT_EQ(msync::bad_debt(150.0, 100.0), 50.0);
  EXPECT_EQ(msync::bad_debt(50.0, 100.0), 0.0);
  EXPECT_EQ(msync::bad_debt(100.0, 100.0), 0.0);
  EXPECT_EQ(msync::bad_debt(10.0, -5.0), 15.0);    // already insolvent
  EXPECT_EQ(msync::bad_debt(-20.0, -5.0), 0.0);    // a gain covers the hole
  EXPECT_EQ(msync::bad_debt(-20.0, -30.0), 10.0);  // a gain that does not
}

}  // namespace
