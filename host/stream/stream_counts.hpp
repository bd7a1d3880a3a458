#pragma once
// Totals over a stream's updates, as summary.json reports them (docs/design.md 8.8): `stream` and
// `serve` count each update_outcome the same way.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "stream/stream_engine.hpp"

namespace msync {

struct stream_counts {
  std::int64_t updates = 0, ticks_applied = 0, ticks_out_of_order = 0, book_events_applied = 0,
               events_refused = 0, marks_applied = 0, settlements = 0;
  std::map<std::string, std::int64_t> transitions;  // by event name
  void add(const update_outcome& u);
};

// Every update's wall times, seconds: the tick path (a reload or patch of the book included), the
// risk path where it ran, and the making resident or patching of a changed book.
struct stream_latencies {
  std::vector<double> tick, risk, book;
  void add(const update_outcome& u);
};

}  // namespace msync
