#include "cpu/scenario_set.hpp"

#include <vector>

#include "cpu/omp_guard.hpp"
#include "marginsync/scenario.hpp"

namespace msync {

scenario_set build_scenario_set(const market_state& market, const scenario_source& source,
                                const risk_params& params, int threads) {
  scenario_set set;
  const std::size_t n_under = market.size();
  set.underlyings = n_under;
  set.count = source.file ? static_cast<std::int64_t>(source.file->count()) : params.scenarios;
  const std::int64_t n = set.count;
  set.spot.resize(n_under * static_cast<std::size_t>(n));
  set.vol_shock.resize(n_under * static_cast<std::size_t>(n));

  if (source.file) {
    set.vol_drift = 0.0;
    set.term_scaled = false;
    const scenario_file_data& f = *source.file;
#pragma omp parallel for num_threads(threads) schedule(static)
    for (std::int64_t s = 0; s < n; ++s)
      for (std::size_t u = 0; u < n_under; ++u) {
        const std::size_t cell = static_cast<std::size_t>(s) * n_under + u;
        const shocked_market m =
            given_scenario(market.spot[u], f.spot_return[cell], f.vol_change[cell]);
        set.spot[u * n + s] = m.spot;
        set.vol_shock[u * n + s] = m.vol_shock;
      }
    return set;
  }

  set.vol_drift = vol_shock_drift(params.vol_of_vol, params.horizon_years());
  set.term_scaled = true;
  const monte_carlo_inputs in{
      market.spot.data(),
      market.vol.data(),
      market.cholesky.data(),
      static_cast<std::uint32_t>(n_under),
      params.horizon_years(),
      params.vol_of_vol,
      params.spot_vol_correlation,
      scenario_draw_params{params.seed, params.distribution, params.degrees_of_freedom}};
  cpu::omp_guard guard;  // the per-thread draws allocate
#pragma omp parallel num_threads(threads)
  {
    std::vector<double> eps, eta;
    guard.run([&] {
      eps.resize(n_under);
      eta.resize(n_under);
    });
#pragma omp for schedule(static)
    for (std::int64_t s = 0; s < n; ++s)
      if (!guard.failed())
        monte_carlo_scenario(in, static_cast<std::uint64_t>(s), eps.data(), eta.data(),
                             set.spot.data() + s, set.vol_shock.data() + s,
                             static_cast<std::uint64_t>(n));
  }
  guard.rethrow();
  return set;
}

}  // namespace msync
