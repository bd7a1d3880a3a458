// Output files of docs/design.md section 4. Numbers in shortest round-trip form; each file written
// to a temporary name beside its final one and renamed, so a file that exists is always complete.
#include "margin/margin_outputs.hpp"

#include <nlohmann/json.hpp>

#include "io/number_parse.hpp"
#include "io/output_files.hpp"
#include "margin/margin_job.hpp"

namespace msync {

namespace {

std::string exposures_csv(const margin_run& run) {
  const book& b = run.inputs.positions;
  const revaluation& v = *run.reval;
  std::string out = "account_id,underlying,delta,gamma,vega,theta,decay\n";
  out.reserve(out.size() + b.exposures() * 100);
  for (std::size_t a = 0; a < b.accounts(); ++a)
    for (std::uint64_t x = b.account_exposure_begin[a]; x < b.account_exposure_begin[a + 1]; ++x) {
      append_id(out, b.account_id[a]);
      out += ',';
      append_id(out, run.inputs.market.symbols[b.exposure_underlying[x]]);
      append_fields(out, {v.exposure_delta[x], v.exposure_gamma[x], v.exposure_vega[x],
                          v.exposure_theta[x], v.exposure_decay[x]});
      out += '\n';
    }
  return out;
}

nlohmann::json summary_json(const margin_run& run, const margin_request& request) {
  const book& b = run.inputs.positions;
  const risk_params& risk = run.inputs.risk;
  const risk_result& r = *run.risk;
  const margin_totals t = book_totals(run);
  nlohmann::json j;
  j["marginsync_version"] = MSYNC_VERSION;
  j["inputs"] = {{"book", request.book.book.string()},
                 {"as_of", format_timestamp(run.inputs.market.as_of_ns)},
                 {"underlyings", run.inputs.market.size()},
                 {"instruments", b.instruments.size()},
                 {"accounts", b.accounts()},
                 {"position_rows", b.position_rows},
                 {"positions", b.positions()},
                 {"exposures", b.exposures()}};
  j["backend"] = run.backend_name;
  j["device"] = run.device;
  j["method"] = method_name(risk.method);
  j["margin_measure"] = measure_name(risk.measure);
  j["scenario_source"] = run.scenarios ? "file" : "monte_carlo";
  if (run.scenarios)
    j["scenario_file"] = run.scenarios->path;
  else {
    j["seed"] = risk.seed;
    j["distribution"] = distribution_name(risk.distribution);
  }
  j["scenarios"] = r.scenarios;
  j["confidence"] = risk.confidence;
  j["horizon_days"] = risk.horizon_days;
  j["totals"] = {{"equity", t.equity},
                 {"initial_margin", t.initial_margin},
                 {"maintenance_margin", t.maintenance_margin}};
  j["status_counts"] = {{"ok", t.ok},
                        {"margin_call", t.margin_call},
                        {"liquidate", t.liquidate},
                        {"error", t.error},
                        {"preemptive", t.preemptive}};
  j["bad_debt"] = {{"expected", r.bad_debt_mean}, {"var", r.bad_debt_var}, {"es", r.bad_debt_es}};
  nlohmann::json stages = nlohmann::json::object();
  for (const stage_time& stage : run.stages) stages[stage.name] = stage.seconds;
  j["stage_seconds"] = stages;
  return j;
}

}  // namespace

std::string accounts_csv(const book& b, const revaluation& reval, const risk_result& r) {
  std::string out =
      "account_id,equity,initial_margin,maintenance_margin,var,es,health,breach_probability,status,"
      "gross_notional,preemptive,own_funds,liquidity_addon\n";
  out.reserve(out.size() + b.accounts() * 160);
  for (std::size_t a = 0; a < b.accounts(); ++a) {
    append_id(out, b.account_id[a]);
    append_fields(out, {reval.account_equity[a], r.initial_margin[a], r.maintenance_margin[a],
                        r.var[a], r.es[a], r.health[a], r.breach_probability[a]});
    out += ',';
    out += status_name(r.status[a]);
    out += ',';
    append_number(out, reval.account_gross_notional[a]);
    out += r.preemptive[a] ? ",true" : ",false";
    append_fields(out, {reval.account_own_funds[a], reval.account_liquidity_addon[a]});
    out += '\n';
  }
  return out;
}

void write_margin_outputs(const margin_run& run, const margin_request& request,
                          output_directory& out, run_provenance provenance) {
  const risk_params& risk = run.inputs.risk;
  if (run.scenarios)
    provenance.seed.reset();
  else
    provenance.seed = risk.seed;
  provenance.method = method_name(risk.method);
  provenance.confidence = risk.confidence;
  provenance.scenarios = run.risk->scenarios;
  out.write("accounts.csv", accounts_csv(run.inputs.positions, *run.reval, *run.risk));
  out.write("exposures.csv", exposures_csv(run));
  out.write("summary.json", summary_document(provenance, summary_json(run, request)));
}

}  // namespace msync
