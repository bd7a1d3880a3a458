// Revaluation on the device: each instrument priced once, then one pass over the positions that
// sums them into exposures and accounts. The math is valuation.hpp's, as on the CPU.
#include <algorithm>

#include "cuda_check.cuh"
#include "cuda_entry.hpp"
#include "device_buffer.cuh"
#include "launchers.cuh"
#include "marginsync/account_revaluation.hpp"
#include "marginsync/errors.hpp"

namespace msync::cuda {

namespace {

// unit[i] = price_instrument (value, greeks, horizon decay, vol exposure) and base[i] = unit_value,
// as the CPU backend prices each instrument.
__global__ void instrument_risk_kernel(const contract_terms* terms, const valuation_inputs* inputs,
                                       instrument_risk* unit, double* base, std::uint32_t n,
                                       double horizon_years, double funding_periods) {
  for (std::uint32_t i = blockIdx.x * blockDim.x + threadIdx.x; i < n;
       i += gridDim.x * blockDim.x) {
    unit[i] = price_instrument(terms[i], inputs[i], horizon_years, funding_periods);
    if (base) base[i] = unit_value(terms[i], inputs[i]);
  }
}

// A thread per account (account_revaluation.hpp), in the CPU backend's order of summation.
// Neighbouring threads read neighbouring ranges, so the position arrays stream through L1/L2 once.
__global__ void account_revalue_kernel(chunk_view chunk, const contract_terms* terms,
                                       const valuation_inputs* inputs, const instrument_risk* unit,
                                       underlying_view market, revaluation_view out) {
  const std::uint32_t a = blockIdx.x * blockDim.x + threadIdx.x;
  if (a >= chunk.accounts) return;
  const account_revaluation_view v{chunk.exposure_underlying,
                                   chunk.exposure_position_begin,
                                   chunk.position_instrument,
                                   chunk.position_quantity,
                                   chunk.position_cost,
                                   terms,
                                   inputs,
                                   unit,
                                   market.spot,
                                   market.vol,
                                   market.impact_coefficient,
                                   market.daily_volume,
                                   out.exposure_delta,
                                   out.exposure_gamma,
                                   out.exposure_vega,
                                   out.exposure_theta,
                                   out.exposure_decay,
                                   out.exposure_vol_exposure};
  const account_totals t =
      revalue_account(v, chunk.account_exposure_begin[a], chunk.account_exposure_begin[a + 1],
                      chunk.collateral[a], chunk.credit_limit[a]);
  out.account_own_funds[a] = t.own_funds;
  out.account_equity[a] = t.equity;
  out.account_gross_notional[a] = t.gross_notional;
  out.account_floor_notional[a] = t.floor_notional;
  out.account_liquidity_addon[a] = t.liquidity_addon;
}

}  // namespace

void launch_instrument_risk(const contract_terms* terms, const valuation_inputs* inputs,
                            instrument_risk* unit, double* base, std::uint32_t n,
                            double horizon_years, double funding_periods, cudaStream_t stream) {
  if (n == 0) return;
  instrument_risk_kernel<<<elementwise_blocks(n), elementwise_threads, 0, stream>>>(
      terms, inputs, unit, base, n, horizon_years, funding_periods);
  MSYNC_CUDA_CHECK_LAUNCH();
}

void launch_account_revalue(const chunk_view& chunk, const contract_terms* terms,
                            const valuation_inputs* inputs, const instrument_risk* unit,
                            const underlying_view& market, const revaluation_view& out,
                            cudaStream_t stream) {
  if (chunk.accounts == 0) return;
  account_revalue_kernel<<<(chunk.accounts + elementwise_threads - 1) / elementwise_threads,
                           elementwise_threads, 0, stream>>>(chunk, terms, inputs, unit, market,
                                                             out);
  MSYNC_CUDA_CHECK_LAUNCH();
}

std::vector<instrument_risk> instrument_risks(const std::vector<contract_terms>& terms,
                                              const std::vector<valuation_inputs>& inputs,
                                              double horizon_years, double funding_periods) {
  MSYNC_EXPECTS(terms.size() == inputs.size(), "one set of market inputs per instrument");
  std::vector<instrument_risk> host;
  if (terms.empty()) return host;
  stream s;
  device_buffer<contract_terms> d_terms(terms.size(), s.get());
  device_buffer<valuation_inputs> d_inputs(inputs.size(), s.get());
  device_buffer<instrument_risk> d_out(terms.size(), s.get());
  d_terms.upload(terms, s.get());
  d_inputs.upload(inputs, s.get());
  launch_instrument_risk(d_terms.data(), d_inputs.data(), d_out.data(), nullptr,
                         static_cast<std::uint32_t>(terms.size()), horizon_years, funding_periods,
                         s.get());
  d_out.download(host, s.get());
  s.synchronize();
  return host;
}

void load_revalue_kernels() {
  cudaFuncAttributes attributes{};
  MSYNC_CUDA_TRY(cudaFuncGetAttributes(&attributes, instrument_risk_kernel));
  MSYNC_CUDA_TRY(cudaFuncGetAttributes(&attributes, account_revalue_kernel));
}

}  // namespace msync::cuda
