// Tests of vol_surface.hpp (docs/design.md 2.5 and 3.2): raw SVI total variance, its minimum, the
// checks on a slice, and interpolation in time at fixed log-moneyness. References are the
// formulas evaluated by hand (the literals below), not the functions under test.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "marginsync/vol_surface.hpp"

namespace msync {
namespace {

constexpr std::int64_t day_ns = 86'400'000'000'000;
constexpr std::int64_t as_of = 1'795'000'000'000'000'000;  // 2026-11-18T...Z, any instant will do

svi_slice slice(double days, double a, double b, double rho, double m, double sigma) {
  return svi_slice{as_of + static_cast<std::int64_t>(days * day_ns), a, b, rho, m, sigma};
}

// w(k) = a + b (rho (k - m) + sqrt((k - m)^2 + sigma^2)), evaluated by hand:
// a 0.04, b 0.4, rho -0.4, m 0.1, sigma 0.2 at k = 0: 0.04 + 0.4 (0.04 + sqrt(0.05)).
TEST(vol_surface, svi_total_variance_by_hand) {
  const svi_slice s = slice(30, 0.04, 0.4, -0.4, 0.1, 0.2);
  EXPECT_NEAR(svi_total_variance(s, 0.0), 0.1454427190999916, 1e-16);
  // k = m: a + b sigma.
  EXPECT_NEAR(svi_total_variance(s, 0.1), 0.04 + 0.4 * 0.2, 1e-16);
  // Far wings: slopes b (1 + rho) on the right and b (1 - rho) on the left.
  const double right = svi_total_variance(s, 50.1) - svi_total_variance(s, 49.1);
  const double left = svi_total_variance(s, -49.9) - svi_total_variance(s, -48.9);
  EXPECT_NEAR(right, 0.4 * 0.6, 1e-4);
  EXPECT_NEAR(left, 0.4 * 1.4, 1e-4);
}

// The minimum a + b sigma sqrt(1 - rho^2) is reached at k* = m - rho sigma / sqrt(1 - rho^2) and
// nothing lies below it.
TEST(vol_surface, minimum_variance_is_the_minimum) {
  const svi_slice s = slice(30, -0.02, 0.3, 0.5, -0.05, 0.15);
  const double lowest = svi_minimum_variance(s);
  EXPECT_NEAR(lowest, -0.02 + 0.3 * 0.15 * std::sqrt(0.75), 1e-16);
  const double k_star = -0.05 - 0.5 * 0.15 / std::sqrt(0.75);
  EXPECT_NEAR(svi_total_variance(s, k_star), lowest, 1e-15);
  for (double k = -3.0; k <= 3.0; k += 0.001) EXPECT_GE(svi_total_variance(s, k), lowest - 1e-15);
}

TEST(vol_surface, slice_checks) {
  EXPECT_EQ(svi_slice_problem(slice(30, 0.04, 0.4, -0.4, 0.1, 0.2)), nullptr);
  EXPECT_NE(svi_slice_problem(slice(30, 0.04, -0.1, -0.4, 0.1, 0.2)), nullptr);  // b < 0
  EXPECT_NE(svi_slice_problem(slice(30, 0.04, 0.4, 1.0, 0.1, 0.2)), nullptr);    // |rho| = 1
  EXPECT_NE(svi_slice_problem(slice(30, 0.04, 0.4, -1.2, 0.1, 0.2)), nullptr);
  EXPECT_NE(svi_slice_problem(slice(30, 0.04, 0.4, -0.4, 0.1, 0.0)), nullptr);  // sigma <= 0
  // Minimum variance -0.1 + 0.4 * 0.2 * 1 = -0.02 < 0: negative variance near the money.
  EXPECT_NE(svi_slice_problem(slice(30, -0.1, 0.4, 0.0, 0.0, 0.2)), nullptr);
  // -0.05 + 0.08 = 0.03 > 0: a negative a is fine.
  EXPECT_EQ(svi_slice_problem(slice(30, -0.05, 0.4, 0.0, 0.0, 0.2)), nullptr);
  EXPECT_NE(svi_slice_problem(slice(30, NAN, 0.4, 0.0, 0.0, 0.2)), nullptr);
}

// Linear in T at fixed k between slices; the first slice's vol before it, the last's after it.
TEST(vol_surface, interpolation_in_time_at_fixed_moneyness) {
  const std::vector<svi_slice> slices{slice(30, 0.01, 0.1, -0.3, 0.0, 0.1),
                                      slice(90, 0.03, 0.15, -0.2, 0.05, 0.2)};
  const double k = -0.2;
  const double t1 = 30.0 / 365.0, t2 = 90.0 / 365.0;
  // w at k = -0.2 by hand: slice 1: 0.01 + 0.1 (0.06 + sqrt(0.05)); slice 2: 0.03 + 0.15 (0.05 +
  // sqrt(0.1025)).
  const double w1 = 0.01 + 0.1 * (0.06 + std::sqrt(0.05));
  const double w2 = 0.03 + 0.15 * (0.05 + std::sqrt(0.0625 + 0.04));
  const double t = 60.0 / 365.0;  // half way
  EXPECT_NEAR(surface_vol(slices, as_of, k, t), std::sqrt(0.5 * (w1 + w2) / t), 1e-14);
  const double t_q = 45.0 / 365.0;  // a quarter of the way
  EXPECT_NEAR(surface_vol(slices, as_of, k, t_q), std::sqrt((0.75 * w1 + 0.25 * w2) / t_q), 1e-14);
  EXPECT_NEAR(surface_vol(slices, as_of, k, t1), std::sqrt(w1 / t1), 1e-14);
  EXPECT_NEAR(surface_vol(slices, as_of, k, 10.0 / 365.0), std::sqrt(w1 / t1), 1e-14);
  EXPECT_NEAR(surface_vol(slices, as_of, k, 400.0 / 365.0), std::sqrt(w2 / t2), 1e-14);
  // A slice that has expired is not used: 40 days on, only the second slice is left.
  const std::int64_t later = as_of + 40 * day_ns;
  EXPECT_NEAR(surface_vol(slices, later, k, 20.0 / 365.0), std::sqrt(w2 / (50.0 / 365.0)), 1e-14);
  // All expired: no vol from the surface (the caller takes the underlying's).
  EXPECT_TRUE(std::isnan(surface_vol(slices, as_of + 100 * day_ns, k, 0.1)));
  EXPECT_TRUE(std::isnan(surface_vol({}, as_of, k, 0.1)));
}

}  // namespace
}  // namespace msync
