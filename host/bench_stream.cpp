#include "bench_stream.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>

namespace msync {

std::vector<std::vector<stream_event>> read_updates(const std::filesystem::path& ticks,
                                                    const std::vector<std::string>& symbols) {
  std::ifstream in(ticks);
  if (!in) throw input_error({input_problem{ticks.string(), 0, "", "cannot open the tick stream"}});
  problem_list problems;
  tick_reader reader(in, ticks.string(), symbols, [&](const input_problem& p) {
    problems.add(p.file, p.line, p.column, p.reason);
  });
  std::vector<std::vector<stream_event>> updates;
  for (std::optional<stream_event> e = reader.next(); e; e = reader.next()) {
    if (updates.empty() || updates.back().front().ts_ns != e->ts_ns) updates.emplace_back();
    updates.back().push_back(std::move(*e));
  }
  problems.throw_if_any();
  return updates;
}

latency_summary summarize_latency(std::vector<double> seconds) {
  latency_summary s;
  s.count = seconds.size();
  if (seconds.empty()) return s;
  std::sort(seconds.begin(), seconds.end());  // once, for every percentile
  auto nearest_rank_ms = [&](double p) {
    const std::size_t rank = static_cast<std::size_t>(std::ceil(p * static_cast<double>(seconds.size())));
    return 1e3 * seconds[std::min(seconds.size() - 1, rank > 0 ? rank - 1 : 0)];
  };
  s.p50_ms = nearest_rank_ms(0.50);
  s.p99_ms = nearest_rank_ms(0.99);
  s.max_ms = nearest_rank_ms(1.0);
  return s;
}

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
