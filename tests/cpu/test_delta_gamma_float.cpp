// The CPU backend's float delta_gamma losses (docs/design.md sections 3.7, 3.8 and 6) against a
// double recomputation of the same losses, on adversarial accounts: large offsetting exposures on
// two almost perfectly correlated underlyings (the net loss is a small difference of large terms:
// catastrophic cancellation), many exposures, and equity placed exactly at a scenario's breach
// threshold and at IM and MM. VaR, ES, IM and MM must be within float_relative_tolerance (1e-5) of
// double's; breach probability, status, the pre-emptive flag and bad debt must be double's (the
// stated rule: a float number within its error bound of a threshold is not used).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "cpu/delta_gamma_float.hpp"
#include "cpu/loss_kernels.hpp"
#include "cpu/scenario_set.hpp"
#include "cpu/tail_select.hpp"
#include "marginsync/backend.hpp"
#include "marginsync/backend_registry.hpp"
#include "marginsync/delta_gamma.hpp"
#include "marginsync/risk_rules.hpp"
#include "test_books.hpp"
#include "test_support.hpp"

namespace msync {
namespace {

// Each float loss is within delta_gamma_float_error_bound of the double one, and equals the plain
// float formula bit for bit, for ordinary and for offsetting exposures of 1e6.
TEST(delta_gamma_float, losses_are_within_their_bound_of_double) {
  std::mt19937_64 rng(5);
  std::normal_distribution<double> normal(0.0, 1.0);
  for (double scale : {1.0, 1e6}) {
    const std::size_t n = 1000, count = 12;
    std::vector<std::vector<double>> ds(count, std::vector<double>(n)), dv = ds;
    std::vector<std::vector<float>> ds_f(count, std::vector<float>(n)), dv_f = ds_f;
    std::vector<cpu::exposure_term> terms;
    std::vector<cpu::exposure_term_f> terms_f;
    double magnitude = 0, sensitivity_sum = 0, reach_spot = 0, reach_vol = 0;
    for (std::size_t j = 0; j < count; ++j) {
      double max_ds = 0, max_dv = 0;
      for (std::size_t s = 0; s < n; ++s) {
        // Pairs of exposures see almost the same move: (j, j + 1) nearly cancel at scale 1e6.
        const double common = normal(rng);
        ds[j][s] = 3.0 * (j % 2 ? ds[j - 1][s] / 3.0 + 1e-6 * common : common);
        dv[j][s] = 0.05 * normal(rng);
        ds_f[j][s] = static_cast<float>(ds[j][s]);
        dv_f[j][s] = static_cast<float>(dv[j][s]);
        max_ds = std::fmax(max_ds, std::fabs(ds[j][s]));
        max_dv = std::fmax(max_dv, std::fabs(dv[j][s]));
      }
      const double sign = j % 2 ? -1.0 : 1.0;
      const exposure_sensitivity e =
          make_exposure_sensitivity(sign * scale * (1 + 0.01 * normal(rng)), 0.01 * normal(rng),
                                    300 * normal(rng), 5 * normal(rng));
      terms.push_back(cpu::exposure_term{ds[j].data(), dv[j].data(), e});
      terms_f.push_back(cpu::exposure_term_f{ds_f[j].data(), dv_f[j].data(), round_to_float(e)});
      magnitude += delta_gamma_term_magnitude(e, max_ds, max_dv);
      sensitivity_sum += std::fabs(e.delta) + std::fabs(e.half_gamma) + std::fabs(e.vol_exposure) +
                         std::fabs(e.decay);
      reach_spot = std::fmax(reach_spot, max_ds);
      reach_vol = std::fmax(reach_vol, max_dv);
    }
    const double bound = delta_gamma_float_error_bound(magnitude, sensitivity_sum, reach_spot,
                                                       reach_vol, static_cast<unsigned>(count));
    ASSERT_TRUE(std::isfinite(bound));
    std::vector<double> l(n), block_max((n + 15) / 16);
    std::vector<float> l_f(n), block_max_f(block_max.size());
    cpu::delta_gamma_losses(l.data(), n, terms.data(), count, block_max.data());
    cpu::delta_gamma_losses_float(l_f.data(), n, terms_f.data(), count, block_max_f.data());
    double worst = 0;
    for (std::size_t s = 0; s < n; ++s) {
      float plain = 0.0f;
      for (std::size_t j = 0; j < count; ++j)
        plain -= delta_gamma_term(terms_f[j].greeks, ds_f[j][s], dv_f[j][s]);
      ASSERT_EQ(l_f[s], plain) << "s " << s;
      ASSERT_LE(std::fabs(l_f[s] - l[s]), bound) << "scale " << scale << " s " << s;
      worst = std::fmax(worst, std::fabs(l_f[s] - l[s]) / bound);
    }
    // The bound is not vacuous: the errors reach a visible share of it.
    EXPECT_GT(worst, 1e-4) << "scale " << scale;
  }
}

// The float thresholds decide exactly as the double formulas on the widened loss: for losses at,
// just below and just above each boundary (a loss with E - L exactly MM, and its neighbouring
// floats), for equities and margins of every magnitude, a zero and a wide band, and numbers beyond
// float's range (no starting guess).
TEST(delta_gamma_float, breach_thresholds_decide_as_the_double_formulas) {
  std::mt19937_64 rng(6);
  std::uniform_real_distribution<double> unit(-1.0, 1.0);
  int cases = 0;
  for (int trial = 0; trial < 3000; ++trial) {
    const double scale = std::pow(10.0, std::floor(12 * (unit(rng) + 1)) - 6);  // 1e-6 .. 1e18
    double equity = scale * unit(rng), maintenance = scale * std::fabs(unit(rng));
    if (trial % 3 == 0) {  // a float loss with E - L == MM exactly
      const float l = static_cast<float>(scale * unit(rng));
      maintenance = static_cast<double>(static_cast<float>(maintenance));
      equity = static_cast<double>(l) + maintenance;
    }
    if (trial == 1) equity = 1e300;  // beyond float's range: every loss is far below
    const double band = trial % 2 ? 0.0 : scale * 1e-6 * std::fabs(unit(rng));
    const cpu::float_breach_thresholds t = cpu::breach_thresholds(equity, maintenance, band);
    std::vector<float> probes = {-INFINITY, INFINITY, 0.0f, -0.0f,
                                 std::numeric_limits<float>::max()};
    for (double centre :
         {equity - maintenance, equity - maintenance - band, equity - maintenance + band}) {
      if (!(std::fabs(centre) < 3e38)) continue;
      float x = static_cast<float>(centre);
      for (int i = 0; i < 4; ++i) x = std::nextafter(x, -INFINITY);
      for (int i = 0; i < 9; ++i, x = std::nextafter(x, INFINITY)) probes.push_back(x);
    }
    for (float x : probes) {
      const double wide = static_cast<double>(x);
      ASSERT_EQ(x >= t.breach_from, breaches_maintenance(equity, wide, maintenance))
          << "E " << equity << " MM " << maintenance << " x " << x;
      ASSERT_EQ(x >= t.near_low && x <= t.near_high,
                cpu::near_breach(equity, wide, maintenance, band))
          << "E " << equity << " MM " << maintenance << " band " << band << " x " << x;
      ++cases;
    }
  }
  EXPECT_GT(cases, 30000);
}

// The adversarial book: underlyings A and B almost perfectly correlated, C and D independent;
// spots, a perpetual and options on each.
void write_adversarial_book(const std::filesystem::path& dir, int accounts) {
  test::write_file(dir / "instruments.csv",
                   "instrument_id,kind,underlying,strike,expiry,option_type,multiplier\n"
                   "A-SPOT,spot,A,,,,1\nB-SPOT,spot,B,,,,1\nC-SPOT,spot,C,,,,1\n"
                   "D-PERP,perpetual,D,,,,1\n"
                   "A-C,option,A,100,2026-12-25T08:00:00Z,call,1\n"
                   "B-P,option,B,95,2026-12-25T08:00:00Z,put,1\n"
                   "C-C,option,C,2100,2026-12-25T08:00:00Z,call,1\n");
  test::write_file(dir / "market.json", R"({
  "as_of": "2026-11-24T08:00:00Z", "rate": 0.04,
  "underlyings": [
    {"symbol": "A", "spot": 100.0, "vol": 0.5},
    {"symbol": "B", "spot": 100.0, "vol": 0.5},
    {"symbol": "C", "spot": 2000.0, "vol": 0.7},
    {"symbol": "D", "spot": 30.0, "vol": 0.9, "funding_rate": 0.0001}
  ],
  "correlation": [[1, 0.9999999, 0, 0], [0.9999999, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]]
})");
  test::write_file(dir / "risk.json", R"({"confidence": 0.99, "horizon_days": 1, "scenarios": 4000,
  "seed": 7, "method": "delta_gamma", "margin_measure": "var", "min_margin_rate": 0.0,
  "maintenance_ratio": 0.6, "preemptive_threshold": 0.25,
  "tiers": {"standard": {"im_multiplier": 1.0, "credit_limit": 0.0}}})");
  std::mt19937_64 rng(9);
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  std::ostringstream acc, pos;
  acc.precision(17);
  pos.precision(17);
  acc << "account_id,collateral,tier\n";
  pos << "account_id,instrument_id,quantity,entry_price\n";
  for (int a = 0; a < accounts; ++a) {
    const std::string id = "a" + std::to_string(a);
    acc << id << "," << 1e4 * (1 + u(rng)) << ",standard\n";
    switch (a % 4) {
      case 0:  // +1e6 / -1e6 on A and B: the net is ~1e-3 of each term
        pos << id << ",A-SPOT," << 1e6 * (1 + 1e-3 * u(rng)) << ",\n";
        pos << id << ",B-SPOT," << -1e6 << ",\n";
        break;
      case 1:  // the same through options, with a small independent exposure
        pos << id << ",A-C," << 2e6 << ",\n" << id << ",B-P," << 2e6 << ",\n";
        pos << id << ",A-SPOT," << -2e6 << ",\n" << id << ",C-SPOT," << 3 * u(rng) << ",\n";
        break;
      case 2:  // many exposures of mixed sign
        pos << id << ",A-SPOT," << 50 * u(rng) << ",\n" << id << ",B-SPOT," << 50 * u(rng) << ",\n";
        pos << id << ",C-SPOT," << 5 * u(rng) << ",\n"
            << id << ",D-PERP," << 500 * u(rng) << ",30\n";
        pos << id << ",A-C," << 100 * u(rng) << ",\n" << id << ",C-C," << 10 * u(rng) << ",\n";
        break;
      default:  // an ordinary account
        pos << id << ",C-SPOT," << 10 * u(rng) << ",\n"
            << id << ",D-PERP," << 300 * u(rng) << ",30\n";
    }
  }
  test::write_file(dir / "accounts.csv", acc.str());
  test::write_file(dir / "positions.csv", pos.str());
}

