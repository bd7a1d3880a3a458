// The margin pipeline of every backend against independent recomputations:
// - a brute-force reference that revalues every position in every scenario on its own (no
//   instrument table), sorts each account's losses fully and applies docs/design.md section 3's
//   rules written out here in plain arithmetic;
// - closed forms: the lognormal VaR and ES of a single linear position;
// - hand calculations on the sample book with a four-scenario file.
// Each test runs once per backend built in; CUDA cases skip where no device (or no CUDA
// implementation) is available.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "backend_cases.hpp"
#include "margin/margin_job.hpp"
#include "marginsync/backend.hpp"
#include "marginsync/errors.hpp"
#include "marginsync/instrument_inputs.hpp"
#include "marginsync/scenario.hpp"
#include "marginsync/valuation.hpp"
#include "marginsync/vol_surface.hpp"
#include "test_support.hpp"

namespace msync {
namespace {

using test::temp_dir;
using test::write_file;

struct reference_account {
  std::vector<double> loss;  // per scenario
  double own_funds = 0.0, equity = 0.0, gross = 0.0, floor = 0.0, addon = 0.0;
};

// The scenarios [u][s]: shocked spot and vol shock x (docs/design.md 3.6), built one scenario at
// a time from the include/ generator (whose statistics test_scenario.cpp checks) or from a file.
struct reference_set {
  std::vector<std::vector<double>> spot, shock;
  double drift = 0.0;       // xi^2 h / 2 for Monte Carlo, 0 for a file
  bool term_scaled = true;  // a file's vol changes apply to every expiry as given
};
reference_set reference_scenarios(const book_inputs& in, const scenario_file_data* file,
                                  std::int64_t n) {
  const market_state& m = in.market;
  const std::size_t U = m.size();
  reference_set r;
  r.spot.assign(U, std::vector<double>(n));
  r.shock.assign(U, std::vector<double>(n));
  const double h = in.risk.horizon_days / 365.0;
  r.drift = file ? 0.0 : 0.5 * in.risk.vol_of_vol * in.risk.vol_of_vol * h;
  r.term_scaled = file == nullptr;
  std::vector<double> eps(U), eta(U), s_out(U), v_out(U);
  const monte_carlo_inputs mc{
      m.spot.data(),
      m.vol.data(),
      m.cholesky.data(),
      static_cast<std::uint32_t>(U),
      h,
      in.risk.vol_of_vol,
      in.risk.spot_vol_correlation,
      scenario_draw_params{in.risk.seed, in.risk.distribution, in.risk.degrees_of_freedom}};
  for (std::int64_t s = 0; s < n; ++s) {
    if (file) {
      for (std::size_t u = 0; u < U; ++u) {
        s_out[u] = m.spot[u] * std::exp(file->spot_return[s * U + u]);
        v_out[u] = std::log(1.0 + file->vol_change[s * U + u]);
      }
    } else {
      monte_carlo_scenario(mc, static_cast<std::uint64_t>(s), eps.data(), eta.data(), s_out.data(),
                           v_out.data(), 1);
    }
    for (std::size_t u = 0; u < U; ++u) {
      r.spot[u][s] = s_out[u];
      r.shock[u][s] = v_out[u];
    }
  }
  return r;
}

double mark_of(const std::vector<double>& marks, std::size_t i) {
  return i < marks.size() ? marks[i] : NAN;
}

// Every position of every account revalued in every scenario, one at a time, with docs/design.md
// section 3's rules written out here: settlement, marks, each option's vol and its tenor-scaled
// shock, funding over the horizon, the notional floor and the liquidity add-on. Option prices and
// deltas come from black_scholes.hpp (checked against published values in test_black_scholes.cpp)
// and an option's vol from option_vol (checked against SVI by hand in test_vol_surface.cpp).
std::vector<reference_account> reference_losses(const book_inputs& in,
                                                const scenario_file_data* file, std::int64_t n) {
  const reference_set set = reference_scenarios(in, file, n);
  const market_state& m = in.market;
  const book& b = in.positions;
  const risk_params& rp = in.risk;
  const double h = rp.horizon_days / 365.0;
  std::vector<reference_account> out(b.accounts());
  for (std::size_t a = 0; a < b.accounts(); ++a) {
    reference_account& r = out[a];
    r.loss.assign(n, 0.0);
    r.own_funds = b.collateral[a];
    std::vector<double> delta(m.size(), 0.0);
    std::vector<std::uint8_t> held(m.size(), 0);
    for (std::uint64_t p = b.account_position_begin[a]; p < b.account_position_begin[a + 1]; ++p) {
      const std::uint32_t i = b.position_instrument[p];
      const std::uint32_t u = b.instruments.underlying[i];
      const instrument_kind kind = b.instruments.kind[i];
      const double K = b.instruments.strike[i], mult = b.instruments.multiplier[i];
      const bool call = b.instruments.is_call[i] != 0;
      const double q = b.position_quantity[p], cost = b.position_cost[p];
      const double S = m.spot[u], carry = m.carry(u);
      const double t =
          static_cast<double>(b.instruments.expiry_ns[i] - m.as_of_ns) / 1e9 / 31536000.0;
      const bool dated = kind == instrument_kind::future || kind == instrument_kind::option;
      const bool settled = dated && t <= 0.0;
      held[u] = 1;
      r.gross += std::fabs(q * mult * S);
      if (!settled && !(kind == instrument_kind::option && q > 0))
        r.floor += std::fabs(q * mult * S);
      if (settled) {
        const double price =
            std::isnan(mark_of(m.settlement_price, i)) ? S : mark_of(m.settlement_price, i);
        const double unit =
            kind == instrument_kind::future ? price : std::max(call ? price - K : K - price, 0.0);
        r.own_funds += q * mult * unit - (kind == instrument_kind::future ? mult * cost : 0.0);
        continue;  // no scenario moves it, no delta
      }
      double now = 0.0, unit_delta = 0.0;
      std::vector<double> later(n);
      if (kind == instrument_kind::spot || kind == instrument_kind::perpetual) {
        now = mult * S;
        unit_delta = mult;
        // Funding paid over the horizon (3 periods a day), a loss for longs at a positive rate.
        const double funding = kind == instrument_kind::perpetual
                                   ? mult * S * m.funding_rate[u] * 3 * rp.horizon_days
                                   : 0.0;
        for (std::int64_t s = 0; s < n; ++s) later[s] = mult * set.spot[u][s] - funding;
      } else if (kind == instrument_kind::future) {
        const double mark = mark_of(m.mark_price, i);
        if (!std::isnan(mark)) {
          now = mult * mark;
          unit_delta = mult * mark / S;
          for (std::int64_t s = 0; s < n; ++s)
            later[s] = mult * (t - h > 0 ? mark / S * set.spot[u][s] : set.spot[u][s]);
        } else {
          now = mult * S * std::exp(carry * t);
          unit_delta = mult * std::exp(carry * t);
          for (std::int64_t s = 0; s < n; ++s)
            later[s] =
                mult * (t - h > 0 ? set.spot[u][s] * std::exp(carry * (t - h)) : set.spot[u][s]);
        }
      } else {
        const double vol = option_vol(b.instruments, i, m, t);
        const double g = set.term_scaled
                             ? std::pow(rp.vol_term_reference_days / std::max(t * 365.0, 1.0),
                                        rp.vol_term_exponent)
                             : 1.0;
        now = mult * bsm_value(call, S, K, t, m.rate, carry, vol);
        unit_delta = mult * bsm_greeks(call, S, K, t, m.rate, carry, vol).delta;
        for (std::int64_t s = 0; s < n; ++s)
          later[s] = mult * bsm_value(call, set.spot[u][s], K, t - h, m.rate, carry,
                                      vol * std::exp(g * set.shock[u][s] - g * g * set.drift));
      }
      r.own_funds +=
          q * now -
          (kind == instrument_kind::spot || kind == instrument_kind::option ? 0.0 : mult * cost);
      delta[u] += q * unit_delta;
      for (std::int64_t s = 0; s < n; ++s) r.loss[s] -= q * (later[s] - now);
    }
    r.equity = r.own_funds + rp.tiers[b.account_tier[a]].credit_limit;
    // (2/3) Y sigma_daily sqrt(N / V) N per exposure, N = |delta S|.
    for (std::size_t u = 0; u < m.size(); ++u) {
      if (!held[u] || !rp.liquidity_addon) continue;
      const double notional = std::fabs(delta[u] * m.spot[u]);
      r.addon += 2.0 / 3.0 * rp.impact_coefficient_of(u) * m.vol[u] / std::sqrt(365.0) *
                 std::sqrt(notional / rp.daily_volume_of(u)) * notional;
    }
  }
  return out;
}

struct tail {
  double var, es;
};
tail sorted_tail(std::vector<double> losses, double confidence) {
  std::sort(losses.begin(), losses.end(), std::greater<double>());
  const double n = static_cast<double>(losses.size());
  const std::size_t k =
      std::max<std::size_t>(1, static_cast<std::size_t>(std::ceil((1.0 - confidence) * n - 1e-9)));
  return tail{losses[k - 1],
              std::accumulate(losses.begin(), losses.begin() + k, 0.0) / static_cast<double>(k)};
}

void expect_close(double actual, double expected, double rel, const std::string& what) {
  EXPECT_NEAR(actual, expected, rel * std::max(1.0, std::fabs(expected))) << what;
}

class margin_engine : public test::each_backend {
 protected:
  void SetUp() override {
    test::each_backend::SetUp();
    if (!IsSkipped()) engine_ = make();
  }

