// marginsync stream: follow an oracle tick stream and re-margin the whole book on every update.
// Reads from a file or standard input (any feed can be piped in), writes status transitions as
// they happen (events.jsonl in --out, or standard output), a line per update (ticks.csv), and at
// the end summary.json and accounts.csv, also after SIGINT or SIGTERM (the update in hand is
// finished first).
#include <signal.h>

#include <algorithm>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>

#include "bench_stream.hpp"
#include "cli_common.hpp"
#include "feed_input.hpp"
#include "io/input_files.hpp"
#include "io/number_parse.hpp"
#include "journal/stream_journal.hpp"
#include "margin/margin_job.hpp"
#include "marginsync/errors.hpp"
#include "marginsync/stopwatch.hpp"
#include "stream/event_lines.hpp"
#include "stream/stream_counts.hpp"
#include "stream/stream_engine.hpp"
#include "stream_outputs.hpp"

namespace msync::cli {

namespace {

volatile std::sig_atomic_t stop_requested = 0;

extern "C" void request_stop(int) {
  stop_requested = 1;
}

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

struct stream_options {
  book_options book;
  std::string ticks;
  tick_time_options time;
  bool strict = false;
  std::string journal;  // --journal DIR: empty for none (docs/design.md 8.11)
  risk_options risk;
  run_options run;
};

std::vector<named_input> stream_inputs(const stream_options& o) {
  std::vector<named_input> in = book_inputs_named(o.book);
  in.push_back({"--ticks", o.ticks});
  return in;
}

int run_stream_command(const stream_options& o, const run_context& context) {
  const std::string name = "marginsync stream";
  const bool quiet = o.run.quiet;
  const std::string ticks_path = o.ticks;
  if (!o.journal.empty()) {
    // The journal is neither an input nor in the output directory (whose re-run would remove it).
    std::vector<named_input> others = stream_inputs(o);
    others.push_back({"--out", o.run.out});
    refuse_output_over_inputs("--journal", o.journal, others);
  }
  std::optional<output_directory> out_dir =
      claim_output_directory(o.run, "stream", context, stream_inputs(o));
  feed_input feed;
  open_feed(ticks_path, feed);
  const bool live = feed.live;
  std::istream& in = feed.stream();

  const stopwatch wall_start;
  book_inputs inputs = load_book_from(o.book, o.risk);
  backend_selection selection =
      select_backend(o.run.choice(), o.run.threads, o.run.max_device_bytes());
  progress_reporter progress(!quiet);
  note(o.run, &progress, selection.note);
  // Opened before the engine starts: a journal of another book stops the run here (exit 2).
  std::optional<stream_journal> journal;
  if (!o.journal.empty())
    journal.emplace(o.journal,
                    book_identity(book_location_from(o.book), engine_parameters(inputs.risk)),
                    [&](const std::string& line) { progress.line(line); });
  stream_outputs outputs(out_dir, name, [] {
    if (!stop_requested) stop_requested = 1;
  });
  margin_stream stream(std::move(inputs), *selection.instance);
  const book& b = stream.inputs().positions;
  note(o.run, &progress,
       "streaming: " + std::to_string(b.accounts()) + " accounts, " +
           std::to_string(b.positions()) + " positions resident on " +
           selection.instance->device());
  // How far through the feed: a file's size is known, a live feed's is not.
  const double feed_bytes = feed.bytes;

  constexpr long shown_problems =
      100;  // then counted, not printed: a broken feed must not flood the log
  long problems_seen = 0;
  tick_reader reader(in, ticks_path, stream.inputs().market.symbols, [&](const input_problem& p) {
    if (++problems_seen <= shown_problems) progress.line(p.to_string());
    if (problems_seen == shown_problems)
      progress.line(name + ": further malformed lines are counted, not shown");
  });
  install_stop_handlers();

  stream_counts counts;
  stream_latencies latencies;
  bool replaying = false;
  std::vector<std::string> event_lines;
  auto process = [&](std::int64_t ts, const std::vector<stream_event>& group) {
    // On disk before it is applied: an update the engine applied is never lost (8.11). The write
    // and sync delay the update's states, so they count in its tick path.
    const stopwatch journal_watch;
    if (journal && !replaying) journal->append(ts, group);
    const double journal_seconds = journal && !replaying ? journal_watch.seconds() : 0.0;
    update_outcome u = stream.update(ts, group);
    u.tick_seconds += journal_seconds;
    counts.add(u);
    latencies.add(u);
    for (input_problem p : u.problems) {  // events the book could not take: reported like bad lines
      // A replayed event's line is that of the feed it came from, in an earlier run.
      p.file = replaying ? "<journal replay>" : ticks_path == "-" ? "<stdin>" : ticks_path;
      if (++problems_seen <= shown_problems) progress.line(p.to_string());
    }
    event_lines.clear();
    append_event_lines(u, stream.inputs().positions, stream.inputs().market, event_lines);
    outputs.write(u, event_lines);
    if (progress.due()) {
      double fraction = -1.0;
      if (!live && feed_bytes > 0) {
        const std::streamoff at = feed.file.tellg();
        if (at >= 0) fraction = static_cast<double>(at) / feed_bytes;
      }
      progress.update("stream", fraction,
                      std::to_string(counts.updates) + " updates, stream time " +
                          format_timestamp(stream.stream_time_ns()));
    }
  };
  // A journal's updates first, through the same path as new ones: the engine's state and the
  // outputs (events.jsonl and ticks.csv from the start) are those of the stream so far.
  std::int64_t replayed = 0;
  if (journal) {
    replaying = true;
    for (const journal_update& u : journal->recorded()) {
      if (stop_requested || outputs.failed()) break;
      process(u.ts_ns, u.events);
      ++replayed;
    }
    replaying = false;
    journal->forget_recorded();
    if (replayed > 0)
      note(o.run, &progress,
           "journal: " + std::to_string(replayed) + " updates replayed from " +
               journal->file().string() + ", stream time " +
               format_timestamp(stream.stream_time_ns()));
  }
  // Stream time starts at the book's as_of for the bound (after a replay, at the journal's stream
  // time): a first tick stamped 1900 must not charge 126 years of funding at the next one. A jump
  // the feed confirms is said even with -q: it moves the clock of every margin.
  reader.check_time(replayed > 0 ? stream.stream_time_ns() : stream.inputs().market.as_of_ns,
                    o.time.bound(), [&](const std::string& line) { progress.line(line); });
  follow_updates(
      reader, live, [&] { return !stop_requested && !outputs.failed(); },
      [&](std::int64_t ts, std::vector<stream_event>& events) {
        process(ts, events);
        return true;
      });
  outputs.sync();
  progress.done();
  const bool interrupted = stop_requested != 0;
  const double wall = wall_start.seconds();

  nlohmann::json j =
      stream_summary_common(stream, *selection.instance, o.book.book, ticks_path, counts, latencies,
                            journal ? &*journal : nullptr, replayed);
  j["stream"] = {{"start", counts.updates ? format_timestamp(stream.stream_start_ns()) : ""},
                 {"end", counts.updates ? format_timestamp(stream.stream_time_ns()) : ""},
                 {"lines", reader.lines_read()},
                 {"updates", counts.updates},
                 {"ticks_applied", counts.ticks_applied},
                 {"ticks_out_of_order", counts.ticks_out_of_order},
                 {"lines_rejected", reader.rejected()},
                 {"time_jumps", reader.time_jumps()},
                 {"book_events_applied", counts.book_events_applied},
                 {"events_refused", counts.events_refused},
                 {"marks_applied", counts.marks_applied},
                 {"settlements", counts.settlements},
                 {"interrupted", interrupted}};
  j["wall_seconds"] = wall;
  j["updates_per_second"] = wall > 0 ? static_cast<double>(counts.updates) / wall : 0.0;
  // null, or why events.jsonl / ticks.csv (or standard output) stopped being written, and how
  // many updates they hold whole.
  j["write_error"] = outputs.failed() ? nlohmann::json(outputs.error()) : nlohmann::json(nullptr);
  if (outputs.failed()) j["updates_written"] = outputs.updates_written();
  if (out_dir) {
    write_stream_results(*out_dir, context.provenance(o.book.book), j, stream, counts.updates);
    // A stream whose events could not all be written leaves its marker incomplete.
    if (!outputs.failed()) out_dir->finish();
  }
  if (!quiet) {
    std::fprintf(
        stderr, "%s%lld updates (%lld ticks, %lld out of order, %ld lines rejected) in %.2f s\n",
        interrupted ? "stopped by signal after the update in hand: " : "",
        static_cast<long long>(counts.updates), static_cast<long long>(counts.ticks_applied),
        static_cast<long long>(counts.ticks_out_of_order), reader.rejected(), wall);
    std::fprintf(
        stderr,
        "risk runs: start %lld, deviation %lld, heartbeat %lld, book_change %lld, mark %lld, "
        "settlement %lld; mean margin staleness %.1f ms\n",
        static_cast<long long>(stream.risk_runs(risk_trigger::start)),
        static_cast<long long>(stream.risk_runs(risk_trigger::deviation)),
        static_cast<long long>(stream.risk_runs(risk_trigger::heartbeat)),
        static_cast<long long>(stream.risk_runs(risk_trigger::book_change)),
        static_cast<long long>(stream.risk_runs(risk_trigger::mark)),
        static_cast<long long>(stream.risk_runs(risk_trigger::settlement)),
        1e3 * stream.mean_staleness_seconds());
    std::fprintf(
        stderr,
        "latency ms: tick path p50 %.3f p99 %.3f max %.3f; risk path p50 %.3f p99 %.3f max %.3f\n",
        j["latency"]["tick_path"]["p50_ms"].get<double>(),
        j["latency"]["tick_path"]["p99_ms"].get<double>(),
        j["latency"]["tick_path"]["max_ms"].get<double>(),
        j["latency"]["risk_path"]["p50_ms"].get<double>(),
        j["latency"]["risk_path"]["p99_ms"].get<double>(),
        j["latency"]["risk_path"]["max_ms"].get<double>());
    if (out_dir) std::fprintf(stderr, "results in %s\n", o.run.out.c_str());
  }
  if (outputs.failed()) {
    std::fprintf(stderr, "marginsync stream: %s; the outputs hold %lld of %lld updates\n",
                 outputs.error().c_str(), static_cast<long long>(outputs.updates_written()),
                 static_cast<long long>(counts.updates));
    return exit_failure;
  }
  // --strict: a batch job must notice a corrupt feed. The stream still runs to its end, so that
  // every problem is listed at once (5.2) and the outputs show what the rest of the feed did.
  if (o.strict && (reader.rejected() > 0 || counts.events_refused > 0)) {
    std::fprintf(stderr, "%s: --strict: rejected lines %ld, refused events %lld: exit status 2\n",
                 name.c_str(), reader.rejected(), static_cast<long long>(counts.events_refused));
    return exit_bad_input;
  }
  return exit_ok;
}

}  // namespace

command stream_command(CLI::App& top, const run_context& context) {
  auto o = std::make_shared<stream_options>();
  CLI::App* app = top.add_subcommand(
      "stream",
      "Follow an oracle tick stream (CSV timestamp,underlying,price[,vol] or JSON lines, from a "
      "file "
      "or - for standard input) and re-margin the whole book on every update: revalue and health "
      "on "
      "every update, full scenario risk when a price moves past deviation_threshold, when "
      "heartbeat_ms passes or at the start; margins widened by the staleness add-on in between. "
      "Writes the accounts whose status changed as JSON lines.");
  add_book_options(*app, o->book);
  add_depth_option(*app, o->book);
  app->add_option("--ticks", o->ticks, "tick stream file, or - for standard input")
      ->required()
      ->type_name("FILE|-")
      ->group("Inputs");
  add_tick_time_options(*app, o->time, /*confirmations=*/true);
  app->add_flag("--strict", o->strict,
                "exit with status 2 at the end when any line was rejected or any event refused "
                "(the stream still runs to its end and reports every problem)")
      ->group("Inputs");
  app->add_option("--journal", o->journal,
                  "append every update to DIR/journal.msj, on disk before it is applied; a "
                  "journal already there is replayed first (the outputs are rewritten from its "
                  "start), then the stream continues")
      ->type_name("DIR")
      ->group("Outputs");
  add_risk_options(*app, o->risk);
  add_backend_option(*app, o->run, backend_use::computes);
  add_threads_options(*app, o->run);
  add_verbosity_options(*app, o->run);
  add_out_directory_option(
      *app, o->run,
      "directory for events.jsonl and ticks.csv (written as the stream runs), summary.json "
      "and accounts.csv (at the end); without it, events go to standard output");
  app->footer(help_footer(
      "marginsync stream --book data/sample --ticks data/streams/crash.jsonl --out results/stream",
      std::string(
          "Stream time is the clock: expiry, heartbeats and staleness follow the ticks' "
          "timestamps.\n"
          "Malformed lines are reported on stderr and skipped; the stream goes on (with "
          "--strict, it\n"
          "exits 2 at the end). So are a line over 64 KiB, a last line without its "
          "newline, and an\n"
          "event more than --max-tick-jump from stream time. SIGINT or SIGTERM finishes "
          "the update in\n"
          "hand, writes the outputs and exits 0. An output that cannot be written stops the "
          "stream:\n"
          "exit 1, the file cut back to its last whole update.\n"
          "--journal DIR: every update on disk before it is applied; started again on the same\n"
          "journal, the stream replays it (outputs rewritten from its start), then reads the "
          "feed.\n"
          "events.jsonl: health is equity / maintenance margin, null when there is no "
          "maintenance margin.\n") +
          units_note));
  return {app, [o, &context] {
            reject_renamed_options(o->book);
            return run_stream_command(*o, context);
          }};
}

}  // namespace msync::cli
