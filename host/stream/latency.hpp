#pragma once
// Latency percentiles of a stream path, for stream's summary and bench --stream.
#include <cstddef>
#include <nlohmann/json.hpp>
#include <vector>

namespace msync {

// Wall times of one path, summarized: nearest-rank p50 and p99 and the maximum, in milliseconds
// (0 when there are none).
struct latency_summary {
  std::size_t count = 0;
  double p50_ms = 0.0, p99_ms = 0.0, max_ms = 0.0;
};
latency_summary summarize_latency(std::vector<double> seconds);
// {"count", "p50_ms", "p99_ms", "max_ms"}: how summaries and the server write one.
nlohmann::json latency_json(const latency_summary& l);

}  // namespace msync