  using outcome = test::outcome;
  outcome run(book_inputs& in, const scenario_file_data* file = nullptr) {
    return test::run_on(*engine_, in, file);
  }

  // Compares every account output with the brute-force reference.
  void check_against_reference(const book_inputs& in, const outcome& o,
                               const scenario_file_data* file) {
    const std::int64_t n = file ? static_cast<std::int64_t>(file->count()) : in.risk.scenarios;
    ASSERT_EQ(o.risk.scenarios, n);
    const auto ref = reference_losses(in, file, n);
    const risk_params& rp = in.risk;
    std::vector<double> bad(n, 0.0);
    for (std::size_t a = 0; a < ref.size(); ++a) {
      const std::string id(in.positions.account_id[a]);
      std::vector<double> losses = ref[a].loss;
      if (rp.method == risk_method::delta_gamma) {
        // delta-gamma losses from the backend's own exposures are checked separately; here the
        // reference is the full revaluation.
        FAIL() << "check_against_reference is for method full";
      }
      const tail t = sorted_tail(losses, rp.confidence);
      const double measure = rp.measure == margin_measure::var ? t.var : t.es;
      const double im = std::max({measure, rp.min_margin_rate * ref[a].floor, 0.0}) *
                            rp.tiers[in.positions.account_tier[a]].im_multiplier +
                        ref[a].addon;
      const double mm = rp.maintenance_ratio * im;
      const double e = ref[a].equity;
      std::int64_t breaches = 0;
      for (std::int64_t s = 0; s < n; ++s) {
        breaches += (e - losses[s] < mm) ? 1 : 0;
        bad[s] += std::max(0.0, losses[s] - ref[a].own_funds);
      }
      const char* status = e < mm ? "liquidate" : e < im ? "margin_call" : "ok";
      expect_close(o.reval.account_equity[a], e, 1e-12, id + " equity");
      expect_close(o.reval.account_own_funds[a], ref[a].own_funds, 1e-12, id + " own funds");
      expect_close(o.reval.account_gross_notional[a], ref[a].gross, 1e-12, id + " gross");
      expect_close(o.reval.account_floor_notional[a], ref[a].floor, 1e-12, id + " floor");
      expect_close(o.reval.account_liquidity_addon[a], ref[a].addon, 1e-9, id + " add-on");
      expect_close(o.risk.var[a], t.var, 1e-9, id + " var");
      expect_close(o.risk.es[a], t.es, 1e-9, id + " es");
      expect_close(o.risk.initial_margin[a], im, 1e-9, id + " im");
      expect_close(o.risk.maintenance_margin[a], mm, 1e-9, id + " mm");
      EXPECT_EQ(o.risk.breach_probability[a],
                static_cast<double>(breaches) / static_cast<double>(n))
          << id;
      EXPECT_STREQ(status_name(o.risk.status[a]), status) << id;
      const double health = mm == 0.0 ? (e >= 0 ? HUGE_VAL : 0.0) : e / mm;
      if (std::isinf(health))
        EXPECT_TRUE(std::isinf(o.risk.health[a])) << id;
      else
        expect_close(o.risk.health[a], health, 1e-9, id + " health");
      const bool preemptive =
          std::string(status) == "ok" &&
          static_cast<double>(breaches) / static_cast<double>(n) >= rp.preemptive_threshold;
      EXPECT_EQ(o.risk.preemptive[a] != 0, preemptive) << id;
    }
    std::vector<std::uint32_t> not_ok;
    for (std::size_t a = 0; a < ref.size(); ++a)
      if (o.risk.status[a] != account_status::ok) not_ok.push_back(static_cast<std::uint32_t>(a));
    EXPECT_EQ(o.risk.not_ok_accounts, not_ok);
    const tail bt = sorted_tail(bad, rp.confidence);
    expect_close(o.risk.bad_debt_mean,
                 std::accumulate(bad.begin(), bad.end(), 0.0) / static_cast<double>(n), 1e-9,
                 "E[B]");
    expect_close(o.risk.bad_debt_var, bt.var, 1e-9, "VaR(B)");
    expect_close(o.risk.bad_debt_es, bt.es, 1e-9, "ES(B)");
  }

