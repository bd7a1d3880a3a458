#pragma once
// The server's numbered event lines (docs/design.md 8.12): every line events.jsonl gets, numbered
// from 1 in the order written, kept in memory (the last `capacity`) for `GET /v1/events?since=N`,
// so that a client that reconnects with the last number it saw misses none.
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <vector>

namespace msync::server {

class event_log {
 public:
  explicit event_log(std::size_t capacity = 1000000) : capacity_(capacity) {}

  // Appends one update's lines (each a JSON object; a trailing newline is dropped) and wakes
  // the readers.
  void append(const std::vector<std::string>& lines);

  struct batch {
    std::int64_t first_kept = 1;  // the oldest number still held
    bool gap = false;             // events after `since` were dropped before this read
    std::vector<std::pair<std::int64_t, std::string>> events;  // (number, line)
  };
  // The events numbered after `since`, at most `max` of them; waits up to `wait` for one when
  // there is none yet (returns empty on time-out or close()).
  batch read_after(std::int64_t since, std::size_t max, std::chrono::milliseconds wait);

  std::int64_t last() const;
  // Wakes every reader for good (the server is stopping).
  void close();

 private:
  mutable std::mutex mutex_;
  std::condition_variable grown_;
  std::size_t capacity_;
  std::deque<std::string> lines_;
  std::int64_t first_ = 1;  // number of lines_.front()
  bool closed_ = false;
};

}  // namespace msync::server
