#pragma once
// One account's revaluation (docs/design.md section 3, "Per position" and "Exposure"): its
// positions' values summed into own funds and equity, |q m S| into gross notional (and, for the
// positions the floor applies to, floor notional), their greeks and horizon decay into one
// exposure per underlying, and each exposure's liquidity add-on. The CPU backend runs it per
// account in an OpenMP loop, the CUDA backend per thread, or per warp for a large account
// (account_split.hpp: the same additions in the same order); all sum in this order.
#include <cmath>
#include <cstdint>
#include <cstring>

#include "marginsync/black_scholes.hpp"
#include "marginsync/cascade_rules.hpp"
#include "marginsync/funding.hpp"
#include "marginsync/valuation.hpp"

namespace msync {

// What each position of one instrument reads in the revaluation, made once per revaluation from
// the instrument's price_instrument and contract terms: one 64-byte line per position instead of
// three structs (instrument_risk, contract_terms, valuation_inputs). The numbers are copies, so a
// position's arithmetic on them is the same as on the structs, bit for bit.
struct alignas(64) position_terms {
  double value;  // instrument_risk::greeks.value: one unit's value (quote currency)
  double delta;  // greeks per unit, as instrument_risk holds them
  double gamma;
  double vega;
  double theta;
  double decay;         // instrument_risk::decay
  double vol_exposure;  // instrument_risk::vol_exposure
  double multiplier;    // contract_terms::multiplier
};

// Which of a position's terms apply, per instrument (bits of a byte, position_flags).
enum position_flag : std::uint8_t {
  // Perpetuals and futures: position_value subtracts m * cost.
  marked_to_entry = 1,
  // in_notional_floor for a long (q > 0) and for any other quantity: settled instruments are in
  // neither; options only when not long; every other kind in both.
  floor_when_long = 2,
  floor_when_other = 4,
  // Perpetuals: they pay funding on a stream (funding.hpp).
  pays_funding = 8,
};

MSYNC_HD inline position_terms make_position_terms(const instrument_risk& r,
                                                   const contract_terms& c) {
  return position_terms{r.greeks.value, r.greeks.delta, r.greeks.gamma, r.greeks.vega,
                        r.greeks.theta, r.decay,        r.vol_exposure, c.multiplier};
}

MSYNC_HD inline std::uint8_t position_flags(const contract_terms& c, const valuation_inputs& x) {
  const bool marked = c.kind == instrument_kind::perpetual || c.kind == instrument_kind::future;
  // in_notional_floor's two answers: q > 0 and not.
  const bool floor_long = in_notional_floor(c, x, 1.0), floor_other = in_notional_floor(c, x, 0.0);
  return static_cast<std::uint8_t>((marked ? marked_to_entry : 0) |
                                   (floor_long ? floor_when_long : 0) |
                                   (floor_other ? floor_when_other : 0) |
                                   (c.kind == instrument_kind::perpetual ? pays_funding : 0));
}

// `x` when `keep`, else +0.0, without a branch: an account's positions mix kinds and signs, so a
// branch on them is mispredicted about as often as not. Adding the result is adding x or nothing:
// s + (+0.0) is s bit for bit for every s but -0.0, and the sums below that take it never hold
// -0.0 (floor starts at +0.0 and adds |.|); s - (+0.0) is s for every s, -0.0 included.
MSYNC_HD inline double kept_or_zero(bool keep, double x) {
#if defined(__CUDA_ARCH__)
  return keep ? x : 0.0;  // a select on the device
#else
  std::uint64_t bits;
  std::memcpy(&bits, &x, sizeof bits);
  bits &= std::uint64_t{0} - static_cast<std::uint64_t>(keep);  // all ones, or zero: +0.0
  std::memcpy(&x, &bits, sizeof x);
  return x;
#endif
}

// A position's value and whether it is in the notional floor, from its instrument's terms and
// flags: valuation.hpp's position_value and in_notional_floor, to the bit.
MSYNC_HD inline double position_value(const position_terms& k, std::uint8_t flags, double q,
                                      double cost) {
  // position_value(contract_terms, ...): q * unit - (marked ? m * cost : 0.0).
  return q * k.value - kept_or_zero((flags & marked_to_entry) != 0, k.multiplier * cost);
}
MSYNC_HD inline bool in_notional_floor(std::uint8_t flags, double q) {
  return (flags & (q > 0.0 ? floor_when_long : floor_when_other)) != 0;
}

// The arrays an account's revaluation reads (CSR offsets as in book.hpp, possibly rebased to a
// chunk) and the per-exposure numbers it writes.
struct account_revaluation_view {
  const std::uint32_t* exposure_underlying;
  const std::uint64_t* exposure_position_begin;
  const std::uint32_t* position_instrument;
  const double* position_quantity;
  const double* position_cost;
  const contract_terms* terms;     // per instrument
  const valuation_inputs* inputs;  // per instrument: instrument_inputs in the current market
  const instrument_risk* unit;     // per instrument: price_instrument in the current market
  const double* spot;              // per underlying
  // Per underlying, for the liquidity add-on: annual vol, Y and V of the square-root law. A null
  // `daily_volume` switches the add-on off.
  const double* vol;
  const double* impact_coefficient;
  const double* daily_volume;
  double* exposure_delta;
  double* exposure_gamma;
  double* exposure_vega;
  double* exposure_theta;
  double* exposure_decay;
  double* exposure_vol_exposure;
  // Optional, per instrument: make_position_terms and position_flags of `unit`, `terms` and
  // `inputs`, made once per revaluation (the CPU backend's). Null: made per position from them.
  const position_terms* position_table = nullptr;
  const std::uint8_t* position_table_flags = nullptr;
  // Optional, per underlying: impact_scale of its impact coefficient and vol (cascade_rules.hpp),
  // made once per revaluation. Null: made per exposure.
  const double* impact_scale = nullptr;
  // Optional, per underlying: the spot in force over a stream's funding interval and the funding
  // rate per 8 hours (funding.hpp). With `funding_rate` set and funding_periods > 0, each
  // perpetual position pays its funding out of the account's collateral change, in book order.
  const double* funding_spot = nullptr;
  const double* funding_rate = nullptr;
  double funding_periods = 0.0;
};

struct account_totals {
  double own_funds;       // collateral + sum of position values
  double equity;          // own funds + credit limit
  double gross_notional;  // sum |q m S|
  double floor_notional;  // the same over the positions in the notional floor
  double liquidity_addon;
};

// An account's running sums over its positions: own funds (from its collateral), gross and floor
// notional, and, on a stream, its collateral change less the funding paid so far.
struct account_sums {
  double own;
  double gross;
  double floor;
  double change;
};

// The funding terms of one exposure's positions (funding.hpp): whether its underlying pays (a
// zero rate pays nothing, as in account_after_funding), at which spot and rate, over how many
// periods.
struct exposure_funding {
  bool pays;
  double spot;
  double rate;
  double periods;
};

MSYNC_HD inline exposure_funding exposure_funding_of(const account_revaluation_view& v,
                                                     std::uint32_t u) {
  const bool pays =
      v.funding_rate != nullptr && v.funding_periods > 0.0 && v.funding_rate[u] != 0.0;
  return exposure_funding{pays, pays ? v.funding_spot[u] : 0.0, pays ? v.funding_rate[u] : 0.0,
                          v.funding_periods};
}

// One position of quantity q and cost `cost` on an underlying at `spot` added to its account's
// sums, in this order: position_value, and |q m S| into gross and (in_notional_floor) floor
// notional.
MSYNC_HD inline void add_position(account_sums& s, const position_terms& k, std::uint8_t f,
                                  double q, double cost, double spot) {
  s.own += position_value(k, f, q, cost);
  const double notional = fabs(q * k.multiplier * spot);
  s.gross += notional;
  s.floor += kept_or_zero(in_notional_floor(f, q), notional);
}

// The funding the position pays (position_funding) out of the account's change. An account's
// exposures cover its positions in book order (book.hpp), the order account_after_funding pays
// them in. Where the exposure does not pay (fu.pays false) this subtracts +0.0: nothing, so a
// caller may skip it there.
MSYNC_HD inline void pay_funding(account_sums& s, const position_terms& k, std::uint8_t f, double q,
                                 const exposure_funding& fu) {
  s.change -= kept_or_zero(fu.pays && (f & pays_funding) != 0,
                           position_funding(q, k.multiplier, fu.spot, fu.rate, fu.periods));
}

// The liquidity add-on of exposure x on underlying u at `spot` with delta `delta`.
MSYNC_HD inline double exposure_liquidity_cost(const account_revaluation_view& v, std::uint32_t u,
                                               double spot, double delta) {
  const double notional = fabs(delta * spot);
  return v.impact_scale
             ? liquidity_cost_scaled(notional, v.impact_scale[u], v.daily_volume[u])
             : liquidity_cost(notional, v.impact_coefficient[u], v.vol[u], v.daily_volume[u]);
}

// One exposure's sums over its positions (q times each unit greek, decay and vol exposure), written
// out, and its liquidity add-on added to the account's (none without daily volumes).
struct exposure_greeks {
  double delta, gamma, vega, theta, decay, vol_exposure;
};
MSYNC_HD inline void finish_exposure(const account_revaluation_view& v, std::uint64_t x,
                                     std::uint32_t u, double spot, const exposure_greeks& g,
                                     double& addon) {
  v.exposure_delta[x] = g.delta;
  v.exposure_gamma[x] = g.gamma;
  v.exposure_vega[x] = g.vega;
  v.exposure_theta[x] = g.theta;
  v.exposure_decay[x] = g.decay;
  v.exposure_vol_exposure[x] = g.vol_exposure;
  if (v.daily_volume) addon += exposure_liquidity_cost(v, u, spot, g.delta);
}

// An account's liquidity add-on from its exposures' deltas once written: the sum finish_exposure
// makes, in the same order, for a caller that revalues with daily_volume null and adds the add-on
// afterwards (the square roots then run back to back instead of stalling the position loop).
MSYNC_HD inline double account_liquidity_addon(const account_revaluation_view& v,
                                               std::uint64_t x_begin, std::uint64_t x_end) {
  double addon = 0.0;
  if (!v.daily_volume) return addon;
  for (std::uint64_t x = x_begin; x < x_end; ++x) {
    const std::uint32_t u = v.exposure_underlying[x];
    addon += exposure_liquidity_cost(v, u, v.spot[u], v.exposure_delta[x]);
  }
  return addon;
}

namespace detail {

// An instrument's terms and flags from the view's table.
struct position_table_source {
  const position_terms* table;
  const std::uint8_t* flags;
  MSYNC_HD void operator()(std::uint32_t i, position_terms& k, std::uint8_t& f) const {
    k = table[i];
    f = flags[i];
  }
};
// The same made from the view's per-instrument structs, position by position.
struct position_struct_source {
  const contract_terms* terms;
  const valuation_inputs* inputs;
  const instrument_risk* unit;
  MSYNC_HD void operator()(std::uint32_t i, position_terms& k, std::uint8_t& f) const {
    const contract_terms c = terms[i];
    k = make_position_terms(unit[i], c);
    f = position_flags(c, inputs[i]);
  }
};

template <class Source>
MSYNC_HD inline account_totals revalue_account(const account_revaluation_view& v,
                                               const Source& source, std::uint64_t x_begin,
                                               std::uint64_t x_end, double collateral,
                                               double credit_limit, double& change) {
  account_sums sums{collateral, 0.0, 0.0, change};
  double addon = 0.0;
  for (std::uint64_t x = x_begin; x < x_end; ++x) {
    const std::uint32_t u = v.exposure_underlying[x];
    const double spot = v.spot[u];
    const exposure_funding funding_terms = exposure_funding_of(v, u);
    double delta = 0.0, gamma = 0.0, vega = 0.0, theta = 0.0, decay = 0.0, vol_exposure = 0.0;
    for (std::uint64_t p = v.exposure_position_begin[x]; p < v.exposure_position_begin[x + 1];
         ++p) {
      position_terms k;
      std::uint8_t f;
      source(v.position_instrument[p], k, f);
      const double q = v.position_quantity[p];
      add_position(sums, k, f, q, v.position_cost[p], spot);
      pay_funding(sums, k, f, q, funding_terms);
      delta += q * k.delta;
      gamma += q * k.gamma;
      vega += q * k.vega;
      theta += q * k.theta;
      decay += q * k.decay;
      vol_exposure += q * k.vol_exposure;
    }
    finish_exposure(v, x, u, spot, exposure_greeks{delta, gamma, vega, theta, decay, vol_exposure},
                    addon);
  }
  change = sums.change;
  return account_totals{sums.own, sums.own + credit_limit, sums.gross, sums.floor, addon};
}

}  // namespace detail

// Exposures [x_begin, x_end) of one account with `collateral` and its tier's `credit_limit`. With
// the view's funding, `change` (the account's collateral moved so far) comes back less the funding
// its perpetual positions pay; otherwise it is left as it is.
MSYNC_HD inline account_totals revalue_account(const account_revaluation_view& v,
                                               std::uint64_t x_begin, std::uint64_t x_end,
                                               double collateral, double credit_limit,
                                               double& change) {
  if (v.position_table)
    return detail::revalue_account(
        v, detail::position_table_source{v.position_table, v.position_table_flags}, x_begin, x_end,
        collateral, credit_limit, change);
  return detail::revalue_account(v, detail::position_struct_source{v.terms, v.inputs, v.unit},
                                 x_begin, x_end, collateral, credit_limit, change);
}

// The same without funding.
MSYNC_HD inline account_totals revalue_account(const account_revaluation_view& v,
                                               std::uint64_t x_begin, std::uint64_t x_end,
                                               double collateral, double credit_limit) {
  double change = 0.0;
  return revalue_account(v, x_begin, x_end, collateral, credit_limit, change);
}

}  // namespace msync
