#pragma once
// docs/design.md section 3's delta_gamma loss: L = -sum over the account's exposures of
//   delta dS + (gamma / 2) dS^2 + vega dsigma + theta h.
// Each exposure's term is written here once, for both backends (and, through the template, for
// the CPU backend's vectors), so both add the same terms in the same order and give the same bits.
#include "marginsync/hd.hpp"

namespace msync {

// An exposure's sensitivities, prepared once per risk run.
struct exposure_sensitivity {
  double delta;
  double half_gamma;  // gamma / 2
  double vega;
  double decay;  // theta h
};

MSYNC_HD inline exposure_sensitivity make_exposure_sensitivity(double delta, double gamma,
                                                               double vega, double theta,
                                                               double horizon_years) {
  return exposure_sensitivity{delta, 0.5 * gamma, vega, theta * horizon_years};
}

// One exposure's term in one scenario, factored as dS (delta + (gamma / 2) dS) + vega dsigma +
// theta h: three multiplications where the expanded form needs five, in the innermost loop of
// delta_gamma scenario risk.
template <typename T>
MSYNC_HD inline T delta_gamma_term(const exposure_sensitivity& e, T d_spot, T d_vol) {
  return (e.half_gamma * d_spot + e.delta) * d_spot + e.vega * d_vol + e.decay;
}

}  // namespace msync
