// The depth file of `--depth` (docs/design.md section 2.9) for data/sample's market and risk
// configuration: problems are expected; parameters that load are within their bounds.
#include "fuzz_support.hpp"
#include "fuzz_targets.hpp"
#include "marginsync/errors.hpp"

namespace msync::fuzz {

void depth_csv(std::string_view input) {
  const market_state& m = sample_market();
  risk_params r = sample_risk();
  problem_list problems;
  load_depth_file(scratch_file("depth.csv", input), m, r, problems);
  if (!problems.empty()) {
    check(r.underlying_impact_coefficient.empty() && r.underlying_daily_volume.empty(),
          "depth: parameters set from a file with problems");
    return;
  }
  check(r.underlying_impact_coefficient.size() == m.size() &&
            r.underlying_daily_volume.size() == m.size(),
        "depth: lists of different sizes");
  check_risk(r);
  for (std::size_t u = 0; u < m.size(); ++u) {
    check(r.impact_coefficient_of(u) >= 0.0 && r.impact_coefficient_of(u) <= 100.0,
          "depth: impact_coefficient outside [0, 100]");
    check(r.daily_volume_of(u) >= 1.0 && r.daily_volume_of(u) <= max_money,
          "depth: daily_volume outside [1, 1e15]");
  }
}

}  // namespace msync::fuzz
