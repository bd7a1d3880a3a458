// marginsync generate: a synthetic book of a chosen size and, with --ticks, a tick stream for its market.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <optional>
#include <stdexcept>
#include <string>

#include <cxxopts.hpp>

#include "commands.hpp"
#include "parse_options.hpp"
#include "synth/generate_book.hpp"
#include "synth/generate_ticks.hpp"
#include "io/book_snapshot.hpp"
#include "io/load_inputs.hpp"
#include "marginsync/errors.hpp"

namespace msync::cli {

namespace {

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

// --ticks and its settings; nullopt (and `status` set) when a value is out of range.
std::optional<tick_generate_options> tick_options_from(const cxxopts::ParseResult& args, std::uint64_t seed,
                                                       int& status) {
  tick_generate_options t;
  t.seconds = args["tick-seconds"].as<double>();
  t.rate_hz = args["tick-rate"].as<double>();
  t.jumps_per_hour = args["jumps-per-hour"].as<double>();
  t.seed = seed;
  // Each option's own range first, named as the user wrote it; then what only the combination
  // can break (too many jumps between two ticks).
  std::string why;
  if (!(t.seconds > 0.0 && std::isfinite(t.seconds))) why = "--tick-seconds must be > 0";
  else if (!(t.rate_hz > 0.0 && std::isfinite(t.rate_hz))) why = "--tick-rate must be > 0";
  else if (!(t.jumps_per_hour >= 0.0 && std::isfinite(t.jumps_per_hour))) why = "--jumps-per-hour must be >= 0";
  else why = tick_generate_problem(t);
  if (!why.empty()) {
    std::fprintf(stderr, "marginsync generate: %s\n", why.c_str());
    status = exit_bad_input;
    return std::nullopt;
  }
  return t;
}

}  // namespace

int run_generate_command(int argc, char** argv) {
  cxxopts::Options options("marginsync generate",
                           "Write a synthetic, realistic book directory: correlated underlyings, "
                           "spot, perpetuals, futures and options, accounts trading 1 to 3 "
                           "underlyings, collateral spread over all margin statuses. Deterministic "
                           "for a seed.");
  options.custom_help("--out DIR [OPTIONS]");
  options.add_options()
      ("accounts", "number of accounts", cxxopts::value<std::int64_t>()->default_value("1000"))
      ("underlyings", "number of underlyings", cxxopts::value<int>()->default_value("5"))
      ("positions-per-account", "position rows per account", cxxopts::value<int>()->default_value("5"))
      ("seed", "random seed", cxxopts::value<std::uint64_t>()->default_value("1"))
      ("out", "output book directory (or snapshot file with --snapshot)", cxxopts::value<std::string>())
      ("snapshot", "write one binary snapshot file (as marginsync convert does) instead of a directory")
      ("h,help", "this help");
  options.add_options("Tick stream")
      ("ticks", "also write an oracle tick stream (CSV timestamp,underlying,price) for the book's "
                "market to FILE: correlated geometric Brownian motion at the market's vols with "
                "lognormal jumps, every underlying at each timestamp", cxxopts::value<std::string>(), "FILE")
      ("tick-seconds", "length of the tick stream after the market's as_of, seconds",
       cxxopts::value<double>()->default_value("3600"), "S")
      ("tick-rate", "timestamps per second (each one ticks every underlying)",
       cxxopts::value<double>()->default_value("1"), "HZ")
      ("jumps-per-hour", "expected price jumps per hour per underlying (log size sd 0.02)",
       cxxopts::value<double>()->default_value("2"), "X");
  int status = exit_ok;
  const auto parsed = parse_options(options, argc, argv, {"out"}, "", status);
  if (!parsed) return status;
  const cxxopts::ParseResult& args = *parsed;
  generate_options o;
  o.accounts = args["accounts"].as<std::int64_t>();
  o.underlyings = args["underlyings"].as<int>();
  o.positions_per_account = args["positions-per-account"].as<int>();
  o.seed = args["seed"].as<std::uint64_t>();
  if (o.accounts < 1 || o.underlyings < 1 || o.positions_per_account < 1) {
    std::fprintf(stderr, "marginsync generate: --accounts, --underlyings and --positions-per-account must be >= 1\n");
    return exit_bad_input;
  }
  // Tick options are checked before the book is generated, so a typo costs no time.
  std::optional<tick_generate_options> ticks;
  if (args.count("ticks") && !(ticks = tick_options_from(args, o.seed, status))) return status;
  const bool snapshot = args.count("snapshot") > 0;
  const std::filesystem::path out = args["out"].as<std::string>();
  const auto start = std::chrono::steady_clock::now();
  const generate_report r = snapshot ? generate_book_snapshot(o, out) : generate_book(o, out);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("wrote %lld accounts, %lld instruments, %lld positions to %s in %.2f s\n",
              static_cast<long long>(r.accounts), static_cast<long long>(r.instruments),
              static_cast<long long>(r.positions), out.string().c_str(), seconds);
  if (ticks) {
    const std::filesystem::path tick_file = args["ticks"].as<std::string>();
    tick_generate_report t;
    try {
      t = generate_ticks(generated_market(out, snapshot), *ticks, tick_file);
    } catch (const std::invalid_argument& e) {  // a stream that would end past the supported dates
      std::fprintf(stderr, "marginsync %s\n", e.what());
      return exit_bad_input;
    }
    std::printf("wrote %lld ticks (%lld updates) to %s\n", static_cast<long long>(t.ticks),
                static_cast<long long>(t.updates), tick_file.string().c_str());
  }
  return exit_ok;
}

}  // namespace msync::cli
