// Tests of black_scholes.hpp (generalized BSM, docs/design.md section 3 "Pricing") and
// valuation.hpp (docs/design.md section 3 "Per position").
//
// Reference values come from two places:
//  - published examples, Haug, "The Complete Guide to Option Pricing Formulas", 2nd ed.
//    (McGraw-Hill 2007), chapter 1 (section 1.1.6, generalized Black-Scholes-Merton, and its
//    special cases 1.1.1 Black-Scholes, 1.1.2 Merton, 1.1.3 Black-76, 1.1.5 Garman-Kohlhagen)
//    and chapter 2 (section 2.1, the greeks: delta, gamma, vega, theta), quoted to 4 decimals;
//    the same examples are in QuantLib's test-suite/europeanoption.cpp (testValues,
//    testGreekValues). Hull, "Options, Futures, and Other Derivatives", the S=42, K=40 example of
//    the Black-Scholes-Merton chapter, quoted to 2 decimals.
//  - the same closed forms evaluated at 40 significant digits with mpmath for the exact binary
//    double inputs (kHp* below, printed to 20 digits): they pin the implementation to ~1e-13
//    relative, far tighter than the 4-decimal book figures can.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>

#include "marginsync/black_scholes.hpp"
#include "marginsync/valuation.hpp"

namespace {

using msync::bsm_greeks;
using msync::bsm_value;
using msync::option_greeks;

constexpr bool kCall = true;
constexpr bool kPut = false;

// A 4-decimal published figure is the true value rounded, so it is within 5e-5 of it.
constexpr double kFourDecimals = 5e-5;
constexpr double kTwoDecimals = 5e-3;

// The high-precision references: erfc, exp and log are each correct to a few ulp, and the formula
// has no catastrophic cancellation at these inputs, so 1e-12 relative leaves >1000x headroom over
// double rounding while still catching any wrong term.
constexpr double kHpRel = 1e-12;

void expect_rel(double expected, double actual, double rel, const char* what) {
  EXPECT_NEAR(actual, expected, rel * std::fabs(expected)) << what;
}

// Uniform in [lo, hi) from the top 53 bits of a 64-bit draw: our own mapping, so the test inputs
// do not depend on the standard library's distribution implementation.
double uniform(std::mt19937_64& g, double lo, double hi) {
  const double u = static_cast<double>(g() >> 11) * (1.0 / 9007199254740992.0);
  return lo + (hi - lo) * u;
}

struct market_case {
  double S, K, T, r, b, sigma;
};

market_case random_case(std::mt19937_64& g) {
  market_case c;
  c.S = uniform(g, 50.0, 200.0);
  c.K = c.S * uniform(g, 0.8, 1.25);
  c.T = uniform(g, 0.25, 2.0);
  c.r = uniform(g, -0.01, 0.10);
  c.b = uniform(g, -0.05, 0.12);
  c.sigma = uniform(g, 0.15, 0.60);
  return c;
}

// ---------------------------------------------------------------------------------------------
// Standard normal building blocks.

TEST(NormalDistribution, MatchesHighPrecisionValues) {
  // Phi(x) and phi(x) at 40 digits (mpmath.ncdf / npdf).
  struct row {
    double x, cdf, pdf;
  };
  const row rows[] = {
      {0.0, 0.5, 0.39894228040143267794},
      {1.0, 0.84134474606854294859, 0.2419707245191433498},
      {-1.0, 0.15865525393145705141, 0.2419707245191433498},
      {3.0, 0.99865010196836990547, 0.0044318484119380071756},
      {-5.0, 2.8665157187919391167e-7, 1.4867195147342977079e-6},
      {-10.0, 7.619853024160526066e-24, 7.6945986267064193463e-23},
      {-20.0, 2.7536241186062336951e-89, 5.5209483621597631896e-88},
      {-37.0, 5.7255712225245768227e-300, 2.1200065515246056269e-298},
  };
  for (const row& w : rows) {
    // erfc is accurate to a few ulp in relative terms even deep in the lower tail; a
    // 1 - Phi(-x) style implementation would return 0 at x = -10 and fail here.
    expect_rel(w.cdf, msync::norm_cdf(w.x), 1e-13, "norm_cdf");
    // exp(-x^2/2) amplifies the relative rounding of x^2/2 (~ 700 * 1e-16 at x = -37).
    expect_rel(w.pdf, msync::norm_pdf(w.x), 1e-12, "norm_pdf");
  }
  EXPECT_EQ(msync::norm_cdf(40.0), 1.0);
}

// ---------------------------------------------------------------------------------------------
// Published values.

// Haug 1.1.6 (generalized BSM), the book's stock-option example: b = r.
TEST(BlackScholesHaug, GeneralizedCallOnStock) {
  const double v = bsm_value(kCall, 60.0, 65.0, 0.25, 0.08, 0.08, 0.30);
  EXPECT_NEAR(v, 2.1334, kFourDecimals);
  expect_rel(2.1333684449161998886, v, kHpRel, "hp");
}

// Haug 1.1.2 (Merton 1973, stock index with continuous yield q = 5%): b = r - q = 0.05.
TEST(BlackScholesHaug, MertonIndexPut) {
  const double v = bsm_value(kPut, 100.0, 95.0, 0.5, 0.10, 0.05, 0.20);
  EXPECT_NEAR(v, 2.4648, kFourDecimals);
  expect_rel(2.4647876467558213764, v, kHpRel, "hp");
}

// Haug 1.1.3 (Black 1976, option on a futures contract): b = 0. At the money forward, the call
// and the put are worth the same.
TEST(BlackScholesHaug, Black76FuturesOption) {
  const double c = bsm_value(kCall, 19.0, 19.0, 0.75, 0.10, 0.0, 0.28);
  const double p = bsm_value(kPut, 19.0, 19.0, 0.75, 0.10, 0.0, 0.28);
  EXPECT_NEAR(c, 1.7011, kFourDecimals);
  EXPECT_NEAR(p, 1.7011, kFourDecimals);
  expect_rel(1.7010507252362672931, c, kHpRel, "hp call");
  expect_rel(1.7010507252362672931, p, kHpRel, "hp put");
}

// Haug 1.1.5 (Garman-Kohlhagen, currency option): b = r - rf = 0.06 - 0.08.
TEST(BlackScholesHaug, GarmanKohlhagenCurrencyCall) {
  const double v = bsm_value(kCall, 1.56, 1.60, 0.5, 0.06, -0.02, 0.12);
  EXPECT_NEAR(v, 0.0291, kFourDecimals);
  expect_rel(0.029099253149439671324, v, kHpRel, "hp");
}

// Haug 2.1.1 (delta), futures option: b = 0.
TEST(BlackScholesHaug, DeltaOfFuturesOption) {
  const option_greeks c = bsm_greeks(kCall, 105.0, 100.0, 0.5, 0.10, 0.0, 0.36);
  const option_greeks p = bsm_greeks(kPut, 105.0, 100.0, 0.5, 0.10, 0.0, 0.36);
  EXPECT_NEAR(c.delta, 0.5946, kFourDecimals);
  EXPECT_NEAR(p.delta, -0.3566, kFourDecimals);
  expect_rel(0.59462865972999561936, c.delta, kHpRel, "hp call delta");
  expect_rel(-0.3566007647707183871, p.delta, kHpRel, "hp put delta");
  // Values of the same options (not published; mpmath).
  expect_rel(12.432844508202188551, c.value, kHpRel, "hp call value");
  expect_rel(7.6766973856986185185, p.value, kHpRel, "hp put value");
}

// Haug 2.1.2 (gamma), stock option b = r = 0.10: the same for call and put.
TEST(BlackScholesHaug, Gamma) {
  const option_greeks c = bsm_greeks(kCall, 55.0, 60.0, 0.75, 0.10, 0.10, 0.30);
  const option_greeks p = bsm_greeks(kPut, 55.0, 60.0, 0.75, 0.10, 0.10, 0.30);
  EXPECT_NEAR(c.gamma, 0.0278, kFourDecimals);
  EXPECT_NEAR(p.gamma, 0.0278, kFourDecimals);
  expect_rel(0.027821160476940841554, c.gamma, kHpRel, "hp call gamma");
  expect_rel(0.027821160476940841554, p.gamma, kHpRel, "hp put gamma");
}

// Haug 2.1.3 (vega): the book's example uses the same stock option as the gamma example
// (S=55, K=60, T=0.75, r=b=0.10, sigma=0.30), as QuantLib's testGreekValues reproduces.
// Vega per 1.00 of volatility; the same for call and put.
TEST(BlackScholesHaug, Vega) {
  const option_greeks c = bsm_greeks(kCall, 55.0, 60.0, 0.75, 0.10, 0.10, 0.30);
  const option_greeks p = bsm_greeks(kPut, 55.0, 60.0, 0.75, 0.10, 0.10, 0.30);
  EXPECT_NEAR(c.vega, 18.9358, kFourDecimals);
  EXPECT_NEAR(p.vega, 18.9358, kFourDecimals);
  expect_rel(18.935777349617859582, c.vega, kHpRel, "hp call vega");
  expect_rel(18.935777349617859582, p.vega, kHpRel, "hp put vega");
}

// Haug 2.1.4 (theta), put on a stock index: one month to expiry, r = 7%, yield 5% (b = 0.02).
// Haug quotes theta per year of calendar time, as we do; per day it is -31.1924 / 365 = -0.0855.
TEST(BlackScholesHaug, PutTheta) {
  const option_greeks p = bsm_greeks(kPut, 430.0, 405.0, 1.0 / 12.0, 0.07, 0.02, 0.20);
  EXPECT_NEAR(p.theta, -31.1924, kFourDecimals);
  EXPECT_NEAR(p.theta / 365.0, -0.0855, kFourDecimals);
  expect_rel(-31.19235030427055692, p.theta, kHpRel, "hp put theta");
  // The book's T rounded to 0.0833 gives the same 4 decimals.
  const option_greeks q = bsm_greeks(kPut, 430.0, 405.0, 0.0833, 0.07, 0.02, 0.20);
  EXPECT_NEAR(q.theta, -31.1924, kFourDecimals);
  expect_rel(-31.192367056519100939, q.theta, kHpRel, "hp put theta, T = 0.0833");
}

// Hull, Black-Scholes-Merton chapter: S=42, K=40, r=10%, sigma=20%, six months: c = 4.76,
// p = 0.81.
TEST(BlackScholesHull, StockOptionExample) {
  const double c = bsm_value(kCall, 42.0, 40.0, 0.5, 0.10, 0.10, 0.20);
  const double p = bsm_value(kPut, 42.0, 40.0, 0.5, 0.10, 0.10, 0.20);
  EXPECT_NEAR(c, 4.76, kTwoDecimals);
  EXPECT_NEAR(p, 0.81, kTwoDecimals);
  expect_rel(4.7594223928715333951, c, kHpRel, "hp call");
  expect_rel(0.80859937290009365311, p, kHpRel, "hp put");
}

// All greeks of one case against the 40-digit closed forms, so that every greek of both option
// types is pinned (a sign or (b - r) mistake in a theta branch would show here).
TEST(BlackScholesHighPrecision, AllGreeksBothTypes) {
  struct row {
    bool call;
    double S, K, T, r, b, sigma;
    double value, delta, gamma, vega, theta;
  };
  const row rows[] = {
      {kCall, 60, 65, 0.25, 0.08, 0.08, 0.30, 2.1333684449161998886, 0.37248279796197285445,
       0.042042755753785171164, 11.351544053521995794, -8.4281743867373709684},
      {kPut, 100, 95, 0.5, 0.10, 0.05, 0.20, 2.4647876467558213764, -0.26418159963607241311,
       0.022839574296269990211, 22.839574296269991479, -3.0005280963980542592},
      {kCall, 1.56, 1.60, 0.5, 0.06, -0.02, 0.12, 0.029099253149439671324, 0.34038590923214269594,
       2.7002660835461676542, 0.39428205245507722854, -0.034947850737600032762},
      {kCall, 105, 100, 0.5, 0.10, 0.0, 0.36, 12.432844508202188551, 0.59462865972999561936,
       0.013493637110520630515, 26.778122845828190266, -8.3968397736779292151},
      {kPut, 105, 100, 0.5, 0.10, 0.0, 0.36, 7.6766973856986185185, -0.3566007647707183871,
       0.013493637110520630515, 26.778122845828190266, -8.8724544859282862447},
      {kPut, 430, 405, 0.0833, 0.07, 0.02, 0.20, 1.7560201839357100914, -0.13610326055339388095,
       0.0087846880773806880614, 27.06065183295810364, -31.192367056519100939},
      {kPut, 42, 40, 0.5, 0.10, 0.10, 0.20, 0.80859937290009365311, -0.2208687090573310641,
       0.049962670405911853469, 8.8134150596028514411, -0.75417449658977049557},
  };
  for (const row& w : rows) {
    const option_greeks g = bsm_greeks(w.call, w.S, w.K, w.T, w.r, w.b, w.sigma);
    SCOPED_TRACE(testing::Message() << (w.call ? "call" : "put") << " S=" << w.S << " K=" << w.K);
    expect_rel(w.value, g.value, kHpRel, "value");
    expect_rel(w.delta, g.delta, kHpRel, "delta");
    expect_rel(w.gamma, g.gamma, kHpRel, "gamma");
    expect_rel(w.vega, g.vega, kHpRel, "vega");
    expect_rel(w.theta, g.theta, kHpRel, "theta");
  }
}

// ---------------------------------------------------------------------------------------------
// Identities on random inputs.

TEST(BlackScholesIdentities, PutCallParity) {
  std::mt19937_64 g(20261124);
  for (int i = 0; i < 500; ++i) {
    const double S = uniform(g, 1.0, 1000.0);
    const double K = S * uniform(g, 0.5, 2.0);
    const double T = uniform(g, 0.01, 5.0);
    const double r = uniform(g, -0.02, 0.15);
    const double b = uniform(g, -0.10, 0.20);
    const double sigma = uniform(g, 0.05, 1.5);
    const double c = bsm_value(kCall, S, K, T, r, b, sigma);
    const double p = bsm_value(kPut, S, K, T, r, b, sigma);
    const double fwd = S * std::exp((b - r) * T);
    const double pv_k = K * std::exp(-r * T);
    // C and P are differences of terms of size fwd and pv_k, each rounded to a few ulp, and
    // N(d) + N(-d) = 1 holds to an ulp; the parity residual is therefore a small multiple of
    // 1e-16 * (fwd + pv_k). 1e-13 of that scale allows ~500 ulp and still catches any error in
    // a discount factor or in d1/d2 (which would move C - P by a visible fraction of the scale).
    const double scale = fwd + pv_k;
    EXPECT_NEAR(c - p, fwd - pv_k, 1e-13 * scale)
        << "S=" << S << " K=" << K << " T=" << T << " r=" << r << " b=" << b << " s=" << sigma;
  }
}

// bsm_value is the hot-path twin of bsm_greeks().value: the same expression, so bit-identical.
TEST(BlackScholesIdentities, GreeksValueEqualsValueExactly) {
  std::mt19937_64 g(7);
  for (int i = 0; i < 300; ++i) {
    const market_case c = random_case(g);
    for (bool call : {kCall, kPut}) {
      EXPECT_EQ(bsm_greeks(call, c.S, c.K, c.T, c.r, c.b, c.sigma).value,
                bsm_value(call, c.S, c.K, c.T, c.r, c.b, c.sigma));
    }
  }
  // Also on expired options.
  EXPECT_EQ(bsm_greeks(kCall, 110.0, 100.0, 0.0, 0.05, 0.05, 0.2).value,
            bsm_value(kCall, 110.0, 100.0, 0.0, 0.05, 0.05, 0.2));
  EXPECT_EQ(bsm_greeks(kPut, 90.0, 100.0, -1.0, 0.05, 0.05, 0.2).value,
            bsm_value(kPut, 90.0, 100.0, -1.0, 0.05, 0.05, 0.2));
}

// Finite differences on the domain of random_case: S in [50, 200], K/S in [0.8, 1.25],
// T in [0.25, 2], sigma in [0.15, 0.6], so sigma sqrt(T) >= 0.075 and no derivative blows up.
//
// Error of a central difference with step h: truncation (h^2 / 6) f''' for a first derivative and
// (h^2 / 12) f'''' for the second, plus rounding ~ eps |V| / h (first) and ~ 4 eps |V| / h^2
// (second), with eps = 1.1e-16 and |V| < 200 here.
//  - delta, h = 1e-4 S. Writing V = K v(S/K), S^2 V''' is bounded on this domain by
//    ~ e^{|b-r|T} n(d1) (1 + |d1| / (sigma sqrt T)) / (sigma sqrt T) < 100, so truncation is
//    < (1e-4)^2 / 6 * 100 ~ 2e-7; rounding < 1.1e-16 * 200 / 5e-3 ~ 4e-12. Tolerance 1e-6.
//  - gamma, h = 1e-4 S: truncation (1e-4)^2 / 12 * S^2 V'''', a few 1e-9 here; rounding
//    4 * 1.1e-16 * 200 / (5e-3)^2 ~ 4e-9 at worst. Tolerance 1e-8 + 1e-5 |gamma|.
//  - vega, h = 1e-5 in sigma: truncation (1e-10 / 6) d3V/dsigma3 with |d3V/dsigma3| < 1e3 here,
//    ~ 2e-8; rounding 1.1e-16 * 200 / 1e-5 ~ 2e-9. Tolerance 1e-6 + 1e-7 |vega|.
//  - theta, h = 1e-5 years in T (T >= 0.25): truncation (1e-10 / 6) |d3V/dT3| with
//    |d3V/dT3| ~ S sigma T^{-5/2} < 200 * 0.6 * 32 ~ 4e3, ~ 7e-8; rounding ~ 2e-9.
//    Tolerance 1e-6 + 1e-7 |theta|.
// Measured over 200,000 such evaluations, the worst error is below 7% of each tolerance, while an
// error in any term of a greek (a wrong sign, a missing carry factor) is of order 1e-3 or more.
TEST(BlackScholesFiniteDifferences, DeltaGammaVegaTheta) {
  std::mt19937_64 g(424242);
  for (int i = 0; i < 400; ++i) {
    const market_case c = random_case(g);
    for (bool call : {kCall, kPut}) {
      SCOPED_TRACE(testing::Message()
                   << (call ? "call" : "put") << " S=" << c.S << " K=" << c.K << " T=" << c.T
                   << " r=" << c.r << " b=" << c.b << " sigma=" << c.sigma);
      const option_greeks gr = bsm_greeks(call, c.S, c.K, c.T, c.r, c.b, c.sigma);
      auto v_s = [&](double s) { return bsm_value(call, s, c.K, c.T, c.r, c.b, c.sigma); };
      auto v_sigma = [&](double v) { return bsm_value(call, c.S, c.K, c.T, c.r, c.b, v); };
      auto v_t = [&](double t) { return bsm_value(call, c.S, c.K, t, c.r, c.b, c.sigma); };

      const double hd = 1e-4 * c.S;
      const double fd_delta = (v_s(c.S + hd) - v_s(c.S - hd)) / (2.0 * hd);
      EXPECT_NEAR(gr.delta, fd_delta, 1e-6);

      const double hg = 1e-4 * c.S;
      const double fd_gamma = (v_s(c.S + hg) - 2.0 * v_s(c.S) + v_s(c.S - hg)) / (hg * hg);
      EXPECT_NEAR(gr.gamma, fd_gamma, 1e-8 + 1e-5 * std::fabs(gr.gamma));

      const double hv = 1e-5;
      const double fd_vega = (v_sigma(c.sigma + hv) - v_sigma(c.sigma - hv)) / (2.0 * hv);
      EXPECT_NEAR(gr.vega, fd_vega, 1e-6 + 1e-7 * std::fabs(gr.vega));

      const double ht = 1e-5;
      const double fd_theta = -(v_t(c.T + ht) - v_t(c.T - ht)) / (2.0 * ht);
      EXPECT_NEAR(gr.theta, fd_theta, 1e-6 + 1e-7 * std::fabs(gr.theta));
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Expiry and limits.

// docs/design.md section 3: T <= 0 is intrinsic value; delta 1 for a call with S > K, -1 for a put
// with S < K, else 0 (at the money too); other greeks 0.
TEST(BlackScholesExpiry, IntrinsicValueAndDeltaRule) {
  struct row {
    bool call;
    double S, K, value, delta;
  };
  const row rows[] = {
      {kCall, 110.0, 100.0, 10.0, 1.0}, {kCall, 100.0, 100.0, 0.0, 0.0},
      {kCall, 90.0, 100.0, 0.0, 0.0},   {kPut, 90.0, 100.0, 10.0, -1.0},
      {kPut, 100.0, 100.0, 0.0, 0.0},   {kPut, 110.0, 100.0, 0.0, 0.0},
      {kCall, 100.5, 100.0, 0.5, 1.0},  {kPut, 99.75, 100.0, 0.25, -1.0},
  };
  for (double T : {0.0, -0.0, -1e-9, -2.0}) {
    for (const row& w : rows) {
      SCOPED_TRACE(testing::Message() << (w.call ? "call" : "put") << " S=" << w.S << " T=" << T);
      // Rates, carry and vol must play no part once expired.
      const option_greeks g = bsm_greeks(w.call, w.S, w.K, T, 0.07, -0.03, 0.45);
      EXPECT_EQ(g.value, w.value);
      EXPECT_EQ(g.delta, w.delta);
      EXPECT_EQ(g.gamma, 0.0);
      EXPECT_EQ(g.vega, 0.0);
      EXPECT_EQ(g.theta, 0.0);
      EXPECT_EQ(bsm_value(w.call, w.S, w.K, T, 0.07, -0.03, 0.45), w.value);
    }
  }
}

// Just before expiry the live formula converges to the expired rule (continuity at T = 0).
TEST(BlackScholesExpiry, ConvergesJustBeforeExpiry) {
  const double T = 1e-10;  // sigma sqrt(T) = 3e-6: the +-1% moneyness below is > 3000 sd away
  const option_greeks c_itm = bsm_greeks(kCall, 101.0, 100.0, T, 0.05, 0.05, 0.3);
  const option_greeks p_itm = bsm_greeks(kPut, 99.0, 100.0, T, 0.05, 0.05, 0.3);
  const option_greeks c_otm = bsm_greeks(kCall, 99.0, 100.0, T, 0.05, 0.05, 0.3);
  // Residual discounting over 1e-10 years moves values by ~ 100 * 0.05 * 1e-10 = 5e-10.
  EXPECT_NEAR(c_itm.value, 1.0, 1e-8);
  EXPECT_NEAR(c_itm.delta, 1.0, 1e-8);
  EXPECT_NEAR(p_itm.value, 1.0, 1e-8);
  EXPECT_NEAR(p_itm.delta, -1.0, 1e-8);
  EXPECT_NEAR(c_otm.value, 0.0, 1e-12);
  EXPECT_NEAR(c_otm.delta, 0.0, 1e-12);
}

// Deep in and out of the money the option is the discounted forward payoff or nothing.
TEST(BlackScholesLimits, DeepInAndOutOfTheMoney) {
  const double T = 1.0, r = 0.05, b = 0.02, sigma = 0.2;
  const double carry = std::exp((b - r) * T), disc = std::exp(-r * T);
  // S/K = 4: d1 ~ (log 4) / 0.2 ~ 7, N(-d1) ~ 1e-12.
  {
    const double S = 400.0, K = 100.0;
    const option_greeks c = bsm_greeks(kCall, S, K, T, r, b, sigma);
    const option_greeks p = bsm_greeks(kPut, S, K, T, r, b, sigma);
    EXPECT_NEAR(c.value, S * carry - K * disc, 1e-9 * S);
    EXPECT_NEAR(c.delta, carry, 1e-10);
    EXPECT_NEAR(c.gamma, 0.0, 1e-12);
    EXPECT_NEAR(c.vega, 0.0, 1e-8);
    EXPECT_NEAR(p.value, 0.0, 1e-9);
    EXPECT_GE(p.value, 0.0);
    EXPECT_NEAR(p.delta, 0.0, 1e-10);
    // The deep ITM call's theta is the carry of the forward minus the carry of the strike.
    EXPECT_NEAR(c.theta, -(b - r) * S * carry - r * K * disc, 1e-8);
  }
  // S/K = 1/4: the mirror case.
  {
    const double S = 25.0, K = 100.0;
    const option_greeks c = bsm_greeks(kCall, S, K, T, r, b, sigma);
    const option_greeks p = bsm_greeks(kPut, S, K, T, r, b, sigma);
    EXPECT_NEAR(p.value, K * disc - S * carry, 1e-9 * K);
    EXPECT_NEAR(p.delta, -carry, 1e-10);
    EXPECT_NEAR(c.value, 0.0, 1e-9);
    EXPECT_GE(c.value, 0.0);
    EXPECT_NEAR(c.delta, 0.0, 1e-10);
  }
  // Vanishing volatility: the value is the discounted forward intrinsic value.
  {
    const double S = 100.0, K = 95.0;
    EXPECT_NEAR(bsm_value(kCall, S, K, T, r, b, 1e-8), S * carry - K * disc, 1e-10);
    EXPECT_NEAR(bsm_value(kPut, S, K, T, r, b, 1e-8), 0.0, 1e-10);
  }
  // Very large volatility: the call tends to the discounted underlying, the put to the
  // discounted strike.
  {
    const double S = 100.0, K = 95.0;
    EXPECT_NEAR(bsm_value(kCall, S, K, T, r, b, 30.0), S * carry, 1e-6 * S);
    EXPECT_NEAR(bsm_value(kPut, S, K, T, r, b, 30.0), K * disc, 1e-6 * K);
  }
}

// Monotonicity and bounds on random inputs: no-arbitrage bounds a pricing bug would break.
TEST(BlackScholesLimits, NoArbitrageBounds) {
  std::mt19937_64 g(99);
  for (int i = 0; i < 300; ++i) {
    const market_case c = random_case(g);
    const double carry = std::exp((c.b - c.r) * c.T), disc = std::exp(-c.r * c.T);
    const option_greeks call = bsm_greeks(kCall, c.S, c.K, c.T, c.r, c.b, c.sigma);
    const option_greeks put = bsm_greeks(kPut, c.S, c.K, c.T, c.r, c.b, c.sigma);
    const double slack = 1e-12 * c.S;  // rounding only
    EXPECT_GE(call.value, std::fmax(c.S * carry - c.K * disc, 0.0) - slack);
    EXPECT_LE(call.value, c.S * carry + slack);
    EXPECT_GE(put.value, std::fmax(c.K * disc - c.S * carry, 0.0) - slack);
    EXPECT_LE(put.value, c.K * disc + slack);
    EXPECT_GT(call.delta, 0.0);
    EXPECT_LT(call.delta, carry);
    EXPECT_LT(put.delta, 0.0);
    EXPECT_GT(put.delta, -carry);
    // delta_call - delta_put = e^{(b-r)T} exactly in theory.
    EXPECT_NEAR(call.delta - put.delta, carry, 4e-15);
    EXPECT_GT(call.gamma, 0.0);
    EXPECT_GT(call.vega, 0.0);
    EXPECT_DOUBLE_EQ(call.gamma, put.gamma);
    EXPECT_DOUBLE_EQ(call.vega, put.vega);
  }
}

// ---------------------------------------------------------------------------------------------
// valuation.hpp: per-position value and greeks (docs/design.md section 3 "Per position").

using msync::contract_terms;
using msync::instrument_kind;
using msync::valuation_inputs;

TEST(Valuation, SpotIsMultiplierTimesSpot) {
  const contract_terms c{instrument_kind::spot, false, 0.0, 2.5};
  const valuation_inputs x{91000.0, 0.55, 0.03, 0.01, 0.0};
  const option_greeks g = msync::unit_greeks(c, x);
  EXPECT_EQ(g.value, 2.5 * 91000.0);
  EXPECT_EQ(g.delta, 2.5);
  EXPECT_EQ(g.gamma, 0.0);
  EXPECT_EQ(g.vega, 0.0);
  EXPECT_EQ(g.theta, 0.0);
  EXPECT_EQ(msync::unit_value(c, x), 2.5 * 91000.0);
  // Contribution q m S; a spot position carries no entry cost even if one is passed.
  EXPECT_DOUBLE_EQ(msync::position_value(c, -3.0, 0.0, msync::unit_value(c, x)),
                   -3.0 * 2.5 * 91000.0);
  EXPECT_DOUBLE_EQ(msync::position_value(c, -3.0, 12345.0, msync::unit_value(c, x)),
                   -3.0 * 2.5 * 91000.0);
}

TEST(Valuation, PerpetualIsMarkedToAverageEntry) {
  const double m = 0.1;
  const contract_terms c{instrument_kind::perpetual, false, 0.0, m};
  // Expiry, carry and rate play no part for a perpetual.
  const valuation_inputs x{120.0, 0.8, 0.05, 0.04, 3.0};
  const option_greeks g = msync::unit_greeks(c, x);
  EXPECT_DOUBLE_EQ(g.value, m * 120.0);
  EXPECT_EQ(g.delta, m);
  EXPECT_EQ(g.gamma, 0.0);
  EXPECT_EQ(g.vega, 0.0);
  EXPECT_EQ(g.theta, 0.0);
  // Two rows: long 2 at 100, short 0.5 at 110. cost = sum q_i entry_i = 200 - 55 = 145.
  const double q = 2.0 - 0.5, cost = 2.0 * 100.0 + (-0.5) * 110.0;
  const double by_rows = 2.0 * m * (120.0 - 100.0) + (-0.5) * m * (120.0 - 110.0);  // 3.5
  EXPECT_NEAR(msync::position_value(c, q, cost, msync::unit_value(c, x)), by_rows, 1e-12);
  EXPECT_NEAR(msync::position_value(c, q, cost, msync::unit_value(c, x)), m * (q * 120.0 - cost),
              1e-12);
}

TEST(Valuation, FutureUsesForwardPrice) {
  const double m = 5.0, S = 3100.0, b = 0.03, T = 0.5;
  const contract_terms c{instrument_kind::future, false, 0.0, m};
  const valuation_inputs x{S, 0.7, 0.05, b, T};
  const double F = S * std::exp(b * T);
  EXPECT_NEAR(msync::future_price(S, b, T), F, 1e-15 * F);
  const option_greeks g = msync::unit_greeks(c, x);
  EXPECT_NEAR(g.value, m * F, 1e-15 * m * F);
  EXPECT_NEAR(g.delta, m * std::exp(b * T), 1e-15 * m);
  EXPECT_EQ(g.gamma, 0.0);
  EXPECT_EQ(g.vega, 0.0);
  EXPECT_NEAR(g.theta, -m * b * F, 1e-15 * m * F);
  EXPECT_EQ(msync::unit_value(c, x), g.value);
  // Position: q m (F - entry) = q unit - m cost with cost = q entry.
  const double q = -4.0, entry = 3000.0;
  EXPECT_NEAR(msync::position_value(c, q, q * entry, msync::unit_value(c, x)), q * m * (F - entry),
              1e-9);
}

TEST(Valuation, ExpiredFutureSettlesOnSpot) {
  const contract_terms c{instrument_kind::future, false, 0.0, 2.0};
  for (double T : {0.0, -0.25}) {
    const valuation_inputs x{3100.0, 0.7, 0.05, 0.03, T};
    EXPECT_EQ(msync::future_price(3100.0, 0.03, T), 3100.0);
    const option_greeks g = msync::unit_greeks(c, x);
    EXPECT_EQ(g.value, 6200.0);
    EXPECT_EQ(g.delta, 2.0);
    EXPECT_EQ(g.theta, 0.0);
    EXPECT_EQ(msync::unit_value(c, x), 6200.0);
  }
}

TEST(Valuation, FutureDeltaAndThetaByFiniteDifferences) {
  std::mt19937_64 g(5);
  for (int i = 0; i < 200; ++i) {
    const double m = uniform(g, 0.01, 100.0);
    const contract_terms c{instrument_kind::future, false, 0.0, m};
    valuation_inputs x{uniform(g, 1.0, 100000.0), 0.5, 0.02, uniform(g, -0.2, 0.2),
                       uniform(g, 0.1, 3.0)};
    const option_greeks gr = msync::unit_greeks(c, x);
    // Value is linear in S: the central difference is exact up to rounding,
    // ~ eps * m S / h = 1.1e-16 * m S / (1e-4 S) ~ 1e-12 m.
    const double h = 1e-4 * x.spot;
    valuation_inputs up = x, dn = x;
    up.spot += h;
    dn.spot -= h;
    const double fd_delta = (msync::unit_value(c, up) - msync::unit_value(c, dn)) / (2.0 * h);
    EXPECT_NEAR(gr.delta, fd_delta, 1e-9 * m);
    // Theta = -dV/dT; V = m S e^{bT}, d3V/dT3 = b^3 V <= 0.008 V: truncation (1e-10/6) 0.008 V
    // ~ 1e-13 V; rounding eps V / 1e-5 ~ 1e-11 V. Tolerance 1e-9 of V.
    const double ht = 1e-5;
    valuation_inputs later = x, sooner = x;
    later.time_to_expiry += ht;
    sooner.time_to_expiry -= ht;
    const double fd_theta =
        -(msync::unit_value(c, later) - msync::unit_value(c, sooner)) / (2.0 * ht);
    EXPECT_NEAR(gr.theta, fd_theta, 1e-9 * gr.value);
  }
}

TEST(Valuation, OptionIsScaledByMultiplier) {
  const double m = 10.0;
  const contract_terms call{instrument_kind::option, true, 65.0, m};
  const valuation_inputs x{60.0, 0.30, 0.08, 0.08, 0.25};  // Haug's generalized BSM example
  const option_greeks g = msync::unit_greeks(call, x);
  // Against the high-precision single-unit values (see AllGreeksBothTypes), times m.
  expect_rel(m * 2.1333684449161998886, g.value, kHpRel, "value");
  expect_rel(m * 0.37248279796197285445, g.delta, kHpRel, "delta");
  expect_rel(m * 0.042042755753785171164, g.gamma, kHpRel, "gamma");
  expect_rel(m * 11.351544053521995794, g.vega, kHpRel, "vega");
  expect_rel(m * -8.4281743867373709684, g.theta, kHpRel, "theta");
  EXPECT_EQ(msync::unit_value(call, x), g.value);
  // Option premium is already out of collateral: the cost argument is ignored.
  EXPECT_NEAR(msync::position_value(call, -3.0, 999.0, g.value), -3.0 * m * 2.1333684449161998886,
              1e-12 * 3.0 * m * 2.2);

  const contract_terms put{instrument_kind::option, false, 95.0, 0.5};
  const valuation_inputs y{100.0, 0.20, 0.10, 0.05, 0.5};  // Haug's Merton example
  expect_rel(0.5 * 2.4647876467558213764, msync::unit_value(put, y), kHpRel, "put value");
  expect_rel(0.5 * -0.26418159963607241311, msync::unit_greeks(put, y).delta, kHpRel, "put delta");

  // Expired option inside a position: intrinsic value times m, delta m for ITM.
  const valuation_inputs expired{70.0, 0.30, 0.08, 0.08, 0.0};
  const option_greeks e = msync::unit_greeks(call, expired);
  EXPECT_EQ(e.value, m * 5.0);
  EXPECT_EQ(e.delta, m);
  EXPECT_EQ(e.gamma, 0.0);
}

}  // namespace
