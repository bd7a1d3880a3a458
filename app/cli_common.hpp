#pragma once
// The conventions every subcommand shares (docs/design.md, "Command line"): one meaning per option
// name, the same book, risk and run options wherever they apply, usage errors as exit status 2.
#include <CLI/CLI.hpp>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "commands.hpp"
#include "io/load_inputs.hpp"
#include "io/output_files.hpp"
#include "io/tick_stream.hpp"
#include "margin/margin_job.hpp"
#include "marginsync/stopwatch.hpp"
#include "mpi/rank_group.hpp"
#include "progress.hpp"

namespace msync::cli {

// A usage error found after parsing (a combination of options, a renamed option): exit status 2,
// printed as "marginsync COMMAND: MESSAGE (see --help)".
class usage_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// What is known of the process before any command runs.
struct run_context {
  std::string command_line;     // argv, shell-quoted where needed
  std::string started;          // ISO 8601 UTC, ms
  std::string run_id;           // new_run_id(): in the marker of --out and in every provenance
  stopwatch clock;              // since the process started
  rank_group* ranks = nullptr;  // the job's ranks (join_ranks); one without mpirun

  // A provenance block for a run on `book`: method, seed, confidence, scenarios to be filled.
  run_provenance provenance(const std::string& book) const;
};

// Under mpirun (docs/design.md 16.3): runs `work` on this rank, then agrees with every rank on how
// it went. A rank whose work failed prints why (as main would, then `PROGRAM: rank R of K failed
// (exit status S)`) and throws rank_stopped with its status; every other rank then throws
// rank_stopped with the status agreed, silently.
void on_every_rank(rank_group& ranks, const std::string& program,
                   const std::function<void()>& work);

// Under mpirun, once the ranks exchange data (docs/design.md 16.3): runs `work`; a failure prints
// why, then `PROGRAM: rank R of K failed (exit status S)`, and ends the whole job with that status
// (MPI_Abort), since the other ranks may be waiting for this one's data.
void run_or_end_job(rank_group& ranks, const std::string& program,
                    const std::function<void()>& work);

// A subcommand: its parser (options bound to storage the run function owns) and what runs it.
struct command {
  CLI::App* app = nullptr;
  std::function<int()> run;
};

command margin_command(CLI::App& top, const run_context& context);
command stream_command(CLI::App& top, const run_context& context);
command serve_command(CLI::App& top, const run_context& context);
command cascade_command(CLI::App& top, const run_context& context);
command replay_command(CLI::App& top, const run_context& context);
command generate_command(CLI::App& top, const run_context& context);
command convert_command(CLI::App& top, const run_context& context);
command bench_command(CLI::App& top, const run_context& context);

// --book and the options that replace one of its files: --instruments-file, --accounts-file,
// --positions-file, --market-file, --risk-file, --marks-file. The old names (--accounts ...) are
// kept hidden so that using one is a usage error naming the new one. `depth`: --depth, where the
// command takes it (add_depth_option).
struct book_options {
  std::string book;
  std::string instruments_file, accounts_file, positions_file, market_file, risk_file, marks_file;
  std::string depth;
  struct renamed_option {
    CLI::Option* option;
    std::string old_name, new_name;
  };
  std::vector<renamed_option> renamed;
  std::string old_values[5];  // where the old names' values go
};
void add_book_options(CLI::App& app, book_options& o, const char* book_help = nullptr);
// --depth FILE (docs/design.md 2.9): Y and V of the square-root law per underlying, for the
// liquidity add-on and the cascade's impact.
void add_depth_option(CLI::App& app, book_options& o);
// Throws usage_error when an option's old name was used (called first by every run).
void reject_renamed_options(const book_options& o);
// The book's location.
book_location book_location_from(const book_options& o);

// --method, --scenarios, --seed, --confidence: the risk.json keys a run may override.
struct risk_options {
  std::string method;
  std::int64_t scenarios = 0;
  std::uint64_t seed = 0;
  double confidence = 0.0;
  CLI::Option *method_opt = nullptr, *scenarios_opt = nullptr, *seed_opt = nullptr,
              *confidence_opt = nullptr;
};
void add_risk_options(CLI::App& app, risk_options& o);
risk_overrides risk_overrides_from(const risk_options& o);

// --backend, -q/--quiet, -v/--verbose on every command; --threads and --device-memory where a
// backend computes; --out DIR and --force where a command writes a directory.
struct run_options {
  std::string backend = "auto";
  int threads = 0;
  std::int64_t device_memory_mib = 0;
  bool quiet = false, verbose = false, force = false;
  std::string out;
  CLI::Option* out_opt = nullptr;

