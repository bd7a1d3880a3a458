#include "stream_outputs.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "stream/event_lines.hpp"

namespace msync::cli {

stream_outputs::stream_outputs(std::optional<output_directory>& dir, std::string command,
                               std::function<void()> reader_gone)
    : command_(std::move(command)), reader_gone_(std::move(reader_gone)) {
  if (!dir) return;
  events_.emplace(dir->file("events.jsonl"));
  ticks_.emplace(dir->file("ticks.csv"));
  if (!ticks_->append(ticks_csv_header)) report(ticks_->error());
}

bool stream_outputs::write(const update_outcome& u, const std::vector<std::string>& event_lines) {
  if (failed()) return false;
  std::string lines;
  for (const std::string& line : event_lines) lines += line;
  if (events_) {
    // Each update's lines in one unbuffered write: a consumer tailing the files sees each update
    // whole, as soon as it is done. Events first: ticks.csv never runs ahead of them.
    const std::uint64_t events_before = events_->bytes();
    if (!events_->append(lines)) return report(events_->error());
    if (!ticks_->append(ticks_csv_row(u))) {  // the update's events go too: both end at one update
      events_->take_back_to(events_before, ticks_->error());
      return report(ticks_->error());
    }
    ++updates_written_;
  } else if (!lines.empty()) {
    errno = 0;
    if (std::fputs(lines.c_str(), stdout) == EOF || std::fflush(stdout) != 0) {
      if (errno != EPIPE)
        return report("cannot write standard output: " +
                      std::string(std::strerror(errno ? errno : EIO)));
      if (!reader_gone_said_) {
        reader_gone_said_ = true;
        std::fprintf(stderr, "%s: standard output closed; stopping\n", command_.c_str());
        if (reader_gone_) reader_gone_();
      }
    }
  }
  return true;
}

void stream_outputs::sync() {
  if (failed() || !events_) return;
  if (!events_->sync()) report(events_->error());
  if (!failed() && !ticks_->sync()) report(ticks_->error());
}

bool stream_outputs::report(const std::string& why) {
  if (error_.empty()) {
    error_ = why;
    std::fprintf(stderr, "%s: %s; stopping after %lld updates written whole\n", command_.c_str(),
                 why.c_str(), static_cast<long long>(updates_written_));
  }
  return false;
}

}  // namespace msync::cli