  std::unique_ptr<backend> engine_;
};

book_inputs sample_inputs() {
  return load_book_inputs(book_paths::in_directory(test::sample_book()));
}

TEST_P(margin_engine, full_revaluation_matches_brute_force_reference) {
  book_inputs in = sample_inputs();
  in.risk.scenarios = 3000;
  in.risk.seed = 7;
  check_against_reference(in, run(in), nullptr);
}

TEST_P(margin_engine, expected_shortfall_margin_and_student_t_scenarios) {
  book_inputs in = sample_inputs();
  in.risk.scenarios = 2000;
  in.risk.measure = margin_measure::es;
  in.risk.distribution = shock_distribution::student_t;
  in.risk.degrees_of_freedom = 4.0;
  in.risk.confidence = 0.975;
  check_against_reference(in, run(in), nullptr);
}

// Sizes around a warp and the smallest possible run.
TEST_P(margin_engine, scenario_counts_around_32_and_one) {
  for (std::int64_t n : {1, 31, 32, 33}) {
    book_inputs in = sample_inputs();
    in.risk.scenarios = n;
    SCOPED_TRACE("scenarios " + std::to_string(n));
    check_against_reference(in, run(in), nullptr);
  }
}

// Four given scenarios, computed by hand for the linear accounts (confidence 0.5: k = 2).
TEST_P(margin_engine, hand_checked_sample_with_four_scenarios) {
  temp_dir dir;
  write_file(dir / "s.csv",
             "scenario_id,underlying,spot_return,vol_change\n"
             "down5,BTC,-0.05,0.2\ndown5,ETH,-0.06,0.2\n"
             "down2,BTC,-0.02,0.1\ndown2,ETH,-0.03,0.1\n"
             "up1,BTC,0.01,0\nup1,ETH,0.01,0\n"
             "up3,BTC,0.03,-0.1\nup3,ETH,0.04,-0.1\n");
  book_inputs in = sample_inputs();
  in.risk.confidence = 0.5;
  const scenario_file_data file = load_scenario_file(dir / "s.csv", in.market);
  const outcome o = run(in, &file);
  auto index = [&](const std::string& id) {
    return static_cast<std::size_t>(
        std::find(in.positions.account_id.begin(), in.positions.account_id.end(), id) -
        in.positions.account_id.begin());
  };

  // The liquidity add-on of an exposure of notional N (docs/design.md 3.5), Y = 1, V = 1e9.
  auto addon = [](double notional, double vol) {
    return 2.0 / 3.0 * vol / std::sqrt(365.0) * std::sqrt(notional / 1e9) * notional;
  };

  // leveraged_perp_long: 1.5 BTC-PERP at 90200 and 0.5 at 91600, collateral 3000, spot 91000. It
  // pays 1 day of funding at 0.0001 per 8 hours on 182000 in every scenario: 54.6.
  const std::size_t lev = index("leveraged_perp_long");
  EXPECT_DOUBLE_EQ(o.reval.account_equity[lev],
                   3000 + 1.5 * (91000 - 90200) + 0.5 * (91000 - 91600));
  EXPECT_DOUBLE_EQ(o.reval.account_gross_notional[lev], 2 * 91000.0);
  const double funding = 2 * 91000 * 0.0001 * 3;
  const double l_down5 = -2 * 91000 * std::expm1(-0.05) + funding,
               l_down2 = -2 * 91000 * std::expm1(-0.02) + funding;
  EXPECT_NEAR(o.risk.var[lev], l_down2, 1e-9);  // 2nd largest of 4
  EXPECT_NEAR(o.risk.es[lev], 0.5 * (l_down5 + l_down2), 1e-9);
  const double lev_im = l_down2 + addon(182000.0, 0.55);  // VaR 3658 > 1% of 182000
  EXPECT_NEAR(o.reval.account_liquidity_addon[lev], addon(182000.0, 0.55), 1e-9);
  EXPECT_NEAR(o.risk.initial_margin[lev], lev_im, 1e-9);
  EXPECT_NEAR(o.risk.maintenance_margin[lev], 0.6 * lev_im, 1e-9);
  EXPECT_EQ(o.risk.status[lev], account_status::ok);      // 3900 >= 3705.7
  EXPECT_DOUBLE_EQ(o.risk.breach_probability[lev], 0.5);  // down5 and down2 breach
  EXPECT_EQ(o.risk.preemptive[lev], 1);                   // 0.5 >= 0.25

  // hedged_basis: long 1 spot, short 1 perp at 91000: no price risk, and the short perp receives
  // funding, 27.3 in every scenario; no delta, so no add-on; the 1% floor.
  const std::size_t hedged = index("hedged_basis");
  EXPECT_DOUBLE_EQ(o.reval.account_equity[hedged], 1000 + 91000);
  EXPECT_NEAR(o.risk.var[hedged], -91000 * 0.0001 * 3, 1e-9);
  EXPECT_DOUBLE_EQ(o.risk.initial_margin[hedged], 0.01 * 182000);
  EXPECT_DOUBLE_EQ(o.risk.health[hedged], 92000 / (0.6 * 1820));

  // flat: no positions, no margin, infinite health.
  const std::size_t flat = index("flat");
  EXPECT_DOUBLE_EQ(o.reval.account_equity[flat], 5000);
  EXPECT_DOUBLE_EQ(o.risk.initial_margin[flat], 0.0);
  EXPECT_TRUE(std::isinf(o.risk.health[flat]));
  EXPECT_EQ(o.risk.status[flat], account_status::ok);

  // market_maker_eth_short: short 40 ETH-PERP at 3100, tier im_multiplier 0.5.
  const std::size_t mm = index("market_maker_eth_short");
  // The short receives funding, 40 * 3100 * 0.00005 * 3 = 18.6, in every scenario.
  const double received = 40 * 3100 * 0.00005 * 3;
  const double e_up4 = 40 * 3100 * std::expm1(0.04) - received,
               e_up1 = 40 * 3100 * std::expm1(0.01) - received;
  EXPECT_NEAR(o.risk.var[mm], e_up1, 1e-9);
  EXPECT_NEAR(o.risk.es[mm], 0.5 * (e_up4 + e_up1), 1e-9);
  EXPECT_NEAR(o.risk.initial_margin[mm],
              0.5 * std::max(e_up1, 0.01 * 124000) + addon(124000.0, 0.70), 1e-9);

  // protected_eth_long (tier vip: credit 10000, im x0.8): 20 ETH, 2 puts x10 on 3000, short 5 perp.
  const std::size_t eth = index("protected_eth_long");
  const double t = 31.0 / 365.0;  // 2026-11-24T08:00Z to 2026-12-25T08:00Z
  // The put is marked at its own implied vol (marks.csv mark_iv 0.72), not the underlying's 0.70.
  const double put = bsm_value(false, 3100, 3000, t, 0.04, 0.04, 0.72);
  EXPECT_NEAR(o.reval.account_equity[eth],
              2000 + 10000 + 20 * 3100 + 2 * 10 * put - 5 * (3100 - 3150), 1e-9);
  EXPECT_NEAR(o.reval.account_gross_notional[eth], (20 + 20 + 5) * 3100.0, 1e-9);

  check_against_reference(in, o, &file);
}

// docs/design.md section 3 for one long spot position: L = qS(1 - e^X), X ~ N(-s^2/2, s^2), s =
// sigma sqrt(h). VaR at confidence c is qS(1 - exp(-s^2/2 + s z_{1-c})); ES is qS(1 - Phi(z_{1-c} -
// s) / (1-c)).
TEST_P(margin_engine, var_and_es_of_a_linear_position_match_the_lognormal_closed_form) {
  temp_dir dir;
  write_file(dir / "instruments.csv", "instrument_id,kind,underlying\nX,spot,XYZ\n");
  write_file(dir / "accounts.csv", "account_id,collateral\na,0\n");
  write_file(dir / "positions.csv", "account_id,instrument_id,quantity\na,X,3\n");
  write_file(dir / "market.json",
             "{\"as_of\": \"2026-11-24T08:00:00Z\", \"underlyings\": [{\"symbol\": \"XYZ\", "
             "\"spot\": 100, \"vol\": 0.8}]}");
  write_file(dir / "risk.json", "{\"scenarios\": 400000, \"confidence\": 0.99, \"seed\": 11}");
  book_inputs in = load_book_inputs(book_paths::in_directory(dir.path()));
  const outcome o = run(in);
  const double s = 0.8 * std::sqrt(1.0 / 365.0), z = -2.3263478740408408, q_s = 300.0;
  const double var = q_s * (1.0 - std::exp(-0.5 * s * s + s * z));
  const double es = q_s * (1.0 - 0.5 * std::erfc(-(z - s) / std::sqrt(2.0)) / 0.01);
  // Standard error of the 99% order statistic in z units: sqrt(p(1-p)/N) / phi(z_p) = 0.0042;
  // dVaR/dz ~ q S s; allow 5 standard errors. ES's error is of the same order.
  const double tol = 5 * std::sqrt(0.01 * 0.99 / 400000.0) / 0.026652 * q_s * s;
  EXPECT_NEAR(o.risk.var[0], var, tol);
  EXPECT_NEAR(o.risk.es[0], es, 1.5 * tol);
  EXPECT_GT(o.risk.es[0], o.risk.var[0]);
}

// A book with one account for each rule of the model (docs/design.md section 3): a credit line
// whose own funds are negative, instruments that expired before as_of, long options only, options
// on a skewed SVI surface and with their own mark_iv, a marked future, a whale perpetual. Marks
// and the surface are set on the market directly (their loaders have their own tests).
book_inputs model_book(const temp_dir& dir) {
  write_file(dir / "instruments.csv",
             "instrument_id,kind,underlying,strike,expiry,option_type,multiplier\n"
             "BTC-PERP,perpetual,BTC,,,,1\n"
             "BTC-OLD-C,option,BTC,85000,2026-11-23T08:00:00Z,call,1\n"
             "BTC-OLD-F,future,BTC,,2026-11-20T08:00:00Z,,1\n"
             "BTC-1H-C,option,BTC,91000,2026-11-24T09:00:00Z,call,1\n"
             "BTC-W-130C,option,BTC,130000,2026-12-01T08:00:00Z,call,1\n"
             "BTC-M-80P,option,BTC,80000,2026-12-25T08:00:00Z,put,1\n"
             "BTC-M-100C,option,BTC,100000,2026-12-25T08:00:00Z,call,1\n"
             "BTC-Q-F,future,BTC,,2027-03-26T08:00:00Z,,1\n"
             "ETH-PERP,perpetual,ETH,,,,1\n");
  write_file(dir / "accounts.csv",
             "account_id,collateral,tier\n"
             "vip_in_debt,-20000,vip\n"
             "expired_only,1000,standard\n"
             "long_options_only,0,standard\n"
             "skew_seller,60000,standard\n"
             "marked_basis,5000,standard\n"
             "whale_perp,40000000,standard\n");
  write_file(dir / "positions.csv",
             "account_id,instrument_id,quantity,entry_price\n"
             "vip_in_debt,BTC-PERP,2,97000\n"
             "expired_only,BTC-OLD-C,3,\n"
             "expired_only,BTC-OLD-F,-2,88000\n"
             "long_options_only,BTC-W-130C,10,\n"
             "long_options_only,BTC-1H-C,10,\n"
             "skew_seller,BTC-M-80P,-10,\n"
             "skew_seller,BTC-M-100C,-5,\n"
             "marked_basis,BTC-Q-F,1,92000\n"
             "marked_basis,BTC-PERP,-1,91000\n"
             "whale_perp,ETH-PERP,-40000,3100\n");
  write_file(dir / "market.json",
             R"({"as_of": "2026-11-24T08:00:00Z", "rate": 0.04, "underlyings": [
  {"symbol": "BTC", "spot": 91000, "vol": 0.55, "funding_rate": 0.0001},
  {"symbol": "ETH", "spot": 3100, "vol": 0.7, "funding_rate": 0.0002}],
  "correlation": [[1, 0.8], [0.8, 1]]})");
  write_file(dir / "risk.json",
             R"({"scenarios": 2000, "seed": 5, "tiers": {"standard": {}, "vip":
  {"im_multiplier": 0.8, "credit_limit": 20000}}, "daily_volume": 2e9})");
  book_inputs in = load_book_inputs(book_paths::in_directory(dir.path()));
  const std::int64_t day = 86'400'000'000'000;
  in.market.surface = {{svi_slice{in.market.as_of_ns + 7 * day, 0.002, 0.02, -0.5, 0.02, 0.05},
                        svi_slice{in.market.as_of_ns + 31 * day, 0.01, 0.08, -0.4, 0.05, 0.1}},
                       {}};
  const std::size_t n = in.positions.instruments.size();
  in.market.mark_iv.assign(n, NAN);
  in.market.mark_price.assign(n, NAN);
  in.market.settlement_price.assign(n, NAN);
  auto at = [&](const char* id) {
    const auto& ids = in.positions.instruments.id;
    return static_cast<std::size_t>(std::find(ids.begin(), ids.end(), id) - ids.begin());
  };
  in.market.settlement_price[at("BTC-OLD-C")] = 89000.0;  // the future settles at spot instead
  in.market.mark_iv[at("BTC-M-100C")] = 0.62;
  in.market.mark_price[at("BTC-Q-F")] = 93500.0;
  return in;
}

