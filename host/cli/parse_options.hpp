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

}  // namespace msync::cli
