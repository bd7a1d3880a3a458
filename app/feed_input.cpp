#include "feed_input.hpp"

#include <poll.h>
#include <unistd.h>

#include <cerrno>
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

bool follow_updates(
    tick_reader& reader, bool live, const std::function<bool()>& running,
    const std::function<bool(std::int64_t ts_ns, std::vector<stream_event>& events)>& apply) {
  std::vector<stream_event> group;  // the update in hand: the events of one timestamp
  std::int64_t group_ts = 0;
  bool taken = true;
  const auto hand_on = [&] {
    if (group.empty()) return true;
    const bool ok = apply(group_ts, group);
    group.clear();
    return ok;
  };
  if (live)
    reader.set_before_blocking([&] {
      if (!hand_on()) {
        taken = false;
        return false;
      }
      pollfd fd{STDIN_FILENO, POLLIN, 0};
      while (running()) {
        const int ready = ::poll(&fd, 1, 250);
        if (ready > 0 || (ready < 0 && errno != EINTR)) return true;  // the read says which
      }
      return false;
    });
  bool at_end = false;
  while (taken && running()) {
    std::optional<stream_event> e = reader.next();
    if (!e) {
      at_end = true;
      break;
    }
    if (!group.empty() && e->ts_ns != group_ts && !hand_on()) taken = false;
    group_ts = e->ts_ns;
    group.push_back(std::move(*e));
  }
  taken = hand_on() && taken;
  return taken && at_end && running();
}

}  // namespace msync::cli