TEST_P(margin_engine, every_rule_of_the_model_matches_the_reference) {
  temp_dir dir;
  book_inputs in = model_book(dir);
  check_against_reference(in, run(in), nullptr);
  // Tenor-scaled vol shocks (the reference computes g by hand).
  in.risk.vol_term_exponent = 0.5;
  const outcome o = run(in);
  check_against_reference(in, o, nullptr);

  auto index = [&](const std::string& id) {
    const auto& ids = in.positions.account_id;
    return static_cast<std::size_t>(std::find(ids.begin(), ids.end(), id) - ids.begin());
  };
  // Expired: value fixed (3 calls at 89000 - 85000; short 2 futures settled at spot 91000 against
  // 88000), nothing at risk, no margin.
  const std::size_t expired = index("expired_only");
  EXPECT_DOUBLE_EQ(o.reval.account_equity[expired], 1000 + 3 * 4000.0 - 2 * (91000 - 88000.0));
  EXPECT_EQ(o.risk.var[expired], 0.0);
  EXPECT_EQ(o.risk.initial_margin[expired], 0.0);
  // Long options only: the most they can lose is their value, and no notional floor applies.
  const std::size_t longs = index("long_options_only");
  EXPECT_LE(o.risk.var[longs], o.reval.account_equity[longs] + 1e-9);
  EXPECT_EQ(o.reval.account_floor_notional[longs], 0.0);
  EXPECT_GT(o.reval.account_gross_notional[longs], 0.0);
  EXPECT_LE(o.risk.initial_margin[longs],
            o.reval.account_equity[longs] + o.reval.account_liquidity_addon[longs] + 1e-9);
  // The credit line: equity positive, own funds negative; bad debt is measured on own funds.
  const std::size_t vip = index("vip_in_debt");
  EXPECT_DOUBLE_EQ(o.reval.account_own_funds[vip], -20000 + 2 * (91000 - 97000.0));
  EXPECT_DOUBLE_EQ(o.reval.account_equity[vip], o.reval.account_own_funds[vip] + 20000);
  EXPECT_GE(o.risk.bad_debt_mean, 0.0);
  // The whale pays for its size: 124,000,000 of ETH against 2e9 a day.
  const std::size_t whale = index("whale_perp");
  const double n_whale = 40000 * 3100.0;
  EXPECT_NEAR(o.reval.account_liquidity_addon[whale],
              2.0 / 3.0 * 0.7 / std::sqrt(365.0) * std::sqrt(n_whale / 2e9) * n_whale,
              1e-9 * n_whale);
}

