#pragma once
// Some accounts of a book, with their positions and exposures, as a book of their own
// (docs/design.md 16.2): what a rank of a run across ranks holds. The instruments are the whole
// book's, so instrument, underlying and tier indices mean what they mean in the whole book; the
// CSR offsets start again at 0. The slice owns its arrays (a copy of those accounts only).
#include <cstdint>
#include <vector>

#include "marginsync/book.hpp"
#include "marginsync/errors.hpp"

namespace msync {

// The accounts `accounts` of `whole` (each at most once, in any order), in that order: a book of
// some of them, or all of them in another order (convert --account-order risk).
inline book gather_accounts(const book& whole, const std::vector<std::uint32_t>& accounts) {
  book s;
  s.instruments = whole.instruments;
  std::uint64_t positions = 0, exposures = 0, characters = 0;
  for (std::size_t i = 0; i < accounts.size(); ++i) {
    const std::uint32_t a = accounts[i];
    MSYNC_EXPECTS(a < whole.accounts(), "accounts of the book");
    positions += whole.account_position_begin[a + 1] - whole.account_position_begin[a];
    exposures += whole.account_exposure_begin[a + 1] - whole.account_exposure_begin[a];
    characters += whole.account_id[a].size();
  }
  const std::size_t n = accounts.size();
  s.account_id.reserve(n, characters);
  s.collateral = column<double>(n);
  s.account_tier = column<std::uint32_t>(n);
  s.position_instrument = column<std::uint32_t>(positions);
  s.position_quantity = column<double>(positions);
  s.position_cost = column<double>(positions);
  s.account_position_begin = column<std::uint64_t>(n + 1);
  s.account_exposure_begin = column<std::uint64_t>(n + 1);
  s.exposure_underlying = column<std::uint32_t>(exposures);
  s.exposure_position_begin = column<std::uint64_t>(exposures + 1);
  std::uint64_t p = 0, x = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint32_t a = accounts[i];
    s.account_id.push_back(whole.account_id[a]);
    s.collateral[i] = whole.collateral[a];
    s.account_tier[i] = whole.account_tier[a];
    const std::uint64_t p0 = whole.account_position_begin[a];
    const std::uint64_t x0 = whole.account_exposure_begin[a];
    for (std::uint64_t w = x0; w < whole.account_exposure_begin[a + 1]; ++w, ++x) {
      s.exposure_underlying[x] = whole.exposure_underlying[w];
      s.exposure_position_begin[x] = whole.exposure_position_begin[w] - p0 + p;
    }
    for (std::uint64_t w = p0; w < whole.account_position_begin[a + 1]; ++w, ++p) {
      s.position_instrument[p] = whole.position_instrument[w];
      s.position_quantity[p] = whole.position_quantity[w];
      s.position_cost[p] = whole.position_cost[w];
    }
    s.account_position_begin[i + 1] = p;
    s.account_exposure_begin[i + 1] = x;
  }
  s.exposure_position_begin[exposures] = positions;
  s.position_rows = positions;  // the rows merged into these positions are not kept per account
  return s;
}

// The accounts `accounts` of `whole` (ascending indices), in that order: a rank's part.
inline book slice_accounts(const book& whole, const std::vector<std::uint32_t>& accounts) {
  for (std::size_t i = 1; i < accounts.size(); ++i)
    MSYNC_EXPECTS(accounts[i - 1] < accounts[i], "ascending accounts of the book");
  return gather_accounts(whole, accounts);
}

}  // namespace msync
