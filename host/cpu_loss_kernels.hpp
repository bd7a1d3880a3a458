#pragma once
// The CPU backend's inner loops over scenarios, kept apart so that each is compiled for several
// vector widths (SSE2, AVX2, AVX-512 where the compiler supports function multi-versioning) and
// the widest the processor has is picked at load time. The arithmetic of each element is the same
// whatever the width (no fused multiply-add: the build uses -ffp-contract=off), so results do not
// depend on the processor.
#include <cstddef>
#include <cstdint>

namespace msync::cpu {

// l[s] (= 0 first, else +=) -(delta dS + gamma (dS^2 / 2) + vega dsigma + decay): DESIGN 3's
// delta-gamma loss of one exposure.
void add_exposure_loss(double* l, const double* d_spot, const double* d_vol, std::size_t n,
                       double delta, double gamma, double vega, double decay, bool first);

// l[s] (= 0 first, else +=) -q row[s]: a position's loss from its instrument's per-unit P&L.
void add_position_loss(double* l, const double* row, std::size_t n, double q, bool first);

// One pass over an account's finished losses: bad[s] += max(0, l[s] - equity) (its bad debt in
// each scenario), and block_max[b] = the largest of the b-th block of tail_block (16) losses, for
// the tail selection.
void finish_losses(const double* l, std::size_t n, double equity, double* bad, double* block_max);

// #{s : equity - l[s] < maintenance}, DESIGN 3's breach count.
std::int64_t count_breaches(const double* l, std::size_t n, double equity, double maintenance);

}  // namespace msync::cpu