TEST_P(margin_engine, delta_gamma_is_close_to_full_for_small_moves) {
  temp_dir dir;
  std::string csv = "scenario_id,underlying,spot_return,vol_change\n";
  for (int s = 0; s < 200; ++s) {
    const double r = 0.002 * std::sin(1.7 * s), v = 0.005 * std::cos(2.3 * s);
    csv += "s" + std::to_string(s) + ",BTC," + std::to_string(r) + "," + std::to_string(v) + "\n";
    csv += "s" + std::to_string(s) + ",ETH," + std::to_string(0.8 * r) + "," + std::to_string(v) +
           "\n";
  }
  write_file(dir / "s.csv", csv);
  book_inputs in = sample_inputs();
  const scenario_file_data file = load_scenario_file(dir / "s.csv", in.market);
  in.risk.method = risk_method::full;
  const outcome full = run(in, &file);
  in.risk.method = risk_method::delta_gamma;
  const outcome dg = run(in, &file);
  for (std::size_t a = 0; a < in.positions.accounts(); ++a) {
    // Third-order and cross (spot x vol, spot x time) terms of 0.2% and 0.5% moves: under 2% of
    // VaR, or a millionth of the notional where VaR itself is tiny (ten deep out-of-the-money
    // weekly calls worth 4.31: their charm and volga are large next to a VaR of 3.3, 0.4 in all).
    const double slack = 1e-6 * full.reval.account_gross_notional[a] + 1e-6;
    EXPECT_NEAR(dg.risk.var[a], full.risk.var[a], 0.02 * std::fabs(full.risk.var[a]) + slack)
        << in.positions.account_id[a];
    EXPECT_NEAR(dg.risk.es[a], full.risk.es[a], 0.02 * std::fabs(full.risk.es[a]) + slack)
        << in.positions.account_id[a];
  }
}

