#include "cpu/tail_kernels.hpp"

#include <cstdint>
#include <vector>

#include "cpu/tail_select.hpp"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__SANITIZE_ADDRESS__)
#define MSYNC_AVX512_TAIL 1
#include <immintrin.h>
#endif

namespace msync::cpu {

namespace portable {

namespace {

// Branch-free appends: comparisons of losses are unpredictable, and a mispredicted branch per
// element costs more than its store.
template <class T>
partition_counts partition_of(const T* v, std::size_t m, T p, T* above, T* below) {
  std::size_t n_above = 0, n_below = 0;
  for (std::size_t i = 0; i < m; ++i) {
    const T x = v[i];
    above[n_above] = x;
    n_above += x > p ? 1 : 0;
    below[n_below] = x;
    n_below += x < p ? 1 : 0;
  }
  return {n_above, n_below};
}

template <class T>
std::size_t gather_of(const T* l, std::size_t n, const T* block_max, T floor, T* out) {
  const std::size_t blocks = (n + tail_block - 1) / tail_block;
  std::size_t kept = 0;
  for (std::size_t b = 0; b < blocks; ++b) {
    if (block_max[b] < floor) continue;
    const std::size_t end = tail_block * (b + 1) < n ? tail_block * (b + 1) : n;
    for (std::size_t i = tail_block * b; i < end; ++i) {
      out[kept] = l[i];
      kept += l[i] >= floor ? 1 : 0;
    }
  }
  return kept;
}

template <class T>
bool any_nan_of(const T* v, std::size_t m) {
  bool nan = false;
  for (std::size_t i = 0; i < m; ++i) nan |= v[i] != v[i];
  return nan;
}

}  // namespace

bool any_nan(const double* v, std::size_t m) {
  return any_nan_of(v, m);
}
bool any_nan(const float* v, std::size_t m) {
  return any_nan_of(v, m);
}

partition_counts partition_around(const double* v, std::size_t m, double p, double* above,
                                  double* below) {
  return partition_of(v, m, p, above, below);
}

partition_counts partition_around(const float* v, std::size_t m, float p, float* above,
                                  float* below) {
  return partition_of(v, m, p, above, below);
}

std::size_t gather_at_least(const double* l, std::size_t n, const double* block_max, double floor,
                            double* out) {
  return gather_of(l, n, block_max, floor, out);
}

std::size_t gather_at_least(const float* l, std::size_t n, const float* block_max, float floor,
                            float* out) {
  return gather_of(l, n, block_max, floor, out);
}

std::size_t append_above(const double* v, std::size_t n, double bound, bool strict, double* out) {
  std::size_t kept = 0;
  for (std::size_t i = 0; i < n; ++i) {
    out[kept] = v[i];
    kept += (strict ? v[i] > bound : v[i] >= bound) ? 1 : 0;
  }
  return kept;
}

}  // namespace portable

namespace {

#if defined(MSYNC_AVX512_TAIL)
// Compress into a register, then one full store: the lanes past the kept ones are overwritten by
// the next store (hence the 8 elements of slack). Faster than a compressing store to memory.
__attribute__((target("avx512f"))) partition_counts partition_avx512(const double* v, std::size_t m,
                                                                     double p, double* above,
                                                                     double* below) {
  const __m512d pivot = _mm512_set1_pd(p);
  std::size_t n_above = 0, n_below = 0, i = 0;
  for (; i + 8 <= m; i += 8) {
    const __m512d x = _mm512_loadu_pd(v + i);
    const __mmask8 gt = _mm512_cmp_pd_mask(x, pivot, _CMP_GT_OQ);
    const __mmask8 lt = _mm512_cmp_pd_mask(x, pivot, _CMP_LT_OQ);
    _mm512_storeu_pd(above + n_above, _mm512_maskz_compress_pd(gt, x));
    _mm512_storeu_pd(below + n_below, _mm512_maskz_compress_pd(lt, x));
    n_above += static_cast<std::size_t>(__builtin_popcount(gt));
    n_below += static_cast<std::size_t>(__builtin_popcount(lt));
  }
  const partition_counts rest =
      portable::partition_around(v + i, m - i, p, above + n_above, below + n_below);
  return {n_above + rest.above, n_below + rest.below};
}

__attribute__((target("avx512f"))) std::size_t gather_avx512(const double* l, std::size_t n,
                                                             const double* block_max, double floor,
                                                             double* out) {
  static_assert(tail_block == 16, "a block is two 8-lane vectors");
  const __m512d f = _mm512_set1_pd(floor);
  const std::size_t whole = n / tail_block;
  // First the whole blocks that reach the floor (a sixth or so, in no predictable pattern: a
  // branch per block would mispredict often), eight block maxima at a time; then their losses.
  thread_local std::vector<std::int64_t> reached;
  if (reached.size() < whole + 8) reached.resize(whole + 8);
  std::size_t count = 0, b = 0;
  const __m512i eight = _mm512_set1_epi64(8);
  __m512i index = _mm512_setr_epi64(0, 1, 2, 3, 4, 5, 6, 7);
  for (; b + 8 <= whole; b += 8, index = _mm512_add_epi64(index, eight)) {
    const __mmask8 hit = _mm512_cmp_pd_mask(_mm512_loadu_pd(block_max + b), f, _CMP_GE_OQ);
    _mm512_storeu_si512(reached.data() + count, _mm512_maskz_compress_epi64(hit, index));
    count += static_cast<std::size_t>(__builtin_popcount(hit));
  }
  for (; b < whole; ++b) {
    reached[count] = static_cast<std::int64_t>(b);
    count += block_max[b] >= floor ? 1 : 0;
  }
  std::size_t kept = 0;
  for (std::size_t c = 0; c < count; ++c) {
    const double* x = l + tail_block * static_cast<std::size_t>(reached[c]);
    const __m512d x0 = _mm512_loadu_pd(x), x1 = _mm512_loadu_pd(x + 8);
    const __mmask8 k0 = _mm512_cmp_pd_mask(x0, f, _CMP_GE_OQ);
    const __mmask8 k1 = _mm512_cmp_pd_mask(x1, f, _CMP_GE_OQ);
    _mm512_storeu_pd(out + kept, _mm512_maskz_compress_pd(k0, x0));
    kept += static_cast<std::size_t>(__builtin_popcount(k0));
    _mm512_storeu_pd(out + kept, _mm512_maskz_compress_pd(k1, x1));
    kept += static_cast<std::size_t>(__builtin_popcount(k1));
  }
  if (whole * tail_block < n)  // the last, shorter block
    kept += portable::gather_at_least(l + whole * tail_block, n - whole * tail_block,
                                      block_max + whole, floor, out + kept);
  return kept;
}

// The float versions: sixteen losses to a vector, a block of tail_block is one vector.
__attribute__((target("avx512f"))) partition_counts partition_avx512(const float* v, std::size_t m,
                                                                     float p, float* above,
                                                                     float* below) {
  const __m512 pivot = _mm512_set1_ps(p);
  std::size_t n_above = 0, n_below = 0, i = 0;
  for (; i + 16 <= m; i += 16) {
    const __m512 x = _mm512_loadu_ps(v + i);
    const __mmask16 gt = _mm512_cmp_ps_mask(x, pivot, _CMP_GT_OQ);
    const __mmask16 lt = _mm512_cmp_ps_mask(x, pivot, _CMP_LT_OQ);
    _mm512_storeu_ps(above + n_above, _mm512_maskz_compress_ps(gt, x));
    _mm512_storeu_ps(below + n_below, _mm512_maskz_compress_ps(lt, x));
    n_above += static_cast<std::size_t>(__builtin_popcount(gt));
    n_below += static_cast<std::size_t>(__builtin_popcount(lt));
  }
  const partition_counts rest =
      portable::partition_around(v + i, m - i, p, above + n_above, below + n_below);
  return {n_above + rest.above, n_below + rest.below};
}

__attribute__((target("avx512f"))) std::size_t gather_avx512(const float* l, std::size_t n,
                                                             const float* block_max, float floor,
                                                             float* out) {
  static_assert(tail_block == 16, "a block is one 16-lane vector");
  const __m512 f = _mm512_set1_ps(floor);
  const std::size_t whole = n / tail_block;
  // The reaching blocks first, sixteen block maxima at a time (as for doubles), then their losses.
  thread_local std::vector<std::int32_t> reached;
  if (reached.size() < whole + 16) reached.resize(whole + 16);
  std::size_t count = 0, b = 0;
  const __m512i sixteen = _mm512_set1_epi32(16);
  __m512i index = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  for (; b + 16 <= whole; b += 16, index = _mm512_add_epi32(index, sixteen)) {
    const __mmask16 hit = _mm512_cmp_ps_mask(_mm512_loadu_ps(block_max + b), f, _CMP_GE_OQ);
    _mm512_storeu_si512(reached.data() + count, _mm512_maskz_compress_epi32(hit, index));
    count += static_cast<std::size_t>(__builtin_popcount(hit));
  }
  for (; b < whole; ++b) {
    reached[count] = static_cast<std::int32_t>(b);
    count += block_max[b] >= floor ? 1 : 0;
  }
  std::size_t kept = 0;
  for (std::size_t c = 0; c < count; ++c) {
    const __m512 x = _mm512_loadu_ps(l + tail_block * static_cast<std::size_t>(reached[c]));
    const __mmask16 k = _mm512_cmp_ps_mask(x, f, _CMP_GE_OQ);
    _mm512_storeu_ps(out + kept, _mm512_maskz_compress_ps(k, x));
    kept += static_cast<std::size_t>(__builtin_popcount(k));
  }
  if (whole * tail_block < n)  // the last, shorter block
    kept += portable::gather_at_least(l + whole * tail_block, n - whole * tail_block,
                                      block_max + whole, floor, out + kept);
  return kept;
}

// Sixteen (or eight) comparisons to a mask at a time, one test per 64 numbers.
__attribute__((target("avx512f"))) bool any_nan_avx512(const float* v, std::size_t m) {
  std::size_t i = 0;
  for (; i + 64 <= m; i += 64) {
    __mmask16 k = 0;
    for (int j = 0; j < 64; j += 16) {
      const __m512 x = _mm512_loadu_ps(v + i + j);
      k |= _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q);
    }
    if (k) return true;
  }
  return portable::any_nan(v + i, m - i);
}

__attribute__((target("avx512f"))) bool any_nan_avx512(const double* v, std::size_t m) {
  std::size_t i = 0;
  for (; i + 32 <= m; i += 32) {
    __mmask8 k = 0;
    for (int j = 0; j < 32; j += 8) {
      const __m512d x = _mm512_loadu_pd(v + i + j);
      k |= _mm512_cmp_pd_mask(x, x, _CMP_UNORD_Q);
    }
    if (k) return true;
  }
  return portable::any_nan(v + i, m - i);
}

__attribute__((target("avx512f"))) std::size_t append_avx512(const double* v, std::size_t n,
                                                             double bound, bool strict,
                                                             double* out) {
  const __m512d b = _mm512_set1_pd(bound);
  std::size_t kept = 0, i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m512d x = _mm512_loadu_pd(v + i);
    const __mmask8 keep =
        strict ? _mm512_cmp_pd_mask(x, b, _CMP_GT_OQ) : _mm512_cmp_pd_mask(x, b, _CMP_GE_OQ);
    if (!keep) continue;  // most vectors, once the bound is near the tail
    _mm512_storeu_pd(out + kept, _mm512_maskz_compress_pd(keep, x));
    kept += static_cast<std::size_t>(__builtin_popcount(keep));
  }
  return kept + portable::append_above(v + i, n - i, bound, strict, out + kept);
}

