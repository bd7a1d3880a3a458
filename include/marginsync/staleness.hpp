#pragma once
// The margin buffer that an update interval costs (the stream issue, README "Streaming"): until the
// next risk run, IM and MM are widened by
//   add-on = z_alpha * sum_u |Delta_{a,u} S_u| sigma_u * sqrt(tau),
// tau the time in years since the last risk run and z_alpha the standard normal quantile at
// `confidence`: the one-sided move of the account's delta exposure that the margin has not seen.
#include <cstdint>

#include "marginsync/black_scholes.hpp"
#include "marginsync/hd.hpp"

namespace msync {

// Phi^{-1}(p) for 0 < p < 1: Acklam's rational approximation (relative error 1.15e-9), then one
// Halley step on Phi(x) - p (Phi through erfc), which brings it to about machine precision.
MSYNC_HD inline double normal_quantile(double p) {
  const double a1 = -3.969683028665376e+01, a2 = 2.209460984245205e+02, a3 = -2.759285104469687e+02,
               a4 = 1.383577518672690e+02, a5 = -3.066479806614716e+01, a6 = 2.506628277459239e+00;
  const double b1 = -5.447609879822406e+01, b2 = 1.615858368580409e+02, b3 = -1.556989798598866e+02,
               b4 = 6.680131188771972e+01, b5 = -1.328068155288572e+01;
  const double c1 = -7.784894002430293e-03, c2 = -3.223964580411365e-01,
               c3 = -2.400758277161838e+00, c4 = -2.549732539343734e+00, c5 = 4.374664141464968e+00,
               c6 = 2.938163982698783e+00;
  const double d1 = 7.784695709041462e-03, d2 = 3.224671290700398e-01, d3 = 2.445134137142996e+00,
               d4 = 3.754408661907416e+00;
  const double p_low = 0.02425;
  double x;
  if (p < p_low) {
    const double q = sqrt(-2.0 * log(p));
    x = (((((c1 * q + c2) * q + c3) * q + c4) * q + c5) * q + c6) /
        ((((d1 * q + d2) * q + d3) * q + d4) * q + 1.0);
  } else if (p <= 1.0 - p_low) {
    const double q = p - 0.5, r = q * q;
    x = (((((a1 * r + a2) * r + a3) * r + a4) * r + a5) * r + a6) * q /
        (((((b1 * r + b2) * r + b3) * r + b4) * r + b5) * r + 1.0);
  } else {
    const double q = sqrt(-2.0 * log(1.0 - p));
    x = -(((((c1 * q + c2) * q + c3) * q + c4) * q + c5) * q + c6) /
        ((((d1 * q + d2) * q + d3) * q + d4) * q + 1.0);
  }
  const double e = norm_cdf(x) - p;
  const double u = e * 2.50662827463100050242 * exp(0.5 * x * x);  // e / phi(x)
  return x - u / (1.0 + 0.5 * x * u);
}

// One exposure's share of the add-on before z sqrt(tau): |Delta S| sigma, the one-year standard
// deviation of its delta P&L.
MSYNC_HD inline double staleness_exposure_term(double delta, double spot, double vol) {
  return fabs(delta * spot) * vol;
}

// The add-on itself, from the sum of an account's exposure terms.
MSYNC_HD inline double staleness_addon(double z, double exposure_terms_sum, double tau_years) {
  return tau_years > 0.0 ? z * exposure_terms_sum * sqrt(tau_years) : 0.0;
}

// An account's add-on from its exposures [x_begin, x_end) at the current spots and vols, summed in
// exposure order (the host and device tick paths give the same bits). `stale`, per underlying and
// possibly null, sets on_stale when any of the account's underlyings has a stale oracle.
MSYNC_HD inline double account_staleness_addon(std::uint64_t x_begin, std::uint64_t x_end,
                                               const std::uint32_t* exposure_underlying,
                                               const double* exposure_delta, const double* spot,
                                               const double* vol, const std::uint8_t* stale,
                                               double z, double tau_years, bool& on_stale) {
  double terms = 0.0;
  on_stale = false;
  for (std::uint64_t x = x_begin; x < x_end; ++x) {
    const std::uint32_t u = exposure_underlying[x];
    terms += staleness_exposure_term(exposure_delta[x], spot[u], vol[u]);
    on_stale = on_stale || (stale != nullptr && stale[u] != 0);
  }
  return staleness_addon(z, terms, tau_years);
}

}  // namespace msync
