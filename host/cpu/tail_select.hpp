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
#include <algorithm>
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

class tail_selector {
 public:
  // The k largest losses of the last select(), in no particular order.
  const double* largest() const { return top_; }

  // 1 <= k <= n. `losses` is not modified. `block_max`, when given, holds the largest loss of each
  // block of tail_block (the last block may be shorter), as cpu::finish_losses writes it.
  tail_statistics select(const double* losses, std::size_t n, std::size_t k,
                         const double* block_max = nullptr) {
    const std::size_t blocks = (n + tail_block - 1) / tail_block;
    if (2 * k <= blocks) {
      if (!block_max) {
        own_block_max_.resize(blocks);
        for (std::size_t b = 0; b < blocks; ++b) {
          const std::size_t end = std::min(n, tail_block * (b + 1));
          double top = losses[tail_block * b];
          for (std::size_t i = tail_block * b + 1; i < end; ++i) top = std::max(top, losses[i]);
          own_block_max_[b] = top;
        }
        block_max = own_block_max_.data();
      }
      return select_small_tail(losses, n, k, block_max);
    }
    buffer_.assign(losses, losses + n);
    return finish(n, k);  // large tail: select over everything
  }

 private:
  // The k-th largest of v[0 .. m) (1 <= k <= m), by quickselect with out-of-place partitions
  // (cpu::partition_around: no branch per element, vectorized where the processor allows). Each
  // pass writes the two scratch buffers it does not read; v is not modified.
  double kth_largest(const double* v, std::size_t m, std::size_t k) {
    for (std::vector<double>& b : scratch_)
      if (b.size() < m + 8) b.resize(m + 8);
    const double* src = v;
    int current = 2;  // which scratch buffer src is; the caller's array leaves buffer 2 free too
    for (;;) {
      if (m <= 8) {  // sort the few left, descending
        double small[8];
        std::copy(src, src + m, small);
        std::sort(small, small + m, std::greater<double>());
        return small[k - 1];
      }
      // Partition into the two buffers src is not.
      const int out_above = (current + 1) % 3;
      const int out_below = (current + 2) % 3;
      const double p = median_of_three(src[0], src[m / 2], src[m - 1]);
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

  static double median_of_three(double a, double b, double c) {
    return std::max(std::min(a, b), std::min(std::max(a, b), c));
  }

  tail_statistics select_small_tail(const double* losses, std::size_t n, std::size_t k,
                                    const double* block_max) {
    const std::size_t blocks = (n + tail_block - 1) / tail_block;
    const double floor = kth_largest(block_max, blocks, k);
    // Candidates: the losses >= floor in the blocks that reach it.
    if (buffer_.size() < n + 8) buffer_.resize(n + 8);
    const std::size_t kept = cpu::gather_at_least(losses, n, block_max, floor, buffer_.data());
    return finish(kept, k);
  }

  // VaR and ES from buffer_[0 .. count), which holds the k largest losses (and perhaps more), in
  // scenario order. ES sums the losses above VaR in that order, then the ties at VaR: the same
  // bits for the same losses whatever the selection did.
  tail_statistics finish(std::size_t count, std::size_t k) {
    const double var = kth_largest(buffer_.data(), count, k);
    if (top_buffer_.size() < k) top_buffer_.resize(k);
    double* top = top_buffer_.data();
    double sum = 0.0;
    std::size_t above = 0;
    for (std::size_t i = 0; i < count; ++i) {
      const double x = buffer_[i];
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
    return tail_statistics{var, sum / static_cast<double>(k)};
  }

  std::vector<double> buffer_;
  std::vector<double> scratch_[3];
  std::vector<double> top_buffer_;
  std::vector<double> own_block_max_;
  const double* top_ = nullptr;
};

}  // namespace msync
