#include "cli_common.hpp"

#include <cstdio>

namespace msync::cli {

const char* const units_note =
    "units: money (equity, margins, VaR, ES, notional, penalties, bad debt) in the quote "
    "currency;\n"
    "delta = dV/dS and gamma = d2V/dS2 with S in the quote currency; vega per 1.00 of volatility\n"
    "(100 vol points); theta per year of calendar time.\n";
const char* const exit_note =
    "exit status: 0 success, 1 failure while running, 2 bad input or usage, 3 requested backend "
    "not available\n";

void on_every_rank(rank_group& ranks, const std::string& program,
                   const std::function<void()>& work) {
  int status = exit_ok;
  try {
    work();
  } catch (...) {
    status = report_current_exception(program);
    std::fprintf(stderr, "%s: rank %d of %d failed (exit status %d)\n", program.c_str(),
                 ranks.rank(), ranks.size(), status);
  }
  const int agreed = ranks.agree(status);
  if (agreed != exit_ok) throw rank_stopped(status != exit_ok ? status : agreed);
}

void run_or_end_job(rank_group& ranks, const std::string& program,
                    const std::function<void()>& work) {
  try {
    work();
  } catch (...) {
    const int status = report_current_exception(program);
    std::fprintf(stderr, "%s: rank %d of %d failed (exit status %d)\n", program.c_str(),
                 ranks.rank(), ranks.size(), status);
    std::fflush(stderr);
    ranks.abort_job(status);
  }
}

run_provenance run_context::provenance(const std::string& book) const {
  run_provenance p;
  p.command_line = command_line;
  p.book = book;
  p.started = started;
  p.run_id = run_id;
  p.clock = clock;
  return p;
}

void add_book_options(CLI::App& app, book_options& o, const char* book_help) {
  app.add_option("--book", o.book,
                 book_help
                     ? book_help
                     : "book directory (instruments.csv, accounts.csv, positions.csv, market.json, "
                       "risk.json, and optionally marks.csv) or snapshot file (marginsync "
                       "convert)")
      ->required()
      ->type_name("DIR|FILE")
      ->group("Inputs");
  const char* names[][2] = {{"instruments", "instruments"},
                            {"accounts", "accounts"},
                            {"positions", "positions"},
                            {"market", "market"},
                            {"risk", "risk configuration"}};
  std::string* targets[] = {&o.instruments_file, &o.accounts_file, &o.positions_file,
                            &o.market_file, &o.risk_file};
  for (std::size_t i = 0; i < 5; ++i) {
    const std::string name = names[i][0];
    app.add_option("--" + name + "-file", *targets[i],
                   std::string(names[i][1]) + " file (replaces the book's)")
        ->type_name("FILE")
        ->group("Inputs");
    // The name this option had before 0.2: a usage error that names the new one. Hidden.
    CLI::Option* old = app.add_option("--" + name, o.old_values[i], "")->group("");
    o.renamed.push_back({old, "--" + name, "--" + name + "-file"});
  }
  app.add_option("--marks-file", o.marks_file,
                 "the venue's marks (replaces the book's marks.csv, or a snapshot's copy): CSV "
                 "instrument_id,mark_price (futures),mark_iv (options),settlement_price (futures "
                 "and options); an empty cell gives nothing")
      ->type_name("FILE")
      ->group("Inputs");
}

void add_depth_option(CLI::App& app, book_options& o) {
  app.add_option("--depth", o.depth,
                 "market depth per underlying, for the liquidity add-on and the cascade's price "
                 "impact: CSV underlying,daily_volume[,impact_coefficient] (underlyings not "
                 "listed: risk.json's daily_volume and impact_coefficient)")
      ->type_name("FILE")
      ->group("Inputs");
}

void reject_renamed_options(const book_options& o) {
  for (const book_options::renamed_option& r : o.renamed)
    if (r.option->count() > 0)
      throw usage_error(r.old_name + " is now " + r.new_name + " (a file replacing the book's)");
}

book_location book_location_from(const book_options& o) {
  reject_renamed_options(o);
  book_location where;
  where.book = o.book;
  auto take = [](const std::string& value, std::optional<std::filesystem::path>& into) {
    if (!value.empty()) into = value;
  };
  take(o.instruments_file, where.instruments);
  take(o.accounts_file, where.accounts);
  take(o.positions_file, where.positions);
  take(o.market_file, where.market);
  take(o.risk_file, where.risk);
  take(o.marks_file, where.marks);
  take(o.depth, where.depth);
  return where;
}

void add_risk_options(CLI::App& app, risk_options& o) {
  const char* group = "Risk (override risk.json; default: the book's)";
  o.method_opt =
      app.add_option("--method", o.method, "full (revalue every position) or delta_gamma")
          ->check(CLI::IsMember({"full", "delta_gamma"}).description(""))
          ->type_name("full|delta_gamma")
          ->group(group);
  o.scenarios_opt = app.add_option("--scenarios", o.scenarios, "number of Monte Carlo scenarios")
                        ->type_name("N")
                        ->group(group);
  o.seed_opt = app.add_option("--seed", o.seed, "random seed of the scenarios")
                   ->type_name("N")
                   ->group(group);
  o.confidence_opt =
      app.add_option("--confidence", o.confidence, "VaR / ES confidence, within (0, 1)")
          ->type_name("X")
          ->group(group);
}

risk_overrides risk_overrides_from(const risk_options& o) {
  risk_overrides r;
  if (o.method_opt->count())
    r.method = o.method == "full" ? risk_method::full : risk_method::delta_gamma;
  if (o.scenarios_opt->count()) r.scenarios = o.scenarios;
  if (o.seed_opt->count()) r.seed = o.seed;
  if (o.confidence_opt->count()) r.confidence = o.confidence;
  return r;
}

backend_choice run_options::choice() const {
  if (backend == "cpu") return backend_choice::cpu;
  if (backend == "cuda") return backend_choice::cuda;
  return backend_choice::automatic;
}

void add_backend_option(CLI::App& app, run_options& o, backend_use use) {
  CLI::Option* opt = nullptr;
  if (use == backend_use::bench) {
    o.backend = "all";
    opt = app.add_option(
                 "--backend", o.backend,
                 "all (every available backend), auto (the one `margin` would use), cpu or cuda")
              ->check(CLI::IsMember({"all", "auto", "cpu", "cuda"}).description(""))
              ->type_name("all|auto|cpu|cuda");
  } else {
    opt = app.add_option("--backend", o.backend,
                         use == backend_use::computes
                             ? "where the book is made resident: auto (CUDA when a device is "
                               "usable, else CPU), cpu or cuda"
                             : "accepted and checked like every command's; this command computes "
                               "nothing on a backend")
              ->check(CLI::IsMember({"auto", "cpu", "cuda"}).description(""))
              ->type_name("auto|cpu|cuda");
  }
  opt->capture_default_str()->group("Run");
}

CLI::Option* add_thread_count_option(CLI::App& app, int& threads, const std::string& group) {
  return app
      .add_option("--threads", threads,
                  "CPU threads (0: all cores; at most " + std::to_string(max_threads) + ")")
      ->check(CLI::Range(0, max_threads).description(""))
      ->capture_default_str()
      ->type_name("N")
      ->group(group);
}

void add_threads_options(CLI::App& app, run_options& o) {
  add_thread_count_option(app, o.threads, "Run");
  app.add_option("--device-memory", o.device_memory_mib,
                 "most device memory the CUDA backend may use, in MiB (0: 90% of what is free); a "
                 "book that "
                 "does not fit is processed in chunks")
      ->check(CLI::Range(std::int64_t{0}, max_device_memory_mib).description(""))
      ->capture_default_str()
      ->type_name("MIB")
      ->group("Run");
}

void add_tick_time_options(CLI::App& app, tick_time_options& o, bool confirmations) {
  // Whole seconds up to 1e9 (31 years): stream time is kept in nanoseconds within 64 bits.
  app.add_option("--max-tick-jump", o.max_jump_seconds,
                 "reject an event stamped more than this from stream time (before the first "
                 "update: the book's as_of), in seconds")
      ->check(CLI::Range(std::int64_t{1}, std::int64_t{1000000000}))
      ->capture_default_str()
      ->type_name("SECONDS")
      ->group("Inputs");
  if (!confirmations) return;
  app.add_option("--tick-jump-confirmations", o.confirmations,
                 "accept a forward jump beyond --max-tick-jump once this many consecutive events "
                 "at distinct times confirm it (a feed back from an outage); 0: never")
      ->check(CLI::Range(0, 1000000))
      ->capture_default_str()
      ->type_name("N")
      ->group("Inputs");
}

void add_verbosity_options(CLI::App& app, run_options& o) {
  CLI::Option* q =
      app.add_flag("-q,--quiet", o.quiet, "print nothing but errors (no summary, no progress)")
          ->group("Run");
  CLI::Option* v = app.add_flag("-v,--verbose", o.verbose,
                                "more detail on stderr: stage timings, the backend's residency")
                       ->group("Run");
  q->excludes(v);
}

void add_out_directory_option(CLI::App& app, run_options& o, const std::string& help) {
  o.out_opt = app.add_option("--out", o.out, help)->type_name("DIR")->group("Outputs");
  app.add_flag(
         "--force", o.force,
         "write into a --out directory that holds another command's results (its files are removed "
         "first); files marginsync did not write are never removed")
      ->group("Outputs");
}

void reject_directory_for_file(const std::string& option, const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec))
    throw usage_error(option + ": '" + path + "' is a directory, expected a file");
}

