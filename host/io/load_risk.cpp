// risk.json (docs/design.md section 2): every key optional, defaults in risk_params. Unknown keys
// are errors, so a misspelt key never runs silently on its default.
#include <set>

#include "io/id_rules.hpp"
#include "io/json_locator.hpp"
#include "io/load_inputs.hpp"
#include "io/number_parse.hpp"
#include "marginsync/errors.hpp"

namespace msync {

namespace {
const std::set<std::string> risk_keys = {"confidence",
                                         "horizon_days",
                                         "scenarios",
                                         "seed",
                                         "method",
                                         "margin_measure",
                                         "distribution",
                                         "degrees_of_freedom",
                                         "vol_of_vol",
                                         "spot_vol_correlation",
                                         "min_margin_rate",
                                         "maintenance_ratio",
                                         "preemptive_threshold",
                                         "tiers",
                                         "deviation_threshold",
                                         "heartbeat_ms",
                                         "stale_after_ms",
                                         "liquidation_penalty",
                                         "insurance_fund",
                                         "impact_coefficient",
                                         "daily_volume",
                                         "liquidity_addon",
                                         "vol_term_reference_days",
                                         "vol_term_exponent",
                                         "recovery_band"};

template <class E>
bool read_choice(const json_document& doc, const char* key,
                 std::initializer_list<std::pair<const char*, E>> choices, E& out,
                 problem_list& problems) {
  std::string text;
  if (!doc.text(doc.root, key, key, text, problems) || doc.root.find(key) == doc.root.end())
    return false;
  std::string list;
  for (const auto& [name, value] : choices) {
    if (text == name) {
      out = value;
      return true;
    }
    list += list.empty() ? std::string("'") + name + "'" : std::string(", '") + name + "'";
  }
  doc.problem(problems, key, quote_input(text) + " is not one of " + list);
  return false;
}
}  // namespace

int risk_params::tier_index(const std::string& name) const {
  for (std::size_t i = 0; i < tiers.size(); ++i)
    if (tiers[i].name == name) return static_cast<int>(i);
  return -1;
}

const char* method_name(risk_method m) {
  return m == risk_method::full ? "full" : "delta_gamma";
}
const char* measure_name(margin_measure m) {
  return m == margin_measure::var ? "var" : "es";
}
const char* distribution_name(shock_distribution d) {
  return d == shock_distribution::normal ? "normal" : "student_t";
}

std::vector<std::pair<std::string, std::string>> risk_param_problems(const risk_params& r) {
  std::vector<std::pair<std::string, std::string>> out;
  auto bad = [&](const char* key, const std::string& why, double got) {
    out.emplace_back(key, why + ", got " + format_number(got));
  };
  if (!(r.confidence > 0.0 && r.confidence < 1.0))
    bad("confidence", "must be within (0, 1)", r.confidence);
  if (!(r.horizon_days > 0.0 && r.horizon_days <= 3650.0))
    bad("horizon_days", "must be within (0, 3650]", r.horizon_days);
  if (r.scenarios < 1 || r.scenarios > max_scenarios)
    out.emplace_back("scenarios", "must be within [1, " + std::to_string(max_scenarios) +
                                      "], got " + std::to_string(r.scenarios));
  // Above 1000 the Student t is the normal to 0.1 %; the cap keeps the chi-squared draw (2 Gamma(nu
  // / 2)) far from overflow.
  if (!(r.degrees_of_freedom > 2.0 && r.degrees_of_freedom <= 1000.0))
    bad("degrees_of_freedom", "must be within (2, 1000] (finite variance)", r.degrees_of_freedom);
  if (!(r.vol_of_vol >= 0.0 && r.vol_of_vol <= 10.0))
    bad("vol_of_vol", "must be within [0, 10]", r.vol_of_vol);
  if (!(r.spot_vol_correlation >= -1.0 && r.spot_vol_correlation <= 1.0))
    bad("spot_vol_correlation", "must be within [-1, 1]", r.spot_vol_correlation);
  // A floor above the whole gross notional would ask more than any loss the positions can make.
  if (!(r.min_margin_rate >= 0.0 && r.min_margin_rate <= 1.0))
    bad("min_margin_rate", "must be within [0, 1] (fraction of gross notional)", r.min_margin_rate);
  if (!(r.maintenance_ratio > 0.0 && r.maintenance_ratio <= 1.0))
    bad("maintenance_ratio", "must be within (0, 1]", r.maintenance_ratio);
  if (!(r.preemptive_threshold >= 0.0 && r.preemptive_threshold <= 1.0))
    bad("preemptive_threshold", "must be within [0, 1]", r.preemptive_threshold);
  // A relative move; 1e6 (a millionfold) already never triggers on a real feed.
  if (!(r.deviation_threshold >= 0.0 && r.deviation_threshold <= 1e6))
    bad("deviation_threshold", "must be within [0, 1e6]", r.deviation_threshold);
  // At most 1e12 ms (about 31,700 years): stream time is kept in nanoseconds, and 1e12 ms of them
  // still fits in 64 bits.
  constexpr std::int64_t max_interval_ms = 1000000000000LL;
  if (r.heartbeat_ms < 1 || r.heartbeat_ms > max_interval_ms)
    out.emplace_back("heartbeat_ms",
                     "must be within [1, 1e12], got " + std::to_string(r.heartbeat_ms));
  if (r.stale_after_ms < 1 || r.stale_after_ms > max_interval_ms)
    out.emplace_back("stale_after_ms",
                     "must be within [1, 1e12], got " + std::to_string(r.stale_after_ms));
  if (!(r.liquidation_penalty >= 0.0 && r.liquidation_penalty < 1.0))
    bad("liquidation_penalty", "must be within [0, 1)", r.liquidation_penalty);
  if (!(r.insurance_fund >= 0.0 && r.insurance_fund <= max_money))
    bad("insurance_fund", "must be within [0, 1e15]", r.insurance_fund);
  if (!(r.impact_coefficient >= 0.0 && r.impact_coefficient <= 100.0))
    bad("impact_coefficient", "must be within [0, 100]", r.impact_coefficient);
  // At least 1 quote currency a day: sqrt(|N| / V) of the impact law (section 9.2) stays finite.
  if (!(r.daily_volume >= 1.0 && r.daily_volume <= max_money))
    bad("daily_volume", "must be within [1, 1e15]", r.daily_volume);
  // T_ref of the tenor scaling g = (T_ref / max(T, 1 day))^beta (docs/design.md 3.3): a tenor, so
  // within the horizon's range; beta up to 2 already makes a 1-day option's shock 900 times a
  // month's at T_ref = 30 days (g = 30^2).
  if (!(r.vol_term_reference_days > 0.0 && r.vol_term_reference_days <= 3650.0))
    bad("vol_term_reference_days", "must be within (0, 3650]", r.vol_term_reference_days);
  if (!(r.vol_term_exponent >= 0.0 && r.vol_term_exponent <= 2.0))
    bad("vol_term_exponent", "must be within [0, 2]", r.vol_term_exponent);
  // A relative band around the thresholds (docs/design.md 8.2); 1 would keep an account in
  // margin_call until its equity doubles the margin, and from preemptive never back.
  if (!(r.recovery_band >= 0.0 && r.recovery_band < 1.0))
    bad("recovery_band", "must be within [0, 1)", r.recovery_band);
  for (const tier& t : r.tiers) {
    if (!(t.im_multiplier > 0.0))
      out.emplace_back("tiers." + t.name + ".im_multiplier",
                       "must be > 0, got " + format_number(t.im_multiplier));
    if (!(t.credit_limit >= 0.0 && t.credit_limit <= max_money))
      out.emplace_back("tiers." + t.name + ".credit_limit",
                       "must be within [0, 1e15], got " + format_number(t.credit_limit));
    if (!(t.im_multiplier <= 1000.0))
      out.emplace_back("tiers." + t.name + ".im_multiplier",
                       "must be at most 1000, got " + format_number(t.im_multiplier));
  }
  return out;
}

risk_params load_risk(const std::filesystem::path& path, problem_list& problems) {
  const auto text = read_text_file(path, problems);
  return text ? load_risk_text(*text, path.string(), problems) : risk_params{};
}

risk_params load_risk_text(const std::string& text, const std::string& name,
                           problem_list& problems) {
  risk_params r;
  auto doc = parse_json_text(text, name, problems);
  if (!doc) return r;
  const nlohmann::json& root = doc->root;
  for (auto it = root.begin(); it != root.end(); ++it)
    if (!risk_keys.count(it.key()))
      doc->problem(problems, it.key(), "unknown key (a typo would silently use a default)");

  doc->number(root, "confidence", "confidence", r.confidence, problems);
  doc->number(root, "horizon_days", "horizon_days", r.horizon_days, problems);
  doc->integer(root, "scenarios", "scenarios", r.scenarios, problems);
  if (auto it = root.find("seed"); it != root.end()) {
    if (it->is_number_unsigned())
      r.seed = it->get<std::uint64_t>();
    else
      doc->problem(problems, "seed", "expected a whole number >= 0, got " + it->dump());
  }
  read_choice<risk_method>(*doc, "method",
                           {{"full", risk_method::full}, {"delta_gamma", risk_method::delta_gamma}},
                           r.method, problems);
  read_choice<margin_measure>(*doc, "margin_measure",
                              {{"var", margin_measure::var}, {"es", margin_measure::es}}, r.measure,
                              problems);
  read_choice<shock_distribution>(
      *doc, "distribution",
      {{"normal", shock_distribution::normal}, {"student_t", shock_distribution::student_t}},
      r.distribution, problems);
  doc->number(root, "degrees_of_freedom", "degrees_of_freedom", r.degrees_of_freedom, problems);
  doc->number(root, "vol_of_vol", "vol_of_vol", r.vol_of_vol, problems);
  doc->number(root, "spot_vol_correlation", "spot_vol_correlation", r.spot_vol_correlation,
              problems);
  doc->number(root, "min_margin_rate", "min_margin_rate", r.min_margin_rate, problems);
  doc->number(root, "maintenance_ratio", "maintenance_ratio", r.maintenance_ratio, problems);
  doc->number(root, "preemptive_threshold", "preemptive_threshold", r.preemptive_threshold,
              problems);
  doc->number(root, "deviation_threshold", "deviation_threshold", r.deviation_threshold, problems);
  doc->integer(root, "heartbeat_ms", "heartbeat_ms", r.heartbeat_ms, problems);
  doc->integer(root, "stale_after_ms", "stale_after_ms", r.stale_after_ms, problems);
  doc->number(root, "liquidation_penalty", "liquidation_penalty", r.liquidation_penalty, problems);
  doc->number(root, "insurance_fund", "insurance_fund", r.insurance_fund, problems);
  doc->number(root, "impact_coefficient", "impact_coefficient", r.impact_coefficient, problems);
  doc->number(root, "daily_volume", "daily_volume", r.daily_volume, problems);
  if (auto it = root.find("liquidity_addon"); it != root.end()) {
    if (it->is_boolean())
      r.liquidity_addon = it->get<bool>();
    else
      doc->problem(problems, "liquidity_addon",
                   "expected true or false, got " + excerpt(it->dump()));
  }
  doc->number(root, "vol_term_reference_days", "vol_term_reference_days", r.vol_term_reference_days,
              problems);
  doc->number(root, "vol_term_exponent", "vol_term_exponent", r.vol_term_exponent, problems);
  doc->number(root, "recovery_band", "recovery_band", r.recovery_band, problems);

  if (auto it = root.find("tiers"); it != root.end()) {
    if (!it->is_object() || it->empty()) {
      doc->problem(problems, "tiers", "expected an object of tiers, e.g. {\"standard\": {...}}");
    } else if (it->size() > max_tiers) {
      doc->problem(
          problems, "tiers",
          "at most " + std::to_string(max_tiers) + " tiers, got " + std::to_string(it->size()));
    } else {
      r.tiers.clear();
      for (auto t = it->begin(); t != it->end(); ++t) {
        const std::string p = "tiers." + t.key();
        tier entry{t.key(), 1.0, 0.0};
        if (std::string why = id_text_problem(t.key()); !why.empty())
          doc->problem(problems, p, "tier name " + why);
        if (!t->is_object()) {
          doc->problem(problems, p, "expected an object with im_multiplier and credit_limit");
          continue;
        }
        for (auto k = t->begin(); k != t->end(); ++k)
          if (k.key() != "im_multiplier" && k.key() != "credit_limit")
            doc->problem(problems, p + "." + k.key(), "unknown key");
        doc->number(*t, "im_multiplier", p + ".im_multiplier", entry.im_multiplier, problems);
        doc->number(*t, "credit_limit", p + ".credit_limit", entry.credit_limit, problems);
        r.tiers.push_back(entry);
      }
    }
  }
  for (const auto& [key, why] : risk_param_problems(r)) doc->problem(problems, key, why);
  return r;
}

}  // namespace msync
