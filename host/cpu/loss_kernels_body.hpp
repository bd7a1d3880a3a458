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

double delta_gamma_losses_float(double* l, std::size_t n, const exposure_term_f* x,
                                std::size_t count, double* block_max) {
  // A block of tail_block losses is one vector of sixteen floats, widened to sixteen doubles as it
  // is stored; the block maxima are taken on the doubles, as delta_gamma_losses does. Four blocks
  // go at once: one block's sum over the exposures is a chain of dependent subtractions, and four
  // chains keep the vector units busy through their latency.
  auto store = [&](float16 v, std::size_t at) {
    const double16 d = __builtin_convertvector(v, double16);
    std::memcpy(l + at, &d, sizeof d);
    return max8(__builtin_shufflevector(d, d, 0, 1, 2, 3, 4, 5, 6, 7),
                __builtin_shufflevector(d, d, 8, 9, 10, 11, 12, 13, 14, 15));
  };
  return blockwise_maxima(
      n, block_max,
      [&](std::size_t at, double8* m) {
        for (int q = 0; q < 8; q += 4) {
          const std::size_t a0 = at + q * tail_block;
          float16 v[4] = {};
          for (std::size_t j = 0; j < count; ++j) {
            const exposure_term_f& e = x[j];
            for (int b = 0; b < 4; ++b)
              v[b] -= delta_gamma_term(e.greeks, load16(e.d_spot + a0 + b * tail_block),
                                       load16(e.d_vol + a0 + b * tail_block));
          }
          for (int b = 0; b < 4; ++b) m[q + b] = store(v[b], a0 + b * tail_block);
        }
      },
      [&](std::size_t at) {
        float16 v = {};
        for (std::size_t j = 0; j < count; ++j) {
          const exposure_term_f& e = x[j];
          v -= delta_gamma_term(e.greeks, load16(e.d_spot + at), load16(e.d_vol + at));
        }
        return store(v, at);
      },
      [&](std::size_t at) {
        float v = 0.0f;
        for (std::size_t j = 0; j < count; ++j)
          v -= delta_gamma_term(x[j].greeks, x[j].d_spot[at], x[j].d_vol[at]);
        l[at] = static_cast<double>(v);
        return l[at];
      });
}

void add_position_loss(double* l, const double* row, std::size_t n, double q, bool first) {
  if (first) {
    for (std::size_t s = 0; s < n; ++s) l[s] = first_position_loss(q, row[s]);
  } else {
    for (std::size_t s = 0; s < n; ++s) l[s] = next_position_loss(l[s], q, row[s]);
  }
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

std::int64_t count_breaches_clear_of(const double* l, std::size_t n, double equity,
                                     double maintenance, double band) {
  std::int64_t count = 0, near = 0;
  for (std::size_t s = 0; s < n; ++s) {
    count += breaches_maintenance(equity, l[s], maintenance) ? 1 : 0;
    const double gap = (equity - l[s]) - maintenance;
    near += __builtin_fabs(gap) <= band ? 1 : 0;
  }
  return near > 0 ? -1 : count;
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
