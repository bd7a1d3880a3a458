#pragma once
// VaR and ES of one loss vector: VaR = L_(k), the k-th largest loss; ES = the mean of the k
// largest (DESIGN 3). O(N) selection on a reusable copy, then the k largest are sorted so that ES
// is summed in a canonical order (largest first) whatever the selection left behind.
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
  // 1 <= k <= n. `losses` is not modified.
  tail_statistics select(const double* losses, std::size_t n, std::size_t k) {
    scratch_.assign(losses, losses + n);
    auto kth = scratch_.begin() + static_cast<std::ptrdiff_t>(k - 1);
    std::nth_element(scratch_.begin(), kth, scratch_.end(), std::greater<double>());
    std::sort(scratch_.begin(), kth, std::greater<double>());
    double sum = 0.0;
    for (auto it = scratch_.begin(); it != kth + 1; ++it) sum += *it;
    return tail_statistics{*kth, sum / static_cast<double>(k)};
  }

 private:
  std::vector<double> scratch_;
};

}  // namespace msync
