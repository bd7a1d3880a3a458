#pragma once
// The command-line handling every subcommand shares: parse, answer --help, reject stray
// arguments and missing required options, all as usage errors (exit status 2).
#include <cstdio>
#include <initializer_list>
#include <iostream>
#include <optional>
#include <string>

#include <cxxopts.hpp>

#include "cli/commands.hpp"
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

}  // namespace msync::cli
