// market.json (docs/design.md section 2): as_of, rate, underlyings with spot, vol, dividend_yield,
// funding_rate, and the correlation matrix (identity by default).
#include <cmath>
#include <set>

#include "io/id_rules.hpp"
#include "io/json_locator.hpp"
#include "io/load_inputs.hpp"
#include "io/number_parse.hpp"
#include "marginsync/cholesky.hpp"
#include "marginsync/errors.hpp"

namespace msync {

namespace {
const std::set<std::string> market_keys = {"as_of", "rate", "underlyings", "correlation"};
const std::set<std::string> underlying_keys = {"symbol", "spot", "vol", "dividend_yield",
                                               "funding_rate"};

void reject_unknown_keys(const json_document& doc, const nlohmann::json& object,
                         const std::set<std::string>& known, const std::string& prefix,
                         problem_list& problems) {
  for (auto it = object.begin(); it != object.end(); ++it)
    if (!known.count(it.key()))
      doc.problem(problems, prefix + it.key(), "unknown key (a typo would silently use a default)");
}

void read_correlation(const json_document& doc, market_state& m, problem_list& problems) {
  const std::size_t n = m.size();
  m.correlation.assign(n * n, 0.0);
  for (std::size_t i = 0; i < n; ++i) m.correlation[i * n + i] = 1.0;
  auto it = doc.root.find("correlation");
  if (it == doc.root.end()) {
    m.cholesky = m.correlation;
    return;
  }
  const std::size_t before = problems.size();
  if (!it->is_array() || it->size() != n) {
    doc.problem(problems, "correlation",
                "expected " + std::to_string(n) + " rows (one per underlying, in order)");
    return;
  }
  for (std::size_t i = 0; i < n; ++i) {
    const nlohmann::json& row = (*it)[i];
    const std::string row_path = "correlation[" + std::to_string(i) + "]";
    if (!row.is_array() || row.size() != n) {
      doc.problem(problems, row_path, "expected " + std::to_string(n) + " numbers");
      continue;
    }
    for (std::size_t j = 0; j < n; ++j) {
      const std::string path = row_path + "[" + std::to_string(j) + "]";
      if (!row[j].is_number() || !std::isfinite(row[j].get<double>())) {
        doc.problem(problems, path, "expected a finite number, got " + row[j].dump());
        continue;
      }
      const double v = row[j].get<double>();
      if (v < -1.0 || v > 1.0)
        doc.problem(problems, path, "must be within [-1, 1], got " + row[j].dump());
      if (i == j && v != 1.0)
        doc.problem(problems, path, "diagonal must be 1, got " + row[j].dump());
      m.correlation[i * n + j] = v;
    }
  }
  if (problems.size() != before) return;
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < i; ++j)
      if (std::fabs(m.correlation[i * n + j] - m.correlation[j * n + i]) > 1e-12)
        doc.problem(problems, "correlation[" + std::to_string(i) + "][" + std::to_string(j) + "]",
                    "matrix is not symmetric: differs from correlation[" + std::to_string(j) +
                        "][" + std::to_string(i) + "]");
  if (problems.size() != before) return;
  cholesky_result chol = cholesky_psd(m.correlation, n);
  if (!chol.failure.empty()) {
    doc.problem(problems, "correlation", "not a valid correlation matrix: " + chol.failure);
    return;
  }
  m.cholesky = std::move(chol.lower);
}
}  // namespace

market_state load_market(const std::filesystem::path& path, problem_list& problems) {
  const auto text = read_text_file(path, problems);
  return text ? load_market_text(*text, path.string(), problems) : market_state{};
}

