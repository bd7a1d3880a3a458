// Scenario risk on the device, fused: per account, the N scenario losses are computed into shared
// memory, VaR and ES are selected there by the filter of marginsync/tail_filter.hpp (each thread's
// largest loss, taken while computing the losses, bounds VaR from below; the few losses at or above
// the bound are selected exactly), or by a block radix select where the filter does not apply, the
// margin levels and the breach count follow, and the account's bad debt per scenario is added to
// its group's row. No accounts x
// scenarios matrix exists anywhere; global memory sees only the scenario rows (read, L2-resident
// for delta_gamma), one partial bad-debt row per group, and a few numbers per account.
//
// Determinism: each scenario s of a block is owned by one thread (s = threadIdx.x + j * block), so
// the group's bad-debt row is summed in account order without atomics; after each wave of groups
// (the grid, sized by the device: chunk_plan.hpp wave_groups), the wave's rows are added to the
// book's row in group order, so the book's sum is 0 + row 0 + row 1 + ... whatever the wave size;
// block reductions (CUB) have a fixed tree. A run repeats bit for bit.
#include <thrust/iterator/counting_iterator.h>

#include <algorithm>
#include <cub/block/block_reduce.cuh>
#include <cub/block/block_scan.cuh>
#include <cub/device/device_select.cuh>

#include "cuda_check.cuh"
#include "launchers.cuh"
#include "marginsync/delta_gamma.hpp"
#include "marginsync/tail_filter.hpp"

