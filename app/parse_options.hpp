#pragma once
// The command-line handling every subcommand shares: parse, answer --help, reject stray
// arguments and missing required options, all as usage errors (exit status 2).
#include <cstdio>
#include <initializer_list>
#include <iostream>
#include <optional>
#include <string>

#include <cxxopts.hpp>

#include "commands.hpp"
#include "margin/margin_job.hpp"
#include "io/load_inputs.hpp"

namespace msync::cli {

// Returns the parsed arguments, or the exit status to return now (help shown or usage error).
// `footer` follows the help text.
inline std::optional<cxxopts::ParseResult> parse_options(cxxopts::Options& options, int argc,
                                                         char** argv,
                                                         std::initializer_list<const char*> required,
                                                         const char* footer, int& exit_status) {
  const std::string name = options.program();
  cxxopts::ParseResult args;
  try {
    args = options.parse(argc, argv);
  } catch (const cxxopts::exceptions::exception& e) {
    std::fprintf(stderr, "%s: %s (see --help)\n", name.c_str(), e.what());
    exit_status = exit_bad_input;
    return std::nullopt;
  }
  if (args.count("help")) {
    std::cout << options.help() << footer;
    exit_status = exit_ok;
    return std::nullopt;
  }
  if (!args.unmatched().empty()) {
    std::fprintf(stderr, "%s: unexpected argument '%s' (see --help)\n", name.c_str(),
                 args.unmatched().front().c_str());
    exit_status = exit_bad_input;
    return std::nullopt;
  }
  for (const char* option : required) {
    if (!args.count(option)) {
      std::fprintf(stderr, "%s: --%s is required (see --help)\n", name.c_str(), option);
      exit_status = exit_bad_input;
      return std::nullopt;
    }
  }
  return args;
}

// --book and the options that replace one of its files, for every command that reads a book.
inline void add_book_options(cxxopts::Options& options) {
  options.add_options("Inputs")
      ("book", "book directory (instruments.csv, accounts.csv, positions.csv, market.json, "
               "risk.json) or snapshot file (marginsync convert)", cxxopts::value<std::string>())
      ("instruments", "instruments file (replaces the book's)", cxxopts::value<std::string>())
      ("accounts", "accounts file (replaces the book's)", cxxopts::value<std::string>())
      ("positions", "positions file (replaces the book's)", cxxopts::value<std::string>())
      ("market", "market file (replaces the book's)", cxxopts::value<std::string>())
      ("risk", "risk configuration (replaces the book's)", cxxopts::value<std::string>());
}

inline book_location book_location_from(const cxxopts::ParseResult& args) {
  book_location where;
  where.book = args["book"].as<std::string>();
  auto take = [&](const char* option, std::optional<std::filesystem::path>& into) {
    if (args.count(option)) into = args[option].as<std::string>();
  };
  take("instruments", where.instruments);
  take("accounts", where.accounts);
  take("positions", where.positions);
  take("market", where.market);
  take("risk", where.risk);
  return where;
}

// --method, --scenarios, --seed, --confidence: the risk.json keys a run may override.
inline void add_risk_override_options(cxxopts::Options& options) {
  options.add_options("Risk (override risk.json)")
      ("method", "full (revalue every position) or delta_gamma", cxxopts::value<std::string>())
      ("scenarios", "number of Monte Carlo scenarios", cxxopts::value<std::int64_t>())
      ("seed", "random seed of the scenarios", cxxopts::value<std::uint64_t>())
      ("confidence", "VaR / ES confidence, within (0, 1)", cxxopts::value<double>());
}

// The overrides given, or nullopt after a usage error on stderr (bad --method).
inline std::optional<risk_overrides> risk_overrides_from(const cxxopts::ParseResult& args, const std::string& name) {
  risk_overrides o;
  if (args.count("method")) {
    const std::string m = args["method"].as<std::string>();
    if (m == "full") o.method = risk_method::full;
    else if (m == "delta_gamma") o.method = risk_method::delta_gamma;
    else {
      std::fprintf(stderr, "%s: --method must be full or delta_gamma, got '%s'\n", name.c_str(), m.c_str());
      return std::nullopt;
    }
  }
  if (args.count("scenarios")) o.scenarios = args["scenarios"].as<std::int64_t>();
  if (args.count("seed")) o.seed = args["seed"].as<std::uint64_t>();
  if (args.count("confidence")) o.confidence = args["confidence"].as<double>();
  return o;
}

// --backend, --threads, --device-memory: where the book is made resident.
inline void add_backend_options(cxxopts::Options& options) {
  options.add_options("Run")
      ("backend", "auto, cpu or cuda", cxxopts::value<std::string>()->default_value("auto"))
      ("threads", "CPU threads (0: all cores)", cxxopts::value<int>()->default_value("0"))
      ("device-memory", "most device memory the CUDA backend may use, in MiB (0: 90% of what is free); a book that does not fit is processed in chunks", cxxopts::value<std::int64_t>()->default_value("0"));
}

struct backend_settings {
  backend_choice choice = backend_choice::automatic;
  int threads = 0;
  std::size_t max_device_bytes = 0;
};

// The settings given, or nullopt after a usage error on stderr.
inline std::optional<backend_settings> backend_settings_from(const cxxopts::ParseResult& args, const std::string& name) {
  backend_settings b;
  const std::string backend = args["backend"].as<std::string>();
  if (backend == "auto") b.choice = backend_choice::automatic;
  else if (backend == "cpu") b.choice = backend_choice::cpu;
  else if (backend == "cuda") b.choice = backend_choice::cuda;
  else {
    std::fprintf(stderr, "%s: --backend must be auto, cpu or cuda, got '%s'\n", name.c_str(), backend.c_str());
    return std::nullopt;
  }
  b.threads = args["threads"].as<int>();
  if (b.threads < 0) {
    std::fprintf(stderr, "%s: --threads must be >= 0\n", name.c_str());
    return std::nullopt;
  }
  const std::int64_t device_mib = args["device-memory"].as<std::int64_t>();
  if (device_mib < 0) {
    std::fprintf(stderr, "%s: --device-memory must be >= 0\n", name.c_str());
    return std::nullopt;
  }
  b.max_device_bytes = static_cast<std::size_t>(device_mib) << 20;
  return b;
}

// --out, created and checked writable before any computation; nullopt when not given.
inline std::optional<std::filesystem::path> output_directory_from(const cxxopts::ParseResult& args) {
  if (!args.count("out")) return std::nullopt;
  std::filesystem::path dir = args["out"].as<std::string>();
  prepare_output_directory(dir);
  return dir;
}

// The book of --book (and its replacements), risk.json overridden from the command line.
inline book_inputs load_book_from(const cxxopts::ParseResult& args, const risk_overrides& overrides) {
  book_inputs in = load_book_at(book_location_from(args));
  apply_risk_overrides(overrides, in.risk);
  return in;
}

}  // namespace msync::cli
