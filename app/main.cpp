// marginsync: GPU-accelerated batch risk engine. `marginsync COMMAND --help` for each command.
// One parser (CLI11) for every subcommand; each command's options, run and outputs are in its
// cmd_*.cpp; the conventions they share in cli_common.
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <iostream>
#include <new>
#include <string>
#include <vector>

#include "cli_common.hpp"
#include "commands.hpp"
#include "io/signal_cleanup.hpp"
#include "marginsync/backend_registry.hpp"
#include "marginsync/errors.hpp"
#include "mpi/rank_group.hpp"

namespace msync::cli {

int report_current_exception(const std::string& program) {
  try {
    throw;
  } catch (const usage_error& e) {
    std::fprintf(stderr, "%s: %s (see --help)\n", program.c_str(), e.what());
    return exit_bad_input;
  } catch (const msync::output_directory_refused& e) {
    std::fprintf(stderr, "%s: %s (see --help)\n", program.c_str(), e.what());
    return exit_bad_input;
  } catch (const msync::input_error& e) {
    return report_input_error(e);
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr,
                 "%s: out of memory (a smaller --scenarios, or fewer --threads, needs less)\n",
                 program.c_str());
    return exit_failure;
  } catch (const msync::backend_unavailable& e) {
    std::fprintf(stderr, "%s: %s\n", program.c_str(), e.what());
    return exit_no_backend;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: %s\n", program.c_str(), e.what());
    return exit_failure;
  }
}

int report_input_error(const input_error& error) {
  const auto& problems = error.problems();
  const std::size_t shown = problems.size() < 20 ? problems.size() : 20;
  for (std::size_t i = 0; i < shown; ++i)
    std::fprintf(stderr, "%s\n", problems[i].to_string().c_str());
  if (problems.size() > shown)
    std::fprintf(stderr, "... and %zu more problems (%zu in all)\n", problems.size() - shown,
                 problems.size());
  return exit_bad_input;
}

}  // namespace msync::cli

namespace {

const char* const description =
    "marginsync " MSYNC_VERSION
    " - whole-book margin: mark-to-market, greeks, Monte Carlo VaR/ES,\n"
    "health and liquidation candidates for every account, on the GPU or the CPU.";

const char* const footer =
    "\n"
    "commands:\n"
    "  margin     compute margin for every account of a book (accounts.csv, exposures.csv, "
    "summary.json)\n"
    "  stream     follow an oracle tick stream, re-margin the book on every update, emit status "
    "changes\n"
    "  cascade    a price shock and the liquidation cascade it sets off (or a grid of shocks)\n"
    "  replay     what engine lag costs: one stream replayed with the engine every N ms\n"
    "  generate   write a synthetic book of a chosen size\n"
    "  convert    write a book directory as one binary snapshot (fast to load; --book FILE)\n"
    "  bench      time every stage on every available backend, against this machine's limits\n"
    "\n"
    "  marginsync COMMAND --help   options of a command, their defaults and an example\n"
    "  marginsync --version\n"
    "\n"
    "Every command accepts --backend auto|cpu|cuda, -q/--quiet and -v/--verbose; a command that\n"
    "writes a directory (--out DIR) refuses one that holds another command's results unless "
    "--force.\n"
    "exit status: 0 success, 1 failure while running, 2 bad input or usage, 3 requested backend "
    "not available\n";

// "marginsync margin" for a usage error inside a subcommand, "marginsync" otherwise.
std::string program_of(const CLI::App& top) {
  for (const CLI::App* sub : top.get_subcommands()) return "marginsync " + sub->get_name();
  return "marginsync";
}

int usage(const std::string& program, const std::string& message) {
  std::fprintf(stderr, "%s: %s (see --help)\n", program.c_str(), message.c_str());
  return msync::cli::exit_bad_input;
}

}  // namespace

