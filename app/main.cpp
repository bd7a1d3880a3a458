// marginsync: GPU-accelerated batch risk engine. `marginsync COMMAND --help` for each command.
#include <cstdio>
#include <cstring>
#include <exception>
#include <new>
#include <string>

#include "commands.hpp"
#include "marginsync/errors.hpp"

namespace msync::cli {

int report_input_error(const input_error& error) {
  const auto& problems = error.problems();
  const std::size_t shown = problems.size() < 20 ? problems.size() : 20;
  for (std::size_t i = 0; i < shown; ++i) std::fprintf(stderr, "%s\n", problems[i].to_string().c_str());
  if (problems.size() > shown)
    std::fprintf(stderr, "... and %zu more problems (%zu in all)\n", problems.size() - shown, problems.size());
  return exit_bad_input;
}

}  // namespace msync::cli

namespace {
const char* usage =
    "marginsync " MSYNC_VERSION " - whole-book margin: mark-to-market, greeks, Monte Carlo VaR/ES,\n"
    "health and liquidation candidates for every account, on the GPU or the CPU.\n"
    "\n"
    "usage: marginsync COMMAND [OPTIONS]\n"
    "\n"
    "commands:\n"
    "  margin     compute margin for every account of a book (accounts.csv, exposures.csv, summary.json)\n"
    "  stream     follow an oracle tick stream, re-margin the book on every update, emit status changes\n"
    "  cascade    a price shock and the liquidation cascade it sets off (or a grid of shocks)\n"
    "  replay     what engine lag costs: one stream replayed with the engine every N ms\n"
    "  generate   write a synthetic book of a chosen size\n"
    "  convert    write a book directory as one binary snapshot (fast to load; --book FILE)\n"
    "  bench      time every stage on every available backend, against this machine's limits\n"
    "\n"
    "  marginsync COMMAND --help   options of a command\n"
    "  marginsync --version\n"
    "\n"
    "exit status: 0 success, 1 failure while running, 2 bad input or usage, 3 backend not available\n";
}  // namespace

int main(int argc, char** argv) {
  using namespace msync::cli;
  if (argc < 2) {
    std::fputs(usage, stderr);
    return exit_bad_input;
  }
  const std::string command = argv[1];
  if (command == "--help" || command == "-h" || command == "help") {
    std::fputs(usage, stdout);
    return exit_ok;
  }
  if (command == "--version") {
    std::printf("marginsync %s (%s)\n", MSYNC_VERSION,
#ifdef MSYNC_HAS_CUDA
                "CPU and CUDA backends"
#else
                "CPU backend only"
#endif
    );
    return exit_ok;
  }
  try {
    if (command == "margin") return run_margin_command(argc - 1, argv + 1);
    if (command == "generate") return run_generate_command(argc - 1, argv + 1);
    if (command == "convert") return run_convert_command(argc - 1, argv + 1);
    if (command == "bench") return run_bench_command(argc - 1, argv + 1);
    if (command == "stream") return run_stream_command(argc - 1, argv + 1);
    if (command == "cascade") return run_cascade_command(argc - 1, argv + 1);
    if (command == "replay") return run_replay_command(argc - 1, argv + 1);
  } catch (const msync::input_error& e) {
    return report_input_error(e);
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "marginsync: out of memory (a smaller --scenarios, or fewer --threads, needs less)\n");
    return exit_failure;
  } catch (const msync::backend_unavailable& e) {
    std::fprintf(stderr, "marginsync: %s\n", e.what());
    return exit_no_backend;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "marginsync: %s\n", e.what());
    return exit_failure;
  }
  std::fprintf(stderr, "marginsync: unknown command '%s'\n\n%s", command.c_str(), usage);
  return exit_bad_input;
}
