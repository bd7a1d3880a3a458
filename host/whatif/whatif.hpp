#pragma once
// Pre-trade what-if margin (docs/design.md 8.10): one account's numbers before and after a list of
// orders, with the formulas of section 3, the scenario moves of the last risk run and the current
// prices, for that account alone. Nothing in the book, the market or the backend changes.
//
// The engine state a what-if reads is passed in (whatif_state); the caller keeps it from changing
// while evaluate runs (a server answers from one completed update, under a reader lock). The
// scenario set of the last risk run is built once per risk run (whatif_scenarios) and shared by
// every what-if until the next. In `full`, a what-if's cost is its instruments' scenario rows
// (scenario_rows.hpp): a whatif_row_cache shared by every thread keeps them, so that one request
// (or a prewarm after an update) prices a row for all. A whatif_calculator holds scratch, so each
// thread evaluating what-ifs owns one.
//
// What a server does (docs/design.md 8.10, "Cost"):
//   at start:     one whatif_row_cache rows, shared by every thread (it lives as long as the book);
//                 book_lookup lookup(book) (update() it under the exclusive lock after an update
//                 that opened accounts).
//   per risk run: a new whatif_scenarios from the market of that run, built under the engine's
//                 exclusive lock as part of the update (or built off it from a copy of that market
//                 and swapped in under the lock); the old one must outlive every evaluate and
//                 whatif_prewarm constructor reading it (a prewarm's run() does not read it).
//   per request:  each worker thread owns a whatif_calculator (thread_local); under the reader
//                 lock: calc.evaluate(whatif_state_of(stream, scenarios, lookup, &rows), request).
//                 It throws whatif_error (the 4xx) and nothing else for a bad request.
//   per update:   one worker, off the engine thread, after the update is applied: under the reader
//                 lock, whatif_prewarm job(state, rows,
//                 rows.recently_used(std::chrono::seconds(5))) (copies what it needs: 0.3 to
//                 1.2 ms for 337 to 1,252 instruments); the lock let go, job.run() prices and
//                 publishes the rows (several workers may call run() on one job). Start the next
//                 prewarm when this one is done, for the newest update then (skip those in
//                 between): the cache keeps two rows per instrument, the newest two markets.
//   optionally:   answer a request from the newest of two completed updates' states at which
//                 calc.rows_ready(state, request) holds (docs/design.md 8.10, "Cost"): p99 under
//                 1 ms at 10 Hz ticks, answers up to one prewarm old.
// Threading: evaluate on many calculators at once, whatif_prewarm::run and every whatif_row_cache
// member are thread-safe; the whatif_state's objects must not change while evaluate or a
// whatif_prewarm constructor reads them (the reader lock). A what-if that meets a row a prewarm or
// another what-if is pricing waits for it (at most one row's pricing, ~0.2 ms) rather than price
// it again.
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

#include "cpu/scenario_set.hpp"
#include "cpu/tail_select.hpp"
#include "marginsync/book.hpp"
#include "marginsync/market.hpp"
#include "marginsync/risk_params.hpp"
#include "marginsync/risk_rules.hpp"
#include "marginsync/scenario_source.hpp"
#include "marginsync/valuation.hpp"
#include "stream/stream_engine.hpp"
#include "whatif/scenario_rows.hpp"

namespace msync {

// Most orders one what-if may carry: far more than one pre-trade check places, few enough that
// the request's cost stays that of one account.
constexpr std::size_t max_whatif_orders = 1000;

// A what-if that cannot be answered, and changed nothing: what is wrong with the request (a
// server's 4xx). `field` names the part of the request (`account`, `tier`, `collateral`,
// `orders[2].quantity`, ...).
class whatif_error : public std::invalid_argument {
 public:
  enum class kind { bad_request, unknown_account, unknown_instrument };
  whatif_error(kind k, std::string field, const std::string& reason)
      : std::invalid_argument(field + ": " + reason), kind_(k), field_(std::move(field)) {}
  kind error_kind() const noexcept { return kind_; }
  const std::string& field() const noexcept { return field_; }

 private:
  kind kind_;
  std::string field_;
};

struct whatif_order {
  std::string instrument;  // instrument id
  double quantity = 0.0;   // signed contracts: > 0 buys; finite and not 0
  double price = 0.0;      // quote currency per unit of the instrument; finite and > 0
};

struct whatif_request {
  std::string account;
  // Only for an account the book does not know: its tier (a name in risk.json) and collateral
  // (quote currency, default 0). An unknown account without a tier is refused, and so is a tier
  // or collateral given for an account the book holds (it would not be applied).
  std::optional<std::string> tier;
  std::optional<double> collateral;
  std::vector<whatif_order> orders;  // applied in order, as a stream applies its trades
};

// One account's numbers (docs/design.md 3.5 and 3.8), quote currency unless said.
struct whatif_numbers {
  double own_funds = 0.0, equity = 0.0;
  double var = 0.0, es = 0.0;
  double initial_margin = 0.0, maintenance_margin = 0.0;
  double health = 0.0;              // E / MM (risk_rules.hpp's health_factor)
  double breach_probability = 0.0;  // fraction of scenarios
  account_status status = account_status::ok;
  bool preemptive = false;
};

struct whatif_result {
  bool new_account = false;  // the book does not hold the account
  whatif_numbers before, after;
  double incremental_margin = 0.0;  // after.initial_margin - before.initial_margin
  bool accept = false;  // after.equity >= after.initial_margin (false when either is NaN)
};

// The scenario set of the last risk run: built from the market that run was at (Monte Carlo from
// risk_params' seed) or from the scenario file, once per risk run. A what-if applies its moves,
// S'/S and the vol shocks, to the current prices (docs/design.md 8.10).
class whatif_scenarios {
 public:
  whatif_scenarios(const market_state& risk_market, const scenario_source& source,
                   const risk_params& params, int threads = 1);
  std::int64_t count() const noexcept { return set_.count; }
  // Differs between any two sets built in one process, and grows: a later set has a larger one.
  // What the scenario rows are keyed on.
  std::uint64_t generation() const noexcept { return generation_; }
  const scenario_set& set() const noexcept { return set_; }
  // S' of underlying u in every scenario at `now`'s price: the last risk run's S' when the price
  // is the one that run saw (the very numbers of a risk run now), else now's spot times that
  // run's move S'/S, written into `scratch`.
  const double* shocked_spots(const market_state& now, std::uint32_t u,
                              std::vector<double>& scratch) const;

