// The depth file (docs/design.md 2.9): Y and V of the square-root impact law per underlying, for
// the cascade's price impact and the liquidity add-on of margin, stream and replay alike.
#include "io/csv_reader.hpp"
#include "io/load_inputs.hpp"
#include "io/number_parse.hpp"
#include "marginsync/errors.hpp"

namespace msync {

void load_depth_file(const std::filesystem::path& path, const market_state& market,
                     risk_params& risk, problem_list& problems) {
  // Underlyings the file does not list keep risk.json's values.
  std::vector<double> coefficient(market.size(), risk.impact_coefficient);
  std::vector<double> volume(market.size(), risk.daily_volume);
  // Any problem of this file, the header's included (a malformed header can still open), leaves
  // risk.json's values in force.
  const std::size_t before = problems.size();
  csv_reader csv;
  if (!csv.open(path, problems)) return;
  const int c_underlying = csv.require("underlying", problems);
  const int c_volume = csv.require("daily_volume", problems);
  const int c_coefficient = csv.column("impact_coefficient");
  if (c_underlying < 0 || c_volume < 0) return;
  std::vector<long> seen_on(market.size(), 0);
  while (csv.next(problems)) {
    auto fail = [&](const char* column, std::string why) {
      problems.add(csv.file_name(), csv.line(), column, std::move(why));
    };
    const std::string_view symbol = csv.field(c_underlying);
    const std::size_t u = market.index_of(symbol);
    if (u == market.size()) {
      fail("underlying", "unknown underlying " + quote_input(symbol));
      continue;
    }
    if (seen_on[u])
      fail("underlying", quote_input(symbol) + " appears twice (first on line " +
                             std::to_string(seen_on[u]) + ")");
    else
      seen_on[u] = csv.line();
    double v = 0.0;
    if (std::string why = parse_number(csv.field(c_volume), v); !why.empty())
      fail("daily_volume", why);
    else if (!(v >= 1.0 && v <= max_money))  // as risk.json's (load_risk.cpp)
      fail("daily_volume", "must be within [1, 1e15], got " + format_number(v));
    else
      volume[u] = v;
    if (c_coefficient >= 0 && !csv.field(c_coefficient).empty()) {
      double y = 0.0;
      if (std::string why = parse_number(csv.field(c_coefficient), y); !why.empty())
        fail("impact_coefficient", why);
      else if (!(y >= 0.0 && y <= 100.0))
        fail("impact_coefficient", "must be within [0, 100], got " + format_number(y));
      else
        coefficient[u] = y;
    }
  }
  if (problems.size() != before) return;
  risk.underlying_impact_coefficient = std::move(coefficient);
  risk.underlying_daily_volume = std::move(volume);
}

}  // namespace msync
