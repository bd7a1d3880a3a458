#pragma once
// CUDA error handling: every runtime call goes through MSYNC_CUDA_TRY, which reads and clears the
// error and throws with the call, the error's name and string, and the place.
// MSYNC_CUDA_CHECK_LAUNCH follows every kernel launch.
#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

namespace msync::cuda {

class cuda_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

inline void throw_cuda_error(cudaError_t status, const char* call, const char* file, int line) {
  throw cuda_error(std::string(file) + ":" + std::to_string(line) + ": " + call + " failed: " +
                   cudaGetErrorName(status) + " (" + cudaGetErrorString(status) + ")");
}

}  // namespace msync::cuda

#define MSYNC_CUDA_TRY(call)                                                     \
  do {                                                                           \
    const cudaError_t msync_status_ = (call);                                    \
    if (msync_status_ != cudaSuccess) {                                          \
      (void)cudaGetLastError();                                                  \
      ::msync::cuda::throw_cuda_error(msync_status_, #call, __FILE__, __LINE__); \
    }                                                                            \
  } while (0)

#define MSYNC_CUDA_CHECK_LAUNCH() MSYNC_CUDA_TRY(cudaGetLastError())
