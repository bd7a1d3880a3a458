#include "stream/stream_counts.hpp"

namespace msync {

void stream_counts::add(const update_outcome& u) {
  ++updates;
  ticks_applied += static_cast<std::int64_t>(u.ticks_applied);
  ticks_out_of_order += static_cast<std::int64_t>(u.ticks_out_of_order);
  book_events_applied += static_cast<std::int64_t>(u.book_events_applied);
  events_refused += static_cast<std::int64_t>(u.problems.size());
  marks_applied += static_cast<std::int64_t>(u.marks_applied);
  settlements += static_cast<std::int64_t>(u.settlements.size());
  for (const account_transition& t : u.accounts) ++transitions[t.event];
  for (const oracle_transition& t : u.oracles)
    ++transitions[t.stale ? "stale_oracle" : "oracle_recovered"];
}

void stream_latencies::add(const update_outcome& u) {
  tick.push_back(u.tick_seconds);
  if (u.book_sent != book_transfer::none) book.push_back(u.book_seconds);
  if (u.trigger != risk_trigger::none) risk.push_back(u.risk_seconds);
}

}  // namespace msync
