#pragma once
// What the server measures about itself (docs/design.md 8.12): latency histograms in Prometheus's
// text format (written by hand: a few dozen lines, and Debian packages no Prometheus client
// library for C++), the last 1,000 latencies of each kind for /v1/summary's percentiles, and a
// per-second history of the last 300 seconds for the risk desk's charts. Thread-safe.
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <vector>

#include "stream/latency.hpp"

namespace msync::server {

class latency_record {
 public:
  void observe(double seconds);
  // Prometheus histogram lines of `name` (seconds), with its HELP and TYPE.
  void render(std::string& out, const std::string& name, const std::string& help) const;
  latency_summary recent() const;  // over the last 1,000
  std::int64_t count() const;

 private:
  mutable std::mutex mutex_;
  std::vector<std::int64_t> buckets_ = std::vector<std::int64_t>(bounds().size(), 0);
  std::int64_t count_ = 0;
  double sum_ = 0.0;
  std::deque<double> recent_;

 public:
  // Upper bounds of the buckets, seconds: 50 us to 10 s, the range from a what-if to a risk run
  // on a large book.
  static const std::vector<double>& bounds();
};

// Per wall-clock second with at least one update: its count, the tick path's p99 and max, the
// risk path's max (negative: no risk run that second) and the margin staleness at its last update.
struct second_stats {
  std::int64_t unix_seconds = 0;
  std::int64_t updates = 0;
  double tick_p99_ms = 0.0, tick_max_ms = 0.0, risk_max_ms = -1.0, staleness_ms = 0.0;
};

class second_history {
 public:
  void record(std::int64_t unix_seconds, double tick_seconds, double risk_seconds,
              double staleness_ms);
  std::vector<second_stats> last(std::int64_t now_unix_seconds,
                                 std::int64_t window_seconds = 300) const;

 private:
  void close_current();
  mutable std::mutex mutex_;
  std::deque<second_stats> done_;
  second_stats current_;
  std::vector<double> current_ticks_;  // seconds
};

}  // namespace msync::server
