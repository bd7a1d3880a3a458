#pragma once
// Generalized Black-Scholes-Merton with cost of carry b (Haug, "The Complete Guide to Option
// Pricing Formulas", 2nd ed., section 1.1.6): b = r is Black-Scholes on a stock, b = r - q Merton
// with a continuous yield q, b = 0 Black-76 on a future. Greeks follow QuantLib's conventions:
//   delta = dV/dS, gamma = d2V/dS2, vega = dV/dsigma per 1.00 of volatility,
//   theta = dV/dt per year of calendar time passing (= -dV/dT).
// Units: S and K in quote currency, T in years (ACT/365), r, b and sigma annualised fractions.
#include "marginsync/hd.hpp"

namespace msync {

struct option_greeks {
  double value;
  double delta;
  double gamma;
  double vega;
  double theta;
};

MSYNC_HD inline double norm_pdf(double x) {
  return 0.398942280401432677939946059934 * exp(-0.5 * x * x);
}

// Phi(x) through erfc: accurate in both tails (no 1 - small cancellation).
MSYNC_HD inline double norm_cdf(double x) {
  return 0.5 * erfc(-x * 0.707106781186547524400844362105);
}

// Value and greeks at expiry or after it (T <= 0): intrinsic value; delta 1 for a call in the
// money, -1 for a put in the money, else 0 (at the money counts as out); other greeks 0
// (docs/design.md section 3).
MSYNC_HD inline option_greeks bsm_expired(bool is_call, double S, double K) {
  option_greeks g{0.0, 0.0, 0.0, 0.0, 0.0};
  if (is_call) {
    g.value = S > K ? S - K : 0.0;
    g.delta = S > K ? 1.0 : 0.0;
  } else {
    g.value = K > S ? K - S : 0.0;
    g.delta = S < K ? -1.0 : 0.0;
  }
  return g;
}

// Value only; the scenario loop calls this millions of times, so it skips the greeks.
MSYNC_HD inline double bsm_value(bool is_call, double S, double K, double T, double r, double b,
                                 double sigma) {
  if (T <= 0.0) return bsm_expired(is_call, S, K).value;
  const double sqrt_t = sqrt(T);
  const double vol_t = sigma * sqrt_t;
  const double d1 = (log(S / K) + (b + 0.5 * sigma * sigma) * T) / vol_t;
  const double d2 = d1 - vol_t;
  const double carry = exp((b - r) * T);  // e^{(b-r)T}: discounting of the underlying's forward
  const double disc = exp(-r * T);
  return is_call ? S * carry * norm_cdf(d1) - K * disc * norm_cdf(d2)
                 : K * disc * norm_cdf(-d2) - S * carry * norm_cdf(-d1);
}

MSYNC_HD inline option_greeks bsm_greeks(bool is_call, double S, double K, double T, double r,
                                         double b, double sigma) {
  if (T <= 0.0) return bsm_expired(is_call, S, K);
  const double sqrt_t = sqrt(T);
  const double vol_t = sigma * sqrt_t;
  const double d1 = (log(S / K) + (b + 0.5 * sigma * sigma) * T) / vol_t;
  const double d2 = d1 - vol_t;
  const double carry = exp((b - r) * T);
  const double disc = exp(-r * T);
  const double pdf1 = norm_pdf(d1);

  option_greeks g;
  g.gamma = carry * pdf1 / (S * vol_t);
  g.vega = S * carry * pdf1 * sqrt_t;
  const double time_decay = -S * carry * pdf1 * sigma / (2.0 * sqrt_t);
  if (is_call) {
    const double n1 = norm_cdf(d1), n2 = norm_cdf(d2);
    g.value = S * carry * n1 - K * disc * n2;
    g.delta = carry * n1;
    g.theta = time_decay - (b - r) * S * carry * n1 - r * K * disc * n2;
  } else {
    const double n1 = norm_cdf(-d1), n2 = norm_cdf(-d2);
    g.value = K * disc * n2 - S * carry * n1;
    g.delta = -carry * n1;
    g.theta = time_decay + (b - r) * S * carry * n1 + r * K * disc * n2;
  }
  return g;
}

}  // namespace msync
