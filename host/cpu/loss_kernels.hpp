#pragma once
// The CPU backend's inner loops over scenarios, kept apart so that each is compiled for several
// vector widths (SSE2, AVX2, AVX-512 where the compiler supports function multi-versioning) and
// the widest the processor has is picked at load time. The arithmetic of each element is the same
// whatever the width (no fused multiply-add: the build uses -ffp-contract=off), so results do not
// depend on the processor.
#include <cstddef>
#include <cstdint>

#include "marginsync/delta_gamma.hpp"

namespace msync::cpu {

// One exposure of an account in delta_gamma: its scenario rows (dS and dsigma of its underlying)
// and its sensitivities.
struct exposure_term {
  const double* d_spot;
  const double* d_vol;
  exposure_sensitivity greeks;
};

// An account's delta_gamma losses in one pass over the scenarios, every exposure at once:
// l[s] = 0 - x_1(s) - x_2(s) - ... with x = delta_gamma_term (docs/design.md section 3; the CUDA
// kernel adds the same terms in the same order), and block_max[b] = the largest of the b-th block
// of tail_block (16) losses (NaN when the block holds a NaN). Returns the largest loss (0 when
// n = 0; NaN when any loss is NaN).
double delta_gamma_losses(double* l, std::size_t n, const exposure_term* x, std::size_t count,
                          double* block_max);

// The float version (docs/design.md section 3.7): scenario moves and sensitivities rounded to
// float once, every product and sum in float, sixteen scenarios to a vector (a block of
// tail_block). The losses stay float, and so do their block maxima (block_max[b], b < ceil(n /
// 16)): selection, breach counts and the bad-debt test work on them directly (a float widens to
// double exactly, and every comparison is made as on the widened number). Returns the largest
// loss. The losses are finite whenever delta_gamma_float_error_bound is (no NaN handling). The
// caller bounds the error and falls back to delta_gamma_losses where it matters
// (delta_gamma_float.hpp).
struct exposure_term_f {
  const float* d_spot;
  const float* d_vol;
  exposure_sensitivity_f greeks;
};
double delta_gamma_losses_float(float* l, std::size_t n, const exposure_term_f* x,
                                std::size_t count, float* block_max);

// Over float losses l[0 .. n): how many are >= at_least, and whether any lies in [near_low,
// near_high]. A NaN bound matches nothing (delta_gamma_float.hpp's thresholds: the breach count,
// and the band in which a float loss does not decide).
struct breach_tally {
  std::int64_t count;
  bool near;
};
breach_tally breach_scan(const float* l, std::size_t n, float at_least, float near_low,
                         float near_high);

// bad[s] += max(0, L(s) - own_funds) with L(s) double's loss (delta_gamma_losses' bits), for every
// scenario of every block of tail_block whose float maximum (block_max) is above `cutoff`
// (bad_debt_cutoff), and for the scenarios of a short last block whose float loss is. Below the
// cutoff double's loss is under the own funds: bad debt is double's exactly.
void add_bad_debt_of_blocks(const float* l, std::size_t n, const float* block_max, double cutoff,
                            double own_funds, const exposure_term* x, std::size_t count,
                            double* bad);

// l[s] (= 0 first, else +=) -q row[s]: a position's loss from its instrument's per-unit P&L.
void add_position_loss(double* l, const double* row, std::size_t n, double q, bool first);

// l[s] = -(q[0] rows[0][offset + s]) - q[1] rows[1][offset + s] - ... for s in [0, n), 0 when
// count = 0: the sum of `count` add_position_loss calls, bit for bit, with the sums kept in
// registers (each loss written once). Returns the largest loss (NaN when any is; -inf when n = 0).
double position_losses(double* l, std::size_t n, const double* const* rows, std::size_t offset,
                       const double* q, std::size_t count);

// block_max[b] = the largest of the b-th block of tail_block losses, NaN when the block holds a NaN
// (tail_selector finds NaN losses there); returns the largest loss (NaN when any is).
double block_maxima(const double* l, std::size_t n, double* block_max);

// bad[s] += max(0, l[s] - equity): an account's bad debt in each scenario. Only accounts whose
// largest loss exceeds their equity have any.
void add_bad_debt(const double* l, std::size_t n, double equity, double* bad);

// #{s : equity - l[s] < maintenance}, docs/design.md section 3's breach count.
std::int64_t count_breaches(const double* l, std::size_t n, double equity, double maintenance);

// The FP64 rate probe of `marginsync bench`: `rounds` of a multiply and an add on 64 independent
// lanes (eight vectors of eight), in the widest vectors this processor has, as the loss loops
// use them. 128 operations per round; returns a checksum so the work cannot be optimised away.
double fp64_rate_probe(std::size_t rounds);

// The FP32 rate probe: the same on 128 float lanes (eight vectors of sixteen), 256 operations per
// round, as the float loss loop uses them.
double fp32_rate_probe(std::size_t rounds);

}  // namespace msync::cpu
