#include "server/engine_service.hpp"

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <shared_mutex>
#include <thread>

#include "io/number_parse.hpp"
#include "marginsync/stopwatch.hpp"
#include "marginsync/time_units.hpp"
#include "stream/event_lines.hpp"

namespace msync::server {

namespace {

// Updates that may wait for the engine: a feed read from a file runs at most this far ahead (the
// reader waits), a request beyond it waits for room.
constexpr std::size_t queue_capacity = 1024;

const risk_trigger all_triggers[] = {risk_trigger::start,     risk_trigger::deviation,
                                     risk_trigger::heartbeat, risk_trigger::book_change,
                                     risk_trigger::mark,      risk_trigger::settlement};
const stream_state all_states[] = {stream_state::ok, stream_state::preemptive,
                                   stream_state::margin_call, stream_state::liquidate,
                                   stream_state::liquidation_held};

nlohmann::json time_or_null(bool known, std::int64_t ns) {
  return known ? nlohmann::json(format_timestamp(ns)) : nlohmann::json(nullptr);
}

// One row of an account list (8.12).
nlohmann::json account_row(const account_in_force& r, const book& b) {
  return {{"account", b.account_id[r.account]},
          {"state", stream_state_name(r.state)},
          {"equity", r.equity},
          {"initial_margin", r.initial_margin},
          {"maintenance_margin", r.maintenance_margin},
          {"health", r.health},
          {"breach_probability", r.breach_probability}};
}

nlohmann::json whatif_numbers_json(const whatif_numbers& n) {
  return {{"own_funds", n.own_funds},
          {"equity", n.equity},
          {"var", n.var},
          {"es", n.es},
          {"initial_margin", n.initial_margin},
          {"maintenance_margin", n.maintenance_margin},
          {"health", n.health},
          {"breach_probability", n.breach_probability},
          {"status", status_name(n.status)},
          {"preemptive", n.preemptive}};
}

std::int64_t unix_seconds_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

engine_service::engine_service(margin_stream& stream, std::string backend_name,
                               stream_journal* journal, event_log& events, hooks h)
    : stream_(stream),
      backend_name_(std::move(backend_name)),
      as_of_ns_(stream.inputs().market.as_of_ns),
      journal_(journal),
      events_(events),
      hooks_(std::move(h)) {
  lookup_.update(stream_.inputs().positions);
  state_counts_.assign(std::size(all_states), 0);
  accounts_ = static_cast<std::int64_t>(stream_.inputs().positions.accounts());
  state_counts_[0] = accounts_;
  last_tick_ns_.assign(stream_.inputs().market.size(), 0);
  stale_.assign(stream_.inputs().market.size(), 0);
}

void engine_service::replay(const std::vector<journal_update>& updates) {
  for (const journal_update& u : updates) {
    queued q{u, nullptr};
    process(q, /*replaying=*/true);
  }
}

bool engine_service::submit_feed(journal_update update) {
  std::unique_lock<std::mutex> guard(queue_mutex_);
  queue_changed_.wait(guard, [&] { return stopping_ || queue_.size() < queue_capacity; });
  if (stopping_) return false;
  queue_.push_back(queued{std::move(update), nullptr});
  queue_changed_.notify_all();
  return true;
}

submission engine_service::submit_request(std::vector<journal_update> updates, bool wait_applied) {
  auto s = std::make_shared<submission>();
  s->wait_applied = wait_applied;
  s->updates = updates.size();
  {
    std::unique_lock<std::mutex> guard(queue_mutex_);
    queue_changed_.wait(guard, [&] { return stopping_ || queue_.size() < queue_capacity; });
    if (stopping_) {
      s->failure = "the server is stopping";
      s->done = true;
      return *s;
    }
    for (journal_update& u : updates) queue_.push_back(queued{std::move(u), s});
    queue_changed_.notify_all();
  }
  // Without a journal and without wait_applied, queued is the answer.
  std::unique_lock<std::mutex> guard(submissions_mutex_);
  if (!journal_ && !wait_applied)
    s->done = true;
  else
    submission_changed_.wait(guard, [&] { return s->done; });
  return *s;  // a copy: the engine may still be filling in `applied` and `refused`
}

void engine_service::finish(const std::shared_ptr<submission>& s, bool journaled_now,
                            bool applied_now) {
  if (!s) return;
  std::lock_guard<std::mutex> guard(submissions_mutex_);
  if (journaled_now) ++s->journaled;
  if (applied_now) ++s->applied;
  const std::size_t reached = s->wait_applied ? s->applied : s->journaled;
  if (!s->done && reached == s->updates) {
    s->done = true;
    submission_changed_.notify_all();
  }
}

void engine_service::fail_pending(const std::string& why) {
  std::deque<queued> left;
  {
    std::lock_guard<std::mutex> guard(queue_mutex_);
    left.swap(queue_);
    queue_changed_.notify_all();
  }
  std::lock_guard<std::mutex> guard(submissions_mutex_);
  for (queued& q : left)
    if (q.from && !q.from->done) {
      q.from->failure = why;
      q.from->done = true;
    }
  submission_changed_.notify_all();
}

void engine_service::stop() {
  {
    std::lock_guard<std::mutex> guard(queue_mutex_);
    stopping_ = true;
  }
  queue_changed_.notify_all();
}

std::string engine_service::failure() const {
  std::lock_guard<std::mutex> guard(queue_mutex_);
  return failure_;
}

void engine_service::feed_ended() {
  std::lock_guard<std::mutex> guard(queue_mutex_);
  queued q;
  q.feed_end = true;
  queue_.push_back(std::move(q));
  queue_changed_.notify_all();
}

void engine_service::set_feed_state(const std::string& state) {
  std::lock_guard<std::mutex> guard(published_mutex_);
  feed_state_ = state;
}

void engine_service::prewarm_loop() {
  // Below the engine and the request threads: the rows are a convenience, the tick path is not.
  ::setpriority(PRIO_PROCESS, static_cast<id_t>(::syscall(SYS_gettid)), 10);
  std::uint64_t done = 0;
  for (;;) {
    {
      std::unique_lock<std::mutex> guard(prewarm_mutex_);
      prewarm_wanted_.wait(guard, [&] { return prewarm_stop_ || prewarm_asked_ != done; });
      if (prewarm_stop_) return;
      done = prewarm_asked_;  // the newest update: those in between are skipped
    }
    std::shared_ptr<whatif_prewarm> job;
    {
      std::shared_lock<rw_lock> guard(book_lock_);
      if (!scenarios_) continue;
      const std::vector<std::uint32_t> wanted = rows_.recently_used(std::chrono::seconds(5));
      if (wanted.empty()) continue;
      job = std::make_shared<whatif_prewarm>(whatif_state_of(stream_, *scenarios_, lookup_, &rows_),
                                             rows_, wanted);
    }
    job->run();  // without the lock: the rows need neither the book nor the market any more
  }
}

void engine_service::run() {
  std::thread prewarm_thread([this] { prewarm_loop(); });
  for (;;) {
    queued q;
    {
      std::unique_lock<std::mutex> guard(queue_mutex_);
      queue_changed_.wait(guard, [&] { return stopping_ || !queue_.empty(); });
      if (stopping_) break;  // the update in hand is done; those waiting are not taken
      q = std::move(queue_.front());
      queue_.pop_front();
      queue_changed_.notify_all();
    }
    if (q.feed_end) {
      set_feed_state("ended");
      continue;
    }
    try {
      process(q, /*replaying=*/false);
    } catch (const std::exception& e) {
      // The journal could not be written: the update was not applied, and no later one may be
      // (it would be lost at the next start). The server stops; the requester hears why.
      {
        std::lock_guard<std::mutex> guard(queue_mutex_);
        failure_ = e.what();
        stopping_ = true;
      }
      if (q.from) {
        std::lock_guard<std::mutex> guard(submissions_mutex_);
        q.from->failure = std::string("not journaled: ") + e.what();
        q.from->done = true;
        submission_changed_.notify_all();
      }
      break;
    }
  }
  fail_pending("the server is stopping");
  events_.close();
  {
    std::lock_guard<std::mutex> guard(prewarm_mutex_);
    prewarm_stop_ = true;
  }
  prewarm_wanted_.notify_all();
  prewarm_thread.join();
}

void engine_service::process(queued& q, bool replaying) {
  const journal_update& in = q.update;
  // On disk before it is applied (8.11); the write and sync delay the update, so they count in
  // its tick path.
  const stopwatch journal_watch;
  if (journal_ && !replaying) {
    journal_->append(in.ts_ns, in.events);
    finish(q.from, /*journaled_now=*/true, false);
  }
  const double journal_seconds = journal_ && !replaying ? journal_watch.seconds() : 0.0;

  std::unique_lock<std::mutex> engine_guard(engine_mutex_);
  std::unique_lock<rw_lock> book_guard(book_lock_);
  const book& b = stream_.inputs().positions;
  update_outcome u = stream_.update(in.ts_ns, in.events, [&] {
    lookup_.update(b);
    book_guard.unlock();
  });
  if (book_guard.owns_lock()) {
    lookup_.update(b);
    book_guard.unlock();
  }
  u.tick_seconds += journal_seconds;
  if (u.trigger != risk_trigger::none) {
    // The market now is the risk run's (the risk path runs last in an update): the what-ifs'
    // scenario set from here on.
    auto scenarios = std::make_shared<const whatif_scenarios>(
        stream_.inputs().market, scenario_source{}, stream_.inputs().risk);
    std::lock_guard<rw_lock> guard(book_lock_);
    scenarios_ = std::move(scenarios);
    scenarios_risk_ns_ = stream_.last_risk_ns();
  }
  for (input_problem& p : u.problems) {
    p.file = replaying ? "<journal replay>" : q.from ? "<request>" : "<feed>";
    if (hooks_.warn) hooks_.warn(p.to_string());
  }
  std::vector<std::string> lines;
  append_event_lines(u, b, stream_.inputs().market, lines);
  if (hooks_.write && !hooks_.write(u, lines)) {
    std::lock_guard<std::mutex> guard(queue_mutex_);
    failure_ = "an output could not be written";
    stopping_ = true;
    queue_changed_.notify_all();
  }
  events_.append(lines);
  publish(u);
  engine_guard.unlock();
  {
    std::lock_guard<std::mutex> guard(prewarm_mutex_);
    ++prewarm_asked_;
  }
  prewarm_wanted_.notify_one();

  if (q.from) {
    {
      std::lock_guard<std::mutex> guard(submissions_mutex_);
      q.from->refused.insert(q.from->refused.end(), u.problems.begin(), u.problems.end());
    }
    finish(q.from, /*journaled_now=*/false, /*applied_now=*/true);
  }
}

void engine_service::publish(const update_outcome& u) {
  latencies_.add(u);
  tick_latency_.observe(u.tick_seconds);
  if (u.trigger != risk_trigger::none) risk_latency_.observe(u.risk_seconds);
  const double staleness_ms = u.staleness_years * seconds_per_year * 1e3;
  history_.record(unix_seconds_now(), u.tick_seconds,
                  u.trigger != risk_trigger::none ? u.risk_seconds : -1.0, staleness_ms);
  std::vector<std::int64_t> counts(std::size(all_states), 0);
  for (stream_state s : stream_.states())
    if (static_cast<std::size_t>(s) < counts.size()) ++counts[static_cast<std::size_t>(s)];

  std::lock_guard<std::mutex> guard(published_mutex_);
  counts_.add(u);
  started_ = true;
  start_ns_ = stream_.stream_start_ns();
  time_ns_ = stream_.stream_time_ns();
  risk_ns_ = stream_.last_risk_ns();
  if (u.trigger != risk_trigger::none) {
    last_trigger_ = u.trigger;
    const risk_result& r = stream_.last_risk();
    im_total_ = mm_total_ = 0.0;
    for (double x : r.initial_margin) im_total_ += x;
    for (double x : r.maintenance_margin) mm_total_ += x;
    bad_debt_var_ = r.bad_debt_var;
    bad_debt_es_ = r.bad_debt_es;
  }
  for (risk_trigger t : all_triggers) runs_[t] = stream_.risk_runs(t);
  staleness_ms_ = staleness_ms;
  last_tick_ns_ = stream_.last_tick_ns();
  stale_ = stream_.stale_oracles();
  state_counts_ = std::move(counts);
  accounts_ = static_cast<std::int64_t>(stream_.states().size());
}

std::int64_t engine_service::stream_time_ns() const {
  std::lock_guard<std::mutex> guard(published_mutex_);
  return started_ ? time_ns_ : as_of_ns_;
}

nlohmann::json engine_service::health_check() const {
  std::lock_guard<std::mutex> guard(published_mutex_);
  return {{"status", "ok"},
          {"updates", counts_.updates},
          {"stream_time", time_or_null(started_, time_ns_)}};
}

nlohmann::json engine_service::summary() const {
  const latency_summary tick = tick_latency_.recent(), risk = risk_latency_.recent(),
                        what = whatif_latency_.recent();
  const std::int64_t last_event = events_.last();
  std::lock_guard<std::mutex> guard(published_mutex_);
  const market_state& m = stream_.inputs().market;  // symbols only: fixed at load
  nlohmann::json j;
  j["stream"] = {{"start", time_or_null(started_, start_ns_)},
                 {"time", time_or_null(started_, time_ns_)},
                 {"updates", counts_.updates},
                 {"ticks_applied", counts_.ticks_applied},
                 {"ticks_out_of_order", counts_.ticks_out_of_order},
                 {"lines_rejected", lines_rejected_.load()},
                 {"events_refused", counts_.events_refused},
                 {"book_events_applied", counts_.book_events_applied},
                 {"marks_applied", counts_.marks_applied},
                 {"settlements", counts_.settlements},
                 {"feed", feed_state_}};
  nlohmann::json accounts = {{"total", accounts_}};
  for (stream_state s : all_states)
    accounts[stream_state_name(s)] = state_counts_[static_cast<std::size_t>(s)];
  j["accounts"] = accounts;
  nlohmann::json runs = nlohmann::json::object();
  for (risk_trigger t : all_triggers) {
    const auto it = runs_.find(t);
    runs[risk_trigger_name(t)] = it == runs_.end() ? 0 : it->second;
  }
  j["risk"] = {{"last_run", time_or_null(started_, risk_ns_)},
               {"trigger", last_trigger_ == risk_trigger::none
                               ? nlohmann::json(nullptr)
                               : nlohmann::json(risk_trigger_name(last_trigger_))},
               {"staleness_ms", staleness_ms_},
               {"runs", runs},
               {"initial_margin", im_total_},
               {"maintenance_margin", mm_total_},
               {"bad_debt_var", bad_debt_var_},
               {"bad_debt_es", bad_debt_es_}};
  nlohmann::json oracles = nlohmann::json::array();
  for (std::size_t u = 0; u < m.size(); ++u)
    oracles.push_back(
        {{"underlying", m.symbols[u]},
         {"last_tick", time_or_null(started_, last_tick_ns_[u])},
         {"age_ms", started_ ? 1e-6 * static_cast<double>(time_ns_ - last_tick_ns_[u]) : 0.0},
         {"stale", stale_[u] != 0}});
  j["oracles"] = oracles;
  j["latency"] = {{"tick_path", latency_json(tick)},
                  {"risk_path", latency_json(risk)},
                  {"whatif", latency_json(what)}};
  j["events"] = {{"last_seq", last_event}};
  j["backend"] = backend_name_;
  j["method"] = method_name(stream_.inputs().risk.method);
  j["scenarios"] = stream_.inputs().risk.scenarios;
  return j;
}

nlohmann::json engine_service::history() const {
  nlohmann::json seconds = nlohmann::json::array();
  for (const second_stats& s : history_.last(unix_seconds_now()))
    seconds.push_back({{"t", s.unix_seconds},
                       {"updates", s.updates},
                       {"tick_p99_ms", s.tick_p99_ms},
                       {"tick_max_ms", s.tick_max_ms},
                       {"risk_max_ms", s.risk_max_ms < 0 ? nlohmann::json(nullptr)
                                                         : nlohmann::json(s.risk_max_ms)},
                       {"staleness_ms", s.staleness_ms}});
  return {{"seconds", seconds}};
}

std::string engine_service::metrics_text(const std::map<int, std::int64_t>& http_codes) const {
  std::string out;
  tick_latency_.render(out, "marginsync_tick_path_seconds",
                       "Wall time of each update's tick path (journal, events, revaluation, "
                       "states).");
  risk_latency_.render(out, "marginsync_risk_path_seconds", "Wall time of each risk run.");
  whatif_latency_.render(out, "marginsync_whatif_seconds",
                         "Wall time of each what-if, computed in process.");
  const auto counter = [&](const std::string& name, const std::string& help, const char* type) {
    out += "# HELP " + name + ' ' + help + "\n# TYPE " + name + ' ' + type + '\n';
  };
  std::lock_guard<std::mutex> guard(published_mutex_);
  counter("marginsync_updates_total", "Updates applied.", "counter");
  out += "marginsync_updates_total " + std::to_string(counts_.updates) + '\n';
  counter("marginsync_risk_runs_total", "Risk runs by trigger.", "counter");
  for (risk_trigger t : all_triggers) {
    const auto it = runs_.find(t);
    out += std::string("marginsync_risk_runs_total{trigger=\"") + risk_trigger_name(t) + "\"} " +
           std::to_string(it == runs_.end() ? 0 : it->second) + '\n';
  }
  counter("marginsync_lines_rejected_total", "Malformed lines of the feed and of requests.",
          "counter");
  out += "marginsync_lines_rejected_total " + std::to_string(lines_rejected_.load()) + '\n';
  counter("marginsync_events_refused_total", "Events the engine refused.", "counter");
  out += "marginsync_events_refused_total " + std::to_string(counts_.events_refused) + '\n';
  counter("marginsync_oracle_age_seconds", "Stream time since each underlying's last tick.",
          "gauge");
  const market_state& m = stream_.inputs().market;
  for (std::size_t u = 0; u < m.size(); ++u)
    out += "marginsync_oracle_age_seconds{underlying=\"" + m.symbols[u] + "\"} " +
           format_number(started_ ? 1e-9 * static_cast<double>(time_ns_ - last_tick_ns_[u]) : 0.0) +
           '\n';
  counter("marginsync_margin_staleness_seconds", "Stream time since the last risk run.", "gauge");
  out += "marginsync_margin_staleness_seconds " + format_number(1e-3 * staleness_ms_) + '\n';
  counter("marginsync_accounts", "Accounts per stream state.", "gauge");
  for (stream_state s : all_states)
    out += std::string("marginsync_accounts{state=\"") + stream_state_name(s) + "\"} " +
           std::to_string(state_counts_[static_cast<std::size_t>(s)]) + '\n';
  const whatif_row_cache::counters rows = rows_.statistics();
  counter("marginsync_whatif_rows_total",
          "What-ifs' per-instrument scenario rows: found priced, waited for while another thread "
          "priced them, priced (by what-ifs and the prewarm after each update).",
          "counter");
  out += "marginsync_whatif_rows_total{source=\"cached\"} " + std::to_string(rows.hits) + '\n';
  out += "marginsync_whatif_rows_total{source=\"waited\"} " + std::to_string(rows.waited) + '\n';
  out += "marginsync_whatif_rows_total{source=\"priced\"} " + std::to_string(rows.priced) + '\n';
  counter("marginsync_stream_time_seconds", "Stream time, seconds since the epoch.", "gauge");
  out += "marginsync_stream_time_seconds " +
         format_number(started_ ? 1e-9 * static_cast<double>(time_ns_) : 0.0) + '\n';
  counter("marginsync_http_requests_total", "HTTP requests answered, by status code.", "counter");
  for (const auto& [code, n] : http_codes)
    out += "marginsync_http_requests_total{code=\"" + std::to_string(code) + "\"} " +
           std::to_string(n) + '\n';
  return out;
}

std::optional<nlohmann::json> engine_service::account(const std::string& id) {
  std::lock_guard<std::mutex> engine_guard(engine_mutex_);
  const std::int64_t index = lookup_.account(id);
  if (index < 0) return std::nullopt;
  const auto a = static_cast<std::uint32_t>(index);
  const book& b = stream_.inputs().positions;
  const market_state& m = stream_.inputs().market;
  nlohmann::json j = {
      {"account", id},
      {"tier", stream_.inputs().risk.tiers[b.account_tier[a]].name},
      {"collateral", b.collateral[a] + stream_.collateral_change()[a]},
      {"stream_time", time_or_null(stream_.stream_time_ns() != 0, stream_.stream_time_ns())},
      {"risk_run", time_or_null(stream_.stream_time_ns() != 0, stream_.last_risk_ns())}};
  j["credit_limit"] = stream_.inputs().risk.tiers[b.account_tier[a]].credit_limit;
  const std::vector<account_in_force> rows = stream_.accounts_in_force({a});
  if (rows.empty()) {
    j["state"] = "ok";  // before the first update: nothing is computed yet
    j["status"] = nullptr;
  } else {
    const account_in_force& r = rows.front();
    j["state"] = stream_state_name(r.state);
    j["status"] = status_name(r.status);
    j["preemptive"] = r.preemptive;
    j["own_funds"] = r.own_funds;
    j["equity"] = r.equity;
    j["var"] = r.var;
    j["es"] = r.es;
    j["initial_margin"] = r.initial_margin;
    j["maintenance_margin"] = r.maintenance_margin;
    j["staleness_addon"] = r.staleness_addon;
    j["health"] = r.health;
    j["breach_probability"] = r.breach_probability;
    nlohmann::json exposures = nlohmann::json::array();
    for (const auto& [u, delta] : r.exposure_delta)
      exposures.push_back(
          {{"underlying", m.symbols[u]}, {"delta", delta}, {"delta_notional", delta * m.spot[u]}});
    j["exposures"] = exposures;
  }
  nlohmann::json positions = nlohmann::json::array();
  for (std::uint64_t p = b.account_position_begin[a]; p < b.account_position_begin[a + 1]; ++p)
    positions.push_back({{"instrument", b.instruments.id[b.position_instrument[p]]},
                         {"quantity", b.position_quantity[p]},
                         {"cost", b.position_cost[p]}});
  j["positions"] = positions;
  return j;
}

nlohmann::json engine_service::accounts_in_state(const std::string& state, std::size_t limit) {
  std::lock_guard<std::mutex> engine_guard(engine_mutex_);
  const std::vector<stream_state>& states = stream_.states();
  std::vector<std::uint32_t> chosen;
  std::int64_t total = 0;
  for (std::size_t a = 0; a < states.size(); ++a) {
    const bool match =
        state == "not_ok" ? states[a] != stream_state::ok : state == stream_state_name(states[a]);
    if (!match) continue;
    ++total;
    if (chosen.size() < limit) chosen.push_back(static_cast<std::uint32_t>(a));
  }
  nlohmann::json rows = nlohmann::json::array();
  for (const account_in_force& r : stream_.accounts_in_force(chosen))
    rows.push_back(account_row(r, stream_.inputs().positions));
  return {{"status", state},
          {"count", total},
          {"truncated", static_cast<std::size_t>(total) > chosen.size()},
          {"accounts", rows}};
}

nlohmann::json engine_service::closest_to_liquidation(std::size_t limit) {
  std::lock_guard<std::mutex> engine_guard(engine_mutex_);
  std::int64_t updates = 0;
  {
    std::lock_guard<std::mutex> guard(published_mutex_);
    updates = counts_.updates;
  }
  nlohmann::json rows = nlohmann::json::array();
  if (updates == 0) return {{"order", "health"}, {"accounts", rows}};
  if (ranked_at_update_ != updates) {
    // Every account's health in force, once per update whoever asks first: the lowest first,
    // accounts with no maintenance margin (infinite health) left out.
    const risk_result r = stream_.margins_in_force();
    ranked_.clear();
    for (std::size_t a = 0; a < r.health.size(); ++a)
      if (std::isfinite(r.health[a])) ranked_.push_back(static_cast<std::uint32_t>(a));
    const std::size_t keep = std::min<std::size_t>(ranked_.size(), 1000);
    std::partial_sort(ranked_.begin(), ranked_.begin() + static_cast<std::ptrdiff_t>(keep),
                      ranked_.end(), [&](std::uint32_t x, std::uint32_t y) {
                        return r.health[x] < r.health[y] || (r.health[x] == r.health[y] && x < y);
                      });
    ranked_.resize(keep);
    ranked_at_update_ = updates;
  }
  std::vector<std::uint32_t> chosen(
      ranked_.begin(),
      ranked_.begin() + static_cast<std::ptrdiff_t>(std::min(limit, ranked_.size())));
  for (const account_in_force& r : stream_.accounts_in_force(chosen))
    rows.push_back(account_row(r, stream_.inputs().positions));
  return {{"order", "health"}, {"accounts", rows}};
}

nlohmann::json engine_service::whatif(const whatif_request& request) {
  // One calculator per request thread: it holds scratch and priced scenario rows.
  thread_local whatif_calculator calculator;
  const stopwatch watch;
  if (stream_.inputs().risk.method == risk_method::full) {
    // The rows this what-if needs that are not priced at the current market yet (after a tick,
    // until the prewarm has them), priced first without the book's lock: the engine's next
    // update never waits behind a what-if pricing options in every scenario.
    std::shared_ptr<whatif_prewarm> cold;
    {
      std::shared_lock<rw_lock> guard(book_lock_);
      if (scenarios_) {
        const book& b = stream_.inputs().positions;
        std::vector<std::uint32_t> wanted;
        if (const std::int64_t a = lookup_.account(request.account); a >= 0)
          for (std::uint64_t p = b.account_position_begin[static_cast<std::size_t>(a)];
               p < b.account_position_begin[static_cast<std::size_t>(a) + 1]; ++p)
            wanted.push_back(b.position_instrument[p]);
        for (const whatif_order& o : request.orders)
          if (const std::int64_t i = lookup_.instrument(o.instrument); i >= 0)
            wanted.push_back(static_cast<std::uint32_t>(i));
        auto job = std::make_shared<whatif_prewarm>(
            whatif_state_of(stream_, *scenarios_, lookup_, &rows_), rows_, wanted);
        if (job->size() > 0) cold = std::move(job);
      }
    }
    if (cold) cold->run();
  }
  std::shared_lock<rw_lock> guard(book_lock_);
  if (!scenarios_) throw std::runtime_error("no risk run yet: the what-if needs the first update");
  const whatif_result r =
      calculator.evaluate(whatif_state_of(stream_, *scenarios_, lookup_, &rows_), request);
  const std::int64_t now = stream_.stream_time_ns(), risk_run = scenarios_risk_ns_;
  guard.unlock();
  whatif_latency_.observe(watch.seconds());
  return {{"account", request.account},
          {"new_account", r.new_account},
          {"before", whatif_numbers_json(r.before)},
          {"after", whatif_numbers_json(r.after)},
          {"incremental_margin", r.incremental_margin},
          {"accept", r.accept},
          {"stream_time", format_timestamp(now)},
          {"risk_run", format_timestamp(risk_run)}};
}

}  // namespace msync::server
