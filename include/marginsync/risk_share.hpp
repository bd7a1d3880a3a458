#pragma once
// How the CPU backend's scenario risk cuts a book into fixed bad-debt chunks, and how a run across
// ranks (docs/design.md 16.2) splits those chunks between its parts. A function of the book's
// account count A and the scenario count N only (never of threads or ranks), so that the book's
// bad debt is the same sum, in the same order, in one process and on any number of ranks.
#include <algorithm>
#include <cstddef>

namespace msync {

// Accounts per chunk: at least 256, at most 256 chunks, and at most 256 MiB of per-chunk rows of N
// doubles. Chunk c is the accounts at positions [c * chunk, (c + 1) * chunk) of the backend's
// processing order (host/cpu/risk_order.hpp).
inline std::size_t bad_debt_chunk_accounts(std::size_t accounts, std::size_t scenarios) {
  const std::size_t row_bytes = std::max<std::size_t>(1, scenarios) * sizeof(double);
  const std::size_t max_chunks =
      std::clamp<std::size_t>((std::size_t{256} << 20) / row_bytes, 1, 256);
  return std::max<std::size_t>(256, (accounts + max_chunks - 1) / max_chunks);
}

inline std::size_t bad_debt_chunks(std::size_t accounts, std::size_t scenarios) {
  const std::size_t chunk = bad_debt_chunk_accounts(accounts, scenarios);
  return (accounts + chunk - 1) / chunk;
}

struct account_range {
  std::size_t begin = 0, end = 0;  // positions [begin, end) of the processing order
  std::size_t size() const noexcept { return end - begin; }
  bool operator==(const account_range& o) const noexcept {
    return begin == o.begin && end == o.end;
  }
};

// Part `part` of `parts` (0 <= part < parts): the chunks [n * part / parts, n * (part + 1) /
// parts) of the n chunks, as positions in the processing order: contiguous there, each part's
// begin the previous part's end; a part may be empty (fewer chunks than parts).
inline account_range share_of_accounts(std::size_t accounts, std::size_t scenarios, int part,
                                       int parts) {
  const std::size_t chunk = bad_debt_chunk_accounts(accounts, scenarios);
  const std::size_t n = (accounts + chunk - 1) / chunk;
  const auto p = static_cast<std::size_t>(part), k = static_cast<std::size_t>(parts);
  return {std::min(accounts, n * p / k * chunk), std::min(accounts, n * (p + 1) / k * chunk)};
}

// What a backend is told of its part of a split book (backend::set_risk_share): the book it holds
// is the whole book's accounts at processing positions [offset, offset + held accounts), in account
// order (book_slice.hpp), where the whole book has `book_accounts` accounts; its scenario risk
// computes part `part` of `parts`. The default is one process with the whole book.
struct risk_share {
  std::size_t book_accounts = 0;  // 0: the held book is the whole book
  std::size_t offset = 0;         // a chunk boundary of the whole book
  int part = 0, parts = 1;
};

}  // namespace msync
