#include "progress.hpp"

#include <unistd.h>

#include <cmath>
#include <cstdio>

namespace msync::cli {

namespace {
constexpr auto terminal_interval = std::chrono::milliseconds(100);  // redraws of the bar
constexpr auto log_interval = std::chrono::seconds(5);              // lines in a log
constexpr int bar_width = 30;
}  // namespace

progress_reporter::progress_reporter(bool enabled)
    : enabled_(enabled),
      terminal_(enabled && ::isatty(STDERR_FILENO)),
      last_(std::chrono::steady_clock::now()) {}

bool progress_reporter::due() const {
  if (!enabled_) return false;
  const auto now = std::chrono::steady_clock::now();
  std::lock_guard<std::mutex> lock(mutex_);
  return now - last_ >= (terminal_ ? terminal_interval : log_interval);
}

void progress_reporter::update(const std::string& stage, double fraction,
                               const std::string& detail) {
  if (!enabled_) return;
  const auto now = std::chrono::steady_clock::now();
  std::unique_lock<std::mutex> lock(mutex_, std::try_to_lock);
  if (!lock.owns_lock()) return;  // another thread is drawing: this update is not needed
  // A new stage is drawn at once on a terminal; a log gets a line every few seconds at most.
  const bool new_stage = stage != last_stage_;
  if (!(terminal_ && new_stage) && now - last_ < (terminal_ ? terminal_interval : log_interval))
    return;
  last_ = now;
  last_stage_ = stage;
  std::string text = stage;
  if (fraction >= 0.0) {
    const double f = fraction > 1.0 ? 1.0 : fraction;
    const int percent = static_cast<int>(std::floor(f * 100.0));
    char buf[64];
    if (terminal_) {
      const int filled = static_cast<int>(f * bar_width);
      text += " [" + std::string(static_cast<std::size_t>(filled), '#') +
              std::string(static_cast<std::size_t>(bar_width - filled), ' ') + "]";
    }
    std::snprintf(buf, sizeof buf, " %3d%%", percent);
    text += buf;
  }
  if (!detail.empty()) text += " " + detail;
  if (terminal_) {
    std::fprintf(stderr, "\r\033[K%s", text.c_str());
    drawn_ = true;
  } else {
    std::fprintf(stderr, "progress: %s\n", text.c_str());
  }
  std::fflush(stderr);
}

std::function<void(const char*, double)> progress_reporter::callback() {
  if (!enabled_) return {};
  return [this](const char* stage, double fraction) { update(stage, fraction); };
}

void progress_reporter::erase_locked() {
  if (drawn_) {
    std::fputs("\r\033[K", stderr);
    std::fflush(stderr);
    drawn_ = false;
  }
}

void progress_reporter::line(const std::string& text) {
  std::lock_guard<std::mutex> lock(mutex_);
  erase_locked();
  std::fprintf(stderr, "%s\n", text.c_str());
}

void progress_reporter::done() {
  std::lock_guard<std::mutex> lock(mutex_);
  erase_locked();
  last_stage_.clear();
}

}  // namespace msync::cli
