// A scenario file (docs/design.md section 2.7) for data/sample's market: input_error is expected;
// scenarios that load are within their bounds.
#include "fuzz_support.hpp"
#include "fuzz_targets.hpp"
#include "marginsync/errors.hpp"

namespace msync::fuzz {

void scenario_csv(std::string_view input) {
  const market_state& m = sample_market();
  scenario_file_data data;
  try {
    data = load_scenario_file(scratch_file("scenarios.csv", input), m);
  } catch (const input_error&) {
    return;
  }
  const std::size_t n = data.count();
  check(n >= 1, "scenarios: none, yet no problem");
  check(data.scenario_id.size() == n && data.spot_return.size() == n * m.size() &&
            data.vol_change.size() == n * m.size(),
        "scenarios: lists of different sizes");
  for (std::size_t i = 0; i < n * m.size(); ++i) {
    check(data.spot_return[i] >= -20.0 && data.spot_return[i] <= 20.0,
          "scenarios: spot_return outside [-20, 20]");
    check(data.vol_change[i] > -1.0 && data.vol_change[i] <= 100.0,
          "scenarios: vol_change outside (-1, 100]");
  }
}

}  // namespace msync::fuzz
