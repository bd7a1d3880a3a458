// The scenario losses' shared expressions (valuation.hpp, delta_gamma.hpp) as both backends
// evaluate them: without fused multiply-add (docs/design.md 1.4, 6), so that an exactly hedged
// account loses exactly 0 on the CPU and on the GPU alike.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "marginsync/delta_gamma.hpp"
#include "marginsync/valuation.hpp"

namespace msync {
namespace {

// q and -q contracts of instruments whose rows are equal (two listings of one underlying's spot):
// the full loss is exactly 0 in every scenario. A fused multiply-add in the accumulation,
// fma(-q', row, loss), would leave the rounding error of q row instead: the loop below checks that
// this would be caught (on most rows it is not 0).
TEST(scenario_loss, an_exactly_hedged_pair_loses_exactly_zero_in_full) {
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> row_of(-5000.0, 5000.0), size(0.1, 10.0);
  int contraction_would_show = 0;
  for (int s = 0; s < 10000; ++s) {
    const double row = row_of(rng), q = size(rng);
    const double first = first_position_loss(q, row);
    EXPECT_EQ(next_position_loss(first, -q, row), 0.0) << "q " << q << ", row " << row;
    // What a contracted next_position_loss would give: q row exactly, less its rounding.
    if (std::fma(q, row, first) != 0.0) ++contraction_would_show;
  }
  EXPECT_GT(contraction_would_show, 1000);
}

// The first position's term is -(q row) (-0 where q row is +0, where 0 - q row would give +0),
// and each next one subtracts: otherwise the value of 0 - q row - q' row' - ..., in book order.
TEST(scenario_loss, full_loss_is_minus_the_sum_in_book_order) {
  const double q[] = {0.3, -1.7, 2.5}, row[] = {101.25, -7.5e-3, 3.0e4};
  double loss = first_position_loss(q[0], row[0]);
  for (int p = 1; p < 3; ++p) loss = next_position_loss(loss, q[p], row[p]);
  double expected = 0.0;
  for (int p = 0; p < 3; ++p) expected = expected - q[p] * row[p];
  EXPECT_EQ(loss, expected);
  EXPECT_TRUE(std::signbit(first_position_loss(1.0, 0.0)));
}

// delta_gamma: an exposure's term is evaluated as written, product by product; with every
// sensitivity of an exactly hedged exposure 0 (the revaluation nets q and -q exactly), its term is
// exactly 0 whatever the move, and a single exposure's loss is the negated term, rounded once per
// operation: (half_gamma dS + delta) dS + vol_exposure d + decay.
TEST(scenario_loss, delta_gamma_term_rounds_each_operation) {
  const exposure_sensitivity hedged = make_exposure_sensitivity(0.0, 0.0, 0.0, 0.0);
  EXPECT_EQ(0.0 - delta_gamma_term(hedged, 1234.5, 0.37), 0.0);
  const exposure_sensitivity e = make_exposure_sensitivity(0.7, -1.3e-3, 45.1, -2.25);
  const double d_spot = -812.0 / 3.0, d_vol = 0.1 / 3.0;
  const double a = e.half_gamma * d_spot;
  const double b = a + e.delta;
  const double c = b * d_spot;
  const double v = e.vol_exposure * d_vol;
  const double expected = (c + v) + e.decay;
  EXPECT_EQ(delta_gamma_term(e, d_spot, d_vol), expected);
}

}  // namespace
}  // namespace msync
