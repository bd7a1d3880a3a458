#pragma once
// Progress of a long command on stderr: a bar redrawn in place on a terminal, a plain line every
// few seconds otherwise (a log, a pipe); nothing when disabled (-q). Throttled, so calling it on
// every item of a loop costs a clock read. The bar line is erased when done, and before any other
// line is printed through line().
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>

namespace msync::cli {

class progress_reporter {
 public:
  explicit progress_reporter(bool enabled);
  ~progress_reporter() { done(); }
  progress_reporter(const progress_reporter&) = delete;
  progress_reporter& operator=(const progress_reporter&) = delete;

  // `fraction` within [0, 1], or negative when the total is not known (a live feed): the detail
  // alone is shown then. `detail` is built only when a line is due (see due()).
  void update(const std::string& stage, double fraction, const std::string& detail = "");
  // Whether update() would draw now: a caller can skip building its detail text otherwise.
  bool due() const;
  // A callback for backend::set_progress and margin_request::progress.
  std::function<void(const char* stage, double fraction)> callback();
  // Prints one line on stderr, the bar erased first (it is redrawn by the next update).
  void line(const std::string& text);
  // Erases the bar.
  void done();

  bool enabled() const { return enabled_; }

 private:
  void erase_locked();

  bool enabled_, terminal_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point last_{};
  std::string last_stage_;
  mutable std::mutex mutex_;
};

}  // namespace msync::cli
