// The CUDA library's own entry points against the include/ functions on the same inputs
// (docs/design.md section 6: values, greeks and horizon decay within 1e-9 relative, or 1e-9
// absolute near zero).
// tests/CMakeLists.txt compiles this folder only into builds with the CUDA backend; it skips
// without a usable device.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "cuda_entry.hpp"
#include "marginsync/backend_registry.hpp"

namespace msync {
namespace {

TEST(cuda_kernels, instrument_risks_match_the_cpu) {
  const backend_probe device = probe_backend("cuda");
  if (!device.usable) GTEST_SKIP() << device.reason;
  std::mt19937_64 rng(5);
  std::uniform_real_distribution<double> uni(0.0, 1.0);
  std::vector<contract_terms> terms;
  std::vector<valuation_inputs> inputs;
  const double h = 1.0 / 365.0, funding_periods = 3.0;
  // Sizes around a warp and several blocks: 1, 31, 32, 33 and 5000 instruments, with every input
  // that changes a price: own vol and tenor scaling, a marked future's basis, perpetual funding,
  // settled instruments and options expiring inside the horizon.
  for (std::size_t n : {1u, 31u, 32u, 33u, 5000u}) {
    terms.clear();
    inputs.clear();
    for (std::size_t i = 0; i < n; ++i) {
      const auto kind = static_cast<instrument_kind>(i % 4);
      terms.push_back(contract_terms{kind, uni(rng) < 0.5, 50 + 100 * uni(rng), 0.5 + uni(rng)});
      valuation_inputs x{50 + 100 * uni(rng), 0.1 + uni(rng), 0.05 * uni(rng),
                         0.1 * uni(rng) - 0.05,
                         (i % 7 == 0) ? -0.01 : (i % 5 == 0 ? 0.5 * h : 2.0 * uni(rng))};
      x.vol_term = 0.5 + uni(rng);
      x.funding_rate = 0.001 * (uni(rng) - 0.5);
      if (i % 3 == 0) x.basis = 0.95 + 0.1 * uni(rng);
      x.settled = i % 7 == 0;
      inputs.push_back(x);
    }
    const std::vector<instrument_risk> gpu =
        cuda::instrument_risks(terms, inputs, h, funding_periods);
    ASSERT_EQ(gpu.size(), n);
    for (std::size_t i = 0; i < n; ++i) {
      const instrument_risk cpu = price_instrument(terms[i], inputs[i], h, funding_periods);
      const double g[7] = {gpu[i].greeks.value, gpu[i].greeks.delta, gpu[i].greeks.gamma,
                           gpu[i].greeks.vega,  gpu[i].greeks.theta, gpu[i].decay,
                           gpu[i].vol_exposure};
      const double c[7] = {cpu.greeks.value, cpu.greeks.delta, cpu.greeks.gamma, cpu.greeks.vega,
                           cpu.greeks.theta, cpu.decay,        cpu.vol_exposure};
      for (int k = 0; k < 7; ++k)
        EXPECT_NEAR(g[k], c[k], 1e-9 * std::max(1.0, std::fabs(c[k])))
            << "instrument " << i << " field " << k;
    }
  }
}

}  // namespace
}  // namespace msync
