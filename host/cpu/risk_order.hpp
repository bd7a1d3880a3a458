#pragma once
// The order in which the CPU backend's scenario risk visits accounts, and in which it adds their
// bad debt (docs/design.md 3.9, 16.2): the accounts ordered by their first three underlyings (an
// account with fewer sorts before those with more that share its first ones), ties in account
// order. Consecutive accounts then read the same scenario rows (and P&L table tiles) while those
// are in cache. A function of the book's exposures alone; a book holding some of the accounts of
// another, in the same relative order (book_slice.hpp), orders them as the whole book does, since
// the keys are the same and ties keep account order.
#include <algorithm>
#include <cstdint>
#include <numeric>
#include <vector>

#include "marginsync/column.hpp"
#include "marginsync/risk_share.hpp"

namespace msync::cpu {

// A stable LSD radix sort, one counting pass per underlying slot, the third first. Linear in the
// accounts (a comparison sort was most of load_book's time at 1 M accounts).
inline std::vector<std::uint32_t> accounts_in_risk_order(
    const column<std::uint64_t>& account_exposure_begin,
    const column<std::uint32_t>& exposure_underlying) {
  const std::size_t n = account_exposure_begin.size() - 1;
  std::uint32_t digits = 1;  // a slot's digit: 0 for no underlying there, else underlying + 1
  for (std::uint32_t u : exposure_underlying) digits = std::max(digits, u + 2);
  std::vector<std::uint32_t> order(n), next(n);
  std::iota(order.begin(), order.end(), std::uint32_t{0});
  std::vector<std::uint64_t> start(digits + 1);
  for (int slot = 2; slot >= 0; --slot) {
    const auto digit = [&](std::uint32_t a) -> std::uint32_t {
      const std::uint64_t x = account_exposure_begin[a] + static_cast<std::uint64_t>(slot);
      return x < account_exposure_begin[a + 1] ? exposure_underlying[x] + 1 : 0;
    };
    std::fill(start.begin(), start.end(), 0);
    for (std::uint32_t a : order) ++start[digit(a) + 1];
    for (std::size_t d = 1; d <= digits; ++d) start[d] += start[d - 1];
    for (std::uint32_t a : order) next[start[digit(a)]++] = a;
    order.swap(next);
  }
  return order;
}

// The accounts of part `part` of `parts` of a book whose processing order is `order`, at N =
// `scenarios` (risk_share.hpp), ascending: the accounts a rank holds (book_slice.hpp).
inline std::vector<std::uint32_t> accounts_of_part(const std::vector<std::uint32_t>& order,
                                                   std::size_t scenarios, int part, int parts) {
  const account_range r = share_of_accounts(order.size(), scenarios, part, parts);
  std::vector<std::uint32_t> accounts(order.begin() + static_cast<std::ptrdiff_t>(r.begin),
                                      order.begin() + static_cast<std::ptrdiff_t>(r.end));
  std::sort(accounts.begin(), accounts.end());
  return accounts;
}

}  // namespace msync::cpu