// Account a's losses in double, from the backend's sensitivities and the run's scenario set.
std::vector<double> double_losses(const book& b, const revaluation& r, const scenario_set& set,
                                  const market_state& market, std::size_t a) {
  const std::size_t n = static_cast<std::size_t>(set.count);
  std::vector<double> l(n, 0.0);
  for (std::uint64_t x = b.account_exposure_begin[a]; x < b.account_exposure_begin[a + 1]; ++x) {
    const std::size_t u = b.exposure_underlying[x];
    const exposure_sensitivity e = make_exposure_sensitivity(
        r.exposure_delta[x], r.exposure_gamma[x], r.exposure_vol_exposure[x], r.exposure_decay[x]);
    for (std::size_t s = 0; s < n; ++s)
      l[s] -= delta_gamma_term(e, set.spot[u * n + s] - market.spot[u],
                               relative_vol_move(set.vol_shock[u * n + s], set.vol_drift));
  }
  return l;
}

struct reference {
  double var, es;
  margin_levels m;
  std::int64_t breaches;
  account_status status;
};

reference reference_of(const std::vector<double>& l, std::int64_t k, double equity,
                       const revaluation& r, std::size_t a, const risk_params& p) {
  tail_selector selector;
  const tail_statistics t = selector.select(l.data(), l.size(), static_cast<std::size_t>(k));
  const margin_rule rule{p.min_margin_rate, p.maintenance_ratio, 1.0};
  const margin_levels m = account_margins(t.var, t.es, false, r.account_floor_notional[a],
                                          r.account_liquidity_addon[a], rule);
  std::int64_t breaches = 0;
  for (double x : l) breaches += breaches_maintenance(equity, x, m.maintenance) ? 1 : 0;
  return reference{t.var, t.es, m, breaches, margin_status(equity, m)};
}

