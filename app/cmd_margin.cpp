// marginsync margin: the snapshot margin job on a book. Options -> margin_request -> run_margin ->
// accounts.csv, exposures.csv, summary.json.
#include <cstdio>

#include "cli_common.hpp"
#include "margin/margin_job.hpp"
#include "margin/margin_outputs.hpp"
#include "marginsync/errors.hpp"
#include "mpi/margin_ranks.hpp"

namespace msync::cli {

namespace {

struct margin_options {
  book_options book;
  std::string scenario_file;
  CLI::Option* scenario_file_opt = nullptr;
  risk_options risk;
  run_options run;
};

std::vector<named_input> margin_inputs(const margin_options& o) {
  std::vector<named_input> in = book_inputs_named(o.book);
  in.push_back({"--scenario-file", o.scenario_file});
  return in;
}

// The end of a run: stage times (-v), the outputs, the summary on stdout, and the exit status.
int finish_margin(const margin_options& o, const run_context& context,
                  const margin_request& request, const margin_run& run,
                  std::optional<output_directory>& out, int ranks) {
  if (o.run.verbose)
    for (const stage_time& stage : run.stages) {
      char line[160];
      std::snprintf(line, sizeof line, "stage %-20s %10.3f s", stage.name.c_str(), stage.seconds);
      note(o.run, nullptr, line);
    }
  if (out) {
    run_provenance provenance = context.provenance(o.book.book);
    provenance.ranks = ranks;
    write_margin_outputs(run, request, *out, provenance);
    out->finish();
  }
  if (!o.run.quiet) {
    std::fputs(format_margin_summary(run).c_str(), stdout);
    if (out) std::printf("results in %s\n", o.run.out.c_str());
  }
  // Outputs are written first, so the accounts in error can be looked at; the run still fails.
  if (const std::string error = error_accounts_message(run); !error.empty()) {
    std::fprintf(stderr, "marginsync margin: %s\n", error.c_str());
    return exit_failure;
  }
  return exit_ok;
}

margin_request request_of(const margin_options& o) {
  margin_request request;
  request.book = book_location_from(o.book);
  if (o.scenario_file_opt->count()) {
    if (o.risk.scenarios_opt->count())
      throw usage_error("--scenarios and --scenario-file conflict: the file gives the scenarios");
    request.scenario_file = o.scenario_file;
  }
  request.overrides = risk_overrides_from(o.risk);
  request.backend = o.run.choice();
  request.threads = o.run.threads;
  request.max_device_bytes = o.run.max_device_bytes();
  return request;
}

// mpirun -np K marginsync margin ... (docs/design.md 16): every rank runs its part; rank 0 claims
// --out first, then writes the outputs and prints the summary. A stage that fails on any rank
// stops every rank there, the failing one printing why.
int run_margin_on_ranks_command(const margin_options& o, const run_context& context,
                                rank_group& ranks) {
  const bool lead = ranks.rank() == 0;
  margin_request request = request_of(o);
  progress_reporter progress(lead && !o.run.quiet);
  request.progress = progress.callback();
  const rank_stage stage = [&](const std::function<void()>& work) {
    on_every_rank(ranks, "marginsync margin", work);
  };
  std::optional<output_directory> out;
  stage([&] {
    if (lead) out = claim_output_directory(o.run, "margin", context, margin_inputs(o));
  });
  const auto log = rank_note(ranks, o.run, &progress);
  const margin_run run = run_margin_on_ranks(request, ranks, stage, log);
  progress.done();
  if (o.run.verbose) {
    char line[160];
    std::snprintf(line, sizeof line, "rank %d: sent %llu bytes", ranks.rank(),
                  static_cast<unsigned long long>(ranks.bytes_sent()));
    note(o.run, nullptr, line);
  }
  if (!lead) return exit_ok;
  return finish_margin(o, context, request, run, out, ranks.size());
}

int run_margin_command(const margin_options& o, const run_context& context) {
  if (context.ranks && context.ranks->size() > 1)
    return run_margin_on_ranks_command(o, context, *context.ranks);
  margin_request request = request_of(o);
  progress_reporter progress(!o.run.quiet);
  request.progress = progress.callback();

  // Claimed before any computation, so that a bad --out fails first.
  std::optional<output_directory> out =
      claim_output_directory(o.run, "margin", context, margin_inputs(o));
  const margin_run run =
      run_margin(request, [&](const std::string& line) { note(o.run, &progress, line); });
  progress.done();
  return finish_margin(o, context, request, run, out, 1);
}

}  // namespace

command margin_command(CLI::App& top, const run_context& context) {
  auto o = std::make_shared<margin_options>();
  CLI::App* app = top.add_subcommand(
      "margin",
      "Margin for every account of a book: equity, greeks per underlying, VaR and ES, initial and "
      "maintenance margin, health, status and breach probability.");
  add_book_options(*app, o->book);
  add_depth_option(*app, o->book);
  o->scenario_file_opt =
      app->add_option("--scenario-file", o->scenario_file,
                      "use the given scenarios (CSV: "
                      "scenario_id,underlying,spot_return[,vol_change]) instead of "
                      "Monte Carlo")
          ->type_name("FILE")
          ->group("Inputs");
  add_risk_options(*app, o->risk);
  add_backend_option(*app, o->run, backend_use::computes);
  add_threads_options(*app, o->run);
  add_verbosity_options(*app, o->run);
  add_out_directory_option(*app, o->run,
                           "directory for accounts.csv, exposures.csv and summary.json");
  app->footer(help_footer(
      "marginsync margin --book data/sample --method delta_gamma --out results/margin",
      std::string("outputs: accounts.csv (one row per account), exposures.csv (greeks per account "
                  "and underlying), summary.json.\n") +
          units_note));
  return {app, [o, &context] {
            reject_renamed_options(o->book);
            return run_margin_command(*o, context);
          }};
}

}  // namespace msync::cli
