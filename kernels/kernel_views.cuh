#pragma once
// What the kernels read and write, as plain device pointers grouped by stage. The owners (device
// buffers) live in the backend; the kernels see only these views, so a kernel's inputs are
// visible at its signature.
//
// A chunk is a contiguous range of accounts whose positions and exposures are resident at once.
// Its CSR offsets are rebased to the chunk (the first account's first position is 0).
#include <cstdint>

#include "marginsync/black_scholes.hpp"
#include "marginsync/risk_rules.hpp"
#include "marginsync/valuation.hpp"

namespace msync::cuda {

// Instruments, indexed by instrument; the whole table is always resident (it is small).
struct instrument_view {
  const contract_terms* terms;
  const std::uint32_t* underlying;
  std::uint32_t count;
};

// One chunk of the book.
struct chunk_view {
  std::uint32_t accounts;
  const std::uint64_t* account_position_begin;   // [accounts + 1], rebased
  const std::uint64_t* account_exposure_begin;   // [accounts + 1], rebased
  const std::uint32_t* exposure_underlying;      // [exposures]
  const std::uint64_t* exposure_position_begin;  // [exposures + 1], rebased
  const std::uint32_t* position_instrument;      // [positions]
  const double* position_quantity;               // [positions]
  const double* position_cost;                   // [positions]
  const double* collateral;                      // [accounts]
  const double* credit_limit;                    // [accounts]: of the account's tier
  const double* im_multiplier;                   // [accounts]: of the account's tier
};

// The accounts of a chunk that a warp revalues (account_split.hpp: revalued_by_warp of its
// positions), chunk-local indices, ascending (chunk_plan.hpp split_accounts).
struct split_account_view {
  std::uint32_t count;
  const std::uint32_t* account;
};

// The collateral moved since the book was made resident, as a compact list: the accounts whose
// change is not zero (NaN included), ascending book indices, each once, and their changes. The
// revaluation adds each listed change to own funds and equity after the positions; a chunk's
// local account a is book account account_offset + a.
struct collateral_change_view {
  std::uint32_t count;
  const std::uint32_t* account;
  const double* change;
  std::uint32_t account_offset;
};

// Revaluation of one chunk (backend.hpp's revaluation): per exposure greeks, horizon decay and vol
// exposure; per account own funds, equity, gross and floor notional, liquidity add-on.
struct revaluation_view {
  double* exposure_delta;
  double* exposure_gamma;
  double* exposure_vega;
  double* exposure_theta;
  double* exposure_decay;
  double* exposure_vol_exposure;
  double* account_own_funds;
  double* account_equity;
  double* account_gross_notional;
  double* account_floor_notional;
  double* account_liquidity_addon;
};

// Per underlying, what the account revaluation reads besides the instruments: spot, and for the
// liquidity add-on the annual vol, Y and V of the square-root law (daily_volume null: no add-on).
struct underlying_view {
  const double* spot;
  const double* vol;
  const double* impact_coefficient;
  const double* daily_volume;
};

// The scenario set of a run: shocked spot and the vol shock x per (underlying, scenario),
// [u * N + s], with the set's drift and tenor scaling (host/cpu/scenario_set.hpp), and for
// delta_gamma the moves from the current market: S' - S and the relative vol move.
struct scenario_view {
  std::int64_t count;  // N
  std::uint32_t underlyings;
  const double* spot;
  const double* vol_shock;
  double vol_drift;      // xi^2 h / 2 for Monte Carlo; 0 for a scenario file
  bool term_scaled;      // Monte Carlo shocks scale with tenor; a file's do not
  const double* d_spot;  // delta_gamma only
  const double* d_vol;   // delta_gamma only: relative_vol_move(x, drift)
};

// How `full` gets a position's per-unit scenario P&L: a row of the instrument table
// ([i * N + s], when it fits in device memory), or priced in the risk kernel from these inputs.
struct pricing_view {
  const double* pnl_table;         // null: price on the fly
  const valuation_inputs* inputs;  // [instruments]: instrument_inputs at the market's as_of
  const double* base_value;        // [instruments]: unit value in the current market
  double horizon_years;            // h
  double funding_periods;          // 3 horizon_days: the 8-hour funding periods in h
};

// Per-account outputs of the scenario risk kernel (chunk-local).
struct risk_outputs {
  double* var;
  double* es;
  double* initial_margin;
  double* maintenance_margin;
  double* breach_probability;
};

// The rules the risk kernel applies.
struct risk_rule_view {
  std::int64_t tail_k;  // k of docs/design.md section 3
  bool full;            // method: full (true) or delta_gamma
  bool margin_on_es;    // measure: ES (true) or VaR
  double min_margin_rate;
  double maintenance_ratio;
};

// A stream's tick path (stream_kernels.cu): the resident book's exposures and equity after a
// stream revalue, the margins of the last scenario risk, and each account's stream state.
struct stream_tick_view {
  std::uint32_t accounts;
  const std::uint64_t* account_exposure_begin;
  const std::uint32_t* exposure_underlying;
  const double* exposure_delta;
  const double* equity;
  const double* spot;            // [underlyings]
  const double* vol;             // [underlyings]
  const std::uint8_t* stale;     // [underlyings]: 1 when the oracle is stale
  const double* initial_margin;  // of the last scenario risk
  const double* maintenance_margin;
  const double* breach_probability;
  double z;
  double tau_years;
  double preemptive_threshold;
  double recovery_band;  // the calm-state rule (stream_rules.hpp)
  std::uint8_t* state;   // [accounts] stream_state: read, then the new state written
  double* addon;         // [accounts] written
};

// An account whose stream state changed, as the device hands it back.
struct state_change {
  std::uint32_t account;
  std::uint8_t state;
  double equity, initial_margin, maintenance_margin, breach_probability;
};

// An account_patch on the device (patch_kernels.cu): account accounts[i] gets collateral
// collateral[i] and its positions, in order, quantity and cost [first[i], first[i + 1]). Its tier,
// and so its credit limit, stays.
struct account_patch_view {
  std::uint32_t count;
  const std::uint32_t* accounts;
  const double* collateral;
  const std::uint64_t* first;  // [count + 1]
  const double* quantity;
  const double* cost;
};

// Some accounts' numbers gathered from the resident revaluation (patch_kernels.cu): for
// accounts[i], equity[i], own_funds[i], gross[i] and its exposures' deltas at
// delta[first[i], first[i + 1]).
struct account_gather_view {
  std::uint32_t count;
  const std::uint32_t* accounts;
  const std::uint64_t* first;  // [count + 1]
  double* equity;
  double* own_funds;
  double* gross;
  double* delta;
};

}  // namespace msync::cuda
