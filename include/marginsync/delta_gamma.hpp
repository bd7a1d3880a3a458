#pragma once
// docs/design.md section 3's delta_gamma loss: L = -sum over the account's exposures of
//   delta dS + (gamma / 2) dS^2 + vol_exposure (e^{x - xi^2 h / 2} - 1) + decay,
// with vol_exposure = sum of q vega sigma g (first order in each option's own relative vol move,
// exact in the vol when g = 1) and decay the exposure's value change over the horizon at unchanged
// spot and vol (time decay, futures' carry, perpetual funding).
// Each exposure's term is written here once, for both backends (and, through the template, for
// the CPU backend's vectors). Neither build contracts its multiplies and adds into fused
// multiply-adds (host: -ffp-contract=off; device: --fmad=false), so the CPU's double loop and the
// CUDA kernel add the same terms in the same order with the same roundings: the same moves and
// sensitivities give the same double loss, bit for bit. The CPU backend computes the loss in float
// where a proved bound allows (the float overload below, docs/design.md 3.7): that differs from
// the double loss by at most the bound, not by an unaccounted rounding.
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

// The same sensitivities rounded once to float, for the CPU backend's float loss loop
// (docs/design.md section 3.7): the scenario moves are rounded to float too, and every product
// and sum of the loop is a float operation.
struct exposure_sensitivity_f {
  float delta;
  float half_gamma;
  float vol_exposure;
  float decay;
};

MSYNC_HD inline exposure_sensitivity_f round_to_float(const exposure_sensitivity& e) {
  return exposure_sensitivity_f{static_cast<float>(e.delta), static_cast<float>(e.half_gamma),
                                static_cast<float>(e.vol_exposure), static_cast<float>(e.decay)};
}

template <typename T>
MSYNC_HD inline T delta_gamma_term(const exposure_sensitivity_f& e, T d_spot, T d_rel_vol) {
  return (e.half_gamma * d_spot + e.delta) * d_spot + e.vol_exposure * d_rel_vol + e.decay;
}

// The largest a term of one exposure can be over the scenarios, when no scenario moves its
// underlying's spot by more than max_d_spot (quote currency) or its vol by more than max_d_vol
// (relative): |gamma / 2| dS^2 + |delta| |dS| + |vol_exposure| |d| + |decay|, quote currency.
MSYNC_HD inline double delta_gamma_term_magnitude(const exposure_sensitivity& e, double max_d_spot,
                                                  double max_d_vol) {
  return fabs(e.half_gamma) * max_d_spot * max_d_spot + fabs(e.delta) * max_d_spot +
         fabs(e.vol_exposure) * max_d_vol + fabs(e.decay);
}

// A bound on |L_float - L_double| for every scenario of an account with `count` exposures whose
// term magnitudes (above) add up to `magnitude`, whose sensitivities' absolute values add up to
// `sensitivity_sum`, and whose moves are at most max_d_spot and max_d_vol. The float loop rounds
// each input once (a sensitivity, dS, d) and does at most 8 + count float operations on any path
// from an input to the loss, so its error per monomial is at most gamma_{8+count} =
// (8 + count) u / (1 - (8 + count) u) relative, u = 2^-24 (Higham, Accuracy and Stability of
// Numerical Algorithms, 3.1); the double computation it is compared with has the same with
// u = 2^-53. The last term covers underflow (an absolute 2^-150 per rounding, carried through at
// most two multiplications by a move or one by a sensitivity). +inf when the bound cannot be
// trusted: a number that is not finite, or a product that could leave float's range (about
// 3.4e38): such an account is computed in double.
MSYNC_HD inline double delta_gamma_float_error_bound(double magnitude, double sensitivity_sum,
                                                     double max_d_spot, double max_d_vol,
                                                     unsigned count) {
  const double n = 8.0 + count;
  const double u_float = 0x1p-24, u_double = 0x1p-53;
  const double gamma = n * u_float / (1.0 - n * u_float) + n * u_double / (1.0 - n * u_double);
  const double reach = 1.0 + max_d_spot + max_d_vol;
  if (!(max_d_spot <= 1e15) || !(max_d_vol <= 1e15) || !(sensitivity_sum * reach <= 1e30) ||
      !(magnitude <= 1e30) || count > 1000000)
    return INFINITY;
  const double underflow = n * 0x1p-149 * (1.0 + sensitivity_sum) * reach * reach;
  return gamma * magnitude + underflow;
}

}  // namespace msync
