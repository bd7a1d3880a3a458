// Tests of philox.hpp: Philox4x32-10 known answers, the (0, 1] uniform mapping and the
// Box-Muller normals.
//
// Statistical tests use a fixed counter range, so each is deterministic: it either always passes
// or always fails. Bounds are set at 5 standard errors of the statistic under the hypothesis that
// the generator is right (a false alarm probability below 1e-6 per check, were the draws fresh),
// which still rejects any systematic error larger than ~5 standard errors.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <vector>

#include "marginsync/black_scholes.hpp"  // norm_cdf, for the chi-square bins
#include "marginsync/philox.hpp"

namespace {

using msync::philox4x32_10;
using msync::philox_u32x4;

// Random123 known-answer vectors, DEShawResearch/random123, tests/kat_vectors, the philox4x32 10
// lines: counter[4] key[2] -> result[4].
TEST(Philox, Random123KnownAnswers) {
  struct kat {
    std::uint32_t ctr[4];
    std::uint32_t key[2];
    std::uint32_t expected[4];
  };
  const kat kats[] = {
      {{0x00000000u, 0x00000000u, 0x00000000u, 0x00000000u},
       {0x00000000u, 0x00000000u},
       {0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u}},
      {{0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu},
       {0xffffffffu, 0xffffffffu},
       {0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu}},
      {{0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u},
       {0xa4093822u, 0x299f31d0u},
       {0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u}},
  };
  for (const kat& k : kats) {
    const philox_u32x4 out =
        philox4x32_10(philox_u32x4{{k.ctr[0], k.ctr[1], k.ctr[2], k.ctr[3]}}, k.key[0], k.key[1]);
    for (int i = 0; i < 4; ++i) {
      EXPECT_EQ(out.v[i], k.expected[i])
          << "word " << i << " of KAT with counter " << std::hex << k.ctr[0] << " key " << k.key[0];
    }
  }
}

int popcount32(std::uint32_t x) {
  int n = 0;
  for (; x != 0u; x &= x - 1u) ++n;
  return n;
}

// Strict avalanche: flipping one input bit flips each output bit with probability 1/2, so the
// Hamming distance between the two 128-bit outputs is Binomial(128, 1/2): mean 64, variance 32.
// Over n trials the mean distance has standard error sqrt(32 / n).
TEST(Philox, AvalancheOnCounterAndKeyBits) {
  const int n = 20000;
  double total = 0.0;
  std::uint32_t state = 12345u;
  auto next = [&state]() {  // a small LCG to pick inputs; quality is irrelevant here
    state = state * 1664525u + 1013904223u;
    return state;
  };
  for (int i = 0; i < n; ++i) {
    philox_u32x4 ctr{{next(), next(), next(), next()}};
    std::uint32_t k0 = next(), k1 = next();
    const philox_u32x4 a = philox4x32_10(ctr, k0, k1);
    const std::uint32_t bit = next() % 192u;  // 128 counter bits and 64 key bits
    if (bit < 128u) {
      ctr.v[bit / 32u] ^= 1u << (bit % 32u);
    } else if (bit < 160u) {
      k0 ^= 1u << (bit - 128u);
    } else {
      k1 ^= 1u << (bit - 160u);
    }
    const philox_u32x4 b = philox4x32_10(ctr, k0, k1);
    int d = 0;
    for (int w = 0; w < 4; ++w) d += popcount32(a.v[w] ^ b.v[w]);
    total += d;
  }
  const double mean = total / n;
  EXPECT_NEAR(mean, 64.0, 5.0 * std::sqrt(32.0 / n));
}

// ---------------------------------------------------------------------------------------------
// uniform_open0: 53 bits of (hi, lo), mapped to (0, 1].

TEST(UniformOpen0, ExtremesAndSpacing) {
  const double ulp53 = 1.0 / 9007199254740992.0;                   // 2^-53
  EXPECT_EQ(msync::uniform_open0(0u, 0u), ulp53);                  // smallest: never 0
  EXPECT_EQ(msync::uniform_open0(0xffffffffu, 0xffffffffu), 1.0);  // largest: exactly 1
  // The low 11 bits of lo are dropped (53 of 64 bits kept).
  EXPECT_EQ(msync::uniform_open0(0u, 0x7ffu), ulp53);
  EXPECT_EQ(msync::uniform_open0(0u, 0x800u), 2.0 * ulp53);
  EXPECT_EQ(msync::uniform_open0(0x80000000u, 0u), 0.5 + ulp53);
  EXPECT_EQ(msync::uniform_open0(0x7fffffffu, 0xfffff800u), 0.5);
  // hi is the high word: swapping the words changes the value.
  EXPECT_NE(msync::uniform_open0(1u, 0u), msync::uniform_open0(0u, 1u));
  EXPECT_EQ(msync::uniform_open0(1u, 0u), (2097152.0 + 1.0) * ulp53);  // 2^32 >> 11 = 2^21
  // log is finite everywhere on the range, as Box-Muller needs.
  EXPECT_TRUE(std::isfinite(std::log(msync::uniform_open0(0u, 0u))));
}

TEST(UniformOpen0, RangeMeanAndVarianceOnPhiloxStream) {
  const int n = 1000000;
  double sum = 0.0, sum_sq = 0.0, lo = 2.0, hi = -1.0;
  for (int i = 0; i < n; ++i) {
    const philox_u32x4 r =
        philox4x32_10(philox_u32x4{{static_cast<std::uint32_t>(i), 0u, 0u, 0u}}, 2026u, 11u);
    for (int half = 0; half < 2; ++half) {
      const double u = msync::uniform_open0(r.v[2 * half], r.v[2 * half + 1]);
      ASSERT_GT(u, 0.0);
      ASSERT_LE(u, 1.0);
      sum += u;
      sum_sq += (u - 0.5) * (u - 0.5);
      if (u < lo) lo = u;
      if (u > hi) hi = u;
    }
  }
  const double m = 2.0 * n;
  // U(0,1): mean 1/2 with variance 1/12; (u - 1/2)^2 has mean 1/12 and variance
  // 1/80 - 1/144 = 1/180.
  EXPECT_NEAR(sum / m, 0.5, 5.0 * std::sqrt(1.0 / 12.0 / m));
  EXPECT_NEAR(sum_sq / m, 1.0 / 12.0, 5.0 * std::sqrt(1.0 / 180.0 / m));
  // With 2e6 draws the extremes are within ~1e-5 of the ends (P(min > 1e-5) = e^{-20}).
  EXPECT_LT(lo, 1e-5);
  EXPECT_GT(hi, 1.0 - 1e-5);
}

// ---------------------------------------------------------------------------------------------
// normals_from_block: Box-Muller.

struct normal_sample {
  std::vector<double> z0, z1;
};

const normal_sample& box_muller_sample() {
  static const normal_sample sample = [] {
    normal_sample s;
    const int n = 1000000;
    s.z0.reserve(n);
    s.z1.reserve(n);
    for (int i = 0; i < n; ++i) {
      const msync::normal_pair p = msync::normals_from_block(philox4x32_10(
          philox_u32x4{{static_cast<std::uint32_t>(i), 0u, 7u, 3u}}, 0x12345678u, 0x9abcdef0u));
      s.z0.push_back(p.z0);
      s.z1.push_back(p.z1);
    }
    return s;
  }();
  return sample;
}

TEST(NormalsFromBlock, KnownValuesFromUniforms) {
  // Box-Muller by hand on the block's two uniforms.
  const philox_u32x4 r = philox4x32_10(philox_u32x4{{1u, 2u, 3u, 4u}}, 5u, 6u);
  const double u1 = msync::uniform_open0(r.v[0], r.v[1]);
  const double u2 = msync::uniform_open0(r.v[2], r.v[3]);
  const double rad = std::sqrt(-2.0 * std::log(u1));
  const double two_pi = 8.0 * std::atan(1.0);
  const msync::normal_pair p = msync::normals_from_block(r);
  EXPECT_NEAR(p.z0, rad * std::cos(two_pi * u2), 1e-14);
  EXPECT_NEAR(p.z1, rad * std::sin(two_pi * u2), 1e-14);
  // u1 = 1 gives radius 0; u1 = 2^-53 gives the largest radius sqrt(2 * 53 ln 2) = 8.57.
  const msync::normal_pair zero =
      msync::normals_from_block(philox_u32x4{{0xffffffffu, 0xffffffffu, 0x12345678u, 0u}});
  EXPECT_EQ(zero.z0, 0.0);
  EXPECT_EQ(zero.z1, 0.0);
  const msync::normal_pair big = msync::normals_from_block(philox_u32x4{{0u, 0u, 0u, 0u}});
  EXPECT_NEAR(big.z0, std::sqrt(106.0 * std::log(2.0)), 1e-12);  // angle 2 pi 2^-53 ~ 0
  EXPECT_TRUE(std::isfinite(big.z0));
}

// Moments over 2e6 normals. Standard errors for N iid N(0,1): mean sqrt(1/N); E[z^2] sqrt(2/N);
// E[z^3] sqrt(15/N); E[z^4] sqrt(96/N) (Var z^4 = 105 - 9).
TEST(NormalsFromBlock, Moments) {
  const normal_sample& s = box_muller_sample();
  double m1 = 0.0, m2 = 0.0, m3 = 0.0, m4 = 0.0;
  for (const std::vector<double>* v : {&s.z0, &s.z1}) {
    for (double z : *v) {
      const double z2 = z * z;
      m1 += z;
      m2 += z2;
      m3 += z2 * z;
      m4 += z2 * z2;
    }
  }
  const double N = static_cast<double>(s.z0.size() + s.z1.size());
  EXPECT_NEAR(m1 / N, 0.0, 5.0 * std::sqrt(1.0 / N));
  EXPECT_NEAR(m2 / N, 1.0, 5.0 * std::sqrt(2.0 / N));
  EXPECT_NEAR(m3 / N, 0.0, 5.0 * std::sqrt(15.0 / N));
  EXPECT_NEAR(m4 / N, 3.0, 5.0 * std::sqrt(96.0 / N));
}

// Sample correlation of two independent series has standard error ~ 1/sqrt(n).
double correlation(const std::vector<double>& x, const std::vector<double>& y, std::size_t lag_y,
                   bool squared) {
  const std::size_t n = x.size() - lag_y;
  double sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const double a = squared ? x[i] * x[i] : x[i];
    const double b = squared ? y[i + lag_y] * y[i + lag_y] : y[i + lag_y];
    sx += a;
    sy += b;
    sxx += a * a;
    syy += b * b;
    sxy += a * b;
  }
  const double dn = static_cast<double>(n);
  const double cov = sxy / dn - (sx / dn) * (sy / dn);
  const double vx = sxx / dn - (sx / dn) * (sx / dn);
  const double vy = syy / dn - (sy / dn) * (sy / dn);
  return cov / std::sqrt(vx * vy);
}