// delta_gamma against its own formula, L = -sum_u (D dS + G dS^2 / 2 + V~ dsigma/sigma + decay),
// from the exposures the backend reported (a file's vol change is the relative move itself).
TEST_P(margin_engine, delta_gamma_losses_follow_the_formula) {
  temp_dir dir;
  write_file(dir / "s.csv",
             "scenario_id,underlying,spot_return,vol_change\n"
             "a,BTC,-0.1,0.3\na,ETH,-0.12,0.25\nb,BTC,0.05,-0.1\nb,ETH,0.02,0\n");
  book_inputs in = sample_inputs();
  in.risk.method = risk_method::delta_gamma;
  in.risk.confidence = 0.6;  // k = ceil(0.8) = 1: VaR = ES = the larger loss
  const scenario_file_data file = load_scenario_file(dir / "s.csv", in.market);
  const outcome o = run(in, &file);
  const book& b = in.positions;
  for (std::size_t a = 0; a < b.accounts(); ++a) {
    double worst = -HUGE_VAL;
    for (std::size_t s = 0; s < 2; ++s) {
      double l = 0.0;
      for (std::uint64_t x = b.account_exposure_begin[a]; x < b.account_exposure_begin[a + 1];
           ++x) {
        const std::uint32_t u = b.exposure_underlying[x];
        const double ds = in.market.spot[u] * std::expm1(file.spot_return[s * 2 + u]);
        const double dv = file.vol_change[s * 2 + u];
        l -= o.reval.exposure_delta[x] * ds + 0.5 * o.reval.exposure_gamma[x] * ds * ds +
             o.reval.exposure_vol_exposure[x] * dv + o.reval.exposure_decay[x];
      }
      worst = std::max(worst, l);
    }
    // The CPU backend's delta_gamma losses are float: within 1e-5 relative (docs/design.md 3.7).
    expect_close(o.risk.var[a], worst, 1e-5, std::string(b.account_id[a]));
    expect_close(o.risk.es[a], worst, 1e-5, std::string(b.account_id[a]));
  }
}

