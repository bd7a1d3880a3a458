#pragma once
// Implied volatility surfaces (docs/design.md 2.5 and 3.2): raw SVI slices per underlying,
// total variance interpolated linearly in time at fixed log-moneyness. Host code: each option's
// volatility is taken once per revaluation, before the backends price it.
#include <cmath>
#include <cstdint>
#include <vector>

#include "marginsync/market.hpp"
#include "marginsync/time_units.hpp"

namespace msync {

// Raw SVI total implied variance at log-moneyness k = ln(K / F) (Gatheral, "A parsimonious
// arbitrage-free implied volatility parameterization", 2004): a + b (rho (k - m) + sqrt((k - m)^2 +
// sigma^2)). Dimensionless (variance times years).
inline double svi_total_variance(const svi_slice& s, double k) {
  const double d = k - s.m;
  return s.a + s.b * (s.rho * d + std::sqrt(d * d + s.sigma * s.sigma));
}

// The smallest total variance of a slice, at k = m - rho sigma / sqrt(1 - rho^2):
// a + b sigma sqrt(1 - rho^2).
inline double svi_minimum_variance(const svi_slice& s) {
  return s.a + s.b * s.sigma * std::sqrt(1.0 - s.rho * s.rho);
}

// Why a slice is not a usable one, or nullptr. Besides the conditions of a valid raw SVI slice
// (b >= 0, |rho| < 1, sigma > 0, a positive minimum variance: zero would price an option without
// volatility), every parameter is bounded so that w stays finite at any strike the book allows
// (|k| <= ln(1e12 / 1e-12) ~ 55 beyond the forward's own range).
inline const char* svi_slice_problem(const svi_slice& s) {
  if (!(s.b >= 0.0 && s.b <= 100.0)) return "b must be within [0, 100]";
  if (!(s.rho > -1.0 && s.rho < 1.0)) return "rho must be within (-1, 1)";
  if (!(s.sigma > 0.0 && s.sigma <= 10.0)) return "sigma must be within (0, 10]";
  if (!(s.a >= -100.0 && s.a <= 100.0)) return "a must be within [-100, 100]";
  if (!(s.m >= -10.0 && s.m <= 10.0)) return "m must be within [-10, 10]";
  if (!(svi_minimum_variance(s) > 0.0))
    return "the minimum total variance a + b sigma sqrt(1 - rho^2) must be > 0";
  return nullptr;
}

// The volatility of an option at log-moneyness k and time to expiry t (years, > 0) on `slices`
// (sorted by expiry), at valuation time as_of_ns. Slices at or before as_of are not used (in a
// stream they pass as time goes on). Between two slices the total variance is interpolated
// linearly in time at fixed k; before the first slice the first slice's volatility holds, after
// the last the last slice's. Returns NaN when no slice lies after as_of (the caller falls back to
// the underlying's vol).
inline double surface_vol(const std::vector<svi_slice>& slices, std::int64_t as_of_ns, double k,
                          double t) {
  auto years = [&](const svi_slice& s) {
    return static_cast<double>(s.expiry_ns - as_of_ns) / 1e9 / seconds_per_year;
  };
  std::size_t first = 0;
  while (first < slices.size() && slices[first].expiry_ns <= as_of_ns) ++first;
  if (first == slices.size()) return NAN;
  const double t_first = years(slices[first]);
  if (t <= t_first) return std::sqrt(svi_total_variance(slices[first], k) / t_first);
  for (std::size_t j = first; j + 1 < slices.size(); ++j) {
    const double t0 = years(slices[j]), t1 = years(slices[j + 1]);
    if (t < t1) {
      const double w0 = svi_total_variance(slices[j], k), w1 = svi_total_variance(slices[j + 1], k);
      const double w = w0 + (w1 - w0) * (t - t0) / (t1 - t0);
      return std::sqrt(w / t);
    }
  }
  const svi_slice& last = slices.back();
  return std::sqrt(svi_total_variance(last, k) / years(last));
}

}  // namespace msync
