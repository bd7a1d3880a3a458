#include "bench_stream.hpp"

#include <chrono>

namespace msync {

stream_bench_result bench_stream(backend& engine, const book_inputs& inputs,
                                 const std::vector<std::vector<stream_event>>& updates,
                                 const std::function<void(const std::string&)>& log) {
  stream_bench_result r;
  r.backend = engine.name();
  margin_stream stream(inputs, engine);  // makes the book resident: not part of the replay
  r.device = engine.device();
  const auto start = std::chrono::steady_clock::now();
  auto last_report = start;
  for (const std::vector<stream_event>& group : updates) {
    const update_outcome u = stream.update(group.front().ts_ns, group);
    ++r.updates;
    r.ticks += static_cast<std::int64_t>(u.ticks_applied);
    r.tick_seconds.push_back(u.tick_seconds);
    if (u.trigger != risk_trigger::none) {
      r.risk_seconds.push_back(u.risk_seconds);
      ++r.risk_runs[risk_trigger_name(u.trigger)];
    }
    const auto now = std::chrono::steady_clock::now();
    if (now - last_report > std::chrono::seconds(10)) {  // long replays say where they are
      last_report = now;
      log(r.backend + ": " + std::to_string(r.updates) + " of " + std::to_string(updates.size()) + " updates");
    }
  }
  r.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return r;
}

}  // namespace msync
