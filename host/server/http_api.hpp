#pragma once
// The server's HTTP/JSON API (docs/design.md 8.12) on cpp-httplib: routes, the bearer token,
// limits and time-outs, JSON errors. What each answer holds is engine_service's; this file turns
// requests into its calls and its answers into responses, and never touches the engine itself.
#include <spdlog/logger.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "io/tick_stream.hpp"
#include "server/engine_service.hpp"
#include "server/event_log.hpp"

namespace httplib {
class Server;
}

namespace msync::server {

struct http_options {
  std::string host = "127.0.0.1";
  int port = 8650;                   // 0: a free port
  std::optional<std::string> token;  // every request must carry it when set
  std::size_t max_body_bytes = 1 << 20;
  int timeout_seconds = 5;  // read, write and keep-alive idle
  int threads = 8;          // request threads besides the event streams'
  int max_event_streams = 16;
  std::string page;  // the risk desk page served at /
};

// Whether `host` is a loopback address (127.0.0.0/8, ::1, localhost).
bool is_loopback(const std::string& host);

class http_api {
 public:
  // `symbols`: the market's underlyings (for reading events); `bound`: --max-tick-jump.
  http_api(engine_service& engine, event_log& events, std::vector<std::string> symbols,
           tick_time_bound bound, http_options options, std::shared_ptr<spdlog::logger> log);
  ~http_api();

  // Binds the address; returns the port (the one picked, for port 0). Throws std::runtime_error
  // when the address cannot be bound.
  int bind();
  // Serves until stop(); call bind() first. Blocks (run it on its own thread).
  void serve();
  void stop();
  // From now on every request but a running event stream is answered 503 (the server stops).
  void refuse_new_requests() { refusing_ = true; }

  std::map<int, std::int64_t> requests_by_code() const;
  std::int64_t requests() const;

 private:
  void routes();
  void count(int status);

  engine_service& engine_;
  event_log& events_;
  std::vector<std::string> symbols_;
  tick_time_bound bound_;
  http_options options_;
  std::shared_ptr<spdlog::logger> log_;
  std::unique_ptr<httplib::Server> server_;
  std::atomic<bool> refusing_{false};
  std::atomic<int> event_streams_{0};
  mutable std::mutex codes_mutex_;
  std::map<int, std::int64_t> codes_;
};

}  // namespace msync::server
