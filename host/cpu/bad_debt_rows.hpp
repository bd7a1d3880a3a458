#pragma once
// The book's bad debt per scenario, B_s = sum over accounts of max(0, L_as - own funds)
// (docs/design.md 3.9), summed as rows of fixed chunks of accounts (a function of the book and N,
// never of the thread count, so that B_s is the same with any thread count) and the rows added in
// chunk order. Each row is made (zeroed) only when one of its chunk's accounts has bad debt, and
// folded into the sum as soon as every earlier chunk is done, then freed: only the rows of chunks
// that finished ahead of an earlier one are held at a time (a few per thread) rather than one per
// chunk (256 x N doubles, 20 MB at 10,000 scenarios). The sum is the same, bit for bit, as adding
// all rows in chunk order at the end: each B_s receives the same additions in the same order, and a
// chunk without a row would have added zeros.
#include <cstddef>
#include <mutex>
#include <vector>

namespace msync::cpu {

class bad_debt_rows {
 public:
  // `fold` false keeps every row instead (a share of a book split between ranks, whose rows are
  // added after the earlier ranks' sum: take_rows).
  bad_debt_rows(std::size_t chunks, std::size_t scenarios, bool fold = true)
      : scenarios_(scenarios), fold_(fold), rows_(chunks), done_(chunks, 0), sum_(scenarios, 0.0) {}

  // Chunk c's row (N doubles), zeroed at its first use. Only the thread running chunk c calls it.
  double* row(std::size_t c) {
    if (rows_[c].empty()) rows_[c].assign(scenarios_, 0.0);
    return rows_[c].data();
  }
  // Chunk c's row back to nothing added (an attempt at the chunk to be done again).
  void clear_row(std::size_t c) { std::vector<double>().swap(rows_[c]); }
  // Chunk c is complete: its row, and those of the later chunks already complete, are added to the
  // sum in chunk order and freed.
  void done(std::size_t c) {
    const std::lock_guard<std::mutex> lock(mutex_);
    done_[c] = 1;
    if (!fold_) return;
    for (; next_ < rows_.size() && done_[next_]; ++next_) {
      const std::vector<double>& r = rows_[next_];
      for (std::size_t s = 0; s < r.size(); ++s) sum_[s] += r[s];
      std::vector<double>().swap(rows_[next_]);
    }
  }
  // The rows of chunks [first, last), in chunk order (`fold` false), once they are done.
  std::vector<std::vector<double>> take_rows(std::size_t first, std::size_t last) {
    std::vector<std::vector<double>> rows;
    for (std::size_t c = first; c < last; ++c) rows.push_back(std::move(rows_[c]));
    return rows;
  }
  // B_s for every scenario, once every chunk is done.
  std::vector<double>& sum() noexcept { return sum_; }
  // Rows made and not yet added (and freed).
  std::size_t rows_held() const {
    const std::lock_guard<std::mutex> lock(mutex_);
    std::size_t held = 0;
    for (const std::vector<double>& r : rows_) held += !r.empty();
    return held;
  }

 private:
  std::size_t scenarios_;
  bool fold_;
  std::vector<std::vector<double>> rows_;
  std::vector<unsigned char> done_;
  std::size_t next_ = 0;  // the first chunk not yet added
  mutable std::mutex mutex_;
  std::vector<double> sum_;
};

}  // namespace msync::cpu
