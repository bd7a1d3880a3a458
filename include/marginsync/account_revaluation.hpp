#pragma once
// One account's revaluation (docs/design.md section 3, "Per position" and "Exposure"): its
// positions' values summed into equity, |q m S| into gross notional, and their greeks into one
// exposure per underlying. The CPU backend runs it per account in an OpenMP loop, the CUDA backend
// per thread; both sum in this order.
#include <cmath>
#include <cstdint>

#include "marginsync/black_scholes.hpp"
#include "marginsync/valuation.hpp"

namespace msync {

// The arrays an account's revaluation reads (CSR offsets as in book.hpp, possibly rebased to a
// chunk) and the per-exposure greeks it writes.
struct account_revaluation_view {
  const std::uint32_t* exposure_underlying;
  const std::uint64_t* exposure_position_begin;
  const std::uint32_t* position_instrument;
  const double* position_quantity;
  const double* position_cost;
  const contract_terms* terms;  // per instrument
  const option_greeks* unit;    // per instrument: unit_greeks in the current market
  const double* spot;           // per underlying
  double* exposure_delta;
  double* exposure_gamma;
  double* exposure_vega;
  double* exposure_theta;
};

struct account_totals {
  double equity;
  double gross_notional;
};

// Exposures [x_begin, x_end) of one account; `base_equity` = collateral + the tier's credit limit.
MSYNC_HD inline account_totals revalue_account(const account_revaluation_view& v,
                                               std::uint64_t x_begin, std::uint64_t x_end,
                                               double base_equity) {
  double equity = base_equity;
  double gross = 0.0;
  for (std::uint64_t x = x_begin; x < x_end; ++x) {
    const double spot = v.spot[v.exposure_underlying[x]];
    double delta = 0.0, gamma = 0.0, vega = 0.0, theta = 0.0;
    for (std::uint64_t p = v.exposure_position_begin[x]; p < v.exposure_position_begin[x + 1];
         ++p) {
      const std::uint32_t i = v.position_instrument[p];
      const double q = v.position_quantity[p];
      const option_greeks g = v.unit[i];
      const contract_terms c = v.terms[i];
      equity += position_value(c, q, v.position_cost[p], g.value);
      gross += fabs(q * c.multiplier * spot);
      delta += q * g.delta;
      gamma += q * g.gamma;
      vega += q * g.vega;
      theta += q * g.theta;
    }
    v.exposure_delta[x] = delta;
    v.exposure_gamma[x] = gamma;
    v.exposure_vega[x] = vega;
    v.exposure_theta[x] = theta;
  }
  return account_totals{equity, gross};
}

}  // namespace msync
