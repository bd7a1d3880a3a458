#include "server/server_log.hpp"

#include <spdlog/details/file_helper.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/stdout_sinks.h>

#include <mutex>
#include <stdexcept>

namespace msync::server {

namespace {

// A file sink that can be reopened at its path (spdlog's basic_file_sink cannot): after logrotate
// renames the file, the server writes to a new one at the old name.
class reopenable_file_sink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  explicit reopenable_file_sink(std::string path) : path_(std::move(path)) {
    file_.open(path_, /*truncate=*/false);
  }
  void reopen() {
    std::lock_guard<std::mutex> guard(mutex_);
    file_.close();
    file_.open(path_, false);
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    spdlog::memory_buf_t line;
    formatter_->format(msg, line);
    file_.write(line);
  }
  void flush_() override { file_.flush(); }

 private:
  std::string path_;
  spdlog::details::file_helper file_;
};

}  // namespace

std::shared_ptr<spdlog::logger> make_server_log(const std::string& file, const std::string& level) {
  const spdlog::level::level_enum l = spdlog::level::from_str(level);
  // from_str answers `off` for a name it does not know.
  if (l == spdlog::level::off && level != "off")
    throw std::invalid_argument("--log-level must be trace, debug, info, warn or error, not '" +
                                level + "'");
  spdlog::sink_ptr sink;
  try {
    if (file.empty())
      sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    else
      sink = std::make_shared<reopenable_file_sink>(file);
  } catch (const spdlog::spdlog_ex& e) {
    throw std::runtime_error("--log-file " + file + ": " + e.what());
  }
  auto log = std::make_shared<spdlog::logger>("marginsync", std::move(sink));
  log->set_formatter(std::make_unique<spdlog::pattern_formatter>("%Y-%m-%dT%H:%M:%S.%eZ %-5l %v",
                                                                 spdlog::pattern_time_type::utc));
  log->set_level(l);
  // Every line on disk as it is written: a log read while the server runs, or after it died,
  // must hold the lines before the event that matters.
  log->flush_on(spdlog::level::trace);
  return log;
}

void reopen_log(spdlog::logger& log) {
  for (const spdlog::sink_ptr& sink : log.sinks())
    if (auto* file = dynamic_cast<reopenable_file_sink*>(sink.get())) file->reopen();
}

}  // namespace msync::server
