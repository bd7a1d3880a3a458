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

MSYNC_VECTOR_CLONES
void add_bad_debt(double* bad, const double* l, std::size_t n, double equity) {
  for (std::size_t s = 0; s < n; ++s) bad[s] += bad_debt(l[s], equity);
}

#if defined(__GNUC__)
// Eight doubles as one vector (GCC and Clang vector extensions): lowered to whatever vector width
// the clone is compiled for.
typedef double double8 __attribute__((vector_size(64)));
#endif

MSYNC_VECTOR_CLONES
std::size_t next_block_above(const double* l, std::size_t begin, std::size_t n, double floor) {
  std::size_t i = begin;
#if defined(__GNUC__)
  for (; i + 8 <= n; i += 8) {
    double8 m;
    std::memcpy(&m, l + i, sizeof m);
    double top = m[0];
    for (int j = 1; j < 8; ++j) top = top > m[j] ? top : m[j];
    if (top > floor) return i;
  }
#endif
  for (; i < n; ++i)
    if (l[i] > floor) return i;
  return n;
}

MSYNC_VECTOR_CLONES
std::int64_t count_breaches(const double* l, std::size_t n, double equity, double maintenance) {
  std::int64_t count = 0;
  for (std::size_t s = 0; s < n; ++s) count += breaches_maintenance(equity, l[s], maintenance) ? 1 : 0;
  return count;
}

}  // namespace msync::cpu