// A server's OpenMP threads must sleep between updates, not spin: spinning workers take the cores
// its request threads need (and the other way round, a risk run stalled 5 to 8 times over in
// bench/bench_serve.cpp's runs). libgomp reads OMP_WAIT_POLICY once, when it is loaded, before
// main: so `serve` started without it sets it and executes itself again (docs/design.md 8.12).
static void serve_with_passive_openmp(int argc, char** argv) {
  if (argc < 2 || std::strcmp(argv[1], "serve") != 0 || std::getenv("OMP_WAIT_POLICY")) return;
  ::setenv("OMP_WAIT_POLICY", "passive", 0);
  ::execv("/proc/self/exe", argv);  // returns only on failure: then run on as started
}

int main(int argc, char** argv) {
  using namespace msync::cli;
  serve_with_passive_openmp(argc, argv);
  // Under mpirun, the job's ranks (MPI's world); otherwise this process alone, MPI never started
  // (docs/design.md 16). Ended (MPI finalised) when main returns.
  const std::unique_ptr<msync::rank_group> ranks = msync::join_ranks(argc, argv);
  run_context context;
  context.ranks = ranks.get();
  context.started = msync::iso8601_utc_now();
  context.command_line = msync::shell_quoted_command_line(argc, argv);
  context.run_id = msync::new_run_id();
  // SIGINT, SIGTERM, SIGHUP: the temporaries of outputs being written are removed, then the
  // process ends by the signal (docs/design.md 5.1); `stream` replaces this with its graceful stop.
  msync::install_signal_cleanup();

  CLI::App top(description, "marginsync");
  top.footer(footer);
  top.set_help_flag("-h,--help", "this help");
  bool version = false;
  top.add_flag("--version", version, "the version, and the backends this build has");
  top.require_subcommand(0, 1);
  std::vector<command> commands = {margin_command(top, context),  stream_command(top, context),
                                   serve_command(top, context),   cascade_command(top, context),
                                   replay_command(top, context),  generate_command(top, context),
                                   convert_command(top, context), bench_command(top, context)};
  for (const command& c : commands) c.app->group("");  // listed, one line each, in the footer

  if (argc < 2) {
    std::fputs(top.help().c_str(), stderr);
    return exit_bad_input;
  }
  const std::string first = argv[1];
  if (first == "help") {
    std::fputs(top.help().c_str(), stdout);
    return exit_ok;
  }
  if (!first.empty() && first[0] != '-') {
    bool known = false;
    for (const command& c : commands) known = known || c.app->get_name() == first;
    if (!known) return usage("marginsync", "unknown command '" + first + "'");
  }
  try {
    top.parse(argc, argv);
  } catch (const CLI::Success& e) {  // --help
    return top.exit(e, std::cout, std::cerr);
  } catch (const CLI::ParseError& e) {
    return usage(program_of(top), e.what());
  }

  if (version) {
    std::printf("marginsync %s (%s)\n", MSYNC_VERSION,
                msync::built_backends().size() > 1 ? "CPU and CUDA backends" : "CPU backend only");
    return exit_ok;
  }
  const command* chosen = nullptr;
  for (const command& c : commands)
    if (c.app->parsed()) chosen = &c;
  if (!chosen) return usage("marginsync", "no command given");
  const std::string program = "marginsync " + chosen->app->get_name();
  // Only margin, cascade and bench's stage timings split their work between ranks; any other
  // command would run K times over the same outputs (bench refuses its other modes itself).
  const std::string name = chosen->app->get_name();
  if (ranks->size() > 1 && name != "margin" && name != "cascade" && name != "bench")
    return ranks->rank() == 0 ? usage(program,
                                      "runs in one process: under mpirun, only margin, cascade "
                                      "and bench run across ranks")
                              : exit_bad_input;
  try {
    const int status = chosen->run();
    // What went to standard output must have got there (a redirect onto a full disk); a reader
    // that went away (EPIPE) is not a failure of the run.
    errno = 0;
    if (status == exit_ok && (std::fflush(stdout) != 0 || std::ferror(stdout)) && errno != EPIPE) {
      std::fprintf(stderr, "%s: cannot write standard output: %s\n", program.c_str(),
                   std::strerror(errno ? errno : EIO));
      return exit_failure;
    }
    return status;
  } catch (const msync::rank_stopped& e) {
    return e.status();  // another rank failed and said why
  } catch (...) {
    return report_current_exception(program);
  }
}
