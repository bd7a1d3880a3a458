#pragma once
// The book-level bad-debt numbers of docs/design.md 3.9 from B_s, one value per scenario (quote
// currency): the mean, summed in scenario order, and VaR and ES of the k largest. One function for
// the CPU backend and for a run across ranks (host/mpi/), which adds the ranks' rows first, so
// that both give the same bits for the same B_s.
#include <cstddef>
#include <vector>

#include "cpu/tail_select.hpp"

namespace msync {

struct book_bad_debt {
  double mean, var, es;
};

inline book_bad_debt book_bad_debt_of(const std::vector<double>& bad_debt, std::size_t k) {
  double total = 0.0;
  for (double b : bad_debt) total += b;
  tail_selector selector;
  const tail_statistics tail = selector.select(bad_debt.data(), bad_debt.size(), k);
  return {total / static_cast<double>(bad_debt.size()), tail.var, tail.es};
}

}  // namespace msync
