// The scenario set on the device, from the same Philox streams and the same scenario.hpp
// functions as the CPU: scenario s is a pure function of (seed, s), so both backends feed their
// loss functions identical inputs up to the last bits of the device's exp, log, expm1, sincos and
// erfc (CUDA's libdevice, not the host's libm); the arithmetic around them rounds as the host's
// (no fused multiply-add on either side, CMakeLists.txt).
#include <algorithm>

#include "cuda_check.cuh"
#include "launchers.cuh"
#include "marginsync/delta_gamma.hpp"

namespace msync::cuda {

namespace {

// A thread per scenario. The independent normals of the scenario's underlyings sit in local
// memory (up to max_local_underlyings) or in global scratch.
__global__ void monte_carlo_kernel(monte_carlo_inputs in, std::int64_t n, double* spot_out,
                                   double* shock_out, double* scratch) {
  double local_eps[max_local_underlyings];
  double local_eta[max_local_underlyings];
  const std::uint64_t stride = static_cast<std::uint64_t>(gridDim.x) * blockDim.x;
  for (std::uint64_t s = blockIdx.x * static_cast<std::uint64_t>(blockDim.x) + threadIdx.x;
       s < static_cast<std::uint64_t>(n); s += stride) {
    double* eps = scratch ? scratch + s * 2 * in.underlyings : local_eps;
    double* eta = scratch ? eps + in.underlyings : local_eta;
    monte_carlo_scenario(in, s, eps, eta, spot_out + s, shock_out + s,
                         static_cast<std::uint64_t>(n));
  }
}

__global__ void given_scenarios_kernel(const double* market_spot, const double* spot_return,
                                       const double* vol_change, std::int64_t n,
                                       std::uint32_t underlyings, double* spot_out,
                                       double* shock_out) {
  const std::uint64_t total = static_cast<std::uint64_t>(n) * underlyings;
  const std::uint64_t stride = static_cast<std::uint64_t>(gridDim.x) * blockDim.x;
  for (std::uint64_t cell = blockIdx.x * static_cast<std::uint64_t>(blockDim.x) + threadIdx.x;
       cell < total; cell += stride) {
    const std::uint64_t s = cell / underlyings, u = cell % underlyings;
    const shocked_market m = given_scenario(market_spot[u], spot_return[cell], vol_change[cell]);
    spot_out[u * n + s] = m.spot;
    shock_out[u * n + s] = m.vol_shock;
  }
}

__global__ void scenario_moves_kernel(const double* market_spot, scenario_view set, double* d_spot,
                                      double* d_vol) {
  const std::uint64_t total = static_cast<std::uint64_t>(set.count) * set.underlyings;
  const std::uint64_t stride = static_cast<std::uint64_t>(gridDim.x) * blockDim.x;
  for (std::uint64_t cell = blockIdx.x * static_cast<std::uint64_t>(blockDim.x) + threadIdx.x;
       cell < total; cell += stride) {
    const std::uint64_t u = cell / static_cast<std::uint64_t>(set.count);
    d_spot[cell] = set.spot[cell] - market_spot[u];
    d_vol[cell] = relative_vol_move(set.vol_shock[cell], set.vol_drift);
  }
}

// A thread per (instrument, scenario), consecutive threads on consecutive scenarios of one
// instrument, so the scenario rows are read and the table row written coalesced.
__global__ void pnl_table_kernel(instrument_view ins, pricing_view pricing, scenario_view set,
                                 double* table) {
  const std::uint64_t n = static_cast<std::uint64_t>(set.count);
  const std::uint64_t total = n * ins.count;
  const std::uint64_t stride = static_cast<std::uint64_t>(gridDim.x) * blockDim.x;
  for (std::uint64_t cell = blockIdx.x * static_cast<std::uint64_t>(blockDim.x) + threadIdx.x;
       cell < total; cell += stride) {
    const std::uint64_t i = cell / n, s = cell % n;
    const std::uint32_t u = ins.underlying[i];
    const contract_terms c = ins.terms[i];
    const valuation_inputs x = pricing.inputs[i];
    const valuation_inputs later =
        horizon_inputs(x, set.spot[u * n + s], set.vol_shock[u * n + s], set.vol_drift,
                       pricing.horizon_years, set.term_scaled);
    table[cell] =
        unit_value(c, later) - pricing.base_value[i] + unit_funding(c, x, pricing.funding_periods);
  }
}

}  // namespace

void launch_monte_carlo(const monte_carlo_inputs& in, std::int64_t n, double* spot_out,
                        double* shock_out, double* scratch, cudaStream_t stream) {
  if (n == 0 || in.underlyings == 0) return;
  monte_carlo_kernel<<<elementwise_blocks(static_cast<std::uint64_t>(n)), elementwise_threads, 0,
                       stream>>>(in, n, spot_out, shock_out,
                                 in.underlyings > max_local_underlyings ? scratch : nullptr);
  MSYNC_CUDA_CHECK_LAUNCH();
}

void launch_given_scenarios(const double* market_spot, const double* spot_return,
                            const double* vol_change, std::int64_t n, std::uint32_t underlyings,
                            double* spot_out, double* shock_out, cudaStream_t stream) {
  const std::uint64_t total = static_cast<std::uint64_t>(n) * underlyings;
  if (total == 0) return;
  given_scenarios_kernel<<<elementwise_blocks(total), elementwise_threads, 0, stream>>>(
      market_spot, spot_return, vol_change, n, underlyings, spot_out, shock_out);
  MSYNC_CUDA_CHECK_LAUNCH();
}

void launch_scenario_moves(const double* market_spot, const scenario_view& set, double* d_spot,
                           double* d_vol, cudaStream_t stream) {
  const std::uint64_t total = static_cast<std::uint64_t>(set.count) * set.underlyings;
  if (total == 0) return;
  scenario_moves_kernel<<<elementwise_blocks(total), elementwise_threads, 0, stream>>>(
      market_spot, set, d_spot, d_vol);
  MSYNC_CUDA_CHECK_LAUNCH();
}

void launch_pnl_table(const instrument_view& ins, const pricing_view& pricing,
                      const scenario_view& set, double* table, cudaStream_t stream) {
  const std::uint64_t total = static_cast<std::uint64_t>(set.count) * ins.count;
  if (total == 0) return;
  pnl_table_kernel<<<elementwise_blocks(total), elementwise_threads, 0, stream>>>(ins, pricing, set,
                                                                                  table);
  MSYNC_CUDA_CHECK_LAUNCH();
}

}  // namespace msync::cuda
