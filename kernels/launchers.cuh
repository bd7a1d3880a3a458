#pragma once
// Host-side launchers of the kernels, one per stage. Every launcher enqueues on `stream` and
// checks the launch; none synchronizes. Each kernel is a thin loop around include/ math.
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "chunk_plan.hpp"
#include "kernel_views.cuh"
#include "marginsync/scenario.hpp"

namespace msync::cuda {

// Element-wise kernels (a thread per element, grid-stride loops): 256 threads per block, and a
// grid covering n elements, capped where more blocks would only queue.
constexpr unsigned elementwise_threads = 256;
inline unsigned elementwise_blocks(std::uint64_t n) {
  const std::uint64_t blocks = (n + elementwise_threads - 1) / elementwise_threads;
  return static_cast<unsigned>(blocks < 1 ? 1 : blocks > (1u << 20) ? (1u << 20) : blocks);
}

// ---- revaluation (revalue_kernels.cu) ---------------------------------------------------------
// unit[i] = price_instrument(terms[i], inputs[i], horizon_years, funding_periods) (value, greeks,
// horizon decay, vol exposure) and base[i] = unit_value(terms[i], inputs[i]) for the n instruments
// (base may be null).
void launch_instrument_risk(const contract_terms* terms, const valuation_inputs* inputs,
                            instrument_risk* unit, double* base, std::uint32_t n,
                            double horizon_years, double funding_periods, cudaStream_t stream);

// Per position value and greeks summed into exposures and accounts in one pass over the chunk's
// positions, and each exposure's liquidity add-on, in the CPU backend's order of summation: a
// thread per account, and a warp per account of `split` (the chunk's accounts that
// account_split.hpp's revalued_by_warp takes, chunk_plan.hpp split_accounts; every one of them
// must be listed). The collateral moved (`changes`, count 0: none) is added to own funds and
// equity as each account is written.
void launch_account_revalue(const chunk_view& chunk, const contract_terms* terms,
                            const valuation_inputs* inputs, const instrument_risk* unit,
                            const underlying_view& market, const revaluation_view& out,
                            const split_account_view& split, const collateral_change_view& changes,
                            cudaStream_t stream);

// ---- scenarios (scenario_kernels.cu) ----------------------------------------------------------
// Monte Carlo scenarios s = 0 .. n-1 into spot_out / shock_out [u * n + s] (S' and the vol shock
// x, before its drift). `in` holds device
// pointers. Needs `scratch` of 2 n U doubles when U > max_local_underlyings (chunk_plan.hpp),
// else null.
void launch_monte_carlo(const monte_carlo_inputs& in, std::int64_t n, double* spot_out,
                        double* shock_out, double* scratch, cudaStream_t stream);

// Scenarios of a file: returns and vol changes [s * U + u] applied to the market's spot
// (given_scenario): S' and the vol shock ln(1 + vol change).
void launch_given_scenarios(const double* market_spot, const double* spot_return,
                            const double* vol_change, std::int64_t n, std::uint32_t underlyings,
                            double* spot_out, double* shock_out, cudaStream_t stream);

// d_spot = S' - S and d_vol = relative_vol_move(x, drift), [u * n + s].
void launch_scenario_moves(const double* market_spot, const scenario_view& set, double* d_spot,
                           double* d_vol, cudaStream_t stream);

// table[i * N + s] = unit_value(horizon_inputs(x_i, S'_s, x_s, drift, h, term_scaled)) - base_i +
// unit_funding(x_i): each instrument priced once per scenario, as the CPU backend's table.
void launch_pnl_table(const instrument_view& ins, const pricing_view& pricing,
                      const scenario_view& set, double* table, cudaStream_t stream);

// ---- scenario risk (risk_kernels.cu) ----------------------------------------------------------
// Launch geometry of the fused scenario risk kernel.
constexpr int risk_block_threads = 512;
// Dynamic shared memory of account_risk_kernel for n scenarios and a tail of k: one account's n
// losses on chip where the device allows it; otherwise the losses go to global scratch (the
// caller's loss rows) and the memory holds the large-N filter's owner maxima (`slots` per thread)
// and `slot_capacity` candidates (slots 0: the filter of one slot and 1,024 candidates, static).
struct risk_memory_plan {
  std::size_t shared_bytes = 0;
  bool losses_on_chip = false;
  std::uint32_t slots = 0;
  std::uint32_t slot_capacity = 0;
};
risk_memory_plan plan_risk_memory(std::int64_t n, std::int64_t k, int device);
// Whether `full` runs tiled over scenarios (full_tiled_risk_kernel): with the P&L table, and a
// tail the one-slot filter takes with room to spare (k <= min(n, 256): 25,600 scenarios at 99%).
bool full_tiles_apply(std::int64_t n, std::int64_t k, bool with_table);

// One block per bad-debt group of `accounts_per_group` consecutive accounts of the chunk; groups
// [group_begin, group_end) of the chunk are launched: one wave (chunk_plan.hpp wave_groups), whose
// rows the caller adds to the book's with launch_add_bad_debt_rows before the next wave reuses
// them. Each block writes its group's bad debt per scenario into its row, partial[b * n + s] for
// the b-th group launched, and each account's VaR, ES, margins and breach probability.
// - tile == 0: account_risk_kernel, the group's accounts one after another, each account's losses
//   (full or delta_gamma) in shared memory or in `scratch` (n doubles per block; then the large-N
//   filter with plan.slots), VaR and ES by the filter of marginsync/tail_filter.hpp (a block radix
//   select where it does not apply).
// - tile > 0 (`full` with the table, full_tiles_apply): full_tiled_risk_kernel, the group's
//   accounts in batches swept over tiles of `tile` scenarios (chunk_plan.hpp full_tile_scenarios),
//   with `tile_scratch` (full_tile_block_bytes per block) and `scratch` (for an account with too
//   many candidates, done again in its loss row).
struct risk_launch {
  chunk_view chunk;
  instrument_view instruments;
  revaluation_view reval;  // read only here
  scenario_view set;
  pricing_view pricing;
  risk_rule_view rules;
  risk_outputs out;
  std::uint32_t accounts_per_group;
  double* partial;           // [groups of a wave][n]
  double* scratch;           // [groups of a wave][n] or null
  std::size_t shared_bytes;  // plan_risk_memory's
  std::uint32_t slots;       // plan_risk_memory's, where scratch holds the losses
  std::uint32_t slot_capacity;
  std::uint32_t tile;           // scenarios per tile; 0: not tiled
  unsigned char* tile_scratch;  // [groups of a wave][full_tile_block_bytes] when tiled
};
void launch_account_risk(const risk_launch& launch, std::uint32_t group_begin,
                         std::uint32_t group_end, cudaStream_t stream);

// The wave of groups [g0, g0 + count) of a book of `groups` (global indices; waves in group
// order): its rows (partial, count rows of n) added to book_bad (+0.0 before the first wave) in
// the order of marginsync/bad_debt_order.hpp: a bundle begun by the wave before is continued from
// `carry_in`, and one this wave does not finish is left in `carry_out` (n doubles each; the caller
// swaps them for the next wave). The rows are overwritten with the bundles' sums.
void launch_add_bad_debt_rows(double* rows, std::uint32_t g0, std::uint32_t count,
                              std::uint32_t groups, std::int64_t n, const double* carry_in,
                              double* carry_out, double* book_bad, cudaStream_t stream);

// out[0..3) = mean, VaR and ES (k largest) of book_bad[0 .. n).
void launch_book_tail(const double* book_bad, std::int64_t n, std::int64_t k, double* out,
                      cudaStream_t stream);

// Health, status, pre-emptive flag of each account of a chunk from its equity and margin levels.
void launch_health(std::uint32_t accounts, const double* equity, const risk_outputs& risk,
                   double preemptive_threshold, double* health, std::uint8_t* status,
                   std::uint8_t* preemptive, cudaStream_t stream);

// Compacts the chunk-local indices of the accounts whose status is not ok into `selected`
// (ascending) and their number into *count (device), with CUB's DeviceSelect. `temp` holds at
// least select_not_ok_temp_bytes(accounts) bytes.
std::size_t select_not_ok_temp_bytes(std::uint32_t accounts);
void select_not_ok(const std::uint8_t* status, std::uint32_t accounts, std::uint32_t* selected,
                   std::uint32_t* count, void* temp, std::size_t temp_bytes, cudaStream_t stream);

// ---- stream tick path (stream_kernels.cu) -----------------------------------------------------
// Each account's staleness add-on and stream state (include/marginsync/stream_rules.hpp) against
// the margins in force; changed[a] = 1 where the state differs from the one before.
void launch_stream_states(const stream_tick_view& v, std::uint8_t* changed, cudaStream_t stream);
// out[i] = the numbers of account selected[i] (i < count) after launch_stream_states.
void launch_gather_changes(const std::uint32_t* selected, std::uint32_t count,
                           const stream_tick_view& v, state_change* out, cudaStream_t stream);
// The same for i < min(*count, capacity), `count` read on the device (the select's output), so that
// the count and the first `capacity` changes come back in one copy after one wait.
void launch_gather_changes_upto(const std::uint32_t* selected, const std::uint32_t* count,
                                std::uint32_t capacity, const stream_tick_view& v,
                                state_change* out, cudaStream_t stream);

// Loads the kernels of a file into the context now (cudaFuncGetAttributes), when the book is
// loaded, rather than at their first launch (lazy module loading): the first update is then not
// the slowest.
void load_stream_kernels();
void load_revalue_kernels();

// ---- account patches and gathers (patch_kernels.cu) ------------------------------------------
// Writes `patch` into the resident book (whole, not a chunk): a thread per patched account.
void launch_patch_accounts(const account_patch_view& patch,
                           const std::uint64_t* account_position_begin, double* position_quantity,
                           double* position_cost, double* collateral, cudaStream_t stream);

// Gathers the accounts of `out` from the resident book's revaluation (whole, not a chunk): a
// thread per account.
void launch_gather_accounts(const account_gather_view& out,
                            const std::uint64_t* account_exposure_begin,
                            const revaluation_view& reval, cudaStream_t stream);

}  // namespace msync::cuda
