#pragma once
// What a trade of `quantity` contracts at `price` does to one position (docs/design.md 8.6): the
// stream applies it to its book, a what-if (docs/design.md 8.10) to its copy of one account. Plain
// numbers; equity moves by exactly quantity m (mark - price) either way.
#include <cmath>

#include "marginsync/instrument_kind.hpp"

namespace msync {

struct traded_position {
  double quantity;           // signed units of the instrument
  double cost;               // sum of quantity * entry (perpetuals and futures; else unchanged)
  double collateral_change;  // quote currency: realized P&L, or the premium paid (negative)
};

// - perpetuals and futures: through the entry cost at average cost. Adding to a position (or
//   opening one) adds quantity * price to its cost; reducing it moves the realized P&L of the
//   closed quantity, c m (average entry - price), to collateral; a trade through zero closes the
//   position and opens the rest at `price`;
// - spot and options: a payment of quantity m price out of collateral.
inline traded_position trade_position(instrument_kind kind, double multiplier, double q,
                                      double cost, double quantity, double price) {
  if (kind != instrument_kind::perpetual && kind != instrument_kind::future)
    return traded_position{q + quantity, cost, -quantity * multiplier * price};
  if (q == 0.0 || (q > 0.0) == (quantity > 0.0))
    return traded_position{q + quantity, cost + quantity * price, 0.0};
  // Reducing: close min(|quantity|, |q|) at the average entry, realize its P&L.
  const double average_entry = cost / q;
  const double closed = std::copysign(std::fmin(std::fabs(quantity), std::fabs(q)), quantity);
  const double realized = closed * multiplier * (average_entry - price);
  const double rest = quantity - closed;  // opens the other way at `price` through 0
  if (std::fabs(closed) == std::fabs(q)) return traded_position{rest, rest * price, realized};
  const double left = q + closed;
  return traded_position{left, left * average_entry, realized};
}

}  // namespace msync
