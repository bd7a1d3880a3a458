#pragma once
// When the CPU backend's float delta_gamma losses decide an account as the double ones would
// (docs/design.md sections 3.7, 3.8 and 6).
//
// The float loop (cpu::delta_gamma_losses_float) has a proved bound on each loss's error against
// the double computation (delta_gamma_float_error_bound: an a priori bound from the account's
// sensitivities and the largest move of each underlying). An account's float numbers are kept only
// where that bound cannot change anything that is decided:
// - VaR and ES: the bound is at most float_relative_tolerance of each (an order statistic and a
//   mean of the k largest move by no more than the largest error of a loss);
// - status: equity is farther from IM and from MM than their own bounds;
// - breach count: no loss lies within its bound (plus MM's) of the threshold equity - MM, so
//   every scenario breaches in float exactly when it does in double (breach_thresholds turns both
//   conditions into float thresholds, so the losses are compared as floats);
// Anywhere else the account is recomputed in double. Bad debt takes double's loss in every
// block of scenarios whose float maximum is within its bound of the own funds or above
// (cpu::add_bad_debt_of_blocks), and none elsewhere. So breach counts, breach probability,
// statuses, flags and bad debt are those of the double computation, and VaR, ES, IM, MM and health
// are within float_relative_tolerance of it. Which accounts fall back depends on the inputs alone.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "cpu/loss_kernels.hpp"
#include "cpu/tail_select.hpp"
#include "marginsync/risk_rules.hpp"