market_state load_market_text(const std::string& text, const std::string& name,
                              problem_list& problems) {
  market_state m;
  auto doc = parse_json_text(text, name, problems);
  if (!doc) return m;
  const nlohmann::json& root = doc->root;
  reject_unknown_keys(*doc, root, market_keys, "", problems);

  // ISO 8601 text or integer epoch milliseconds (docs/design.md section 2), the latter as a string
  // or a number.
  if (auto it = root.find("as_of"); it == root.end()) {
    doc->problem(problems, "as_of", "missing required key");
  } else if (it->is_string() || it->is_number_integer()) {
    const std::string stamp = it->is_string() ? it->get<std::string>() : it->dump();
    std::string why = parse_timestamp(stamp, m.as_of_ns);
    if (!why.empty()) doc->problem(problems, "as_of", why);
  } else {
    doc->problem(problems, "as_of",
                 "expected a timestamp (ISO 8601 UTC or epoch milliseconds), got " + it->dump());
  }
  if (doc->number(root, "rate", "rate", m.rate, problems) &&
      !(std::fabs(m.rate) <= max_annual_rate))
    doc->problem(problems, "rate",
                 "must be within [-1, 1] (annual fraction), got " + format_number(m.rate));

  auto list = root.find("underlyings");
  if (list == root.end() || !list->is_array() || list->empty()) {
    doc->problem(problems, "underlyings", "expected a non-empty array of underlyings");
    return m;
  }
  if (list->size() > max_underlyings) {  // before any per-underlying table is made
    doc->problem(problems, "underlyings",
                 "at most " + std::to_string(max_underlyings) + " underlyings, got " +
                     std::to_string(list->size()));
    return m;
  }
  std::set<std::string> seen;
  for (std::size_t i = 0; i < list->size(); ++i) {
    const nlohmann::json& u = (*list)[i];
    const std::string p = "underlyings[" + std::to_string(i) + "]";
    if (!u.is_object()) {
      doc->problem(problems, p, "expected an object");
      continue;
    }
    reject_unknown_keys(*doc, u, underlying_keys, p + ".", problems);
    std::string symbol;
    double spot = NAN, vol = NAN, q = 0.0, funding = 0.0;
    doc->text(u, "symbol", p + ".symbol", symbol, problems);
    if (symbol.empty())
      doc->problem(problems, p + ".symbol", "missing or empty symbol");
    else if (std::string why = id_text_problem(symbol); !why.empty())
      doc->problem(problems, p + ".symbol", why);
    else if (!seen.insert(symbol).second)
      doc->problem(problems, p + ".symbol", "duplicate symbol " + quote_input(symbol));
    if (u.find("spot") == u.end())
      doc->problem(problems, p + ".spot", "missing required key");
    else if (doc->number(u, "spot", p + ".spot", spot, problems) &&
             !(spot > 0.0 && spot <= max_price))
      doc->problem(problems, p + ".spot",
                   "must be > 0 and at most 1e12, got " + format_number(spot));
    if (u.find("vol") == u.end())
      doc->problem(problems, p + ".vol", "missing required key");
    else if (doc->number(u, "vol", p + ".vol", vol, problems) && !(vol > 0.0 && vol <= 10.0))
      doc->problem(problems, p + ".vol",
                   "must be within (0, 10] (annualised, 10 = 1000%), got " + format_number(vol));
    if (doc->number(u, "dividend_yield", p + ".dividend_yield", q, problems) &&
        !(std::fabs(q) <= max_annual_rate))
      doc->problem(problems, p + ".dividend_yield",
                   "must be within [-1, 1] (annual fraction), got " + format_number(q));
    if (doc->number(u, "funding_rate", p + ".funding_rate", funding, problems) &&
        !(std::fabs(funding) <= max_funding_rate))
      doc->problem(problems, p + ".funding_rate",
                   "must be within [-0.1, 0.1] (per 8 hours), got " + format_number(funding));
    m.symbols.push_back(symbol);
    m.spot.push_back(spot);
    m.vol.push_back(vol);
    m.dividend_yield.push_back(q);
    m.funding_rate.push_back(funding);
  }
  read_correlation(*doc, m, problems);
  return m;
}

}  // namespace msync
