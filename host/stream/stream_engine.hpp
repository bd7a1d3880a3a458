#pragma once
// The streaming margin engine: the book resident on a backend, re-margined on every update of an
// oracle stream (the stream issue; README "Streaming"). Stream time is the clock: time to expiry,
// heartbeats and staleness follow the updates' timestamps, never the wall clock, so a replay gives
// the same results at any speed.
//
// Per update (the events that share one timestamp): funding accrues on perpetuals over the
// interval since the last update (at the prices in force during it), then the update's events
// apply in order: prices, trades (the book changes; new accounts and positions included) and
// collateral changes, and marks (an instrument's own mark price or implied vol). Instruments whose
// expiry has come settle at this update's prices. Then:
// - tick path, always: revalue every position at the new prices, then health and status of every
//   account against the margins of the last risk run widened by the staleness add-on
//   (include/marginsync/staleness.hpp);
// - risk path, when triggered: the full scenario risk of docs/design.md section 3, when the stream
// starts, when an
//   underlying has moved more than deviation_threshold (relative) since the last run, when
//   heartbeat_ms of stream time have passed since it, when the book changed, when a mark came or
//   an instrument settled.
// Only transitions are reported: an account's state moving between ok, preemptive, margin_call,
// liquidate and liquidation_held, and an underlying's oracle going stale or recovering.
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "io/tick_stream.hpp"
#include "margin/margin_job.hpp"
#include "marginsync/backend.hpp"
#include "marginsync/cascade_rules.hpp"
#include "marginsync/stream_rules.hpp"

namespace msync {

// What an account is, as the stream reports it (marginsync/stream_rules.hpp). liquidation_held:
// liquidate, but on the price of an underlying whose oracle is stale, so the venue must not act on
// it yet.
const char* stream_state_name(stream_state s);

// One account's transition: the new state's name as the event, "recovered" for a return to ok.
struct account_transition {
  std::int64_t ts_ns = 0;
  std::uint32_t account = 0;
  stream_state from = stream_state::ok, to = stream_state::ok;
  const char* event = "";
  double equity = 0.0, initial_margin = 0.0, maintenance_margin = 0.0, health = 0.0;
  double breach_probability = 0.0;
};

// An underlying whose oracle went stale (no update for stale_after_ms of stream time) or recovered.
struct oracle_transition {
  std::int64_t ts_ns = 0;
  std::uint32_t underlying = 0;
  bool stale = false;
};

// An instrument (future or option) that settled in this update: at the first update at or after
// its expiry, at its underlying's price in that update (or its settlement_price from marks.csv).
struct instrument_settlement {
  std::int64_t ts_ns = 0;
  std::uint32_t instrument = 0;
  double price = 0.0;
};

enum class risk_trigger { none, start, deviation, heartbeat, book_change, mark, settlement };

// How a changed book reached the backend in an update: made resident again (an account or a
// position was added to the layout) or patched (trades on existing positions).
enum class book_transfer { none, patch, reload };
const char* risk_trigger_name(risk_trigger t);

struct update_outcome {
  std::int64_t ts_ns = 0;  // stream time of the update (never earlier than the one before)
  std::size_t ticks_applied = 0;
  std::size_t book_events_applied = 0;  // trades and collateral changes
  std::size_t marks_applied = 0;        // mark events (docs/design.md 8.6)
  std::vector<input_problem> problems;  // events that could not be applied (file name left empty)
  std::size_t ticks_out_of_order = 0;   // older than the last seen for their underlying: ignored
  risk_trigger trigger = risk_trigger::none;  // none: the risk path did not run
  // Wall time of the tick path: the whole update but the risk path, so a reload or patch of the
  // book counts in the latency of the update it delays (docs/design.md 8.8).
  double tick_seconds = 0.0;
  double risk_seconds = 0.0;  // wall time of the risk path (0 when it did not run)
  book_transfer book_sent = book_transfer::none;
  double book_seconds = 0.0;     // of tick_seconds, making the changed book resident or patching it
  double staleness_years = 0.0;  // tau of the add-on after this update
  std::vector<account_transition> accounts;
  std::vector<oracle_transition> oracles;
  std::vector<instrument_settlement> settlements;
};

// One account's numbers in force after an update (margins_in_force's, for one account), with its
// exposures' deltas at the current prices. Quote currency unless said.
struct account_in_force {
  std::uint32_t account = 0;
  stream_state state = stream_state::ok;  // as of the last update's tick path
  double own_funds = 0.0, equity = 0.0;
  double var = 0.0, es = 0.0;                             // the last risk run's
  double initial_margin = 0.0, maintenance_margin = 0.0;  // the last run's plus the add-on
  double staleness_addon = 0.0;
  double health = 0.0;
  double breach_probability = 0.0;  // the last risk run's
  account_status status = account_status::ok;
  bool preemptive = false;
  std::vector<std::pair<std::uint32_t, double>> exposure_delta;  // (underlying, units of it)
};

class margin_stream {
 public:
  // `inputs` is the loaded book with its market and risk parameters; the book is made resident
  // on `engine` here. The engine must outlive the stream. The engine borrows the stream's book,
  // so a stream stays where it was made.
  margin_stream(book_inputs inputs, backend& engine);
  margin_stream(const margin_stream&) = delete;
  margin_stream& operator=(const margin_stream&) = delete;

