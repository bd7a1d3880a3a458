#pragma once
// Per-unit scenario P&L rows of instruments for the what-if (docs/design.md 8.10, "Cost"): how one
// instrument's row is priced, and the cache of rows that every what-if of a process shares, with
// the prewarm a server runs after each update so that what-ifs rarely price a row themselves.
//
// A row is the P&L of one unit of an instrument in every scenario of the last risk run's set,
// moved to the current prices. It depends on the instrument's contract and valuation inputs at
// the current market, its underlying's spot and the scenario set: a tick changes the spot and the
// stream time, so every row of the ticked underlyings is stale after it.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "marginsync/valuation.hpp"

namespace msync {

struct whatif_state;

// What a row was priced from. Two rows are the same when every field but `as_of_ns` is equal
// (time enters through inputs.time_to_expiry); `as_of_ns` and `generation` order rows in time.
struct scenario_row_key {
  contract_terms terms{};
  valuation_inputs inputs{};
  double spot = 0.0;  // the underlying's current spot (the scenario spots are it · S'/S)
  std::uint64_t generation = 0;  // whatif_scenarios::generation() of the set it was priced in
  std::int64_t as_of_ns = 0;     // the market's stream time
};
bool same_row(const scenario_row_key& a, const scenario_row_key& b);

// One instrument's row, immutable once priced (shared between threads by shared_ptr).
struct scenario_row {
  scenario_row_key key;
  std::vector<double> pnl;  // [s]: per-unit P&L in scenario s, quote currency
};

// out[s] = scenario_unit_pnl(c, x, base, funding, spot[s], vol_shock[s], vol_drift, h,
// term_scaled) for s < n, equal to the last bit: the same operations on the same numbers, with
// what does not depend on the scenario computed once (the option's sqrt(T - h), discount and carry
// factors, a future's growth) and the arithmetic between the libm calls in loops the compiler
// vectorises. No allocation.
void price_scenario_row(const contract_terms& c, const valuation_inputs& x, double base,
                        double funding, const double* spot, const double* vol_shock,
                        double vol_drift, double horizon_years, bool term_scaled, std::size_t n,
                        double* out);

// The rows of one book's instruments, shared by every whatif_calculator and prewarm of a process
// (docs/design.md 8.10). One slot per instrument index, holding the newest row published for it.
// Thread-safe: every member may be called from any thread at once; a lookup holds a mutex for a
// shared_ptr copy (no pricing ever happens under it). A row found stays valid while its shared_ptr
// is held, whatever is published meanwhile.
class whatif_row_cache {
 public:
  whatif_row_cache() = default;
  whatif_row_cache(const whatif_row_cache&) = delete;
  whatif_row_cache& operator=(const whatif_row_cache&) = delete;

  // The instrument's row if it was priced from `key`, else null. Marks the instrument as asked
  // for now (recently_used), unless `touch` is false.
  std::shared_ptr<const scenario_row> find(std::uint32_t instrument, const scenario_row_key& key,
                                           bool touch = true);
  // Keeps `row` as the instrument's row, unless the one kept is newer (a later scenario set, or
  // the same set at a later stream time): a prewarm that finishes after the next tick's what-ifs
  // priced their rows does not put back the older rows.
  void publish(std::uint32_t instrument, std::shared_ptr<const scenario_row> row);
  // The instruments a what-if asked for within `window` before now (steady clock), in index
  // order: what a server prewarms after an update.
  std::vector<std::uint32_t> recently_used(std::chrono::steady_clock::duration window) const;
  // Drops every row.
  void clear();

  // Since construction: rows found, rows looked for and not found, rows priced (by what-ifs and
  // prewarms together).
  struct counters {
    std::uint64_t hits = 0, misses = 0, priced = 0;
  };
  counters statistics() const noexcept;
  void count_priced() noexcept { priced_.fetch_add(1, std::memory_order_relaxed); }

 private:
  struct slot {
    std::shared_ptr<const scenario_row> row;
    std::int64_t last_used_ns = -1;  // steady clock
  };
  mutable std::mutex mutex_;
  std::vector<slot> slots_;  // [instrument]
  std::atomic<std::uint64_t> hits_{0}, misses_{0}, priced_{0};
};

// The key of instrument i's row in a state (its contract and valuation inputs at the state's
// market, its underlying's spot, the scenario set's generation). `inputs` as instrument_input
// gives them at the state's market.
scenario_row_key scenario_row_key_of(const whatif_state& state, std::uint32_t instrument,
                                     const contract_terms& terms, const valuation_inputs& inputs);

// Prices rows ahead of the what-ifs that will read them (docs/design.md 8.10, "Cost"). Made under
// the lock that keeps the state from changing (a server's reader lock): it copies what the rows
// need (each instrument's key, each underlying's scenario spots at the current price and its vol
// shocks: 160 KB per underlying at 10,000 scenarios) and skips the rows already cached, so it
// takes microseconds. run() then prices and publishes the rows WITHOUT the lock, on any thread,
// while the engine goes on: rows the next tick makes stale are published anyway and simply not
// found by the what-ifs after it.
class whatif_prewarm {
 public:
  // The rows of `instruments` (indices of state.positions' instruments; repeats and out-of-range
  // indices are skipped) not already in `cache` at the state's market.
  whatif_prewarm(const whatif_state& state, whatif_row_cache& cache,
                 const std::vector<std::uint32_t>& instruments);
  // Rows planned.
  std::size_t size() const noexcept { return items_.size(); }
  // Prices the planned rows and publishes them into the cache; returns how many it priced. Runs
  // once; needs neither the state nor its lock.
  std::size_t run();

 private:
  struct item {
    std::uint32_t instrument;
    std::uint32_t underlying_slot;  // into spot_/shock_
    scenario_row_key key;
    double base, funding;
  };
  whatif_row_cache* cache_;
  std::vector<item> items_;
  std::vector<double> spot_, shock_;  // [slot * n + s]
  std::size_t n_ = 0;
  double vol_drift_ = 0.0, horizon_years_ = 0.0;
  bool term_scaled_ = false;
};

// Plans and runs a prewarm into *state.rows in one call, for a caller that keeps the state
// unchanged throughout (a test, a bench, a server with few instruments). Returns the rows priced.
std::size_t prewarm(const whatif_state& state, const std::vector<std::uint32_t>& instruments);

}  // namespace msync
