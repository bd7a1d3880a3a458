#pragma once
// `marginsync bench`: each stage of each backend timed after a warm-up as the median of repeated
// runs (device events for GPU stages, a steady clock for CPU stages), with the bytes the stage
// must move and the FP64 operations it must do, and from those the stage's floor on this machine.
//
// The floor of a stage is max(bytes / memory bandwidth, operations / FP64 rate): the time it would
// take if it only moved its compulsory bytes at the measured bandwidth, or only did its
// arithmetic at the peak rate. `fraction` = floor / measured time (1 = at the hardware's limit).
// The byte and operation counts of each stage are written down in stage_work (bench_run.cpp).
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "io/load_inputs.hpp"
#include "marginsync/backend.hpp"
#include "peak_memory.hpp"

namespace msync {

// What a machine can do, for the floors. Zero where unknown.
struct machine_peaks {
  std::string name;
  double memory_bandwidth = 0.0;  // bytes/s, measured (copy: read + write)
  double fp64_rate = 0.0;         // operations/s: nominal on the GPU, measured on the CPU
  double fp32_rate = 0.0;  // operations/s, measured on the CPU (its float loss loop); 0 on the GPU
  double link_bandwidth = 0.0;  // bytes/s host to device (GPU); 0 on the CPU
  // bytes/s of reads that hit L2 (GPU, measured): the floor of gathers that stay on chip, where
  // the stage's model has them (stage_work_t::on_chip_bytes); 0 on the CPU: not modelled there.
  double on_chip_bandwidth = 0.0;
};

// The CPU's memory bandwidth (an OpenMP copy) and FP64 rate (cpu::fp64_rate_probe on every
// thread), measured with `threads` threads.
machine_peaks measure_cpu_peaks(int threads);

struct stage_result {
  std::string backend;  // cpu, cuda
  std::string method;   // full, delta_gamma, or "" for stages that do not depend on it
  std::string stage;
  double seconds = 0.0;  // median
  std::int64_t repeats = 0;
  double bytes = 0.0;       // compulsory bytes moved
  double operations = 0.0;  // FP64 operations (an FMA counts 2)
  double floor_seconds = 0.0;
  double fraction = 0.0;           // floor / seconds
  double accounts_fraction = 1.0;  // share of the book's accounts this stage ran on
  std::int64_t positions = 0;      // positions of the book this stage ran on
  // The peak resident memory of the process during the call that ran this stage (peak_memory.hpp;
  // the stages one call reports share it); 0 where not measured.
  std::int64_t peak_rss_bytes = 0;
};

struct bench_options {
  std::int64_t scenarios = 10000;
  int repeats = 5;  // timed runs after one warm-up
  int threads = 0;  // CPU threads (0: all)
  // `full` on the CPU runs on this share of the accounts (the first ones) and reports its
  // throughput; negative: choose so that about 2e10 position-scenarios are priced.
  double cpu_full_fraction = -1.0;
  std::vector<risk_method> methods{risk_method::delta_gamma, risk_method::full};
  peak_memory* memory = nullptr;  // reads each call's peak memory; none: not measured
  // Across ranks (docs/design.md 16): called after each scenario risk with this rank's share of
  // the result, to put the ranks' shares together; timed as the stage `combine`. Empty in one
  // process.
  std::function<void(const risk_result&, const risk_params&)> combine;
  // Across ranks (docs/design.md 16.6), where a rank may hold only its part of the book: `full` on
  // the CPU runs on the whole book's first `full_prefix` accounts (of its `whole_accounts`, chosen
  // on rank 0 by full_prefix_accounts), and hold_first(full_prefix) gives the book of this rank's
  // part of them, the backend's share set for it; hold_first(0) sets the share of the rank's part
  // of the whole book again. Empty in one process (book_prefix of the book given).
  std::size_t full_prefix = 0, whole_accounts = 0;
  std::function<book&(std::size_t first_accounts)> hold_first;
};

// The accounts `full` on the CPU runs on in `b` (the first ones): --cpu-full-fraction of them, or
// when that is not in (0, 1], enough for about 2e10 position-scenarios; at least 1.
std::size_t full_prefix_accounts(const book& b, std::int64_t scenarios, double cpu_full_fraction);

// Times every stage of `engine` on `in` (its risk parameters with options.scenarios), logging one
// line per measurement to `log`.
std::vector<stage_result> bench_backend(backend& engine, const machine_peaks& peaks,
                                        book_inputs& in, const bench_options& options,
                                        const std::function<void(const std::string&)>& log);

// The `load` stage: the book at `where` loaded and validated min(repeats, 3) times after a warm-up
// load that fills the page cache, into `in`; the median time, the snapshot's size as its bytes
// (0 for a directory; the caller sets the floor) and the peak memory of the timed loads (the
// previous book is released before each, so one book is resident, as in `margin`).
// With `pick`, only the accounts it chooses (load_book_at).
stage_result time_load(const book_location& where, book_inputs& in, int repeats,
                       peak_memory* memory, const book_part_picker& pick = {});

// The floor of one stage (its compulsory bytes and operations on `b`, stage_work) on `peaks`, s;
// its operations at the FP32 rate when `fp32_operations` (the CPU's float delta_gamma losses).
double stage_floor_seconds(const std::string& stage, const std::string& method, const book& b,
                           std::size_t underlyings, std::int64_t scenarios,
                           const machine_peaks& peaks, bool fp32_operations = false);

// The first `accounts` accounts of a book, with their positions and exposures.
book book_prefix(const book& b, std::size_t accounts);

}  // namespace msync
