#pragma once
// The peak resident memory of this process during one stage of `marginsync bench`.
//
// Linux keeps the high-water mark of the resident set (VmHWM in /proc/self/status); writing "5"
// to /proc/self/clear_refs resets it to the current resident set. So a stage's peak is read as:
// reset before the stage, VmHWM after. It counts everything resident in the process at the time
// (the book, the backend's copy and revaluation) plus the stage's own working set; memory freed
// before the stage is first handed back to the system (glibc's malloc_trim), so that what an
// earlier stage or point freed is not counted. Where the reset is refused (kernels before 4.0, some
// sandboxes), or on other systems, the figure is getrusage's ru_maxrss: the peak of the whole
// process so far, an upper bound on the stage's.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace msync {

// The value of `key` (VmHWM, VmRSS, ...) in a /proc/PID/status text, in bytes ("VmHWM:  1234 kB"
// is 1234 * 1024); nullopt when the key is missing or its value is not "<integer> kB".
std::optional<std::int64_t> status_bytes(std::string_view status_text, std::string_view key);

class peak_memory {
 public:
  // Resets the high-water mark: the next read() is the peak since this call. Says whether the
  // reset took; after a refusal, read() is the process's peak so far.
  bool reset();
  // The peak resident set in bytes since the last reset (or since the process began, see
  // per_stage()); 0 when no figure is available.
  std::int64_t read() const;
  // True while every reset so far took: each read() covers only its stage.
  bool per_stage() const { return per_stage_; }
  // How the figures were taken, for the log and the JSON: "VmHWM after clear_refs" or
  // "ru_maxrss (process peak so far): <why>".
  const std::string& method() const { return method_; }

 private:
  bool per_stage_ = true;
  std::string method_ = "VmHWM after clear_refs";
};

}  // namespace msync
