// marginsync serve: the engine as a venue's service (docs/design.md 8.12). The book resident on a
// backend follows its updates (the --ticks feed and POST /v1/events) exactly as `stream` does,
// while an HTTP/JSON API answers queries, what-ifs and event streams, and the log says what it
// is doing. Threads: the engine (applies updates), the feed reader, the HTTP server's pool, and
// this one, which watches signals and writes the status line.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "cli_common.hpp"
#include "desk_page.hpp"
#include "feed_input.hpp"
#include "io/input_files.hpp"
#include "io/number_parse.hpp"
#include "journal/stream_journal.hpp"
#include "margin/margin_outputs.hpp"
#include "marginsync/errors.hpp"
#include "server/engine_service.hpp"
#include "server/event_log.hpp"
#include "server/http_api.hpp"
#include "server/server_log.hpp"
#include "stream/latency.hpp"
#include "stream_outputs.hpp"

namespace msync::cli {

namespace {

volatile std::sig_atomic_t stop_signal = 0;
volatile std::sig_atomic_t reopen_signal = 0;

extern "C" void on_stop_signal(int s) {
  stop_signal = s;
}
extern "C" void on_hangup(int) {
  reopen_signal = 1;
}

void install_signal_handlers() {
  struct sigaction action {};
  sigemptyset(&action.sa_mask);
  action.sa_flags = 0;  // no SA_RESTART: a blocked read of the feed returns
  action.sa_handler = on_stop_signal;
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
  action.sa_handler = on_hangup;
  sigaction(SIGHUP, &action, nullptr);
  // A client that goes away mid-answer is the HTTP library's to handle, never a dead server.
  std::signal(SIGPIPE, SIG_IGN);
}

struct serve_options {
  book_options book;
  std::string ticks;
  tick_time_options time;
  std::string journal;
  std::string listen = "127.0.0.1:8650";
  std::string token_file;
  std::string ready_file;
  std::string log_file;
  std::string log_level = "info";
  double status_every = 5.0;
  risk_options risk;
  run_options run;
};

// HOST:PORT (an IPv6 host in brackets); throws usage_error.
std::pair<std::string, int> parse_listen(const std::string& text) {
  const std::size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0)
    throw usage_error("--listen must be HOST:PORT, not '" + text + "'");
  std::string host = text.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  const std::string port_text = text.substr(colon + 1);
  std::int64_t port = -1;
  if (!parse_integer(port_text, port).empty() || port < 0 || port > 65535)
    throw usage_error("--listen: the port must be 0 to 65535, not '" + port_text + "'");
  return {host, static_cast<int>(port)};
}

// The token of --token-file: its first line, whitespace trimmed; bad input (exit 2) when the file
// cannot be read or the token is shorter than 16 characters.
std::string read_token(const std::string& path) {
  if (std::string why = input_file_problem(path); !why.empty())
    throw input_error({input_problem{path, 0, "", std::move(why)}});
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  const std::size_t a = line.find_first_not_of(" \t\r\n"), b = line.find_last_not_of(" \t\r\n");
  const std::string token = a == std::string::npos ? "" : line.substr(a, b - a + 1);
  if (token.size() < 16)
    throw input_error({input_problem{
        path, 1, "",
        "the token must be at least 16 characters (it is " + std::to_string(token.size()) + ")"}});
  for (char c : token)
    if (c < 0x21 || c > 0x7e)
      throw input_error(
          {input_problem{path, 1, "", "the token must be printable ASCII without spaces"}});
  return token;
}

// Writes `text` to `path` whole: a temporary file renamed into place, so a script waiting for the
// file never reads half of it.
void write_ready_file(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << text;
    if (!out.flush()) throw std::runtime_error("--ready-file " + path + ": cannot be written");
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0)
    throw std::runtime_error("--ready-file " + path + ": cannot be written");
}

