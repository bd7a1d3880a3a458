#pragma once
// The engine behind `marginsync serve` (docs/design.md 8.12): one thread applies the updates, in
// the order they arrive from the feed and from `POST /v1/events`, to a margin_stream, exactly as
// `stream` does (journal first, then the update); request threads ask it questions.
//
// Two locks keep every answer to one completed update:
// - engine_mutex_, held by the engine thread for a whole update (its risk path included): account
//   queries, which read the backend's revaluation and the last risk run, take it;
// - book_lock_ (writer-preferring), held exclusively only while an update changes the book, the
//   market and the collateral moved (margin_stream::update's `applied` hook releases it before
//   the revaluation and the risk path): what-ifs read those under it shared, with the scenario set
//   of the last completed risk run, so a what-if never waits for a risk run.
// Counts, times and states for /v1/summary, /metrics and /healthz are published after each update
// under a small mutex of their own and never wait for the engine.
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "journal/stream_journal.hpp"
#include "server/event_log.hpp"
#include "server/metrics.hpp"
#include "server/rw_lock.hpp"
#include "stream/stream_counts.hpp"
#include "stream/stream_engine.hpp"
#include "whatif/scenario_rows.hpp"
#include "whatif/whatif.hpp"

namespace msync::server {

// A batch of updates from `POST /v1/events`, and what became of it.
struct submission {
  bool wait_applied = false;
  std::size_t updates = 0;
  // Filled by the engine thread; read once `done` (under the service's submissions mutex).
  std::size_t journaled = 0, applied = 0;
  std::vector<input_problem> refused;  // events the engine refused (file: "<request>")
  std::string failure;                 // why it was not taken whole (the server is stopping, ...)
  bool done = false;
};

class engine_service {
 public:
  struct hooks {
    // After each update, on the engine thread, with its event lines: writes --out's files.
    // Returns false when they can no longer be written (the server stops, exit 1).
    std::function<bool(const update_outcome&, const std::vector<std::string>&)> write;
    std::function<void(const std::string&)> warn;  // refused events, journal problems
  };

  // `backend_name`: the engine's backend ("cpu", "cuda"), for the summary.
  engine_service(margin_stream& stream, std::string backend_name, stream_journal* journal,
                 event_log& events, hooks h);

  // The journal's updates, applied before anything else (not journaled again).
  void replay(const std::vector<journal_update>& updates);

  // Queues one update of the feed; waits while the queue is full. False once stopping.
  bool submit_feed(journal_update update);
  // Queues a request's updates (all or none) and waits until they are journaled (applied, with
  // wait_applied; queued, without a journal), or the server stops.
  // Returns a copy of what became of them, taken when the wait ended.
  submission submit_request(std::vector<journal_update> updates, bool wait_applied);

  // The engine thread: applies queued updates until stop() and returns after the update in hand.
  void run();
  void stop();
  bool stopping() const { return stopping_; }
  // Why the engine stopped on its own (an output or the journal could not be written); empty
  // otherwise.
  std::string failure() const;

  // Set by the feed's reader: "none", "open", "stopped" (by a signal). The feed's end is queued
  // behind its last update (feed_ended): the state reads "ended" once all of the feed is applied.
  void set_feed_state(const std::string& state);
  void feed_ended();
  void count_rejected_lines(long n) { lines_rejected_ += n; }

  // ---- queries (request threads) ----
  nlohmann::json summary() const;
  nlohmann::json history() const;
  nlohmann::json health_check() const;
  std::string metrics_text(const std::map<int, std::int64_t>& http_codes) const;
  // null when the book holds no such account.
  std::optional<nlohmann::json> account(const std::string& id);
  // `state`: a stream state's name, or "not_ok".
  nlohmann::json accounts_in_state(const std::string& state, std::size_t limit);
  nlohmann::json closest_to_liquidation(std::size_t limit);
  // Throws whatif_error for a request that cannot be answered; std::runtime_error (503) before
  // the first risk run.
  nlohmann::json whatif(const whatif_request& request);

  // Stream time now (the last completed update's), for bounding a request's events.
  std::int64_t stream_time_ns() const;

  latency_record& whatif_latency() { return whatif_latency_; }
  // After run() ends: the totals and every update's latencies, for summary.json.
  const stream_counts& counts_for_summary_file() const { return counts_; }
  const stream_latencies& latencies_for_summary_file() const { return latencies_; }

 private:
  struct queued {
    journal_update update;
    std::shared_ptr<submission> from;  // null for the feed and a replay
    bool feed_end = false;             // no update: the feed ended after the one before
  };
  // Journal, apply, count, publish: one update.
  void process(queued& q, bool replaying);
  void publish(const update_outcome& u);
  void finish(const std::shared_ptr<submission>& s, bool journaled_now, bool applied_now);
  void fail_pending(const std::string& why);

  margin_stream& stream_;
  const std::string backend_name_;
  const std::int64_t as_of_ns_;  // the book's: stream time before the first update
  stream_journal* journal_;
  event_log& events_;
  hooks hooks_;

  // The queue of updates waiting for the engine.
  mutable std::mutex queue_mutex_;
  std::condition_variable queue_changed_;
  std::deque<queued> queue_;
  std::atomic<bool> stopping_{false};
  std::string failure_;
  mutable std::mutex submissions_mutex_;
  std::condition_variable submission_changed_;

  std::mutex engine_mutex_;  // the whole of each update
  rw_lock book_lock_;        // the book, market and collateral moved (what-ifs read them)
  // Under book_lock_: the what-if's scenario set (of the last completed risk run), the stream
  // time of that run, and the book's ids.
  std::shared_ptr<const whatif_scenarios> scenarios_;
  std::int64_t scenarios_risk_ns_ = 0;
  book_lookup lookup_;
  // The what-ifs' priced scenario rows, shared by every request thread (8.10): after each update
  // a low-priority thread prices again the rows of the instruments what-ifs asked for in the last
  // 5 s, so that a what-if rarely prices a row itself.
  whatif_row_cache rows_;
  void prewarm_loop();
  std::mutex prewarm_mutex_;
  std::condition_variable prewarm_wanted_;
  std::uint64_t prewarm_asked_ = 0;  // updates applied; the loop prewarms for the newest
  bool prewarm_stop_ = false;

  // Published after each update, under published_mutex_.
  mutable std::mutex published_mutex_;
  stream_counts counts_;
  std::int64_t start_ns_ = 0, time_ns_ = 0, risk_ns_ = 0;
  bool started_ = false;
  risk_trigger last_trigger_ = risk_trigger::none;
  std::map<risk_trigger, std::int64_t> runs_;
  double staleness_ms_ = 0.0;
  double im_total_ = 0.0, mm_total_ = 0.0, bad_debt_var_ = 0.0, bad_debt_es_ = 0.0;
  std::vector<std::int64_t> last_tick_ns_;
  std::vector<std::uint8_t> stale_;
  std::vector<std::int64_t> state_counts_;  // per stream_state
  std::int64_t accounts_ = 0;
  std::string feed_state_ = "none";
  std::atomic<long> lines_rejected_{0};

  latency_record tick_latency_, risk_latency_, whatif_latency_;
  second_history history_;
  stream_latencies latencies_;  // engine thread only: summary.json

  // closest_to_liquidation's ranking, computed at most once per update (under engine_mutex_).
  std::int64_t ranked_at_update_ = -1;
  std::vector<std::uint32_t> ranked_;
};

}  // namespace msync::server
