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
#include <functional>
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
// `vol_factor`, when given, is vol_factor_row's for the option's g (term_scaled ? x.vol_term : 1)
// on these vol shocks: options of one underlying and one g share it (the same exp computed once).
void price_scenario_row(const contract_terms& c, const valuation_inputs& x, double base,
                        double funding, const double* spot, const double* vol_shock,
                        double vol_drift, double horizon_years, bool term_scaled, std::size_t n,
                        double* out, const double* vol_factor = nullptr);

// out[s] = exp(g vol_shock[s] - g^2 vol_drift), shocked_vol's factor (sigma' = sigma out[s]).
void vol_factor_row(double g, const double* vol_shock, double vol_drift, std::size_t n,
                    double* out);

// The rows of one book's instruments, shared by every whatif_calculator and prewarm of a process
// (docs/design.md 8.10). One slot per instrument index, holding the two newest rows published for
// it (the current market's and the one before) and the rows being priced for it now. Thread-safe:
// every member may be called from any thread at once; the mutex is held for a few pointer copies,
// never while a row is priced. A row found stays valid while its shared_ptr is held, whatever is
// published meanwhile.
class whatif_row_cache {
 public:
  whatif_row_cache() = default;
  whatif_row_cache(const whatif_row_cache&) = delete;
  whatif_row_cache& operator=(const whatif_row_cache&) = delete;

  // Fills a row's pnl (n values) for the key it was asked for.
  using row_pricer = std::function<void(std::vector<double>& pnl)>;

  // The instrument's row priced from `key`: the cached one; else the one another thread is
  // pricing from the same key right now, waited for (rather than priced twice); else priced here
  // by `price` and published. With `wait` false, a row another thread is pricing is not waited
  // for: null is returned (what a prewarm does). `touch`: mark the instrument as asked for now
  // (recently_used). If `price` throws, the exception reaches the caller and every waiter.
  std::shared_ptr<const scenario_row> get(std::uint32_t instrument, const scenario_row_key& key,
                                          const row_pricer& price, bool touch = true,
                                          bool wait = true);
  // The instrument's row if it is cached from `key`, else null; prices nothing, touches nothing.
  std::shared_ptr<const scenario_row> find(std::uint32_t instrument,
                                           const scenario_row_key& key) const;
  // The instruments a what-if asked for within `window` before now (steady clock), the most
  // recently asked for first: what a server prewarms after an update.
  std::vector<std::uint32_t> recently_used(std::chrono::steady_clock::duration window) const;
  // Drops every row (a row being priced is still published when done).
  void clear();

  // Since construction: rows found cached, rows waited for while another thread priced them,
  // rows priced (by what-ifs and prewarms together).
  struct counters {
    std::uint64_t hits = 0, waited = 0, priced = 0;
  };
  counters statistics() const noexcept;

 private:
  struct pending_row;
  struct slot {
    std::shared_ptr<const scenario_row> row, previous;  // the newest two
    std::vector<std::shared_ptr<pending_row>> pending;  // being priced now, one per key
    std::int64_t last_used_ns = -1;                     // steady clock
  };
  slot& slot_of(std::uint32_t instrument);                                   // under mutex_
  static void unclaim(slot& sl, const std::shared_ptr<pending_row>& claim);  // under mutex_
  // Keeps the two newest rows (by scenario set, then stream time): a prewarm that finishes after
  // the next tick's what-ifs priced their rows does not displace the newer ones, and while a
  // prewarm prices the rows of a tick, those of the tick before it stay (for what-ifs still
  // answered from that tick's market).
  void publish(std::uint32_t instrument, const std::shared_ptr<pending_row>& claim,
               std::shared_ptr<const scenario_row> row);

  mutable std::mutex mutex_;
  std::vector<slot> slots_;  // [instrument]
  std::atomic<std::uint64_t> hits_{0}, waited_{0}, priced_{0};
};

// The key of instrument i's row in a state (its contract and valuation inputs at the state's
// market, its underlying's spot, the scenario set's generation). `inputs` as instrument_input
// gives them at the state's market.
scenario_row_key scenario_row_key_of(const whatif_state& state, std::uint32_t instrument,
                                     const contract_terms& terms, const valuation_inputs& inputs);

// Prices rows ahead of the what-ifs that will read them (docs/design.md 8.10, "Cost"). Made under
// the lock that keeps the state from changing (a server's reader lock): it copies what the rows
// need (each instrument's key, each underlying's scenario spots at the current price and its vol
// shocks: 160 KB per underlying at 10,000 scenarios) and skips the rows already cached: 0.3 to
// 1.2 ms for 337 to 1,252 instruments. run() then prices and publishes the rows WITHOUT the lock,
// on any thread, while the engine goes on: rows the next tick makes stale are published anyway and
// simply not found by the what-ifs after it.
class whatif_prewarm {
 public:
  // The rows of `instruments` (indices of state.positions' instruments, priced in that order;
  // repeats and out-of-range indices are skipped) not already in `cache` at the state's market.
  whatif_prewarm(const whatif_state& state, whatif_row_cache& cache,
                 const std::vector<std::uint32_t>& instruments);
  // Rows planned.
  std::size_t size() const noexcept { return items_.size(); }
  // Prices the planned rows and publishes them into the cache; returns how many this call priced.
  // Needs neither the state nor its lock. Several threads may call it at once on one prewarm: each
  // takes the next row not yet taken; a row a what-if is pricing already is skipped.
  std::size_t run();

 private:
  // Options of one underlying with one g share their vol factor row, computed by the first
  // thread that needs it.
  struct vol_group {
    std::uint32_t underlying_slot;
    double g;
    std::once_flag once;
    std::vector<double> factor;
  };
  struct item {
    std::uint32_t instrument;
    std::uint32_t underlying_slot;  // into spot_/shock_
    std::int64_t group;             // into groups_; -1: no vol factor (not an option alive at h)
    scenario_row_key key;
    double base, funding;
  };
  whatif_row_cache* cache_;
  std::vector<item> items_;
  std::vector<std::unique_ptr<vol_group>> groups_;
  std::unique_ptr<std::atomic<std::size_t>> next_;  // the next item to take
  std::vector<double> spot_, shock_;                // [slot * n + s]
  std::size_t n_ = 0;
  double vol_drift_ = 0.0, horizon_years_ = 0.0;
  bool term_scaled_ = false;
};

// Plans and runs a prewarm into *state.rows in one call, for a caller that keeps the state
// unchanged throughout (a test, a bench, a server with few instruments). Returns the rows priced.
std::size_t prewarm(const whatif_state& state, const std::vector<std::uint32_t>& instruments);

}  // namespace msync
