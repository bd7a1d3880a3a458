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
//   every scenario breaches in float exactly when it does in double;
// Anywhere else the account is recomputed in double. Bad debt takes double's loss in every
// scenario where the float loss is within its bound of the own funds or above
// (add_bad_debt_of_float), and none elsewhere. So so breach counts, breach probability,
// statuses, flags and bad debt are those of the double computation, and VaR, ES, IM, MM and health
// are within float_relative_tolerance of it. Which accounts fall back depends on the inputs alone.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>

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

// bad[s] += max(0, L(s) - own_funds) with L(s) double's loss, from float losses l (block maxima
// block_max) each within loss_bound of double's: a scenario whose float loss is at most
// bad_debt_cutoff has none; the others take double's loss, recomputed one by one where they are
// few (delta_gamma_term in the order cpu::delta_gamma_losses adds the terms: the same bits), or
// all at once into `scratch` (n + 8 doubles, and `scratch_max`) where many blocks reach the
// cutoff. So bad debt is double's exactly.
inline void add_bad_debt_of_float(const double* l, std::size_t n, const double* block_max,
                                  double own_funds, double loss_bound, const exposure_term* x,
                                  std::size_t count, double* scratch, double* scratch_max,
                                  double* bad) {
  const double cutoff = bad_debt_cutoff(own_funds, loss_bound);
  const std::size_t blocks = (n + tail_block - 1) / tail_block;
  std::size_t reaching = 0;
  for (std::size_t b = 0; b < blocks; ++b) reaching += block_max[b] > cutoff ? 1 : 0;
  if (8 * reaching > blocks) {
    delta_gamma_losses(scratch, n, x, count, scratch_max);
    add_bad_debt(scratch, n, own_funds, bad);
    return;
  }
  for (std::size_t b = 0; b < blocks; ++b) {
    if (block_max[b] <= cutoff) continue;
    const std::size_t end = std::min(n, (b + 1) * tail_block);
    for (std::size_t s = b * tail_block; s < end; ++s) {
      if (l[s] <= cutoff) continue;
      double v = 0.0;
      for (std::size_t j = 0; j < count; ++j)
        v -= delta_gamma_term(x[j].greeks, x[j].d_spot[s], x[j].d_vol[s]);
      bad[s] += bad_debt(v, own_funds);
    }
  }
}

// The band around the breach threshold equity - MM inside which a float loss does not decide.
inline double breach_band(double equity, const margin_levels& m, const float_bounds& b) {
  return b.loss + b.maintenance + 2 * double_slack * (std::fabs(equity) + std::fabs(m.maintenance));
}

// Whether the loss lies within `band` of the threshold.
inline bool near_breach(double equity, double loss, double maintenance, double band) {
  return std::fabs((equity - loss) - maintenance) <= band;
}

}  // namespace msync::cpu