bool have_avx512() {
  static const bool yes = __builtin_cpu_supports("avx512f");
  return yes;
}
#endif

}  // namespace

partition_counts partition_around(const double* v, std::size_t m, double p, double* above,
                                  double* below) {
#if defined(MSYNC_AVX512_TAIL)
  if (have_avx512()) return partition_avx512(v, m, p, above, below);
#endif
  return portable::partition_around(v, m, p, above, below);
}

std::size_t gather_at_least(const double* l, std::size_t n, const double* block_max, double floor,
                            double* out) {
#if defined(MSYNC_AVX512_TAIL)
  if (have_avx512()) return gather_avx512(l, n, block_max, floor, out);
#endif
  return portable::gather_at_least(l, n, block_max, floor, out);
}

partition_counts partition_around(const float* v, std::size_t m, float p, float* above,
                                  float* below) {
#if defined(MSYNC_AVX512_TAIL)
  if (have_avx512()) return partition_avx512(v, m, p, above, below);
#endif
  return portable::partition_around(v, m, p, above, below);
}

std::size_t gather_at_least(const float* l, std::size_t n, const float* block_max, float floor,
                            float* out) {
#if defined(MSYNC_AVX512_TAIL)
  if (have_avx512()) return gather_avx512(l, n, block_max, floor, out);
#endif
  return portable::gather_at_least(l, n, block_max, floor, out);
}

bool any_nan(const double* v, std::size_t m) {
#if defined(MSYNC_AVX512_TAIL)
  if (have_avx512()) return any_nan_avx512(v, m);
#endif
  return portable::any_nan(v, m);
}

bool any_nan(const float* v, std::size_t m) {
#if defined(MSYNC_AVX512_TAIL)
  if (have_avx512()) return any_nan_avx512(v, m);
#endif
  return portable::any_nan(v, m);
}

std::size_t append_above(const double* v, std::size_t n, double bound, bool strict, double* out) {
#if defined(MSYNC_AVX512_TAIL)
  if (have_avx512()) return append_avx512(v, n, bound, strict, out);
#endif
  return portable::append_above(v, n, bound, strict, out);
}

}  // namespace msync::cpu
