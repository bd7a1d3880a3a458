#pragma once
// The CPU backend's revaluation of the book in one pass over the accounts (docs/design.md 8.2):
// per account, the funding its perpetual positions pay (a stream's tick path, funding.hpp), its
// revaluation (account_revaluation.hpp) with the collateral moved added to own funds and equity,
// and, on a stream's tick path without a risk run, its stream state against the margins in force
// (stream_rules.hpp), while its positions and exposures are still in cache. Every result is
// written in place into arrays the caller sized: the pass allocates nothing.
#include <cstdint>

#include "marginsync/account_revaluation.hpp"
#include "marginsync/book.hpp"
#include "marginsync/funding.hpp"

namespace msync::cpu {

// Per account, written by the pass.
struct account_outputs {
  double* own_funds;
  double* equity;
  double* gross_notional;
  double* floor_notional;
  double* liquidity_addon;
};

// What the states need besides the revaluation (backend.hpp's tick_request, as pointers).
struct tick_state_inputs {
  const double* initial_margin;      // per account: the last risk run's
  const double* maintenance_margin;  // per account: the last risk run's
  const double* breach_probability;  // per account: the last risk run's
  const std::uint8_t* stale;         // per underlying: 1 when its oracle is stale
  const std::uint8_t* previous;      // per account: its state after the last tick
  std::uint8_t* next;                // per account: its state after this one (written)
  double z, tau_years, preemptive_threshold, recovery_band;
};

struct revalue_pass {
  const book* positions;
  account_revaluation_view view;  // its exposure arrays are written
  const double* credit_limit;     // per tier (each account's book.account_tier indexes it)
  // Per account, the collateral moved since the book was made resident (null: none).
  const double* change;
  // With funding: per account, receives the change less the funding (may be `change` itself).
  double* change_out;
  funding_accrual funding;  // of `positions`, or none
  account_outputs out;
  const tick_state_inputs* states;  // null: revaluation only
};

// Runs the pass over every account of the book on `threads` OpenMP threads. Each account's
// numbers are computed in the order of the separate steps (funding, revalue, tick states), so the
// results are those of the steps one after the other, bit for bit, with any thread count.
void run_revalue_pass(const revalue_pass& pass, int threads);

}  // namespace msync::cpu
