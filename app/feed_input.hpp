#pragma once
// Opening a tick feed (`--ticks FILE|-`) for stream and serve: a file is read as it is; a live
// feed (standard input, a named pipe, a socket) is read from descriptor 0 through the reader's own
// buffer, so that what is already read can be told from what is not (docs/design.md 8.1).
#include <fstream>
#include <iostream>
#include <istream>
#include <string>

namespace msync::cli {

struct feed_input {
  bool live = false;
  std::ifstream file;  // open when not live
  double bytes = 0.0;  // a file's size, for progress; 0 for a live feed or when unknown
  std::istream& stream() { return live ? static_cast<std::istream&>(std::cin) : file; }
};

// Throws input_error (exit 2) naming the path when it cannot be read.
void open_feed(const std::string& path, feed_input& feed);

}  // namespace msync::cli
