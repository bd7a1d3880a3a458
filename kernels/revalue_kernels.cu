// Revaluation on the device: each instrument priced once, then one pass over the positions that
// sums them into exposures and accounts, large accounts split across a warp. The math is
// valuation.hpp's, and every sum is taken in the CPU's order, so the bits are the CPU's but for
// the device's transcendental functions.
#include <algorithm>

#include "cuda_check.cuh"
#include "cuda_entry.hpp"
#include "device_buffer.cuh"
#include "launchers.cuh"
#include "marginsync/account_revaluation.hpp"
#include "marginsync/account_split.hpp"
#include "marginsync/errors.hpp"

namespace msync::cuda {

namespace {

// unit[i] = price_instrument (value, greeks, horizon decay, vol exposure) and base[i] = unit_value,
// as the CPU backend prices each instrument.
__global__ void instrument_risk_kernel(const contract_terms* terms, const valuation_inputs* inputs,
                                       instrument_risk* unit, double* base, std::uint32_t n,
                                       double horizon_years, double funding_periods) {
  for (std::uint32_t i = blockIdx.x * blockDim.x + threadIdx.x; i < n;
       i += gridDim.x * blockDim.x) {
    unit[i] = price_instrument(terms[i], inputs[i], horizon_years, funding_periods);
    if (base) base[i] = unit_value(terms[i], inputs[i]);
  }
}

// The revaluation kernel's blocks: the first split_blocks of them a warp per split account, the
// rest a thread per account; both kinds revalue_threads threads.
constexpr unsigned revalue_threads = elementwise_threads;
constexpr unsigned warp_lanes = 32;
constexpr unsigned split_warps_per_block = revalue_threads / warp_lanes;
static_assert(split_lanes == warp_lanes, "a round is one position per lane of a warp");
static_assert(split_sums <= warp_lanes, "each sum has a lane of its own");
constexpr unsigned full_warp = 0xffffffffu;

// One warp's round in shared memory: each sum's terms of the round's 32 positions, a row per sum
// padded to 33 doubles (the sum lanes each read their own row at the same column: 66 words apart,
// distinct banks), and each position's exposure.
struct split_round {
  double term[split_sums][split_lanes + 1];
  std::uint64_t exposure[split_lanes];
};

// Dynamic shared memory of a launch: a warp's round for each warp of a block when it splits
// accounts, and a block's collateral changes when some moved (the two kinds of block use it
// alone, so they share it).
std::size_t revalue_shared_bytes(bool split, bool changes) {
  const std::size_t rounds = split ? split_warps_per_block * sizeof(split_round) : 0;
  const std::size_t change = changes ? revalue_threads * sizeof(double) : 0;
  return rounds > change ? rounds : change;
}

__device__ account_revaluation_view account_view(
    const chunk_view& chunk, const contract_terms* terms, const valuation_inputs* inputs,
    const instrument_risk* unit, const underlying_view& market, const revaluation_view& out) {
  return account_revaluation_view{chunk.exposure_underlying,
                                  chunk.exposure_position_begin,
                                  chunk.position_instrument,
                                  chunk.position_quantity,
                                  chunk.position_cost,
                                  terms,
                                  inputs,
                                  unit,
                                  market.spot,
                                  market.vol,
                                  market.impact_coefficient,
                                  market.daily_volume,
                                  out.exposure_delta,
                                  out.exposure_gamma,
                                  out.exposure_vega,
                                  out.exposure_theta,
                                  out.exposure_decay,
                                  out.exposure_vol_exposure};
}

// Account a's totals written, the collateral moved added after the positions (`change` is 0.0
// for an account not listed: nothing is added, account_split.hpp plus_change).
__device__ void write_account(const revaluation_view& out, std::uint32_t a, const account_totals& t,
                              double change) {
  out.account_own_funds[a] = plus_change(t.own_funds, change);
  out.account_equity[a] = plus_change(t.equity, change);
  out.account_gross_notional[a] = t.gross_notional;
  out.account_floor_notional[a] = t.floor_notional;
  out.account_liquidity_addon[a] = t.liquidity_addon;
}

// One account revalued by the calling warp (account_split.hpp, revalue_account_split's steps):
// per round, lane l loads and computes position (round + l)'s terms into `r`; then lane k < 10
// adds the 32 terms of sum k in position order, writing exposures out as they complete. Every lane
// of the warp calls this (the __syncwarp and shuffles take all 32). Loading the next round's
// instrument, quantity and cost before the adding would overlap their latency with it, but takes
// 8 more registers than the 64 that keep 4 blocks of the thread kind per SM (ptxas -v; spills
// under __launch_bounds__): the other warps on the SM hide that latency instead.
__device__ void revalue_split_account(const account_revaluation_view& v, std::uint64_t x_begin,
                                      std::uint64_t x_end, double collateral, double credit_limit,
                                      double change, std::uint32_t a, const revaluation_view& out,
                                      split_round& r) {
  const unsigned lane = threadIdx.x % warp_lanes;
  const detail::position_struct_source source{v.terms, v.inputs, v.unit};
  const unsigned sum = lane < split_sums ? lane : 0;  // lanes from split_sums on keep none
  split_lane keep = split_lane::start(sum, x_begin, x_end, collateral, 0.0);
  const std::uint64_t p_begin = v.exposure_position_begin[x_begin];
  const std::uint64_t p_end = v.exposure_position_begin[x_end];
  std::uint64_t cursor = x_begin;  // the exposure of this lane's position
  for (std::uint64_t round = p_begin; round < p_end; round += split_lanes) {  // warp-uniform
    const std::uint64_t p = round + lane;
    if (p < p_end) {
      cursor = exposure_of_position(v.exposure_position_begin, cursor, p);
      position_terms_of(v, source, cursor, v.position_instrument[p], v.position_quantity[p],
                        v.position_cost[p], &r.term[0][lane], split_lanes + 1);
      r.exposure[lane] = cursor;
    }
    __syncwarp(full_warp);  // the round's terms are in shared memory
    if (lane < split_sums) {
      const std::uint64_t left = p_end - round;
      const unsigned n = left < split_lanes ? static_cast<unsigned>(left) : split_lanes;
      for (unsigned j = 0; j < n; ++j) keep.add(v, r.exposure[j], r.term[lane][j]);
    }
    __syncwarp(full_warp);  // read before the next round writes
  }
  if (lane < split_sums) keep.finish(v);
  const double own = __shfl_sync(full_warp, keep.s, sum_own);
  const double gross = __shfl_sync(full_warp, keep.s, sum_gross);
  const double floor = __shfl_sync(full_warp, keep.s, sum_floor);
  const double addon = __shfl_sync(full_warp, keep.addon, sum_delta);
  if (lane == 0)
    write_account(out, a, account_totals{own, own + credit_limit, gross, floor, addon}, change);
}

// The chunk's revaluation in the CPU backend's order of summation. Blocks [0, split_blocks): a
// warp per account of `split` (each sum kept by one lane, account_split.hpp). The other blocks: a
// thread per account (account_revaluation.hpp), skipping the split ones; neighbouring threads read
// neighbouring ranges, so the position arrays stream through L1/L2 once. The collateral moved
// (`changes`) is added to own funds and equity as each account is written: a block of the thread
// kind finds its accounts' part of the list (one binary search, the same for every thread) and
// spreads it through shared memory.
// At most 64 registers (4 blocks of 256 per SM), what the thread-per-account kernel used before.
__global__ void __launch_bounds__(revalue_threads, 4)
    account_revalue_kernel(chunk_view chunk, const contract_terms* terms,
                           const valuation_inputs* inputs, const instrument_risk* unit,
                           underlying_view market, revaluation_view out, split_account_view split,
                           std::uint32_t split_blocks, collateral_change_view changes) {
  extern __shared__ __align__(16) unsigned char revalue_shared[];
  const account_revaluation_view v = account_view(chunk, terms, inputs, unit, market, out);
  if (blockIdx.x < split_blocks) {  // block-uniform
    const std::uint32_t w = blockIdx.x * split_warps_per_block + threadIdx.x / warp_lanes;
    if (w >= split.count) return;  // warp-uniform: the whole warp leaves
    split_round& r = reinterpret_cast<split_round*>(revalue_shared)[threadIdx.x / warp_lanes];
    const std::uint32_t a = split.account[w];
    const double change = changes.count > 0
                              ? listed_change(changes.account, changes.change, changes.count,
                                              changes.account_offset + a)
                              : 0.0;
    revalue_split_account(v, chunk.account_exposure_begin[a], chunk.account_exposure_begin[a + 1],
                          chunk.collateral[a], chunk.credit_limit[a], change, a, out, r);
    return;
  }
  const std::uint32_t first = (blockIdx.x - split_blocks) * revalue_threads;
  const std::uint32_t a = first + threadIdx.x;
  double* change_of = reinterpret_cast<double*>(revalue_shared);
  if (changes.count > 0) {         // block-uniform: every thread reaches both barriers
    change_of[threadIdx.x] = 0.0;  // not listed: nothing added
    const std::uint64_t g0 = std::uint64_t{changes.account_offset} + first;
    const std::uint64_t g1 = g0 + revalue_threads;
    const std::uint32_t i0 =
        lower_bound_account(changes.account, changes.count, static_cast<std::uint32_t>(g0));
    __syncthreads();
    for (std::uint32_t i = i0 + threadIdx.x; i < changes.count && changes.account[i] < g1;
         i += revalue_threads)
      change_of[changes.account[i] - g0] = changes.change[i];
    __syncthreads();
  }
  if (a >= chunk.accounts) return;
  const std::uint64_t x0 = chunk.account_exposure_begin[a],
                      x1 = chunk.account_exposure_begin[a + 1];
  if (revalued_by_warp(chunk.exposure_position_begin[x1] - chunk.exposure_position_begin[x0]))
    return;  // a warp's
  const account_totals t = revalue_account(v, x0, x1, chunk.collateral[a], chunk.credit_limit[a]);
  write_account(out, a, t, changes.count > 0 ? change_of[threadIdx.x] : 0.0);
}

}  // namespace

void launch_instrument_risk(const contract_terms* terms, const valuation_inputs* inputs,
                            instrument_risk* unit, double* base, std::uint32_t n,
                            double horizon_years, double funding_periods, cudaStream_t stream) {
  if (n == 0) return;
  instrument_risk_kernel<<<elementwise_blocks(n), elementwise_threads, 0, stream>>>(
      terms, inputs, unit, base, n, horizon_years, funding_periods);
  MSYNC_CUDA_CHECK_LAUNCH();
}

void launch_account_revalue(const chunk_view& chunk, const contract_terms* terms,
                            const valuation_inputs* inputs, const instrument_risk* unit,
                            const underlying_view& market, const revaluation_view& out,
                            const split_account_view& split, const collateral_change_view& changes,
                            cudaStream_t stream) {
  if (chunk.accounts == 0) return;
  const std::uint32_t split_blocks =
      (split.count + split_warps_per_block - 1) / split_warps_per_block;
  const std::uint32_t thread_blocks = (chunk.accounts + revalue_threads - 1) / revalue_threads;
  account_revalue_kernel<<<split_blocks + thread_blocks, revalue_threads,
                           revalue_shared_bytes(split.count > 0, changes.count > 0), stream>>>(
      chunk, terms, inputs, unit, market, out, split, split_blocks, changes);
  MSYNC_CUDA_CHECK_LAUNCH();
}

std::vector<instrument_risk> instrument_risks(const std::vector<contract_terms>& terms,
                                              const std::vector<valuation_inputs>& inputs,
                                              double horizon_years, double funding_periods) {
  MSYNC_EXPECTS(terms.size() == inputs.size(), "one set of market inputs per instrument");
  std::vector<instrument_risk> host;
  if (terms.empty()) return host;
  stream s;
  device_buffer<contract_terms> d_terms(terms.size(), s.get());
  device_buffer<valuation_inputs> d_inputs(inputs.size(), s.get());
  device_buffer<instrument_risk> d_out(terms.size(), s.get());
  d_terms.upload(terms, s.get());
  d_inputs.upload(inputs, s.get());
  launch_instrument_risk(d_terms.data(), d_inputs.data(), d_out.data(), nullptr,
                         static_cast<std::uint32_t>(terms.size()), horizon_years, funding_periods,
                         s.get());
  d_out.download(host, s.get());
  s.synchronize();
  return host;
}

void load_revalue_kernels() {
  cudaFuncAttributes attributes{};
  MSYNC_CUDA_TRY(cudaFuncGetAttributes(&attributes, instrument_risk_kernel));
  MSYNC_CUDA_TRY(cudaFuncGetAttributes(&attributes, account_revalue_kernel));
}

}  // namespace msync::cuda
