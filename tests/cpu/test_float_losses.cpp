// The CPU backend's float delta_gamma path after the losses (docs/design.md 3.7): float losses and
// their float block maxima against scalar loops; the float tail selector against the double one on
// the same losses widened (the same VaR and ES bits, the same k largest, every loss at or above
// its candidate floor among its candidates), on orders with ties at the VaR rank; the float tail
// kernels against their portable versions; the breach scan and the double bad debt of the blocks
// that reach the cutoff against plain loops. Sizes cover groups of sixteen blocks (256 losses),
// single blocks and the short last block.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "cpu/loss_kernels.hpp"
#include "cpu/tail_kernels.hpp"
#include "cpu/tail_select.hpp"
#include "marginsync/risk_rules.hpp"

namespace msync {
namespace {

const std::size_t sizes[] = {0, 1, 15, 16, 17, 255, 256, 257, 1000, 4103, 10000};

std::vector<float> float_normals(std::size_t n, std::mt19937_64& rng, float scale) {
  std::normal_distribution<float> normal(0.0f, scale);
  std::vector<float> v(n);
  for (float& x : v) x = normal(rng);
  return v;
}

std::vector<float> block_maxima_of(const std::vector<float>& l) {
  std::vector<float> m((l.size() + tail_block - 1) / tail_block);
  for (std::size_t b = 0; b < m.size(); ++b)
    m[b] = *std::max_element(
        l.begin() + static_cast<std::ptrdiff_t>(b * tail_block),
        l.begin() + static_cast<std::ptrdiff_t>(std::min(l.size(), (b + 1) * tail_block)));
  return m;
}

TEST(float_losses, losses_and_block_maxima_equal_scalar_loops) {
  std::mt19937_64 rng(21);
  for (std::size_t n : sizes) {
    for (std::size_t count : {0u, 1u, 2u, 3u, 5u}) {
      std::vector<std::vector<float>> d_spot, d_vol;
      for (std::size_t j = 0; j < count; ++j) {
        d_spot.push_back(float_normals(n, rng, 500.0f));
        d_vol.push_back(float_normals(n, rng, 0.05f));
      }
      std::vector<cpu::exposure_term_f> terms;
      for (std::size_t j = 0; j < count; ++j)
        terms.push_back(cpu::exposure_term_f{
            d_spot[j].data(), d_vol[j].data(),
            exposure_sensitivity_f{10.0f * static_cast<float>(j) - 7.0f, 0.01f, 2000.0f, -5.0f}});
      std::vector<float> l(n, std::numeric_limits<float>::quiet_NaN());
      std::vector<float> block_max((n + 15) / 16, std::numeric_limits<float>::quiet_NaN());
      const double top =
          cpu::delta_gamma_losses_float(l.data(), n, terms.data(), count, block_max.data());
      for (std::size_t s = 0; s < n; ++s) {
        float plain = 0.0f;
        for (std::size_t j = 0; j < count; ++j)
          plain -= delta_gamma_term(terms[j].greeks, d_spot[j][s], d_vol[j][s]);
        ASSERT_EQ(l[s], plain) << "n " << n << " exposures " << count << " s " << s;
      }
      const std::vector<float> expected = block_maxima_of(l);
      for (std::size_t b = 0; b < expected.size(); ++b)
        ASSERT_EQ(block_max[b], expected[b]) << "n " << n << " exposures " << count << " b " << b;
      EXPECT_EQ(top, n ? static_cast<double>(*std::max_element(l.begin(), l.end())) : 0.0);
    }
  }
}

// Selecting on floats is selecting on the same losses widened to double, bit for bit.
void expect_float_selection_is_double_selection(const std::vector<float>& l, std::size_t k,
                                                const std::string& what) {
  const std::vector<double> wide(l.begin(), l.end());
  const std::vector<float> block_max = block_maxima_of(l);
  tail_selector_f selector_f;
  tail_selector selector;
  const tail_statistics f = selector_f.select(l.data(), l.size(), k, block_max.data());
  const tail_statistics d = selector.select(wide.data(), wide.size(), k);
  EXPECT_EQ(f.var, d.var) << what;
  EXPECT_EQ(f.es, d.es) << what;  // summed in double in scenario order: the same bits
  std::vector<double> top_f(selector_f.largest(), selector_f.largest() + k);
  std::vector<double> top_d(selector.largest(), selector.largest() + k);
  std::sort(top_f.begin(), top_f.end());
  std::sort(top_d.begin(), top_d.end());
  EXPECT_EQ(top_f, top_d) << what;
  // Every loss >= the candidate floor is among the candidates (a count above a threshold at or
  // above the floor needs only them), in scenario order.
  const float floor = selector_f.candidate_floor();
  ASSERT_FALSE(std::isnan(floor)) << what;
  EXPECT_LE(floor, static_cast<float>(f.var)) << what;
  std::vector<float> expected;
  for (float x : l)
    if (x >= floor) expected.push_back(x);
  std::vector<float> got;
  for (std::size_t i = 0; i < selector_f.candidate_count(); ++i)
    if (selector_f.candidates()[i] >= floor) got.push_back(selector_f.candidates()[i]);
  EXPECT_EQ(got, expected) << what;
}

TEST(float_losses, float_selection_equals_double_selection_with_ties_at_the_var_rank) {
  std::mt19937_64 rng(22);
  for (std::size_t n : {1u, 17u, 1000u, 1601u, 10000u}) {
    for (std::size_t k : {std::size_t{1}, std::max<std::size_t>(1, n / 100),
                          std::max<std::size_t>(1, n / 40), std::max<std::size_t>(1, n / 2)}) {
      const std::string what = "n " + std::to_string(n) + " k " + std::to_string(k);
      std::vector<float> l = float_normals(n, rng, 1000.0f);
      expect_float_selection_is_double_selection(l, k, what + " random");
      // Ties at the VaR rank: the k-th largest value repeated on both sides of rank k.
      std::vector<float> sorted = l;
      std::sort(sorted.begin(), sorted.end(), std::greater<float>());
      const float at_rank = sorted[k - 1];
      std::vector<float> tied = l;
      for (std::size_t s = 0; s < n; ++s)
        if (std::fabs(tied[s] - at_rank) < 40.0f) tied[s] = at_rank;
      expect_float_selection_is_double_selection(tied, k, what + " ties at VaR");
      for (float& x : l) x = std::round(x / 700.0f);  // few distinct values
      expect_float_selection_is_double_selection(l, k, what + " heavy ties");
      std::sort(l.begin(), l.end());
      expect_float_selection_is_double_selection(l, k, what + " ascending");
      std::fill(l.begin(), l.end(), 3.5f);
      expect_float_selection_is_double_selection(l, k, what + " constant");
    }
  }
}

TEST(float_losses, float_tail_kernels_equal_the_portable_ones_in_order) {
  std::mt19937_64 rng(23);
  for (std::size_t n : sizes) {
    std::vector<float> l = float_normals(n, rng, 100.0f);
    for (std::size_t s = 0; s < n; s += 3) l[s] = std::round(l[s] / 50.0f);  // ties with the pivot
    const float pivot = n ? l[n / 2] : 0.0f;
    std::vector<float> a1(n + 16), b1(n + 16), a2(n + 16), b2(n + 16);
    const cpu::partition_counts c1 =
        cpu::partition_around(l.data(), n, pivot, a1.data(), b1.data());
    const cpu::partition_counts c2 =
        cpu::portable::partition_around(l.data(), n, pivot, a2.data(), b2.data());
    ASSERT_EQ(c1.above, c2.above);
    ASSERT_EQ(c1.below, c2.below);
    EXPECT_TRUE(
        std::equal(a1.begin(), a1.begin() + static_cast<std::ptrdiff_t>(c1.above), a2.begin()));
    EXPECT_TRUE(
        std::equal(b1.begin(), b1.begin() + static_cast<std::ptrdiff_t>(c1.below), b2.begin()));
    const std::vector<float> block_max = block_maxima_of(l);
    for (float floor : {-1e30f, -50.0f, 80.0f, 250.0f, 1e30f}) {
      std::vector<float> g1(n + 16), g2(n + 16), expected;
      const std::size_t k1 = cpu::gather_at_least(l.data(), n, block_max.data(), floor, g1.data());
      const std::size_t k2 =
          cpu::portable::gather_at_least(l.data(), n, block_max.data(), floor, g2.data());
      for (float x : l)
        if (x >= floor) expected.push_back(x);
      ASSERT_EQ(k1, expected.size()) << "n " << n << " floor " << floor;
      ASSERT_EQ(k2, expected.size());
      EXPECT_TRUE(std::equal(expected.begin(), expected.end(), g1.begin()));
      EXPECT_TRUE(std::equal(expected.begin(), expected.end(), g2.begin()));
    }
    std::vector<float> with_nan = block_max;
    EXPECT_FALSE(cpu::any_nan(with_nan.data(), with_nan.size()));
    for (std::size_t at : {std::size_t{0}, with_nan.size() / 2, with_nan.size() - 1}) {
      if (with_nan.empty()) break;
      std::vector<float> one = with_nan;  // a NaN in the vector part and in the short rest
      one[at] = std::numeric_limits<float>::quiet_NaN();
      EXPECT_TRUE(cpu::any_nan(one.data(), one.size())) << "n " << n << " at " << at;
      const std::vector<double> wide(one.begin(), one.end());
      EXPECT_TRUE(cpu::any_nan(wide.data(), wide.size())) << "n " << n << " at " << at;
    }
  }
}

TEST(float_losses, breach_scan_equals_a_plain_count) {
  std::mt19937_64 rng(24);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  for (std::size_t n : sizes) {
    const std::vector<float> l = float_normals(n, rng, 100.0f);
    const float at = n ? l[n / 3] : 0.0f;  // a threshold equal to a loss: counted
    for (float at_least : {at, -1e30f, 1e30f, nan}) {
      for (float low : {at - 1.0f, at, nan}) {
        for (float high : {at, at + 5.0f, nan}) {
          std::int64_t count = 0;
          bool near = false;
          for (float x : l) {
            count += x >= at_least ? 1 : 0;
            near |= x >= low && x <= high;
          }
          const cpu::breach_tally t = cpu::breach_scan(l.data(), n, at_least, low, high);
          EXPECT_EQ(t.count, count) << "n " << n << " at_least " << at_least;
          EXPECT_EQ(t.near, near) << "n " << n << " [" << low << ", " << high << "]";
        }
      }
    }
  }
}

// Bad debt from the blocks that reach the cutoff equals bad debt from every double loss, bit for
// bit, whether no block, some or all reach it.
TEST(float_losses, bad_debt_of_reaching_blocks_is_double_bad_debt) {
  std::mt19937_64 rng(25);
  for (std::size_t n : sizes) {
    std::vector<std::vector<double>> ds, dv;
    std::vector<std::vector<float>> ds_f, dv_f;
    const std::size_t count = 2;
    for (std::size_t j = 0; j < count; ++j) {
      const std::vector<float> a = float_normals(n, rng, 30.0f), b = float_normals(n, rng, 0.05f);
      ds_f.push_back(a);
      dv_f.push_back(b);
      ds.emplace_back(a.begin(), a.end());
      dv.emplace_back(b.begin(), b.end());
    }
    std::vector<cpu::exposure_term> terms;
    std::vector<cpu::exposure_term_f> terms_f;
    for (std::size_t j = 0; j < count; ++j) {
      const exposure_sensitivity e = make_exposure_sensitivity(j ? -3.0 : 5.0, 0.02, 400.0, -2.0);
      terms.push_back(cpu::exposure_term{ds[j].data(), dv[j].data(), e});
      terms_f.push_back(cpu::exposure_term_f{ds_f[j].data(), dv_f[j].data(), round_to_float(e)});
    }
    std::vector<double> l(n), block_max_d((n + 15) / 16);
    cpu::delta_gamma_losses(l.data(), n, terms.data(), count, block_max_d.data());
    std::vector<float> l_f(n), block_max((n + 15) / 16);
    cpu::delta_gamma_losses_float(l_f.data(), n, terms_f.data(), count, block_max.data());
    const double bound = 1e-3;  // far above the float error of these losses
    for (double own_funds : {-1e9, -50.0, 0.0, 120.0, 400.0, 1e9}) {
      std::vector<double> expected(n, 0.25), got(n, 0.25);
      cpu::add_bad_debt(l.data(), n, own_funds, expected.data());
      const double cutoff = own_funds - bound;
      cpu::add_bad_debt_of_blocks(l_f.data(), n, block_max.data(), cutoff, own_funds, terms.data(),
                                  count, got.data());
      for (std::size_t s = 0; s < n; ++s)
        ASSERT_EQ(got[s], expected[s]) << "n " << n << " own funds " << own_funds << " s " << s;
    }
  }
}

}  // namespace
}  // namespace msync
