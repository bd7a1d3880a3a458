#pragma once
// Each instrument's market, prepared on the host once per revaluation for both backends
// (docs/design.md 3.2 and 3.3): its vol (mark_iv, else its underlying's surface, else the
// underlying's vol), a marked future's basis ratio, settlement, the tenor scaling of its vol shock.
// Instruments are few next to positions, so this host pass costs little beside the book's.
#include <cmath>
#include <vector>

#include "marginsync/book.hpp"
#include "marginsync/market.hpp"
#include "marginsync/risk_params.hpp"
#include "marginsync/valuation.hpp"
#include "marginsync/vol_surface.hpp"

namespace msync {

// A per-instrument mark, or NaN when the market has none.
inline double instrument_mark(const std::vector<double>& marks, std::size_t i) {
  return i < marks.size() ? marks[i] : NAN;
}

// g = (T_ref / max(T, 1 day))^beta (docs/design.md 3.3); 1 when beta = 0.
inline double vol_term_scale(const risk_params& p, double years_to_expiry) {
  if (p.vol_term_exponent == 0.0) return 1.0;
  const double one_day = 1.0 / days_per_year;
  const double t = years_to_expiry > one_day ? years_to_expiry : one_day;
  return std::pow(p.vol_term_reference_days / days_per_year / t, p.vol_term_exponent);
}

// An option's vol at this market: its mark_iv; else its underlying's surface at k = ln(K / F),
// F = S e^{bT}; else the underlying's vol.
inline double option_vol(const instrument_table& ins, std::size_t i, const market_state& m,
                         double t) {
  const double iv = instrument_mark(m.mark_iv, i);
  if (iv == iv) return iv;
  const std::uint32_t u = ins.underlying[i];
  if (u < m.surface.size() && !m.surface[u].empty() && t > 0.0) {
    const double forward = future_price(m.spot[u], m.carry(u), t);
    const double v = surface_vol(m.surface[u], m.as_of_ns, std::log(ins.strike[i] / forward), t);
    if (v == v) return v;
  }
  return m.vol[u];
}

// The settlement price of an expired instrument: its settlement_price, else its underlying's spot.
inline double settlement_price(const instrument_table& ins, std::size_t i, const market_state& m) {
  const double p = instrument_mark(m.settlement_price, i);
  return p == p ? p : m.spot[ins.underlying[i]];
}

// Instrument i's valuation_inputs at `m`, `t` its time to expiry in years (years_to_expiry).
inline valuation_inputs instrument_input(const instrument_table& ins, std::size_t i,
                                         const market_state& m, const risk_params& p, double t) {
  const std::uint32_t u = ins.underlying[i];
  const instrument_kind k = ins.kind[i];
  valuation_inputs x{m.spot[u], m.vol[u], m.rate, m.carry(u), t};
  x.funding_rate = m.funding_rate[u];
  const bool dated = k == instrument_kind::future || k == instrument_kind::option;
  if (dated && t <= 0.0) {
    x.settled = true;
    x.spot = settlement_price(ins, i, m);
  } else if (k == instrument_kind::option) {
    x.vol = option_vol(ins, i, m, t);
    x.vol_term = vol_term_scale(p, t);
  } else if (k == instrument_kind::future) {
    const double mark = instrument_mark(m.mark_price, i);
    if (mark == mark) x.basis = mark / m.spot[u];
  }
  return x;
}

// valuation_inputs of every instrument at `m` (time to expiry from m.as_of_ns), written into
// `out`: a stream's tick path reuses it from one update to the next without allocating.
inline void instrument_inputs(const instrument_table& ins, const market_state& m,
                              const risk_params& p, std::vector<valuation_inputs>& out) {
  out.resize(ins.size());
  for (std::size_t i = 0; i < ins.size(); ++i)
    out[i] = instrument_input(ins, i, m, p, instrument_years_to_expiry(ins, i, m.as_of_ns));
}

// The same, returned.
inline std::vector<valuation_inputs> instrument_inputs(const instrument_table& ins,
                                                       const market_state& m,
                                                       const risk_params& p) {
  std::vector<valuation_inputs> out;
  instrument_inputs(ins, m, p, out);
  return out;
}

// Fixes the settlement price of every future and option expired at m.as_of_ns that has none yet
// at its underlying's spot now: a stream calls it at every update, so an instrument settles at the
// first update at or after its expiry and stays settled at that price (docs/design.md 8.2).
// Returns how many instruments settled.
inline std::size_t settle_expired(const instrument_table& ins, market_state& m) {
  std::size_t settled = 0;
  for (std::size_t i = 0; i < ins.size(); ++i) {
    const instrument_kind k = ins.kind[i];
    if (k != instrument_kind::future && k != instrument_kind::option) continue;
    if (ins.expiry_ns[i] > m.as_of_ns) continue;
    if (m.settlement_price.size() < ins.size()) m.settlement_price.resize(ins.size(), NAN);
    if (m.settlement_price[i] == m.settlement_price[i]) continue;
    m.settlement_price[i] = m.spot[ins.underlying[i]];
    ++settled;
  }
  return settled;
}

}  // namespace msync
