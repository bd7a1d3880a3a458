// The CUDA backend's order of adding the bad-debt groups' rows (marginsync/bad_debt_order.hpp),
// run on the host as the two kernels run it: the book's row is 0 + bundle 0 + bundle 1 + ...,
// each bundle 0 + its rows in group order, bit for bit whatever the waves (the device's SM count
// and memory) and chunks the groups come in.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "marginsync/bad_debt_order.hpp"

namespace msync {
namespace {

// Rows of `groups` groups over n scenarios, with magnitudes far apart so that the order of the
// additions shows in the bits.
std::vector<double> random_rows(std::uint32_t groups, std::size_t n, std::uint32_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> mantissa(0.0, 1.0);
  std::uniform_int_distribution<int> exponent(-30, 30);
  std::vector<double> rows(std::size_t{groups} * n);
  for (double& x : rows) x = rng() % 3 == 0 ? 0.0 : std::ldexp(mantissa(rng), exponent(rng));
  return rows;
}

// The definition, written out.
std::vector<double> defined_sum(const std::vector<double>& rows, std::uint32_t groups,
                                std::size_t n) {
  std::vector<double> book(n, 0.0);
  for (std::size_t s = 0; s < n; ++s) {
    double total = 0.0;
    for (std::uint32_t b = 0; b * bad_debt_bundle < groups; ++b) {
      double bundle = 0.0;
      for (std::uint32_t g = b * bad_debt_bundle; g < groups && g < (b + 1) * bad_debt_bundle; ++g)
        bundle += rows[g * n + s];
      total += bundle;
    }
    book[s] = total;
  }
  return book;
}

// The kernels' steps: the groups in waves of the given sizes (cycled), each wave's rows copied
// into a wave buffer (the device's partial rows), then bundle_wave_cell per (bundle, scenario)
// and add_finished_bundles per scenario, the carry rows swapped after each wave.
std::vector<double> in_waves(const std::vector<double>& rows, std::uint32_t groups, std::size_t n,
                             const std::vector<std::uint32_t>& waves) {
  // Two carry rows taking turns, garbage until a bundle uses them.
  std::vector<double> book(n, 0.0), carry_in(n, -12345.0), carry_out(n, 54321.0);
  std::uint32_t g0 = 0;
  for (std::size_t w = 0; g0 < groups; ++w) {
    const std::uint32_t count = std::min(waves[w % waves.size()], groups - g0);
    std::vector<double> wave(
        rows.begin() + static_cast<std::ptrdiff_t>(std::size_t{g0} * n),
        rows.begin() + static_cast<std::ptrdiff_t>(std::size_t{g0 + count} * n));
    const std::uint32_t b0 = wave_first_bundle(g0);
    for (std::uint32_t b = b0; b < b0 + wave_bundles(g0, count); ++b)
      for (std::size_t s = 0; s < n; ++s)
        bundle_wave_cell(wave.data() + s, n, g0, count, groups, b, carry_in.data() + s,
                         carry_out.data() + s);
    for (std::size_t s = 0; s < n; ++s)
      add_finished_bundles(wave.data() + s, n, g0, count, groups, book.data() + s);
    g0 += count;
    carry_in.swap(carry_out);
  }
  return book;
}

void expect_same_bits(const std::vector<double>& a, const std::vector<double>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t s = 0; s < a.size(); ++s)
    EXPECT_EQ(std::memcmp(&a[s], &b[s], sizeof(double)), 0) << "scenario " << s;
}

TEST(BadDebtOrder, BundlesOfAWave) {
  EXPECT_EQ(wave_first_bundle(0), 0u);
  EXPECT_EQ(wave_first_bundle(17), 1u);
  EXPECT_EQ(wave_bundles(0, 16), 1u);
  EXPECT_EQ(wave_bundles(0, 17), 2u);
  EXPECT_EQ(wave_bundles(15, 2), 2u);
  EXPECT_EQ(wave_bundles(0, 528), 33u);  // a wave of 4 blocks on 132 SMs: 33 N threads
  EXPECT_TRUE(bundle_finished(0, 0, 16, 100));
  EXPECT_FALSE(bundle_finished(1, 0, 17, 100));
  EXPECT_TRUE(bundle_finished(6, 96, 4, 100));  // the book's last, shorter bundle
  EXPECT_EQ(bundle_row(1, 10), 6u);
  EXPECT_EQ(bundle_row(0, 10), 0u);
}

TEST(BadDebtOrder, TheSameBitsWhateverTheWaves) {
  const std::size_t n = 9;
  for (std::uint32_t groups : {1u, 15u, 16u, 17u, 100u, 4082u}) {
    SCOPED_TRACE(groups);
    const std::vector<double> rows = random_rows(groups, n, groups);
    const std::vector<double> want = defined_sum(rows, groups, n);
    for (const std::vector<std::uint32_t>& waves : std::vector<std::vector<std::uint32_t>>{
             {groups}, {1}, {5}, {16}, {17}, {528}, {241}, {3, 29, 16, 1, 100}}) {
      SCOPED_TRACE(waves.front());
      expect_same_bits(in_waves(rows, groups, n, waves), want);
    }
  }
}

TEST(BadDebtOrder, TheOrderShowsInTheBits) {
  // A row order that is not the bundles' gives other bits: the test above would see a change.
  const std::size_t n = 1;
  std::vector<double> rows(15, 1.0);
  rows.insert(rows.end(), {1e16, -1e16, 1.0});  // 16 and 17 in the second bundle
  const std::uint32_t groups = static_cast<std::uint32_t>(rows.size());
  double left_to_right = 0.0;
  for (double r : rows) left_to_right += r;
  const std::vector<double> bundled = in_waves(rows, groups, n, {groups});
  EXPECT_EQ(bundled, defined_sum(rows, groups, n));
  EXPECT_NE(bundled[0], left_to_right);
}

}  // namespace
}  // namespace msync