std::vector<named_input> book_inputs_named(const book_options& b) {
  return {{"--book", b.book},
          {"--instruments-file", b.instruments_file},
          {"--accounts-file", b.accounts_file},
          {"--positions-file", b.positions_file},
          {"--market-file", b.market_file},
          {"--risk-file", b.risk_file},
          {"--marks-file", b.marks_file},
          {"--depth", b.depth}};
}

namespace {

// `inner` is `outer` or lies under it, both canonical.
bool within(const std::filesystem::path& inner, const std::filesystem::path& outer) {
  auto i = inner.begin();
  for (auto o = outer.begin(); o != outer.end(); ++o, ++i)
    if (o->empty() && std::next(o) == outer.end())
      break;  // a trailing separator
    else if (i == inner.end() || *i != *o)
      return false;
  return true;
}

std::filesystem::path canonical_form(const std::string& p) {
  std::error_code ec;
  std::filesystem::path c = std::filesystem::weakly_canonical(std::filesystem::absolute(p, ec), ec);
  return ec ? std::filesystem::absolute(p).lexically_normal() : c;
}

}  // namespace

void refuse_output_over_inputs(const std::string& out_option, const std::string& out,
                               const std::vector<named_input>& inputs) {
  if (out.empty()) return;
  const std::filesystem::path o = canonical_form(out);
  for (const named_input& in : inputs) {
    if (in.path.empty() || in.path == "-") continue;
    const std::filesystem::path i = canonical_form(in.path);
    const char* how = o == i         ? "is"
                      : within(o, i) ? "lies inside"
                      : within(i, o) ? "holds"
                                     : nullptr;
    if (how)
      throw usage_error(out_option + " " + out + " " + how + " the input " + in.option + " " +
                        in.path + "; an output never goes over an input: choose another " +
                        out_option);
  }
}