namespace msync::cuda {

namespace {

constexpr int block = risk_block_threads;
constexpr unsigned radix_bins = 256;  // 8 bits of the key per pass
static_assert(block >= static_cast<int>(radix_bins), "a thread per histogram bin");
// Room for the filter's candidates (8 KiB of shared memory): about k to 2k losses for the 99% tail
// of independent scenarios at N = 10,000 (k = 100); an account with more (many equal losses at the
// top) takes the radix select instead.
constexpr unsigned tail_candidates = 1024;

// Order-preserving map of a double to an unsigned key: key(x) < key(y) iff x < y (with -0 just
// below +0). Every NaN, whatever its sign bit, maps to the largest key: the worst loss, above +inf,
// as the CPU selection ranks it (key_value of it is a NaN), so NaN losses give a NaN ES and, when
// at least k of them, a NaN VaR (docs/design.md 3.7), never a number picked past them.
// (tail_filter.hpp's tail_order_key: the filter and the radix select rank alike.)
__device__ inline unsigned long long order_key(double x) {
  return tail_order_key(x);
}
__device__ inline double key_value(unsigned long long key) {
  return tail_key_value(key);
}

struct key_min {
  __device__ unsigned long long operator()(unsigned long long a, unsigned long long b) const {
    return a < b ? a : b;
  }
};
struct key_max {
  __device__ unsigned long long operator()(unsigned long long a, unsigned long long b) const {
    return a > b ? a : b;
  }
};

using block_scan = cub::BlockScan<unsigned, block>;
using block_sum_double = cub::BlockReduce<double, block>;
using block_reduce_count = cub::BlockReduce<unsigned, block>;
using block_reduce_key = cub::BlockReduce<unsigned long long, block>;

struct block_state {
  unsigned hist[radix_bins];
  unsigned long long prefix;  // the determined high digits of the k-th largest key
  unsigned long long mask;    // which bits of prefix are determined
  unsigned k_rem;             // its rank among the keys that match prefix
  unsigned bin_count;         // how many keys match prefix
  unsigned next_digit, next_k, next_count;
  unsigned long long result_key;
  double maintenance;
  union {
    block_scan::TempStorage scan;
    block_sum_double::TempStorage sum;
    block_reduce_count::TempStorage count;
    block_reduce_key::TempStorage key;
  } temp;
};

// The key of the k-th largest of loss[0 .. n) (1 <= k <= n): most significant digit first, a
// 256-bin histogram of the keys still matching the digits found so far, the bin holding the k-th
// largest found by a suffix scan over the bins (a thread per bin). It stops early when the rest is
// a minimum (every key in the bin is in the tail) or a maximum (the k-th is the bin's largest).
// Lanes of a warp with equal digits add to the histogram once (match_any): losses crowd into few
// bins in the high digits, where plain shared atomics would serialise.
__device__ unsigned long long block_kth_largest_key(const double* loss, std::int64_t n, unsigned k,
                                                    block_state& st) {
  const int tid = threadIdx.x;
  const int lane = tid & 31;
  if (tid == 0) {
    st.prefix = 0;
    st.mask = 0;
    st.k_rem = k;
  }
  for (int shift = 56; shift >= 0; shift -= 8) {
    if (tid < static_cast<int>(radix_bins)) st.hist[tid] = 0;
    __syncthreads();
    const unsigned long long prefix = st.prefix, mask = st.mask;
    const unsigned k_rem = st.k_rem;
    for (std::int64_t base = 0; base < n; base += block) {
      const std::int64_t s = base + tid;
      unsigned digit = radix_bins;  // no count
      if (s < n) {
        const unsigned long long key = order_key(loss[s]);
        if ((key & mask) == prefix) digit = static_cast<unsigned>(key >> shift) & (radix_bins - 1);
      }
      const unsigned peers = __match_any_sync(0xffffffffu, digit);
      if (digit < radix_bins && lane == __ffs(peers) - 1) atomicAdd(&st.hist[digit], __popc(peers));
    }
    __syncthreads();
    // Thread t holds bin 255 - t; the inclusive scan is then the count of keys in bins >= it.
    const unsigned count = tid < static_cast<int>(radix_bins) ? st.hist[radix_bins - 1 - tid] : 0u;
    unsigned at_or_above = 0;
    block_scan(st.temp.scan).InclusiveSum(count, at_or_above);
    if (tid < static_cast<int>(radix_bins) && at_or_above >= k_rem && at_or_above - count < k_rem) {
      st.next_digit = radix_bins - 1 - static_cast<unsigned>(tid);
      st.next_k = k_rem - (at_or_above - count);
      st.next_count = count;
    }
    __syncthreads();
    if (tid == 0) {
      st.prefix |= static_cast<unsigned long long>(st.next_digit) << shift;
      st.mask |= static_cast<unsigned long long>(radix_bins - 1) << shift;
      st.k_rem = st.next_k;
      st.bin_count = st.next_count;
    }
    __syncthreads();
    const bool all_in_tail = st.k_rem == st.bin_count;  // the k-th is the bin's smallest
    const bool first_of_bin = st.k_rem == 1;            // the k-th is the bin's largest
    if (shift > 0 && (all_in_tail || first_of_bin)) {
      const unsigned long long bin_prefix = st.prefix, bin_mask = st.mask;
      unsigned long long best = all_in_tail ? ~0ull : 0ull;
      for (std::int64_t s = tid; s < n; s += block) {
        const unsigned long long key = order_key(loss[s]);
        if ((key & bin_mask) == bin_prefix)
          best = all_in_tail ? (key < best ? key : best) : (key > best ? key : best);
      }
      const unsigned long long found = all_in_tail
                                           ? block_reduce_key(st.temp.key).Reduce(best, key_min())
                                           : block_reduce_key(st.temp.key).Reduce(best, key_max());
      if (tid == 0) st.result_key = found;
      __syncthreads();
      return st.result_key;
    }
  }
  return st.prefix;  // every digit determined
}

struct block_tail {
  double var;
  double es;  // valid in thread 0
};

// ES from each thread's sum and count of the losses above VaR: the block's sums (CUB's fixed tree)
// plus VaR for the k - count places of the tail at VaR, over k.
__device__ double block_es(double above_sum, unsigned above, double var, unsigned k,
                           block_state& st) {
  const double total_above = block_sum_double(st.temp.sum).Sum(above_sum);
  __syncthreads();
  const unsigned count_above = block_reduce_count(st.temp.count).Sum(above);
  __syncthreads();
  return (total_above + static_cast<double>(k - count_above) * var) / static_cast<double>(k);
}

// VaR = the k-th largest of x[0 .. n); ES = the mean of the k largest (ties at VaR counted up to
// k): the values strictly above VaR summed per thread in scenario order, then across the block.
__device__ block_tail block_tail_of(const double* x, std::int64_t n, unsigned k, block_state& st) {
  const unsigned long long var_key = block_kth_largest_key(x, n, k, st);
  const double var = key_value(var_key);
  double above_sum = 0.0;
  unsigned above = 0;
  for (std::int64_t s = threadIdx.x; s < n; s += block) {
    const double v = x[s];
    if (order_key(v) > var_key) {
      above_sum += v;
      ++above;
    }
  }
  return block_tail{var, block_es(above_sum, above, var, k, st)};
}

// The filter's shared state: each thread's largest loss (as a key) and the candidates, each
// thread's in its scenario order at candidate_begin of that thread.
struct filter_state {
  std::uint64_t thread_max[block];
  double candidates[tail_candidates];
  std::uint64_t floor_key;
  std::uint64_t var_key;
};

struct filter_tail {
  bool ok;  // false: the filter does not apply or its candidates do not fit (block-uniform)
  double var;
  double es;                 // valid in thread 0
  unsigned candidate_begin;  // this thread's candidates: candidates[begin .. begin + count)
  unsigned candidate_count;
};

// tail_filter.hpp's filter_select, a thread per step: `top` is this thread's largest loss key
// (0 when it owns none). ES is block_tail_of's: each thread's losses above VaR summed in its
// scenario order (from its candidates, which hold every one of them in that order), then across
// the block with the same fixed tree, so the same bits.
__device__ filter_tail filter_tail_of(const double* loss, std::int64_t n, unsigned k,
                                      std::uint64_t top, block_state& st, filter_state& f) {
  const int tid = threadIdx.x;
  filter_tail r{false, 0.0, 0.0, 0u, 0u};
  if (!tail_filter_applies(static_cast<std::uint64_t>(n), block, k)) return r;
  f.thread_max[tid] = top;
  __syncthreads();
  // The floor: the k-th largest thread maximum (ties write the same key).
  if (is_kth_largest_key(f.thread_max, block, static_cast<std::uint32_t>(tid), k))
    f.floor_key = f.thread_max[tid];
  __syncthreads();
  const std::uint64_t floor_key = f.floor_key;
  unsigned mine = 0;
  for (std::int64_t s = tid; s < n; s += block)
    mine += tail_order_key(loss[s]) >= floor_key ? 1u : 0u;
  unsigned begin = 0, total = 0;
  block_scan(st.temp.scan).ExclusiveSum(mine, begin, total);
  __syncthreads();
  if (total > tail_candidates) return r;  // total is the block's: every thread returns
  unsigned at = begin;
  for (std::int64_t s = tid; s < n; s += block) {
    const double l = loss[s];
    if (tail_order_key(l) >= floor_key) f.candidates[at++] = l;
  }
  __syncthreads();
  // VaR: the k-th largest candidate (at least k: the k threads that reach the floor).
  for (unsigned i = static_cast<unsigned>(tid); i < total; i += static_cast<unsigned>(block))
    if (is_kth_largest_loss(f.candidates, total, i, k)) f.var_key = tail_order_key(f.candidates[i]);
  __syncthreads();
  const std::uint64_t var_key = f.var_key;
  const double var = tail_key_value(var_key);
  double above_sum = 0.0;
  unsigned above = 0;
  for (unsigned i = begin; i < begin + mine; ++i) {
    const double v = f.candidates[i];
    if (tail_order_key(v) > var_key) {
      above_sum += v;
      ++above;
    }
  }
  r.ok = true;
  r.var = var;
  r.es = block_es(above_sum, above, var, k, st);
  r.candidate_begin = begin;
  r.candidate_count = mine;
  return r;
}

__global__ void __launch_bounds__(block)
    account_risk_kernel(risk_launch in, std::uint32_t group_begin) {
  extern __shared__ double shared_loss[];
  __shared__ block_state st;
  __shared__ filter_state fs;
  const std::int64_t n = in.set.count;
  const int tid = threadIdx.x;
  const std::uint32_t g = group_begin + blockIdx.x;  // group within the chunk
  // The block's own rows in the wave: its group's bad debt, and its losses when not on chip.
  double* loss = in.scratch ? in.scratch + static_cast<std::uint64_t>(blockIdx.x) * n : shared_loss;
  double* bad = in.partial + static_cast<std::uint64_t>(blockIdx.x) * n;
  for (std::int64_t s = tid; s < n; s += block) bad[s] = 0.0;

  const std::uint32_t a_begin = g * in.accounts_per_group;
  const std::uint32_t a_end = min(a_begin + in.accounts_per_group, in.chunk.accounts);
  const double h = in.pricing.horizon_years;
  const unsigned k = static_cast<unsigned>(in.rules.tail_k);
  for (std::uint32_t a = a_begin; a < a_end; ++a) {
    // Margins and breaches are tested against equity; bad debt is measured on own funds (the
    // credit line is the venue's money, not the client's).
    const double equity = in.reval.account_equity[a];
    const double own_funds = in.reval.account_own_funds[a];
    // Losses of docs/design.md section 3, one scenario per thread at a time: the CPU backend's
    // expressions (valuation.hpp, delta_gamma.hpp) in its order, and, since this file is compiled
    // with --fmad=false like the host code, its roundings. Same moves or table rows, same double
    // losses as the CPU's double loops (its delta_gamma is float where a bound allows, 3.7).
    // Each thread owns scenarios tid, tid + block, ...: it alone writes and reads their losses
    // until the barrier below, and keeps the largest one's key (the filter's bound, for free).
    std::uint64_t top = 0;  // no loss
    if (in.rules.full) {
      const std::uint64_t p0 = in.chunk.account_position_begin[a],
                          p1 = in.chunk.account_position_begin[a + 1];
      for (std::int64_t s = tid; s < n; s += block) {
        double l = 0.0;  // an account without positions loses nothing
        for (std::uint64_t p = p0; p < p1; ++p) {
          const std::uint32_t i = in.chunk.position_instrument[p];
          double row;
          if (in.pricing.pnl_table) {
            row = in.pricing.pnl_table[static_cast<std::uint64_t>(i) * n + s];
          } else {
            // As the table prices it (scenario_kernels.cu): at the horizon's end, plus funding.
            const std::uint32_t u = in.instruments.underlying[i];
            const contract_terms c = in.instruments.terms[i];
            const valuation_inputs x = in.pricing.inputs[i];
            const valuation_inputs later =
                horizon_inputs(x, in.set.spot[u * n + s], in.set.vol_shock[u * n + s],
                               in.set.vol_drift, h, in.set.term_scaled);
            row = unit_value(c, later) - in.pricing.base_value[i] +
                  unit_funding(c, x, in.pricing.funding_periods);
          }
          const double q = in.chunk.position_quantity[p];
          l = p == p0 ? first_position_loss(q, row) : next_position_loss(l, q, row);
        }
        loss[s] = l;
        const double b = bad_debt(l, own_funds);
        if (b > 0.0) bad[s] += b;
        const std::uint64_t key = tail_order_key(l);
        top = key > top ? key : top;
      }
    } else {
      // Exposure by exposure: its sensitivities and moves' row are loaded once, not once per
      // scenario; each scenario's loss still takes the terms in exposure order, 0 - t0 - t1 - ...,
      // the same additions as the CPU's double loop.
      const std::uint64_t x0 = in.chunk.account_exposure_begin[a],
                          x1 = in.chunk.account_exposure_begin[a + 1];
      for (std::int64_t s = tid; s < n; s += block) loss[s] = 0.0;
      for (std::uint64_t x = x0; x < x1; ++x) {
        const std::uint64_t row = in.chunk.exposure_underlying[x] * static_cast<std::uint64_t>(n);
        const double* d_spot = in.set.d_spot + row;
        const double* d_vol = in.set.d_vol + row;
        const exposure_sensitivity e = make_exposure_sensitivity(
            in.reval.exposure_delta[x], in.reval.exposure_gamma[x],
            in.reval.exposure_vol_exposure[x], in.reval.exposure_decay[x]);
        for (std::int64_t s = tid; s < n; s += block)
          loss[s] -= delta_gamma_term(e, d_spot[s], d_vol[s]);
      }
      for (std::int64_t s = tid; s < n; s += block) {
        const double l = loss[s];
        const double b = bad_debt(l, own_funds);
        if (b > 0.0) bad[s] += b;
        const std::uint64_t key = tail_order_key(l);
        top = key > top ? key : top;
      }
    }
    __syncthreads();

    // VaR and ES: the filter where it applies, the radix select over every loss otherwise.
    const filter_tail filtered = filter_tail_of(loss, n, k, top, st, fs);
    block_tail tail{filtered.var, filtered.es};
    if (!filtered.ok) tail = block_tail_of(loss, n, k, st);
    if (tid == 0) {
      const double var = tail.var, es = tail.es;
      const margin_levels m =
          account_margins(var, es, in.rules.margin_on_es, in.reval.account_floor_notional[a],
                          in.reval.account_liquidity_addon[a],
                          margin_rule{in.rules.min_margin_rate, in.rules.maintenance_ratio,
                                      in.chunk.im_multiplier[a]});
      in.out.var[a] = var;
      in.out.es[a] = es;
      in.out.initial_margin[a] = m.initial;
      in.out.maintenance_margin[a] = m.maintenance;
      st.maintenance = m.maintenance;
    }
    __syncthreads();
    const double maintenance = st.maintenance;
    // Breaches: when VaR does not breach, none of the losses below it does (the test is monotone
    // in the loss), and every loss above it is a candidate: count this thread's candidates.
    unsigned breaches = 0;
    if (filtered.ok && breaches_within_candidates(equity, tail.var, maintenance)) {
      for (unsigned i = filtered.candidate_begin;
           i < filtered.candidate_begin + filtered.candidate_count; ++i)
        breaches += breaches_maintenance(equity, fs.candidates[i], maintenance) ? 1u : 0u;
    } else {
      for (std::int64_t s = tid; s < n; s += block)
        breaches += breaches_maintenance(equity, loss[s], maintenance) ? 1u : 0u;
    }
    const unsigned total_breaches = block_reduce_count(st.temp.count).Sum(breaches);
    if (tid == 0)
      in.out.breach_probability[a] = static_cast<double>(total_breaches) / static_cast<double>(n);
    __syncthreads();  // the next account overwrites the losses and the block state
  }
}

// The book's bad-debt distribution: mean, VaR and ES of B_s, one block over the N values.
__global__ void __launch_bounds__(block)
    book_tail_kernel(const double* book_bad, std::int64_t n, unsigned k, double* out) {
  __shared__ block_state st;
  const int tid = threadIdx.x;
  double sum = 0.0;
  for (std::int64_t s = tid; s < n; s += block) sum += book_bad[s];
  const double total = block_sum_double(st.temp.sum).Sum(sum);
  __syncthreads();
  const block_tail tail = block_tail_of(book_bad, n, k, st);
  if (tid == 0) {
    out[0] = total / static_cast<double>(n);
    out[1] = tail.var;
    out[2] = tail.es;
  }
}

// book_bad[s] += rows[0][s] + ... in row order, one thread per scenario: the same additions, in
// the same order, as one sum over every group of the book.
__global__ void add_bad_debt_rows_kernel(const double* rows, std::uint32_t count, std::int64_t n,
                                         double* book_bad) {
  const std::uint64_t stride = static_cast<std::uint64_t>(gridDim.x) * blockDim.x;
  for (std::uint64_t s = blockIdx.x * static_cast<std::uint64_t>(blockDim.x) + threadIdx.x;
       s < static_cast<std::uint64_t>(n); s += stride) {
    double total = book_bad[s];
    for (std::uint32_t r = 0; r < count; ++r) total += rows[r * static_cast<std::uint64_t>(n) + s];
    book_bad[s] = total;
  }
}

__global__ void health_kernel(std::uint32_t accounts, const double* equity, risk_outputs risk,
                              double threshold, double* health, std::uint8_t* status,
                              std::uint8_t* preemptive) {
  const std::uint64_t stride = static_cast<std::uint64_t>(gridDim.x) * blockDim.x;
  for (std::uint64_t a = blockIdx.x * static_cast<std::uint64_t>(blockDim.x) + threadIdx.x;
       a < accounts; a += stride) {
    const double e = equity[a];
    const margin_levels m{risk.initial_margin[a], risk.maintenance_margin[a]};
    const account_status s = margin_status(e, m);
    health[a] = health_factor(e, m.maintenance);
    status[a] = static_cast<std::uint8_t>(s);
    preemptive[a] = preemptive_flag(s, risk.breach_probability[a], threshold) ? 1 : 0;
  }
}

}  // namespace

std::size_t risk_shared_bytes(std::int64_t n, int device) {
  int optin = 0;
  MSYNC_CUDA_TRY(cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device));
  cudaFuncAttributes attributes{};
  MSYNC_CUDA_TRY(cudaFuncGetAttributes(&attributes, account_risk_kernel));
  const std::size_t wanted = static_cast<std::size_t>(n) * sizeof(double);
  const std::size_t available = static_cast<std::size_t>(optin) - attributes.sharedSizeBytes;
  if (wanted > available) return 0;
  MSYNC_CUDA_TRY(cudaFuncSetAttribute(
      account_risk_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(wanted)));
  return wanted;
}

