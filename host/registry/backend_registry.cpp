// Backend choice at run time (DESIGN 1): auto uses CUDA when this binary has it and a device is
// usable, otherwise the CPU, and says which; --backend cuda without a usable device is an error.
#include "marginsync/backend.hpp"
#include "marginsync/errors.hpp"

#ifdef MSYNC_HAS_CUDA
#include "cuda_entry.hpp"
#endif

namespace msync {

backend_selection select_backend(backend_choice choice, int cpu_threads, std::size_t max_device_bytes) {
  backend_selection selection;
  if (choice == backend_choice::cpu) {
    selection.instance = make_cpu_backend(cpu_threads);
    selection.note = "backend: cpu (" + selection.instance->device() + ")";
    return selection;
  }
#ifdef MSYNC_HAS_CUDA
  const cuda::device_report device = cuda::probe_device();
  if (device.usable) {
    selection.instance = cuda::make_cuda_backend(cuda::cuda_backend_options{0, max_device_bytes});
    selection.note = "backend: cuda (" + device.description + ")";
    return selection;
  }
  const std::string reason = device.reason;
#else
  (void)max_device_bytes;
  const std::string reason = "this marginsync was built without CUDA (no nvcc at build time, or MSYNC_CUDA=OFF)";
#endif
  if (choice == backend_choice::cuda) throw backend_unavailable("--backend cuda: " + reason);
  selection.instance = make_cpu_backend(cpu_threads);
  selection.note = "backend: cpu (" + selection.instance->device() + "); CUDA not used: " + reason;
  return selection;
}

}  // namespace msync
