#pragma once
// Where a run's scenarios come from: Monte Carlo (docs/design.md section 3, from risk_params) or a
// scenario file of given log returns and relative vol changes.
#include <cstdint>
#include <string>
#include <vector>

namespace msync {

struct scenario_file_data {
  std::string path;
  std::vector<std::string> scenario_id;  // order of first appearance
  // Row-major [scenario][underlying]; an underlying absent from a scenario has 0 and 0.
  std::vector<double> spot_return;  // log return: S' = S e^{r}
  std::vector<double> vol_change;   // relative: sigma' = sigma (1 + c)

  std::size_t count() const noexcept { return scenario_id.size(); }
};

struct scenario_source {
  const scenario_file_data* file = nullptr;  // null: Monte Carlo from risk_params
};

}  // namespace msync
