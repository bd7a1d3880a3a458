// marginsync margin: the snapshot margin job on a book directory.
#include <unistd.h>

#include <cstdio>

#include <cxxopts.hpp>

#include "cli/commands.hpp"
#include "cli/parse_options.hpp"
#include "engine.hpp"
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
  options.add_options("Risk (override risk.json)")
      ("method", "full (revalue every position) or delta_gamma", cxxopts::value<std::string>())
      ("scenarios", "number of Monte Carlo scenarios", cxxopts::value<std::int64_t>())
      ("seed", "random seed of the scenarios", cxxopts::value<std::uint64_t>())
      ("confidence", "VaR / ES confidence, within (0, 1)", cxxopts::value<double>());
  options.add_options("Run")
      ("out", "directory for accounts.csv, exposures.csv and summary.json", cxxopts::value<std::string>())
      ("backend", "auto, cpu or cuda", cxxopts::value<std::string>()->default_value("auto"))
      ("threads", "CPU threads (0: all cores)", cxxopts::value<int>()->default_value("0"))
      ("device-memory", "most device memory the CUDA backend may use, in MiB (0: 90% of what is free); a book that does not fit is processed in chunks", cxxopts::value<std::int64_t>()->default_value("0"))
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

  if (args.count("method")) {
    const std::string m = args["method"].as<std::string>();
    if (m == "full") request.overrides.method = risk_method::full;
    else if (m == "delta_gamma") request.overrides.method = risk_method::delta_gamma;
    else {
      std::fprintf(stderr, "marginsync margin: --method must be full or delta_gamma, got '%s'\n", m.c_str());
      return exit_bad_input;
    }
  }
  if (args.count("scenarios")) request.overrides.scenarios = args["scenarios"].as<std::int64_t>();
  if (args.count("seed")) request.overrides.seed = args["seed"].as<std::uint64_t>();
  if (args.count("confidence")) request.overrides.confidence = args["confidence"].as<double>();
  if (args.count("scenario-file") && args.count("scenarios")) {
    std::fprintf(stderr, "marginsync margin: --scenarios and --scenario-file conflict: the file gives the scenarios\n");
    return exit_bad_input;
  }

  const std::string backend = args["backend"].as<std::string>();
  if (backend == "auto") request.backend = backend_choice::automatic;
  else if (backend == "cpu") request.backend = backend_choice::cpu;
  else if (backend == "cuda") request.backend = backend_choice::cuda;
  else {
    std::fprintf(stderr, "marginsync margin: --backend must be auto, cpu or cuda, got '%s'\n", backend.c_str());
    return exit_bad_input;
  }
  request.threads = args["threads"].as<int>();
  if (request.threads < 0) {
    std::fprintf(stderr, "marginsync margin: --threads must be >= 0\n");
    return exit_bad_input;
  }
  const std::int64_t device_mib = args["device-memory"].as<std::int64_t>();
  if (device_mib < 0) {
    std::fprintf(stderr, "marginsync margin: --device-memory must be >= 0\n");
    return exit_bad_input;
  }
  request.max_device_bytes = static_cast<std::size_t>(device_mib) << 20;
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
