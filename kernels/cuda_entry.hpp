#pragma once
// The CUDA library's entry points as the host sees them: plain C++ types only, so that host/ code
// and the CPU-only build never include a CUDA header.
#include <string>
#include <vector>

#include "marginsync/black_scholes.hpp"
#include "marginsync/valuation.hpp"

namespace msync::cuda {

struct device_report {
  bool usable = false;
  std::string description;  // "NVIDIA H100 80GB HBM3 (sm_90, 79 GiB)"
  std::string reason;       // why not usable
};

// Whether a CUDA device can be used, and which (device 0).
device_report probe_device();

// Unit value and greeks of each instrument on the device (valuation.hpp's unit_greeks), for the
// given per-instrument market inputs. The first device-side stage of revaluation.
std::vector<option_greeks> instrument_greeks(const std::vector<contract_terms>& terms,
                                             const std::vector<valuation_inputs>& inputs);

}  // namespace msync::cuda
