#pragma once
// What one position contributes to its account (docs/design.md section 3, "Per position"). q =
// quantity, m = multiplier, S = spot, F = S e^{bT}. All values in quote currency; greeks per the
// conventions of black_scholes.hpp, scaled by q m.
//
// Perpetuals and futures carry `cost` = sum over the position's rows of q_i * entry_i, so that the
// equity contribution m (q P - cost) is exactly the sum of the rows' q_i m (P - entry_i): the
// average entry price, with the P&L of any quantity already closed kept.
#include "marginsync/black_scholes.hpp"
#include "marginsync/instrument_kind.hpp"

namespace msync {

// The market an instrument is valued in: spot and vol of its underlying, rate, carry, time left.
struct valuation_inputs {
  double spot;
  double vol;
  double rate;
  double carry;           // b = r - dividend_yield
  double time_to_expiry;  // years, ACT/365; may be <= 0 (expired)
};

// Contract data of an instrument, dense and string-free.
struct contract_terms {
  instrument_kind kind;
  bool is_call;
  double strike;
  double multiplier;
};

// Forward of a dated future. After expiry the future has settled on the spot: F = S.
MSYNC_HD inline double future_price(double spot, double carry, double t) {
  return t > 0.0 ? spot * exp(carry * t) : spot;
}

// Value and greeks of ONE unit of quantity, without the cost term of perpetuals and futures:
// the position's contribution is then q * unit - m * cost (see position_value).
MSYNC_HD inline option_greeks unit_greeks(const contract_terms& c, const valuation_inputs& x) {
  const double m = c.multiplier;
  switch (c.kind) {
    case instrument_kind::spot:
    case instrument_kind::perpetual:
      return option_greeks{m * x.spot, m, 0.0, 0.0, 0.0};
    case instrument_kind::future: {
      if (x.time_to_expiry <= 0.0) return option_greeks{m * x.spot, m, 0.0, 0.0, 0.0};
      const double growth = exp(x.carry * x.time_to_expiry);
      const double f = x.spot * growth;
      // theta: dF/dt with calendar time passing = -b F
      return option_greeks{m * f, m * growth, 0.0, 0.0, -m * x.carry * f};
    }
    case instrument_kind::option:
    default: {
      option_greeks g =
          bsm_greeks(c.is_call, x.spot, c.strike, x.time_to_expiry, x.rate, x.carry, x.vol);
      g.value *= m;
      g.delta *= m;
      g.gamma *= m;
      g.vega *= m;
      g.theta *= m;
      return g;
    }
  }
}

// Unit value only (the scenario loop's hot path).
MSYNC_HD inline double unit_value(const contract_terms& c, const valuation_inputs& x) {
  switch (c.kind) {
    case instrument_kind::spot:
    case instrument_kind::perpetual:
      return c.multiplier * x.spot;
    case instrument_kind::future:
      return c.multiplier * future_price(x.spot, x.carry, x.time_to_expiry);
    case instrument_kind::option:
    default:
      return c.multiplier *
             bsm_value(c.is_call, x.spot, c.strike, x.time_to_expiry, x.rate, x.carry, x.vol);
  }
}

// Equity contributed by a position of `quantity` units whose rows' entries sum to `cost`
// (sum of q_i * entry_i; zero for spot and options, whose premium is already out of collateral).
MSYNC_HD inline double position_value(const contract_terms& c, double quantity, double cost,
                                      double unit) {
  const bool marked_to_entry =
      c.kind == instrument_kind::perpetual || c.kind == instrument_kind::future;
  return quantity * unit - (marked_to_entry ? c.multiplier * cost : 0.0);
}

}  // namespace msync
