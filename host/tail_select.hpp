#pragma once
// VaR and ES of one loss vector: VaR = L_(k), the k-th largest loss; ES = the mean of the k
// largest (DESIGN 3). The k largest are sorted before summing, so ES is summed in one canonical
// order (largest first) whichever way they were found.
//
// A small tail (k <= N / 16: the 99% tail of any N) is found with a tournament filter instead of
// a selection over all N losses. The maximum of each block of 8 losses and of each group of 8
// blocks is known (cpu::finish_losses computes the block maxima in the same pass as bad debt).
// If at least k groups have a maximum >= f, at least k losses are >= f, so the k-th largest group
// maximum is a floor below L_(k); within the groups above it, the k-th largest block maximum is a
// tighter floor; the losses at or above that floor (about k of them for independent scenarios)
// are all that the final selection looks at. Exact for any input order; no sampling.
// A large tail uses nth_element on a copy.
#include <algorithm>
#include <cstddef>
#include <functional>
#include <vector>

namespace msync {

struct tail_statistics {
  double var;
  double es;
};

class tail_selector {
 public:
  // The k largest losses of the last select(), largest first.
  const double* largest() const { return top_; }

  // 1 <= k <= n. `losses` is not modified. `block_max`, when given, holds the largest loss of each
  // block of 8 (the last block may be shorter), as cpu::finish_losses writes it.
  tail_statistics select(const double* losses, std::size_t n, std::size_t k,
                         const double* block_max = nullptr) {
    if (k * 16 <= n) {
      if (!block_max) {
        own_block_max_.resize((n + 7) / 8);
        for (std::size_t b = 0; b < own_block_max_.size(); ++b) {
          const std::size_t end = std::min(n, 8 * b + 8);
          double top = losses[8 * b];
          for (std::size_t i = 8 * b + 1; i < end; ++i) top = std::max(top, losses[i]);
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
  // The k-th largest of v[0 .. count), reordering v.
  static double kth_largest(double* v, std::size_t count, std::size_t k) {
    std::nth_element(v, v + (k - 1), v + count, std::greater<double>());
    return v[k - 1];
  }

  tail_statistics select_small_tail(const double* losses, std::size_t n, std::size_t k,
                                    const double* block_max) {
    const std::size_t blocks = (n + 7) / 8;
    const std::size_t groups = (blocks + 7) / 8;
    // Group maxima, and from them a first floor when there are at least k groups.
    candidates_.resize(std::max(groups, blocks));
    double* c = candidates_.data();
    std::size_t count = 0;
    if (k <= groups) {
      for (std::size_t g = 0; g < groups; ++g) {
        const std::size_t end = std::min(blocks, 8 * g + 8);
        double top = block_max[8 * g];
        for (std::size_t b = 8 * g + 1; b < end; ++b) top = std::max(top, block_max[b]);
        c[g] = top;
      }
      const double group_floor = kth_largest(c, groups, k);
      // Branch-free appends: about one block in eight passes, too often to predict.
      for (std::size_t b = 0; b < blocks; ++b) {
        c[count] = block_max[b];
        count += block_max[b] >= group_floor ? 1 : 0;
      }
    } else {
      std::copy(block_max, block_max + blocks, c);
      count = blocks;
    }
    // At least k blocks have a maximum >= block_floor, so L_(k) >= block_floor.
    const double block_floor = kth_largest(c, count, k);
    // Candidates: the losses >= block_floor in the blocks that reach it (at most 8 per block).
    if (buffer_.size() < 8 * k + 8) buffer_.resize(8 * k + 8);
    std::size_t kept = 0;
    for (std::size_t b = 0; b < blocks; ++b) {
      if (block_max[b] < block_floor) continue;
      if (kept + 8 > buffer_.size()) buffer_.resize(2 * buffer_.size());
      double* buf = buffer_.data();
      const std::size_t end = std::min(n, 8 * b + 8);
      for (std::size_t i = 8 * b; i < end; ++i) {
        buf[kept] = losses[i];
        kept += losses[i] >= block_floor ? 1 : 0;
      }
    }
    return finish(kept, k);
  }

  // VaR and ES from buffer_[0 .. count), which holds the k largest losses (and perhaps more).
  tail_statistics finish(std::size_t count, std::size_t k) {
    double* buf = buffer_.data();
    std::nth_element(buf, buf + (k - 1), buf + count, std::greater<double>());
    std::sort(buf, buf + (k - 1), std::greater<double>());
    top_ = buf;
    double sum = 0.0;
    for (std::size_t i = 0; i < k; ++i) sum += buf[i];
    return tail_statistics{buf[k - 1], sum / static_cast<double>(k)};
  }

  std::vector<double> buffer_;
  std::vector<double> candidates_;
  std::vector<double> own_block_max_;
  const double* top_ = nullptr;
};

}  // namespace msync
