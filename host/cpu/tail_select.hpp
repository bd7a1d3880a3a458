#pragma once
// VaR and ES of one loss vector: VaR = L_(k), the k-th largest loss; ES = the mean of the k
// largest (docs/design.md section 3).
//
// A small tail (k <= N / 32: the 99% tail of any N) is found with a filter instead of a selection
// over all N losses. The maximum of each block of tail_block losses is known (cpu::finish_losses
// computes it in the same pass as bad debt). At least k blocks have a maximum >= the k-th largest
// block maximum f, so L_(k) >= f: only the losses >= f in the blocks that reach f (about k of
// them for independent scenarios) go to the final selection. Exact for any input order; no
// sampling. A large tail selects over a copy of every loss.
//
// ES sums the losses above VaR in scenario order, then the ties at VaR: a pure function of the
// losses, so the same losses give the same bits on every run and with any thread count.
//
// Any input is safe, NaN and infinities included. A NaN loss ranks as the worst, above +inf (as
// the CUDA selection ranks it): with at least k NaN losses VaR is NaN, and ES is NaN whenever any
// loss is, so the account's status becomes `error` (risk_rules.hpp). NaN is found through the
// block maxima (cpu::block_maxima propagates it; a block maximum is NaN when its block holds one):
// no extra pass over the losses on the usual path.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <functional>
#include <vector>

#include "cpu/tail_kernels.hpp"

namespace msync {

// Losses per block of the block maxima (cpu::finish_losses and tail_selector).
constexpr std::size_t tail_block = 16;

struct tail_statistics {
  double var;
  double es;
};

// T is the type of the losses: double, or float for the CPU backend's float delta_gamma losses
// (docs/design.md 3.7). A float loss widens to double exactly, so selecting on floats gives the
// VaR, the candidates and the ES (summed in double, in scenario order) that selecting on the same
// losses widened would.
template <class T>
class basic_tail_selector {
 public:
  // The k largest losses of the last select(), in no particular order.
  const T* largest() const { return top_; }

  // Every loss >= candidate_floor() of the last select(), in scenario order, is among
  // candidates()[0 .. candidate_count()) (which may hold smaller ones too): a count of the losses
  // above a threshold at or above the floor needs only these (cpu_backend's breach counts).
  const T* candidates() const { return buffer_.data(); }
  std::size_t candidate_count() const { return kept_; }
  T candidate_floor() const { return floor_; }

  // 1 <= k <= n (k is held to n; n = 0 or k = 0 give NaN). `losses` is not modified.
  // `block_max`, when given, holds the largest loss of each block of tail_block (the last block may
  // be shorter), NaN for a block holding a NaN, as cpu::block_maxima writes it.
  tail_statistics select(const T* losses, std::size_t n, std::size_t k,
                         const T* block_max = nullptr) {
    kept_ = 0;
    floor_ = T(NAN);  // no candidates: nothing is known to be among them
    if (n == 0 || k == 0) {
      top_ = nullptr;
      return tail_statistics{NAN, NAN};
    }
    if (k > n) k = n;
    const std::size_t blocks = (n + tail_block - 1) / tail_block;
    if (2 * k <= blocks) {
      if (!block_max) {
        own_block_max_.resize(blocks);
        for (std::size_t b = 0; b < blocks; ++b) {
          const std::size_t end = std::min(n, tail_block * (b + 1));
          T top = losses[tail_block * b];
          for (std::size_t i = tail_block * b + 1; i < end; ++i) top = nan_max(top, losses[i]);
          own_block_max_[b] = top;
        }
        block_max = own_block_max_.data();
      }
      const bool any_nan = cpu::any_nan(block_max, blocks);
      // The filter keeps at least k candidates unless the block maxima do not match the losses;
      // then (and with NaN) select over everything, never past what was gathered.
      if (!any_nan && select_small_tail(losses, n, k, block_max)) return finish(kept_, k);
    }
    return select_all(losses, n, k);
  }

  // The k-th largest of v[0 .. m) (1 <= k <= m, no NaN), v not modified: streaming_tail's
  // compaction.
  double kth(const double* v, std::size_t m, std::size_t k) { return kth_largest(v, m, k); }

  // The larger of a and b, NaN when either is: the block maximum of a block with a NaN is NaN.
  static T nan_max(T a, T b) { return a > b || a != a ? a : b; }