TEST_P(margin_engine, same_inputs_give_identical_results) {
  book_inputs in = sample_inputs();
  in.risk.scenarios = 1500;
  const outcome a = run(in);
  const outcome b = run(in);
  EXPECT_EQ(a.risk.var, b.risk.var);
  EXPECT_EQ(a.risk.es, b.risk.es);
  EXPECT_EQ(a.risk.breach_probability, b.risk.breach_probability);
  EXPECT_EQ(a.risk.bad_debt_es, b.risk.bad_debt_es);
  in.risk.seed = 2;
  const outcome c = run(in);
  EXPECT_NE(a.risk.var, c.risk.var);
}

TEST_P(margin_engine, empty_book) {
  book_inputs in = load_book_inputs(book_paths::in_directory(test::sample_book()));
  in.positions = test::without_accounts(in.positions);
  in.risk.scenarios = 100;
  const outcome o = run(in);
  EXPECT_TRUE(o.risk.var.empty());
  EXPECT_EQ(o.risk.bad_debt_mean, 0.0);
  EXPECT_EQ(o.risk.bad_debt_var, 0.0);
}

// Numbers that are not finite never pass as healthy (docs/design.md 3.8): a market the loaders
// refuse (dividend yield -10000: the BTC option's value overflows) set directly, so the losses of
// the option account are NaN. Its status is `error`, its margins NaN; the other accounts are as
// before. Both tail paths: k small against the blocks of 16 (1000 scenarios) and large (k = N).
TEST_P(margin_engine, non_finite_numbers_give_status_error) {
  for (double confidence : {0.99, 0.01})
    for (risk_method method : {risk_method::full, risk_method::delta_gamma}) {
      SCOPED_TRACE(std::string("confidence ") + std::to_string(confidence) + " method " +
                   method_name(method));
      book_inputs in = sample_inputs();
      in.risk.scenarios = 1000;
      in.risk.confidence = confidence;
      in.risk.method = method;
      const outcome clean = run(in);
      in.market.dividend_yield[0] = -10000.0;  // BTC
      const outcome o = run(in);
      bool any_error = false;
      for (std::size_t a = 0; a < in.positions.accounts(); ++a) {
        const std::string id(in.positions.account_id[a]);
        const bool finite = std::isfinite(o.reval.account_equity[a]) &&
                            std::isfinite(o.risk.var[a]) && std::isfinite(o.risk.es[a]) &&
                            std::isfinite(o.risk.initial_margin[a]) &&
                            std::isfinite(o.risk.maintenance_margin[a]);
        if (!finite) {
          any_error = true;
          EXPECT_EQ(o.risk.status[a], account_status::error) << id;
          EXPECT_TRUE(std::isnan(o.risk.initial_margin[a])) << id;
          EXPECT_TRUE(std::find(o.risk.not_ok_accounts.begin(), o.risk.not_ok_accounts.end(), a) !=
                      o.risk.not_ok_accounts.end())
              << id;
        } else {
          EXPECT_NE(o.risk.status[a], account_status::error) << id;
        }
        if (id == "short_option_seller") {
          EXPECT_EQ(o.risk.status[a], account_status::error);
        }
        if (id == "leveraged_perp_long" || id == "market_maker_eth_short") {
          EXPECT_EQ(o.risk.status[a], clean.risk.status[a]) << id;  // no BTC option: unchanged
          EXPECT_EQ(o.risk.var[a], clean.risk.var[a]) << id;
        }
      }
      EXPECT_TRUE(any_error);
    }
}

