#pragma once
// Every backend test is written once and runs on each backend built in (backend_registry.hpp):
// TEST_P on a fixture derived from each_backend, instantiated with MSYNC_FOR_EACH_BACKEND. A
// backend that cannot run here (CUDA without a device) skips. The CUDA backend also runs as
// `cuda_chunked`, with at most 700 accounts per chunk, so the chunked paths run on small books.
//
// The tolerances of docs/design.md section 6, in one place: expect_agree compares a backend's
// results with the CPU backend's (own funds, equity, notionals, liquidity add-on, greeks, decay and
// vol exposure within 1e-9 relative or 1e-9 absolute near zero; VaR, ES, margins, health and breach
// probability within 1e-4 relative; statuses and flags equal unless the account sits within the
// tolerance of a threshold); expect_identical compares two runs of one backend bit for bit.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "io/load_inputs.hpp"
#include "marginsync/backend_registry.hpp"
#include "test_books.hpp"

namespace msync::test {

struct backend_case {
  std::string label;  // the test name's suffix
  std::string name;   // in the registry
  backend_options options;
};

inline void PrintTo(const backend_case& c, std::ostream* os) {
  *os << c.label;
}

inline std::vector<backend_case> backend_cases() {
  std::vector<backend_case> out;
  for (const std::string& name : built_backends()) {
    out.push_back(backend_case{name, name, {}});
    if (name == "cuda") {
      backend_options chunked;
      chunked.max_chunk_accounts = 700;
      out.push_back(backend_case{"cuda_chunked", name, chunked});
    }
  }
  return out;
}

class each_backend : public ::testing::TestWithParam<backend_case> {
 protected:
  void SetUp() override {
    const backend_probe probe = probe_backend(GetParam().name, GetParam().options);
    if (!probe.usable) GTEST_SKIP() << GetParam().name << " is not usable here: " << probe.reason;
  }
  // A new instance of the backend under test.
  std::unique_ptr<backend> make() const {
    return make_backend(GetParam().name, GetParam().options);
  }
  // The reference every backend is compared with.
  static std::unique_ptr<backend> make_reference() { return make_cpu_backend(0); }
};

#define MSYNC_FOR_EACH_BACKEND(fixture)                                                            \
  INSTANTIATE_TEST_SUITE_P(backends, fixture, ::testing::ValuesIn(::msync::test::backend_cases()), \
                           [](const ::testing::TestParamInfo<::msync::test::backend_case>& p) {    \
                             return p.param.label;                                                 \
                           })

// |a - b| <= rel * max(|b|, floor): relative, with an absolute floor near zero; infinities equal.
inline void expect_close(double a, double b, double rel, double floor, const std::string& what) {
  if (std::isinf(b)) {
    EXPECT_EQ(a, b) << what;
    return;
  }
  EXPECT_LE(std::fabs(a - b), rel * std::max(std::fabs(b), floor))
      << what << ": got " << a << ", reference " << b;
}

// Revaluation numbers: 1e-9 relative (1e-9 absolute below 1).
constexpr double revaluation_tolerance = 1e-9;
// Scenario numbers: 1e-4 relative, float allowed inside scenario loops.
constexpr double scenario_tolerance = 1e-4;

inline void expect_revaluations_agree(const revaluation& got, const revaluation& ref) {
  for (const std::vector<double>* v :
       {&got.exposure_gamma, &got.exposure_vega, &got.exposure_theta, &got.exposure_decay,
        &got.exposure_vol_exposure, &ref.exposure_gamma, &ref.exposure_vega, &ref.exposure_theta,
        &ref.exposure_decay, &ref.exposure_vol_exposure, &got.exposure_delta})
    ASSERT_EQ(v->size(), ref.exposure_delta.size());
  for (const std::vector<double>* v :
       {&got.account_own_funds, &got.account_gross_notional, &got.account_floor_notional,
        &got.account_liquidity_addon, &ref.account_own_funds, &ref.account_gross_notional,
        &ref.account_floor_notional, &ref.account_liquidity_addon, &got.account_equity})
    ASSERT_EQ(v->size(), ref.account_equity.size());
  const double tol = revaluation_tolerance;
  for (std::size_t x = 0; x < ref.exposure_delta.size(); ++x) {
    const std::string id = "exposure " + std::to_string(x);
    expect_close(got.exposure_delta[x], ref.exposure_delta[x], tol, 1.0, id + " delta");
    expect_close(got.exposure_gamma[x], ref.exposure_gamma[x], tol, 1.0, id + " gamma");
    expect_close(got.exposure_vega[x], ref.exposure_vega[x], tol, 1.0, id + " vega");
    expect_close(got.exposure_theta[x], ref.exposure_theta[x], tol, 1.0, id + " theta");
    expect_close(got.exposure_decay[x], ref.exposure_decay[x], tol, 1.0, id + " decay");
    expect_close(got.exposure_vol_exposure[x], ref.exposure_vol_exposure[x], tol, 1.0,
                 id + " vol exposure");
  }
  for (std::size_t a = 0; a < ref.account_equity.size(); ++a) {
    const std::string id = "account " + std::to_string(a);
    expect_close(got.account_own_funds[a], ref.account_own_funds[a], tol, 1.0, id + " own funds");
    expect_close(got.account_equity[a], ref.account_equity[a], tol, 1.0, id + " equity");
    expect_close(got.account_gross_notional[a], ref.account_gross_notional[a], tol, 1.0,
                 id + " gross");
    expect_close(got.account_floor_notional[a], ref.account_floor_notional[a], tol, 1.0,
                 id + " floor notional");
    expect_close(got.account_liquidity_addon[a], ref.account_liquidity_addon[a], tol, 1.0,
                 id + " liquidity add-on");
  }
}

inline void expect_agree(const book_inputs& in, const outcome& got, const outcome& ref) {
  const book& b = in.positions;
  ASSERT_EQ(got.reval.account_equity.size(), b.accounts());
  ASSERT_EQ(got.reval.exposure_delta.size(), b.exposures());
  ASSERT_EQ(got.risk.var.size(), b.accounts());
  ASSERT_EQ(got.risk.scenarios, ref.risk.scenarios);
  expect_revaluations_agree(got.reval, ref.reval);
  const double tol = scenario_tolerance;
  std::size_t status_checked = 0;
  for (std::size_t a = 0; a < b.accounts(); ++a) {
    const std::string id(b.account_id[a]);
    const double e = ref.reval.account_equity[a];
    // Scenario numbers: relative to the account's scale (its gross notional), since a VaR near
    // zero is a difference of large position P&Ls.
    const double scale = std::max(1.0, 1e-6 * ref.reval.account_gross_notional[a]);
    expect_close(got.risk.var[a], ref.risk.var[a], tol, scale, id + " var");
    expect_close(got.risk.es[a], ref.risk.es[a], tol, scale, id + " es");
    expect_close(got.risk.initial_margin[a], ref.risk.initial_margin[a], tol, scale, id + " im");
    expect_close(got.risk.maintenance_margin[a], ref.risk.maintenance_margin[a], tol, scale,
                 id + " mm");
    EXPECT_NEAR(got.risk.breach_probability[a], ref.risk.breach_probability[a], tol) << id;
    if (std::isfinite(ref.risk.health[a]))
      expect_close(got.risk.health[a], ref.risk.health[a], tol, 1e-6, id + " health");
    else
      EXPECT_EQ(got.risk.health[a], ref.risk.health[a]) << id;
    // Status and flag are thresholds: equal unless the account sits within the tolerance of one.
    const double im = ref.risk.initial_margin[a], mm = ref.risk.maintenance_margin[a];
    const bool near_edge = std::fabs(e - im) <= tol * std::max(im, scale) ||
                           std::fabs(e - mm) <= tol * std::max(mm, scale);
    if (!near_edge) {
      EXPECT_EQ(got.risk.status[a], ref.risk.status[a]) << id;
      ++status_checked;
    }
    if (std::fabs(ref.risk.breach_probability[a] - in.risk.preemptive_threshold) > tol &&
        !near_edge) {
      EXPECT_EQ(got.risk.preemptive[a], ref.risk.preemptive[a]) << id;
    }
  }
  EXPECT_GE(status_checked * 10, b.accounts() * 9) << "most accounts are far from a threshold";
  if (status_checked == b.accounts()) {
    EXPECT_EQ(got.risk.not_ok_accounts, ref.risk.not_ok_accounts);
  }
  const double book_scale = std::max(1.0, 1e-6 * std::fabs(ref.risk.bad_debt_es));
  expect_close(got.risk.bad_debt_mean, ref.risk.bad_debt_mean, tol, book_scale, "E[B]");
  expect_close(got.risk.bad_debt_var, ref.risk.bad_debt_var, tol, book_scale, "VaR(B)");
  expect_close(got.risk.bad_debt_es, ref.risk.bad_debt_es, tol, book_scale, "ES(B)");
}

// The same numbers, bit for bit, in every field: what one backend must give twice, or a patched
// book and the edited book loaded.
inline void expect_identical(const outcome& a, const outcome& b) {
  EXPECT_EQ(a.reval.exposure_delta, b.reval.exposure_delta);
  EXPECT_EQ(a.reval.exposure_gamma, b.reval.exposure_gamma);
  EXPECT_EQ(a.reval.exposure_vega, b.reval.exposure_vega);
  EXPECT_EQ(a.reval.exposure_theta, b.reval.exposure_theta);
  EXPECT_EQ(a.reval.exposure_decay, b.reval.exposure_decay);
  EXPECT_EQ(a.reval.exposure_vol_exposure, b.reval.exposure_vol_exposure);
  EXPECT_EQ(a.reval.account_own_funds, b.reval.account_own_funds);
  EXPECT_EQ(a.reval.account_equity, b.reval.account_equity);
  EXPECT_EQ(a.reval.account_gross_notional, b.reval.account_gross_notional);
  EXPECT_EQ(a.reval.account_floor_notional, b.reval.account_floor_notional);
  EXPECT_EQ(a.reval.account_liquidity_addon, b.reval.account_liquidity_addon);
  EXPECT_EQ(a.risk.scenarios, b.risk.scenarios);
  EXPECT_EQ(a.risk.var, b.risk.var);
  EXPECT_EQ(a.risk.es, b.risk.es);
  EXPECT_EQ(a.risk.initial_margin, b.risk.initial_margin);
  EXPECT_EQ(a.risk.maintenance_margin, b.risk.maintenance_margin);
  EXPECT_EQ(a.risk.health, b.risk.health);
  EXPECT_EQ(a.risk.breach_probability, b.risk.breach_probability);
  EXPECT_EQ(a.risk.status, b.risk.status);
  EXPECT_EQ(a.risk.preemptive, b.risk.preemptive);
  EXPECT_EQ(a.risk.not_ok_accounts, b.risk.not_ok_accounts);
  EXPECT_EQ(a.risk.bad_debt_mean, b.risk.bad_debt_mean);
  EXPECT_EQ(a.risk.bad_debt_var, b.risk.bad_debt_var);
  EXPECT_EQ(a.risk.bad_debt_es, b.risk.bad_debt_es);
}

}  // namespace msync::test
