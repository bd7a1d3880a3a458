#pragma once
// An exact streaming top-k of one account's losses, fed a tile of scenarios at a time (the
// blocked `full` loop, docs/design.md section 3.7): so that no account's N losses need to be
// stored, or read again, to select its tail.
//
// It keeps the candidates: every loss that may still be among the k largest, in scenario order.
// Until the buffer first fills, that is every loss that is a number; after, the losses above the
// bound, the k-th largest loss seen when the buffer last filled (a loss equal to it can no longer
// change the k-th largest, nor the sum of the losses above it). Compacting keeps the losses above
// the new bound and just enough of those equal to it to make k, in scenario order, so the buffer
// never grows with ties and is compacted at most once per k + 32 losses kept.
//
// What the candidates give is what tail_selector gives on all N losses, bit for bit: the k-th
// largest is the same number, and ES sums the same losses above VaR in the same (scenario) order,
// then the ties (tail_select.hpp). NaN losses are never kept: the caller finds them (the tile
// maxima propagate them) and does not use the candidates then.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <vector>

#include "cpu/tail_kernels.hpp"
#include "cpu/tail_select.hpp"

namespace msync::cpu {

class streaming_tail {
 public:
  // Doubles of storage one account needs for k and tiles of at most `tile` losses.
  static std::size_t capacity(std::size_t k, std::size_t tile) {
    return limit(k) + tile + 8;  // + 8: append_above's slack
  }

  // Starts an account: `storage` holds capacity(k, tile) doubles. 1 <= k.
  void reset(double* storage, std::size_t k) {
    kept_ = storage;
    k_ = k;
    limit_ = limit(k);
    count_ = 0;
    bound_ = -INFINITY;
    strict_ = false;
  }

  // The next n (<= tile) losses in scenario order; `largest` is their maximum (NaN when any is
  // NaN), which lets a tile entirely below the bound be passed over. `scratch` selects the k-th
  // largest when compacting.
  void add(const double* l, std::size_t n, double largest, tail_selector& scratch) {
    if (largest < bound_ || (strict_ && largest == bound_)) return;  // none can be kept
    count_ += append_above(l, n, bound_, strict_, kept_ + count_);
    if (count_ > limit_) compact(scratch);
  }

  const double* kept() const { return kept_; }
  std::size_t count() const { return count_; }

 private:
  // Candidates kept before compacting down to k: compacting costs about as much as the candidates
  // it reads, and it comes at most once per k + 32 kept, so it costs a few operations per kept
  // loss; and the final selection reads at most this many.
  static std::size_t limit(std::size_t k) { return 2 * k + 32; }

  // Down to the k largest: bound = the k-th largest kept (which is the k-th largest seen, since
  // every loss above the previous bound is kept); keep those above it, in order, and copies of it
  // to make k. Where the ties stand does not matter: the selection sums the losses above VaR in
  // order and then adds VaR once per missing rank (tail_select.hpp).
  void compact(tail_selector& scratch) {
    const double bound = scratch.kth(kept_, count_, k_);
    std::size_t out = append_above(kept_, count_, bound, true, kept_);  // in place
    while (out < k_) kept_[out++] = bound;
    count_ = out;
    bound_ = bound;
    strict_ = true;
  }

  double* kept_ = nullptr;
  std::size_t k_ = 1, limit_ = 0, count_ = 0;
  double bound_ = -INFINITY;
  bool strict_ = false;  // false until the first compaction: every number is kept
};

}  // namespace msync::cpu
