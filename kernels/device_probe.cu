#include <cuda_runtime.h>

#include "cuda_entry.hpp"

namespace msync::cuda {

device_report probe_device() {
  device_report r;
  int count = 0;
  const cudaError_t status = cudaGetDeviceCount(&count);
  if (status != cudaSuccess) {
    (void)cudaGetLastError();
    r.reason = std::string("no usable CUDA device: ") + cudaGetErrorString(status);
    return r;
  }
  if (count == 0) {
    r.reason = "no CUDA device found";
    return r;
  }
  cudaDeviceProp prop{};
  if (cudaGetDeviceProperties(&prop, 0) != cudaSuccess) {
    (void)cudaGetLastError();
    r.reason = "cannot read the properties of CUDA device 0";
    return r;
  }
  r.usable = true;
  r.description = std::string(prop.name) + " (sm_" + std::to_string(prop.major) +
                  std::to_string(prop.minor) + ", " +
                  std::to_string(prop.totalGlobalMem >> 30) + " GiB)";
  return r;
}

}  // namespace msync::cuda
