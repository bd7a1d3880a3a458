#pragma once
// The CUDA backend's book bad debt per scenario (docs/design.md 1.3.1), written once for the device
// and the host: the order in which the bad-debt groups' rows are added, fixed by the groups' global
// indices alone, so that the sum is the same bits whatever the wave of groups the device runs at
// once (its SM count and memory) and whether the book is in chunks.
//
// Groups are taken in bundles of bad_debt_bundle consecutive groups (bundle b: groups 16 b ..
// 16 b + 15, the last one shorter). A bundle's sum is 0 + row 16 b + row 16 b + 1 + ..., left to
// right; the book's row is 0 + bundle 0 + bundle 1 + ..., left to right. A wave of groups
// [g0, g0 + count) adds its rows with a thread per (bundle, scenario), bundle_wave_cell: a bundle
// that the wave does not finish leaves its partial sum in a carry row, which the wave that holds
// its next group continues; then a thread per scenario adds the bundles the wave finished to the
// book's row, in bundle order (add_finished_bundles). Waves come in group order. Two carry rows
// take turns (the wave's first bundle reads one while its last writes the other, in the same
// kernel): the caller swaps them after each wave.
#include <cstdint>

#include "marginsync/hd.hpp"

namespace msync {

constexpr std::uint32_t bad_debt_bundle = 16;

// The bundles a wave of groups [g0, g0 + count) touches: [first, first + count) (count >= 1).
MSYNC_HD inline std::uint32_t wave_first_bundle(std::uint32_t g0) {
  return g0 / bad_debt_bundle;
}
MSYNC_HD inline std::uint32_t wave_bundles(std::uint32_t g0, std::uint32_t count) {
  return (g0 + count - 1) / bad_debt_bundle - g0 / bad_debt_bundle + 1;
}

// Whether bundle b ends within the wave [g0, g0 + count) of a book of `groups` groups.
MSYNC_HD inline bool bundle_finished(std::uint32_t b, std::uint32_t g0, std::uint32_t count,
                                     std::uint32_t groups) {
  const std::uint64_t end = std::uint64_t{b + 1} * bad_debt_bundle;
  return (end < groups ? end : groups) <= std::uint64_t{g0} + count;
}

// Where a finished bundle's sum is left: the row of its first group in the wave.
MSYNC_HD inline std::uint32_t bundle_row(std::uint32_t b, std::uint32_t g0) {
  const std::uint32_t first = b * bad_debt_bundle;
  return (first > g0 ? first : g0) - g0;
}

// One (bundle, scenario) cell of a wave: rows[r * stride] is the row of group g0 + r at this
// scenario. Adds the wave's rows of bundle b, starting from +0.0, or from *carry_in where the
// bundle began in an earlier wave; leaves the sum in the bundle's row (bundle_row) when the wave
// finishes the bundle, otherwise in *carry_out.
MSYNC_HD inline void bundle_wave_cell(double* rows, std::uint64_t stride, std::uint32_t g0,
                                      std::uint32_t count, std::uint32_t groups, std::uint32_t b,
                                      const double* carry_in, double* carry_out) {
  const std::uint32_t first = b * bad_debt_bundle;
  const std::uint32_t begin = first > g0 ? first : g0;
  const std::uint32_t bundle_end = first + bad_debt_bundle;
  const std::uint32_t end = bundle_end < g0 + count ? bundle_end : g0 + count;
  double sum = first < g0 ? *carry_in : 0.0;
  for (std::uint32_t g = begin; g < end; ++g) sum += rows[(g - g0) * stride];
  if (bundle_finished(b, g0, count, groups))
    rows[(begin - g0) * stride] = sum;
  else
    *carry_out = sum;
}

// One scenario of the book's row: adds the bundles the wave finished, in bundle order.
MSYNC_HD inline void add_finished_bundles(const double* rows, std::uint64_t stride,
                                          std::uint32_t g0, std::uint32_t count,
                                          std::uint32_t groups, double* book) {
  double total = *book;
  const std::uint32_t b0 = wave_first_bundle(g0), bundles = wave_bundles(g0, count);
  for (std::uint32_t b = b0; b < b0 + bundles; ++b)
    if (bundle_finished(b, g0, count, groups)) total += rows[bundle_row(b, g0) * stride];
  *book = total;
}

}  // namespace msync