 private:
  // The k-th largest of v[0 .. m) (1 <= k <= m), by quickselect with out-of-place partitions
  // (cpu::partition_around: no branch per element, vectorized where the processor allows). Each
  // pass writes the two scratch buffers it does not read; v is not modified.
  T kth_largest(const T* v, std::size_t m, std::size_t k) {
    for (std::vector<T>& b : scratch_)
      if (b.size() < m + 16) b.resize(m + 16);
    const T* src = v;
    int current = 2;  // which scratch buffer src is; the caller's array leaves buffer 2 free too
    for (;;) {
      if (m <= 8) {                          // sort the few left, descending
        if (k > m || k == 0) return T(NAN);  // unreachable for 1 <= k <= m and NaN-free input
        T small[8];
        std::copy(src, src + m, small);
        std::sort(small, small + m, std::greater<T>());
        return small[k - 1];
      }
      // Partition into the two buffers src is not.
      const int out_above = (current + 1) % 3;
      const int out_below = (current + 2) % 3;
      const T p = median_of_three(src[0], src[m / 2], src[m - 1]);
      const cpu::partition_counts split =
          cpu::partition_around(src, m, p, scratch_[out_above].data(), scratch_[out_below].data());
      if (k <= split.above) {
        m = split.above;
        src = scratch_[out_above].data();
        current = out_above;
      } else if (k <= m - split.below) {
        return p;  // among the copies of the pivot
      } else {
        k -= m - split.below;
        m = split.below;
        src = scratch_[out_below].data();
        current = out_below;
      }
    }
  }

  static T median_of_three(T a, T b, T c) {
    return std::max(std::min(a, b), std::min(std::max(a, b), c));
  }

  // Gathers the candidates into buffer_[0 .. kept_); false when fewer than k (block maxima that
  // do not match the losses).
  bool select_small_tail(const T* losses, std::size_t n, std::size_t k, const T* block_max) {
    const std::size_t blocks = (n + tail_block - 1) / tail_block;
    const T floor = kth_largest(block_max, blocks, k);
    // Candidates: the losses >= floor in the blocks that reach it.
    if (buffer_.size() < n + 16) buffer_.resize(n + 16);
    kept_ = cpu::gather_at_least(losses, n, block_max, floor, buffer_.data());
    floor_ = floor;
    return kept_ >= k;
  }

  // Every loss: the numbers to buffer_, the NaN counted. With nan NaN losses, the worst ones, VaR
  // is the (k - nan)-th largest number (NaN when nan >= k) and ES is NaN.
  tail_statistics select_all(const T* losses, std::size_t n, std::size_t k) {
    if (buffer_.size() < n + 16) buffer_.resize(n + 16);
    std::size_t count = 0;
    for (std::size_t i = 0; i < n; ++i) {  // branch-free append of the numbers
      buffer_[count] = losses[i];
      count += losses[i] == losses[i] ? 1 : 0;
    }
    const std::size_t nan = n - count;
    kept_ = count;
    floor_ = nan == 0 ? -T(INFINITY) : T(NAN);  // every number, unless a NaN is left out
    if (nan == 0) return finish(count, k);
    if (top_buffer_.size() < k) top_buffer_.resize(k);
    double var = NAN;
    std::size_t at = 0;
    if (nan < k) {
      var = finish(count, k - nan).var;  // the k - nan largest numbers to top_buffer_[0 ..)
      at = k - nan;
    }
    std::fill(top_buffer_.begin() + static_cast<std::ptrdiff_t>(at),
              top_buffer_.begin() + static_cast<std::ptrdiff_t>(k), T(NAN));
    top_ = top_buffer_.data();
    return tail_statistics{var, NAN};
  }

  // VaR and ES from buffer_[0 .. count), which holds the k largest losses (and perhaps more), in
  // scenario order. ES sums the losses above VaR in that order, then the ties at VaR: the same
  // bits for the same losses whatever the selection did.
  tail_statistics finish(std::size_t count, std::size_t k) {
    const T var = kth_largest(buffer_.data(), count, k);
    if (top_buffer_.size() < k) top_buffer_.resize(k);
    T* top = top_buffer_.data();
    double sum = 0.0;  // in double whatever T is: each loss widens exactly
    std::size_t above = 0;
    for (std::size_t i = 0; i < count; ++i) {
      const T x = buffer_[i];
      if (x > var) {
        sum += x;
        top[above++] = x;
      }
    }
    for (std::size_t i = above; i < k; ++i) {
      sum += var;
      top[i] = var;
    }
    top_ = top;
    return tail_statistics{static_cast<double>(var), sum / static_cast<double>(k)};
  }

  std::vector<T> buffer_;
  std::vector<T> scratch_[3];
  std::vector<T> top_buffer_;
  std::vector<T> own_block_max_;
  std::size_t kept_ = 0;
  T floor_ = T(NAN);
  const T* top_ = nullptr;
};

using tail_selector = basic_tail_selector<double>;
using tail_selector_f = basic_tail_selector<float>;

}  // namespace msync
