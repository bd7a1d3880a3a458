// marginsync replay: the cost of engine lag. One tick stream, replayed once per engine interval,
// with the margin engine running only every interval of stream time and liquidating on what it
// computed then (host/replay.hpp).
#include <algorithm>
#include <cstdio>
#include <sstream>

#include <cxxopts.hpp>
#include <nlohmann/json.hpp>

#include "bench_stream.hpp"
#include "commands.hpp"
#include "parse_options.hpp"
#include "margin/margin_job.hpp"
#include "io/number_parse.hpp"
#include "marginsync/errors.hpp"
#include "replay/replay.hpp"

namespace msync::cli {

namespace {

const char* const command_name = "marginsync replay";

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

}  // namespace

int run_replay_command(int argc, char** argv) {
  cxxopts::Options options(command_name,
                           "Replay one tick stream once per engine interval: the margin engine runs "
                           "only every N ms of stream time (0: every update) while prices keep moving, "
                           "and liquidates what it finds in `liquidate` when it runs. Reports the bad "
                           "debt, the liquidations and how far past maintenance accounts were when "
                           "closed: what engine lag costs this book.");
  options.custom_help("--book DIR|FILE --ticks FILE --engine-interval-ms 0,100,1000,10000 [OPTIONS]");
  add_book_options(options);
  options.add_options("Inputs")
      ("ticks", "tick stream file (CSV or JSON lines)", cxxopts::value<std::string>())
      ("engine-interval-ms", "engine intervals to compare, in ms of stream time",
       cxxopts::value<std::string>()->default_value("0,100,1000,10000"));
  add_risk_override_options(options);
  add_backend_options(options);
  options.add_options("Run")
      ("out", "directory for replay.csv, liquidations.csv and summary.json", cxxopts::value<std::string>())
      ("q,quiet", "print nothing but errors")
      ("h,help", "this help");
  int status = exit_ok;
  const auto parsed = parse_options(options, argc, argv, {"book", "ticks"},
                                    "\nexit status: 0 success, 1 failure while running, 2 bad input or usage, 3 "
                                    "backend not available\n",
                                    status);
  if (!parsed) return status;
  const cxxopts::ParseResult& args = *parsed;
  const std::optional<risk_overrides> overrides = risk_overrides_from(args, command_name);
  const std::optional<backend_settings> where = backend_settings_from(args, command_name);
  if (!overrides || !where) return exit_bad_input;
  std::vector<std::int64_t> intervals;
  {
    std::stringstream in(args["engine-interval-ms"].as<std::string>());
    for (std::string item; std::getline(in, item, ',');) {
      std::int64_t ms = 0;
      if (!parse_integer(item, ms).empty() || ms < 0 || ms > 1000000000000LL) {
        std::fprintf(stderr, "%s: --engine-interval-ms: '%s' is not a whole number of ms within [0, 1e12]\n",
                     command_name, item.c_str());
        return exit_bad_input;
      }
      intervals.push_back(ms);
    }
    if (intervals.empty()) {
      std::fprintf(stderr, "%s: --engine-interval-ms: no interval given\n", command_name);
      return exit_bad_input;
    }
  }
  const bool quiet = args.count("quiet") > 0;
  const std::optional<std::filesystem::path> out_dir = output_directory_from(args);
  const book_inputs in = load_book_from(args, *overrides);
  // A replay is a study: its stream must be clean (read_updates reports every bad line).
  const std::vector<std::vector<stream_event>> updates = read_updates(args["ticks"].as<std::string>(), in.market.symbols);
  backend_selection selection = select_backend(where->choice, where->threads, where->max_device_bytes);
  if (!quiet) std::fprintf(stderr, "%s\n", selection.note.c_str());

  std::string table = "interval_ms,engine_runs,liquidations,bad_debt,penalties,mean_past_maintenance,"
                      "max_past_maintenance,mean_past_maintenance_of_mm\n";
  std::string liquidations = "interval_ms,timestamp,account_id,equity,maintenance_margin,past_maintenance,penalty,bad_debt\n";
  nlohmann::json rows = nlohmann::json::array();
  if (!quiet)
    std::printf("%12s %12s %12s %14s %14s %16s\n", "interval ms", "engine runs", "liquidations", "bad debt",
                "penalties", "mean past MM");
  for (std::int64_t ms : intervals) {
    const replay_result r = run_replay(in, *selection.instance, updates, ms);
    const shortfall_stats s = shortfalls(r);
    table += std::to_string(ms) + ',' + std::to_string(r.engine_runs) + ',' + std::to_string(r.liquidations.size());
    append_fields(table, {r.bad_debt, r.penalties, s.mean, s.max, s.mean_of_mm});
    table += '\n';
    for (const replay_liquidation& l : r.liquidations) {
      liquidations += std::to_string(ms) + ',' + format_timestamp(l.ts_ns) + ',';
      append_id(liquidations, in.positions.account_id[l.account]);
      append_fields(liquidations, {l.equity, l.maintenance_margin, l.maintenance_margin - l.equity, l.penalty, l.bad_debt});
      liquidations += '\n';
    }
    rows.push_back({{"interval_ms", ms}, {"engine_runs", r.engine_runs}, {"liquidations", r.liquidations.size()},
                    {"bad_debt", r.bad_debt}, {"penalties", r.penalties}, {"mean_past_maintenance", s.mean},
                    {"max_past_maintenance", s.max}, {"mean_past_maintenance_of_mm", s.mean_of_mm}});
    if (!quiet)
      std::printf("%12lld %12lld %12zu %14.2f %14.2f %16.2f\n", static_cast<long long>(ms),
                  static_cast<long long>(r.engine_runs), r.liquidations.size(), r.bad_debt, r.penalties, s.mean);
  }
  if (out_dir) {
    write_atomically(*out_dir / "replay.csv", table);
    write_atomically(*out_dir / "liquidations.csv", liquidations);
    nlohmann::json j;
    j["marginsync_version"] = MSYNC_VERSION;
    j["backend"] = selection.instance->name();
    j["ticks"] = args["ticks"].as<std::string>();
    j["updates"] = updates.size();
    j["method"] = method_name(in.risk.method);
    j["liquidation_penalty"] = in.risk.liquidation_penalty;
    j["intervals"] = rows;
    write_atomically(*out_dir / "summary.json", j.dump(2) + "\n");
    if (!quiet) std::printf("results in %s\n", out_dir->string().c_str());
  }
  return exit_ok;
}

}  // namespace msync::cli
