#pragma once
// One account's revaluation (docs/design.md section 3, "Per position" and "Exposure"): its
// positions' values summed into own funds and equity, |q m S| into gross notional (and, for the
// positions the floor applies to, floor notional), their greeks and horizon decay into one
// exposure per underlying, and each exposure's liquidity add-on. The CPU backend runs it per
// account in an OpenMP loop, the CUDA backend per thread; both sum in this order.
#include <cmath>
#include <cstdint>

#include "marginsync/black_scholes.hpp"
#include "marginsync/cascade_rules.hpp"
#include "marginsync/valuation.hpp"

namespace msync {

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
};

struct account_totals {
  double own_funds;       // collateral + sum of position values
  double equity;          // own funds + credit limit
  double gross_notional;  // sum |q m S|
  double floor_notional;  // the same over the positions in the notional floor
  double liquidity_addon;
};

// Exposures [x_begin, x_end) of one account with `collateral` and its tier's `credit_limit`.
MSYNC_HD inline account_totals revalue_account(const account_revaluation_view& v,
                                               std::uint64_t x_begin, std::uint64_t x_end,
                                               double collateral, double credit_limit) {
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
      const double notional = fabs(q * c.multiplier * spot);
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
      addon +=
          liquidity_cost(fabs(delta * spot), v.impact_coefficient[u], v.vol[u], v.daily_volume[u]);
  }
  return account_totals{own, own + credit_limit, gross, floor, addon};
}

}  // namespace msync
