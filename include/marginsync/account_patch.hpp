#pragma once
// New positions and collateral for some accounts of a loaded book, in the book's layout: what a
// liquidation does to it (quantities and costs to zero, collateral to what is left), and what puts
// it back. A backend applies one in place (backend::patch_accounts) instead of loading the whole
// book again, so a cascade's rounds and grid points, and a replay's close-outs, cost only the
// accounts they touch. Host code; inline because both backends apply it to their host copy.
#include <algorithm>
#include <cstdint>
#include <vector>

#include "marginsync/book.hpp"
#include "marginsync/errors.hpp"

namespace msync {

struct account_patch {
  std::vector<std::uint32_t> accounts;  // account indices, each at most once
  std::vector<double> collateral;       // collateral[i] for accounts[i]
  // Account accounts[i]'s positions, in book order, get quantity and cost [first[i], first[i + 1]).
  std::vector<std::uint64_t> first{0};
  std::vector<double> quantity, cost;

  std::size_t size() const noexcept { return accounts.size(); }
  std::size_t positions() const noexcept { return quantity.size(); }
};

// Account a of `b` as it is now (to put it back later with apply_patch).
inline void add_current(account_patch& p, const book& b, std::uint32_t a) {
  p.accounts.push_back(a);
  p.collateral.push_back(b.collateral[a]);
  for (std::uint64_t x = b.account_position_begin[a]; x < b.account_position_begin[a + 1]; ++x) {
    p.quantity.push_back(b.position_quantity[x]);
    p.cost.push_back(b.position_cost[x]);
  }
  p.first.push_back(p.quantity.size());
}

// Account a of `b` with every position closed (quantity and cost 0) and `collateral` left.
inline void add_closed(account_patch& p, const book& b, std::uint32_t a, double collateral) {
  p.accounts.push_back(a);
  p.collateral.push_back(collateral);
  const std::uint64_t n = b.account_position_begin[a + 1] - b.account_position_begin[a];
  p.quantity.insert(p.quantity.end(), n, 0.0);
  p.cost.insert(p.cost.end(), n, 0.0);
  p.first.push_back(p.quantity.size());
}

// Writes the patch into `b`; checks first that it was made for this book's layout, so that a
// patch that does not fit changes nothing.
inline void apply_patch(book& b, const account_patch& p) {
  MSYNC_EXPECTS(p.first.size() == p.accounts.size() + 1 &&
                    p.collateral.size() == p.accounts.size() &&
                    p.cost.size() == p.quantity.size() && p.first.back() == p.quantity.size(),
                "a well-formed account patch");
  for (std::size_t i = 0; i < p.accounts.size(); ++i) {
    const std::uint32_t a = p.accounts[i];
    MSYNC_EXPECTS(a < b.accounts(), "patched accounts exist");
    MSYNC_EXPECTS(b.account_position_begin[a + 1] - b.account_position_begin[a] ==
                      p.first[i + 1] - p.first[i],
                  "a patch gives every position of its accounts");
  }
  // Each account once: a GPU writes the entries in parallel, where a repeat would race.
  std::vector<std::uint32_t> sorted = p.accounts;
  std::sort(sorted.begin(), sorted.end());
  MSYNC_EXPECTS(std::adjacent_find(sorted.begin(), sorted.end()) == sorted.end(),
                "each account once in a patch");
  for (std::size_t i = 0; i < p.accounts.size(); ++i) {
    const std::uint32_t a = p.accounts[i];
    const std::uint64_t begin = b.account_position_begin[a];
    for (std::uint64_t k = p.first[i]; k < p.first[i + 1]; ++k) {
      b.position_quantity[begin + (k - p.first[i])] = p.quantity[k];
      b.position_cost[begin + (k - p.first[i])] = p.cost[k];
    }
    b.collateral[a] = p.collateral[i];
  }
}

}  // namespace msync
