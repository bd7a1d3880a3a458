// The loss loops' bodies, included once per instruction set by loss_kernels.cpp, each time
// inside its own namespace and under its own `#pragma GCC target`, so that every function here,
// the always-inlined helpers included, is compiled for that target. (GCC lowers generic vector
// operations before it clones functions: with target_clones, or in a helper without the target,
// the compares and selects of 64-byte vectors became scalar code in every clone.)
// No include guard: included on purpose several times. Needs loss_kernels.cpp's vector types.
// NOLINTBEGIN
__attribute__((always_inline)) static inline double8 load8(const double* p) {
  double8 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// Maxima that propagate NaN (the larger of a and b, NaN when either is): a block holding a NaN loss
// has a NaN maximum, which is how tail_selector finds NaN losses without a pass of its own.
// Two selections, each on one comparison: GCC 12 lowers `(a > b) | (a != a) ? a : b` on 64-byte
// generic vectors lane by lane (extracts, scalar compares and branches), which made these maxima
// the hot spot of the loss loops; this form compiles to compares into mask registers and blends.
__attribute__((always_inline)) static inline double8 max8(double8 a, double8 b) {
  const double8 larger = a > b ? a : b;
  return a != a ? a : larger;
}

__attribute__((always_inline)) static inline double nan_max(double a, double b) {
  return a > b || a != a ? a : b;
}

__attribute__((always_inline)) static inline double lane_max(double8 v) {
  double top = v[0];
  for (int j = 1; j < 8; ++j) top = nan_max(top, v[j]);
  return top;
}

// The lane maxima of eight vectors as one vector: result[j] = max over the lanes of m[j]. A
// transpose in three rounds of shuffles and maxima (7 maxima for eight results) instead of seven
// dependent scalar maxima per vector.
__attribute__((always_inline)) static inline double8 lane_max8(const double8* m) {
  double8 t[4], u[2];
  for (int i = 0; i < 4; ++i)  // t[i]: pairs of lanes of m[2i] and m[2i+1], interleaved
    t[i] = max8(MSYNC_SHUFFLE(m[2 * i], m[2 * i + 1], 0, 8, 2, 10, 4, 12, 6, 14),
                MSYNC_SHUFFLE(m[2 * i], m[2 * i + 1], 1, 9, 3, 11, 5, 13, 7, 15));
  for (int i = 0; i < 2; ++i)  // u[i]: halves (lanes 0-3, 4-7) of m[4i .. 4i+3]
    u[i] = max8(MSYNC_SHUFFLE(t[2 * i], t[2 * i + 1], 0, 1, 8, 9, 4, 5, 12, 13),
                MSYNC_SHUFFLE(t[2 * i], t[2 * i + 1], 2, 3, 10, 11, 6, 7, 14, 15));
  return max8(MSYNC_SHUFFLE(u[0], u[1], 0, 1, 2, 3, 8, 9, 10, 11),
              MSYNC_SHUFFLE(u[0], u[1], 4, 5, 6, 7, 12, 13, 14, 15));
}

// Losses produced block by block, with their block maxima: vector_block(at) computes (and stores)
// the tail_block losses at `at` and returns the lane-wise maximum of their two vectors;
// scalar_loss(s) computes (and stores) one loss. Whole blocks go eight at a time, so their maxima
// come out of one transpose (lane_max8); the short last block goes loss by loss. Returns the
// largest loss (0 when n = 0).
// eight_blocks(at, m) computes (and stores) the eight blocks at `at` and sets m[j] as
// vector_block(at + j * tail_block) would: a loop that gains from several blocks in flight.
template <class EightBlocks, class VectorBlock, class ScalarLoss>
__attribute__((always_inline)) inline double blockwise_maxima(std::size_t n, double* block_max,
                                                              EightBlocks&& eight_blocks,
                                                              VectorBlock&& vector_block,
                                                              ScalarLoss&& scalar_loss) {
  static_assert(tail_block == 16, "a block is two 8-lane vectors");
  const double none = -__builtin_inf();
  double8 top8 = {none, none, none, none, none, none, none, none};
  std::size_t s = 0, b = 0;
  for (; s + 8 * tail_block <= n; b += 8, s += 8 * tail_block) {
    double8 m[8];
    eight_blocks(s, m);
    const double8 tops = lane_max8(m);
    std::memcpy(block_max + b, &tops, sizeof tops);
    top8 = max8(top8, tops);
  }
  for (; s + tail_block <= n; ++b, s += tail_block) {
    const double8 m = vector_block(s);
    block_max[b] = lane_max(m);
    top8 = max8(top8, m);
  }
  double top = lane_max(top8);
  if (s < n) {
    double block_top = none;
    for (; s < n; ++s) {
      const double v = scalar_loss(s);
      block_top = nan_max(block_top, v);
    }
    block_max[b] = block_top;
    top = nan_max(top, block_top);
  }
  return n > 0 ? top : 0.0;
}

template <class VectorBlock, class ScalarLoss>
__attribute__((always_inline)) inline double blockwise_maxima(std::size_t n, double* block_max,
                                                              VectorBlock&& vector_block,
                                                              ScalarLoss&& scalar_loss) {
  return blockwise_maxima(
      n, block_max,
      [&](std::size_t at, double8* m) {
        for (int j = 0; j < 8; ++j) m[j] = vector_block(at + j * tail_block);
      },
      vector_block, scalar_loss);
}

double delta_gamma_losses(double* l, std::size_t n, const exposure_term* x, std::size_t count,
                          double* block_max) {
  // Each loss is written once and each scenario row read once: the exposures are summed in
  // registers, and the block maxima are taken while the losses are still in them.
  return blockwise_maxima(
      n, block_max,
      [&](std::size_t at) {
        double8 v0 = {0, 0, 0, 0, 0, 0, 0, 0}, v1 = v0;
        for (std::size_t j = 0; j < count; ++j) {
          const exposure_term& e = x[j];
          v0 -= delta_gamma_term(e.greeks, load8(e.d_spot + at), load8(e.d_vol + at));
          v1 -= delta_gamma_term(e.greeks, load8(e.d_spot + at + 8), load8(e.d_vol + at + 8));
        }
        std::memcpy(l + at, &v0, sizeof v0);
        std::memcpy(l + at + 8, &v1, sizeof v1);
        return max8(v0, v1);
      },
      [&](std::size_t at) {
        double v = 0.0;
        for (std::size_t j = 0; j < count; ++j)
          v -= delta_gamma_term(x[j].greeks, x[j].d_spot[at], x[j].d_vol[at]);
        l[at] = v;
        return v;
      });
}

__attribute__((always_inline)) static inline float16 load16(const float* p) {
  float16 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// Float maxima: `a > b ? a : b` is exactly the processor's max instruction. No NaN handling: the
// float losses are finite (delta_gamma_float_error_bound is finite only when every product and sum
// stays far inside float's range), so nothing is lost.
__attribute__((always_inline)) static inline float16 fmax16(float16 a, float16 b) {
  return a > b ? a : b;
}

__attribute__((always_inline)) static inline float lane_max(float16 v) {
  float top = v[0];
  for (int j = 1; j < 16; ++j) top = v[j] > top ? v[j] : top;
  return top;
}

// The lane maxima of sixteen vectors as one vector, result[j] = max over the lanes of m[j]: a
// transpose in four rounds of shuffles and maxima (15 maxima for sixteen results). Each round
// halves the vectors and the lanes each result still spans: after it, t[i] holds 8 partial maxima
// of m[2i] (lanes 0-7) and of m[2i + 1] (8-15); u[i] 4 of each of m[4i .. 4i+3]; w[i] 2 of each
// of m[8i .. 8i+7]; the last round leaves one per m[j].
__attribute__((always_inline)) static inline float16 lane_max16(const float16* m) {
  float16 t[8], u[4], w[2];
  for (int i = 0; i < 8; ++i)
    t[i] = fmax16(MSYNC_SHUFFLE_F(m[2 * i], m[2 * i + 1], 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19,
                                  20, 21, 22, 23),
                  MSYNC_SHUFFLE_F(m[2 * i], m[2 * i + 1], 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26,
                                  27, 28, 29, 30, 31));
  for (int i = 0; i < 4; ++i)
    u[i] = fmax16(MSYNC_SHUFFLE_F(t[2 * i], t[2 * i + 1], 0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19,
                                  24, 25, 26, 27),
                  MSYNC_SHUFFLE_F(t[2 * i], t[2 * i + 1], 4, 5, 6, 7, 12, 13, 14, 15, 20, 21, 22,
                                  23, 28, 29, 30, 31));
  for (int i = 0; i < 2; ++i)
    w[i] = fmax16(MSYNC_SHUFFLE_F(u[2 * i], u[2 * i + 1], 0, 1, 4, 5, 8, 9, 12, 13, 16, 17, 20, 21,
                                  24, 25, 28, 29),
                  MSYNC_SHUFFLE_F(u[2 * i], u[2 * i + 1], 2, 3, 6, 7, 10, 11, 14, 15, 18, 19, 22,
                                  23, 26, 27, 30, 31));
  return fmax16(
      MSYNC_SHUFFLE_F(w[0], w[1], 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30),
      MSYNC_SHUFFLE_F(w[0], w[1], 1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31));
}

// One block of tail_block float losses at `at`: 0 - the terms, in exposure order.
__attribute__((always_inline)) static inline float16 float_block(const exposure_term_f* x,
                                                                 std::size_t count,
                                                                 std::size_t at) {
  float16 v = {};
  for (std::size_t j = 0; j < count; ++j) {
    const exposure_term_f& e = x[j];
    v -= delta_gamma_term(e.greeks, load16(e.d_spot + at), load16(e.d_vol + at));
  }
  return v;
}

double delta_gamma_losses_float(float* l, std::size_t n, const exposure_term_f* x,
                                std::size_t count, float* block_max) {
  static_assert(tail_block == 16, "a block is one 16-lane float vector");
  // A block of tail_block losses is one vector of sixteen floats. Sixteen blocks go at once, four
  // at a time through the exposures (one block's sum is a chain of dependent subtractions: four
  // chains keep the vector units busy through their latency); their maxima come out of one
  // transpose (lane_max16) while the losses are still in registers.
  const float none = -__builtin_inff();
  float16 top16 = {none, none, none, none, none, none, none, none,
                   none, none, none, none, none, none, none, none};
  std::size_t s = 0, b = 0;
  for (; s + 16 * tail_block <= n; b += 16, s += 16 * tail_block) {
    float16 m[16];
    for (int q = 0; q < 16; q += 4) {
      const std::size_t a0 = s + q * tail_block;
      float16 v[4] = {};
      for (std::size_t j = 0; j < count; ++j) {
        const exposure_term_f& e = x[j];
        for (int c = 0; c < 4; ++c)
          v[c] -= delta_gamma_term(e.greeks, load16(e.d_spot + a0 + c * tail_block),
                                   load16(e.d_vol + a0 + c * tail_block));
      }
      for (int c = 0; c < 4; ++c) {
        std::memcpy(l + a0 + c * tail_block, &v[c], sizeof v[c]);
        m[q + c] = v[c];
      }
    }
    const float16 tops = lane_max16(m);
    std::memcpy(block_max + b, &tops, sizeof tops);
    top16 = fmax16(top16, tops);
  }
  for (; s + tail_block <= n; ++b, s += tail_block) {
    const float16 v = float_block(x, count, s);
    std::memcpy(l + s, &v, sizeof v);
    block_max[b] = lane_max(v);
    top16 = fmax16(top16, v);
  }
  float top = lane_max(top16);
  if (s < n) {  // the short last block, loss by loss
    float block_top = none;
    for (; s < n; ++s) {
      float v = 0.0f;
      for (std::size_t j = 0; j < count; ++j)
        v -= delta_gamma_term(x[j].greeks, x[j].d_spot[s], x[j].d_vol[s]);
      l[s] = v;
      block_top = v > block_top ? v : block_top;
    }
    block_max[b] = block_top;
    top = block_top > top ? block_top : top;
  }
  return n > 0 ? static_cast<double>(top) : 0.0;
}

breach_tally breach_scan(const float* l, std::size_t n, float at_least, float near_low,
                         float near_high) {
  typedef int lanes16 __attribute__((vector_size(64)));  // a comparison's lanes: 0 or -1
  lanes16 count = {}, near = {};
  std::size_t s = 0;
  const float16 t = at_least - float16{}, lo = near_low - float16{}, hi = near_high - float16{};
  for (; s + 16 <= n; s += 16) {
    const float16 v = load16(l + s);
    count -= v >= t;  // a true comparison is -1
    near |= (v >= lo) & (v <= hi);
  }
  std::int64_t total = 0;
  bool any_near = false;
  for (int j = 0; j < 16; ++j) {
    total += count[j];
    any_near |= near[j] != 0;
  }
  for (; s < n; ++s) {
    total += l[s] >= at_least ? 1 : 0;
    any_near |= l[s] >= near_low && l[s] <= near_high;
  }
  return breach_tally{total, any_near};
}

void add_bad_debt_of_blocks(const float* l, std::size_t n, const float* block_max, double cutoff,
                            double own_funds, const exposure_term* x, std::size_t count,
                            double* bad) {
  // Double's losses block by block, in the order delta_gamma_losses adds the terms (the same
  // bits), for the blocks whose float maximum passes the cutoff. A scenario of such a block whose
  // float loss is at or below the cutoff has double loss below the own funds: it adds +0.
  const double8 zero = {0, 0, 0, 0, 0, 0, 0, 0};
  const std::size_t whole = n / tail_block;
  for (std::size_t b = 0; b < whole; ++b) {
    if (!(static_cast<double>(block_max[b]) > cutoff)) continue;
    const std::size_t at = b * tail_block;
    double8 v0 = zero, v1 = zero;
    for (std::size_t j = 0; j < count; ++j) {
      const exposure_term& e = x[j];
      v0 -= delta_gamma_term(e.greeks, load8(e.d_spot + at), load8(e.d_vol + at));
      v1 -= delta_gamma_term(e.greeks, load8(e.d_spot + at + 8), load8(e.d_vol + at + 8));
    }
    const double8 short0 = v0 - own_funds, short1 = v1 - own_funds;
    const double8 b0 = load8(bad + at) + (short0 > zero ? short0 : zero);
    const double8 b1 = load8(bad + at + 8) + (short1 > zero ? short1 : zero);
    std::memcpy(bad + at, &b0, sizeof b0);
    std::memcpy(bad + at + 8, &b1, sizeof b1);
  }
  for (std::size_t s = whole * tail_block; s < n; ++s) {
    if (!(static_cast<double>(l[s]) > cutoff)) continue;
    double v = 0.0;
    for (std::size_t j = 0; j < count; ++j)
      v -= delta_gamma_term(x[j].greeks, x[j].d_spot[s], x[j].d_vol[s]);
    bad[s] += bad_debt(v, own_funds);
  }
}

void add_position_loss(double* l, const double* row, std::size_t n, double q, bool first) {
  if (first) {
    for (std::size_t s = 0; s < n; ++s) l[s] = first_position_loss(q, row[s]);
  } else {
    for (std::size_t s = 0; s < n; ++s) l[s] = next_position_loss(l[s], q, row[s]);
  }
}

double position_losses(double* l, std::size_t n, const double* const* rows, std::size_t offset,
                       const double* q, std::size_t count) {
  // Four vectors (32 scenarios) at a time: each position's row is read once into them, and the
  // four sums are independent chains through the subtraction's latency. The order of the
  // arithmetic is add_position_loss's: -(q_0 r_0), then - q_j r_j for each next position.
  const double none = -__builtin_inf();
  double8 top = {none, none, none, none, none, none, none, none};
  std::size_t s = 0;
  for (; s + 32 <= n; s += 32) {
    double8 v[4] = {};
    if (count > 0) {
      const double* r = rows[0] + offset + s;
      for (int b = 0; b < 4; ++b) v[b] = -(q[0] * load8(r + 8 * b));
    }
    for (std::size_t j = 1; j < count; ++j) {
      const double* r = rows[j] + offset + s;
      const double qj = q[j];
      for (int b = 0; b < 4; ++b) v[b] -= qj * load8(r + 8 * b);
    }
    for (int b = 0; b < 4; ++b) std::memcpy(l + s + 8 * b, &v[b], sizeof v[b]);
    top = max8(top, max8(max8(v[0], v[1]), max8(v[2], v[3])));
  }
  for (; s + 8 <= n; s += 8) {
    double8 v = {};
    if (count > 0) v = -(q[0] * load8(rows[0] + offset + s));
    for (std::size_t j = 1; j < count; ++j) v -= q[j] * load8(rows[j] + offset + s);
    std::memcpy(l + s, &v, sizeof v);
    top = max8(top, v);
  }
  double largest = lane_max(top);
  for (; s < n; ++s) {
    double v = 0.0;
    if (count > 0) v = -(q[0] * rows[0][offset + s]);
    for (std::size_t j = 1; j < count; ++j) v -= q[j] * rows[j][offset + s];
    l[s] = v;
    largest = nan_max(largest, v);
  }
  return largest;
}

double block_maxima(const double* l, std::size_t n, double* block_max) {
  return blockwise_maxima(
      n, block_max, [&](std::size_t at) { return max8(load8(l + at), load8(l + at + 8)); },
      [&](std::size_t at) { return l[at]; });
}

void add_bad_debt(const double* l, std::size_t n, double equity, double* bad) {
  for (std::size_t s = 0; s < n; ++s) bad[s] += bad_debt(l[s], equity);
}

std::int64_t count_breaches(const double* l, std::size_t n, double equity, double maintenance) {
  std::int64_t count = 0;
  for (std::size_t s = 0; s < n; ++s)
    count += breaches_maintenance(equity, l[s], maintenance) ? 1 : 0;
  return count;
}

double fp64_rate_probe(std::size_t rounds) {
  double total = 0.0;
  // Eight independent chains keep both vector units busy through the multiply-add latency.
  double8 x[8];
  for (int j = 0; j < 8; ++j)
    for (int i = 0; i < 8; ++i) x[j][i] = 1.0 + 1e-3 * (8 * j + i);
  for (std::size_t r = 0; r < rounds; ++r)
    for (int j = 0; j < 8; ++j) x[j] = x[j] * 0.999999 + 1e-6;
  for (int j = 0; j < 8; ++j) total += lane_max(x[j]);
  return total;
}

double fp32_rate_probe(std::size_t rounds) {
  double total = 0.0;
  float16 x[8];
  for (int j = 0; j < 8; ++j)
    for (int i = 0; i < 16; ++i) x[j][i] = 1.0f + 1e-3f * static_cast<float>(16 * j + i);
  for (std::size_t r = 0; r < rounds; ++r)
    for (int j = 0; j < 8; ++j) x[j] = x[j] * 0.999999f + 1e-6f;
  for (int j = 0; j < 8; ++j)
    for (int i = 0; i < 16; ++i) total += static_cast<double>(x[j][i]);
  return total;
}
// NOLINTEND
