#pragma once
// Opening a tick feed (`--ticks FILE|-`) for stream and serve: a file is read as it is; a live
// feed (standard input, a named pipe, a socket) is read from descriptor 0 through the reader's own
// buffer, so that what is already read can be told from what is not (docs/design.md 8.1).
#include <cstdint>
#include <fstream>
#include <functional>
#include <iostream>
#include <istream>
#include <string>
#include <vector>

#include "io/tick_stream.hpp"

namespace msync::cli {

struct feed_input {
  bool live = false;
  std::ifstream file;  // open when not live
  double bytes = 0.0;  // a file's size, for progress; 0 for a live feed or when unknown
  std::istream& stream() { return live ? static_cast<std::istream&>(std::cin) : file; }
};

// Throws input_error (exit 2) naming the path when it cannot be read.
void open_feed(const std::string& path, feed_input& feed);

// Reads `reader` to its end, or until `running()` turns false, handing the events on one update
// at a time (the consecutive events of one timestamp) to `apply`, which returns false to stop.
// For a live feed, the update in hand is handed on before a read that would wait (nothing more of
// it is waiting), then standard input is polled every 250 ms while running(). The update in hand
// when reading ends is handed on too, also after a stop. True when the feed was read to its end,
// still running, and every update was taken.
bool follow_updates(
    tick_reader& reader, bool live, const std::function<bool()>& running,
    const std::function<bool(std::int64_t ts_ns, std::vector<stream_event>& events)>& apply);

}  // namespace msync::cli
