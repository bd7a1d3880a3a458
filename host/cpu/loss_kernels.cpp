// The vector helpers here (and delta_gamma_term on vectors) take and return vectors. They are
// always inlined into the functions of their instruction set, so no vector ever crosses a call and
// the ABI note GCC gives for such signatures does not apply.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wpsabi"
#endif

#include "cpu/loss_kernels.hpp"

#include <cstring>

#include "cpu/tail_select.hpp"
#include "marginsync/risk_rules.hpp"
#include "marginsync/valuation.hpp"

// One version of the loops per instruction set (AVX-512, AVX2, the baseline) on x86-64 with GCC,
// picked once at run time for the processor; elsewhere the baseline version is the only one.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && \
    !defined(__SANITIZE_ADDRESS__)
#define MSYNC_ISA_VERSIONS 1
#endif

namespace msync::cpu {

// Eight doubles, or sixteen floats, as one vector (GCC and Clang vector extensions, which the
// build requires like its other GCC/Clang flags): lowered to whatever vector width the target
// has. A block of tail_block losses is two double vectors, or one float vector.
typedef double double8 __attribute__((vector_size(64)));
typedef float float16 __attribute__((vector_size(64)));
typedef float float8 __attribute__((vector_size(32)));
typedef double double16 __attribute__((vector_size(128)));

// Two-vector shuffle with constant lane indices (0-7: a's lanes, 8-15: b's).
#if defined(__clang__)
#define MSYNC_SHUFFLE(a, b, ...) __builtin_shufflevector(a, b, __VA_ARGS__)
#define MSYNC_SHUFFLE_F(a, b, ...) __builtin_shufflevector(a, b, __VA_ARGS__)
#else
typedef long long long8 __attribute__((vector_size(64)));
#define MSYNC_SHUFFLE(a, b, ...) __builtin_shuffle(a, b, long8{__VA_ARGS__})
typedef int int16v __attribute__((vector_size(64)));
#define MSYNC_SHUFFLE_F(a, b, ...) __builtin_shuffle(a, b, int16v{__VA_ARGS__})
#endif

namespace {

#if defined(MSYNC_ISA_VERSIONS)
#pragma GCC push_options
#pragma GCC target("avx512f")
namespace avx512 {
#include "cpu/loss_kernels_body.hpp"  // NOLINT(bugprone-suspicious-include)
}  // namespace avx512
#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("avx2")
namespace avx2 {
#include "cpu/loss_kernels_body.hpp"  // NOLINT(bugprone-suspicious-include)
}  // namespace avx2
#pragma GCC pop_options
#endif

namespace baseline {
#include "cpu/loss_kernels_body.hpp"  // NOLINT(bugprone-suspicious-include)
}  // namespace baseline

// 2: AVX-512, 1: AVX2, 0: the baseline; decided once.
int instruction_set() {
#if defined(MSYNC_ISA_VERSIONS)
  static const int best = __builtin_cpu_supports("avx512f") ? 2
                          : __builtin_cpu_supports("avx2")  ? 1
                                                            : 0;
  return best;
#else
  return 0;
#endif
}

}  // namespace

#if defined(MSYNC_ISA_VERSIONS)
#define MSYNC_DISPATCH(call)   \
  switch (instruction_set()) { \
    case 2:                    \
      return avx512::call;     \
    case 1:                    \
      return avx2::call;       \
    default:                   \
      return baseline::call;   \
  }
#else
#define MSYNC_DISPATCH(call) return baseline::call;
#endif

double delta_gamma_losses(double* l, std::size_t n, const exposure_term* x, std::size_t count,
                          double* block_max) {
  MSYNC_DISPATCH(delta_gamma_losses(l, n, x, count, block_max))
}

double delta_gamma_losses_float(float* l, std::size_t n, const exposure_term_f* x,
                                std::size_t count, float* block_max){
    MSYNC_DISPATCH(delta_gamma_losses_float(l, n, x, count, block_max))}

breach_tally
    breach_scan(const float* l, std::size_t n, float at_least, float near_low, float near_high) {
  MSYNC_DISPATCH(breach_scan(l, n, at_least, near_low, near_high))
}

void add_bad_debt_of_blocks(const float* l, std::size_t n, const float* block_max, double cutoff,
                            double own_funds, const exposure_term* x, std::size_t count,
                            double* bad) {
  MSYNC_DISPATCH(add_bad_debt_of_blocks(l, n, block_max, cutoff, own_funds, x, count, bad))
}

void add_position_loss(double* l, const double* row, std::size_t n, double q, bool first) {
  MSYNC_DISPATCH(add_position_loss(l, row, n, q, first))
}

double position_losses(double* l, std::size_t n, const double* const* rows, std::size_t offset,
                       const double* q, std::size_t count) {
  MSYNC_DISPATCH(position_losses(l, n, rows, offset, q, count))
}

double block_maxima(const double* l, std::size_t n, double* block_max) {
  MSYNC_DISPATCH(block_maxima(l, n, block_max))
}

void add_bad_debt(const double* l, std::size_t n, double equity,
                  double* bad){MSYNC_DISPATCH(add_bad_debt(l, n, equity, bad))}

std::int64_t count_breaches(const double* l, std::size_t n, double equity, double maintenance) {
  MSYNC_DISPATCH(count_breaches(l, n, equity, maintenance))
}

double fp64_rate_probe(std::size_t rounds) {
  MSYNC_DISPATCH(fp64_rate_probe(rounds))
}

double fp32_rate_probe(std::size_t rounds) {
  MSYNC_DISPATCH(fp32_rate_probe(rounds))
}

}  // namespace msync::cpu
