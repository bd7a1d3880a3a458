// Scenario risk on the device, fused: per account, the N scenario losses, VaR and ES selected by
// the filter of marginsync/tail_filter.hpp (each thread's largest loss, taken while computing the
// losses, bounds VaR from below; the few losses at or above the bound are selected exactly), or by
// a block radix select where the filter does not apply, the margin levels and the breach count,
// and the account's bad debt per scenario added to its group's row. No accounts x scenarios
// matrix exists anywhere; global memory sees the scenario rows or the P&L table, one partial
// bad-debt row per group, loss rows and scratch of the wave, and a few numbers per account.
//
// Two kernels (docs/design.md 1.3.1):
// - account_risk_kernel: a group's accounts one after another, each account's N losses computed
//   into shared memory (N up to about 27,000) or into the block's loss row in global memory. In
//   global memory the filter has R slots per thread (owners, tail_filter.hpp) and keeps the owner
//   maxima and the candidates in the dynamic shared memory the losses do not use, so that the
//   selection reads the N losses twice (count, place) whatever N, up to k of 8,192 owners.
// - full_tiled_risk_kernel (`full` with the P&L table, k <= 256): a group's accounts in batches of
//   64, each batch swept over tiles of scenarios (chunk_plan.hpp full_tile_scenarios: a tile of the
//   table is a quarter of L2), every account of the batch within a tile before the next tile, so
//   that the blocks of a wave read the same table tile at about the same time and it stays in L2;
//   each position's instrument and quantity loaded once per tile, each thread's losses of the
//   tile (up to 4) in registers. Pass 1 adds bad debt and keeps each thread's largest loss per
//   account (global scratch); the floor per account; pass 2 computes the losses again and appends
//   those >= the floor with their scenario (warp-aggregated atomics: order of arrival is free);
//   the candidates are ranked into thread order (tail_filter.hpp thread_order_position) and
//   finished as the filter finishes. Pass 3, only for accounts whose VaR breaches, counts the
//   breaches over every scenario. An account with more than 1,024 candidates (many equal losses
//   at the top) is done again as account_risk_kernel does it, in its loss row, without adding its
//   bad debt twice. The table is gathered twice (8 P N bytes from L2 per pass).
//
// The losses: the CPU backend's expressions (valuation.hpp first_position_loss and
// next_position_loss in position order; delta_gamma.hpp terms in exposure order) with its roundings
// (--fmad=false, like the host code), so the same double losses in both kernels and both paths.
// VaR is the k-th largest key however it is selected; ES is each thread's sum of its losses above
// VaR in its scenario order (thread t owns scenarios t, t + 512, ...), then CUB's fixed tree, in
// every path: the same bits whichever path an account takes.
//
// Determinism: each scenario s of a block is owned by one thread, so the group's bad-debt row is
// summed in account order without atomics; after each wave of groups (the grid, sized by the
// device: chunk_plan.hpp wave_groups), the wave's rows are added to the book's row in the fixed
// order of marginsync/bad_debt_order.hpp (bundles of 16 groups, then bundles in order), which
// depends on the groups' indices only, not on the wave. Block reductions (CUB) have a fixed tree;
// the atomics of pass 2 decide only where a candidate lands before it is ranked. A run repeats
// bit for bit.
#include <thrust/iterator/counting_iterator.h>

#include <algorithm>
#include <cub/block/block_reduce.cuh>
#include <cub/block/block_scan.cuh>
#include <cub/device/device_select.cuh>

#include "cuda_check.cuh"
#include "launchers.cuh"
#include "marginsync/bad_debt_order.hpp"
#include "marginsync/delta_gamma.hpp"
#include "marginsync/tail_filter.hpp"

