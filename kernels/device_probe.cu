#include <cuda_runtime.h>

#include <algorithm>
#include <string>
#include <vector>

#include "cuda_entry.hpp"

// The architectures this library was compiled for, from CMake's CMAKE_CUDA_ARCHITECTURES with ','
// for ';' ("80,90", "80-real,90-virtual"); "all" or "native" when CMake chose them.
#ifndef MSYNC_CUDA_ARCHITECTURES
#define MSYNC_CUDA_ARCHITECTURES ""
#endif

namespace msync::cuda {

namespace {

// An empty kernel compiled with the same architectures as every kernel of the library: whether the
// runtime finds code for the device in its fat binary is whether the library can run there.
__global__ void probe_kernel() {}

struct arch {
  int cc = 0;        // 90 for sm_90
  bool sass = true;  // a cubin for exactly that major version ("90", "90-real")
  bool ptx =
      true;  // PTX that the driver can compile for that or a later device ("90", "90-virtual")
};

// "80,90-real,100-virtual" -> {80 sass+ptx, 90 sass, 100 ptx}; words that are not numbers ("all",
// "native") give an empty list: the fat binary is then asked instead.
std::vector<arch> compiled_architectures() {
  std::vector<arch> out;
  const std::string list = MSYNC_CUDA_ARCHITECTURES;
  std::size_t start = 0;
  while (start <= list.size()) {
    std::size_t end = list.find(',', start);
    if (end == std::string::npos) end = list.size();
    const std::string word = list.substr(start, end - start);
    start = end + 1;
    std::size_t digits = 0;
    while (digits < word.size() && word[digits] >= '0' && word[digits] <= '9') ++digits;
    if (digits == 0) return {};
    arch a;
    a.cc = std::stoi(word.substr(0, digits));
    const std::string suffix = word.substr(digits);
    if (suffix == "-real") {
      a.ptx = false;
    } else if (suffix == "-virtual") {
      a.sass = false;
    } else if (!suffix.empty()) {
      return {};  // "90a" and the like: leave it to the fat binary
    }
    out.push_back(a);
  }
  return out;
}

std::string arch_names(const std::vector<arch>& archs) {
  std::string s;
  for (const arch& a : archs) {
    if (!s.empty()) s += ", ";
    s += (a.sass ? "sm_" : "compute_") + std::to_string(a.cc);
    if (a.sass && a.ptx) s += "+PTX";
  }
  return s;
}

// Whether code compiled for `archs` runs on a device of compute capability `cc` (major*10+minor):
// a cubin runs on the same major version at the same or a later minor; PTX on any device at least
// as new, compiled by the driver.
bool runs_on(const std::vector<arch>& archs, int cc) {
  return std::any_of(archs.begin(), archs.end(), [cc](const arch& a) {
    return (a.sass && a.cc / 10 == cc / 10 && a.cc <= cc) || (a.ptx && a.cc <= cc);
  });
}

std::string version_text(int v) {  // 13000 -> "13.0"
  return std::to_string(v / 1000) + "." + std::to_string((v % 1000) / 10);
}

}  // namespace

device_report probe_device() {
  device_report r;

  // cudaGetDeviceCount reports a missing driver as an "insufficient driver", like an old one;
  // cudaDriverGetVersion tells them apart (0: no libcuda.so.1 found, or the toolkit's stub).
  int driver = 0, runtime = 0;
  (void)cudaDriverGetVersion(&driver);
  (void)cudaRuntimeGetVersion(&runtime);
  int count = 0;
  const cudaError_t status = cudaGetDeviceCount(&count);
  if (status != cudaSuccess) {
    (void)cudaGetLastError();
    if (status == cudaErrorStubLibrary) {
      r.reason =
          "libcuda.so.1 is the CUDA toolkit's stub, not a driver (a stubs directory is on "
          "the library path)";
    } else if (status == cudaErrorInsufficientDriver && driver == 0) {
      r.reason = "no NVIDIA driver installed (libcuda.so.1 not found)";
    } else if (status == cudaErrorInsufficientDriver) {
      r.reason = "the NVIDIA driver (CUDA " + version_text(driver) +
                 ") is older than the CUDA runtime this build was linked with (CUDA " +
                 version_text(runtime) + "); update the driver";
    } else if (status == cudaErrorNoDevice) {
      r.reason = "no CUDA device found (driver CUDA " + version_text(driver) + " is installed)";
    } else {
      r.reason = std::string("the CUDA driver cannot be used: ") + cudaGetErrorName(status) + " (" +
                 cudaGetErrorString(status) + ")";
    }
    return r;
  }
  if (count == 0) {
    r.reason = "no CUDA device found (driver CUDA " + version_text(driver) + " is installed)";
    return r;
  }

  cudaDeviceProp prop{};
  const cudaError_t props = cudaGetDeviceProperties(&prop, 0);
  if (props != cudaSuccess) {
    (void)cudaGetLastError();
    r.reason =
        std::string("cannot read the properties of CUDA device 0: ") + cudaGetErrorString(props);
    return r;
  }
  r.description = std::string(prop.name) + " (sm_" + std::to_string(prop.major) +
                  std::to_string(prop.minor) + ", " + std::to_string(prop.totalGlobalMem >> 30) +
                  " GiB)";
  const int cc = prop.major * 10 + prop.minor;
  const std::vector<arch> archs = compiled_architectures();
  const std::string built_for =
      archs.empty() ? std::string("CMAKE_CUDA_ARCHITECTURES=") + MSYNC_CUDA_ARCHITECTURES
                    : arch_names(archs);

  // The compute capability against the architectures compiled in, before any launch.
  if (!archs.empty() && !runs_on(archs, cc)) {
    const bool older =
        std::all_of(archs.begin(), archs.end(), [cc](const arch& a) { return cc < a.cc; });
    r.reason = r.description + ": compute capability " + std::to_string(prop.major) + "." +
               std::to_string(prop.minor) +
               (older ? " is older than every architecture compiled in ("
                      : " has no code among the architectures compiled in (") +
               built_for + "); rebuild with -DCMAKE_CUDA_ARCHITECTURES=" + std::to_string(cc);
    return r;
  }
  // And the fat binary itself (the only check for "all", "native" or "90a"): does the runtime find
  // an image of the kernels for this device? It also creates the context, so a device that is
  // present but cannot be used (exclusive, out of memory) shows here rather than at first launch.
  cudaFuncAttributes attr{};
  const cudaError_t image = cudaFuncGetAttributes(&attr, probe_kernel);
  if (image != cudaSuccess) {
    (void)cudaGetLastError();
    if (image == cudaErrorNoKernelImageForDevice || image == cudaErrorInvalidDeviceFunction) {
      r.reason = r.description + ": no kernel image for compute capability " +
                 std::to_string(prop.major) + "." + std::to_string(prop.minor) +
                 " in this build (compiled for " + built_for +
                 "); rebuild with -DCMAKE_CUDA_ARCHITECTURES=" + std::to_string(cc);
    } else if (image == cudaErrorUnsupportedPtxVersion) {
      r.reason =
          r.description + ": the driver (CUDA " + version_text(driver) +
          ") cannot compile this build's PTX (CUDA " + version_text(runtime) +
          "); update the driver, or rebuild with -DCMAKE_CUDA_ARCHITECTURES=" + std::to_string(cc);
    } else {
      r.reason = r.description + " cannot be used: " + cudaGetErrorName(image) + " (" +
                 cudaGetErrorString(image) + ")";
    }
    return r;
  }
  r.usable = true;
  return r;
}

}  // namespace msync::cuda
