#pragma once
// docs/design.md section 3's delta_gamma loss: L = -sum over the account's exposures of
//   delta dS + (gamma / 2) dS^2 + vol_exposure (e^{x - xi^2 h / 2} - 1) + decay,
// with vol_exposure = sum of q vega sigma g (first order in each option's own relative vol move,
// exact in the vol when g = 1) and decay the exposure's value change over the horizon at unchanged
// spot and vol (time decay, futures' carry, perpetual funding).
// Each exposure's term is written here once, for both backends (and, through the template, for
// the CPU backend's vectors), so both add the same terms in the same order and give the same bits.
#include "marginsync/hd.hpp"

namespace msync {

// An exposure's sensitivities, prepared once per risk run.
struct exposure_sensitivity {
  double delta;
  double half_gamma;    // gamma / 2
  double vol_exposure;  // quote currency per 1.00 of relative vol move
  double decay;         // quote currency over the horizon
};

MSYNC_HD inline exposure_sensitivity make_exposure_sensitivity(double delta, double gamma,
                                                               double vol_exposure, double decay) {
  return exposure_sensitivity{delta, 0.5 * gamma, vol_exposure, decay};
}

// The relative move of the underlying's vol in a scenario whose vol shock is x with drift
// (xi^2 h / 2; 0 for a scenario file): e^{x - drift} - 1, what vol_exposure multiplies.
MSYNC_HD inline double relative_vol_move(double shock, double drift) {
  return expm1(shock - drift);
}

// One exposure's term in one scenario, factored as dS (delta + (gamma / 2) dS) + vol_exposure
// d_rel_vol + decay: three multiplications where the expanded form needs five, in the innermost
// loop of delta_gamma scenario risk.
template <typename T>
MSYNC_HD inline T delta_gamma_term(const exposure_sensitivity& e, T d_spot, T d_rel_vol) {
  return (e.half_gamma * d_spot + e.delta) * d_spot + e.vol_exposure * d_rel_vol + e.decay;
}

}  // namespace msync
