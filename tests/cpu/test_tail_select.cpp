// The CPU tail selection (VaR = k-th largest, ES = mean of the k largest) against a full sort, on
// orders that defeat its shortcuts: a sample floor that is too high (descending input), too low
// (ascending), ties, constant vectors, and both the small-tail and the large-tail paths.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
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

// NaN ranks as the worst loss, above +inf: with `nans` NaN losses, VaR is the (k - nans)-th largest
// number (NaN once nans >= k) and ES is NaN. Both paths (small and large tails), NaN in any
// position, and block maxima given (as cpu::block_maxima writes them: NaN where a block holds one)
// or computed by the selector. Before the fix a NaN floor gathered no candidates and the final
// selection read past its 8-element array.
TEST(tail_select, nan_losses_rank_worst_and_never_read_out_of_bounds) {
  std::mt19937_64 rng(5);
  std::normal_distribution<double> normal(0.0, 1000.0);
  for (std::size_t n : {1u, 9u, 100u, 1000u, 10000u}) {
    for (std::size_t k : {std::size_t{1}, std::size_t{3}, std::max<std::size_t>(1, n / 100), n}) {
      if (k > n) continue;
      for (std::size_t nans : {std::size_t{1}, k > 1 ? k - 1 : 1, k, std::min(n, k + 2), n}) {
        std::vector<double> v(n);
        for (double& x : v) x = normal(rng);
        std::vector<std::size_t> where(n);
        std::iota(where.begin(), where.end(), std::size_t{0});
        std::shuffle(where.begin(), where.end(), rng);
        for (std::size_t i = 0; i < nans; ++i) v[where[i]] = std::nan("");
        std::vector<double> numbers;
        for (double x : v)
          if (!std::isnan(x)) numbers.push_back(x);
        std::sort(numbers.begin(), numbers.end(), std::greater<double>());
        const std::string what =
            "n " + std::to_string(n) + " k " + std::to_string(k) + " nans " + std::to_string(nans);
        std::vector<double> block_max((n + tail_block - 1) / tail_block);
        for (std::size_t b = 0; b < block_max.size(); ++b) {
          block_max[b] = -std::numeric_limits<double>::infinity();
          for (std::size_t i = b * tail_block; i < std::min(n, (b + 1) * tail_block); ++i)
            block_max[b] = tail_selector::nan_max(block_max[b], v[i]);
        }
        for (const double* given :
             {static_cast<const double*>(nullptr), static_cast<const double*>(block_max.data())}) {
          tail_selector selector;
          const tail_statistics t = selector.select(v.data(), n, k, given);
          EXPECT_TRUE(std::isnan(t.es)) << what;
          if (nans >= k)
            EXPECT_TRUE(std::isnan(t.var)) << what;
          else
            EXPECT_EQ(t.var, numbers[k - nans - 1]) << what;
          std::size_t top_nans = 0;
          for (std::size_t i = 0; i < k; ++i) top_nans += std::isnan(selector.largest()[i]);
          EXPECT_EQ(top_nans, std::min(nans, k)) << what;
        }
      }
    }
  }
}

// Infinite losses select like any number; block maxima that do not match the losses (a caller's
// bug) fall back to the full selection instead of reading past the candidates.
TEST(tail_select, infinities_and_inconsistent_block_maxima) {
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<double> v(1000, 1.0);
  v[10] = inf;
  v[500] = -inf;
  v[999] = 5.0;
  tail_selector selector;
  tail_statistics t = selector.select(v.data(), v.size(), 2);
  EXPECT_EQ(t.var, 5.0);
  EXPECT_EQ(t.es, inf);
  t = selector.select(v.data(), v.size(), 1000);
  EXPECT_EQ(t.var, -inf);
  EXPECT_TRUE(std::isnan(t.es));               // +inf and -inf in one sum
  const std::vector<double> wrong(63, 1e300);  // every block "reaches" a floor no loss reaches
  t = selector.select(v.data(), v.size(), 3, wrong.data());
  EXPECT_EQ(t.var, 1.0);
  EXPECT_EQ(t.es, inf);
}

}  // namespace
}  // namespace msync
