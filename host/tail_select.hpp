#pragma once
// VaR and ES of one loss vector: VaR = L_(k), the k-th largest loss; ES = the mean of the k
// largest (DESIGN 3). The k largest are sorted before summing, so ES is summed in one canonical
// order (largest first) whichever way they were found.
//
// For a small tail (k <= N / 16: the 99% tail of any N) one scan keeps candidates in a buffer of
// 4k: a loss enters only if it exceeds the k-th largest found so far, and a full buffer is cut
// back to its k largest. After the first few hundred scenarios almost every loss fails its one
// comparison, so the scan costs about one compare per scenario. A large tail uses nth_element
// on a copy.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <functional>
#include <vector>

#include "cpu_loss_kernels.hpp"

namespace msync {

struct tail_statistics {
  double var;
  double es;
};

class tail_selector {
 public:
  // The k largest losses of the last select(), largest first.
  const double* largest() const { return top_; }

  // 1 <= k <= n. `losses` is not modified.
  tail_statistics select(const double* losses, std::size_t n, std::size_t k) {
    if (k * 16 <= n) return select_small_tail(losses, n, k);
    scratch_.assign(losses, losses + n);
    auto kth = scratch_.begin() + static_cast<std::ptrdiff_t>(k - 1);
    std::nth_element(scratch_.begin(), kth, scratch_.end(), std::greater<double>());
    std::sort(scratch_.begin(), kth, std::greater<double>());
    top_ = scratch_.data();
    double sum = 0.0;
    for (auto it = scratch_.begin(); it != kth + 1; ++it) sum += *it;
    return tail_statistics{*kth, sum / static_cast<double>(k)};
  }

 private:
  tail_statistics select_small_tail(const double* losses, std::size_t n, std::size_t k) {
    // A starting floor from the first m losses, which are a random sample because scenarios are
    // independent draws: the r-th largest of the sample, r chosen so that the floor lies below
    // the true k-th largest loss with high probability (expected rank k m / n plus four standard
    // deviations: above it about once in 10,000 accounts). Should it turn out above, the scan is
    // redone from -infinity, so the result is exact either way.
    const std::size_t m = std::min<std::size_t>(n, 1024);
    const double expected = static_cast<double>(k) * static_cast<double>(m) / static_cast<double>(n);
    const std::size_t r = static_cast<std::size_t>(expected + 4.0 * std::sqrt(expected) + 1.0);
    double start = -HUGE_VAL;
    if (r < m) {
      // The r largest of the sample, kept sorted (largest first) by insertion: r is a few dozen
      // and almost every sample element fails the first comparison.
      sample_.assign(losses, losses + r);
      std::sort(sample_.begin(), sample_.end(), std::greater<double>());
      for (std::size_t i = r; i < m; ++i) {
        const double v = losses[i];
        if (!(v > sample_.back())) continue;
        std::size_t j = r - 1;
        for (; j > 0 && sample_[j - 1] < v; --j) sample_[j] = sample_[j - 1];
        sample_[j] = v;
      }
      start = sample_.back();
    }
    const std::size_t count = scan(losses, n, k, start);
    return finish(count >= k ? count : scan(losses, n, k, -HUGE_VAL), k);
  }

  // Keeps every loss above `floor` in buffer_, cutting a full buffer back to its k largest (which
  // raises the floor). Returns how many are kept; if at least k, the k largest of all are among them.
  std::size_t scan(const double* losses, std::size_t n, std::size_t k, double floor) {
    const std::size_t capacity = 4 * k;
    buffer_.resize(capacity);
    double* buf = buffer_.data();
    std::size_t count = 0;
    for (std::size_t i = cpu::next_block_above(losses, 0, n, floor); i < n;
         i = cpu::next_block_above(losses, i, n, floor)) {
      const std::size_t end = std::min(n, i + 8);
      for (; i < end; ++i) {
        if (!(losses[i] > floor)) continue;
        buf[count++] = losses[i];
        if (count == capacity) {
          std::nth_element(buf, buf + (k - 1), buf + count, std::greater<double>());
          count = k;
          floor = buf[k - 1];
        }
      }
    }
    return count;
  }

  tail_statistics finish(std::size_t count, std::size_t k) {
    double* buf = buffer_.data();
    std::nth_element(buf, buf + (k - 1), buf + count, std::greater<double>());
    std::sort(buf, buf + (k - 1), std::greater<double>());
    top_ = buf;
    double sum = 0.0;
    for (std::size_t i = 0; i < k; ++i) sum += buf[i];
    return tail_statistics{buf[k - 1], sum / static_cast<double>(k)};
  }

  std::vector<double> scratch_;
  std::vector<double> buffer_;
  std::vector<double> sample_;
  const double* top_ = nullptr;
};

}  // namespace msync