std::optional<output_directory> claim_output_directory(const run_options& o,
                                                       const std::string& command,
                                                       const run_context& context,
                                                       const std::vector<named_input>& inputs) {
  if (!o.has_out()) return std::nullopt;
  refuse_output_over_inputs("--out", o.out, inputs);
  return output_directory(o.out, command, context.started, context.run_id, o.force);
}

std::string help_footer(const std::string& example, const std::string& notes) {
  std::string s = "\nexample:\n  " + example + "\n";
  if (!notes.empty()) s += "\n" + notes;
  s += "\n";
  s += exit_note;
  return s;
}

void describe_risk(run_provenance& p, const risk_params& risk) {
  p.method = method_name(risk.method);
  p.seed = risk.seed;
  p.confidence = risk.confidence;
  p.scenarios = risk.scenarios;
}

book_inputs load_book_from(const book_options& b, const risk_options& r) {
  book_inputs in = load_book_at(book_location_from(b));
  apply_risk_overrides(risk_overrides_from(r), in.market.size(), in.risk);
  return in;
}

void note(const run_options& o, progress_reporter* progress, const std::string& line) {
  if (o.quiet) return;
  if (progress)
    progress->line(line);
  else
    std::fprintf(stderr, "%s\n", line.c_str());
}

std::function<void(const std::string&)> rank_note(const rank_group& ranks, const run_options& o,
                                                  progress_reporter* progress) {
  const int rank = ranks.rank();
  return [rank, &o, progress](const std::string& line) {
    if (rank == 0)
      note(o, progress, line);
    else if (o.verbose)
      note(o, progress, "rank " + std::to_string(rank) + ": " + line);
  };
}

}  // namespace msync::cli
