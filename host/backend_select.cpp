// Backend choice at run time (DESIGN 1): auto uses CUDA when this binary has it and a device is
// usable, otherwise the CPU, and says which; --backend cuda without a usable device is an error.
#include "marginsync/backend.hpp"
#include "marginsync/errors.hpp"

#ifdef MSYNC_HAS_CUDA
#include "cuda_entry.hpp"
#endif

namespace msync {

namespace {
// Why CUDA cannot run here, or empty when it can.
std::string cuda_unavailable_reason() {
#ifdef MSYNC_HAS_CUDA
  const cuda::device_report device = cuda::probe_device();
  if (!device.usable) return device.reason;
  // The device is there, but the scenario pipeline has no device implementation in this version:
  // only the instrument revaluation kernel exists (kernels/instrument_greeks.cu).
  return "found " + device.description +
         ", but this version of marginsync has no CUDA implementation of the margin pipeline yet";
#else
  return "this marginsync was built without CUDA (no nvcc at build time, or MSYNC_CUDA=OFF)";
#endif
}
}  // namespace

backend_selection select_backend(backend_choice choice, int cpu_threads) {
  backend_selection selection;
  if (choice == backend_choice::cpu) {
    selection.instance = make_cpu_backend(cpu_threads);
    selection.note = "backend: cpu (" + selection.instance->device() + ")";
    return selection;
  }
  const std::string reason = cuda_unavailable_reason();
  if (choice == backend_choice::cuda) throw backend_unavailable("--backend cuda: " + reason);
  selection.instance = make_cpu_backend(cpu_threads);
  selection.note = "backend: cpu (" + selection.instance->device() + "); CUDA not used: " + reason;
  return selection;
}

}  // namespace msync