TEST(NormalsFromBlock, PairAndNeighboursAreUncorrelated) {
  const normal_sample& s = box_muller_sample();
  const double bound = 5.0 / std::sqrt(static_cast<double>(s.z0.size()));
  // The two outputs of one block (Box-Muller pairs are independent only if u1, u2 are).
  EXPECT_NEAR(correlation(s.z0, s.z1, 0, false), 0.0, bound);
  // Their squares: catches a dependence through the shared radius that a linear correlation
  // misses (z0^2 + z1^2 = -2 log u1; independence makes corr(z0^2, z1^2) = 0).
  EXPECT_NEAR(correlation(s.z0, s.z1, 0, true), 0.0, bound);
  // Consecutive counters.
  EXPECT_NEAR(correlation(s.z0, s.z0, 1, false), 0.0, bound);
  EXPECT_NEAR(correlation(s.z1, s.z0, 1, false), 0.0, bound);
  EXPECT_NEAR(correlation(s.z0, s.z0, 1, true), 0.0, bound);
}

// Wilson-Hilferty approximation of the upper quantile of chi-square with k degrees of freedom at
// the standard normal quantile zq: k (1 - 2/(9k) + zq sqrt(2/(9k)))^3. Accurate to well under 1%
// for k ~ 40, which is plenty for a rejection threshold.
double chi_square_quantile(double k, double zq) {
  const double c = 2.0 / (9.0 * k);
  const double t = 1.0 - c + zq * std::sqrt(c);
  return k * t * t * t;
}

