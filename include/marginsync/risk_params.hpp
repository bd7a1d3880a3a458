#pragma once
// The risk configuration of risk.json (docs/design.md section 2), defaults as documented there.
#include <cstdint>
#include <string>
#include <vector>

#include "marginsync/scenario.hpp"
#include "marginsync/time_units.hpp"

namespace msync {

enum class risk_method : std::uint8_t { full = 0, delta_gamma = 1 };
enum class margin_measure : std::uint8_t { var = 0, es = 1 };

struct tier {
  std::string name;
  double im_multiplier = 1.0;
  double credit_limit = 0.0;  // quote currency, added to equity
};

// Upper bound on the scenario count of one run: the scenario set alone takes 16 bytes per
// underlying and scenario, and each account's losses 8 bytes per scenario per thread.
constexpr std::int64_t max_scenarios = 10'000'000;
// Upper bound on scenarios x underlyings of one run, Monte Carlo or a scenario file: the scenario
// set takes 16 bytes per cell (1.6 GB at the bound) and a scenario file's shocks 17 more. Ten
// million scenarios of ten underlyings, or a hundred thousand of a thousand.
constexpr std::int64_t max_scenario_cells = 100'000'000;
// Most tiers risk.json may define: each account's tier is looked up by name among them.
constexpr std::size_t max_tiers = 1000;

struct risk_params {
  double confidence = 0.99;
  double horizon_days = 1.0;
  std::int64_t scenarios = 10000;
  std::uint64_t seed = 1;
  risk_method method = risk_method::full;
  margin_measure measure = margin_measure::var;
  shock_distribution distribution = shock_distribution::normal;
  double degrees_of_freedom = 4.0;
  double vol_of_vol = 1.0;
  double spot_vol_correlation = -0.5;
  double min_margin_rate = 0.01;
  double maintenance_ratio = 0.6;
  double preemptive_threshold = 0.25;
  std::vector<tier> tiers{tier{"standard", 1.0, 0.0}};
  double deviation_threshold = 0.005;
  std::int64_t heartbeat_ms = 1000;
  std::int64_t stale_after_ms = 5000;
  // Liquidation cascades (marginsync cascade): the penalty on a liquidated account's notional, paid
  // to the insurance fund; the fund's balance; and the square-root market impact's defaults per
  // underlying (a depth file may set them per underlying).
  double liquidation_penalty = 0.01;
  double insurance_fund = 0.0;
  double impact_coefficient = 1.0;  // Y
  double daily_volume = 1e9;        // quote currency traded per day

  double horizon_years() const { return horizon_days / days_per_year; }
  // Index of a tier by name, or -1.
  int tier_index(const std::string& name) const;
};

const char* method_name(risk_method m);
const char* measure_name(margin_measure m);
const char* distribution_name(shock_distribution d);

}  // namespace msync
