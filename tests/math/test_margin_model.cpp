// Tests of the margin model's per-instrument rules (docs/design.md 3.3, 3.4, 3.5, 3.8):
// settlement, a marked future's basis, horizon decay and perpetual funding, the notional floor,
// each option's own vol and its tenor-scaled shock, the liquidity add-on and close-outs on own
// funds. References are closed forms and hand computations written out here.
#include <gtest/gtest.h>

#include <cmath>

#include "marginsync/black_scholes.hpp"
#include "marginsync/cascade_rules.hpp"
#include "marginsync/instrument_inputs.hpp"
#include "marginsync/valuation.hpp"

namespace msync {
namespace {

constexpr double h = 1.0 / 365.0;  // one day

contract_terms call(double strike, double multiplier = 1.0) {
  return contract_terms{instrument_kind::option, true, strike, multiplier};
}
contract_terms future(double multiplier = 1.0) {
  return contract_terms{instrument_kind::future, false, 0.0, multiplier};
}
contract_terms perpetual(double multiplier = 1.0) {
  return contract_terms{instrument_kind::perpetual, false, 0.0, multiplier};
}

// The case: 10 long at-the-money calls with 1 hour left. theta h, the old time term, is
// many times what they can lose; the exact decay over the day is their whole value (they expire
// inside the horizon, at the money: worth 0).
TEST(margin_model, decay_of_an_option_expiring_inside_the_horizon_is_its_value) {
  const double t = 1.0 / (365.0 * 24.0);
  const valuation_inputs x{91000.0, 0.55, 0.0, 0.0, t};
  const instrument_risk r = price_instrument(call(91000.0), x, h, 3.0);
  const double value = bsm_value(true, 91000.0, 91000.0, t, 0.0, 0.0, 0.55);
  EXPECT_NEAR(10 * r.decay, -10 * value, 1e-9);
  EXPECT_GT(std::fabs(10 * r.greeks.theta * h), 10 * 10 * value);  // theta h: over 10 times
}

// With time left beyond the horizon, decay = V(T - h) - V(T) exactly, which theta h approximates
// to first order.
TEST(margin_model, decay_is_the_exact_value_change_over_the_horizon) {
  const valuation_inputs x{3100.0, 0.7, 0.04, 0.04, 31.0 / 365.0};
  const contract_terms c = call(3000.0, 10.0);
  const instrument_risk r = price_instrument(c, x, h, 3.0);
  const double exact = 10.0 * (bsm_value(true, 3100.0, 3000.0, 30.0 / 365.0, 0.04, 0.04, 0.7) -
                               bsm_value(true, 3100.0, 3000.0, 31.0 / 365.0, 0.04, 0.04, 0.7));
  EXPECT_NEAR(r.decay, exact, 1e-9);
  EXPECT_NEAR(r.decay, r.greeks.theta * h, 0.02 * std::fabs(r.decay));
  // A dated future: the carry change S (e^{b (T - h)} - e^{b T}).
  const instrument_risk f = price_instrument(future(), x, h, 3.0);
  EXPECT_NEAR(f.decay, 3100.0 * (std::exp(0.04 * 30.0 / 365.0) - std::exp(0.04 * 31.0 / 365.0)),
              1e-9);
}

// Funding over the horizon: q m S funding_rate 3 horizon_days, paid by longs at a positive rate.
TEST(margin_model, perpetual_funding_over_the_horizon) {
  valuation_inputs x{91000.0, 0.55, 0.0, 0.0, 0.0};
  x.funding_rate = 0.0001;
  const instrument_risk r = price_instrument(perpetual(2.0), x, 2.0 / 365.0, 6.0);  // 2 days
  EXPECT_NEAR(r.decay, -2.0 * 91000.0 * 0.0001 * 6.0, 1e-12);
  EXPECT_DOUBLE_EQ(unit_funding(perpetual(2.0), x, 6.0), r.decay);
  x.funding_rate = -0.0002;  // shorts pay: a long receives
  EXPECT_GT(price_instrument(perpetual(), x, h, 3.0).decay, 0.0);
  EXPECT_EQ(unit_funding(contract_terms{instrument_kind::spot, false, 0.0, 1.0}, x, 3.0), 0.0);
}

// A settled instrument: value fixed at the settlement price, greeks 0, no scenario moves it.
TEST(margin_model, settled_instruments_do_not_move) {
  valuation_inputs x{88000.0, 0.55, 0.04, 0.04, -1.0 / 365.0};
  x.settled = true;  // spot is the settlement price
  const option_greeks g = unit_greeks(call(85000.0, 2.0), x);
  EXPECT_EQ(g.value, 2.0 * 3000.0);
  EXPECT_EQ(g.delta, 0.0);
  EXPECT_EQ(g.gamma, 0.0);
  EXPECT_EQ(g.vega, 0.0);
  const valuation_inputs later = horizon_inputs(x, 50000.0, 1.0, 0.0, h, true);
  EXPECT_EQ(unit_value(call(85000.0, 2.0), later), 2.0 * 3000.0);
  EXPECT_EQ(price_instrument(call(85000.0, 2.0), x, h, 3.0).decay, 0.0);
  EXPECT_EQ(unit_value(future(), later), 88000.0);
}

// instrument_inputs: an expired option settles at its settlement_price mark, else at spot;
// settle_expired fixes the spot once and keeps it when the spot moves on.
TEST(margin_model, instrument_inputs_settlement_and_marks) {
  instrument_table ins;
  auto add = [&](instrument_kind kind, double strike, std::int64_t expiry) {
    ins.id.push_back("i" + std::to_string(ins.id.size()));
    ins.kind.push_back(kind);
    ins.is_call.push_back(1);
    ins.underlying.push_back(0);
    ins.strike.push_back(strike);
    ins.multiplier.push_back(1.0);
    ins.expiry_ns.push_back(expiry);
  };
  market_state m;
  m.as_of_ns = 1'795'000'000'000'000'000;
  m.symbols = {"BTC"};
  m.spot = {90000.0};
  m.vol = {0.5};
  m.dividend_yield = {0.0};
  m.funding_rate = {0.0};
  const std::int64_t day = 86'400'000'000'000;
  add(instrument_kind::option, 85000.0, m.as_of_ns - day);       // expired yesterday
  add(instrument_kind::future, 0.0, m.as_of_ns - 4 * day);       // expired four days ago
  add(instrument_kind::option, 95000.0, m.as_of_ns + 30 * day);  // live
  add(instrument_kind::future, 0.0, m.as_of_ns + 30 * day);      // live, marked
  risk_params p;
  m.settlement_price = {86000.0, NAN, NAN, NAN};
  m.mark_price = {NAN, NAN, NAN, 90900.0};
  m.mark_iv = {NAN, NAN, 0.61, NAN};
  std::vector<valuation_inputs> x = instrument_inputs(ins, m, p);
  EXPECT_TRUE(x[0].settled);
  EXPECT_EQ(x[0].spot, 86000.0);
  EXPECT_TRUE(x[1].settled);
  EXPECT_EQ(x[1].spot, 90000.0);  // no settlement mark: the spot at as_of
  EXPECT_FALSE(x[2].settled);
  EXPECT_EQ(x[2].vol, 0.61);  // mark_iv
  EXPECT_NEAR(x[3].basis, 90900.0 / 90000.0, 1e-15);
  // The marked future: worth its mark, delta mark / S, moving with S at that ratio.
  const option_greeks fg = unit_greeks(future(), x[3]);
  EXPECT_NEAR(fg.value, 90900.0, 1e-9);
  EXPECT_NEAR(fg.delta, 90900.0 / 90000.0, 1e-15);
  EXPECT_EQ(fg.theta, 0.0);
  EXPECT_NEAR(unit_value(future(), horizon_inputs(x[3], 81000.0, 0.0, 0.0, h, true)), 90900.0 * 0.9,
              1e-9);

  // A stream fixes the settlement price at the first update at or after expiry.
  m.settlement_price.clear();
  EXPECT_EQ(settle_expired(ins, m), 2u);
  m.spot = {70000.0};
  EXPECT_EQ(settle_expired(ins, m), 0u);
  x = instrument_inputs(ins, m, p);
  EXPECT_EQ(x[0].spot, 90000.0);
  EXPECT_EQ(x[1].spot, 90000.0);
  EXPECT_EQ(unit_greeks(call(85000.0), x[0]).value, 5000.0);
}

// The notional floor leaves out long options and settled instruments.
TEST(margin_model, notional_floor_leaves_out_long_options) {
  valuation_inputs x{100.0, 0.5, 0.0, 0.0, 0.1};
  EXPECT_FALSE(in_notional_floor(call(100.0), x, 3.0));
  EXPECT_TRUE(in_notional_floor(call(100.0), x, -3.0));
  EXPECT_TRUE(in_notional_floor(future(), x, 3.0));
  EXPECT_TRUE(in_notional_floor(perpetual(), x, -3.0));
  x.settled = true;
  EXPECT_FALSE(in_notional_floor(future(), x, 3.0));
  EXPECT_FALSE(in_notional_floor(call(100.0), x, -3.0));
}

// g = (T_ref / max(T, 1 day))^beta, and the shocked vol sigma exp(g x - g^2 drift).
TEST(margin_model, tenor_scaled_vol_shocks) {
  risk_params p;
  EXPECT_EQ(vol_term_scale(p, 7.0 / 365.0), 1.0);  // beta 0: today's shocks
  p.vol_term_exponent = 0.5;
  EXPECT_NEAR(vol_term_scale(p, 7.5 / 365.0), 2.0, 1e-14);               // (30 / 7.5)^0.5
  EXPECT_NEAR(vol_term_scale(p, 120.0 / 365.0), 0.5, 1e-14);             // (30 / 120)^0.5
  EXPECT_NEAR(vol_term_scale(p, 1.0 / 3650.0), std::sqrt(30.0), 1e-13);  // below a day: a day
  EXPECT_NEAR(shocked_vol(0.5, 2.0, 0.1, 0.01), 0.5 * std::exp(0.2 - 0.04), 1e-15);
  EXPECT_NEAR(shocked_vol(0.5, 1.0, 0.1, 0.01), 0.5 * std::exp(0.1 - 0.01), 1e-15);
}

// Each option's vol: its mark_iv, else its underlying's surface at k = ln(K / F), else the vol.
TEST(margin_model, option_vol_order) {
  instrument_table ins;
  ins.id = {"c"};
  ins.kind = {instrument_kind::option};
  ins.is_call = {1};
  ins.underlying = {0};
  ins.strike = {100000.0};
  ins.multiplier = {1.0};
  market_state m;
  m.as_of_ns = 1'795'000'000'000'000'000;
  m.rate = 0.04;
  m.symbols = {"BTC"};
  m.spot = {90000.0};
  m.vol = {0.5};
  m.dividend_yield = {0.0};
  m.funding_rate = {0.0};
  const std::int64_t day = 86'400'000'000'000;
  ins.expiry_ns = {m.as_of_ns + 30 * day};
  const double t = 30.0 / 365.0;
  EXPECT_EQ(option_vol(ins, 0, m, t), 0.5);
  m.surface = {{svi_slice{m.as_of_ns + 30 * day, 0.01, 0.1, -0.3, 0.0, 0.1}}};
  const double k = std::log(100000.0 / (90000.0 * std::exp(0.04 * t)));
  const double w = 0.01 + 0.1 * (-0.3 * k + std::sqrt(k * k + 0.01));
  EXPECT_NEAR(option_vol(ins, 0, m, t), std::sqrt(w / t), 1e-14);
  m.mark_iv = {0.7};
  EXPECT_EQ(option_vol(ins, 0, m, t), 0.7);
}

// (2/3) Y sigma_daily sqrt(N / V) N, and the average fill at 2/3 of the move.
TEST(margin_model, liquidity_cost_by_hand) {
  // N = 1e7, V = 1e9, Y = 1.5, sigma 0.73 a year: 2/3 * 1.5 * 0.73 / sqrt(365) * 0.1 * 1e7.
  EXPECT_NEAR(liquidity_cost(1e7, 1.5, 0.73, 1e9), 0.73 / std::sqrt(365.0) * 1e6, 1e-6);
  EXPECT_EQ(liquidity_cost(0.0, 1.5, 0.73, 1e9), 0.0);
  EXPECT_NEAR(average_fill_move(-0.03), -0.02, 1e-17);
}

// The VIP case: a 20,000 credit line, own funds -7,817. The credit line is the venue's:
// no penalty, bad debt 7,817 (not 0 with a 5,789 penalty taken from the venue's own money).
TEST(margin_model, close_out_on_own_funds) {
  const closeout c = close_out(-7817.0, 578900.0, 0.01);
  EXPECT_EQ(c.penalty, 0.0);
  EXPECT_EQ(c.bad_debt, 7817.0);
  EXPECT_EQ(c.left, 0.0);
  const closeout d = close_out(3000.0, 578900.0, 0.01);
  EXPECT_EQ(d.penalty, 3000.0);  // as far as positive own funds cover it
  EXPECT_EQ(d.bad_debt, 0.0);
  EXPECT_EQ(d.left, 0.0);
}

}  // namespace
}  // namespace msync