// Reads the feed to its end (a file) or until a stop (a live feed), one update at a time into the
// engine's queue. True when it read the feed to its end.
bool follow_feed(std::istream& in, bool live, const std::string& name,
                 server::engine_service& engine, const std::vector<std::string>& symbols,
                 std::int64_t stream_ns, tick_time_bound bound, spdlog::logger& log) {
  long shown = 0;
  tick_reader reader(in, name, symbols, [&](const input_problem& p) {
    engine.count_rejected_lines(1);
    // Then counted, not shown: a broken feed must not flood the log.
    if (++shown <= 100) log.warn("feed: {}", p.to_string());
    if (shown == 100) log.warn("feed: further malformed lines are counted, not shown");
  });
  reader.check_time(stream_ns, bound, [&](const std::string& line) { log.warn("feed: {}", line); });
  return follow_updates(
      reader, live, [&] { return !stop_signal && !engine.stopping(); },
      [&](std::int64_t ts, std::vector<stream_event>& events) {
        return engine.submit_feed(journal_update{ts, std::move(events)});
      });
}

std::string status_line(const nlohmann::json& s, double updates_per_second,
                        double requests_per_second) {
  const nlohmann::json& a = s["accounts"];
  char text[512];
  std::snprintf(
      text, sizeof text,
      "status stream_time=%s updates=%lld updates_per_s=%.1f tick_p99_ms=%.3f "
      "risk_p99_ms=%.3f whatif_p99_ms=%.3f ok=%lld preemptive=%lld margin_call=%lld "
      "liquidate=%lld liquidation_held=%lld requests_per_s=%.1f feed=%s",
      s["stream"]["time"].is_string() ? s["stream"]["time"].get<std::string>().c_str() : "-",
      s["stream"]["updates"].get<long long>(), updates_per_second,
      s["latency"]["tick_path"]["p99_ms"].get<double>(),
      s["latency"]["risk_path"]["p99_ms"].get<double>(),
      s["latency"]["whatif"]["p99_ms"].get<double>(), a["ok"].get<long long>(),
      a["preemptive"].get<long long>(), a["margin_call"].get<long long>(),
      a["liquidate"].get<long long>(), a["liquidation_held"].get<long long>(), requests_per_second,
      s["stream"]["feed"].get<std::string>().c_str());
  return text;
}

