#pragma once
// The margin job as a data flow: load and validate -> make the book resident on a backend ->
// revalue -> scenario risk -> results. The CLI and the tests drive it through run_margin.
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "io/load_inputs.hpp"
#include "io/output_files.hpp"
#include "marginsync/backend_registry.hpp"
#include "marginsync/stopwatch.hpp"

namespace msync {

// Command-line values that override risk.json.
struct risk_overrides {
  std::optional<risk_method> method;
  std::optional<std::int64_t> scenarios;
  std::optional<std::uint64_t> seed;
  std::optional<double> confidence;
};

// Applies the overrides to risk.json's parameters; throws input_error naming the option when an
// overridden value is invalid, or --scenarios asks too many for the market's `underlyings`
// (max_scenario_cells).
void apply_risk_overrides(const risk_overrides& overrides, std::size_t underlyings,
                          risk_params& risk);

struct margin_request {
  book_location book;
  std::optional<std::filesystem::path> scenario_file;
  risk_overrides overrides;
  backend_choice backend = backend_choice::automatic;
  int threads = 0;                   // 0: all cores
  std::size_t max_device_bytes = 0;  // CUDA: device memory cap (0: 90% of free)
  progress_callback progress;        // optional, for long stages
};

struct margin_run {
  book_inputs inputs;
  std::optional<scenario_file_data> scenarios;
  std::string backend_name;
  std::string device;
  // The backend that computed the run: `reval` and `risk` are what it holds (held_revaluation,
  // held_risk), read where they lie instead of copied, so the run holds its results once. Kept
  // for them only, and not called again (it borrowed `inputs.positions` where the run was built).
  std::unique_ptr<backend> engine;
  const revaluation* reval = nullptr;
  const risk_result* risk = nullptr;
  // A run across ranks (host/mpi/margin_ranks.hpp): on rank 0, every rank's risk results and the
  // book's bad debt put together, which `risk` then points to.
  risk_result gathered_risk;
  std::vector<stage_time> stages;
};

// Throws input_error (bad input, before any computation) or backend_unavailable. `log` receives
// one line per event worth telling a person (backend choice, stage starts) for stderr.
margin_run run_margin(const margin_request& request,
                      const std::function<void(const std::string&)>& log);

// Times `work` as the stage `name` of `stages`, and returns what it returns.
template <class F>
auto timed_stage(std::vector<stage_time>& stages, const char* name, F&& work) {
  const stopwatch watch;
  auto result = work();
  stages.push_back(stage_time{name, watch.seconds()});
  return result;
}

// accounts.csv of docs/design.md section 4: one row per account, in input order.
std::string accounts_csv(const book& b, const revaluation& reval, const risk_result& risk);

// Book totals of a run, summed in account order so they are the same every run. Accounts in
// `error` are counted, and left out of the sums (their numbers are not finite).
struct margin_totals {
  std::int64_t ok = 0, margin_call = 0, liquidate = 0, error = 0, preemptive = 0;
  double equity = 0.0, initial_margin = 0.0, maintenance_margin = 0.0;
};
margin_totals book_totals(const margin_run& run);

// The message for a run with accounts in `error` (docs/design.md 5.1): how many, and the first few
// ids. Empty when there are none.
std::string error_accounts_message(const margin_run& run);

// The short human summary printed after a run.
std::string format_margin_summary(const margin_run& run);

}  // namespace msync
