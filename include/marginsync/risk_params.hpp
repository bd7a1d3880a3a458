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
  // Per underlying (market order): Y and V of the square-root law after a depth file (cascade,
  // margin and stream --depth) replaced risk.json's values. Empty: every underlying takes
  // impact_coefficient and daily_volume.
  std::vector<double> underlying_impact_coefficient;
  std::vector<double> underlying_daily_volume;
  // The liquidity add-on of docs/design.md 3.5: the cost of closing each exposure under the
  // square-root law, added to IM.
  bool liquidity_addon = true;
  // Tenor scaling of scenario vol shocks (docs/design.md 3.3): g = (T_ref / max(T, 1 day))^beta,
  // T_ref = vol_term_reference_days / 365. beta = 0: every expiry takes the underlying's shock.
  double vol_term_reference_days = 30.0;
  double vol_term_exponent = 0.0;
  // Stream hysteresis (docs/design.md 8.2): an account leaves a worse state only when it clears
  // the threshold by this relative band.
  double recovery_band = 0.02;

  double horizon_years() const { return horizon_days / days_per_year; }
  double impact_coefficient_of(std::size_t u) const {
    return u < underlying_impact_coefficient.size() ? underlying_impact_coefficient[u]
                                                    : impact_coefficient;
  }
  double daily_volume_of(std::size_t u) const {
    return u < underlying_daily_volume.size() ? underlying_daily_volume[u] : daily_volume;
  }
  // Index of a tier by name, or -1.
  int tier_index(const std::string& name) const;
};

// Y and V of every underlying of a market of `underlyings`, in market order: what the liquidity
// add-on and the cascade's impact read.
struct liquidity_table {
  std::vector<double> coefficient;   // Y
  std::vector<double> daily_volume;  // V, quote currency per day
};
inline liquidity_table make_liquidity_table(std::size_t underlyings, const risk_params& p) {
  liquidity_table t;
  for (std::size_t u = 0; u < underlyings; ++u) {
    t.coefficient.push_back(p.impact_coefficient_of(u));
    t.daily_volume.push_back(p.daily_volume_of(u));
  }
  return t;
}

const char* method_name(risk_method m);
const char* measure_name(margin_measure m);
const char* distribution_name(shock_distribution d);

}  // namespace msync
