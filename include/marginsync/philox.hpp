#pragma once
// Philox4x32-10 (Salmon, Moraes, Dror, Shaw, "Parallel Random Numbers: As Easy as 1, 2, 3", SC11),
// the counter-based generator of Random123. Output is a pure function of (counter, key), so a
// scenario's draws depend only on (seed, scenario, factor) and never on the backend, the thread
// layout or the book size. Tested against Random123's published known-answer vectors.
#include "marginsync/hd.hpp"

namespace msync {

struct philox_u32x4 {
  std::uint32_t v[4];
};

namespace detail {
MSYNC_HD inline void mulhilo32(std::uint32_t a, std::uint32_t b, std::uint32_t& hi,
                               std::uint32_t& lo) {
  const std::uint64_t p = static_cast<std::uint64_t>(a) * b;
  hi = static_cast<std::uint32_t>(p >> 32);
  lo = static_cast<std::uint32_t>(p);
}
}  // namespace detail

MSYNC_HD inline philox_u32x4 philox4x32_10(philox_u32x4 ctr, std::uint32_t key0,
                                           std::uint32_t key1) {
  constexpr std::uint32_t M0 = 0xD2511F53u, M1 = 0xCD9E8D57u;
  constexpr std::uint32_t W0 = 0x9E3779B9u, W1 = 0xBB67AE85u;  // Weyl key increments
  for (int round = 0; round < 10; ++round) {
    std::uint32_t hi0, lo0, hi1, lo1;
    detail::mulhilo32(M0, ctr.v[0], hi0, lo0);
    detail::mulhilo32(M1, ctr.v[2], hi1, lo1);
    ctr = philox_u32x4{{hi1 ^ ctr.v[1] ^ key0, lo1, hi0 ^ ctr.v[3] ^ key1, lo0}};
    key0 += W0;
    key1 += W1;
  }
  return ctr;
}

// 53-bit uniform in (0, 1]: never 0, so log(u) is finite.
MSYNC_HD inline double uniform_open0(std::uint32_t hi, std::uint32_t lo) {
  const std::uint64_t bits = ((static_cast<std::uint64_t>(hi) << 32) | lo) >> 11;
  return static_cast<double>(bits + 1) * (1.0 / 9007199254740992.0);  // 2^-53
}

struct normal_pair {
  double z0;
  double z1;
};

// Two independent standard normals from one Philox block (Box-Muller on two 53-bit uniforms).
MSYNC_HD inline normal_pair normals_from_block(philox_u32x4 r) {
  const double u1 = uniform_open0(r.v[0], r.v[1]);
  const double u2 = uniform_open0(r.v[2], r.v[3]);
  const double radius = sqrt(-2.0 * log(u1));
  const double angle = 6.283185307179586476925286766559 * u2;
  return normal_pair{radius * cos(angle), radius * sin(angle)};
}

}  // namespace msync
