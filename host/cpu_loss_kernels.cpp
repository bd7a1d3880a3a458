#include "cpu_loss_kernels.hpp"

#include <cstring>

#include "marginsync/risk_rules.hpp"

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
  std::size_t s = 0;
#if defined(__GNUC__)
  // Whole blocks as vectors: bad debt element by element (max(0, l - E), as bad_debt() computes
  // it), then the block's maximum across its lanes.
  const double8 zero = {0, 0, 0, 0, 0, 0, 0, 0};
  for (std::size_t b = 0; s + 8 <= n; ++b, s += 8) {
    double8 x, acc;
    std::memcpy(&x, l + s, sizeof x);
    std::memcpy(&acc, bad + s, sizeof acc);
    const double8 shortfall = x - equity;
    acc += shortfall > zero ? shortfall : zero;
    std::memcpy(bad + s, &acc, sizeof acc);
    double top = x[0];
    for (int j = 1; j < 8; ++j) top = top > x[j] ? top : x[j];
    block_max[b] = top;
  }
#endif
  for (std::size_t b = s / 8; s < n; ++b) {
    const std::size_t end = s + 8 < n ? s + 8 : n;
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
