#pragma once
// The two inner loops of tail selection (tail_select.hpp), with an AVX-512 version picked at run
// time where the processor has it: its compress instructions append the elements that pass a
// comparison eight at a time, where portable code needs a compare, a store and an add for each.
// Both versions return the same elements in the same order. Each comes for double losses and for
// float ones (the CPU backend's float delta_gamma losses, docs/design.md 3.7).
#include <cstddef>

namespace msync::cpu {

// Elements of v[0 .. m) above p to `above` and below p to `below`, each in input order (the
// copies of p go to neither). Each output has room for m + 8 elements (a vector's slack).
struct partition_counts {
  std::size_t above, below;
};
partition_counts partition_around(const double* v, std::size_t m, double p, double* above,
                                  double* below);
partition_counts partition_around(const float* v, std::size_t m, float p, float* above,
                                  float* below);

// The candidates of a small tail: every loss l[s] >= floor in the blocks of tail_block whose
// maximum (block_max) is >= floor, appended to `out` in scenario order. `out` has room for
// n + 8 elements (n + 16 for floats). Returns how many were written.
std::size_t gather_at_least(const double* l, std::size_t n, const double* block_max, double floor,
                            double* out);
std::size_t gather_at_least(const float* l, std::size_t n, const float* block_max, float floor,
                            float* out);

// Whether v[0 .. m) holds a NaN (block maxima: tail_selector's test for NaN losses).
bool any_nan(const double* v, std::size_t m);
bool any_nan(const float* v, std::size_t m);

// The losses of v[0 .. n) above `bound` (at or above it when !strict; never NaN) appended to
// `out` in order (streaming_tail.hpp). `out` has room for n + 8 elements, or is v itself (the
// output never overtakes the input). Returns how many.
std::size_t append_above(const double* v, std::size_t n, double bound, bool strict, double* out);

// The portable versions, which the functions above use where there is no AVX-512 (and which tests
// compare them with).
namespace portable {
partition_counts partition_around(const double* v, std::size_t m, double p, double* above,
                                  double* below);
partition_counts partition_around(const float* v, std::size_t m, float p, float* above,
                                  float* below);
std::size_t gather_at_least(const double* l, std::size_t n, const double* block_max, double floor,
                            double* out);
std::size_t gather_at_least(const float* l, std::size_t n, const float* block_max, float floor,
                            float* out);
bool any_nan(const double* v, std::size_t m);
bool any_nan(const float* v, std::size_t m);

std::size_t append_above(const double* v, std::size_t n, double bound, bool strict, double* out);
}  // namespace portable

}  // namespace msync::cpu
