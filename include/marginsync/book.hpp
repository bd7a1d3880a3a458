#pragma once
// The book in memory: structure of arrays with dense 32-bit indices (docs/design.md section 1).
// Positions are sorted by account, then underlying, then instrument; an account is the contiguous
// range [account_position_begin[a], account_position_begin[a + 1]) and an exposure (account,
// underlying) the range [exposure_position_begin[x], exposure_position_begin[x + 1]).
// Accounts keep their input order; strings live only here, kernels see the index arrays.
// The numeric arrays are columns (marginsync/column.hpp): owned vectors when loaded from CSV, views
// of the mapped file when loaded from a snapshot (docs/design.md 12.2), the same interface either
// way. Account ids are a string_column the same way (views of the snapshot's string table);
// instrument ids, a few thousand, are owned strings.
#include <cstdint>
#include <string>
#include <vector>

#include "marginsync/column.hpp"
#include "marginsync/instrument_kind.hpp"
#include "marginsync/market.hpp"
#include "marginsync/string_column.hpp"
#include "marginsync/time_units.hpp"
#include "marginsync/valuation.hpp"

namespace msync {

struct instrument_table {
  std::vector<std::string> id;
  column<instrument_kind> kind;
  column<std::uint8_t> is_call;      // options only
  column<std::uint32_t> underlying;  // index into market_state::symbols
  column<double> strike;             // options only, quote currency
  column<double> multiplier;         // units of the underlying per contract
  column<std::int64_t> expiry_ns;    // futures and options; 0 otherwise

  std::size_t size() const noexcept { return id.size(); }
  contract_terms terms(std::size_t i) const {
    return contract_terms{kind[i], is_call[i] != 0, strike[i], multiplier[i]};
  }
};

struct book {
  instrument_table instruments;

  // Accounts, input order.
  string_column account_id;            // each read as a std::string_view
  column<double> collateral;           // quote currency
  column<std::uint32_t> account_tier;  // index into risk_params::tiers

  // Positions, one per (account, instrument) after merging rows.
  column<std::uint32_t> position_instrument;
  column<double> position_quantity;  // signed units of the instrument (sum of the rows)
  column<double> position_cost;      // sum of q_i * entry_i (perpetuals and futures; else 0)

  // CSR offsets.
  column<std::uint64_t> account_position_begin;   // size accounts + 1
  column<std::uint64_t> account_exposure_begin;   // size accounts + 1
  column<std::uint32_t> exposure_underlying;      // size exposures
  column<std::uint64_t> exposure_position_begin;  // size exposures + 1

  std::uint64_t position_rows = 0;  // rows read from positions.csv before merging

  std::size_t accounts() const noexcept { return account_id.size(); }
  std::size_t positions() const noexcept { return position_instrument.size(); }
  std::size_t exposures() const noexcept { return exposure_underlying.size(); }
};

// Whether account a holds any position (a position closed to quantity 0 stays in the layout).
inline bool has_open_position(const book& b, std::uint32_t a) {
  for (std::uint64_t p = b.account_position_begin[a]; p < b.account_position_begin[a + 1]; ++p)
    if (b.position_quantity[p] != 0.0) return true;
  return false;
}

// Time to expiry of instrument i at `as_of_ns`, in years (ACT/365: seconds / 31,536,000). Spot and
// perpetuals get 0 (never read).
inline double instrument_years_to_expiry(const instrument_table& instruments, std::size_t i,
                                         std::int64_t as_of_ns) {
  const instrument_kind k = instruments.kind[i];
  if (k != instrument_kind::future && k != instrument_kind::option) return 0.0;
  // Both instants lie in 1900-2149 (parse_timestamp), so the nanosecond difference is exact in 64
  // bits; then ACT/365 years.
  return static_cast<double>(instruments.expiry_ns[i] - as_of_ns) / 1e9 / seconds_per_year;
}

// The same for every instrument. Inline: both backends' host code computes it.
inline std::vector<double> years_to_expiry(const instrument_table& instruments,
                                           std::int64_t as_of_ns) {
  std::vector<double> t(instruments.size(), 0.0);
  for (std::size_t i = 0; i < instruments.size(); ++i)
    t[i] = instrument_years_to_expiry(instruments, i, as_of_ns);
  return t;
}

}  // namespace msync
