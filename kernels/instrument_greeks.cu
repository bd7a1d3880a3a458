// Per-instrument unit value and greeks on the device: a thin kernel over valuation.hpp.
#include <algorithm>

#include "cuda_entry.hpp"
#include "marginsync/errors.hpp"
#include "device_buffer.cuh"

namespace msync::cuda {

namespace {
__global__ void instrument_greeks_kernel(const contract_terms* terms, const valuation_inputs* inputs,
                                         option_greeks* out, std::uint64_t n) {
  const std::uint64_t stride = static_cast<std::uint64_t>(gridDim.x) * blockDim.x;
  for (std::uint64_t i = blockIdx.x * static_cast<std::uint64_t>(blockDim.x) + threadIdx.x; i < n;
       i += stride)
    out[i] = unit_greeks(terms[i], inputs[i]);
}
}  // namespace

std::vector<option_greeks> instrument_greeks(const std::vector<contract_terms>& terms,
                                             const std::vector<valuation_inputs>& inputs) {
  MSYNC_EXPECTS(terms.size() == inputs.size(), "one set of market inputs per instrument");
  std::vector<option_greeks> host;
  if (terms.empty()) return host;
  stream s;
  device_buffer<contract_terms> d_terms(terms.size(), s.get());
  device_buffer<valuation_inputs> d_inputs(inputs.size(), s.get());
  device_buffer<option_greeks> d_out(terms.size(), s.get());
  d_terms.upload(terms, s.get());
  d_inputs.upload(inputs, s.get());
  const unsigned block = 256;
  const unsigned grid = static_cast<unsigned>(std::min<std::size_t>((terms.size() + block - 1) / block, 65535));
  instrument_greeks_kernel<<<grid, block, 0, s.get()>>>(d_terms.data(), d_inputs.data(), d_out.data(),
                                                        terms.size());
  MSYNC_CUDA_CHECK_LAUNCH();
  d_out.download(host, s.get());
  s.synchronize();
  return host;
}

}  // namespace msync::cuda
