// marginsync stream: follow an oracle tick stream and re-margin the whole book on every update.
// Reads from a file or standard input (any feed can be piped in), writes status transitions as
// they happen (events.jsonl in --out, or standard output), a line per update (ticks.csv), and at
// the end summary.json and accounts.csv, also after SIGINT or SIGTERM (the update in hand is
// finished first).
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cerrno>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>

#include <cxxopts.hpp>
#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "parse_options.hpp"
#include "margin/margin_job.hpp"
#include "io/number_parse.hpp"
#include "marginsync/errors.hpp"
#include "bench_stream.hpp"
#include "stream/stream_engine.hpp"

namespace msync::cli {

namespace {

volatile std::sig_atomic_t stop_requested = 0;

extern "C" void request_stop(int) { stop_requested = 1; }

// Without SA_RESTART, so a read blocked on the feed returns and the stream winds down.
void install_stop_handlers() {
  struct sigaction action {};
  action.sa_handler = request_stop;
  sigemptyset(&action.sa_mask);
  action.sa_flags = 0;
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
  // A reader of standard output that goes away ends the stream like a stop request (the write
  // fails and says so) instead of killing the process before it writes its outputs.
  std::signal(SIGPIPE, SIG_IGN);
}

nlohmann::json latency_json(const latency_summary& l) {
  return {{"count", l.count}, {"p50_ms", l.p50_ms}, {"p99_ms", l.p99_ms}, {"max_ms", l.max_ms}};
}

void append_field(std::string& line, const char* key, double value) {
  line += ",\"";
  line += key;
  line += "\":";
  if (std::isfinite(value)) append_number(line, value);
  else line += value > 0 ? "\"inf\"" : "\"-inf\"";  // JSON has no infinity; health can be one
}

std::string event_line(const account_transition& t, const book& b) {
  std::string line = "{\"ts\":\"" + format_timestamp(t.ts_ns) + "\",\"event\":\"" + t.event + "\",\"account\":";
  line += nlohmann::json(b.account_id[t.account]).dump();
  line += ",\"from\":\"";
  line += stream_state_name(t.from);
  line += '"';
  append_field(line, "equity", t.equity);
  append_field(line, "initial_margin", t.initial_margin);
  append_field(line, "maintenance_margin", t.maintenance_margin);
  append_field(line, "health", t.health);
  append_field(line, "breach_probability", t.breach_probability);
  line += "}\n";
  return line;
}

std::string event_line(const oracle_transition& t, const market_state& m) {
  return "{\"ts\":\"" + format_timestamp(t.ts_ns) + "\",\"event\":\"stale_oracle\",\"underlying\":" +
         nlohmann::json(m.symbols[t.underlying]).dump() + ",\"stale\":" + (t.stale ? "true" : "false") + "}\n";
}

// Where the stream's lines go: files in --out, or events on standard output.
class stream_outputs {
 public:
  explicit stream_outputs(const std::optional<std::filesystem::path>& dir) {
    if (!dir) return;
    prepare_output_directory(*dir);
    events_.open(*dir / "events.jsonl", std::ios::trunc);
    ticks_.open(*dir / "ticks.csv", std::ios::trunc);
    if (!events_ || !ticks_) throw std::runtime_error("cannot write events.jsonl and ticks.csv in " + dir->string());
    ticks_ << "timestamp,ticks,out_of_order,paths,trigger,tick_ms,risk_ms,wall_ms,transitions,staleness_ms\n";
  }

  void write(const update_outcome& u, const book& b, const market_state& m) {
    std::string lines;
    for (const oracle_transition& t : u.oracles) lines += event_line(t, m);
    for (const account_transition& t : u.accounts) lines += event_line(t, b);
    if (events_.is_open()) {
      events_ << lines;
      std::string row = format_timestamp(u.ts_ns) + ',' + std::to_string(u.ticks_applied) + ',' +
                        std::to_string(u.ticks_out_of_order) + ',' +
                        (u.trigger == risk_trigger::none ? "tick" : "tick+risk") + ',' + risk_trigger_name(u.trigger);
      // Wall times are measurements: to the microsecond. Staleness is stream time: exact.
      char times[96];
      std::snprintf(times, sizeof times, ",%.3f,%.3f,%.3f,", 1e3 * u.tick_seconds, 1e3 * u.risk_seconds,
                    1e3 * (u.tick_seconds + u.risk_seconds));
      row += times + std::to_string(u.accounts.size() + u.oracles.size()) + ',';
      append_number(row, u.staleness_years * 31536000.0 * 1e3);
      ticks_ << row << '\n';
      // A consumer tailing the files sees each update whole, as soon as it is done.
      events_.flush();
      ticks_.flush();
    } else if (!lines.empty()) {
      std::fputs(lines.c_str(), stdout);
      if (std::fflush(stdout) != 0 && !stop_requested) {
        std::fprintf(stderr, "marginsync stream: standard output closed; stopping\n");
        stop_requested = 1;
      }
    }
  }

