#include "bench_stream.hpp"

#include <algorithm>

#include "marginsync/stopwatch.hpp"

namespace msync {

stream_bench_result bench_stream(backend& engine, const book_inputs& inputs,
                                 const std::vector<std::vector<stream_event>>& updates,
                                 const std::function<void(const std::string&)>& log) {
  stream_bench_result r;
  r.backend = engine.name();
  {
    // Warm-up, not measured: the first updates of the stream on a stream of their own (the same
    // book, made resident), so that what a first update pays once (a GPU's lazily loaded kernels
    // and first allocations, the CPU's first touch of the revaluation's pages) is not in the
    // figures. The measured stream then starts again from the book as given.
    margin_stream warm(inputs, engine);
    const std::size_t n = std::min(updates.size(), warmup_updates);
    for (std::size_t i = 0; i < n; ++i) warm.update(updates[i].front().ts_ns, updates[i]);
    r.warmup_updates = static_cast<std::int64_t>(n);
  }
  margin_stream stream(inputs, engine);  // makes the book resident: not part of the replay
  r.device = engine.device();
  const stopwatch watch;
  stopwatch since_report;
  for (const std::vector<stream_event>& group : updates) {
    const update_outcome u = stream.update(group.front().ts_ns, group);
    ++r.updates;
    r.ticks += static_cast<std::int64_t>(u.ticks_applied);
    r.tick_seconds.push_back(u.tick_seconds);
    if (u.trigger != risk_trigger::none) {
      r.risk_seconds.push_back(u.risk_seconds);
      ++r.risk_runs[risk_trigger_name(u.trigger)];
    }
    if (since_report.seconds() > 10.0) {  // long replays say where they are
      since_report.lap();
      log(r.backend + ": " + std::to_string(r.updates) + " of " + std::to_string(updates.size()) +
          " updates");
    }
  }
  r.wall_seconds = watch.seconds();
  return r;
}

}  // namespace msync
