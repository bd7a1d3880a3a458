// The CPU tail selection (VaR = k-th largest, ES = mean of the k largest) against a full sort, on
// orders that defeat its shortcuts: a sample floor that is too high (descending input), too low
// (ascending), ties, constant vectors, and both the small-tail and the large-tail paths.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "cpu/tail_select.hpp"

namespace msync {
namespace {

void expect_matches_sort(const std::vector<double>& losses, std::size_t k,
                         const std::string& what) {
  std::vector<double> sorted = losses;
  std::sort(sorted.begin(), sorted.end(), std::greater<double>());
  const double var = sorted[k - 1];
  const double es =
      std::accumulate(sorted.begin(), sorted.begin() + static_cast<std::ptrdiff_t>(k), 0.0) /
      static_cast<double>(k);
  tail_selector selector;
  const tail_statistics t = selector.select(losses.data(), losses.size(), k);
  EXPECT_EQ(t.var, var) << what;
  // The same k values summed in another order: equal to rounding.
  EXPECT_NEAR(t.es, es, 1e-12 * std::max(1.0, std::fabs(es)) * static_cast<double>(k)) << what;
  std::vector<double> top(selector.largest(), selector.largest() + k);
  std::sort(top.begin(), top.end(), std::greater<double>());
  for (std::size_t i = 0; i < k; ++i) EXPECT_EQ(top[i], sorted[i]) << what << " rank " << i;
  // A pure function of the losses: the same bits again.
  tail_selector again;
  const tail_statistics u = again.select(losses.data(), losses.size(), k);
  EXPECT_EQ(u.es, t.es) << what;
}

TEST(tail_select, matches_a_full_sort_on_hard_orders) {
  std::mt19937_64 rng(3);
  std::normal_distribution<double> normal(0.0, 1000.0);
  for (std::size_t n : {1u, 2u, 17u, 100u, 1599u, 1600u, 1601u, 10000u, 50000u}) {
    for (std::size_t k : {std::size_t{1}, std::size_t{7}, std::max<std::size_t>(1, n / 100),
                          std::max<std::size_t>(1, n / 16), std::max<std::size_t>(1, n / 2), n}) {
      if (k > n) continue;
      std::vector<double> v(n);
      for (double& x : v) x = normal(rng);
      const std::string what = "n " + std::to_string(n) + " k " + std::to_string(k);
      expect_matches_sort(v, k, what + " random");
      std::sort(v.begin(), v.end());
      expect_matches_sort(v, k, what + " ascending");
      std::sort(v.begin(), v.end(), std::greater<double>());
      expect_matches_sort(v, k, what + " descending");  // the sample floor is far too high
      for (double& x : v) x = std::round(x / 500.0);    // heavy ties
      expect_matches_sort(v, k, what + " ties");
      std::fill(v.begin(), v.end(), 42.0);
      expect_matches_sort(v, k, what + " constant");
    }
  }
}

}  // namespace
}  // namespace msync