 private:
  std::ofstream events_, ticks_;
};

}  // namespace

int run_stream_command(int argc, char** argv) {
  cxxopts::Options options("marginsync stream",
                           "Follow an oracle tick stream (CSV timestamp,underlying,price[,vol] or JSON "
                           "lines, from a file or - for standard input) and re-margin the whole book on "
                           "every update: revalue and health on every update, full scenario risk when "
                           "a price moves past deviation_threshold, when heartbeat_ms passes or at the "
                           "start; margins widened by the staleness add-on in between. Writes the "
                           "accounts whose status changed as JSON lines.");
  options.custom_help("--book DIR|FILE --ticks FILE|- [OPTIONS]");
  add_book_options(options);
  options.add_options("Inputs")
      ("ticks", "tick stream file, or - for standard input", cxxopts::value<std::string>());
  add_risk_override_options(options);
  add_backend_options(options);
  options.add_options("Run")
      ("out", "directory for events.jsonl and ticks.csv (written as the stream runs), summary.json "
              "and accounts.csv (at the end); without it, events go to standard output",
       cxxopts::value<std::string>())
      ("q,quiet", "print nothing but errors")
      ("h,help", "this help");
  int status = exit_ok;
  const auto parsed = parse_options(
      options, argc, argv, {"book", "ticks"},
      "\nStream time is the clock: expiry, heartbeats and staleness follow the ticks' timestamps.\n"
      "Malformed lines are reported on stderr and skipped; the stream goes on.\n"
      "exit status: 0 end of stream (or stopped by SIGINT/SIGTERM, outputs written), 1 failure while\n"
      "running, 2 bad input or usage, 3 backend not available\n",
      status);
  if (!parsed) return status;
  const cxxopts::ParseResult& args = *parsed;
  const std::string name = "marginsync stream";
  const std::optional<risk_overrides> overrides = risk_overrides_from(args, name);
  const std::optional<backend_settings> where = backend_settings_from(args, name);
  if (!overrides || !where) return exit_bad_input;
  const bool quiet = args.count("quiet") > 0;
  const std::string ticks_path = args["ticks"].as<std::string>();
  std::optional<std::filesystem::path> out_dir;
  if (args.count("out")) out_dir = std::filesystem::path(args["out"].as<std::string>());

  // A live feed (standard input, a named pipe, a socket) is read from descriptor 0 through our own
  // buffer, so that what is already read can be told from what is not; a file is read as it is.
  std::error_code ec;
  const auto type = ticks_path == "-" ? std::filesystem::file_type::fifo : std::filesystem::status(ticks_path, ec).type();
  const bool live = type == std::filesystem::file_type::fifo || type == std::filesystem::file_type::socket;
  std::ifstream ticks_file;
  if (live && ticks_path != "-" && !std::freopen(ticks_path.c_str(), "r", stdin))
    throw input_error({input_problem{ticks_path, 0, "", "cannot open the tick stream"}});
  if (!live) {
    ticks_file.open(ticks_path);
    if (!ticks_file) throw input_error({input_problem{ticks_path, 0, "", "cannot open the tick stream"}});
  }
  if (live) std::ios::sync_with_stdio(false);
  std::istream& in = live ? std::cin : ticks_file;

  const auto wall_start = std::chrono::steady_clock::now();
  book_inputs inputs = load_book_from(args, *overrides);
  backend_selection selection = select_backend(where->choice, where->threads, where->max_device_bytes);
  if (!quiet) std::fprintf(stderr, "%s\n", selection.note.c_str());
  stream_outputs outputs(out_dir);
  margin_stream stream(std::move(inputs), *selection.instance);
  const book& b = stream.inputs().positions;
  if (!quiet)
    std::fprintf(stderr, "streaming: %zu accounts, %zu positions resident on %s\n", b.accounts(), b.positions(),
                 selection.instance->device().c_str());

  constexpr long shown_problems = 100;  // then counted, not printed: a broken feed must not flood the log
  long problems_seen = 0;
  tick_reader reader(in, ticks_path, stream.inputs().market.symbols, [&](const input_problem& p) {
    if (++problems_seen <= shown_problems) std::fprintf(stderr, "%s\n", p.to_string().c_str());
    if (problems_seen == shown_problems) std::fprintf(stderr, "%s: further malformed lines are counted, not shown\n", name.c_str());
  });
  install_stop_handlers();

  std::vector<double> tick_latency, risk_latency;
  std::int64_t updates = 0, ticks_applied = 0, out_of_order = 0, book_events = 0, events_refused = 0;
  std::map<std::string, std::int64_t> transitions;
  auto process = [&](std::int64_t ts, const std::vector<stream_event>& group) {
    const update_outcome u = stream.update(ts, group);
    ++updates;
    ticks_applied += static_cast<std::int64_t>(u.ticks_applied);
    book_events += static_cast<std::int64_t>(u.book_events_applied);
    for (input_problem p : u.problems) {  // events the book could not take: reported like bad lines
      p.file = ticks_path == "-" ? "<stdin>" : ticks_path;
      ++events_refused;
      if (++problems_seen <= shown_problems) std::fprintf(stderr, "%s\n", p.to_string().c_str());
    }
    out_of_order += static_cast<std::int64_t>(u.ticks_out_of_order);
    tick_latency.push_back(u.tick_seconds);
    if (u.trigger != risk_trigger::none) risk_latency.push_back(u.risk_seconds);
    for (const account_transition& t : u.accounts) ++transitions[t.event];
    for (const oracle_transition& t : u.oracles) ++transitions[t.stale ? "stale_oracle" : "oracle_recovered"];
    outputs.write(u, stream.inputs().positions, stream.inputs().market);
  };
  std::vector<stream_event> group;  // the update in hand: the events of one timestamp
  std::int64_t group_ts = 0;
  auto finish_update = [&] {
    if (group.empty()) return;
    process(group_ts, group);
    group.clear();
  };
  if (live) {
    // Before a read that would wait: nothing more is waiting, so the update in hand is done now,
    // not when the next timestamp arrives. Then wait for input, or for a stop request.
    reader.set_before_blocking([&] {
      finish_update();
      pollfd fd{STDIN_FILENO, POLLIN, 0};
      while (!stop_requested) {
        const int ready = ::poll(&fd, 1, 250);
        if (ready > 0 || (ready < 0 && errno != EINTR)) return true;  // the read says which
      }
      return false;
    });
  }
  while (!stop_requested) {
    std::optional<stream_event> e = reader.next();
    if (!e) break;
    if (e->ts_ns != group_ts) finish_update();
    group_ts = e->ts_ns;
    group.push_back(std::move(*e));
  }
  finish_update();  // the update in hand, also after a stop request
  const bool interrupted = stop_requested != 0;
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();

  nlohmann::json j;
  j["marginsync_version"] = MSYNC_VERSION;
  j["inputs"] = {{"book", args["book"].as<std::string>()}, {"ticks", ticks_path},
                 {"accounts", b.accounts()}, {"positions", b.positions()},
                 {"underlyings", stream.inputs().market.size()}};
  j["backend"] = selection.instance->name();
  j["device"] = selection.instance->device();
  j["method"] = method_name(stream.inputs().risk.method);
  j["scenarios"] = stream.inputs().risk.scenarios;
  j["stream"] = {{"start", updates ? format_timestamp(stream.stream_start_ns()) : ""},
                 {"end", updates ? format_timestamp(stream.stream_time_ns()) : ""},
                 {"lines", reader.lines_read()},
                 {"updates", updates},
                 {"ticks_applied", ticks_applied},
                 {"ticks_out_of_order", out_of_order},
                 {"lines_rejected", reader.rejected()},
                 {"book_events_applied", book_events},
                 {"events_refused", events_refused},
                 {"interrupted", interrupted}};
  j["risk_runs"] = {{"start", stream.risk_runs(risk_trigger::start)},
                    {"deviation", stream.risk_runs(risk_trigger::deviation)},
                    {"heartbeat", stream.risk_runs(risk_trigger::heartbeat)},
                    {"book_change", stream.risk_runs(risk_trigger::book_change)}};
  const latency_summary tick = summarize_latency(tick_latency), risk = summarize_latency(risk_latency);
  j["latency"] = {{"tick_path", latency_json(tick)}, {"risk_path", latency_json(risk)}};
  j["mean_margin_staleness_ms"] = 1e3 * stream.mean_staleness_seconds();
  j["transitions"] = transitions;
  j["wall_seconds"] = wall;
  j["updates_per_second"] = wall > 0 ? static_cast<double>(updates) / wall : 0.0;
  if (out_dir) {
    write_atomically(*out_dir / "summary.json", j.dump(2) + "\n");
    if (updates > 0)
      write_atomically(*out_dir / "accounts.csv",
                       accounts_csv(b, stream.current_revaluation(), stream.margins_in_force()));
  }
  if (!quiet) {
    std::fprintf(stderr, "%s%lld updates (%lld ticks, %lld out of order, %ld lines rejected) in %.2f s\n",
                 interrupted ? "stopped by signal after the update in hand: " : "",
                 static_cast<long long>(updates), static_cast<long long>(ticks_applied),
                 static_cast<long long>(out_of_order), reader.rejected(), wall);
    std::fprintf(stderr, "risk runs: start %lld, deviation %lld, heartbeat %lld; mean margin staleness %.1f ms\n",
                 static_cast<long long>(stream.risk_runs(risk_trigger::start)),
                 static_cast<long long>(stream.risk_runs(risk_trigger::deviation)),
                 static_cast<long long>(stream.risk_runs(risk_trigger::heartbeat)),
                 1e3 * stream.mean_staleness_seconds());
    std::fprintf(stderr, "latency ms: tick path p50 %.3f p99 %.3f max %.3f; risk path p50 %.3f p99 %.3f max %.3f\n",
                 tick.p50_ms, tick.p99_ms, tick.max_ms, risk.p50_ms, risk.p99_ms, risk.max_ms);
    if (out_dir) std::fprintf(stderr, "results in %s\n", out_dir->string().c_str());
  }
  return exit_ok;
}

}  // namespace msync::cli
