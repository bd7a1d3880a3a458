// The revaluation's per-instrument position table (account_revaluation.hpp: position_terms and
// position_flags, made once per revaluation) against the per-position computation it replaces,
// bit for bit: one position of every instrument kind (settled and expired ones too) at every sign
// of quantity, and whole accounts of a generated book, with funding and the liquidity add-on (its
// scale made per exposure and once per underlying), through
// the header's two paths and the CPU backend's vectorised pass.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "cpu/revalue_pass.hpp"
#include "marginsync/account_revaluation.hpp"
#include "marginsync/funding.hpp"
#include "marginsync/instrument_inputs.hpp"
#include "test_books.hpp"

namespace msync {
namespace {

bool same_bits(double a, double b) {
  return std::memcmp(&a, &b, sizeof a) == 0;
}

#define EXPECT_SAME_BITS(a, b) EXPECT_PRED2(same_bits, a, b)

// revalue_account as it was before the table: three structs gathered per position, the value and
// the floor from valuation.hpp's rules, funding in a pass of its own before it (funding.hpp).
account_totals revalue_account_before(const account_revaluation_view& v, std::uint64_t x_begin,
                                      std::uint64_t x_end, double collateral, double credit_limit) {
  double own = collateral;
  double gross = 0.0, floor = 0.0, addon = 0.0;
  for (std::uint64_t x = x_begin; x < x_end; ++x) {
    const std::uint32_t u = v.exposure_underlying[x];
    const double spot = v.spot[u];
    double delta = 0.0, gamma = 0.0, vega = 0.0, theta = 0.0, decay = 0.0, vol_exposure = 0.0;
    for (std::uint64_t p = v.exposure_position_begin[x]; p < v.exposure_position_begin[x + 1];
         ++p) {
      const std::uint32_t i = v.position_instrument[p];
      const double q = v.position_quantity[p];
      const instrument_risk r = v.unit[i];
      const contract_terms c = v.terms[i];
      own += position_value(c, q, v.position_cost[p], r.greeks.value);
      const double notional = std::fabs(q * c.multiplier * spot);
      gross += notional;
      if (in_notional_floor(c, v.inputs[i], q)) floor += notional;
      delta += q * r.greeks.delta;
      gamma += q * r.greeks.gamma;
      vega += q * r.greeks.vega;
      theta += q * r.greeks.theta;
      decay += q * r.decay;
      vol_exposure += q * r.vol_exposure;
    }
    v.exposure_delta[x] = delta;
    v.exposure_gamma[x] = gamma;
    v.exposure_vega[x] = vega;
    v.exposure_theta[x] = theta;
    v.exposure_decay[x] = decay;
    v.exposure_vol_exposure[x] = vol_exposure;
    if (v.daily_volume)
      addon += liquidity_cost(std::fabs(delta * spot), v.impact_coefficient[u], v.vol[u],
                              v.daily_volume[u]);
  }
  return account_totals{own, own + credit_limit, gross, floor, addon};
}

// One instrument of each kind and state, in a market where it has a value and greeks.
struct instrument_case {
  const char* name;
  contract_terms terms;
  valuation_inputs inputs;
};
std::vector<instrument_case> every_kind() {
  const valuation_inputs live{3100.0, 0.7, 0.04, 0.03, 31.0 / 365.0};
  valuation_inputs marked = live, expired = live, settled = live, funded = live;
  marked.basis = 1.0125;
  expired.time_to_expiry = -1.0 / 365.0;
  settled.settled = true;
  settled.spot = 3050.0;  // the settlement price
  funded.funding_rate = 0.0001;
  funded.time_to_expiry = 0.0;
  const contract_terms spot{instrument_kind::spot, false, 0.0, 1.0};
  const contract_terms perpetual{instrument_kind::perpetual, false, 0.0, 0.01};
  const contract_terms future{instrument_kind::future, false, 0.0, 10.0};
  const contract_terms call{instrument_kind::option, true, 3000.0, 0.1};
  const contract_terms put{instrument_kind::option, false, 3200.0, 0.1};
  return {{"spot", spot, funded},
          {"perpetual", perpetual, funded},
          {"future", future, live},
          {"marked future", future, marked},
          {"expired future", future, expired},
          {"settled future", future, settled},
          {"call", call, live},
          {"put", put, live},
          {"expired call", call, expired},
          {"settled call", call, settled},
          {"settled put", put, settled}};
}

TEST(position_table, one_position_of_every_kind_is_what_the_structs_give) {
  const double h = 1.0 / 365.0, funding_periods = 3.0;
  for (const instrument_case& ic : every_kind()) {
    SCOPED_TRACE(ic.name);
    const instrument_risk r = price_instrument(ic.terms, ic.inputs, h, funding_periods);
    const position_terms k = make_position_terms(r, ic.terms);
    const std::uint8_t f = position_flags(ic.terms, ic.inputs);
    EXPECT_SAME_BITS(k.value, r.greeks.value);
    EXPECT_SAME_BITS(k.delta, r.greeks.delta);
    EXPECT_SAME_BITS(k.gamma, r.greeks.gamma);
    EXPECT_SAME_BITS(k.vega, r.greeks.vega);
    EXPECT_SAME_BITS(k.theta, r.greeks.theta);
    EXPECT_SAME_BITS(k.decay, r.decay);
    EXPECT_SAME_BITS(k.vol_exposure, r.vol_exposure);
    EXPECT_SAME_BITS(k.multiplier, ic.terms.multiplier);
    EXPECT_EQ((f & pays_funding) != 0, ic.terms.kind == instrument_kind::perpetual);
    for (double q : {2.5, -2.5, 0.0, -0.0, 1e-300, -7e12}) {
      for (double cost : {0.0, -0.0, 1234.5, -77.25}) {
        SCOPED_TRACE(q);
        SCOPED_TRACE(cost);
        EXPECT_SAME_BITS(position_value(k, f, q, cost),
                         position_value(ic.terms, q, cost, r.greeks.value));
        EXPECT_EQ(in_notional_floor(f, q), in_notional_floor(ic.terms, ic.inputs, q));
        // Adding what the table gives is adding what the structs give, to any sum the floor
        // notional can hold (it starts at +0.0 and adds |.|: never -0.0).
        for (double s : {0.0, 12.5, 3e300}) {
          const double before = in_notional_floor(ic.terms, ic.inputs, q) ? s + 4.0 : s;
          EXPECT_SAME_BITS(s + kept_or_zero(in_notional_floor(f, q), 4.0), before);
        }
      }
    }
  }
}

TEST(position_table, kept_or_zero_adds_x_or_nothing) {
  const double inf = std::numeric_limits<double>::infinity();
  const double nan = std::numeric_limits<double>::quiet_NaN();
  for (double s : {0.0, -0.0, 1.5, -2.25, inf, nan}) {
    EXPECT_SAME_BITS(s - kept_or_zero(false, 3.0), s);
    EXPECT_SAME_BITS(s - kept_or_zero(true, 3.0), s - 3.0);
    EXPECT_SAME_BITS(kept_or_zero(true, -0.0), -0.0);
    EXPECT_SAME_BITS(kept_or_zero(false, nan), 0.0);
  }
}

// A generated book's accounts revalued with funding and the liquidity add-on, some of its
// instruments settled and one underlying at a zero funding rate: the reference (funding, then the
// structs' revaluation), the header with and without the table, and the CPU pass all agree to the
// bit.
TEST(position_table, whole_accounts_agree_bit_for_bit_on_every_path) {
  const test::temp_dir dir;
  book_inputs in = test::generated_book(dir, 400, 4, 9, 17);
  const book& b = in.positions;
  market_state& m = in.market;
  m.funding_rate.assign(m.size(), 0.0);
  for (std::size_t u = 1; u < m.size(); ++u) m.funding_rate[u] = 1e-4 * static_cast<double>(u);
  std::vector<valuation_inputs> inputs;
  instrument_inputs(b.instruments, m, in.risk, inputs);
  std::vector<contract_terms> terms;
  std::size_t kinds[4] = {0, 0, 0, 0}, settled = 0;
  for (std::size_t i = 0; i < b.instruments.size(); ++i) {
    terms.push_back(b.instruments.terms(i));
    ++kinds[static_cast<int>(terms.back().kind)];
    // Every fifth dated instrument settled at its spot.
    const bool dated = terms.back().kind == instrument_kind::future ||
                       terms.back().kind == instrument_kind::option;
    if (dated && i % 5 == 0) {
      inputs[i].settled = true;
      ++settled;
    }
  }
  for (std::size_t k = 0; k < 4; ++k) ASSERT_GT(kinds[k], 0u) << "kind " << k;
  ASSERT_GT(settled, 0u);
  const double h = in.risk.horizon_years(), periods = 3.0 * in.risk.horizon_days;
  std::vector<instrument_risk> unit;
  std::vector<position_terms> table;
  std::vector<std::uint8_t> flags;
  for (std::size_t i = 0; i < terms.size(); ++i) {
    unit.push_back(price_instrument(terms[i], inputs[i], h, periods));
    table.push_back(make_position_terms(unit[i], terms[i]));
    flags.push_back(position_flags(terms[i], inputs[i]));
  }
  const liquidity_table liquidity = make_liquidity_table(m.size(), in.risk);
  // The pass reads the credit limit per tier, through each account's tier index.
  std::vector<double> tier_credit;
  std::vector<double> credit(b.accounts());
  for (std::size_t a = 0; a < b.accounts(); ++a) {
    const std::size_t t = b.account_tier[a];
    while (tier_credit.size() <= t)
      tier_credit.push_back(100.0 * static_cast<double>(1 + tier_credit.size()));
    credit[a] = tier_credit[t];
  }
  std::vector<double> funding_spot(m.spot);
  for (double& s : funding_spot) s *= 0.99;
  const funding_accrual funding{&b, 0.37, funding_spot.data(), m.funding_rate.data()};

  // Per exposure, six arrays; per account, five numbers and the change.
  struct results {
    std::vector<double> x[6], acc[5], change;
    explicit results(const book& bk) {
      for (auto& v : x) v.assign(bk.exposures(), -1.0);
      for (auto& v : acc) v.assign(bk.accounts(), -1.0);
      for (std::size_t a = 0; a < bk.accounts(); ++a)
        change.push_back(a % 3 == 0 ? -0.0 : 10.0 * static_cast<double>(a));
    }
    account_revaluation_view view(const book& bk, const std::vector<contract_terms>& t,
                                  const std::vector<valuation_inputs>& i,
                                  const std::vector<instrument_risk>& r, const market_state& mk,
                                  const liquidity_table& l) {
      return account_revaluation_view{bk.exposure_underlying.data(),
                                      bk.exposure_position_begin.data(),
                                      bk.position_instrument.data(),
                                      bk.position_quantity.data(),
                                      bk.position_cost.data(),
                                      t.data(),
                                      i.data(),
                                      r.data(),
                                      mk.spot.data(),
                                      mk.vol.data(),
                                      l.coefficient.data(),
                                      l.daily_volume.data(),
                                      x[0].data(),
                                      x[1].data(),
                                      x[2].data(),
                                      x[3].data(),
                                      x[4].data(),
                                      x[5].data()};
    }
    void put(std::size_t a, const account_totals& t) {
      acc[0][a] = t.own_funds;
      acc[1][a] = t.equity;
      acc[2][a] = t.gross_notional;
      acc[3][a] = t.floor_notional;
      acc[4][a] = t.liquidity_addon;
    }
  };
  results before(b), structs(b), with_table(b), pass(b);
  const account_revaluation_view v_before = before.view(b, terms, inputs, unit, m, liquidity);
  account_revaluation_view v_structs = structs.view(b, terms, inputs, unit, m, liquidity);
  account_revaluation_view v_table = with_table.view(b, terms, inputs, unit, m, liquidity);
  for (account_revaluation_view* v : {&v_structs, &v_table}) {
    v->funding_spot = funding_spot.data();
    v->funding_rate = m.funding_rate.data();
    v->funding_periods = funding.periods;
  }
  v_table.position_table = table.data();
  v_table.position_table_flags = flags.data();
  std::vector<double> scale;
  for (std::size_t u = 0; u < m.size(); ++u)
    scale.push_back(impact_scale(liquidity.coefficient[u], m.vol[u]));
  v_table.impact_scale = scale.data();
  for (std::size_t a = 0; a < b.accounts(); ++a) {
    const std::uint64_t x0 = b.account_exposure_begin[a], x1 = b.account_exposure_begin[a + 1];
    before.change[a] = account_after_funding(b, a, funding, before.change[a]);
    before.put(a, revalue_account_before(v_before, x0, x1, b.collateral[a], credit[a]));
    structs.put(a,
                revalue_account(v_structs, x0, x1, b.collateral[a], credit[a], structs.change[a]));
    with_table.put(
        a, revalue_account(v_table, x0, x1, b.collateral[a], credit[a], with_table.change[a]));
  }
  // The CPU backend's pass (the table, vectorised) with the change added afterwards as it adds it.
  std::vector<double> change_in = pass.change;
  cpu::revalue_pass run{
      &b,
      pass.view(b, terms, inputs, unit, m, liquidity),
      tier_credit.data(),
      change_in.data(),
      pass.change.data(),
      funding,
      cpu::account_outputs{pass.acc[0].data(), pass.acc[1].data(), pass.acc[2].data(),
                           pass.acc[3].data(), pass.acc[4].data()},
      nullptr};
  run.view.position_table = table.data();
  run.view.position_table_flags = flags.data();
  run.view.impact_scale = scale.data();
  cpu::run_revalue_pass(run, 2);

  for (const results* r : {&structs, &with_table, &pass}) {
    for (int k = 0; k < 6; ++k)
      for (std::size_t x = 0; x < b.exposures(); ++x)
        ASSERT_PRED2(same_bits, r->x[k][x], before.x[k][x]) << "exposure " << x << " array " << k;
    for (std::size_t a = 0; a < b.accounts(); ++a) {
      ASSERT_PRED2(same_bits, r->change[a], before.change[a]) << "account " << a;
      for (int k = 2; k < 5; ++k)
        ASSERT_PRED2(same_bits, r->acc[k][a], before.acc[k][a]) << "account " << a << " " << k;
      // The pass adds the change to own funds and equity; the header's callers do it themselves.
      const double own = r == &pass ? before.acc[0][a] + before.change[a] : before.acc[0][a];
      const double equity = r == &pass ? before.acc[1][a] + before.change[a] : before.acc[1][a];
      ASSERT_PRED2(same_bits, r->acc[0][a], own) << "account " << a;
      ASSERT_PRED2(same_bits, r->acc[1][a], equity) << "account " << a;
    }
  }
  // Funding paid on this book: the comparison of the change is not empty.
  std::size_t paid = 0;
  for (std::size_t a = 0; a < b.accounts(); ++a)
    paid += same_bits(before.change[a], a % 3 == 0 ? -0.0 : 10.0 * static_cast<double>(a)) ? 0 : 1;
  EXPECT_GT(paid, b.accounts() / 10);
}

}  // namespace
}  // namespace msync
