// marginsync replay: the cost of engine lag. One tick stream, replayed once per engine interval,
// with the margin engine running only every interval of stream time and liquidating on what it
// computed then (host/replay.hpp).
#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <sstream>

#include "bench_stream.hpp"
#include "cli_common.hpp"
#include "io/number_parse.hpp"
#include "margin/margin_job.hpp"
#include "marginsync/errors.hpp"
#include "marginsync/stopwatch.hpp"
#include "replay/replay.hpp"

namespace msync::cli {

namespace {

// How far past maintenance the accounts of one replay were when closed: MM - equity.
struct shortfall_stats {
  double mean = 0.0, max = 0.0, mean_of_mm = 0.0;  // the last: (MM - equity) / MM, averaged
};

shortfall_stats shortfalls(const replay_result& r) {
  shortfall_stats s;
  if (r.liquidations.empty()) return s;
  for (const replay_liquidation& l : r.liquidations) {
    const double past = l.maintenance_margin - l.equity;
    s.mean += past;
    s.max = std::max(s.max, past);
    s.mean_of_mm += l.maintenance_margin > 0 ? past / l.maintenance_margin : 0.0;
  }
  s.mean /= static_cast<double>(r.liquidations.size());
  s.mean_of_mm /= static_cast<double>(r.liquidations.size());
  return s;
}

struct replay_options {
  book_options book;
  std::string ticks;
  std::string intervals = "0,100,1000,10000";
  tick_time_options time;
  risk_options risk;
  run_options run;
};

std::vector<named_input> replay_inputs(const replay_options& o) {
  std::vector<named_input> in = book_inputs_named(o.book);
  in.push_back({"--ticks", o.ticks});
  return in;
}

int run_replay_command(const replay_options& o, const run_context& context) {
  std::vector<std::int64_t> intervals;
  {
    std::stringstream in(o.intervals);
    for (std::string item; std::getline(in, item, ',');) {
      std::int64_t ms = 0;
      if (!parse_integer(item, ms).empty() || ms < 0 || ms > 1000000000000LL)
        throw usage_error("--engine-interval-ms: " + quote_input(item) +
                          " is not a whole number of ms within [0, 1e12]");
      // A repeat would replay the same interval twice and write its rows twice.
      if (std::find(intervals.begin(), intervals.end(), ms) != intervals.end())
        throw usage_error("--engine-interval-ms: " + std::to_string(ms) + " is given twice");
      intervals.push_back(ms);
    }
    if (intervals.empty()) throw usage_error("--engine-interval-ms: no interval given");
  }
  const bool quiet = o.run.quiet;
  std::optional<output_directory> out_dir =
      claim_output_directory(o.run, "replay", context, replay_inputs(o));
  const book_inputs in = load_book_from(o.book, o.risk);
  // A replay is a study: its stream must be clean (read_updates reports every bad line, a last
  // line without its newline and every event beyond --max-tick-jump of stream time among them).
  const std::vector<std::vector<stream_event>> updates =
      read_updates(o.ticks, in.market.symbols, in.market.as_of_ns, o.time.bound());
  backend_selection selection =
      select_backend(o.run.choice(), o.run.threads, o.run.max_device_bytes());
  progress_reporter progress(!quiet);
  note(o.run, &progress, selection.note);
  std::string interval_label = "replay";
  if (progress.enabled())
    selection.instance->set_progress([&](const char* stage, double fraction) {
      progress.update(interval_label + ": " + stage, fraction);
    });
  std::string table =
      "interval_ms,engine_runs,liquidations,bad_debt,penalties,mean_past_maintenance,"
      "max_past_maintenance,mean_past_maintenance_of_mm\n";
  std::string liquidations =
      "interval_ms,timestamp,account_id,equity,maintenance_margin,past_maintenance,penalty,bad_"
      "debt\n";
  nlohmann::json rows = nlohmann::json::array();
  if (!quiet)
    std::printf("%12s %12s %12s %14s %14s %16s\n", "interval ms", "engine runs", "liquidations",
                "bad debt", "penalties", "mean past MM");
  for (std::size_t i = 0; i < intervals.size(); ++i) {
    const std::int64_t ms = intervals[i];
    interval_label = "replay, interval " + std::to_string(ms) + " ms (" + std::to_string(i + 1) +
                     "/" + std::to_string(intervals.size()) + ")";
    progress.update(interval_label, static_cast<double>(i) / static_cast<double>(intervals.size()));
    const stopwatch started;
    const replay_result r = run_replay(in, *selection.instance, updates, ms);
    if (o.run.verbose)
      note(o.run, &progress, interval_label + ": " + std::to_string(started.seconds()) + " s");
    if (!quiet) progress.done();
    const shortfall_stats s = shortfalls(r);
    table += std::to_string(ms) + ',' + std::to_string(r.engine_runs) + ',' +
             std::to_string(r.liquidations.size());
    append_fields(table, {r.bad_debt, r.penalties, s.mean, s.max, s.mean_of_mm});
    table += '\n';
    for (const replay_liquidation& l : r.liquidations) {
      liquidations += std::to_string(ms) + ',' + format_timestamp(l.ts_ns) + ',';
      append_id(liquidations, in.positions.account_id[l.account]);
      append_fields(liquidations, {l.equity, l.maintenance_margin, l.maintenance_margin - l.equity,
                                   l.penalty, l.bad_debt});
      liquidations += '\n';
    }
    rows.push_back({{"interval_ms", ms},
                    {"engine_runs", r.engine_runs},
                    {"liquidations", r.liquidations.size()},
                    {"bad_debt", r.bad_debt},
                    {"penalties", r.penalties},
                    {"mean_past_maintenance", s.mean},
                    {"max_past_maintenance", s.max},
                    {"mean_past_maintenance_of_mm", s.mean_of_mm}});
    if (!quiet)
      std::printf("%12lld %12lld %12zu %14.2f %14.2f %16.2f\n", static_cast<long long>(ms),
                  static_cast<long long>(r.engine_runs), r.liquidations.size(), r.bad_debt,
                  r.penalties, s.mean);
  }
  progress.done();
  selection.instance->set_progress({});
  if (out_dir) {
    out_dir->write("replay.csv", table);
    out_dir->write("liquidations.csv", liquidations);
    nlohmann::json j;
    j["marginsync_version"] = MSYNC_VERSION;
    j["backend"] = selection.instance->name();
    j["ticks"] = o.ticks;
    j["updates"] = updates.size();
    j["method"] = method_name(in.risk.method);
    j["liquidation_penalty"] = in.risk.liquidation_penalty;
    j["intervals"] = rows;
    run_provenance provenance = context.provenance(o.book.book);
    describe_risk(provenance, in.risk);
    out_dir->write("summary.json", summary_document(provenance, j));
    out_dir->finish();
    if (!quiet) std::printf("results in %s\n", o.run.out.c_str());
  }
  return exit_ok;
}

}  // namespace

command replay_command(CLI::App& top, const run_context& context) {
  auto o = std::make_shared<replay_options>();
  CLI::App* app = top.add_subcommand(
      "replay",
      "Replay one tick stream once per engine interval: the margin engine runs only every N ms of "
      "stream time (0: every update) while prices keep moving, and liquidates what it finds in "
      "`liquidate` when it runs. Reports the bad debt, the liquidations and how far past "
      "maintenance "
      "accounts were when closed: what engine lag costs this book.");
  add_book_options(*app, o->book);
  add_depth_option(*app, o->book);
  app->add_option("--ticks", o->ticks, "tick stream file (CSV or JSON lines)")
      ->required()
      ->type_name("FILE")
      ->group("Inputs");
  app->add_option("--engine-interval-ms", o->intervals,
                  "engine intervals to compare, in ms of stream time")
      ->capture_default_str()
      ->type_name("MS,MS,...")
      ->group("Replay");
  add_tick_time_options(*app, o->time, /*confirmations=*/false);
  add_risk_options(*app, o->risk);
  add_backend_option(*app, o->run, backend_use::computes);
  add_threads_options(*app, o->run);
  add_verbosity_options(*app, o->run);
  add_out_directory_option(*app, o->run,
                           "directory for replay.csv, liquidations.csv and summary.json");
  app->footer(
      help_footer("marginsync replay --book data/sample --ticks data/streams/crash.jsonl "
                  "--engine-interval-ms 0,1000,10000 --out results/replay",
                  units_note));
  return {app, [o, &context] {
            reject_renamed_options(o->book);
            return run_replay_command(*o, context);
          }};
}

}  // namespace msync::cli
