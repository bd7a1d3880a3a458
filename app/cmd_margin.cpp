// marginsync margin: the snapshot margin job on a book directory.
#include <unistd.h>

#include <cstdio>

#include <cxxopts.hpp>

#include "commands.hpp"
#include "parse_options.hpp"
#include "margin/margin_job.hpp"
#include "marginsync/errors.hpp"

namespace msync::cli {

int run_margin_command(int argc, char** argv) {
  cxxopts::Options options("marginsync margin",
                           "Margin for every account of a book: equity, greeks per underlying, VaR and "
                           "ES, initial and maintenance margin, health, status and breach probability.");
  options.custom_help("--book DIR [OPTIONS]");
  add_book_options(options);
  options.add_options("Inputs")
      ("scenario-file", "use the given scenarios (CSV: scenario_id,underlying,spot_return[,vol_change]) instead of Monte Carlo", cxxopts::value<std::string>());
  add_risk_override_options(options);
  add_backend_options(options);
  options.add_options("Run")
      ("out", "directory for accounts.csv, exposures.csv and summary.json", cxxopts::value<std::string>())
      ("q,quiet", "print nothing but errors")
      ("h,help", "this help");

  int status = exit_ok;
  const auto parsed = parse_options(
      options, argc, argv, {"book"},
      "\nexit status: 0 success, 1 failure while running, 2 bad input or usage, 3 backend not "
      "available\n",
      status);
  if (!parsed) return status;
  const cxxopts::ParseResult& args = *parsed;

  margin_request request;
  request.book = book_location_from(args);
  if (args.count("scenario-file")) request.scenario_file = args["scenario-file"].as<std::string>();

  const std::optional<risk_overrides> overrides = risk_overrides_from(args, "marginsync margin");
  if (!overrides) return exit_bad_input;
  request.overrides = *overrides;
  if (args.count("scenario-file") && args.count("scenarios")) {
    std::fprintf(stderr, "marginsync margin: --scenarios and --scenario-file conflict: the file gives the scenarios\n");
    return exit_bad_input;
  }

  const std::optional<backend_settings> where = backend_settings_from(args, "marginsync margin");
  if (!where) return exit_bad_input;
  request.backend = where->choice;
  request.threads = where->threads;
  request.max_device_bytes = where->max_device_bytes;
  const bool quiet = args.count("quiet") > 0;
  // A percentage on a terminal only: logs and pipes get the stage lines alone.
  if (!quiet && ::isatty(STDERR_FILENO)) {
    request.progress = [last = -1](const char* stage, double fraction) mutable {
      const int percent = static_cast<int>(fraction * 100.0);
      if (percent == last) return;
      last = percent;
      std::fprintf(stderr, "\r%s %3d%%%s", stage, percent, percent >= 100 ? "\r\033[K" : "");
      std::fflush(stderr);
    };
  }

  if (args.count("out")) prepare_output_directory(args["out"].as<std::string>());
  const margin_run run = run_margin(request, [quiet](const std::string& line) {
    if (!quiet) std::fprintf(stderr, "%s\n", line.c_str());
  });
  if (args.count("out")) write_margin_outputs(run, request, args["out"].as<std::string>());
  if (!quiet) {
    std::fputs(format_margin_summary(run).c_str(), stdout);
    if (args.count("out")) std::printf("results in %s\n", args["out"].as<std::string>().c_str());
  }
  return exit_ok;
}

}  // namespace msync::cli