void launch_account_risk(const risk_launch& launch, std::uint32_t group_begin,
                         std::uint32_t group_end, cudaStream_t stream) {
  if (group_end <= group_begin || launch.set.count == 0) return;
  account_risk_kernel<<<group_end - group_begin, block, launch.shared_bytes, stream>>>(launch,
                                                                                       group_begin);
  MSYNC_CUDA_CHECK_LAUNCH();
}

void launch_add_bad_debt_rows(const double* rows, std::uint32_t count, std::int64_t n,
                              double* book_bad, cudaStream_t stream) {
  if (n == 0 || count == 0) return;
  add_bad_debt_rows_kernel<<<elementwise_blocks(static_cast<std::uint64_t>(n)), elementwise_threads,
                             0, stream>>>(rows, count, n, book_bad);
  MSYNC_CUDA_CHECK_LAUNCH();
}

void launch_book_tail(const double* book_bad, std::int64_t n, std::int64_t k, double* out,
                      cudaStream_t stream) {
  if (n == 0) return;
  book_tail_kernel<<<1, block, 0, stream>>>(book_bad, n, static_cast<unsigned>(k), out);
  MSYNC_CUDA_CHECK_LAUNCH();
}

void launch_health(std::uint32_t accounts, const double* equity, const risk_outputs& risk,
                   double preemptive_threshold, double* health, std::uint8_t* status,
                   std::uint8_t* preemptive, cudaStream_t stream) {
  if (accounts == 0) return;
  health_kernel<<<elementwise_blocks(accounts), elementwise_threads, 0, stream>>>(
      accounts, equity, risk, preemptive_threshold, health, status, preemptive);
  MSYNC_CUDA_CHECK_LAUNCH();
}

std::size_t select_not_ok_temp_bytes(std::uint32_t accounts) {
  std::size_t bytes = 0;
  MSYNC_CUDA_TRY(cub::DeviceSelect::Flagged(
      nullptr, bytes, thrust::counting_iterator<std::uint32_t>(0),
      static_cast<const std::uint8_t*>(nullptr), static_cast<std::uint32_t*>(nullptr),
      static_cast<std::uint32_t*>(nullptr), accounts));
  return bytes;
}

void select_not_ok(const std::uint8_t* status, std::uint32_t accounts, std::uint32_t* selected,
                   std::uint32_t* count, void* temp, std::size_t temp_bytes, cudaStream_t stream) {
  // A status byte is 0 for ok, so it serves directly as the flag.
  MSYNC_CUDA_TRY(cub::DeviceSelect::Flagged(temp, temp_bytes,
                                            thrust::counting_iterator<std::uint32_t>(0), status,
                                            selected, count, accounts, stream));
}

}  // namespace msync::cuda