namespace msync::cuda {

namespace {

constexpr int block = risk_block_threads;
static_assert(block == static_cast<int>(full_tile_threads), "the tiled scratch is per thread");
constexpr unsigned radix_bins = 256;  // 8 bits of the key per pass
static_assert(block >= static_cast<int>(radix_bins), "a thread per histogram bin");
// Room for the filter's candidates (8 KiB of shared memory): about k to 2k losses for the 99% tail
// of independent scenarios at N = 10,000 (k = 100); an account with more (many equal losses at the
// top) takes the radix select instead.
constexpr unsigned tail_candidates = 1024;
static_assert(tail_candidates == full_tile_capacity, "the tiled candidates are staged here");
// Losses of one thread in one tile of the tiled kernel, in registers.
constexpr unsigned max_tile_j = max_tile_scenarios / block;
static_assert(max_tile_scenarios % block == 0 && max_tile_j >= 1, "whole blocks per tile");
// The large-N filter's owners: at most 16 slots per thread (8,192 owners, 64 KiB of maxima).
constexpr std::uint32_t max_filter_slots = 16;

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

// The k-th largest of key_at(0 .. n) (1 <= k <= n): most significant digit first, a 256-bin
// histogram of the keys still matching the digits found so far, the bin holding the k-th largest
// found by a suffix scan over the bins (a thread per bin). It stops early when the rest is a
// minimum (every key in the bin is in the tail) or a maximum (the k-th is the bin's largest).
// Lanes of a warp with equal digits add to the histogram once (match_any): keys crowd into few
// bins in the high digits, where plain shared atomics would serialise. Used on the losses, on the
// thread or owner maxima (the filter's floor) and on the candidates (VaR): the same k-th largest
// key as tail_filter.hpp's is_kth_largest_key finds, in a few passes instead of m per thread.
// Every thread of the block calls it; it ends with a barrier or with every thread reading
// st.prefix, so a second call needs a barrier in between.
template <class KeyAt>
__device__ unsigned long long block_kth_largest(KeyAt key_at, std::int64_t n, unsigned k,
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
        const unsigned long long key = key_at(s);
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
        const unsigned long long key = key_at(s);
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
  const unsigned long long var_key =
      block_kth_largest([x](std::int64_t i) { return order_key(x[i]); }, n, k, st);
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
};

struct filter_tail {
  bool ok;  // false: the filter does not apply or its candidates do not fit (block-uniform)
  double var;
  double es;                 // valid in thread 0
  const double* candidates;  // in thread order
  unsigned candidate_begin;  // this thread's candidates: candidates[begin .. begin + count)
  unsigned candidate_count;
};

// tail_filter.hpp's steps 4 and 5 on candidates[0 .. total) in thread order (total >= k), this
// thread's at [begin, begin + mine): VaR the k-th largest candidate key, ES from each thread's
// candidates above it in its scenario order, then across the block: block_tail_of's sums, so its
// bits.
__device__ filter_tail filter_finish_block(const double* candidates, unsigned total, unsigned begin,
                                           unsigned mine, unsigned k, block_state& st) {
  const std::uint64_t var_key = block_kth_largest(
      [candidates](std::int64_t i) { return tail_order_key(candidates[i]); }, total, k, st);
  const double var = tail_key_value(var_key);
  double above_sum = 0.0;
  unsigned above = 0;
  for (unsigned i = begin; i < begin + mine; ++i) {
    const double v = candidates[i];
    if (tail_order_key(v) > var_key) {
      above_sum += v;
      ++above;
    }
  }
  filter_tail r;
  r.ok = true;
  r.var = var;
  r.es = block_es(above_sum, above, var, k, st);
  r.candidates = candidates;
  r.candidate_begin = begin;
  r.candidate_count = mine;
  return r;
}

// tail_filter.hpp's filter_select with R slots per thread (R = 1: `owner_max` is this thread's
// entry of the thread maxima), a thread per step: owner_max[r * block + t] holds owner (t, r)'s
// largest loss key (0 when it owns none), written by thread t before the call. The candidates go
// to candidates[0 .. capacity) in thread order.
__device__ filter_tail filter_tail_of(const double* loss, std::int64_t n, unsigned k,
                                      const std::uint64_t* owner_max, unsigned slots,
                                      double* candidates, unsigned capacity, block_state& st) {
  const int tid = threadIdx.x;
  filter_tail r{false, 0.0, 0.0, candidates, 0u, 0u};
  if (!tail_filter_applies(static_cast<std::uint64_t>(n), block, k, slots)) return r;
  __syncthreads();  // every owner's maximum written
  // The floor: the k-th largest owner maximum.
  const std::uint64_t floor_key = block_kth_largest(
      [owner_max](std::int64_t i) { return owner_max[i]; }, std::int64_t{block} * slots, k, st);
  unsigned mine = 0;
  for (std::int64_t s = tid; s < n; s += block)
    mine += tail_order_key(loss[s]) >= floor_key ? 1u : 0u;
  unsigned begin = 0, total = 0;
  block_scan(st.temp.scan).ExclusiveSum(mine, begin, total);
  __syncthreads();
  if (total > capacity) return r;  // total is the block's: every thread returns
  unsigned at = begin;
  for (std::int64_t s = tid; s < n; s += block) {
    const double l = loss[s];
    if (tail_order_key(l) >= floor_key) candidates[at++] = l;
  }
  __syncthreads();
  // VaR among at least k candidates: the k owners that reach the floor.
  return filter_finish_block(candidates, total, begin, mine, k, st);
}

// Account a's margin levels and outputs (VaR, ES, IM, MM) from its tail, written by thread 0; its
// maintenance margin to every thread.
__device__ double settle_account(const risk_launch& in, std::uint32_t a, const block_tail& tail,
                                 block_state& st) {
  if (threadIdx.x == 0) {
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
  return st.maintenance;
}

// The breach probability of account a from each thread's count (thread 0 writes it).
__device__ void write_breaches(const risk_launch& in, std::uint32_t a, unsigned breaches,
                               block_state& st) {
  const unsigned total = block_reduce_count(st.temp.count).Sum(breaches);
  if (threadIdx.x == 0)
    in.out.breach_probability[a] = static_cast<double>(total) / static_cast<double>(in.set.count);
}

// The rest of an account once its losses are in `loss` (shared or global): VaR and ES by the
// filter (owner maxima written) or the radix select, the margins, the breach count (from the
// candidates when VaR does not breach: no loss below VaR then breaches, and every loss above it
// is a candidate). Ends with a barrier.
__device__ void account_tail(const risk_launch& in, std::uint32_t a, const double* loss,
                             const std::uint64_t* owner_max, unsigned slots, double* candidates,
                             unsigned capacity, block_state& st) {
  const std::int64_t n = in.set.count;
  const unsigned k = static_cast<unsigned>(in.rules.tail_k);
  const filter_tail filtered =
      filter_tail_of(loss, n, k, owner_max, slots, candidates, capacity, st);
  block_tail tail{filtered.var, filtered.es};
  if (!filtered.ok) tail = block_tail_of(loss, n, k, st);
  const double maintenance = settle_account(in, a, tail, st);
  const double equity = in.reval.account_equity[a];
  unsigned breaches = 0;
  if (filtered.ok && breaches_within_candidates(equity, tail.var, maintenance)) {
    for (unsigned i = filtered.candidate_begin;
         i < filtered.candidate_begin + filtered.candidate_count; ++i)
      breaches += breaches_maintenance(equity, filtered.candidates[i], maintenance) ? 1u : 0u;
  } else {
    for (std::int64_t s = threadIdx.x; s < n; s += block)
      breaches += breaches_maintenance(equity, loss[s], maintenance) ? 1u : 0u;
  }
  write_breaches(in, a, breaches, st);
  __syncthreads();  // the next account overwrites the losses and the block state
}

// Account a's `full` loss in scenario s: its positions in order, each a table row (or priced as
// the table prices it, scenario_kernels.cu: at the horizon's end, plus funding).
__device__ double full_loss(const risk_launch& in, std::uint32_t a, std::int64_t s) {
  const std::int64_t n = in.set.count;
  const std::uint64_t p0 = in.chunk.account_position_begin[a],
                      p1 = in.chunk.account_position_begin[a + 1];
  double l = 0.0;  // an account without positions loses nothing
  for (std::uint64_t p = p0; p < p1; ++p) {
    const std::uint32_t i = in.chunk.position_instrument[p];
    double row;
    if (in.pricing.pnl_table) {
      row = in.pricing.pnl_table[static_cast<std::uint64_t>(i) * static_cast<std::uint64_t>(n) +
                                 static_cast<std::uint64_t>(s)];
    } else {
      const std::uint32_t u = in.instruments.underlying[i];
      const contract_terms c = in.instruments.terms[i];
      const valuation_inputs x = in.pricing.inputs[i];
      const std::uint64_t cell = static_cast<std::uint64_t>(u) * static_cast<std::uint64_t>(n) +
                                 static_cast<std::uint64_t>(s);
      const valuation_inputs later =
          horizon_inputs(x, in.set.spot[cell], in.set.vol_shock[cell], in.set.vol_drift,
                         in.pricing.horizon_years, in.set.term_scaled);
      row = unit_value(c, later) - in.pricing.base_value[i] +
            unit_funding(c, x, in.pricing.funding_periods);
    }
    const double q = in.chunk.position_quantity[p];
    l = p == p0 ? first_position_loss(q, row) : next_position_loss(l, q, row);
  }
  return l;
}

__global__ void __launch_bounds__(block, 2)
    account_risk_kernel(risk_launch in, std::uint32_t group_begin) {
  extern __shared__ double dynamic_shared[];
  __shared__ block_state st;
  __shared__ filter_state fs;
  const std::int64_t n = in.set.count;
  const int tid = threadIdx.x;
  const std::uint32_t g = group_begin + blockIdx.x;  // group within the chunk
  // The block's own rows in the wave: its group's bad debt, and its losses when not on chip.
  const bool global_losses = in.scratch != nullptr;
  double* loss = global_losses ? in.scratch + static_cast<std::uint64_t>(blockIdx.x) *
                                                  static_cast<std::uint64_t>(n)
                               : dynamic_shared;
  double* bad = in.partial + static_cast<std::uint64_t>(blockIdx.x) * static_cast<std::uint64_t>(n);
  for (std::int64_t s = tid; s < n; s += block) bad[s] = 0.0;
  // The filter's owners and candidates: with the losses in global memory and in.slots > 0, R slots
  // per thread in the dynamic shared memory the losses leave free (owner maxima, then
  // in.slot_capacity candidates); otherwise one per thread and 1,024 candidates, static.
  const unsigned slots = global_losses ? in.slots : 0u;
  std::uint64_t* owner_max =
      slots ? reinterpret_cast<std::uint64_t*>(dynamic_shared) : fs.thread_max;
  double* candidates = slots ? dynamic_shared + std::size_t{block} * slots : fs.candidates;
  const unsigned capacity = slots ? in.slot_capacity : tail_candidates;
  const unsigned owner_slots = slots ? slots : 1u;

  const std::uint32_t a_begin = g * in.accounts_per_group;
  const std::uint32_t a_end = min(a_begin + in.accounts_per_group, in.chunk.accounts);
  for (std::uint32_t a = a_begin; a < a_end; ++a) {
    // Bad debt is measured on own funds (the credit line is the venue's money, not the client's).
    const double own_funds = in.reval.account_own_funds[a];
    for (unsigned r = 0; r < owner_slots; ++r) owner_max[r * block + tid] = 0;  // no loss
    // Each thread owns scenarios tid, tid + block, ...: it alone writes and reads their losses
    // until the barrier in the selection, and keeps each owner's largest key (the filter's bound,
    // for free): its j-th scenario is owner slot j mod R.
    auto keep = [&](std::int64_t s, unsigned& slot, double l) {
      loss[s] = l;
      const double b = bad_debt(l, own_funds);
      if (b > 0.0) bad[s] += b;
      const std::uint64_t key = tail_order_key(l);
      std::uint64_t& m = owner_max[slot * block + tid];
      m = key > m ? key : m;
      slot = slot + 1 == owner_slots ? 0u : slot + 1;
    };
    unsigned slot = 0;
    if (in.rules.full) {
      for (std::int64_t s = tid; s < n; s += block) keep(s, slot, full_loss(in, a, s));
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
      for (std::int64_t s = tid; s < n; s += block) keep(s, slot, loss[s]);
    }
    account_tail(in, a, loss, owner_max, owner_slots, candidates, capacity, st);
  }
}

// ---- `full` tiled over scenarios --------------------------------------------------------------

// One block's global scratch (chunk_plan.hpp full_tile_block_bytes): per account of a batch, the
// 512 thread maxima, the candidates (loss and scenario) and their count.
struct tile_scratch {
  std::uint64_t* thread_max;          // [batch][block]
  double* candidate_loss;             // [batch][capacity]
  std::uint32_t* candidate_scenario;  // [batch][capacity]
  std::uint32_t* count;               // [batch]
};

__device__ tile_scratch tile_scratch_of(unsigned char* base) {
  constexpr std::size_t batch = full_tile_batch, cap = full_tile_capacity;
  tile_scratch t;
  t.thread_max = reinterpret_cast<std::uint64_t*>(base);
  t.candidate_loss = reinterpret_cast<double*>(base + batch * block * 8);
  t.candidate_scenario =
      reinterpret_cast<std::uint32_t*>(base + batch * block * 8 + batch * cap * 8);
  t.count = reinterpret_cast<std::uint32_t*>(base + batch * block * 8 + batch * cap * 12);
  return t;
}
static_assert(std::size_t{full_tile_batch} * (block * 8 + full_tile_capacity * 12 + 4) <=
                  full_tile_block_bytes,
              "the scratch layout fits the bytes planned");

// What a batch of the tiled kernel keeps on chip per account.
struct tile_state {
  std::uint64_t floor[full_tile_batch];
  double maintenance[full_tile_batch];
  unsigned breaches[full_tile_batch];
  unsigned char state[full_tile_batch];  // 0 settled, 1 breaches over every scenario, 2 redo
  std::uint32_t scenario[full_tile_capacity];
  unsigned breach_pass, redo;
};
constexpr unsigned char settled = 0, count_every_breach = 1, redo_account = 2;

// This thread's losses of account a in a tile: l[j] for scenario s0 + 512 j (j < J, s < n), the
// positions in order, each position's instrument and quantity loaded once for its J scenarios:
// first_position_loss, then next_position_loss, as full_loss computes each.
__device__ void tile_losses(const risk_launch& in, std::uint32_t a, std::int64_t s0, unsigned J,
                            double (&l)[max_tile_j]) {
  const std::int64_t n = in.set.count;
  const std::uint64_t p0 = in.chunk.account_position_begin[a],
                      p1 = in.chunk.account_position_begin[a + 1];
#pragma unroll
  for (unsigned j = 0; j < max_tile_j; ++j) l[j] = 0.0;  // an account without positions
  for (std::uint64_t p = p0; p < p1; ++p) {
    const std::uint32_t i = in.chunk.position_instrument[p];
    const double q = in.chunk.position_quantity[p];
    const double* row =
        in.pricing.pnl_table + static_cast<std::uint64_t>(i) * static_cast<std::uint64_t>(n);
#pragma unroll
    for (unsigned j = 0; j < max_tile_j; ++j) {
      const std::int64_t s = s0 + static_cast<std::int64_t>(j) * block;
      if (j < J && s < n) {
        const double r = row[s];
        l[j] = p == p0 ? first_position_loss(q, r) : next_position_loss(l[j], q, r);
      }
    }
  }
}

__global__ void __launch_bounds__(block, 2)
    full_tiled_risk_kernel(risk_launch in, std::uint32_t group_begin) {
  __shared__ block_state st;
  __shared__ filter_state fs;
  __shared__ tile_state ts;
  const std::int64_t n = in.set.count;
  const int tid = threadIdx.x, lane = tid & 31;
  const std::uint32_t g = group_begin + blockIdx.x;
  const std::uint64_t row_at =
      static_cast<std::uint64_t>(blockIdx.x) * static_cast<std::uint64_t>(n);
  double* loss = in.scratch + row_at;  // an account done again only
  double* bad = in.partial + row_at;
  for (std::int64_t s = tid; s < n; s += block) bad[s] = 0.0;
  const tile_scratch sc = tile_scratch_of(in.tile_scratch + static_cast<std::size_t>(blockIdx.x) *
                                                                full_tile_block_bytes);
  const unsigned k = static_cast<unsigned>(in.rules.tail_k);
  const std::int64_t tile = in.tile;
  const unsigned J = in.tile / block;
  constexpr unsigned cap = full_tile_capacity;

  const std::uint32_t a_begin = g * in.accounts_per_group;
  const std::uint32_t a_end = min(a_begin + in.accounts_per_group, in.chunk.accounts);
  for (std::uint32_t b0 = a_begin; b0 < a_end; b0 += full_tile_batch) {
    const std::uint32_t b1 = min(b0 + full_tile_batch, a_end);
    if (tid < static_cast<int>(full_tile_batch)) ts.state[tid] = settled;
    if (tid == 0) ts.breach_pass = ts.redo = 0;
    __syncthreads();

    // Pass 1: bad debt (each scenario's accounts in order, from the row's value so far) and each
    // thread's largest loss key per account.
    for (std::int64_t t0 = 0; t0 < n; t0 += tile) {
      const std::int64_t s0 = t0 + tid;
      double row_bad[max_tile_j];
#pragma unroll
      for (unsigned j = 0; j < max_tile_j; ++j) {
        const std::int64_t s = s0 + static_cast<std::int64_t>(j) * block;
        row_bad[j] = j < J && s < n ? bad[s] : 0.0;
      }
      for (std::uint32_t a = b0; a < b1; ++a) {
        double l[max_tile_j];
        tile_losses(in, a, s0, J, l);
        const double own_funds = in.reval.account_own_funds[a];
        std::uint64_t top = 0;
#pragma unroll
        for (unsigned j = 0; j < max_tile_j; ++j) {
          if (j < J && s0 + static_cast<std::int64_t>(j) * block < n) {
            const double b = bad_debt(l[j], own_funds);
            if (b > 0.0) row_bad[j] += b;
            const std::uint64_t key = tail_order_key(l[j]);
            top = key > top ? key : top;
          }
        }
        std::uint64_t& m = sc.thread_max[(a - b0) * block + tid];  // this thread's only
        m = t0 == 0 ? top : (top > m ? top : m);
      }
#pragma unroll
      for (unsigned j = 0; j < max_tile_j; ++j) {
        const std::int64_t s = s0 + static_cast<std::int64_t>(j) * block;
        if (j < J && s < n) bad[s] = row_bad[j];
      }
    }

    // The floor of each account: the k-th largest of its thread maxima.
    for (std::uint32_t a = b0; a < b1; ++a) {
      fs.thread_max[tid] = sc.thread_max[(a - b0) * block + tid];
      if (tid == 0) sc.count[a - b0] = 0;
      __syncthreads();
      const std::uint64_t* maxima = fs.thread_max;
      const std::uint64_t floor_key =
          block_kth_largest([maxima](std::int64_t i) { return maxima[i]; }, block, k, st);
      if (tid == 0) ts.floor[a - b0] = floor_key;
      __syncthreads();
    }

    // Pass 2: the losses >= the floor with their scenario, a warp's at a time (lane 0 takes the
    // slots; the order they land in is ranked away below).
    for (std::int64_t t0 = 0; t0 < n; t0 += tile) {
      const std::int64_t s0 = t0 + tid;
      for (std::uint32_t a = b0; a < b1; ++a) {
        double l[max_tile_j];
        tile_losses(in, a, s0, J, l);
        const std::uint64_t floor_key = ts.floor[a - b0];
#pragma unroll
        for (unsigned j = 0; j < max_tile_j; ++j) {
          if (j < J) {  // uniform: every lane of the warp takes the ballot
            const std::int64_t s = s0 + static_cast<std::int64_t>(j) * block;
            const bool kept = s < n && tail_order_key(l[j]) >= floor_key;
            const unsigned mask = __ballot_sync(0xffffffffu, kept);
            if (mask != 0) {
              unsigned base = 0;
              if (lane == 0)
                base = atomicAdd(&sc.count[a - b0], static_cast<unsigned>(__popc(mask)));
              base = __shfl_sync(0xffffffffu, base, 0);
              const unsigned slot =
                  base + static_cast<unsigned>(__popc(mask & ((1u << lane) - 1u)));
              if (kept && slot < cap) {
                sc.candidate_loss[(a - b0) * cap + slot] = l[j];
                sc.candidate_scenario[(a - b0) * cap + slot] = static_cast<std::uint32_t>(s);
              }
            }
          }
        }
      }
    }
    __syncthreads();  // every candidate written

    // Each account's tail from its candidates, ranked into thread order.
    for (std::uint32_t a = b0; a < b1; ++a) {
      const std::uint32_t local = a - b0;
      const unsigned count = __ldcg(&sc.count[local]);  // the atomics' total, from L2
      if (count > cap) {                                // block-uniform
        if (tid == 0) {
          ts.state[local] = redo_account;
          ts.redo = 1;
        }
        continue;
      }
      for (unsigned i = tid; i < count; i += block)
        ts.scenario[i] = __ldcg(&sc.candidate_scenario[local * cap + i]);
      __syncthreads();
      for (unsigned i = tid; i < count; i += block)
        fs.candidates[thread_order_position(ts.scenario, count, i, block)] =
            __ldcg(&sc.candidate_loss[local * cap + i]);
      const unsigned begin = thread_order_begin(ts.scenario, count, tid, block);
      const unsigned mine = thread_order_begin(ts.scenario, count, tid + 1, block) - begin;
      __syncthreads();
      const filter_tail f = filter_finish_block(fs.candidates, count, begin, mine, k, st);
      const double maintenance = settle_account(in, a, block_tail{f.var, f.es}, st);
      const double equity = in.reval.account_equity[a];
      if (breaches_within_candidates(equity, f.var, maintenance)) {
        unsigned breaches = 0;
        for (unsigned i = begin; i < begin + mine; ++i)
          breaches += breaches_maintenance(equity, fs.candidates[i], maintenance) ? 1u : 0u;
        write_breaches(in, a, breaches, st);
      } else if (tid == 0) {
        ts.state[local] = count_every_breach;
        ts.maintenance[local] = maintenance;
        ts.breaches[local] = 0;
        ts.breach_pass = 1;
      }
      __syncthreads();  // the next account overwrites the candidates and the block state
    }
    __syncthreads();

    // Pass 3, for the accounts whose VaR breaches: every scenario's breach, counted in shared
    // memory (integer sums: any order gives the same count).
    if (ts.breach_pass) {
      for (std::int64_t t0 = 0; t0 < n; t0 += tile) {
        const std::int64_t s0 = t0 + tid;
        for (std::uint32_t a = b0; a < b1; ++a) {
          if (ts.state[a - b0] != count_every_breach) continue;  // block-uniform
          double l[max_tile_j];
          tile_losses(in, a, s0, J, l);
          const double equity = in.reval.account_equity[a];
          const double maintenance = ts.maintenance[a - b0];
          unsigned breaches = 0;
#pragma unroll
          for (unsigned j = 0; j < max_tile_j; ++j)
            if (j < J && s0 + static_cast<std::int64_t>(j) * block < n)
              breaches += breaches_maintenance(equity, l[j], maintenance) ? 1u : 0u;
          breaches = __reduce_add_sync(0xffffffffu, breaches);
          if (lane == 0 && breaches > 0) atomicAdd(&ts.breaches[a - b0], breaches);
        }
      }
      __syncthreads();
      for (std::uint32_t a = b0 + tid; a < b1; a += block)
        if (ts.state[a - b0] == count_every_breach)
          in.out.breach_probability[a] =
              static_cast<double>(ts.breaches[a - b0]) / static_cast<double>(n);
    }

    // Accounts with too many candidates: done again as account_risk_kernel does them, their
    // losses in the block's loss row (their bad debt is already in the row).
    if (ts.redo) {
      for (std::uint32_t a = b0; a < b1; ++a) {
        if (ts.state[a - b0] != redo_account) continue;  // block-uniform
        std::uint64_t top = 0;
        for (std::int64_t s = tid; s < n; s += block) {
          const double l = full_loss(in, a, s);
          loss[s] = l;
          const std::uint64_t key = tail_order_key(l);
          top = key > top ? key : top;
        }
        fs.thread_max[tid] = top;
        account_tail(in, a, loss, fs.thread_max, 1, fs.candidates, tail_candidates, st);
      }
    }
    __syncthreads();  // the next batch resets the states
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

// A wave's rows added to the book's row in the order of marginsync/bad_debt_order.hpp: first a
// thread per (bundle, scenario) sums the wave's rows of its bundle (N threads per bundle: about
// 33 N for a wave of 528 groups), then a thread per scenario adds the finished bundles in order.
__global__ void bundle_rows_kernel(double* rows, std::uint32_t g0, std::uint32_t count,
                                   std::uint32_t groups, std::int64_t n, const double* carry_in,
                                   double* carry_out) {
  const std::uint64_t un = static_cast<std::uint64_t>(n);
  const std::uint32_t b0 = wave_first_bundle(g0);
  const std::uint64_t total = un * wave_bundles(g0, count);
  const std::uint64_t stride = static_cast<std::uint64_t>(gridDim.x) * blockDim.x;
  for (std::uint64_t cell = blockIdx.x * static_cast<std::uint64_t>(blockDim.x) + threadIdx.x;
       cell < total; cell += stride) {
    const std::uint64_t s = cell % un;
    const std::uint32_t b = b0 + static_cast<std::uint32_t>(cell / un);
    bundle_wave_cell(rows + s, un, g0, count, groups, b, carry_in + s, carry_out + s);
  }
}

__global__ void add_bundles_kernel(const double* rows, std::uint32_t g0, std::uint32_t count,
                                   std::uint32_t groups, std::int64_t n, double* book_bad) {
  const std::uint64_t un = static_cast<std::uint64_t>(n);
  const std::uint64_t stride = static_cast<std::uint64_t>(gridDim.x) * blockDim.x;
  for (std::uint64_t s = blockIdx.x * static_cast<std::uint64_t>(blockDim.x) + threadIdx.x; s < un;
       s += stride)
    add_finished_bundles(rows + s, un, g0, count, groups, book_bad + s);
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

risk_memory_plan plan_risk_memory(std::int64_t n, std::int64_t k, int device) {
  int optin = 0;
  MSYNC_CUDA_TRY(cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device));
  cudaFuncAttributes attributes{};
  MSYNC_CUDA_TRY(cudaFuncGetAttributes(&attributes, account_risk_kernel));
  const std::size_t available = static_cast<std::size_t>(optin) - attributes.sharedSizeBytes;
  risk_memory_plan plan;
  const std::size_t wanted = static_cast<std::size_t>(n) * sizeof(double);
  if (wanted <= available) {
    plan.shared_bytes = wanted;
    plan.losses_on_chip = true;
  } else {
    // The losses in global memory: R slots per thread (at least 4k owners, at most 16 slots: 64
    // KiB of owner maxima) and candidates for about 4k losses and 1,024 more, within what the
    // device allows; no slots when even 1,024 candidates do not fit beside the owners.
    const std::uint32_t ku = static_cast<std::uint32_t>(std::clamp<std::int64_t>(k, 1, 1 << 30));
    const std::uint32_t slots =
        filter_slots(ku, static_cast<std::uint32_t>(block), max_filter_slots);
    const std::size_t owner_bytes = std::size_t{block} * slots * sizeof(std::uint64_t);
    const std::size_t want_candidates = 4 * std::size_t{ku} + tail_candidates;
    // Only where the filter can apply (k at most 512 R): above, the radix select runs and shared
    // memory it cannot use would only cost occupancy.
    if (tail_filter_applies(static_cast<std::uint64_t>(n), static_cast<std::uint32_t>(block), ku,
                            slots) &&
        available >= owner_bytes + tail_candidates * sizeof(double)) {
      const std::size_t room = (available - owner_bytes) / sizeof(double);
      plan.slots = slots;
      plan.slot_capacity = static_cast<std::uint32_t>(std::min(room, want_candidates));
      plan.shared_bytes = owner_bytes + std::size_t{plan.slot_capacity} * sizeof(double);
    }
  }
  if (plan.shared_bytes > 0)
    MSYNC_CUDA_TRY(cudaFuncSetAttribute(account_risk_kernel,
                                        cudaFuncAttributeMaxDynamicSharedMemorySize,
                                        static_cast<int>(plan.shared_bytes)));
  return plan;
}

bool full_tiles_apply(std::int64_t n, std::int64_t k, bool with_table) {
  // At least two threads per place of the tail: the candidates then fit the 1,024 slots for
  // independent scenarios (about 350 at k = 256, N = 25,600; about 3,000 at k = 512, N = 51,200,
  // where every account would be done again).
  return with_table && k >= 1 && 2 * k <= block && k <= n &&
         n <= static_cast<std::int64_t>(0xffffffffu);
}

void launch_account_risk(const risk_launch& launch, std::uint32_t group_begin,
                         std::uint32_t group_end, cudaStream_t stream) {
  if (group_end <= group_begin || launch.set.count == 0) return;
  if (launch.tile > 0) {
    full_tiled_risk_kernel<<<group_end - group_begin, block, 0, stream>>>(launch, group_begin);
  } else {
    account_risk_kernel<<<group_end - group_begin, block, launch.shared_bytes, stream>>>(
        launch, group_begin);
  }
  MSYNC_CUDA_CHECK_LAUNCH();
}

void launch_add_bad_debt_rows(double* rows, std::uint32_t g0, std::uint32_t count,
                              std::uint32_t groups, std::int64_t n, const double* carry_in,
                              double* carry_out, double* book_bad, cudaStream_t stream) {
  if (n == 0 || count == 0) return;
  const std::uint64_t cells = static_cast<std::uint64_t>(n) * wave_bundles(g0, count);
  bundle_rows_kernel<<<elementwise_blocks(cells), elementwise_threads, 0, stream>>>(
      rows, g0, count, groups, n, carry_in, carry_out);
  MSYNC_CUDA_CHECK_LAUNCH();
  add_bundles_kernel<<<elementwise_blocks(static_cast<std::uint64_t>(n)), elementwise_threads, 0,
                       stream>>>(rows, g0, count, groups, n, book_bad);
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
