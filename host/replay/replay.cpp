#include "replay/replay.hpp"

#include "stream/stream_engine.hpp"

namespace msync {

replay_result run_replay(const book_inputs& inputs, backend& engine,
                         const std::vector<std::vector<stream_event>>& updates,
                         std::int64_t interval_ms) {
  replay_result out;
  out.interval_ms = interval_ms;
  margin_stream stream(inputs, engine);
  const std::int64_t interval_ns = interval_ms * 1000000;
  std::vector<stream_event> unseen;  // what happened since the engine last ran
  std::int64_t next_run_ns = 0;
  for (const std::vector<stream_event>& group : updates) {
    const std::int64_t ts = group.front().ts_ns;
    unseen.insert(unseen.end(), group.begin(), group.end());
    if (out.engine_runs > 0 && ts < next_run_ns) continue;  // prices move; the engine does not look
    stream.update(ts, unseen);
    unseen.clear();
    ++out.engine_runs;
    next_run_ns = stream.stream_time_ns() + interval_ns;
    // Liquidate what the engine now sees in `liquidate` (not held on a stale oracle).
    std::vector<std::uint32_t> due;
    for (std::uint32_t a = 0; a < stream.states().size(); ++a)
      if (stream.states()[a] == stream_state::liquidate &&
          has_open_position(stream.inputs().positions, a))
        due.push_back(a);
    if (due.empty()) continue;
    const risk_result margins = stream.margins_in_force();
    const revaluation& reval = stream.current_revaluation();
    const std::vector<closeout> closed =
        stream.close_accounts(due, inputs.risk.liquidation_penalty);
    for (std::size_t i = 0; i < due.size(); ++i) {
      const std::uint32_t a = due[i];
      out.liquidations.push_back(
          replay_liquidation{stream.stream_time_ns(), a, reval.account_equity[a],
                             margins.maintenance_margin[a], closed[i].penalty, closed[i].bad_debt});
      out.bad_debt += closed[i].bad_debt;
      out.penalties += closed[i].penalty;
    }
  }
  return out;
}

}  // namespace msync
