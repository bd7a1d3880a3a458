#include "peak_memory.hpp"

#include <sys/resource.h>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <sstream>

namespace msync {

std::optional<std::int64_t> status_bytes(std::string_view text, std::string_view key) {
  std::size_t at = 0;
  while (at < text.size()) {
    const std::size_t end = std::min(text.find('\n', at), text.size());
    std::string_view line = text.substr(at, end - at);
    at = end + 1;
    if (line.size() <= key.size() || line.substr(0, key.size()) != key || line[key.size()] != ':')
      continue;
    line.remove_prefix(key.size() + 1);
    while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
    std::int64_t kib = 0;
    const auto [rest, ec] = std::from_chars(line.data(), line.data() + line.size(), kib);
    if (ec != std::errc{} || kib < 0) return std::nullopt;
    if (std::string_view(rest, static_cast<std::size_t>(line.data() + line.size() - rest)) != " kB")
      return std::nullopt;
    return kib * 1024;
  }
  return std::nullopt;
}

bool peak_memory::reset() {
#if defined(__GLIBC__)
  // Memory freed before the stage (the previous book, a larger point's tables) that glibc keeps
  // in its arenas is still resident and would be counted as the stage's: hand it back first, so
  // the figure is what is in use plus what the stage takes. Never inside a timed run.
  malloc_trim(0);
#endif
  if (!per_stage_) return false;
  std::ofstream clear("/proc/self/clear_refs");
  if (clear) clear << "5" << std::flush;
  if (!clear) {
    const int why = errno;
    per_stage_ = false;
    method_ = std::string("ru_maxrss (process peak so far): /proc/self/clear_refs refused") +
              (why ? std::string(": ") + std::strerror(why) : std::string());
    return false;
  }
  return true;
}

std::int64_t peak_memory::read() const {
  if (per_stage_) {
    std::ifstream in("/proc/self/status");
    std::ostringstream text;
    text << in.rdbuf();
    if (const auto bytes = status_bytes(text.str(), "VmHWM")) return *bytes;
  }
  rusage usage{};
  if (getrusage(RUSAGE_SELF, &usage) != 0) return 0;
  return static_cast<std::int64_t>(usage.ru_maxrss) * 1024;  // kilobytes on Linux
}

}  // namespace msync
