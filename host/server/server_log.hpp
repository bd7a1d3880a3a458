#pragma once
// The server's log (docs/design.md 8.12): spdlog, one line per message, UTC timestamps to the
// millisecond and the level, `2026-11-30T02:41:12.123Z info  message key=value ...`, to standard
// error or to a file that SIGHUP reopens (reopen_log), so that logrotate can move it away.
#include <spdlog/logger.h>

#include <memory>
#include <string>

namespace msync::server {

// `file` empty: standard error. `level`: trace, debug, info, warn or error. Throws
// std::invalid_argument for another level, std::runtime_error for a file that cannot be opened.
std::shared_ptr<spdlog::logger> make_server_log(const std::string& file, const std::string& level);

// Reopens the log's file at its path (a no-op on standard error). Safe from any thread, not from
// a signal handler: the server's main loop calls it after SIGHUP.
void reopen_log(spdlog::logger& log);

}  // namespace msync::server
