// marginsync generate: a synthetic book of a chosen size and, with --ticks, a tick stream for its
// market. Options -> generate_options -> the book directory (or snapshot) -> the tick stream.
#include <cmath>
#include <cstdio>
#include <optional>
#include <stdexcept>
#include <string>

#include "cli_common.hpp"
#include "io/book_snapshot.hpp"
#include "io/load_inputs.hpp"
#include "marginsync/errors.hpp"
#include "marginsync/stopwatch.hpp"
#include "synth/generate_book.hpp"
#include "synth/generate_ticks.hpp"

namespace msync::cli {

namespace {

struct generate_cli_options {
  std::int64_t accounts = 1000;
  int underlyings = 5;
  int positions_per_account = 5;
  std::uint64_t seed = 1;
  bool snapshot = false;
  std::string ticks;
  CLI::Option* ticks_opt = nullptr;
  double tick_seconds = 3600, tick_rate = 1, jumps_per_hour = 2;
  run_options run;
};

// The generated book's market, read back from what was written: market.json in a directory, the
// snapshot's copy of it otherwise (read_book_snapshot also checks the snapshot, which was just
// made from a validated directory, so that costs time but never fails on a good write).
market_state generated_market(const std::filesystem::path& out, bool snapshot) {
  if (snapshot) return read_book_snapshot(out, std::nullopt, std::nullopt).market;
  problem_list problems;
  market_state market = load_market(out / "market.json", problems);
  problems.throw_if_any();
  return market;
}

// --ticks and its settings; throws usage_error when a value is out of range.
tick_generate_options tick_options_from(const generate_cli_options& o) {
  tick_generate_options t;
  t.seconds = o.tick_seconds;
  t.rate_hz = o.tick_rate;
  t.jumps_per_hour = o.jumps_per_hour;
  t.seed = o.seed;
  // Each option's own range first, named as the user wrote it; then what only the combination
  // can break (too many jumps between two ticks).
  std::string why;
  if (!(t.seconds > 0.0 && std::isfinite(t.seconds)))
    why = "--tick-seconds must be > 0";
  else if (!(t.rate_hz > 0.0 && std::isfinite(t.rate_hz)))
    why = "--tick-rate must be > 0";
  else if (!(t.jumps_per_hour >= 0.0 && std::isfinite(t.jumps_per_hour)))
    why = "--jumps-per-hour must be >= 0";
  else
    why = tick_generate_problem(t);
  if (!why.empty()) throw usage_error(why);
  return t;
}

// Whether `file` is directly in `dir` (then it is one of the run's files in the marker).
bool directly_in(const std::filesystem::path& file, const std::filesystem::path& dir) {
  std::error_code ec;
  const auto a =
      std::filesystem::weakly_canonical(std::filesystem::absolute(file, ec).parent_path(), ec);
  const auto b = std::filesystem::weakly_canonical(std::filesystem::absolute(dir, ec), ec);
  return !ec && a == b;
}

int run_generate_command(const generate_cli_options& o, const run_context& context) {
  generate_options g;
  g.accounts = o.accounts;
  g.underlyings = o.underlyings;
  g.positions_per_account = o.positions_per_account;
  g.seed = o.seed;
  // Tick options are checked before the book is generated, so a typo costs no time.
  std::optional<tick_generate_options> ticks;
  if (o.ticks_opt->count()) ticks = tick_options_from(o);
  const std::filesystem::path out = o.run.out;
  if (ticks) reject_directory_for_file("--ticks", o.ticks);
  if (o.snapshot) reject_directory_for_file("--out", o.run.out);
  // A book directory follows the rules of every output directory; a snapshot is one file.
  std::optional<output_directory> dir;
  // The tick stream is another output: it may not replace the book (or the snapshot) it is made
  // for.
  if (ticks) {
    const std::filesystem::path t = std::filesystem::path(o.ticks).filename();
    const bool over_book = directly_in(o.ticks, out) &&
                           (t == "market.json" || t == "risk.json" || t == "instruments.csv" ||
                            t == "accounts.csv" || t == "positions.csv");
    std::error_code ec;
    const bool over_snapshot =
        o.snapshot && std::filesystem::weakly_canonical(std::filesystem::absolute(o.ticks), ec) ==
                          std::filesystem::weakly_canonical(std::filesystem::absolute(out), ec);
    if (over_book || over_snapshot)
      throw usage_error("--ticks " + o.ticks + " would replace a file of the generated book");
  }
  if (!o.snapshot) {
    dir.emplace(out, "generate", context.started, context.run_id, o.run.force);
    for (const char* name :
         {"market.json", "risk.json", "instruments.csv", "accounts.csv", "positions.csv"})
      dir->file(name);
    if (ticks && directly_in(o.ticks, out))
      dir->file(std::filesystem::path(o.ticks).filename().string());
  }
  const stopwatch start;
  generate_report r;
  {
    progress_reporter progress(!o.run.quiet);
    progress.update("generating " + std::to_string(g.accounts) + " accounts", -1.0);
    r = o.snapshot ? generate_book_snapshot(g, out) : generate_book(g, out);
  }
  const double seconds = start.seconds();
  if (!o.run.quiet)
    std::printf("wrote %lld accounts, %lld instruments, %lld positions to %s in %.2f s\n",
                static_cast<long long>(r.accounts), static_cast<long long>(r.instruments),
                static_cast<long long>(r.positions), out.string().c_str(), seconds);
  if (ticks) {
    const std::filesystem::path tick_file = o.ticks;
    tick_generate_report t;
    try {
      progress_reporter progress(!o.run.quiet);
      progress.update("writing ticks to " + tick_file.string(), -1.0);
      t = generate_ticks(generated_market(out, o.snapshot), *ticks, tick_file);
    } catch (const std::invalid_argument& e) {  // a stream that would end past the supported dates
      std::fprintf(stderr, "marginsync %s\n", e.what());
      return exit_bad_input;
    }
    if (!o.run.quiet)
      std::printf("wrote %lld ticks (%lld updates) to %s\n", static_cast<long long>(t.ticks),
                  static_cast<long long>(t.updates), tick_file.string().c_str());
  }
  if (dir) dir->finish();
  return exit_ok;
}

}  // namespace

command generate_command(CLI::App& top, const run_context& context) {
  auto o = std::make_shared<generate_cli_options>();
  CLI::App* app = top.add_subcommand("generate",
                                     "Write a synthetic, realistic book directory: correlated "
                                     "underlyings, spot, perpetuals, futures "
                                     "and options, accounts trading 1 to 3 underlyings, collateral "
                                     "spread over all margin statuses. "
                                     "Deterministic for a seed.");
  const char* book = "Book";
  app->add_option("--accounts", o->accounts, "number of accounts")
      ->check(CLI::PositiveNumber)
      ->capture_default_str()
      ->type_name("N")
      ->group(book);
  app->add_option("--underlyings", o->underlyings, "number of underlyings")
      ->check(CLI::Range(1, static_cast<int>(max_underlyings)).description(""))
      ->capture_default_str()
      ->type_name("N")
      ->group(book);
  app->add_option("--positions-per-account", o->positions_per_account, "position rows per account")
      ->check(CLI::PositiveNumber)
      ->capture_default_str()
      ->type_name("N")
      ->group(book);
  app->add_option("--seed", o->seed, "random seed")
      ->capture_default_str()
      ->type_name("N")
      ->group(book);
  add_out_directory_option(*app, o->run,
                           "output book directory (or snapshot file with --snapshot)");
  o->run.out_opt->required()->type_name("DIR|FILE");
  app->add_flag(
         "--snapshot", o->snapshot,
         "write one binary snapshot file (as marginsync convert does) instead of a directory")
      ->group("Outputs");
  const char* ticks = "Tick stream";
  o->ticks_opt =
      app->add_option(
             "--ticks", o->ticks,
             "also write an oracle tick stream (CSV timestamp,underlying,price) for the book's "
             "market to FILE: correlated geometric Brownian motion at the market's vols with "
             "lognormal jumps, every underlying at each timestamp")
          ->type_name("FILE")
          ->group(ticks);
  app->add_option("--tick-seconds", o->tick_seconds,
                  "length of the tick stream after the market's as_of, seconds")
      ->capture_default_str()
      ->type_name("S")
      ->group(ticks);
  app->add_option("--tick-rate", o->tick_rate,
                  "timestamps per second (each one ticks every underlying)")
      ->capture_default_str()
      ->type_name("HZ")
      ->group(ticks);
  app->add_option("--jumps-per-hour", o->jumps_per_hour,
                  "expected price jumps per hour per underlying (log size sd 0.02)")
      ->capture_default_str()
      ->type_name("X")
      ->group(ticks);
  add_backend_option(*app, o->run, backend_use::accepted_only);
  add_verbosity_options(*app, o->run);
  app->footer(help_footer(
      "marginsync generate --accounts 100000 --underlyings 20 --seed 3 --out books/b100k "
      "--ticks books/b100k/ticks.csv --tick-seconds 600"));
  return {app, [o, &context] { return run_generate_command(*o, context); }};
}

}  // namespace msync::cli