  // One update: the events of one timestamp, in stream order. `applied`, when given, is called
  // once the update's changes to the book, the market and the collateral moved are all made (and
  // the book is on the backend), before the revaluation and the risk path: from then on, until
  // the next update, inputs() and collateral_change() do not change. A server releases the lock
  // its what-ifs read those under there, so that a what-if never waits for a risk run.
  update_outcome update(std::int64_t ts_ns, const std::vector<stream_event>& events,
                        const std::function<void()>& applied = {});

  // Closes the accounts out at the last update's prices (a liquidation): their positions go, and
  // the own funds left after a penalty of `penalty_rate` times their gross notional stay as
  // collateral (negative own funds are bad debt; the account is left at zero). Own funds, not
  // equity: a credit line is the venue's money, never paid out as a penalty nor kept as
  // collateral. The engine's book is
  // patched at once; the risk path runs at the next update (book_change). Each account once.
  std::vector<closeout> close_accounts(const std::vector<std::uint32_t>& accounts,
                                       double penalty_rate);

  // The margins in force after the last update: the last risk run's results with IM and MM
  // widened by the add-on, and health, status and the pre-emptive flag against them.
  risk_result margins_in_force() const;
  // The revaluation at the last update's prices: brought from the backend (the device, for a GPU)
  // once per update, whoever asks first. Valid until the next update.
  const revaluation& current_revaluation() const;
  // Some accounts' margins in force after the last update (the same numbers as
  // margins_in_force(), for these accounts only, without bringing the whole revaluation from the
  // backend): what a query about one account reads.
  std::vector<account_in_force> accounts_in_force(const std::vector<std::uint32_t>& accounts) const;
  // The last risk run's results (no add-on); empty before the first update.
  const risk_result& last_risk() const noexcept { return risk_; }
  std::int64_t last_risk_ns() const noexcept { return risk_ns_; }
  // Per underlying: the stream time of its last tick, and whether its oracle is stale.
  const std::vector<std::int64_t>& last_tick_ns() const noexcept { return last_tick_ns_; }
  const std::vector<std::uint8_t>& stale_oracles() const noexcept { return stale_; }

