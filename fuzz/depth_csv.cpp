// The depth file of `cascade --depth` (docs/design.md section 2.9) for data/sample's market and
// risk configuration: input_error is expected; parameters that load are within their bounds.
#include "cascade/cascade.hpp"
#include "fuzz_support.hpp"
#include "fuzz_targets.hpp"
#include "marginsync/errors.hpp"

namespace msync::fuzz {

void depth_csv(std::string_view input) {
  const market_state& m = sample_market();
  impact_params p;
  try {
    p = load_impact_params(scratch_file("depth.csv", input), m, sample_risk());
  } catch (const input_error&) {
    return;
  }
  check(p.coefficient.size() == m.size() && p.daily_volume.size() == m.size(),
        "depth: lists of different sizes");
  for (std::size_t u = 0; u < m.size(); ++u) {
    check(p.coefficient[u] >= 0.0 && p.coefficient[u] <= 100.0,
          "depth: impact_coefficient outside [0, 100]");
    check(p.daily_volume[u] > 0.0 && p.daily_volume[u] <= max_money,
          "depth: daily_volume outside (0, 1e15]");
  }
}

}  // namespace msync::fuzz
