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
  const double* base_equity;    // [accounts]: collateral + credit limit of the tier
  const double* im_multiplier;  // [accounts]: of the account's tier
};

// Revaluation of one chunk: per exposure greeks and per account equity and gross notional.
struct revaluation_view {
  double* exposure_delta;
  double* exposure_gamma;
  double* exposure_vega;
  double* exposure_theta;
  double* account_equity;
  double* account_gross_notional;
};

// The scenario set of a run: shocked spot and vol per (underlying, scenario), [u * N + s], and for
// delta_gamma their moves from the current market.
struct scenario_view {
  std::int64_t count;  // N
  std::uint32_t underlyings;
  const double* spot;
  const double* vol;
  const double* d_spot;  // delta_gamma only
  const double* d_vol;   // delta_gamma only
};

// How `full` gets a position's per-unit scenario P&L: a row of the instrument table
// ([i * N + s], when it fits in device memory), or priced in the risk kernel from these inputs.
struct pricing_view {
  const double* pnl_table;        // null: price on the fly
  const double* years_to_expiry;  // [instruments], at the market's as_of
  const double* base_value;       // [instruments]: unit value in the current market
  const double* carry;            // [underlyings]: b = r - q
  double rate;
  double horizon_years;
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
  double* addon;        // [accounts] written
};

// An account whose stream state changed, as the device hands it back.
struct state_change {
  std::uint32_t account;
  std::uint8_t state;
  double equity, initial_margin, maintenance_margin, breach_probability;
};

// An account_patch on the device (patch_kernels.cu): account accounts[i] gets base equity
// base_equity[i] (collateral + the tier's credit limit) and its positions, in order, quantity and
// cost [first[i], first[i + 1]).
struct account_patch_view {
  std::uint32_t count;
  const std::uint32_t* accounts;
  const double* base_equity;
  const std::uint64_t* first;  // [count + 1]
  const double* quantity;
  const double* cost;
};

// Some accounts' numbers gathered from the resident revaluation (patch_kernels.cu): for
// accounts[i], equity[i], gross[i] and its exposures' deltas at delta[first[i], first[i + 1]).
struct account_gather_view {
  std::uint32_t count;
  const std::uint32_t* accounts;
  const std::uint64_t* first;  // [count + 1]
  double* equity;
  double* gross;
  double* delta;
};

}  // namespace msync::cuda