  bool has_out() const { return out_opt && out_opt->count() > 0; }
  backend_choice choice() const;
  std::size_t max_device_bytes() const { return static_cast<std::size_t>(device_memory_mib) << 20; }
};
enum class backend_use { computes, accepted_only, bench };
void add_backend_option(CLI::App& app, run_options& o, backend_use use);
// Most CPU threads --threads takes. Each thread holds its own buffers (about 9 bytes per scenario
// in scenario risk, plus its stack), so a count far beyond any machine's cores only costs memory.
constexpr int max_threads = 1024;
// Most --device-memory, in MiB (16 TiB; far beyond any device, and its bytes fit in 64 bits).
constexpr std::int64_t max_device_memory_mib = std::int64_t{1} << 24;
// --threads N in [0, max_threads] (0: all cores), in `group`.
CLI::Option* add_thread_count_option(CLI::App& app, int& threads, const std::string& group);
void add_threads_options(CLI::App& app, run_options& o);
void add_verbosity_options(CLI::App& app, run_options& o);
void add_out_directory_option(CLI::App& app, run_options& o, const std::string& help);

// --max-tick-jump SECONDS (stream, replay) and --tick-jump-confirmations N (stream): how far an
// event's time may be from stream time (tick_time_bound, docs/design.md 8.1).
struct tick_time_options {
  std::int64_t max_jump_seconds = tick_time_bound{}.max_jump_ns / 1000000000LL;
  int confirmations = tick_time_bound{}.confirmations;
  tick_time_bound bound() const {
    return tick_time_bound{max_jump_seconds * 1000000000LL, confirmations};
  }
};
void add_tick_time_options(CLI::App& app, tick_time_options& o, bool confirmations);

// Throws usage_error when `path`, the value of `option`, names a directory where a file is to be
// written: said before any work is done, as a usage error (exit 2), not as a failed write (exit 1).
void reject_directory_for_file(const std::string& option, const std::string& path);

// An input of a run, as an option names it: {"--book", "data/sample"}.
struct named_input {
  std::string option;
  std::string path;  // empty or "-" (standard input): nothing to compare
};
// The book's inputs: --book, the --*-file options and --depth given.
std::vector<named_input> book_inputs_named(const book_options& b);

// Throws usage_error (exit 2) when the output `out` (as option `out_option` names it) is an
// input, lies inside one (a book directory) or holds one, comparing canonical paths (symlinks
// resolved), so that no run writes over what it reads (docs/design.md 7.10).
void refuse_output_over_inputs(const std::string& out_option, const std::string& out,
                               const std::vector<named_input>& inputs);

// The --out directory claimed for `command` (see output_directory), or none without --out;
// refused first when it is, lies in or holds one of `inputs`.
std::optional<output_directory> claim_output_directory(const run_options& o,
                                                       const std::string& command,
                                                       const run_context& context,
                                                       const std::vector<named_input>& inputs);

// The footer of a command's help: an example, the units of what it writes, exit statuses.
std::string help_footer(const std::string& example, const std::string& notes = "");
extern const char* const
    units_note;  // theta per year, vega per 1.00 of vol, money in quote currency
extern const char* const exit_note;

// Fills the provenance's method, seed, confidence and scenarios from the risk parameters used.
void describe_risk(run_provenance& p, const risk_params& risk);

// The book of --book (and its replacements), risk.json overridden from the command line.
book_inputs load_book_from(const book_options& b, const risk_options& r);

// A line on stderr unless quiet, the progress bar erased first.
void note(const run_options& o, progress_reporter* progress, const std::string& line);

// Under mpirun: note() for a rank's lines. Rank 0's go out as they are; another rank's only with
// -v, as `rank R: LINE`.
std::function<void(const std::string&)> rank_note(const rank_group& ranks, const run_options& o,
                                                  progress_reporter* progress);

}  // namespace msync::cli
