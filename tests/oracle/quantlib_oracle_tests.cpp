// QuantLib as an independent oracle (a test-only dependency, Debian's libquantlib0-dev): built
// only where CMake finds it (tests/CMakeLists.txt), and the core checks of the same rules
// (tests/math/test_vol_surface.cpp, test_margin_model.cpp) never depend on it.
//
// What it checks against QuantLib 1.29:
// - raw SVI total variance (QuantLib::detail::sviTotalVariance) and an option's volatility on a
//   one-slice surface (QuantLib::SviSmileSection, sigma = sqrt(w(ln(K/F)) / T));
// - option values under that smile (QuantLib::blackFormula on the forward, discounted) and the
//   horizon decay V(T - h) - V(T) under an unchanged vol;
// - futures' forward S e^{bT} against flat continuously compounded curves (FlatForward).
#include <gtest/gtest.h>

#include <cmath>
#include <ql/experimental/volatility/sviinterpolation.hpp>
#include <ql/experimental/volatility/svismilesection.hpp>
#include <ql/pricingengines/blackformula.hpp>
#include <ql/termstructures/yield/flatforward.hpp>
#include <ql/time/calendars/nullcalendar.hpp>
#include <ql/time/daycounters/actual365fixed.hpp>

#include "marginsync/instrument_inputs.hpp"
#include "marginsync/valuation.hpp"
#include "marginsync/vol_surface.hpp"

namespace {

constexpr std::int64_t day_ns = 86'400'000'000'000;
constexpr std::int64_t as_of = 1'795'000'000'000'000'000;

struct slice_case {
  double a, b, rho, m, sigma;
};
const slice_case slices[] = {{0.04, 0.4, -0.4, 0.1, 0.2},
                             {-0.02, 0.3, 0.5, -0.05, 0.15},
                             {0.001, 0.05, -0.9, 0.0, 0.02},
                             {0.2, 1.5, 0.2, 0.3, 0.8}};

TEST(quantlib_oracle, svi_total_variance) {
  for (const slice_case& c : slices)
    for (double k = -2.0; k <= 2.0; k += 0.125) {
      const msync::svi_slice s{as_of, c.a, c.b, c.rho, c.m, c.sigma};
      EXPECT_NEAR(msync::svi_total_variance(s, k),
                  QuantLib::detail::sviTotalVariance(c.a, c.b, c.sigma, c.rho, c.m, k), 1e-15);
    }
}

// An option on a one-slice surface: its vol and value against SviSmileSection and blackFormula.
TEST(quantlib_oracle, options_under_an_svi_smile) {
  const double spot = 91000.0, rate = 0.04, q = 0.01, days = 31.0;
  const double t = days / 365.0, forward = spot * std::exp((rate - q) * t);
  for (const slice_case& c : slices) {
    msync::instrument_table ins;
    msync::market_state m;
    m.as_of_ns = as_of;
    m.rate = rate;
    m.symbols = {"BTC"};
    m.spot = {spot};
    m.vol = {0.5};
    m.dividend_yield = {q};
    m.funding_rate = {0.0};
    m.surface = {{msync::svi_slice{as_of + static_cast<std::int64_t>(days) * day_ns, c.a, c.b,
                                   c.rho, c.m, c.sigma}}};
    const QuantLib::SviSmileSection smile(t, forward, {c.a, c.b, c.sigma, c.rho, c.m});
    for (double strike : {60000.0, 80000.0, 91000.0, 100000.0, 130000.0}) {
      ins.id = {"o"};
      ins.kind = {msync::instrument_kind::option};
      ins.is_call = {1};
      ins.underlying = {0};
      ins.strike = {strike};
      ins.multiplier = {1.0};
      ins.expiry_ns = {as_of + static_cast<std::int64_t>(days) * day_ns};
      const double vol = msync::option_vol(ins, 0, m, t);
      EXPECT_NEAR(vol, smile.volatility(strike), 1e-12 * vol) << strike;
      for (bool call : {true, false}) {
        const QuantLib::Option::Type type = call ? QuantLib::Option::Call : QuantLib::Option::Put;
        const double ql =
            QuantLib::blackFormula(type, strike, forward, vol * std::sqrt(t), std::exp(-rate * t));
        const double ours = msync::bsm_value(call, spot, strike, t, rate, rate - q, vol);
        EXPECT_NEAR(ours, ql, 1e-9 * spot) << strike << (call ? " call" : " put");
        // Decay over a day at an unchanged vol.
        const msync::valuation_inputs x{spot, vol, rate, rate - q, t};
        const msync::contract_terms terms{msync::instrument_kind::option, call, strike, 1.0};
        const double h = 1.0 / 365.0;
        const double ql_later =
            QuantLib::blackFormula(type, strike, spot * std::exp((rate - q) * (t - h)),
                                   vol * std::sqrt(t - h), std::exp(-rate * (t - h)));
        EXPECT_NEAR(msync::price_instrument(terms, x, h, 3.0).decay, ql_later - ql, 1e-8 * spot)
            << strike;
      }
    }
  }
}

// A dated future: F = S e^{(r - q) T} against QuantLib's flat, continuously compounded curves.
TEST(quantlib_oracle, future_forward_against_flat_curves) {
  using namespace QuantLib;
  const Date today(24, November, 2026);
  const Actual365Fixed dc;
  for (double r : {-0.02, 0.0, 0.04, 0.3})
    for (double q : {-0.05, 0.0, 0.01}) {
      const FlatForward rates(today, r, dc, Continuous, Annual);
      const FlatForward dividends(today, q, dc, Continuous, Annual);
      for (int days : {1, 31, 122, 730}) {
        const Date expiry = today + days;
        const double t = dc.yearFraction(today, expiry);
        const double ql = 3100.0 * dividends.discount(expiry) / rates.discount(expiry);
        const msync::valuation_inputs x{3100.0, 0.7, r, r - q, t};
        const msync::contract_terms future{msync::instrument_kind::future, false, 0.0, 1.0};
        EXPECT_NEAR(msync::unit_value(future, x), ql, 1e-12 * ql) << r << " " << q << " " << days;
      }
    }
}

}  // namespace
