// The CUDA library's own entry points against the include/ functions on the same inputs
// (docs/design.md section 6: values and greeks within 1e-9 relative, or 1e-9 absolute near zero).
// tests/CMakeLists.txt compiles this folder only into builds with the CUDA backend; it skips
// without a usable device.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "cuda_entry.hpp"
#include "marginsync/backend_registry.hpp"

namespace msync {
namespace {

TEST(cuda_kernels, instrument_greeks_match_the_cpu) {
  const backend_probe device = probe_backend("cuda");
  if (!device.usable) GTEST_SKIP() << device.reason;
  std::mt19937_64 rng(5);
  std::uniform_real_distribution<double> uni(0.0, 1.0);
  std::vector<contract_terms> terms;
  std::vector<valuation_inputs> inputs;
  // Sizes around a warp and several blocks: 1, 31, 32, 33 and 5000 instruments.
  for (std::size_t n : {1u, 31u, 32u, 33u, 5000u}) {
    terms.clear();
    inputs.clear();
    for (std::size_t i = 0; i < n; ++i) {
      const auto kind = static_cast<instrument_kind>(i % 4);
      terms.push_back(contract_terms{kind, uni(rng) < 0.5, 50 + 100 * uni(rng), 0.5 + uni(rng)});
      inputs.push_back(valuation_inputs{50 + 100 * uni(rng), 0.1 + uni(rng), 0.05 * uni(rng),
                                        0.1 * uni(rng) - 0.05,
                                        (i % 7 == 0) ? -0.01 : 2.0 * uni(rng)});
    }
    const std::vector<option_greeks> gpu = cuda::instrument_greeks(terms, inputs);
    ASSERT_EQ(gpu.size(), n);
    for (std::size_t i = 0; i < n; ++i) {
      const option_greeks cpu = unit_greeks(terms[i], inputs[i]);
      const double g[5] = {gpu[i].value, gpu[i].delta, gpu[i].gamma, gpu[i].vega, gpu[i].theta};
      const double c[5] = {cpu.value, cpu.delta, cpu.gamma, cpu.vega, cpu.theta};
      for (int k = 0; k < 5; ++k)
        EXPECT_NEAR(g[k], c[k], 1e-9 * std::max(1.0, std::fabs(c[k])))
            << "instrument " << i << " field " << k;
    }
  }
}

}  // namespace
}  // namespace msync
