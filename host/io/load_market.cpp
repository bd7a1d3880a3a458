// market.json (docs/design.md section 2): as_of, rate, underlyings with spot, vol, dividend_yield,
// funding_rate, the correlation matrix (identity by default) and the implied volatility surfaces
// (raw SVI slices per underlying, docs/design.md 2.5).
#include <cmath>
#include <set>

#include "io/id_rules.hpp"
#include "io/json_locator.hpp"
#include "io/load_inputs.hpp"
#include "io/number_parse.hpp"
#include "marginsync/cholesky.hpp"
#include "marginsync/errors.hpp"
#include "marginsync/vol_surface.hpp"

namespace msync {

namespace {
const std::set<std::string> market_keys = {"as_of", "rate", "underlyings", "correlation",
                                           "surface"};
const std::set<std::string> underlying_keys = {"symbol", "spot", "vol", "dividend_yield",
                                               "funding_rate"};
const std::set<std::string> slice_keys = {"expiry", "a", "b", "rho", "m", "sigma"};

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

// A timestamp value (as_of, a slice's expiry): ISO 8601 text or integer epoch milliseconds, the
// latter as a string or a number. False, reported, when it is not one.
bool read_timestamp(const json_document& doc, const nlohmann::json& value, const std::string& path,
                    std::int64_t& out_ns, problem_list& problems) {
  if (value.is_string() || value.is_number_integer()) {
    const std::string stamp = value.is_string() ? value.get<std::string>() : value.dump();
    std::string why = parse_timestamp(stamp, out_ns);
    if (why.empty()) return true;
    doc.problem(problems, path, why);
    return false;
  }
  doc.problem(
      problems, path,
      "expected a timestamp (ISO 8601 UTC or epoch milliseconds), got " + excerpt(value.dump()));
  return false;
}

// One raw SVI slice: every key required, each parameter within the bounds of svi_slice_problem.
// False, reported, when the slice is not usable.
bool read_slice(const json_document& doc, const nlohmann::json& object, const std::string& path,
                svi_slice& s, problem_list& problems) {
  if (!object.is_object()) {
    doc.problem(problems, path,
                "expected a slice {\"expiry\", \"a\", \"b\", \"rho\", \"m\", \"sigma\"}");
    return false;
  }
  reject_unknown_keys(doc, object, slice_keys, path + ".", problems);
  const std::size_t before = problems.size();
  for (const std::string& key : slice_keys)
    if (object.find(key) == object.end())
      doc.problem(problems, path + "." + key, "missing required key");
  if (auto it = object.find("expiry"); it != object.end())
    read_timestamp(doc, *it, path + ".expiry", s.expiry_ns, problems);
  const std::pair<const char*, double*> parameters[] = {
      {"a", &s.a}, {"b", &s.b}, {"rho", &s.rho}, {"m", &s.m}, {"sigma", &s.sigma}};
  for (const auto& [key, into] : parameters)
    doc.number(object, key, path + "." + key, *into, problems);
  if (problems.size() != before) return false;
  if (const char* why = svi_slice_problem(s)) {
    // The reason starts with the parameter it is about ("rho must be within (-1, 1)"); the
    // minimum variance involves several, and names the slice.
    const std::string reason = why;
    for (const auto& [key, value] : parameters)
      if (reason.rfind(std::string(key) + " ", 0) == 0) {
        doc.problem(problems, path + "." + key, reason + ", got " + format_number(*value));
        return false;
      }
    doc.problem(problems, path, reason + ", got " + format_number(svi_minimum_variance(s)));
    return false;
  }
  return true;
}

// "surface": {"BTC": [slice, ...], ...}: per underlying of the market, at most max_surface_slices
// slices in strictly increasing expiry. Fills m.surface, one list per underlying (empty where the
// object names none).
void read_surface(const json_document& doc, market_state& m, problem_list& problems) {
  auto it = doc.root.find("surface");
  if (it == doc.root.end()) return;
  if (!it->is_object()) {
    doc.problem(problems, "surface",
                "expected an object from underlying symbol to a list of SVI slices, got " +
                    excerpt(it->dump()));
    return;
  }
  m.surface.assign(m.size(), {});
  for (auto entry = it->begin(); entry != it->end(); ++entry) {
    const std::string path = "surface." + entry.key();
    const std::size_t u = m.index_of(entry.key());
    if (u == m.size()) {
      doc.problem(problems, path,
                  quote_input(entry.key()) + " is not an underlying of market.json");
      continue;
    }
    const nlohmann::json& list = entry.value();
    if (!list.is_array() || list.empty()) {
      doc.problem(problems, path, "expected a non-empty array of SVI slices");
      continue;
    }
    if (list.size() > max_surface_slices) {
      doc.problem(problems, path,
                  "at most " + std::to_string(max_surface_slices) + " slices, got " +
                      std::to_string(list.size()));
      continue;
    }
    std::vector<svi_slice> slices;
    bool usable = true;
    for (std::size_t j = 0; j < list.size(); ++j) {
      const std::string slice_path = path + "[" + std::to_string(j) + "]";
      svi_slice s;
      if (!read_slice(doc, list[j], slice_path, s, problems)) {
        usable = false;
        continue;
      }
      if (usable && !slices.empty() && !(s.expiry_ns > slices.back().expiry_ns))
        doc.problem(problems, slice_path + ".expiry",
                    "expiries out of order: " + format_timestamp(s.expiry_ns) +
                        " is not after the previous slice's " +
                        format_timestamp(slices.back().expiry_ns));
      slices.push_back(s);
    }
    if (usable) m.surface[u] = std::move(slices);
  }
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
  if (auto it = root.find("as_of"); it == root.end())
    doc->problem(problems, "as_of", "missing required key");
  else
    read_timestamp(*doc, *it, "as_of", m.as_of_ns, problems);
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
  read_surface(*doc, m, problems);
  return m;
}

}  // namespace msync
