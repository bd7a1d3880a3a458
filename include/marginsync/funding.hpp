#pragma once
// Perpetual funding on a stream (docs/design.md 8.7): over an interval of `periods` 8-hour funding
// periods each perpetual position pays q m S funding_rate periods out of its account's collateral,
// at the spot in force during the interval (longs pay shorts when the rate is positive). One rule
// for the stream engine, the CPU backend's tick pass and the backend interface's default.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "marginsync/book.hpp"
#include "marginsync/errors.hpp"
#include "marginsync/hd.hpp"

namespace msync {

// The funding one perpetual position pays over the interval (quote currency; negative: it
// receives), in this order of operations: the stream's collateral changes depend on its bits.
MSYNC_HD inline double position_funding(double quantity, double multiplier, double spot,
                                        double funding_rate, double periods) {
  return quantity * multiplier * spot * funding_rate * periods;
}

// Funding over one interval between two stream updates, for the positions of `positions` as they
// were during it. No funding when `positions` is null or periods is not positive.
struct funding_accrual {
  const book* positions = nullptr;
  double periods = 0.0;          // 8-hour funding periods in the interval
  const double* spot = nullptr;  // per underlying: the spot in force during the interval
  const double* rate = nullptr;  // per underlying: funding rate per 8 hours (market.json)

  bool any() const noexcept { return positions != nullptr && periods > 0.0; }
};

// `change` (account a's collateral moved so far) less the funding a's perpetual positions pay,
// one position at a time in book order. A zero rate pays nothing (and leaves the bits of `change`
// as they are, a negative zero included).
inline double account_after_funding(const book& b, std::size_t a, const funding_accrual& f,
                                    double change) {
  for (std::uint64_t p = b.account_position_begin[a]; p < b.account_position_begin[a + 1]; ++p) {
    const std::uint32_t i = b.position_instrument[p];
    if (b.instruments.kind[i] != instrument_kind::perpetual) continue;
    const std::uint32_t u = b.instruments.underlying[i];
    if (f.rate[u] == 0.0) continue;
    change -= position_funding(b.position_quantity[p], b.instruments.multiplier[i], f.spot[u],
                               f.rate[u], f.periods);
  }
  return change;
}

// Every account's funding subtracted from its entry of `change` (one per account).
inline void accrue_funding(const funding_accrual& f, std::vector<double>& change) {
  if (!f.any()) return;
  MSYNC_EXPECTS(change.size() == f.positions->accounts(), "a collateral change per account");
  for (std::size_t a = 0; a < f.positions->accounts(); ++a)
    change[a] = account_after_funding(*f.positions, a, f, change[a]);
}

}  // namespace msync
