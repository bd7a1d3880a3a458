#pragma once
// The CUDA library's entry points as the host sees them: plain C++ types only, so that host/ code
// and the CPU-only build never include a CUDA header.
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "marginsync/backend_registry.hpp"
#include "marginsync/black_scholes.hpp"
#include "marginsync/valuation.hpp"

namespace msync::cuda {

struct device_report {
  bool usable = false;
  std::string description;  // "NVIDIA H100 80GB HBM3 (sm_90, 79 GiB)", whenever device 0 was found
  std::string reason;       // why not usable: no driver, a driver older than the runtime, no
                            // device, or a device older than every architecture compiled in
};

// Whether a CUDA device can be used, and which (device 0). Checks the device's compute capability
// against the architectures compiled in (and the fat binary) without launching a kernel.
device_report probe_device();

struct cuda_backend_options {
  int device = 0;
  // Upper bound on the device memory the backend uses; 0: 90% of what is free at load_book. A
  // book that does not fit beside its scenarios is processed in chunks of accounts.
  std::size_t max_device_bytes = 0;
  // At most this many accounts per chunk (0: as many as fit): forces a chunked run on a small
  // book, for tests and demonstrations. Chunks are whole bad-debt groups, at least one.
  std::size_t max_chunk_accounts = 0;
};

// The CUDA backend. Throws cuda_error (a std::runtime_error) when the device cannot be used.
std::unique_ptr<backend> make_cuda_backend(const cuda_backend_options& options);

// Each instrument's unit value, greeks, horizon decay and vol exposure on the device
// (valuation.hpp's price_instrument), for the given per-instrument market inputs: the first stage
// of revaluation, exposed for its test.
std::vector<instrument_risk> instrument_risks(const std::vector<contract_terms>& terms,
                                              const std::vector<valuation_inputs>& inputs,
                                              double horizon_years, double funding_periods);

// What `marginsync bench` compares its stage times with (backend_registry.hpp's type).
accelerator_peaks measure_device_peaks();

}  // namespace msync::cuda
