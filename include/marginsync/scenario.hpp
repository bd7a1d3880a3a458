#pragma once
// Monte Carlo scenario construction (docs/design.md section 3). For scenario s and underlying u:
//   z = L eps (L the Cholesky factor of the correlation matrix), optionally Student-t scaled;
//   S' = S exp(sigma sqrt(h) z - sigma^2 h / 2);
//   w = rho_sv z + sqrt(1 - rho_sv^2) eta;  x = xi sqrt(h) w, the underlying's vol shock: an
//   option of vol sigma_p and tenor scale g_p moves to sigma_p exp(g_p x - g_p^2 xi^2 h / 2)
//   (valuation.hpp's shocked_vol), so with g = 1 sigma' = sigma exp(x - xi^2 h / 2).
// Random streams: Philox4x32-10 keyed by the 64-bit seed. The counter is
//   (s low 32 bits, s high 32 bits, factor index, stream tag):
//   stream tag 0, factor u     -> (eps_u, eta_u) by Box-Muller;
//   stream tags 1 and 2, factor i -> the normal and the uniform of the i-th attempt of the
//                                    chi-square draw (Student-t only).
// So a scenario's numbers are a pure function of (seed, s), whatever computes them.
#include "marginsync/philox.hpp"

namespace msync {

enum class shock_distribution : std::uint8_t { normal = 0, student_t = 1 };

struct scenario_draw_params {
  std::uint64_t seed;
  shock_distribution distribution;
  double degrees_of_freedom;  // nu > 2, Student-t only
};

namespace detail {
MSYNC_HD inline philox_u32x4 scenario_block(std::uint64_t seed, std::uint64_t s,
                                            std::uint32_t factor, std::uint32_t tag) {
  return philox4x32_10(philox_u32x4{{static_cast<std::uint32_t>(s),
                                     static_cast<std::uint32_t>(s >> 32), factor, tag}},
                       static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32));
}
}  // namespace detail

// Independent (eps_u, eta_u) for scenario s, underlying u.
MSYNC_HD inline normal_pair scenario_normals(std::uint64_t seed, std::uint64_t s, std::uint32_t u) {
  return normals_from_block(detail::scenario_block(seed, s, u, 0u));
}

// Gamma(alpha, 1) for alpha >= 1 by Marsaglia and Tsang (ACM TOMS 26(3), 2000). Each attempt uses
// its own Philox block, so the draw stays a pure function of (seed, s). The acceptance rate is
// above 95% for alpha >= 1; after 64 rejections (probability below 1e-80) it returns the mean.
MSYNC_HD inline double scenario_gamma(std::uint64_t seed, std::uint64_t s, double alpha) {
  const double d = alpha - 1.0 / 3.0;
  const double c = 1.0 / sqrt(9.0 * d);
  for (std::uint32_t attempt = 0; attempt < 64; ++attempt) {
    const double x = normals_from_block(detail::scenario_block(seed, s, attempt, 1u)).z0;
    const philox_u32x4 r = detail::scenario_block(seed, s, attempt, 2u);
    const double u = uniform_open0(r.v[0], r.v[1]);
    const double t = 1.0 + c * x;
    if (t <= 0.0) continue;
    const double v = t * t * t;
    if (log(u) < 0.5 * x * x + d - d * v + d * log(v)) return d * v;
  }
  return alpha;
}

// The factor by which every z of scenario s is multiplied: 1 for normal shocks; for Student-t,
// sqrt((nu - 2) / nu) / sqrt(chi2_nu / nu) = sqrt((nu - 2) / chi2_nu), so that var(z) stays 1.
MSYNC_HD inline double scenario_scale(const scenario_draw_params& p, std::uint64_t s) {
  if (p.distribution != shock_distribution::student_t) return 1.0;
  const double chi2 = 2.0 * scenario_gamma(p.seed, s, 0.5 * p.degrees_of_freedom);
  return sqrt((p.degrees_of_freedom - 2.0) / chi2);
}

// One underlying in one scenario: its shocked spot S' and its vol shock x, the log move of its vol
// before the drift (docs/design.md 3.6): every option on it moves to shocked_vol(sigma_p, g_p, x,
// drift).
struct shocked_market {
  double spot;
  double vol_shock;
};

// The vol shock's drift xi^2 h / 2 of Monte Carlo scenarios (it keeps E[sigma'] = sigma for g = 1).
MSYNC_HD inline double vol_shock_drift(double vol_of_vol, double horizon_years) {
  return 0.5 * vol_of_vol * vol_of_vol * horizon_years;
}

MSYNC_HD inline shocked_market shock_underlying(double spot, double vol, double z, double eta,
                                                double horizon_years, double vol_of_vol,
                                                double spot_vol_corr) {
  const double sqrt_h = sqrt(horizon_years);
  const double w = spot_vol_corr * z + sqrt(1.0 - spot_vol_corr * spot_vol_corr) * eta;
  return shocked_market{spot * exp(vol * sqrt_h * z - 0.5 * vol * vol * horizon_years),
                        vol_of_vol * sqrt_h * w};
}

}  // namespace msync

namespace msync {

// Everything one Monte Carlo scenario needs, as flat arrays (host or device pointers).
struct monte_carlo_inputs {
  const double* spot;      // [U]
  const double* vol;       // [U]
  const double* cholesky;  // [U x U] row-major lower-triangular
  std::uint32_t underlyings;
  double horizon_years;
  double vol_of_vol;
  double spot_vol_correlation;
  scenario_draw_params draw;
};

// Builds scenario s: writes spot_out[u * stride] and the vol shock vol_out[u * stride] for every
// underlying u.
// `eps` and `eta` are caller scratch of U doubles each.
MSYNC_HD inline void monte_carlo_scenario(const monte_carlo_inputs& in, std::uint64_t s,
                                          double* eps, double* eta, double* spot_out,
                                          double* vol_out, std::uint64_t stride) {
  const std::uint32_t n = in.underlyings;
  for (std::uint32_t u = 0; u < n; ++u) {
    const normal_pair p = scenario_normals(in.draw.seed, s, u);
    eps[u] = p.z0;
    eta[u] = p.z1;
  }
  const double scale = scenario_scale(in.draw, s);
  for (std::uint32_t u = 0; u < n; ++u) {
    double z = 0.0;
    for (std::uint32_t k = 0; k <= u; ++k) z += in.cholesky[u * n + k] * eps[k];
    const shocked_market m =
        shock_underlying(in.spot[u], in.vol[u], z * scale, eta[u], in.horizon_years, in.vol_of_vol,
                         in.spot_vol_correlation);
    spot_out[u * stride] = m.spot;
    vol_out[u * stride] = m.vol_shock;
  }
}

// A given scenario (historical or stress): S' = S e^{spot_return}; every option's vol moves by
// (1 + vol_change): the vol shock is ln(1 + vol_change), with no drift and no tenor scaling (the
// file says the move).
MSYNC_HD inline shocked_market given_scenario(double spot, double spot_return, double vol_change) {
  return shocked_market{spot * exp(spot_return), log1p(vol_change)};
}

}  // namespace msync