int run_serve_command(const serve_options& o, const run_context& context) {
  const auto [host, port] = parse_listen(o.listen);
  std::optional<std::string> token;
  if (!o.token_file.empty()) token = read_token(o.token_file);
  if (!token && !server::is_loopback(host))
    throw usage_error("--listen " + o.listen +
                      " is not a loopback address: give --token-file, so that no one else on the "
                      "network can read the book or post events");
  if (!(o.status_every > 0)) throw usage_error("--status-every must be above 0 seconds");
  std::vector<named_input> inputs = book_inputs_named(o.book);
  if (!o.ticks.empty()) inputs.push_back({"--ticks", o.ticks});
  if (!o.journal.empty()) {
    std::vector<named_input> others = inputs;
    others.push_back({"--out", o.run.out});
    refuse_output_over_inputs("--journal", o.journal, others);
  }
  std::optional<output_directory> out_dir = claim_output_directory(o.run, "serve", context, inputs);
  feed_input feed;
  if (!o.ticks.empty()) open_feed(o.ticks, feed);
  std::shared_ptr<spdlog::logger> log = server::make_server_log(
      o.log_file, o.run.quiet && o.log_level == "info" ? "warn" : o.log_level);

  const stopwatch wall;
  book_inputs loaded = load_book_from(o.book, o.risk);
  backend_selection selection =
      select_backend(o.run.choice(), o.run.threads, o.run.max_device_bytes());
  log->info("backend {}: {}", selection.instance->name(), selection.note);
  std::optional<stream_journal> journal;
  if (!o.journal.empty())
    journal.emplace(o.journal,
                    book_identity(book_location_from(o.book), engine_parameters(loaded.risk)),
                    [&](const std::string& line) { log->warn("journal: {}", line); });
  std::optional<stream_outputs> outputs;
  if (out_dir) outputs.emplace(out_dir, "marginsync serve", nullptr);
  margin_stream stream(std::move(loaded), *selection.instance);
  const book& b = stream.inputs().positions;
  log->info("book resident: accounts={} positions={} on {}", b.accounts(), b.positions(),
            selection.instance->device());

  server::event_log events;
  server::engine_service::hooks hooks;
  if (outputs)
    hooks.write = [&](const update_outcome& u, const std::vector<std::string>& lines) {
      return outputs->write(u, lines);
    };
  hooks.warn = [&](const std::string& line) { log->warn("refused: {}", line); };
  server::engine_service engine(stream, selection.instance->name(), journal ? &*journal : nullptr,
                                events, hooks);
  std::int64_t replayed = 0;
  if (journal) {
    engine.replay(journal->recorded());
    replayed = static_cast<std::int64_t>(journal->recorded().size());
    journal->forget_recorded();
    if (replayed > 0)
      log->info("journal: replayed updates={} from {} stream_time={}", replayed,
                journal->file().string(), format_timestamp(stream.stream_time_ns()));
  }

  server::http_options http;
  http.host = host;
  http.port = port;
  http.token = token;
  http.page = desk_page_html;
  server::http_api api(engine, events, stream.inputs().market.symbols, o.time.bound(), http, log);
  const int bound_port = api.bind();
  const std::string url = "http://" +
                          (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" +
                          std::to_string(bound_port);
  install_signal_handlers();
  std::thread engine_thread([&] { engine.run(); });
  std::thread http_thread([&] { api.serve(); });
  std::thread feed_thread;
  if (!o.ticks.empty()) {
    engine.set_feed_state("open");
    const std::int64_t from =
        replayed > 0 ? stream.stream_time_ns() : stream.inputs().market.as_of_ns;
    feed_thread = std::thread([&, from] {
      const bool ended =
          follow_feed(feed.stream(), feed.live, o.ticks == "-" ? "<stdin>" : o.ticks, engine,
                      stream.inputs().market.symbols, from, o.time.bound(), *log);
      if (ended) {
        engine.feed_ended();
        log->info("feed: read to its end ({}); serving on", o.ticks);
      } else {
        engine.set_feed_state("stopped");
      }
    });
  }
  log->info("listening on {} (token {})", url, token ? "required" : "not required");
  if (!o.ready_file.empty()) write_ready_file(o.ready_file, url + "\n");

  // This thread: signals, the status line, and a stop when the engine stops on its own.
  stopwatch since_status;
  std::int64_t updates_at_status = 0, requests_at_status = 0;
  while (!stop_signal && engine.failure().empty()) {
    ::usleep(100 * 1000);
    if (reopen_signal) {
      reopen_signal = 0;
      server::reopen_log(*log);
      log->info("log reopened (SIGHUP)");
    }
    if (since_status.seconds() >= o.status_every) {
      const double dt = since_status.lap();
      const nlohmann::json s = engine.summary();
      const std::int64_t updates = s["stream"]["updates"].get<std::int64_t>(),
                         requests = api.requests();
      log->info(status_line(s, static_cast<double>(updates - updates_at_status) / dt,
                            static_cast<double>(requests - requests_at_status) / dt));
      updates_at_status = updates;
      requests_at_status = requests;
    }
  }
  const bool by_signal = stop_signal != 0;
  if (by_signal)
    log->info("{}: finishing the update in hand, then writing the outputs",
              stop_signal == SIGINT ? "SIGINT" : "SIGTERM");
  // Stop order: no new request, the engine after the update in hand, the feed, the HTTP server.
  api.refuse_new_requests();
  engine.stop();
  engine_thread.join();
  if (feed_thread.joinable()) feed_thread.join();
  api.stop();
  http_thread.join();
  const std::string failure = engine.failure();
  if (!failure.empty()) log->error("stopped: {}", failure);

  if (outputs) outputs->sync();
  if (out_dir) {
    const stream_counts& c = engine.counts_for_summary_file();
    const stream_latencies& l = engine.latencies_for_summary_file();
    const nlohmann::json s = engine.summary();
    nlohmann::json j = stream_summary_common(stream, *selection.instance, o.book.book, o.ticks, c,
                                             l, journal ? &*journal : nullptr, replayed);
    j["listen"] = url;
    j["stream"] = engine.summary()["stream"];
    j["http_requests"] = api.requests();
    j["wall_seconds"] = wall.seconds();
    j["write_error"] =
        outputs && outputs->failed() ? nlohmann::json(outputs->error()) : nlohmann::json(nullptr);
    j["stopped_by"] = by_signal ? nlohmann::json(stop_signal == SIGINT ? "SIGINT" : "SIGTERM")
                                : nlohmann::json(failure);
    write_stream_results(*out_dir, context.provenance(o.book.book), j, stream, c.updates);
    if (failure.empty() && !(outputs && outputs->failed())) out_dir->finish();
    log->info("results in {}", o.run.out);
  }
  log->info("stopped after updates={} requests={}", engine.counts_for_summary_file().updates,
            api.requests());
  return failure.empty() ? exit_ok : exit_failure;
}

}  // namespace

