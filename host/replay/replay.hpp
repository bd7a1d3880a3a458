#pragma once
// The synchronization study (marginsync replay): one tick stream replayed with the margin engine
// running only every `interval` of stream time (0: every update) while prices keep moving, and
// liquidating, when it runs, every account it finds in `liquidate` at the prices of that moment.
// What the lag costs shows in the bad debt and in how far past maintenance accounts were when
// they were closed.
#include <cstdint>
#include <vector>

#include "io/load_inputs.hpp"
#include "io/tick_stream.hpp"
#include "marginsync/backend.hpp"

namespace msync {

struct replay_liquidation {
  std::int64_t ts_ns = 0;
  std::uint32_t account = 0;
  double equity = 0.0;
  double maintenance_margin = 0.0;  // in force when it was closed
  double penalty = 0.0;
  double bad_debt = 0.0;
};

struct replay_result {
  std::int64_t interval_ms = 0;
  std::int64_t engine_runs = 0;
  std::vector<replay_liquidation> liquidations;
  double bad_debt = 0.0;
  double penalties = 0.0;
};

// `updates`: the stream grouped by timestamp (bench_stream.hpp's read_updates).
replay_result run_replay(const book_inputs& inputs, backend& engine,
                         const std::vector<std::vector<stream_event>>& updates,
                         std::int64_t interval_ms);

}  // namespace msync
