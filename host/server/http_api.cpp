#include "server/http_api.hpp"

#include <httplib.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <sstream>
#include <stdexcept>

#include "io/number_parse.hpp"
#include "io/output_files.hpp"
#include "marginsync/stopwatch.hpp"
#include "whatif/whatif.hpp"

namespace msync::server {

namespace {

constexpr const char* json_type = "application/json";

// An error answer: {"error": {"code", "message"[, "field"]}} with its status.
void send_error(httplib::Response& res, int status, const std::string& code,
                const std::string& message, const std::string& field = "") {
  nlohmann::json e = {{"code", code}, {"message", message}};
  if (!field.empty()) e["field"] = field;
  res.status = status;
  res.set_content(nlohmann::json{{"error", e}}.dump(-1, ' ', false, json_replace), json_type);
}

void send_json(httplib::Response& res, const nlohmann::json& j) {
  // Ids are the book's bytes; an invalid UTF-8 sequence is replaced, never a failed answer.
  res.set_content(j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n",
                  json_type);
}

// Compares in time independent of where the strings differ: a token is not guessed byte by byte.
bool same_secret(const std::string& a, const std::string& b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  const std::size_t n = std::max(a.size(), b.size());
  for (std::size_t i = 0; i < n; ++i)
    diff |= static_cast<unsigned char>((i < a.size() ? a[i] : 0) ^ (i < b.size() ? b[i] : 0));
  return diff == 0;
}

// A non-negative integer query parameter within [1, max], or the default; throws
// std::invalid_argument naming it.
std::size_t limit_param(const httplib::Request& req, const char* name, std::size_t fallback,
                        std::size_t max) {
  if (!req.has_param(name)) return fallback;
  const std::string text = req.get_param_value(name);
  std::int64_t v = 0;
  if (!parse_integer(text, v).empty() || v < 1 || static_cast<std::uint64_t>(v) > max)
    throw std::invalid_argument(std::string(name) + " must be an integer from 1 to " +
                                std::to_string(max) + ", not '" + text + "'");
  return static_cast<std::size_t>(v);
}

// The what-if request of 8.12's body; throws whatif_error (bad_request) naming the field.
whatif_request parse_whatif(const nlohmann::json& body) {
  using kind = whatif_error::kind;
  if (!body.is_object()) throw whatif_error(kind::bad_request, "body", "must be a JSON object");
  for (const auto& item : body.items())
    if (item.key() != "account" && item.key() != "tier" && item.key() != "collateral" &&
        item.key() != "orders")
      throw whatif_error(kind::bad_request, item.key(),
                         "unknown key (account, tier, collateral, orders)");
  whatif_request r;
  const auto account = body.find("account");
  if (account == body.end() || !account->is_string())
    throw whatif_error(kind::bad_request, "account", "must be a string (the account id)");
  r.account = account->get<std::string>();
  if (const auto tier = body.find("tier"); tier != body.end() && !tier->is_null()) {
    if (!tier->is_string())
      throw whatif_error(kind::bad_request, "tier", "must be a string (a tier in risk.json)");
    r.tier = tier->get<std::string>();
  }
  if (const auto c = body.find("collateral"); c != body.end() && !c->is_null()) {
    if (!c->is_number()) throw whatif_error(kind::bad_request, "collateral", "must be a number");
    r.collateral = c->get<double>();
  }
  const auto orders = body.find("orders");
  if (orders == body.end() || !orders->is_array())
    throw whatif_error(kind::bad_request, "orders",
                       "must be an array of {instrument, quantity, price}");
  if (orders->size() > max_whatif_orders)
    throw whatif_error(kind::bad_request, "orders",
                       "at most " + std::to_string(max_whatif_orders) + " orders");
  for (std::size_t i = 0; i < orders->size(); ++i) {
    const nlohmann::json& o = (*orders)[i];
    const std::string at = "orders[" + std::to_string(i) + "]";
    if (!o.is_object()) throw whatif_error(kind::bad_request, at, "must be a JSON object");
    whatif_order order;
    const auto instrument = o.find("instrument");
    if (instrument == o.end() || !instrument->is_string())
      throw whatif_error(kind::bad_request, at + ".instrument", "must be a string");
    order.instrument = instrument->get<std::string>();
    const auto quantity = o.find("quantity"), price = o.find("price");
    if (quantity == o.end() || !quantity->is_number())
      throw whatif_error(kind::bad_request, at + ".quantity",
                         "a quantity must be a finite number other than 0");
    if (price == o.end() || !price->is_number())
      throw whatif_error(kind::bad_request, at + ".price", "must be a finite number above 0");
    order.quantity = quantity->get<double>();
    order.price = price->get<double>();
    for (const auto& item : o.items())
      if (item.key() != "instrument" && item.key() != "quantity" && item.key() != "price")
        throw whatif_error(kind::bad_request, at + "." + item.key(),
                           "unknown key (instrument, quantity, price)");
    r.orders.push_back(std::move(order));
  }
  return r;
}

}  // namespace

bool is_loopback(const std::string& host) {
  if (host == "localhost" || host == "::1" || host == "[::1]") return true;
  return host.rfind("127.", 0) == 0;
}

http_api::http_api(engine_service& engine, event_log& events, std::vector<std::string> symbols,
                   tick_time_bound bound, http_options options, std::shared_ptr<spdlog::logger> log)
    : engine_(engine),
      events_(events),
      symbols_(std::move(symbols)),
      bound_(bound),
      options_(std::move(options)),
      log_(std::move(log)),
      server_(std::make_unique<httplib::Server>()) {
  httplib::Server& s = *server_;
  const int pool = options_.threads + options_.max_event_streams;
  s.new_task_queue = [pool] { return new httplib::ThreadPool(static_cast<std::size_t>(pool)); };
  // A slow or idle client times out and frees its thread; none can hold the engine.
  s.set_read_timeout(options_.timeout_seconds, 0);
  s.set_write_timeout(options_.timeout_seconds, 0);
  s.set_keep_alive_timeout(options_.timeout_seconds);
  s.set_payload_max_length(options_.max_body_bytes);
  // An answer's header and body are separate writes: with Nagle's algorithm on, the body waits
  // for the client's delayed ACK of the header (40 ms on Linux) on every keep-alive request.
  s.set_tcp_nodelay(true);
  routes();
}

http_api::~http_api() = default;

int http_api::bind() {
  if (options_.port == 0) {
    const int port = server_->bind_to_any_port(options_.host);
    if (port < 0) throw std::runtime_error("cannot listen on " + options_.host + ":0");
    return port;
  }
  if (!server_->bind_to_port(options_.host, options_.port))
    throw std::runtime_error("cannot listen on " + options_.host + ":" +
                             std::to_string(options_.port) +
                             " (in use, or not an address of this machine)");
  return options_.port;
}

void http_api::serve() {
  server_->listen_after_bind();
}

void http_api::stop() {
  refusing_ = true;
  server_->stop();
}

void http_api::count(int status) {
  std::lock_guard<std::mutex> guard(codes_mutex_);
  ++codes_[status];
}

std::map<int, std::int64_t> http_api::requests_by_code() const {
  std::lock_guard<std::mutex> guard(codes_mutex_);
  return codes_;
}

std::int64_t http_api::requests() const {
  std::lock_guard<std::mutex> guard(codes_mutex_);
  std::int64_t n = 0;
  for (const auto& [code, k] : codes_) n += k;
  return n;
}

void http_api::routes() {
  httplib::Server& s = *server_;
  using Req = httplib::Request;
  using Res = httplib::Response;
  using handled = httplib::Server::HandlerResponse;

  s.set_pre_routing_handler([this](const Req& req, Res& res) {
    if (options_.token) {
      const std::string header = req.get_header_value("Authorization");
      const std::string prefix = "Bearer ";
      // The desk page's own address may carry the token (a browser cannot add a header to it);
      // the log records paths without their query, so the token is not written there.
      const bool page_with_token = req.path == "/" && req.has_param("token") &&
                                   same_secret(req.get_param_value("token"), *options_.token);
      if (!page_with_token && (header.rfind(prefix, 0) != 0 ||
                               !same_secret(header.substr(prefix.size()), *options_.token))) {
        res.set_header("WWW-Authenticate", "Bearer");
        send_error(res, 401, "unauthorized",
                   "this server needs the header Authorization: Bearer TOKEN (--token-file)");
        return handled::Handled;
      }
    }
    if (refusing_) {
      send_error(res, 503, "stopping", "the server is stopping");
      return handled::Handled;
    }
    return handled::Unhandled;
  });
  // What httplib answers by itself (no route, a body over the limit, a bad request line) gets the
  // same JSON error shape as ours.
  s.set_error_handler(httplib::Server::HandlerWithResponse([](const Req& req, Res& res) {
    if (!res.body.empty()) return handled::Unhandled;
    switch (res.status) {
      case 404: {
        static const char* known[] = {"/healthz",    "/metrics",     "/",          "/v1/summary",
                                      "/v1/history", "/v1/accounts", "/v1/whatif", "/v1/events"};
        const bool path_known =
            std::find(std::begin(known), std::end(known), req.path) != std::end(known) ||
            req.path.rfind("/v1/accounts/", 0) == 0;
        if (path_known) {
          send_error(res, 405, "method_not_allowed", req.method + " is not served on " + req.path);
        } else {
          send_error(res, 404, "not_found", "no such path: " + req.path);
        }
        break;
      }
      case 413:
        send_error(res, 413, "too_large", "the body is over the limit of 1 MiB");
        break;
      default:
        send_error(
            res, res.status, "bad_request",
            "the request could not be read (HTTP status " + std::to_string(res.status) + ")");
    }
    return handled::Handled;
  }));
  // A handler that throws answers 500 with the reason; the server goes on.
  s.set_exception_handler([this](const Req& req, Res& res, std::exception_ptr ep) {
    std::string what = "unknown error";
    try {
      std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    log_->error("http {} {}: {}", req.method, req.path, what);
    send_error(res, 500, "internal", what);
  });
  s.set_logger([this](const Req& req, const Res& res) {
    count(res.status);
    log_->debug("http {} {} status={} bytes_in={} bytes_out={}", req.method, req.path, res.status,
                req.body.size(), res.body.size());
  });

  s.Get("/healthz", [this](const Req&, Res& res) { send_json(res, engine_.health_check()); });
  s.Get("/v1/summary", [this](const Req&, Res& res) { send_json(res, engine_.summary()); });
  s.Get("/v1/history", [this](const Req&, Res& res) { send_json(res, engine_.history()); });
  s.Get("/metrics", [this](const Req&, Res& res) {
    res.set_content(engine_.metrics_text(requests_by_code()),
                    "text/plain; version=0.0.4; charset=utf-8");
  });
  s.Get("/", [this](const Req&, Res& res) {
    res.set_content(options_.page, "text/html; charset=utf-8");
  });

  s.Get(R"(/v1/accounts/([^/]+))", [this](const Req& req, Res& res) {
    const std::string id = req.matches[1];
    std::optional<nlohmann::json> j = engine_.account(id);
    if (!j)
      return send_error(res, 404, "unknown_account", "the book holds no account '" + id + "'",
                        "account");
    send_json(res, *j);
  });
  s.Get("/v1/accounts", [this](const Req& req, Res& res) {
    try {
      if (req.has_param("order")) {
        const std::string order = req.get_param_value("order");
        if (order != "health")
          return send_error(res, 400, "bad_request", "order must be 'health', not '" + order + "'",
                            "order");
        return send_json(res, engine_.closest_to_liquidation(limit_param(req, "limit", 20, 1000)));
      }
      if (!req.has_param("status"))
        return send_error(res, 400, "bad_request",
                          "give status=ok|preemptive|margin_call|liquidate|liquidation_held|not_ok "
                          "or order=health",
                          "status");
      const std::string status = req.get_param_value("status");
      static const char* states[] = {"ok",        "preemptive",       "margin_call",
                                     "liquidate", "liquidation_held", "not_ok"};
      if (std::find(std::begin(states), std::end(states), status) == std::end(states))
        return send_error(res, 400, "bad_request",
                          "status must be ok, preemptive, margin_call, liquidate, "
                          "liquidation_held or not_ok, not '" +
                              status + "'",
                          "status");
      send_json(res, engine_.accounts_in_state(status, limit_param(req, "limit", 1000, 100000)));
    } catch (const std::invalid_argument& e) {
      send_error(res, 400, "bad_request", e.what(), "limit");
    }
  });

  s.Post("/v1/whatif", [this](const Req& req, Res& res) {
    nlohmann::json body;
    try {
      body = nlohmann::json::parse(req.body);
    } catch (const nlohmann::json::exception& e) {
      // Not JSON, or a number JSON holds but a double cannot (1e999).
      return send_error(res, 400, "bad_json", std::string("the body is not JSON: ") + e.what());
    }
    try {
      send_json(res, engine_.whatif(parse_whatif(body)));
    } catch (const whatif_error& e) {
      switch (e.error_kind()) {
        case whatif_error::kind::bad_request:
          return send_error(res, 400, "bad_request", e.what(), e.field());
        case whatif_error::kind::unknown_account:
          return send_error(res, 422, "unknown_account", e.what(), e.field());
        case whatif_error::kind::unknown_instrument:
          return send_error(res, 422, "unknown_instrument", e.what(), e.field());
      }
    } catch (const std::runtime_error& e) {
      send_error(res, 503, "not_ready", e.what());
    }
  });

  s.Post("/v1/events", [this](const Req& req, Res& res) {
    const std::string wait = req.has_param("wait") ? req.get_param_value("wait") : "journaled";
    if (wait != "journaled" && wait != "applied")
      return send_error(res, 400, "bad_request", "wait must be journaled or applied", "wait");
    const std::size_t first = req.body.find_first_not_of(" \t\r\n");
    if (first == std::string::npos)
      return send_error(res, 400, "bad_request", "the body holds no event");
    if (req.body[first] != '{')
      return send_error(res, 400, "bad_request",
                        "the body must be JSON lines, one event per line (docs/design.md 2.8)");
    // The body is whole: its last line needs no newline to be known complete.
    std::istringstream in(req.body.back() == '\n' ? req.body : req.body + "\n");
    std::vector<std::string> problems;
    tick_reader reader(in, "<request>", symbols_,
                       [&](const input_problem& p) { problems.push_back(p.to_string()); });
    reader.check_time(engine_.stream_time_ns(), bound_);
    std::vector<journal_update> updates;
    std::size_t events = 0;
    try {
      while (std::optional<stream_event> e = reader.next()) {
        if (updates.empty() || updates.back().ts_ns != e->ts_ns)
          updates.push_back(journal_update{e->ts_ns, {}});
        updates.back().events.push_back(std::move(*e));
        ++events;
      }
    } catch (const input_error& e) {
      for (const input_problem& p : e.problems()) problems.push_back(p.to_string());
    }
    if (!problems.empty()) {
      engine_.count_rejected_lines(static_cast<long>(problems.size()));
      nlohmann::json j = {{"error",
                           {{"code", "bad_request"},
                            {"message", std::to_string(problems.size()) +
                                            " malformed line(s): nothing was applied"}}},
                          {"problems", problems}};
      res.status = 400;
      return res.set_content(j.dump(-1, ' ', false, json_replace), json_type);
    }
    const std::size_t update_count = updates.size();
    const submission sent = engine_.submit_request(std::move(updates), wait == "applied");
    if (!sent.failure.empty()) return send_error(res, 503, "not_applied", sent.failure);
    nlohmann::json refused = nlohmann::json::array();
    for (const input_problem& p : sent.refused) refused.push_back(p.to_string());
    send_json(res, {{"events", events},
                    {"updates", update_count},
                    {"journaled", sent.journaled == update_count},
                    {"applied", sent.applied == update_count},
                    {"refused", refused}});
  });

  s.Get("/v1/events", [this](const Req& req, Res& res) {
    std::int64_t since = 0;
    const std::string text = req.has_param("since") ? req.get_param_value("since")
                             : req.has_header("Last-Event-ID")
                                 ? req.get_header_value("Last-Event-ID")
                                 : "0";
    if (!parse_integer(text, since).empty() || since < 0)
      return send_error(res, 400, "bad_request",
                        "since must be a non-negative integer, not '" + text + "'", "since");
    if (++event_streams_ > options_.max_event_streams) {
      --event_streams_;
      return send_error(
          res, 503, "too_many_streams",
          "at most " + std::to_string(options_.max_event_streams) + " event streams at once");
    }
    res.set_header("Cache-Control", "no-cache");
    auto next = std::make_shared<std::int64_t>(since);
    auto quiet = std::make_shared<stopwatch>();
    res.set_chunked_content_provider(
        "text/event-stream",
        [this, next, quiet](std::size_t, httplib::DataSink& sink) {
          if (refusing_) {
            sink.done();
            return true;
          }
          event_log::batch b = events_.read_after(*next, 1000, std::chrono::milliseconds(1000));
          std::string out;
          if (b.gap) {
            out += "event: gap\ndata: {\"first_kept\":" + std::to_string(b.first_kept) + "}\n\n";
            *next = b.first_kept - 1;
          }
          for (const auto& [seq, line] : b.events) {
            out += "id: " + std::to_string(seq) + "\nevent: transition\ndata: " + line + "\n\n";
            *next = seq;
          }
          // A comment now and then: a proxy or client that drops idle connections keeps this one,
          // and a client gone away is found by the failed write.
          if (out.empty() && quiet->seconds() >= 10.0) out = ": keep-alive\n\n";
          if (!out.empty()) {
            quiet->lap();
            if (!sink.is_writable() || !sink.write(out.data(), out.size())) return false;
          }
          return true;
        },
        [this](bool) { --event_streams_; });
  });
}

}  // namespace msync::server