TEST(delta_gamma_float, adversarial_accounts_agree_with_double_by_the_stated_rule) {
  const test::temp_dir dir;
  const int accounts = 64;
  write_adversarial_book(dir.path(), accounts);
  book_location where;
  where.book = dir.path();
  book_inputs in = load_book_at(where);
  const std::size_t n_acc = in.positions.accounts();

  // First run: where the thresholds are. Then equity is moved (through collateral, which changes
  // neither VaR nor margins) onto them: exactly at a scenario's breach threshold E - L = MM for
  // the first half of the ordinary accounts, at MM or IM for the others.
  auto engine = make_cpu_backend(2);
  engine->load_book(in.positions, in.risk);
  test::outcome first = test::run_loaded(*engine, in);
  const scenario_set set = build_scenario_set(in.market, scenario_source{}, in.risk, 1);
  const std::int64_t k = tail_count(in.risk.confidence, set.count);
  for (std::size_t a = 0; a < n_acc; ++a) {
    if (a % 4 < 2) continue;
    const std::vector<double> l = double_losses(in.positions, first.reval, set, in.market, a);
    const reference ref =
        reference_of(l, k, first.reval.account_equity[a], first.reval, a, in.risk);
    double target;  // the equity wanted
    if (a % 8 == 2 || a % 8 == 3)
      target = ref.m.maintenance + l[(a * 37) % l.size()];  // E - L_s = MM
    else if (a % 8 == 6)
      target = ref.m.maintenance;
    else
      target = ref.m.initial;
    in.positions.collateral[a] += target - first.reval.account_equity[a];
  }
  engine->load_book(in.positions, in.risk);
  const test::outcome got = test::run_loaded(*engine, in);

  int cancelling = 0;
  for (std::size_t a = 0; a < n_acc; ++a) {
    const double equity = got.reval.account_equity[a];
    const std::vector<double> l = double_losses(in.positions, got.reval, set, in.market, a);
    const reference ref = reference_of(l, k, equity, got.reval, a, in.risk);
    const double tol = cpu::float_relative_tolerance * 1.0000001;
    SCOPED_TRACE("account " + std::to_string(a));
    EXPECT_LE(std::fabs(got.risk.var[a] - ref.var), tol * std::fabs(ref.var));
    EXPECT_LE(std::fabs(got.risk.es[a] - ref.es), tol * std::fabs(ref.es));
    EXPECT_LE(std::fabs(got.risk.initial_margin[a] - ref.m.initial),
              tol * std::fabs(ref.m.initial));
    EXPECT_LE(std::fabs(got.risk.maintenance_margin[a] - ref.m.maintenance),
              tol * std::fabs(ref.m.maintenance));
    // The rule: breach counts, statuses and flags are double's.
    EXPECT_EQ(got.risk.breach_probability[a],
              static_cast<double>(ref.breaches) / static_cast<double>(set.count));
    EXPECT_EQ(got.risk.status[a], ref.status);
    if (a % 4 < 2) {
      // Cancellation is real here: each term is at least 100 times the VaR.
      double gross = 0;
      for (std::uint64_t x = in.positions.account_exposure_begin[a];
           x < in.positions.account_exposure_begin[a + 1]; ++x)
        gross += std::fabs(got.reval.exposure_delta[x]);
      cancelling += gross * 1.0 > 100 * std::fabs(ref.var) ? 1 : 0;
    }
  }
  EXPECT_GE(cancelling, accounts / 4);
}

}  // namespace
}  // namespace msync
