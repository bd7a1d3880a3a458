#pragma once
// `marginsync bench --stream`: replays a generated tick stream through margin_stream on a backend
// and reports updates per second and the latency of each path (the stream issue's benchmark).
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "io/load_inputs.hpp"
#include "io/tick_stream.hpp"
#include "marginsync/backend.hpp"
#include "stream/latency.hpp"
#include "stream/stream_engine.hpp"

namespace msync {

struct stream_bench_result {
  std::string backend;
  std::string device;
  std::int64_t updates = 0;
  std::int64_t ticks = 0;
  std::int64_t warmup_updates = 0;   // replayed first, on a stream of their own, not measured
  double wall_seconds = 0.0;         // the whole replay
  std::vector<double> tick_seconds;  // per update
  std::vector<double> risk_seconds;  // per risk run
  std::map<std::string, std::int64_t> risk_runs;  // by trigger
  // The revalue stage's floor on this backend's device, measured in the same run (bench's stage
  // model, docs/design.md 13.2): what the tick path's p50 is compared with. 0: unknown.
  double revalue_floor_seconds = 0.0;
};

// Updates replayed, not measured, before the measured replay (bench_stream).
constexpr std::size_t warmup_updates = 5;

// Replays `updates` on `engine` with the book of `inputs` resident (loaded first, not timed),
// after a warm-up of its first warmup_updates updates on a stream of their own (not timed).
stream_bench_result bench_stream(backend& engine, const book_inputs& inputs,
                                 const std::vector<std::vector<stream_event>>& updates,
                                 const std::function<void(const std::string&)>& log);

}  // namespace msync
