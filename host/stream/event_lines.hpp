#pragma once
// The lines a stream reports an update with (docs/design.md 8.8): events.jsonl's JSON lines (stale
// oracles, settlements, account transitions, in that order) and ticks.csv's row. `stream` writes
// them to files or standard output; `serve` also numbers the events for its event stream (8.12).
#include <string>
#include <vector>

#include "marginsync/book.hpp"
#include "marginsync/market.hpp"
#include "stream/stream_engine.hpp"

namespace msync {

// Appends the update's event lines to `lines`, each a JSON object ending in '\n'.
void append_event_lines(const update_outcome& u, const book& b, const market_state& m,
                        std::vector<std::string>& lines);

// ticks.csv's header and one update's row, both ending in '\n'.
extern const char* const ticks_csv_header;
std::string ticks_csv_row(const update_outcome& u);

}  // namespace msync
