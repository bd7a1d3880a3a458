#pragma once
// The backend registry: the one place that knows which backends this build has (the CPU always;
// CUDA when nvcc was found at build time), whether each can run here, and how to make one.
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "marginsync/backend.hpp"

namespace msync {

// The CPU backend's `full` scenario risk keeps a table of every instrument's P&L per scenario
// while it fits in this many bytes; beyond that it prices each position's scenarios on the fly
// (same numbers, slower).
constexpr std::size_t default_pnl_table_bytes = std::size_t{2} << 30;

// What a backend may be told at construction; each backend reads the fields that concern it.
struct backend_options {
  int cpu_threads = 0;                                    // CPU: OpenMP threads (0: all available)
  std::size_t pnl_table_bytes = default_pnl_table_bytes;  // CPU: see above
  std::size_t max_device_bytes = 0;  // CUDA: device memory cap (0: 90% of what is free)
  // CUDA: at most this many accounts per chunk (0: as many as fit). Forces a chunked run on a
  // small book, for tests and demonstrations.
  std::size_t max_chunk_accounts = 0;
};

// Whether a backend can run on this machine, and why not.
struct backend_probe {
  bool usable = false;
  std::string description;  // "CPU, 2 OpenMP threads", "NVIDIA H100 80GB HBM3 (sm_90, 79 GiB)"
  std::string reason;       // why it is not usable
};

// The backends built in, in preference order of `auto` reversed: "cpu", then "cuda" if built.
std::vector<std::string> built_backends();
// Throws std::invalid_argument for a name that is not built in.
backend_probe probe_backend(const std::string& name, const backend_options& options = {});
// Throws backend_unavailable (with the probe's reason) when the backend cannot run here.
std::unique_ptr<backend> make_backend(const std::string& name, const backend_options& options = {});

// The CPU backend, which every build has.
std::unique_ptr<backend> make_cpu_backend(int threads,
                                          std::size_t pnl_table_bytes = default_pnl_table_bytes);

enum class backend_choice : std::uint8_t { automatic, cpu, cuda };

struct backend_selection {
  std::unique_ptr<backend> instance;
  std::string note;  // what was chosen and why, for stderr
};

// auto: CUDA when built with it and a device is usable, else the CPU (the note says why).
// cuda: throws backend_unavailable with the reason when it cannot be used.
backend_selection select_backend(backend_choice choice, const backend_options& options);
backend_selection select_backend(backend_choice choice, int cpu_threads,
                                 std::size_t max_device_bytes = 0);

// An accelerator's peaks, for `marginsync bench`'s floors.
struct accelerator_peaks {
  std::string name;
  double memory_bandwidth = 0.0;   // bytes/s, measured by a device-to-device copy (read + write)
  double nominal_bandwidth = 0.0;  // bytes/s, from the memory clock and bus width
  double fp64_rate = 0.0;          // FP64 operations/s (an FMA counts 2), from clock and SMs
  double host_to_device = 0.0;     // bytes/s, measured from pageable host memory
  double l2_read_bandwidth = 0.0;  // bytes/s, measured reading a quarter of L2 again and again
};
// The usable accelerator's peaks, or nothing when none is usable (or built).
std::optional<accelerator_peaks> measure_accelerator_peaks();

}  // namespace msync
