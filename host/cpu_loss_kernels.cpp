#include "cpu_loss_kernels.hpp"

#include <cstring>

#include "marginsync/risk_rules.hpp"
#include "tail_select.hpp"

// Function multi-versioning: GCC and Clang on x86-64 build one clone per target and dispatch at
// load time. Elsewhere the plain version is the only one.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_ADDRESS__)
#define MSYNC_VECTOR_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define MSYNC_VECTOR_CLONES
#endif

namespace msync::cpu {

MSYNC_VECTOR_CLONES
void add_exposure_loss(double* l, const double* d_spot, const double* d_vol, std::size_t n,
                       double delta, double gamma, double vega, double decay, bool first) {
  if (first) {
    for (std::size_t s = 0; s < n; ++s) {
      const double ds = d_spot[s];
      l[s] = -(delta * ds + gamma * (0.5 * ds * ds) + vega * d_vol[s] + decay);
    }
  } else {
    for (std::size_t s = 0; s < n; ++s) {
      const double ds = d_spot[s];
      l[s] -= delta * ds + gamma * (0.5 * ds * ds) + vega * d_vol[s] + decay;
    }
  }
}

MSYNC_VECTOR_CLONES
void add_position_loss(double* l, const double* row, std::size_t n, double q, bool first) {
  if (first) {
    for (std::size_t s = 0; s < n; ++s) l[s] = -(q * row[s]);
  } else {
    for (std::size_t s = 0; s < n; ++s) l[s] -= q * row[s];
  }
}

#if defined(__GNUC__)
// Eight doubles as one vector (GCC and Clang vector extensions): lowered to whatever vector width
// the clone is compiled for.
typedef double double8 __attribute__((vector_size(64)));
#endif

MSYNC_VECTOR_CLONES
void finish_losses(const double* l, std::size_t n, double equity, double* bad, double* block_max) {
  constexpr std::size_t block = tail_block;
  static_assert(block == 16, "a block is the two 8-lane vectors below");
  std::size_t s = 0;
#if defined(__GNUC__)
  // Whole blocks as two vectors: bad debt element by element (max(0, l - E), as bad_debt()
  // computes it), then the block's maximum across its lanes.
  const double8 zero = {0, 0, 0, 0, 0, 0, 0, 0};
  for (std::size_t b = 0; s + block <= n; ++b, s += block) {
    double8 x0, x1, acc0, acc1;
    std::memcpy(&x0, l + s, sizeof x0);
    std::memcpy(&x1, l + s + 8, sizeof x1);
    std::memcpy(&acc0, bad + s, sizeof acc0);
    std::memcpy(&acc1, bad + s + 8, sizeof acc1);
    const double8 shortfall0 = x0 - equity, shortfall1 = x1 - equity;
    acc0 += shortfall0 > zero ? shortfall0 : zero;
    acc1 += shortfall1 > zero ? shortfall1 : zero;
    std::memcpy(bad + s, &acc0, sizeof acc0);
    std::memcpy(bad + s + 8, &acc1, sizeof acc1);
    const double8 m = x0 > x1 ? x0 : x1;
    double top = m[0];
    for (int j = 1; j < 8; ++j) top = top > m[j] ? top : m[j];
    block_max[b] = top;
  }
#endif
  for (std::size_t b = s / block; s < n; ++b) {
    const std::size_t end = s + block < n ? s + block : n;
    double top = l[s];
    for (; s < end; ++s) {
      bad[s] += bad_debt(l[s], equity);
      top = top > l[s] ? top : l[s];
    }
    block_max[b] = top;
  }
}

MSYNC_VECTOR_CLONES
std::int64_t count_breaches(const double* l, std::size_t n, double equity, double maintenance) {
  std::int64_t count = 0;
  for (std::size_t s = 0; s < n; ++s) count += breaches_maintenance(equity, l[s], maintenance) ? 1 : 0;
  return count;
}

}  // namespace msync::cpu
