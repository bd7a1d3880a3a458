#include "feed_input.hpp"

#include <cstdio>
#include <filesystem>
#include <iostream>

#include "io/input_files.hpp"
#include "marginsync/errors.hpp"

namespace msync::cli {

void open_feed(const std::string& path, feed_input& feed) {
  std::error_code ec;
  const auto type =
      path == "-" ? std::filesystem::file_type::fifo : std::filesystem::status(path, ec).type();
  feed.live =
      type == std::filesystem::file_type::fifo || type == std::filesystem::file_type::socket;
  if (path != "-") {
    // A directory opens as a file on Linux and reads as empty: it would stream 0 updates, exit 0.
    if (std::string why = input_file_problem(path); !why.empty())
      throw input_error({input_problem{path, 0, "", std::move(why)}});
  }
  if (feed.live && path != "-" && !std::freopen(path.c_str(), "r", stdin))
    throw input_error({input_problem{path, 0, "", "cannot be read"}});
  if (!feed.live) {
    feed.file.open(path);
    if (!feed.file) throw input_error({input_problem{path, 0, "", "cannot be read"}});
    std::error_code size_error;
    const auto size = std::filesystem::file_size(path, size_error);
    feed.bytes = size_error ? 0.0 : static_cast<double>(size);
  }
  if (feed.live) std::ios::sync_with_stdio(false);
}

}  // namespace msync::cli
