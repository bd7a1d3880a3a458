#pragma once
// The scenario set of one run on the host: shocked spot and vol shock per (underlying, scenario),
// laid out underlying-major ([u * N + s]) so that loss loops over scenarios read contiguous memory.
#include <cstdint>
#include <vector>

#include "marginsync/market.hpp"
#include "marginsync/risk_params.hpp"
#include "marginsync/scenario_source.hpp"

namespace msync {

struct scenario_set {
  std::int64_t count = 0;         // N
  std::size_t underlyings = 0;    // U
  std::vector<double> spot;       // S' [u * N + s]
  std::vector<double> vol_shock;  // x [u * N + s]: sigma'_p = shocked_vol(sigma_p, g_p, x, drift)
  double vol_drift = 0.0;         // xi^2 h / 2 for Monte Carlo; 0 for a scenario file
  bool term_scaled = true;        // Monte Carlo shocks scale with tenor; a file's do not
};

// Monte Carlo (risk_params) or the given file; parallel over scenarios with `threads` OpenMP
// threads.
scenario_set build_scenario_set(const market_state& market, const scenario_source& source,
                                const risk_params& params, int threads);

}  // namespace msync
