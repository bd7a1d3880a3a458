// A scenario file (docs/design.md section 2): scenario_id, underlying, spot_return (log),
// vol_change (relative, optional, default 0). Scenarios keep the order in which their ids first
// appear.
#include <unordered_map>

#include "io/csv_reader.hpp"
#include "io/id_rules.hpp"
#include "io/load_inputs.hpp"
#include "io/number_parse.hpp"
#include "marginsync/errors.hpp"

namespace msync {

std::string scenario_cells_problem(std::size_t underlyings, std::int64_t scenarios,
                                   std::int64_t max_cells) {
  const std::int64_t u = static_cast<std::int64_t>(underlyings > 0 ? underlyings : 1);
  const std::int64_t most = max_cells / u;
  if (scenarios <= most) return {};
  return std::to_string(scenarios) + " scenarios of " + std::to_string(underlyings) +
         " underlyings exceed the limit of " + std::to_string(max_cells) +
         " scenarios x underlyings (at most " + std::to_string(most) +
         " scenarios with this market)";
}

scenario_file_data load_scenario_file(const std::filesystem::path& path, const market_state& market,
                                      std::int64_t max_cells) {
  problem_list problems;
  scenario_file_data data;
  data.path = path.string();
  csv_reader csv;
  if (!csv.open(path, problems)) problems.throw_if_any();
  const int c_id = csv.require("scenario_id", problems);
  const int c_under = csv.require("underlying", problems);
  const int c_return = csv.require("spot_return", problems);
  const int c_vol = csv.column("vol_change");
  problems.throw_if_any();

  const std::size_t n_under = market.size();
  std::unordered_map<std::string_view, std::uint32_t> symbols;
  for (std::size_t u = 0; u < n_under; ++u)
    symbols.emplace(market.symbols[u], static_cast<std::uint32_t>(u));
  std::unordered_map<std::string, std::size_t> scenario_index;
  std::vector<std::uint8_t> seen;  // [scenario][underlying] given already
  while (csv.next(problems)) {
    auto fail = [&](const char* column, std::string why) {
      problems.add(csv.file_name(), csv.line(), column, std::move(why));
    };
    const std::string_view id = csv.field(c_id);
    if (id.empty()) {
      fail("scenario_id", "empty id");
      continue;
    }
    if (std::string why = id_text_problem(id); !why.empty()) {
      fail("scenario_id", std::move(why));
      continue;
    }
    auto u = symbols.find(csv.field(c_under));
    if (u == symbols.end()) {
      std::string why = id_text_problem(csv.field(c_under));
      fail("underlying", why.empty() ? "'" + std::string(csv.field(c_under)) +
                                           "' is not an underlying in market.json"
                                     : std::move(why));
      continue;
    }
    double ret = 0.0, vol_change = 0.0;
    bool ok = true;
    if (std::string why = parse_number(csv.field(c_return), ret); !why.empty()) {
      fail("spot_return", why);
      ok = false;
    } else if (!(ret >= -20.0 && ret <= 20.0)) {
      // A log return: e^20 is a 485-million-fold move; beyond it prices overflow or vanish.
      fail("spot_return",
           "must be a log return within [-20, 20], got " + std::string(csv.field(c_return)));
      ok = false;
    }
    if (!csv.field(c_vol).empty()) {
      if (std::string why = parse_number(csv.field(c_vol), vol_change); !why.empty()) {
        fail("vol_change", why);
        ok = false;
      } else if (!(vol_change > -1.0 && vol_change <= 100.0)) {
        fail("vol_change",
             "must be within (-1, 100] (relative: the shocked vol must stay positive), got " +
                 std::string(csv.field(c_vol)));
        ok = false;
      }
    }
    if (!ok) continue;
    auto [it, inserted] = scenario_index.emplace(std::string(id), data.scenario_id.size());
    if (inserted) {
      // Every new scenario takes a cell per underlying: stop reading before memory runs away.
      const std::int64_t count = static_cast<std::int64_t>(data.scenario_id.size()) + 1;
      std::string why = scenario_cells_problem(n_under, count, max_cells);
      if (why.empty() && count > max_scenarios)
        why = "more than " + std::to_string(max_scenarios) + " scenarios";
      if (!why.empty()) {
        fail("scenario_id", why);
        break;
      }
      data.scenario_id.emplace_back(id);
      data.spot_return.resize(data.spot_return.size() + n_under, 0.0);
      data.vol_change.resize(data.vol_change.size() + n_under, 0.0);
      seen.resize(seen.size() + n_under, 0);
    }
    const std::size_t cell = it->second * n_under + u->second;
    if (seen[cell]) {
      fail("underlying", "scenario " + quote_input(id) + " gives '" +
                             std::string(csv.field(c_under)) + "' twice");
      continue;
    }
    seen[cell] = 1;
    data.spot_return[cell] = ret;
    data.vol_change[cell] = vol_change;
  }
  if (problems.empty() && data.count() == 0)
    problems.add(data.path, 0, "", "no scenarios in the file");
  problems.throw_if_any();
  return data;
}

}  // namespace msync