// Goodness of fit: 40 bins of width 0.2 on [-4, 4] plus the two tails, expected probabilities
// from norm_cdf (itself checked against 40-digit values in test_black_scholes.cpp). Smallest
// expected count: 2e6 * Phi(-4) = 63, so the chi-square approximation holds.
TEST(NormalsFromBlock, ChiSquareGoodnessOfFit) {
  const normal_sample& s = box_muller_sample();
  const int inner = 40;
  const double lo = -4.0, width = 0.2;
  std::vector<double> count(inner + 2, 0.0);
  for (const std::vector<double>* v : {&s.z0, &s.z1}) {
    for (double z : *v) {
      int bin;
      if (z < lo) {
        bin = 0;
      } else if (z >= lo + inner * width) {
        bin = inner + 1;
      } else {
        bin = 1 + static_cast<int>((z - lo) / width);
        if (bin > inner) bin = inner;  // z a hair below 4 after rounding
      }
      count[static_cast<std::size_t>(bin)] += 1.0;
    }
  }
  const double N = static_cast<double>(s.z0.size() + s.z1.size());
  double chi2 = 0.0;
  for (int b = 0; b < inner + 2; ++b) {
    const double a = b == 0 ? -INFINITY : lo + (b - 1) * width;
    const double c = b == inner + 1 ? INFINITY : lo + b * width;
    const double pa = b == 0 ? 0.0 : msync::norm_cdf(a);
    const double pc = b == inner + 1 ? 1.0 : msync::norm_cdf(c);
    const double expected = N * (pc - pa);
    ASSERT_GT(expected, 50.0);
    const double d = count[static_cast<std::size_t>(b)] - expected;
    chi2 += d * d / expected;
  }
  const double dof = inner + 1;  // 42 bins, probabilities fully specified
  // Upper 1e-6 quantile (zq = 4.753); the mean is 41 and the standard deviation 9.1.
  EXPECT_LT(chi2, chi_square_quantile(dof, 4.753)) << "chi2 = " << chi2;
}

}  // namespace
