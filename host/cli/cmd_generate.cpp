// marginsync generate: a synthetic book of a chosen size.
#include <chrono>
#include <cstdio>

#include <cxxopts.hpp>

#include "cli/commands.hpp"
#include "cli/parse_options.hpp"
#include "generate_book.hpp"
#include "marginsync/errors.hpp"

namespace msync::cli {

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
  const std::filesystem::path out = args["out"].as<std::string>();
  const auto start = std::chrono::steady_clock::now();
  const generate_report r = args.count("snapshot") ? generate_book_snapshot(o, out) : generate_book(o, out);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("wrote %lld accounts, %lld instruments, %lld positions to %s in %.2f s\n",
              static_cast<long long>(r.accounts), static_cast<long long>(r.instruments),
              static_cast<long long>(r.positions), out.string().c_str(), seconds);
  return exit_ok;
}

}  // namespace msync::cli