command serve_command(CLI::App& top, const run_context& context) {
  auto o = std::make_shared<serve_options>();
  CLI::App* app = top.add_subcommand(
      "serve",
      "Run the engine as a service: the book resident on the backend follows a tick feed (--ticks) "
      "and the events POSTed to /v1/events exactly as `stream` does, while an HTTP/JSON API "
      "answers account queries, pre-trade what-ifs, an event stream, Prometheus metrics and a "
      "risk-desk page at /.");
  add_book_options(*app, o->book);
  add_depth_option(*app, o->book);
  app->add_option("--ticks", o->ticks,
                  "tick feed: a file (read to its end; the server keeps serving) or - / a pipe "
                  "(followed live); without it, updates come only from POST /v1/events")
      ->type_name("FILE|-")
      ->group("Inputs");
  add_tick_time_options(*app, o->time, /*confirmations=*/true);
  app->add_option("--listen", o->listen,
                  "HOST:PORT to serve on; port 0 picks a free one (see --ready-file). A "
                  "non-loopback host needs --token-file")
      ->capture_default_str()
      ->group("Server");
  app->add_option("--token-file", o->token_file,
                  "file whose first line is the bearer token every request must carry "
                  "(Authorization: Bearer TOKEN; at least 16 characters)")
      ->type_name("FILE")
      ->group("Server");
  app->add_option("--ready-file", o->ready_file,
                  "once listening, write http://HOST:PORT to this file (for scripts)")
      ->type_name("FILE")
      ->group("Server");
  app->add_option("--log-file", o->log_file,
                  "log to this file (reopened on SIGHUP) instead of standard error")
      ->type_name("FILE")
      ->group("Server");
  app->add_option("--log-level", o->log_level, "trace, debug (every request), info, warn or error")
      ->capture_default_str()
      ->group("Server");
  app->add_option("--status-every", o->status_every,
                  "seconds between status lines in the log (info level)")
      ->capture_default_str()
      ->group("Server");
  app->add_option("--journal", o->journal,
                  "append every update to DIR/journal.msj, on disk before it is applied (and "
                  "before POST /v1/events answers); a journal already there is replayed first")
      ->type_name("DIR")
      ->group("Outputs");
  add_risk_options(*app, o->risk);
  add_backend_option(*app, o->run, backend_use::computes);
  add_threads_options(*app, o->run);
  add_verbosity_options(*app, o->run);
  add_out_directory_option(*app, o->run,
                           "directory for events.jsonl and ticks.csv (as the server runs), "
                           "summary.json and accounts.csv (when it stops)");
  app->footer(help_footer(
      "marginsync serve --book data/sample --ticks data/streams/crash.jsonl --out out/serve\n"
      "  curl -s localhost:8650/v1/summary\n"
      "  curl -s -X POST localhost:8650/v1/whatif -d '{\"account\":\"basis_trader\",\n"
      "       \"orders\":[{\"instrument\":\"BTC-PERP\",\"quantity\":1,\"price\":91000}]}'",
      std::string("API (docs/design.md 8.12): GET /healthz, /metrics, /v1/summary, /v1/history,\n"
                  "/v1/accounts/ID, /v1/accounts?status=S, /v1/accounts?order=health,\n"
                  "/v1/events?since=N (server-sent events); POST /v1/whatif, /v1/events.\n"
                  "SIGINT or SIGTERM finishes the update in hand, writes the outputs and exits "
                  "0.\nSIGHUP reopens --log-file.\n") +
          units_note));
  return {app, [o, &context] {
            reject_renamed_options(o->book);
            return run_serve_command(*o, context);
          }};
}

}  // namespace msync::cli