namespace msync::cpu {

// The most a float VaR or ES may differ from the double one, relative: a tenth of the 1e-4 that
// docs/design.md section 6 allows between backends.
constexpr double float_relative_tolerance = 1e-5;

// Rounding of the few double operations after the losses (margins, E - L, comparisons), relative
// to the numbers involved: far above 2^-53 per operation.
constexpr double double_slack = 1e-12;

// How far the float numbers may be from the double ones, for an account whose losses are each
// within loss_bound (quote currency).
struct float_bounds {
  double loss;         // each loss, VaR and ES
  double initial;      // IM
  double maintenance;  // MM
};

inline float_bounds margin_bounds(double loss_bound, const margin_levels& m,
                                  const margin_rule& rule) {
  float_bounds b;
  b.loss = loss_bound;
  b.initial = std::fabs(rule.im_multiplier) * loss_bound * (1 + double_slack) +
              double_slack * std::fabs(m.initial);
  b.maintenance = std::fabs(rule.maintenance_ratio) * b.initial * (1 + double_slack) +
                  double_slack * std::fabs(m.maintenance);
  return b;
}

// Whether an account's float VaR, ES, margins and status stand for the double ones (all but the
// breach count and bad debt, checked on their own).
inline bool float_margins_decide(double var, double es, double equity, const margin_levels& m,
                                 const float_bounds& b) {
  if (!is_finite(var) || !is_finite(es) || !is_finite(equity) || !is_finite(m.initial) ||
      !is_finite(m.maintenance))
    return false;
  if (!(b.loss <= float_relative_tolerance * std::fmin(std::fabs(var), std::fabs(es))))
    return false;
  const double near_im = b.initial + double_slack * (std::fabs(equity) + std::fabs(m.initial));
  const double near_mm =
      b.maintenance + double_slack * (std::fabs(equity) + std::fabs(m.maintenance));
  return std::fabs(equity - m.initial) > near_im && std::fabs(equity - m.maintenance) > near_mm;
}

// The float loss at or below which a scenario has no bad debt in double either: L_double <= L_float
// + loss_bound <= own_funds (the margins absorb the rounding of this subtraction).
inline double bad_debt_cutoff(double own_funds, double loss_bound) {
  return own_funds - loss_bound * (1 + double_slack) - double_slack * std::fabs(own_funds);
}

// The band around the breach threshold equity - MM inside which a float loss does not decide.
inline double breach_band(double equity, const margin_levels& m, const float_bounds& b) {
  return b.loss + b.maintenance + 2 * double_slack * (std::fabs(equity) + std::fabs(m.maintenance));
}

// Whether the loss lies within `band` of the threshold.
inline bool near_breach(double equity, double loss, double maintenance, double band) {
  return std::fabs((equity - loss) - maintenance) <= band;
}

// The floats in order, -inf to +inf, as consecutive unsigned keys (-0 just below +0).
inline std::uint32_t float_order_key(float x) {
  std::uint32_t bits;
  std::memcpy(&bits, &x, sizeof bits);
  return bits & 0x80000000u ? ~bits : bits | 0x80000000u;
}

inline float float_of_order_key(std::uint32_t key) {
  const std::uint32_t bits = key & 0x80000000u ? key & 0x7fffffffu : ~key;
  float x;
  std::memcpy(&x, &bits, sizeof x);
  return x;
}

// The smallest float x (-inf .. +inf) with holds(x), for a predicate that is false up to some
// float and true from it on; NaN when it holds for none. `guess`, a float near the answer (NaN:
// none), is where the search starts: steps of 1, 2, 4, ... floats from it bracket the answer, then
// bisection; a guess within a few floats of it takes a few evaluations, a poor one at most about
// 64.
template <class Predicate>
float first_float_where(Predicate holds, float guess) {
  if (!holds(INFINITY)) return NAN;
  if (holds(-INFINITY)) return -INFINITY;
  std::uint32_t low = float_order_key(-INFINITY), high = float_order_key(INFINITY);
  // From here on holds(low) is false and holds(high) true.
  if (guess == guess) {
    const std::uint32_t g = float_order_key(guess);
    std::uint32_t step = 1;
    if (holds(float_of_order_key(g))) {
      high = g;
      while (high - low > step && holds(float_of_order_key(high - step))) {
        high -= step;
        step *= 2;
      }
      if (high - low > step) low = high - step;
    } else {
      low = g;
      while (high - low > step && !holds(float_of_order_key(low + step))) {
        low += step;
        step *= 2;
      }
      if (high - low > step) high = low + step;
    }
  }
  while (high - low > 1) {
    const std::uint32_t mid = low + (high - low) / 2;
    if (holds(float_of_order_key(mid)))
      high = mid;
    else
      low = mid;
  }
  return float_of_order_key(high);
}

// What a float loss x (widened to double) decides for an account, as float thresholds: x breaches
// (equity - x < MM) exactly when x >= breach_from, and lies within `band` of the threshold
// (near_breach) exactly when near_low <= x <= near_high. Exact: equity - x and (equity - x) - MM
// are rounded double operations, monotone in x, so each condition holds on an interval of the
// floats, found by bisection on the double formulas themselves. NaN bounds: nothing matches.
struct float_breach_thresholds {
  float breach_from, near_low, near_high;
};

inline float_breach_thresholds breach_thresholds(double equity, double maintenance, double band) {
  // Each boundary lies within a rounding of equity - MM (-/+ band): the searches start there
  // (no guess where that is beyond float's range).
  const double edge = equity - maintenance;
  auto near_float = [](double x) { return std::fabs(x) < 3e38 ? static_cast<float>(x) : NAN; };
  float_breach_thresholds t;
  t.breach_from = first_float_where(
      [&](float x) { return breaches_maintenance(equity, static_cast<double>(x), maintenance); },
      near_float(edge));
  t.near_low = first_float_where(
      [&](float x) { return (equity - static_cast<double>(x)) - maintenance <= band; },
      near_float(edge - band));
  // The last float with (equity - x) - MM >= -band: the one before the first without.
  const float past = first_float_where(
      [&](float x) { return !((equity - static_cast<double>(x)) - maintenance >= -band); },
      near_float(edge + band));
  if (past != past)
    t.near_high = INFINITY;
  else if (past == -INFINITY)
    t.near_high = NAN;
  else
    t.near_high = float_of_order_key(float_order_key(past) - 1);
  if (band < 0) t.near_low = t.near_high = NAN;  // no band
  return t;
}

}  // namespace msync::cpu
