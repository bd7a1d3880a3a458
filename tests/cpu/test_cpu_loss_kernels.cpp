// The CPU backend's vectorized inner loops against plain scalar loops written from docs/design.md
// section 3: the delta_gamma losses and their block maxima, the block maxima of `full` losses, and
// the AVX-512 tail kernels against their portable versions (element for element, in order). Sizes
// cover whole groups of eight blocks, single blocks and the short last block.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "cpu/loss_kernels.hpp"
#include "cpu/tail_kernels.hpp"
#include "cpu/tail_select.hpp"

namespace msync {
namespace {

const std::size_t sizes[] = {0, 1, 15, 16, 17, 127, 128, 129, 200, 1000, 10000};

std::vector<double> normals(std::size_t n, std::mt19937_64& rng, double scale) {
  std::normal_distribution<double> normal(0.0, scale);
  std::vector<double> v(n);
  for (double& x : v) x = normal(rng);
  return v;
}

void expect_block_maxima(const std::vector<double>& l, const std::vector<double>& block_max,
                         double top) {
  const std::size_t n = l.size();
  for (std::size_t b = 0; b * tail_block < n; ++b) {
    const auto first = l.begin() + static_cast<std::ptrdiff_t>(b * tail_block);
    const auto last = l.begin() + static_cast<std::ptrdiff_t>(std::min(n, (b + 1) * tail_block));
    EXPECT_EQ(block_max[b], *std::max_element(first, last)) << "n " << n << " block " << b;
  }
  EXPECT_EQ(top, n ? *std::max_element(l.begin(), l.end()) : 0.0) << "n " << n;
}

TEST(cpu_loss_kernels, delta_gamma_losses_equal_the_scalar_sum_and_design_formula) {
  std::mt19937_64 rng(11);
  for (std::size_t n : sizes) {
    for (std::size_t count : {0u, 1u, 2u, 3u, 5u}) {
      std::vector<std::vector<double>> d_spot, d_vol;
      std::vector<cpu::exposure_term> terms;
      std::vector<double> delta, gamma, vega, decay;
      for (std::size_t j = 0; j < count; ++j) {
        d_spot.push_back(normals(n, rng, 500.0));
        d_vol.push_back(normals(n, rng, 0.05));
        delta.push_back(normals(1, rng, 10.0)[0]);
        gamma.push_back(normals(1, rng, 0.01)[0]);
        vega.push_back(normals(1, rng, 2000.0)[0]);
        decay.push_back(normals(1, rng, 50.0)[0]);
      }
      for (std::size_t j = 0; j < count; ++j)  // after the rows stop moving
        terms.push_back(
            cpu::exposure_term{d_spot[j].data(), d_vol[j].data(),
                               make_exposure_sensitivity(delta[j], gamma[j], vega[j], decay[j])});
      std::vector<double> l(n, std::numeric_limits<double>::quiet_NaN()), block_max((n + 15) / 16);
      const double top =
          cpu::delta_gamma_losses(l.data(), n, terms.data(), count, block_max.data());
      for (std::size_t s = 0; s < n; ++s) {
        double scalar = 0.0, expanded = 0.0;
        for (std::size_t j = 0; j < count; ++j) {
          scalar -= delta_gamma_term(terms[j].greeks, d_spot[j][s], d_vol[j][s]);
          const double ds = d_spot[j][s];  // docs/design.md section 3 as written
          expanded -= delta[j] * ds + 0.5 * gamma[j] * ds * ds + vega[j] * d_vol[j][s] + decay[j];
        }
        ASSERT_EQ(l[s], scalar) << "n " << n << " exposures " << count << " s " << s;
        ASSERT_NEAR(l[s], expanded, 1e-9 * (1.0 + std::fabs(expanded))) << "n " << n << " s " << s;
      }
      expect_block_maxima(l, block_max, top);
    }
  }
}

TEST(cpu_loss_kernels, block_maxima_and_bad_debt_match_scalar_loops) {
  std::mt19937_64 rng(12);
  for (std::size_t n : sizes) {
    const std::vector<double> l = normals(n, rng, 100.0);
    std::vector<double> block_max((n + 15) / 16);
    expect_block_maxima(l, block_max, cpu::block_maxima(l.data(), n, block_max.data()));
    std::vector<double> bad(n, 1.0);
    cpu::add_bad_debt(l.data(), n, 50.0, bad.data());
    for (std::size_t s = 0; s < n; ++s) EXPECT_EQ(bad[s], 1.0 + std::max(0.0, l[s] - 50.0));
  }
}

TEST(cpu_tail_kernels, vector_versions_equal_the_portable_ones_in_order) {
  std::mt19937_64 rng(13);
  for (std::size_t n : sizes) {
    std::vector<double> l = normals(n, rng, 100.0);
    for (std::size_t s = 0; s < n; s += 3) l[s] = std::round(l[s] / 50.0);  // ties with the pivot
    const double pivot = n ? l[n / 2] : 0.0;
    std::vector<double> a1(n + 8), b1(n + 8), a2(n + 8), b2(n + 8);
    const cpu::partition_counts c1 =
        cpu::partition_around(l.data(), n, pivot, a1.data(), b1.data());
    const cpu::partition_counts c2 =
        cpu::portable::partition_around(l.data(), n, pivot, a2.data(), b2.data());
    ASSERT_EQ(c1.above, c2.above);
    ASSERT_EQ(c1.below, c2.below);
    std::size_t above = 0, below = 0;
    for (double x : l) {
      above += x > pivot ? 1 : 0;
      below += x < pivot ? 1 : 0;
    }
    EXPECT_EQ(c1.above, above);
    EXPECT_EQ(c1.below, below);
    EXPECT_TRUE(
        std::equal(a1.begin(), a1.begin() + static_cast<std::ptrdiff_t>(above), a2.begin()));
    EXPECT_TRUE(
        std::equal(b1.begin(), b1.begin() + static_cast<std::ptrdiff_t>(below), b2.begin()));

    std::vector<double> block_max((n + 15) / 16);
    cpu::block_maxima(l.data(), n, block_max.data());
    for (double floor : {-1e300, -50.0, 80.0, 250.0, 1e300}) {
      std::vector<double> g1(n + 8), g2(n + 8), expected;
      const std::size_t k1 = cpu::gather_at_least(l.data(), n, block_max.data(), floor, g1.data());
      const std::size_t k2 =
          cpu::portable::gather_at_least(l.data(), n, block_max.data(), floor, g2.data());
      for (double x : l)
        if (x >= floor) expected.push_back(x);  // every loss >= floor is in a block that reaches it
      ASSERT_EQ(k1, expected.size()) << "n " << n << " floor " << floor;
      ASSERT_EQ(k2, expected.size());
      EXPECT_TRUE(std::equal(expected.begin(), expected.end(), g1.begin()));
      EXPECT_TRUE(std::equal(expected.begin(), expected.end(), g2.begin()));
    }
  }
}

}  // namespace
}  // namespace msync