MSYNC_FOR_EACH_BACKEND(margin_engine);

// Accounts in `error` are counted, kept out of the totals, and named (the first five) in the
// message that makes `margin` exit 1 (docs/design.md 4.4, 5.1).
TEST(margin_totals, accounts_in_error_are_counted_and_named) {
  margin_run run;
  revaluation reval;
  risk_result risk;
  run.reval = &reval;
  run.risk = &risk;
  const double nan = std::nan("");
  for (int a = 0; a < 8; ++a) {
    const bool error = a >= 1;  // seven accounts in error
    run.inputs.positions.account_id.push_back("acct" + std::to_string(a));
    reval.account_equity.push_back(error ? nan : 100.0);
    risk.initial_margin.push_back(error ? nan : 10.0);
    risk.maintenance_margin.push_back(error ? nan : 6.0);
    risk.status.push_back(error ? account_status::error : account_status::ok);
    risk.preemptive.push_back(0);
  }
  const margin_totals t = book_totals(run);
  EXPECT_EQ(t.ok, 1);
  EXPECT_EQ(t.error, 7);
  EXPECT_EQ(t.equity, 100.0);
  EXPECT_EQ(t.initial_margin, 10.0);
  EXPECT_EQ(error_accounts_message(run),
            "7 accounts have numbers that are not finite (status error): acct1, acct2, acct3, "
            "acct4, acct5, ...");
  for (int a = 2; a < 8; ++a) risk.status[a] = account_status::liquidate;
  EXPECT_EQ(error_accounts_message(run),
            "1 account has numbers that are not finite (status error): acct1");
  risk.status[1] = account_status::ok;
  EXPECT_EQ(error_accounts_message(run), "");
}

// A margin run holds its results once: what it reports is what its backend holds
// (held_revaluation, held_risk), kept alive with it, not a copy (docs/design.md 1.3).
TEST(margin_job, reports_the_results_its_backend_holds) {
  margin_request request;
  request.book.book = test::sample_book();
  request.backend = backend_choice::cpu;
  request.threads = 1;
  const margin_run run = run_margin(request, [](const std::string&) {});
  ASSERT_NE(run.engine, nullptr);
  EXPECT_EQ(run.reval, &run.engine->held_revaluation());
  EXPECT_EQ(run.risk, &run.engine->held_risk());
  EXPECT_EQ(run.reval->account_equity.size(), run.inputs.positions.accounts());
  EXPECT_EQ(run.risk->var.size(), run.inputs.positions.accounts());
}

// The CPU backend's results do not depend on its thread count (fixed-order sums).
TEST(cpu_backend, thread_count_does_not_change_a_bit) {
  book_inputs in = sample_inputs();
  in.risk.scenarios = 2000;
  std::vector<risk_result> results;
  for (int threads : {1, 2, 3}) {
    auto engine = make_cpu_backend(threads);
    results.push_back(test::run_on(*engine, in).risk);
  }
  for (std::size_t i = 1; i < results.size(); ++i) {
    EXPECT_EQ(results[i].var, results[0].var);
    EXPECT_EQ(results[i].es, results[0].es);
    EXPECT_EQ(results[i].bad_debt_mean, results[0].bad_debt_mean);
    EXPECT_EQ(results[i].bad_debt_es, results[0].bad_debt_es);
  }
}

}  // namespace
}  // namespace msync

namespace msync {
namespace {

// A book whose instrument P&L table exceeds the budget is priced position by position: the same
// numbers, bit for bit.
TEST(cpu_backend, on_the_fly_pricing_equals_the_pnl_table) {
  book_inputs in = load_book_inputs(book_paths::in_directory(test::sample_book()));
  in.risk.scenarios = 1000;
  std::vector<risk_result> results;
  for (std::size_t budget : {default_pnl_table_bytes, std::size_t{0}}) {
    auto engine = make_cpu_backend(2, budget);
    results.push_back(test::run_on(*engine, in).risk);
  }
  EXPECT_EQ(results[0].var, results[1].var);
  EXPECT_EQ(results[0].es, results[1].es);
  EXPECT_EQ(results[0].breach_probability, results[1].breach_probability);
  EXPECT_EQ(results[0].bad_debt_es, results[1].bad_debt_es);
}

}  // namespace
}  // namespace msync
