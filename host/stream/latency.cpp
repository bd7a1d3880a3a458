#include "stream/latency.hpp"

#include <algorithm>
#include <cmath>

namespace msync {

latency_summary summarize_latency(std::vector<double> seconds) {
  latency_summary s;
  s.count = seconds.size();
  if (seconds.empty()) return s;
  std::sort(seconds.begin(), seconds.end());  // once, for every percentile
  auto nearest_rank_ms = [&](double p) {
    const std::size_t rank =
        static_cast<std::size_t>(std::ceil(p * static_cast<double>(seconds.size())));
    return 1e3 * seconds[std::min(seconds.size() - 1, rank > 0 ? rank - 1 : 0)];
  };
  s.p50_ms = nearest_rank_ms(0.50);
  s.p99_ms = nearest_rank_ms(0.99);
  s.max_ms = nearest_rank_ms(1.0);
  return s;
}

nlohmann::json latency_json(const latency_summary& l) {
  return {{"count", l.count}, {"p50_ms", l.p50_ms}, {"p99_ms", l.p99_ms}, {"max_ms", l.max_ms}};
}

}  // namespace msync
