#pragma once
// What one position contributes to its account (docs/design.md section 3, "Per position"). q =
// quantity, m = multiplier, S = spot, F = S e^{bT}. All values in quote currency; greeks per the
// conventions of black_scholes.hpp, scaled by q m.
//
// Perpetuals and futures carry `cost` = sum over the position's rows of q_i * entry_i, so that the
// equity contribution m (q P - cost) is exactly the sum of the rows' q_i m (P - entry_i): the
// average entry price, with the P&L of any quantity already closed kept.
#include <cstdint>

#include "marginsync/black_scholes.hpp"
#include "marginsync/instrument_kind.hpp"

namespace msync {

// The market one instrument is valued in (instrument_inputs.hpp prepares it on the host, once per
// revaluation, for both backends).
struct valuation_inputs {
  double spot;            // the underlying's spot; for a settled instrument its settlement price
  double vol;             // this instrument's vol: its mark_iv, its surface's, or the underlying's
  double rate;            // r, continuously compounded, annual
  double carry;           // b = r - dividend_yield
  double time_to_expiry;  // years, ACT/365; <= 0 once expired
  // A future with a mark: F_mark / S, the basis ratio it moves with its underlying at (F' = basis
  // S'). 0: the theoretical F = S e^{bT}.
  double basis = 0.0;
  // g of docs/design.md 3.3: the scale of this instrument's vol shock, (T_ref / max(T, 1
  // day))^beta.
  double vol_term = 1.0;
  double funding_rate = 0.0;  // perpetuals: the underlying's funding rate per 8 hours
  // Expiry at or before as_of: the value is fixed at `spot` (the settlement price), greeks are 0
  // and no scenario moves it (docs/design.md 3.3).
  bool settled = false;
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

// A dated future's price: the mark's basis ratio times spot when it has a mark, else the forward;
// the spot once at or past expiry (it settles on it).
MSYNC_HD inline double future_mark(const valuation_inputs& x) {
  if (x.basis > 0.0 && x.time_to_expiry > 0.0) return x.basis * x.spot;
  return future_price(x.spot, x.carry, x.time_to_expiry);
}

// Value and greeks of ONE unit of quantity, without the cost term of perpetuals and futures:
// the position's contribution is then q * unit - m * cost (see position_value).
MSYNC_HD inline option_greeks unit_greeks(const contract_terms& c, const valuation_inputs& x) {
  const double m = c.multiplier;
  if (x.settled) {
    // Fixed at the settlement price: an option's intrinsic value, a future's price.
    const double settled_value =
        c.kind == instrument_kind::option ? bsm_expired(c.is_call, x.spot, c.strike).value : x.spot;
    return option_greeks{m * settled_value, 0.0, 0.0, 0.0, 0.0};
  }
  switch (c.kind) {
    case instrument_kind::spot:
    case instrument_kind::perpetual:
      return option_greeks{m * x.spot, m, 0.0, 0.0, 0.0};
    case instrument_kind::future: {
      if (x.time_to_expiry <= 0.0) return option_greeks{m * x.spot, m, 0.0, 0.0, 0.0};
      // A marked future keeps its basis ratio: delta F_mark / S, no carry over time.
      if (x.basis > 0.0) return option_greeks{m * x.basis * x.spot, m * x.basis, 0.0, 0.0, 0.0};
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
  if (x.settled)
    return c.multiplier * (c.kind == instrument_kind::option
                               ? bsm_expired(c.is_call, x.spot, c.strike).value
                               : x.spot);
  switch (c.kind) {
    case instrument_kind::spot:
    case instrument_kind::perpetual:
      return c.multiplier * x.spot;
    case instrument_kind::future:
      return c.multiplier * future_mark(x);
    case instrument_kind::option:
    default:
      return c.multiplier *
             bsm_value(c.is_call, x.spot, c.strike, x.time_to_expiry, x.rate, x.carry, x.vol);
  }
}

// An instrument's vol in a scenario whose vol move on its underlying is `shock` (x of
// docs/design.md 3.6) with drift `drift` (xi^2 h / 2; 0 for a scenario file): sigma exp(g x -
// g^2 drift). With g = 1 this is the underlying's own move, sigma exp(x - drift).
MSYNC_HD inline double shocked_vol(double vol, double g, double shock, double drift) {
  return vol * exp(g * shock - g * g * drift);
}

// The inputs at the horizon's end in a scenario: spot S', the instrument's vol moved with its
// underlying's (scaled by its tenor when `term_scaled`), time T - h; rate, carry, basis unchanged.
// A settled instrument does not move.
MSYNC_HD inline valuation_inputs horizon_inputs(valuation_inputs x, double spot, double vol_shock,
                                                double vol_drift, double horizon_years,
                                                bool term_scaled) {
  if (x.settled) return x;
  x.spot = spot;
  x.vol = shocked_vol(x.vol, term_scaled ? x.vol_term : 1.0, vol_shock, vol_drift);
  x.time_to_expiry -= horizon_years;
  return x;
}

// One unit's P&L in one scenario (docs/design.md 3.7, `full`): its value at the horizon's end at
// the scenario's spot S' and vol shock, less its value now (`base`, unit_value at x), plus the
// horizon's funding (`funding`, unit_funding). Loss = -q times this.
MSYNC_HD inline double scenario_unit_pnl(const contract_terms& c, const valuation_inputs& x,
                                         double base, double funding, double spot, double vol_shock,
                                         double vol_drift, double horizon_years, bool term_scaled) {
  return unit_value(c, horizon_inputs(x, spot, vol_shock, vol_drift, horizon_years, term_scaled)) -
         base + funding;
}

// An account's `full` loss, position by position in book order (docs/design.md 3.7): the first
// position's term -(q row), then loss - q row for each next one, q the position's quantity and row
// its instrument's scenario_unit_pnl. Both backends accumulate with these two and neither contracts
// a multiply and an add into one fused multiply-add (host: -ffp-contract=off; device:
// --fmad=false), so for the same rows a loss is the same double on both. An exactly hedged account
// (q and -q on instruments whose rows are equal) then loses exactly 0; fma(-q, row, loss) would
// leave the rounding error of q row instead (about 1e-16 of it: 1e-13 on a position of 1,000).
MSYNC_HD inline double first_position_loss(double q, double row) {
  return -(q * row);
}
MSYNC_HD inline double next_position_loss(double loss, double q, double row) {
  return loss - q * row;
}

// Funding a perpetual's unit pays over the horizon, as a value change: -m S funding_rate
// funding_periods (funding_periods = 3 horizon_days, the 8-hour periods in it). Longs pay when the
// rate is positive. 0 for every other kind.
MSYNC_HD inline double unit_funding(const contract_terms& c, const valuation_inputs& x,
                                    double funding_periods) {
  if (c.kind != instrument_kind::perpetual) return 0.0;
  return -(c.multiplier * x.spot * x.funding_rate * funding_periods);
}

// Per instrument and unit of quantity, what revaluation and both loss methods read.
struct instrument_risk {
  option_greeks greeks;  // value and greeks in the current market
  // Value change over the horizon at unchanged spot and vol (quote currency): V(T - h) - V(T) for
  // options (intrinsic once T - h <= 0), F(T - h) - F(T) for futures, funding for perpetuals, 0 for
  // spot and settled instruments.
  double decay;
  // vega sigma g: the value change per 1.00 of relative vol move (quote currency), first order.
  double vol_exposure;
};

MSYNC_HD inline instrument_risk price_instrument(const contract_terms& c, const valuation_inputs& x,
                                                 double horizon_years, double funding_periods) {
  instrument_risk r;
  r.greeks = unit_greeks(c, x);
  r.vol_exposure = r.greeks.vega * x.vol * x.vol_term;
  r.decay = 0.0;
  if (!x.settled && (c.kind == instrument_kind::future || c.kind == instrument_kind::option)) {
    valuation_inputs later = x;
    later.time_to_expiry -= horizon_years;
    r.decay = unit_value(c, later) - unit_value(c, x);
  }
  r.decay += unit_funding(c, x, funding_periods);
  return r;
}

// Whether a position counts in the notional floor's gross notional (docs/design.md 3.5): every
// position but long options (their worst loss is their value, already in the scenarios) and
// settled instruments (no scenario moves them).
MSYNC_HD inline bool in_notional_floor(const contract_terms& c, const valuation_inputs& x,
                                       double quantity) {
  if (x.settled) return false;
  return !(c.kind == instrument_kind::option && quantity > 0.0);
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
