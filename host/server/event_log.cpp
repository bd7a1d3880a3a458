#include "server/event_log.hpp"

#include <algorithm>

namespace msync::server {

void event_log::append(const std::vector<std::string>& lines) {
  if (lines.empty()) return;
  {
    std::lock_guard<std::mutex> guard(mutex_);
    for (const std::string& line : lines) {
      std::string text = line;
      if (!text.empty() && text.back() == '\n') text.pop_back();
      lines_.push_back(std::move(text));
    }
    while (lines_.size() > capacity_) {
      lines_.pop_front();
      ++first_;
    }
  }
  grown_.notify_all();
}

event_log::batch event_log::read_after(std::int64_t since, std::size_t max,
                                       std::chrono::milliseconds wait) {
  std::unique_lock<std::mutex> guard(mutex_);
  const auto end = [&] { return first_ + static_cast<std::int64_t>(lines_.size()) - 1; };
  grown_.wait_for(guard, wait, [&] { return closed_ || end() > since; });
  batch out;
  out.first_kept = first_;
  std::int64_t from = std::max(since + 1, first_);
  out.gap = since + 1 < first_;
  for (std::int64_t n = from; n <= end() && out.events.size() < max; ++n)
    out.events.emplace_back(n, lines_[static_cast<std::size_t>(n - first_)]);
  return out;
}

std::int64_t event_log::last() const {
  std::lock_guard<std::mutex> guard(mutex_);
  return first_ + static_cast<std::int64_t>(lines_.size()) - 1;
}

void event_log::close() {
  {
    std::lock_guard<std::mutex> guard(mutex_);
    closed_ = true;
  }
  grown_.notify_all();
}

}  // namespace msync::server
