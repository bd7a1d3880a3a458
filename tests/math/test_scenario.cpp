// Tests of scenario.hpp (docs/design.md section 3 "Scenarios"): correlated shocks, the martingale
// property of the spot and vol shocks, the Student-t scale, the Gamma sampler and determinism of
// the streams.
//
// The correlated normals z = L eps are built here with a Cholesky factor written in this file
// (the project's own factorisation lives elsewhere and is tested there).
//
// Every statistical check uses a fixed seed and N = 200,000 scenarios, so it is deterministic.
// Bounds are 5 standard errors of the statistic under the hypothesis that the code is right
// (two-sided false-alarm probability ~6e-7 per check for fresh draws), derived in each comment.
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "marginsync/scenario.hpp"
#include "marginsync/valuation.hpp"

namespace {

using msync::scenario_draw_params;
using msync::shock_distribution;

constexpr std::uint64_t kSeed = 0x0123456789abcdefull;  // high and low halves both non-zero
constexpr int kScenarios = 200000;
constexpr double kSigmas = 5.0;

double se_bound(double variance, double n) {
  return kSigmas * std::sqrt(variance / n);
}

using mat3 = std::array<std::array<double, 3>, 3>;

// Lower-triangular L with L L^T = c (textbook Cholesky-Banachiewicz).
mat3 cholesky3(const mat3& c) {
  mat3 l{};
  for (int i = 0; i < 3; ++i) {
    for (int j = 0; j <= i; ++j) {
      double sum = c[i][j];
      for (int k = 0; k < j; ++k) sum -= l[i][k] * l[j][k];
      l[i][j] = i == j ? std::sqrt(sum) : sum / l[j][j];
    }
  }
  return l;
}

const mat3 kCorrelation = {{{1.0, 0.8, 0.3}, {0.8, 1.0, 0.5}, {0.3, 0.5, 1.0}}};

TEST(ScenarioTestHelpers, CholeskyReproducesMatrix) {
  const mat3 l = cholesky3(kCorrelation);
  for (int i = 0; i < 3; ++i) {
    for (int j = 0; j < 3; ++j) {
      double s = 0.0;
      for (int k = 0; k < 3; ++k) s += l[i][k] * l[j][k];
      EXPECT_NEAR(s, kCorrelation[i][j], 1e-15);
      if (j > i) {
        EXPECT_EQ(l[i][j], 0.0);
      }
    }
  }
}

// One scenario's correlated normals and independent etas for the 3 underlyings.
struct draw3 {
  double z[3];
  double eta[3];
};

draw3 correlated_draw(std::uint64_t seed, std::uint64_t s, const mat3& l) {
  double eps[3];
  draw3 d{};
  for (std::uint32_t u = 0; u < 3; ++u) {
    const msync::normal_pair p = msync::scenario_normals(seed, s, u);
    eps[u] = p.z0;
    d.eta[u] = p.z1;
  }
  for (int i = 0; i < 3; ++i) {
    d.z[i] = 0.0;
    for (int j = 0; j <= i; ++j) d.z[i] += l[i][j] * eps[j];
  }
  return d;
}

// Running sums for means, variances and correlations.
struct moments2 {
  double n = 0, sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0;
  void add(double x, double y) {
    n += 1;
    sx += x;
    sy += y;
    sxx += x * x;
    syy += y * y;
    sxy += x * y;
  }
  double mean_x() const { return sx / n; }
  double var_x() const { return sxx / n - mean_x() * mean_x(); }
  double mean_y() const { return sy / n; }
  double var_y() const { return syy / n - mean_y() * mean_y(); }
  double corr() const { return (sxy / n - mean_x() * mean_y()) / std::sqrt(var_x() * var_y()); }
};

// Standard errors for N iid normal pairs with correlation rho: mean 1/sqrt(N), variance
// sqrt(2/N), sample correlation (1 - rho^2)/sqrt(N).
TEST(ScenarioNormals, CorrelatedShocksHaveTargetMoments) {
  const mat3 l = cholesky3(kCorrelation);
  moments2 pair[3][3];
  moments2 z_eta[3][3];
  for (int s = 0; s < kScenarios; ++s) {
    const draw3 d = correlated_draw(kSeed, static_cast<std::uint64_t>(s), l);
    for (int i = 0; i < 3; ++i) {
      for (int j = 0; j < 3; ++j) {
        pair[i][j].add(d.z[i], d.z[j]);
        z_eta[i][j].add(d.z[i], d.eta[j]);
      }
    }
  }
  const double N = kScenarios;
  for (int i = 0; i < 3; ++i) {
    SCOPED_TRACE(testing::Message() << "underlying " << i);
    EXPECT_NEAR(pair[i][i].mean_x(), 0.0, se_bound(1.0, N));
    EXPECT_NEAR(pair[i][i].var_x(), 1.0, se_bound(2.0, N));
    EXPECT_NEAR(z_eta[i][i].mean_y(), 0.0, se_bound(1.0, N));
    EXPECT_NEAR(z_eta[i][i].var_y(), 1.0, se_bound(2.0, N));
    for (int j = 0; j < 3; ++j) {
      if (j != i) {
        const double rho = kCorrelation[i][j];
        EXPECT_NEAR(pair[i][j].corr(), rho, se_bound((1 - rho * rho) * (1 - rho * rho), N))
            << "corr(z" << i << ", z" << j << ")";
      }
      // eta is independent of every z (a different half of the Box-Muller pair).
      EXPECT_NEAR(z_eta[i][j].corr(), 0.0, se_bound(1.0, N))
          << "corr(z" << i << ", eta" << j << ")";
    }
  }
}

// shock_underlying against the formulas of docs/design.md section 3, written out by hand.
TEST(ShockUnderlying, MatchesDesignFormulas) {
  struct row {
    double spot, vol, z, eta, h, xi, rho;
  };
  const row rows[] = {
      {91000.0, 0.55, 1.3, -0.4, 1.0 / 365.0, 1.0, -0.5},
      {3100.0, 0.70, -2.5, 0.9, 10.0 / 365.0, 1.5, 0.3},
      {1.0, 0.2, 0.0, 0.0, 0.25, 0.8, -1.0},  // rho_sv = -1: w = -z exactly
      {50.0, 1.2, 4.0, -3.0, 0.5, 2.0, 1.0},  // rho_sv = +1: w = z
  };
  for (const row& w : rows) {
    const msync::shocked_market m =
        msync::shock_underlying(w.spot, w.vol, w.z, w.eta, w.h, w.xi, w.rho);
    const double ww = w.rho * w.z + std::sqrt(1.0 - w.rho * w.rho) * w.eta;
    const double spot = w.spot * std::exp(w.vol * std::sqrt(w.h) * w.z - 0.5 * w.vol * w.vol * w.h);
    const double vol = w.vol * std::exp(w.xi * std::sqrt(w.h) * ww - 0.5 * w.xi * w.xi * w.h);
    // exp of an argument below ~10 in magnitude: a few ulp of relative error.
    EXPECT_NEAR(m.spot, spot, 1e-14 * spot);
    // The vol shock is x = xi sqrt(h) w; an option of g = 1 moves to sigma exp(x - xi^2 h / 2).
    const double moved =
        msync::shocked_vol(w.vol, 1.0, m.vol_shock, msync::vol_shock_drift(w.xi, w.h));
    EXPECT_NEAR(moved, vol, 1e-14 * vol);
  }
  // A zero horizon leaves the market unchanged.
  const msync::shocked_market same = msync::shock_underlying(100.0, 0.3, 2.0, -1.0, 0.0, 1.0, -0.5);
  EXPECT_EQ(same.spot, 100.0);
  EXPECT_EQ(msync::shocked_vol(0.3, 1.0, same.vol_shock, msync::vol_shock_drift(1.0, 0.0)), 0.3);
}

// E[S'/S] = 1 and E[sigma'/sigma] = 1: the -sigma^2 h / 2 and -xi^2 h / 2 drifts make both
// shocks martingales. A large horizon makes the check sharp: with sigma^2 h = 0.16 a missing drift
// would move the mean by e^{0.08} - 1 = 8%, against a 5-SE bound of 0.5%.
// S'/S is lognormal with variance e^{sigma^2 h} - 1 (likewise for the vol with xi).
// log(sigma'/sigma) = xi sqrt(h) w - xi^2 h / 2 with corr(w, z) = rho_sv, var(w) = 1.
TEST(ShockUnderlying, MartingaleAndSpotVolCorrelation) {
  const mat3 l = cholesky3(kCorrelation);
  const double h = 0.25, xi = 1.5, rho_sv = -0.5;
  const double vols[3] = {0.8, 0.5, 1.2};
  const double spots[3] = {91000.0, 3100.0, 1.25};
  double sum_spot[3] = {0, 0, 0}, sum_vol[3] = {0, 0, 0};
  moments2 logvol_z[3];
  for (int s = 0; s < kScenarios; ++s) {
    const draw3 d = correlated_draw(kSeed, static_cast<std::uint64_t>(s), l);
    for (int u = 0; u < 3; ++u) {
      const msync::shocked_market m =
          msync::shock_underlying(spots[u], vols[u], d.z[u], d.eta[u], h, xi, rho_sv);
      const double vol =
          msync::shocked_vol(vols[u], 1.0, m.vol_shock, msync::vol_shock_drift(xi, h));
      sum_spot[u] += m.spot / spots[u];
      sum_vol[u] += vol / vols[u];
      logvol_z[u].add(std::log(vol / vols[u]), d.z[u]);
    }
  }
  const double N = kScenarios;
  for (int u = 0; u < 3; ++u) {
    SCOPED_TRACE(testing::Message() << "underlying " << u);
    EXPECT_NEAR(sum_spot[u] / N, 1.0, se_bound(std::expm1(vols[u] * vols[u] * h), N));
    EXPECT_NEAR(sum_vol[u] / N, 1.0, se_bound(std::expm1(xi * xi * h), N));
    EXPECT_NEAR(logvol_z[u].corr(), rho_sv,
                se_bound((1 - rho_sv * rho_sv) * (1 - rho_sv * rho_sv), N));
    // log vol shock: mean -xi^2 h / 2, variance xi^2 h (sample variance SE: xi^2 h sqrt(2/N)).
    EXPECT_NEAR(logvol_z[u].mean_x(), -0.5 * xi * xi * h, se_bound(xi * xi * h, N));
    EXPECT_NEAR(logvol_z[u].var_x(), xi * xi * h, xi * xi * h * se_bound(2.0, N));
  }
}

// ---------------------------------------------------------------------------------------------
// Student-t.

TEST(ScenarioScale, NormalDistributionScaleIsOne) {
  const scenario_draw_params p{kSeed, shock_distribution::normal, 4.0};
  for (std::uint64_t s : {0ull, 1ull, 12345ull, 1ull << 40})
    EXPECT_EQ(msync::scenario_scale(p, s), 1.0);
}

// nu = 10. The scale is sqrt((nu - 2) / chi2_nu), shared by every underlying of the scenario:
//  E[scale^2] = (nu - 2) E[1/chi2] = 1, E[scale^4] = (nu - 2)^2 E[1/chi2^2] = (nu - 2)/(nu - 4)
//  = 4/3, E[scale^8] = (nu-2)^4 / ((nu-2)(nu-4)(nu-6)(nu-8)) = 32/3.
//  So Var(scale^2) = 1/3 and Var(scale^4) = 32/3 - 16/9 = 80/9.
//  z_scaled = scale * z: mean 0 (SE^2 = 1/N), E[z_scaled^2] = 1 with Var(z_scaled^2) =
//  E[scale^4] E[z^4] - 1 = 4/3 * 3 - 1 = 3.
//  Two underlyings with independent eps share one scale: E[z0^2 z2^2] = E[scale^4] = 4/3
//  (it would be 1 with independent scales), Var(z0^2 z2^2) = E[scale^8] * 9 - 16/9 = 94.2.
TEST(ScenarioScale, StudentTNu10UnitVarianceAndSharedScale) {
  const scenario_draw_params p{kSeed, shock_distribution::student_t, 10.0};
  const double N = kScenarios;
  double s2 = 0, s4 = 0, m1 = 0, m2 = 0, cross = 0;
  moments2 scale_eps;
  for (int s = 0; s < kScenarios; ++s) {
    const std::uint64_t ss = static_cast<std::uint64_t>(s);
    const double scale = msync::scenario_scale(p, ss);
    ASSERT_GT(scale, 0.0);
    const double e0 = msync::scenario_normals(p.seed, ss, 0).z0;
    const double e2 = msync::scenario_normals(p.seed, ss, 2).z0;
    const double z0 = scale * e0, z2 = scale * e2;
    s2 += scale * scale;
    s4 += scale * scale * scale * scale;
    m1 += z0;
    m2 += z0 * z0;
    cross += z0 * z0 * z2 * z2;
    scale_eps.add(scale * scale, e0 * e0);
  }
  EXPECT_NEAR(s2 / N, 1.0, se_bound(1.0 / 3.0, N));
  EXPECT_NEAR(s4 / N, 4.0 / 3.0, se_bound(80.0 / 9.0, N));
  EXPECT_NEAR(m1 / N, 0.0, se_bound(1.0, N));
  EXPECT_NEAR(m2 / N, 1.0, se_bound(3.0, N));
  EXPECT_NEAR(cross / N, 4.0 / 3.0, se_bound(94.2, N));
  // The chi-square draw uses its own streams (tags 1, 2), independent of the eps (tag 0).
  EXPECT_NEAR(scale_eps.corr(), 0.0, se_bound(1.0, N));
}

// Student-t CDF with 4 degrees of freedom in closed form. With x = t / sqrt(4 + t^2):
//   F(t) = 1/2 + (3/4) x - (1/4) x^3 = 1/2 + (3/4) x (1 - x^2 / 3).
// Derivation: dx/dt = 4 / (4 + t^2)^{3/2} and dF/dx = (3/4)(1 - x^2) = 3 / (4 + t^2), so
// dF/dt = 12 / (4 + t^2)^{5/2} = (3/8) (1 + t^2/4)^{-5/2}, the t_4 density
// Gamma(5/2) / (sqrt(4 pi) Gamma(2)) (1 + t^2/4)^{-5/2}; F(0) = 1/2 and F(inf) = 1.
double student_t4_cdf(double t) {
  const double x = t / std::sqrt(4.0 + t * t);
  return 0.5 + 0.75 * x - 0.25 * x * x * x;
}

TEST(ScenarioScale, StudentT4CdfFormula) {
  // The two-sided 95% critical value of t_4 (statistical tables: 2.776; 2.7764451051977943 at
  // 30 digits) sits at F = 0.975.
  EXPECT_NEAR(student_t4_cdf(2.7764451051977943), 0.975, 1e-14);
  EXPECT_EQ(student_t4_cdf(0.0), 0.5);
  EXPECT_NEAR(student_t4_cdf(1.0), 0.81304951684997055750, 1e-14);  // mpmath quadrature
  // Against Simpson's rule on the density over [0, t] with h <= 2e-4: truncation
  // t h^4 max|f''''| / 180 < 1e-16, rounding of the 20,000-term sum ~ 1e-13.
  for (double t : {0.5, 2.0, 4.0}) {
    const int n = 20000;
    const double h = t / n;
    auto f = [](double x) { return 0.375 * std::pow(1.0 + 0.25 * x * x, -2.5); };
    double sum = f(0.0) + f(t);
    for (int i = 1; i < n; ++i) sum += (i % 2 == 1 ? 4.0 : 2.0) * f(i * h);
    EXPECT_NEAR(student_t4_cdf(t), 0.5 + sum * h / 3.0, 1e-12) << "t = " << t;
  }
}

// nu = 4: z_scaled = scale * eps = t * sqrt((nu - 2) / nu) = t / sqrt(2) with t ~ t_4, so
// P(z_scaled > c) = 1 - F_4(c sqrt 2). Each tail frequency is a binomial proportion with standard
// error sqrt(p (1 - p) / N). At c = 3 the t tail (0.0066) is five times the normal one (0.00135).
TEST(ScenarioScale, StudentTNu4TailProbabilities) {
  const scenario_draw_params p{kSeed, shock_distribution::student_t, 4.0};
  const double cs[3] = {2.0, 3.0, 4.0};
  double upper[3] = {0, 0, 0}, lower[3] = {0, 0, 0};
  for (int s = 0; s < kScenarios; ++s) {
    const std::uint64_t ss = static_cast<std::uint64_t>(s);
    const double z = msync::scenario_scale(p, ss) * msync::scenario_normals(p.seed, ss, 1).z0;
    for (int k = 0; k < 3; ++k) {
      if (z > cs[k]) upper[k] += 1;
      if (z < -cs[k]) lower[k] += 1;
    }
  }
  const double N = kScenarios;
  for (int k = 0; k < 3; ++k) {
    const double prob = 1.0 - student_t4_cdf(cs[k] * std::sqrt(2.0));
    const double bound = se_bound(prob * (1.0 - prob), N);
    EXPECT_NEAR(upper[k] / N, prob, bound) << "P(z > " << cs[k] << ")";
    EXPECT_NEAR(lower[k] / N, prob, bound) << "P(z < -" << cs[k] << ")";
  }
}

// ---------------------------------------------------------------------------------------------
// Gamma(alpha, 1) by Marsaglia-Tsang: mean alpha, variance alpha, central 4th moment
// 3 alpha^2 + 6 alpha, so the sample variance has SE^2 = (2 alpha^2 + 6 alpha) / N.

TEST(ScenarioGamma, MeanAndVariance) {
  const double N = kScenarios;
  for (double alpha : {1.0, 1.5, 2.0, 5.0, 30.0}) {
    double sum = 0.0, sum_sq = 0.0;
    for (int s = 0; s < kScenarios; ++s) {
      const double g = msync::scenario_gamma(kSeed, static_cast<std::uint64_t>(s), alpha);
      ASSERT_GT(g, 0.0);
      sum += g;
      sum_sq += (g - alpha) * (g - alpha);  // centred on the true mean: var estimate, SE as above
    }
    EXPECT_NEAR(sum / N, alpha, se_bound(alpha, N)) << "alpha = " << alpha;
    EXPECT_NEAR(sum_sq / N, alpha, se_bound(2.0 * alpha * alpha + 6.0 * alpha, N))
        << "alpha = " << alpha;
  }
}

// The distribution, not only its moments: for alpha = 2, P(X <= x) = 1 - e^{-x} (1 + x); for
// alpha = 1 (exponential), 1 - e^{-x}. Binomial SE sqrt(p (1 - p) / N).
TEST(ScenarioGamma, CdfAtSeveralPoints) {
  const double N = kScenarios;
  const double xs[4] = {0.25, 1.0, 2.0, 5.0};
  for (double alpha : {1.0, 2.0}) {
    double below[4] = {0, 0, 0, 0};
    for (int s = 0; s < kScenarios; ++s) {
      const double g = msync::scenario_gamma(kSeed ^ 0x5555u, static_cast<std::uint64_t>(s), alpha);
      for (int k = 0; k < 4; ++k) {
        if (g <= xs[k]) below[k] += 1;
      }
    }
    for (int k = 0; k < 4; ++k) {
      const double x = xs[k];
      const double cdf = alpha == 1.0 ? -std::expm1(-x) : 1.0 - std::exp(-x) * (1.0 + x);
      EXPECT_NEAR(below[k] / N, cdf, se_bound(cdf * (1.0 - cdf), N))
          << "alpha = " << alpha << ", x = " << x;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Determinism and stream separation.

std::uint64_t bits(double x) {
  std::uint64_t b;
  std::memcpy(&b, &x, sizeof b);
  return b;
}

TEST(ScenarioDeterminism, SameInputsGiveIdenticalBits) {
  const scenario_draw_params p{kSeed, shock_distribution::student_t, 4.0};
  for (std::uint64_t s : {0ull, 7ull, 199999ull, (1ull << 32) + 5ull}) {
    for (std::uint32_t u : {0u, 1u, 31u}) {
      const msync::normal_pair a = msync::scenario_normals(kSeed, s, u);
      const msync::normal_pair b = msync::scenario_normals(kSeed, s, u);
      EXPECT_EQ(bits(a.z0), bits(b.z0));
      EXPECT_EQ(bits(a.z1), bits(b.z1));
    }
    EXPECT_EQ(bits(msync::scenario_scale(p, s)), bits(msync::scenario_scale(p, s)));
    EXPECT_EQ(bits(msync::scenario_gamma(kSeed, s, 2.5)),
              bits(msync::scenario_gamma(kSeed, s, 2.5)));
  }
  // The draw is Box-Muller on the Philox block with counter (s lo, s hi, u, 0) and key
  // (seed lo, seed hi), as scenario.hpp documents.
  const std::uint64_t s = (3ull << 32) | 17u;
  const msync::normal_pair direct = msync::normals_from_block(
      msync::philox4x32_10(msync::philox_u32x4{{17u, 3u, 2u, 0u}}, 0x89abcdefu, 0x01234567u));
  const msync::normal_pair via = msync::scenario_normals(kSeed, s, 2);
  EXPECT_EQ(bits(direct.z0), bits(via.z0));
  EXPECT_EQ(bits(direct.z1), bits(via.z1));
}

TEST(ScenarioDeterminism, DifferentSeedsScenariosAndFactorsDiffer) {
  const std::uint64_t s = 42;
  const double base = msync::scenario_normals(kSeed, s, 0).z0;
  // Seeds differing in the low word, in the high word only, and by one bit.
  EXPECT_NE(base, msync::scenario_normals(kSeed + 1, s, 0).z0);
  EXPECT_NE(base, msync::scenario_normals(kSeed ^ (1ull << 40), s, 0).z0);
  EXPECT_NE(base, msync::scenario_normals(kSeed ^ 1ull, s, 0).z0);
  // Scenario numbers differing in the high word only.
  EXPECT_NE(base, msync::scenario_normals(kSeed, s + (1ull << 32), 0).z0);
  EXPECT_NE(base, msync::scenario_normals(kSeed, s + 1, 0).z0);
  // Another underlying.
  EXPECT_NE(base, msync::scenario_normals(kSeed, s, 1).z0);
  // The Student-t scale changes with the seed and with the scenario.
  const scenario_draw_params p{kSeed, shock_distribution::student_t, 4.0};
  scenario_draw_params q = p;
  q.seed = kSeed ^ (1ull << 63);
  EXPECT_NE(msync::scenario_scale(p, s), msync::scenario_scale(q, s));
  EXPECT_NE(msync::scenario_scale(p, s), msync::scenario_scale(p, s + 1));

  // Over many scenarios, two seeds give uncorrelated streams.
  moments2 m;
  for (int i = 0; i < kScenarios; ++i) {
    const std::uint64_t ss = static_cast<std::uint64_t>(i);
    m.add(msync::scenario_normals(1, ss, 0).z0, msync::scenario_normals(2, ss, 0).z0);
  }
  EXPECT_NEAR(m.corr(), 0.0, se_bound(1.0, kScenarios));
}

}  // namespace