  const book_inputs& inputs() const noexcept { return inputs_; }
  // Per account, collateral moved since the book was last made resident (funding, collateral
  // events, realized P&L, premiums): the book's collateral plus this is the account's collateral.
  const std::vector<double>& collateral_change() const noexcept { return collateral_change_; }
  const std::vector<stream_state>& states() const noexcept { return state_; }
  std::int64_t risk_runs(risk_trigger t) const;
  // Time-weighted average of the margin's staleness (stream time since the last risk run) over
  // the stream so far, in seconds.
  double mean_staleness_seconds() const;
  std::int64_t stream_start_ns() const noexcept { return start_ns_; }
  std::int64_t stream_time_ns() const noexcept { return now_ns_; }

 private:
  risk_trigger pick_trigger() const;
  // Funding over [from_ns, to_ns] at `spot` (per underlying; kept alive by the caller): none when
  // the interval is empty.
  funding_accrual funding_over(std::int64_t from_ns, std::int64_t to_ns,
                               const std::vector<double>& spot) const;
  void accrue_funding(const funding_accrual& f);  // into collateral_change_, here
  // A trade that changes only an existing position's numbers adds its account to `traded` (sent to
  // the engine as a patch); one that adds an account or a position sets structure_changed (the
  // book is loaded again).
  void apply_book_event(const stream_event& e, update_outcome& out, bool& structure_changed,
                        std::vector<std::uint32_t>& traded);
  // A mark event: refused (a problem in `out`) for an unknown instrument or a key for another
  // kind (mark_price: futures; iv: options), applied to the market otherwise.
  void apply_mark(const stream_event& e, update_outcome& out);
  // Moves each marked future's mark_price with its underlying at the basis of its mark.
  void follow_marks();
  // Settles the instruments expired at stream time that have not settled yet (8.2).
  void settle(update_outcome& out);
  // Sends these accounts, as the book now holds them, to the engine in place of a reload.
  void patch_engine(std::vector<std::uint32_t> accounts);
  void index_book();
  void run_risk();
  // The accounts whose state changed, as transitions in `out`.
  void evaluate(update_outcome& out, const std::vector<tick_change>& changes);
  tick_request tick_inputs() const;

  book_inputs inputs_;
  backend& engine_;
  double z_ = 0.0;  // normal quantile at `confidence`
  bool started_ = false;
  std::int64_t start_ns_ = 0, now_ns_ = 0;
  // Oracles: the last tick time of each underlying and whether it is stale.
  std::vector<std::int64_t> last_tick_ns_;
  std::vector<std::uint8_t> stale_;
  // The last risk run: when, at which spots, and its results. The revaluation of the last update
  // stays on the backend; current_revaluation() copies it to the host on demand, once.
  std::int64_t risk_ns_ = 0;
  std::vector<double> risk_spot_;
  mutable std::optional<revaluation> host_reval_;
  risk_result risk_;
  bool book_changed_ = false;
  bool marked_ = false;                           // a mark applied since the last risk run
  bool settled_ = false;                          // an instrument settled since the last risk run
  std::vector<std::uint8_t> instrument_settled_;  // per instrument: 1 once settled
  // Per instrument: a marked future's basis F_mark / S at the spot when its mark was given
  // (market.json's spot for marks.csv), NaN for none. The market's mark_price follows its
  // underlying at this ratio (docs/design.md 8.6).
  std::vector<double> mark_basis_;
  // Collateral moved since the book was last made resident (funding, collateral events, realized
  // P&L, spot and option payments): added to each revaluation's equity, folded into the book's
  // collateral when the book is made resident again.
  std::vector<double> collateral_change_;
  std::unordered_map<std::string, std::uint32_t> account_index_, instrument_index_;
  std::vector<std::pair<std::uint32_t, std::uint64_t>> perpetuals_;  // (account, position)
  // The spots in force until the update in hand, for the funding its revaluation pass accrues.
  std::vector<double> funding_spot_;
  int standard_tier_ = -1;
  bool risk_ran_ = false;
  std::vector<stream_state> state_;  // as of the last update
  std::map<risk_trigger, std::int64_t> runs_;
  double staleness_integral_ = 0.0;  // seconds^2
};

}  // namespace msync
