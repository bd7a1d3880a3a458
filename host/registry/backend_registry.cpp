// The backend registry (backend_registry.hpp): the only host code that knows whether this build
// has the CUDA backend. A CPU-only build compiles the same file without the CUDA entries.
#include "marginsync/backend_registry.hpp"

#include <stdexcept>

#include "marginsync/errors.hpp"

#ifdef MSYNC_HAS_CUDA
#include "cuda_entry.hpp"
#endif

namespace msync {

namespace {

constexpr const char* without_cuda =
    "this marginsync was built without CUDA (no nvcc at build time, or MSYNC_CUDA=OFF)";

void check_known(const std::string& name) {
  for (const std::string& built : built_backends())
    if (built == name) return;
  throw std::invalid_argument("unknown backend '" + name + "'" +
                              (name == "cuda" ? std::string(": ") + without_cuda : ""));
}

#ifdef MSYNC_HAS_CUDA
// The CUDA backend, once a probe found it usable.
std::unique_ptr<backend> make_cuda(const backend_options& options) {
  cuda::cuda_backend_options o;
  o.max_device_bytes = options.max_device_bytes;
  o.max_chunk_accounts = options.max_chunk_accounts;
  return cuda::make_cuda_backend(o);
}
#endif

}  // namespace

std::vector<std::string> built_backends() {
#ifdef MSYNC_HAS_CUDA
  return {"cpu", "cuda"};
#else
  return {"cpu"};
#endif
}

backend_probe probe_backend(const std::string& name, const backend_options& options) {
  check_known(name);
  if (name == "cpu")
    return backend_probe{true, make_cpu_backend(options.cpu_threads)->device(), {}};
#ifdef MSYNC_HAS_CUDA
  const cuda::device_report device = cuda::probe_device();
  return backend_probe{device.usable, device.description, device.reason};
#else
  return backend_probe{false, {}, without_cuda};
#endif
}

std::unique_ptr<backend> make_backend(const std::string& name, const backend_options& options) {
  check_known(name);
  if (name == "cpu") return make_cpu_backend(options.cpu_threads, options.pnl_table_bytes);
#ifdef MSYNC_HAS_CUDA
  const backend_probe probe = probe_backend(name, options);
  if (!probe.usable) throw backend_unavailable("--backend cuda: " + probe.reason);
  return make_cuda(options);
#else
  throw backend_unavailable(std::string("--backend cuda: ") + without_cuda);
#endif
}

backend_selection select_backend(backend_choice choice, const backend_options& options) {
  backend_selection selection;
  if (choice == backend_choice::cpu) {
    selection.instance = make_backend("cpu", options);
    selection.note = "backend: cpu (" + selection.instance->device() + ")";
    return selection;
  }
#ifdef MSYNC_HAS_CUDA
  const backend_probe gpu = probe_backend("cuda", options);
  if (gpu.usable) {
    selection.instance = make_cuda(options);  // probed just above
    selection.note = "backend: cuda (" + gpu.description + ")";
    return selection;
  }
  const std::string reason = gpu.reason;
#else
  const std::string reason = without_cuda;
#endif
  if (choice == backend_choice::cuda) throw backend_unavailable("--backend cuda: " + reason);
  selection.instance = make_backend("cpu", options);
  selection.note = "backend: cpu (" + selection.instance->device() + "); CUDA not used: " + reason;
  return selection;
}

backend_selection select_backend(backend_choice choice, int cpu_threads,
                                 std::size_t max_device_bytes) {
  backend_options options;
  options.cpu_threads = cpu_threads;
  options.max_device_bytes = max_device_bytes;
  return select_backend(choice, options);
}

std::optional<accelerator_peaks> measure_accelerator_peaks() {
#ifdef MSYNC_HAS_CUDA
  if (!cuda::probe_device().usable) return std::nullopt;
  return cuda::measure_device_peaks();
#else
  return std::nullopt;
#endif
}

}  // namespace msync
