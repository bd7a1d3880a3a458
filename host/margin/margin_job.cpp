#include "margin/margin_job.hpp"

#include "io/number_parse.hpp"
#include "marginsync/errors.hpp"
#include "marginsync/stopwatch.hpp"

namespace msync {

namespace {

class stage_clock {
 public:
  explicit stage_clock(std::vector<stage_time>& stages) : stages_(stages) {}
  template <class F>
  auto run(const char* name, F&& work) {
    const stopwatch watch;
    auto result = work();
    stages_.push_back(stage_time{name, watch.seconds()});
    return result;
  }

 private:
  std::vector<stage_time>& stages_;
};

}  // namespace

void apply_risk_overrides(const risk_overrides& o, std::size_t underlyings, risk_params& risk) {
  if (o.method) risk.method = *o.method;
  if (o.scenarios) risk.scenarios = *o.scenarios;
  if (o.seed) risk.seed = *o.seed;
  if (o.confidence) risk.confidence = *o.confidence;
  problem_list problems;
  for (const auto& [key, why] : risk_param_problems(risk)) {
    const bool from_cli =
        (key == "scenarios" && o.scenarios) || (key == "confidence" && o.confidence);
    // risk.json itself was validated at load; what fails now came from the command line.
    if (from_cli) problems.add("--" + key, 0, "", why);
  }
  if (o.scenarios && problems.empty())
    if (std::string why = scenario_cells_problem(underlyings, risk.scenarios); !why.empty())
      problems.add("--scenarios", 0, "", why);
  problems.throw_if_any();
}

margin_run run_margin(const margin_request& request,
                      const std::function<void(const std::string&)>& log) {
  margin_run run;
  stage_clock clock(run.stages);
  run.inputs = clock.run("load", [&] { return load_book_at(request.book); });
  apply_risk_overrides(request.overrides, run.inputs.market.size(), run.inputs.risk);
  if (request.scenario_file) {
    run.scenarios = clock.run("load_scenarios", [&] {
      return load_scenario_file(*request.scenario_file, run.inputs.market);
    });
  }

  backend_selection selection =
      select_backend(request.backend, request.threads, request.max_device_bytes);
  log(selection.note);
  run.engine = std::move(selection.instance);
  backend& engine = *run.engine;
  engine.set_progress(request.progress);
  run.backend_name = engine.name();

  book& b = run.inputs.positions;  // the backend borrows it
  const risk_params& risk = run.inputs.risk;
  clock.run("upload", [&] {
    engine.load_book(b, risk);
    return 0;
  });
  if (const std::string note = engine.residency_note(); !note.empty()) log(note);
  run.device = engine.device();  // after load_book: it names the chunking, if any
  run.reval = clock.run("revalue", [&] {
    engine.revalue(run.inputs.market, {});
    return &engine.held_revaluation();
  });
  const scenario_source source{run.scenarios ? &*run.scenarios : nullptr};
  const std::int64_t n =
      run.scenarios ? static_cast<std::int64_t>(run.scenarios->count()) : risk.scenarios;
  log("scenario risk: " + std::to_string(b.accounts()) + " accounts x " + std::to_string(n) +
      " scenarios, method " + method_name(risk.method));
  run.risk = clock.run("scenario_risk", [&] {
    engine.scenario_risk(source, risk);
    return &engine.held_risk();
  });
  return run;
}

margin_totals book_totals(const margin_run& run) {
  margin_totals t;
  for (std::size_t a = 0; a < run.inputs.positions.accounts(); ++a) {
    switch (run.risk->status[a]) {
      case account_status::ok:
        ++t.ok;
        break;
      case account_status::margin_call:
        ++t.margin_call;
        break;
      case account_status::liquidate:
        ++t.liquidate;
        break;
      case account_status::error:
        ++t.error;
        continue;  // not finite: kept out of the sums
    }
    t.preemptive += run.risk->preemptive[a];
    t.equity += run.reval->account_equity[a];
    t.initial_margin += run.risk->initial_margin[a];
    t.maintenance_margin += run.risk->maintenance_margin[a];
  }
  return t;
}

std::string error_accounts_message(const margin_run& run) {
  constexpr std::size_t shown = 5;
  std::size_t count = 0;
  std::string ids;
  for (std::size_t a = 0; a < run.inputs.positions.accounts(); ++a) {
    if (run.risk->status[a] != account_status::error) continue;
    if (count < shown) {
      ids += count ? ", " : "";
      ids += run.inputs.positions.account_id[a];
    }
    ++count;
  }
  if (count == 0) return {};
  return std::to_string(count) + (count == 1 ? " account has" : " accounts have") +
         " numbers that are not finite (status error): " + ids + (count > shown ? ", ..." : "");
}

std::string format_margin_summary(const margin_run& run) {
  const book& b = run.inputs.positions;
  const margin_totals t = book_totals(run);
  char line[512];
  std::string s;
  std::snprintf(line, sizeof line,
                "%zu accounts, %zu positions (%llu rows), %zu underlyings; %s on %s\n",
                b.accounts(), b.positions(), static_cast<unsigned long long>(b.position_rows),
                run.inputs.market.size(), run.backend_name.c_str(), run.device.c_str());
  s += line;
  std::snprintf(line, sizeof line, "method %s, %lld scenarios, confidence %g, margin on %s\n",
                method_name(run.inputs.risk.method), static_cast<long long>(run.risk->scenarios),
                run.inputs.risk.confidence, measure_name(run.inputs.risk.measure));
  s += line;
  std::snprintf(line, sizeof line, "status: ok %lld, margin_call %lld, liquidate %lld",
                static_cast<long long>(t.ok), static_cast<long long>(t.margin_call),
                static_cast<long long>(t.liquidate));
  s += line;
  if (t.error > 0) s += ", error " + std::to_string(t.error);
  std::snprintf(line, sizeof line, "; preemptive %lld\n", static_cast<long long>(t.preemptive));
  s += line;
  std::snprintf(line, sizeof line,
                "totals: equity %.2f, initial margin %.2f, maintenance margin %.2f\n", t.equity,
                t.initial_margin, t.maintenance_margin);
  s += line;
  std::snprintf(line, sizeof line, "book bad debt: expected %.2f, VaR %.2f, ES %.2f\n",
                run.risk->bad_debt_mean, run.risk->bad_debt_var, run.risk->bad_debt_es);
  s += line;
  s += "time:";
  for (const stage_time& stage : run.stages) {
    std::snprintf(line, sizeof line, " %s %.3f s", stage.name.c_str(), stage.seconds);
    s += line;
  }
  s += "\n";
  return s;
}

}  // namespace msync