 private:
  friend class whatif_calculator;
  scenario_set set_;
  std::vector<double> risk_spot_;  // per underlying: its spot at the last risk run
  std::vector<double> rel_vol_;    // [u * N + s]: e^{x - drift} - 1, delta_gamma's vol move
  std::uint64_t generation_ = 0;
};

// Account and instrument ids of a book to their indices. update() indexes accounts appended since
// the last call (a stream only appends accounts; instruments are fixed at load).
class book_lookup {
 public:
  book_lookup() = default;
  explicit book_lookup(const book& b) { update(b); }
  void update(const book& b);
  // The index, or -1.
  std::int64_t account(const std::string& id) const;
  std::int64_t instrument(const std::string& id) const;

 private:
  std::unordered_map<std::string, std::uint32_t> accounts_, instruments_;
  std::size_t indexed_accounts_ = 0;
};

// What a what-if reads: the engine's state after its last completed update. Nothing is changed.
struct whatif_state {
  const book* positions = nullptr;  // the book (collateral as last made resident)
  // Per account, collateral moved since the book was made resident (a stream's funding,
  // collateral events, realized P&L); null or empty for none.
  const std::vector<double>* collateral_change = nullptr;
  const market_state* market = nullptr;  // the current market (stream time, spots, marks)
  const risk_params* params = nullptr;
  const whatif_scenarios* scenarios = nullptr;  // the last risk run's
  const book_lookup* lookup = nullptr;          // ids of `positions`
  // The scenario rows shared by every what-if of the process; null: each calculator keeps its
  // own (slower when several threads answer what-ifs: each prices every row once).
  whatif_row_cache* rows = nullptr;
};

// The state of a stream after its last completed update. `scenarios` must be built from the market
// of the stream's last risk run: after an update whose trigger is not `none`, that is
// stream.inputs().market (the risk path runs last in an update); `lookup` must index
// stream.inputs().positions (update() it after an update that opened accounts).
inline whatif_state whatif_state_of(const margin_stream& stream, const whatif_scenarios& scenarios,
                                    const book_lookup& lookup, whatif_row_cache* rows = nullptr) {
  return whatif_state{&stream.inputs().positions,
                      &stream.collateral_change(),
                      &stream.inputs().market,
                      &stream.inputs().risk,
                      &scenarios,
                      &lookup,
                      rows};
}

// Evaluates what-ifs. One per thread (it holds scratch); evaluate may run on many calculators at
// once against one state and one shared whatif_row_cache.
class whatif_calculator {
 public:
  whatif_calculator();
  // Throws whatif_error for a request that cannot be answered (nothing is changed either way).
  // The rows it prices go into *state.rows, or into the calculator's own cache when that is null.
  whatif_result evaluate(const whatif_state& state, const whatif_request& request);
  // Drops the rows of the calculator's own cache (not a shared one). Rows are also replaced when
  // an instrument's market or the scenario set changes.
  void forget_rows() { own_rows_->clear(); }
  // Whether evaluate(state, request) would price no row: every instrument the account holds and
  // the orders name has its row in the state's cache at the state's market (always true for
  // delta_gamma; a request evaluate refuses it refuses at either state). A server holding two
  // completed updates' states, the newest and the one whose prewarm is done, answers from the
  // newest for which this holds. Microseconds; prices nothing, changes nothing.
  bool rows_ready(const whatif_state& state, const whatif_request& request) const;

  // One position of the account's copy: instrument index, quantity, cost (book.hpp).
  struct held {
    std::uint32_t instrument;
    double quantity, cost;
  };

 private:
  whatif_numbers account_numbers(const whatif_state& state, const std::vector<held>& positions,
                                 double collateral, std::uint32_t tier_index);
  const double* unit_pnl_row(const whatif_state& state, std::uint32_t instrument,
                             const valuation_inputs& x, const contract_terms& c);

  std::unique_ptr<whatif_row_cache> own_rows_;  // when the state brings no shared cache
  // The rows an account_numbers reads, held so that a row published meanwhile cannot free them.
  std::vector<std::shared_ptr<const scenario_row>> in_use_;
  std::vector<double> loss_, block_max_, spot_row_, d_spot_;
  tail_selector selector_;
};

}  // namespace msync
