// marginsync serve end to end (docs/design.md 8.12): the server started on an ephemeral loopback
// port, talked to over HTTP with cpp-httplib's client. What it answers is checked against what
// `marginsync stream` writes for the same feed (the same engine path), the what-if against the
// trade applied, bad requests against the book left unchanged.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <sstream>

#include "serve_process.hpp"
#include "test_support.hpp"

namespace msync {
namespace {

std::string sample_args() {
  return "--book " + test::q(test::sample_book());
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) lines.push_back(line);
  return lines;
}

// The data lines of GET /v1/events from `since` (or with Last-Event-ID), until `want` have come.
std::vector<std::pair<long, std::string>> read_events(const test::serve_process& server, long since,
                                                      std::size_t want, bool use_header = false) {
  auto c = server.client();
  c.set_read_timeout(30, 0);
  std::string buffer;
  std::vector<std::pair<long, std::string>> events;
  httplib::Headers headers;
  std::string path = "/v1/events";
  if (use_header)
    headers.emplace("Last-Event-ID", std::to_string(since));
  else
    path += "?since=" + std::to_string(since);
  long id = -1;
  auto res = c.Get(path.c_str(), headers, [&](const char* data, std::size_t n) {
    buffer.append(data, n);
    for (std::size_t end; (end = buffer.find("\n\n")) != std::string::npos;) {
      const std::string block = buffer.substr(0, end);
      buffer.erase(0, end + 2);
      for (const std::string& line : lines_of(block)) {
        if (line.rfind("id: ", 0) == 0) id = std::stol(line.substr(4));
        if (line.rfind("data: ", 0) == 0) events.emplace_back(id, line.substr(6));
      }
    }
    return events.size() < want;  // false: enough, close the connection
  });
  return events;
}

double rel_diff(double a, double b) {
  return std::abs(a - b) / std::max(1.0, std::max(std::abs(a), std::abs(b)));
}

TEST(serve_api, answers_what_stream_writes_for_the_same_feed) {
  test::temp_dir dir;
  const auto feed = test::source_dir() / "data" / "streams" / "crash.jsonl";
  // 1,000 scenarios in both: the 2,400 risk runs of the crash stay quick in the sanitizer build.
  const test::command_result stream =
      test::run_cli("stream -q --scenarios 1000 " + sample_args() + " --ticks " + test::q(feed) +
                    " --out " + test::q(dir / "stream"));
  ASSERT_EQ(stream.status, 0) << stream.out;
  const std::vector<std::string> stream_events =
      lines_of(test::read_file(dir / "stream" / "events.jsonl"));
  ASSERT_GT(stream_events.size(), 5u);

  test::serve_process server(
      dir.path(), {"-q", "--scenarios", "1000", "--book", test::sample_book().string(), "--ticks",
                   feed.string(), "--out", (dir / "serve").string()});
  const nlohmann::json s =
      server.wait_summary([](const nlohmann::json& j) { return j["stream"]["feed"] == "ended"; });
  const nlohmann::json stream_summary =
      nlohmann::json::parse(test::read_file(dir / "stream" / "summary.json"));
  EXPECT_EQ(s["stream"]["updates"], stream_summary["stream"]["updates"]);
  EXPECT_EQ(s["stream"]["ticks_applied"], stream_summary["stream"]["ticks_applied"]);
  EXPECT_EQ(s["events"]["last_seq"].get<std::size_t>(), stream_events.size());
  EXPECT_EQ(s["accounts"]["total"], 11);
  EXPECT_EQ(server.get("/healthz")["status"], "ok");

  // Every account as the stream's accounts.csv has it (margins in force at the last update).
  const test::csv_rows rows = test::read_csv_by_key(dir / "stream" / "accounts.csv");
  std::map<std::string, int> states;
  for (const auto& [id, row] : rows) {
    const nlohmann::json a = server.get("/v1/accounts/" + id);
    EXPECT_EQ(a["account"], id);
    for (const char* key : {"equity", "initial_margin", "maintenance_margin", "var", "es",
                            "breach_probability", "own_funds"})
      EXPECT_LE(rel_diff(a[key].get<double>(), std::stod(row.at(key))), 1e-12) << id << " " << key;
    EXPECT_EQ(a["status"], row.at("status")) << id;
    ++states[a["state"].get<std::string>()];
  }
  for (const auto& [state, n] : states) EXPECT_EQ(s["accounts"][state], n) << state;
  // The lists agree with the single-account answers.
  const nlohmann::json not_ok = server.get("/v1/accounts?status=not_ok");
  EXPECT_EQ(not_ok["count"].get<int>(), 11 - states["ok"]);
  const nlohmann::json closest = server.get("/v1/accounts?order=health&limit=3");
  ASSERT_EQ(closest["accounts"].size(), 3u);
  for (std::size_t i = 1; i < 3; ++i)
    EXPECT_LE(closest["accounts"][i - 1]["health"].get<double>(),
              closest["accounts"][i]["health"].get<double>());

  // The event stream is events.jsonl, numbered from 1, and a client reconnecting with the last
  // number it saw (as a query or as Last-Event-ID) gets the rest and nothing twice.
  const auto all = read_events(server, 0, stream_events.size());
  ASSERT_EQ(all.size(), stream_events.size());
  for (std::size_t i = 0; i < all.size(); ++i) {
    EXPECT_EQ(all[i].first, static_cast<long>(i + 1));
    EXPECT_EQ(all[i].second, stream_events[i]);
  }
  const long cut = 3;
  const auto rest = read_events(server, cut, stream_events.size() - cut, /*use_header=*/true);
  ASSERT_EQ(rest.size(), stream_events.size() - cut);
  EXPECT_EQ(rest.front().first, cut + 1);
  EXPECT_EQ(rest.back().second, stream_events.back());

  // Metrics agree with the summary.
  auto c = server.client();
  const auto metrics = c.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_NE(metrics->body.find("marginsync_updates_total " +
                               std::to_string(s["stream"]["updates"].get<long>()) + "\n"),
            std::string::npos)
      << metrics->body;
  EXPECT_NE(metrics->body.find("marginsync_tick_path_seconds_count " +
                               std::to_string(s["stream"]["updates"].get<long>()) + "\n"),
            std::string::npos);
  EXPECT_NE(metrics->body.find("marginsync_accounts{state=\"ok\"} " + std::to_string(states["ok"]) +
                               "\n"),
            std::string::npos);

  // SIGTERM: exit 0 with the stream's outputs, byte for byte.
  EXPECT_EQ(server.stop(SIGTERM), 0) << server.log();
  EXPECT_EQ(test::read_file(dir / "serve" / "accounts.csv"),
            test::read_file(dir / "stream" / "accounts.csv"));
  EXPECT_EQ(test::read_file(dir / "serve" / "events.jsonl"),
            test::read_file(dir / "stream" / "events.jsonl"));
  EXPECT_EQ(nlohmann::json::parse(test::read_file(dir / "serve" / "summary.json"))["stopped_by"],
            "SIGTERM");
}

// A server on the sample book with one update applied (no feed): updates come from requests.
struct started_server {
  test::temp_dir dir;
  std::unique_ptr<test::serve_process> server;
  explicit started_server(std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"-q", "--book", test::sample_book().string()};
    args.insert(args.end(), extra.begin(), extra.end());
    server = std::make_unique<test::serve_process>(dir.path(), args);
  }
  httplib::Result post_events(const std::string& body, bool applied = true) {
    auto c = server->client();
    return c.Post(applied ? "/v1/events?wait=applied" : "/v1/events", body, "application/x-ndjson");
  }
};

TEST(serve_api, bad_requests_get_a_4xx_json_error_and_change_nothing) {
  started_server s;
  auto res = s.post_events(R"({"ts":"2026-11-24T08:00:00Z","underlying":"BTC","price":90000})");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  const nlohmann::json before = s.server->get("/v1/accounts/basis_trader");
  const nlohmann::json summary_before = s.server->get("/v1/summary");
  auto c = s.server->client();
  const auto expect_error = [&](const httplib::Result& r, int status, const std::string& code,
                                const std::string& what) {
    ASSERT_TRUE(r) << what;
    EXPECT_EQ(r->status, status) << what << ": " << r->body;
    const nlohmann::json j = nlohmann::json::parse(r->body, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << what << ": not JSON: " << r->body;
    EXPECT_EQ(j["error"]["code"], code) << what << ": " << r->body;
    EXPECT_FALSE(j["error"]["message"].get<std::string>().empty()) << what;
  };
  const auto whatif = [&](const std::string& body) {
    return c.Post("/v1/whatif", body, "application/json");
  };
  expect_error(whatif("{\"account\": "), 400, "bad_json", "truncated JSON");
  expect_error(whatif(R"({"account":"basis_trader"})"), 400, "bad_request", "no orders");
  expect_error(
      whatif(
          R"({"account":"basis_trader","orders":[{"instrument":"BTC-PERP","quantity":"1","price":90000}]})"),
      400, "bad_request", "a quantity as a string");
  expect_error(
      whatif(
          R"({"account":"basis_trader","orders":[{"instrument":"BTC-PERP","quantity":1e999,"price":90000}]})"),
      400, "bad_json", "a quantity over a double's range");
  expect_error(
      whatif(
          R"({"account":"basis_trader","orders":[{"instrument":"BTC-PERP","quantity":0,"price":90000}]})"),
      400, "bad_request", "a zero quantity");
  expect_error(
      whatif(
          R"({"account":"nobody","orders":[{"instrument":"BTC-PERP","quantity":1,"price":90000}]})"),
      422, "unknown_account", "an unknown account without a tier");
  expect_error(
      whatif(
          R"({"account":"basis_trader","orders":[{"instrument":"DOGE-PERP","quantity":1,"price":1}]})"),
      422, "unknown_instrument", "an unknown instrument");
  expect_error(c.Get("/v1/accounts/nobody"), 404, "unknown_account", "an unknown account");
  expect_error(c.Get("/v1/accounts?status=bankrupt"), 400, "bad_request", "a bad status");
  expect_error(c.Get("/v1/accounts?order=health&limit=0"), 400, "bad_request", "limit 0");
  expect_error(c.Get("/v1/accounts"), 400, "bad_request", "no status");
  expect_error(c.Get("/v1/events?since=x"), 400, "bad_request", "a bad since");
  expect_error(c.Get("/v1/nothing"), 404, "not_found", "an unknown path");
  expect_error(c.Delete("/v1/summary"), 405, "method_not_allowed", "DELETE");
  expect_error(c.Post("/v1/whatif", std::string(2 << 20, ' '), "application/json"), 413,
               "too_large", "a body over 1 MiB");
  // Events: one bad line refuses the body whole.
  auto bad = s.post_events(
      "{\"ts\":\"2026-11-24T08:00:05Z\",\"underlying\":\"BTC\",\"price\":80000}\n"
      "{\"ts\":\"2026-11-24T08:00:05Z\",\"underlying\":\"BTC\",\"price\":-1}\n");
  expect_error(bad, 400, "bad_request", "a negative price");
  EXPECT_NE(bad->body.find("<request>:2:"), std::string::npos) << bad->body;
  expect_error(s.post_events("timestamp,underlying,price\n2026-11-24T08:00:05Z,BTC,80000\n"), 400,
               "bad_request", "CSV");
  expect_error(
      s.post_events("{\"ts\":\"2149-01-01T00:00:00Z\",\"underlying\":\"BTC\",\"price\":80000}"),
      400, "bad_request", "an event a century ahead");

  // Nothing changed: the same update count, the same account.
  const nlohmann::json summary_after = s.server->get("/v1/summary");
  EXPECT_EQ(summary_after["stream"]["updates"], summary_before["stream"]["updates"]);
  EXPECT_EQ(summary_after["stream"]["lines_rejected"].get<long>(),
            summary_before["stream"]["lines_rejected"].get<long>() + 2);
  EXPECT_EQ(s.server->get("/v1/accounts/basis_trader"), before);
  EXPECT_EQ(s.server->stop(SIGINT), 0) << s.server->log();
}

TEST(serve_api, a_token_file_makes_every_request_carry_the_token) {
  test::temp_dir dir;
  const std::string token = "0123456789abcdef0123456789abcdef";
  test::write_file(dir / "token", token + "\n");
  test::serve_process server(dir.path(), {"-q", "--book", test::sample_book().string(),
                                          "--token-file", (dir / "token").string()});
  auto none = server.client();
  for (const char* path : {"/healthz", "/", "/v1/summary", "/metrics"}) {
    auto r = none.Get(path);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 401) << path;
  }
  auto wrong = server.client("0123456789abcdef0123456789abcdeX");
  EXPECT_EQ(wrong.Get("/healthz")->status, 401);
  auto right = server.client(token);
  EXPECT_EQ(right.Get("/healthz")->status, 200);
  EXPECT_EQ(right.Get("/v1/summary")->status, 200);
  EXPECT_EQ(server.stop(), 0);

  // Refused at start: a short token, and a non-loopback address without a token.
  test::write_file(dir / "short", "abc\n");
  const test::command_result short_token =
      test::run_cli("serve -q " + sample_args() + " --token-file " + test::q(dir / "short") +
                    " --listen 127.0.0.1:0");
  EXPECT_EQ(short_token.status, 2) << short_token.out;
  EXPECT_NE(short_token.out.find("at least 16 characters"), std::string::npos) << short_token.out;
  const test::command_result open =
      test::run_cli("serve -q " + sample_args() + " --listen 0.0.0.0:0");
  EXPECT_EQ(open.status, 2) << open.out;
  EXPECT_NE(open.out.find("--token-file"), std::string::npos) << open.out;
}

// The what-if's after numbers are those of the account once the orders are applied as trades at
// the same prices (a risk run on the changed book, no staleness add-on at once).
TEST(serve_api, whatif_equals_the_account_after_the_orders_are_traded) {
  started_server s;
  const std::string ts = "2026-11-24T08:00:00Z";
  auto r = s.post_events("{\"ts\":\"" + ts + "\",\"underlying\":\"BTC\",\"price\":90000}\n" +
                         "{\"ts\":\"" + ts + "\",\"underlying\":\"ETH\",\"price\":3000}\n");
  ASSERT_EQ(r->status, 200) << r->body;
  auto c = s.server->client();
  struct order {
    const char* instrument;
    double quantity, price;
  };
  const std::vector<order> orders = {{"BTC-PERP", -0.5, 90100}, {"ETH-PERP", 4, 2995}};
  for (const char* account : {"basis_trader", "short_option_seller"}) {
    nlohmann::json body = {{"account", account}, {"orders", nlohmann::json::array()}};
    std::string trades;
    for (const order& o : orders) {
      body["orders"].push_back(
          {{"instrument", o.instrument}, {"quantity", o.quantity}, {"price", o.price}});
      trades += nlohmann::json{{"type", "trade"},        {"ts", ts},
                               {"account", account},     {"instrument", o.instrument},
                               {"quantity", o.quantity}, {"price", o.price}}
                    .dump() +
                "\n";
    }
    const nlohmann::json before = s.server->get(std::string("/v1/accounts/") + account);
    auto w = c.Post("/v1/whatif", body.dump(), "application/json");
    ASSERT_TRUE(w);
    ASSERT_EQ(w->status, 200) << w->body;
    const nlohmann::json what = nlohmann::json::parse(w->body);
    EXPECT_EQ(s.server->get(std::string("/v1/accounts/") + account), before)
        << "a what-if changes nothing";
    EXPECT_LE(rel_diff(what["before"]["equity"].get<double>(), before["equity"].get<double>()),
              1e-9);
    auto applied = s.post_events(trades);
    ASSERT_EQ(applied->status, 200) << applied->body;
    const nlohmann::json answer = nlohmann::json::parse(applied->body);
    EXPECT_TRUE(answer["applied"].get<bool>()) << applied->body;
    EXPECT_FALSE(answer["journaled"].get<bool>()) << "no --journal: " << applied->body;
    EXPECT_EQ(answer["events"], orders.size());
    const nlohmann::json after = s.server->get(std::string("/v1/accounts/") + account);
    EXPECT_EQ(after["staleness_addon"].get<double>(), 0.0);
    for (const char* key : {"equity", "own_funds", "var", "es", "initial_margin",
                            "maintenance_margin", "breach_probability"})
      EXPECT_LE(rel_diff(what["after"][key].get<double>(), after[key].get<double>()), 1e-9)
          << account << " " << key << ": what-if " << what["after"][key] << ", traded "
          << after[key];
    EXPECT_EQ(what["after"]["status"], after["status"]) << account;
    EXPECT_EQ(what["accept"].get<bool>(),
              after["equity"].get<double>() >= after["initial_margin"].get<double>());
  }
  // The prewarm after an update prices again the rows what-ifs asked for: a tick that moves the
  // spots, and rows are priced without a what-if.
  const auto priced = [&] {
    const std::string m = c.Get("/metrics")->body;
    const std::string key = "marginsync_whatif_rows_total{source=\"priced\"} ";
    return std::stol(m.substr(m.find(key) + key.size()));
  };
  const long before_tick = priced();
  EXPECT_GT(before_tick, 0);
  r = s.post_events("{\"ts\":\"2026-11-24T08:00:01Z\",\"underlying\":\"BTC\",\"price\":90500}\n");
  ASSERT_EQ(r->status, 200) << r->body;
  long after_tick = before_tick;
  for (int i = 0; i < 500 && after_tick == before_tick; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    after_tick = priced();
  }
  EXPECT_GT(after_tick, before_tick) << "no row priced after the tick";
  EXPECT_EQ(s.server->stop(), 0);
}

TEST(serve_api, sighup_reopens_the_log_and_the_status_line_is_written) {
  test::temp_dir dir;
  const auto log = dir / "serve.jsonlog";
  std::string feed = "timestamp,underlying,price\n";
  for (int i = 0; i < 40; ++i)
    feed += "2026-11-24T08:00:" + std::string(i < 10 ? "0" : "") + std::to_string(i) + "Z,BTC," +
            std::to_string(90000 + 10 * i) + "\n";
  test::write_file(dir / "feed.csv", feed);
  test::serve_process server(
      dir.path(), {"--book", test::sample_book().string(), "--ticks", (dir / "feed.csv").string(),
                   "--log-file", log.string(), "--status-every", "0.2"});
  server.wait_summary([](const nlohmann::json& j) { return j["stream"]["feed"] == "ended"; });
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  std::filesystem::rename(log, dir / "serve.jsonlog.1");
  ::kill(server.pid(), SIGHUP);
  for (int i = 0; i < 200 && !std::filesystem::exists(log); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_TRUE(std::filesystem::exists(log)) << "SIGHUP opened the log at its path again";
  EXPECT_EQ(server.stop(), 0);
  const std::string old = test::read_file(dir / "serve.jsonlog.1"), now = test::read_file(log);
  EXPECT_NE(old.find(" info  status stream_time="), std::string::npos) << old;
  EXPECT_NE(old.find(" ok="), std::string::npos) << old;
  EXPECT_NE(now.find("log reopened"), std::string::npos) << now;
  EXPECT_NE(now.find("SIGTERM"), std::string::npos) << now;
  // UTC timestamps with milliseconds and a level on every line.
  for (const std::string& line : lines_of(old))
    EXPECT_TRUE(line.size() > 25 && line[10] == 'T' && line[23] == 'Z') << line;
}

}  // namespace
}  // namespace msync

namespace msync {
namespace {

// A client that sends half a request and waits is cut off after the read time-out (5 s), and
// while it waits the server answers others and applies updates.
TEST(serve_api, a_stalled_client_is_timed_out_and_blocks_nothing) {
  started_server s;
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(
      std::stoi(s.server->url().substr(s.server->url().rfind(':') + 1))));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  const std::string half = "POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{";
  ASSERT_EQ(::write(fd, half.data(), half.size()), static_cast<ssize_t>(half.size()));
  auto r = s.post_events(R"({"ts":"2026-11-24T08:00:00Z","underlying":"BTC","price":90000})");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(s.server->get("/v1/summary")["stream"]["updates"], 1);
  // The stalled connection is closed by the server: the read ends (EOF or reset) within the
  // time-out and some slack, instead of blocking for ever.
  timeval wait{30, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof wait);
  char buf[512];
  const auto start = std::chrono::steady_clock::now();
  ssize_t n = 0;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) {
  }
  const double waited =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_LT(waited, 29.0) << "the server never closed the stalled connection";
  ::close(fd);
  EXPECT_EQ(s.server->stop(), 0);
}

}  // namespace
}  // namespace msync

namespace msync {
namespace {

// serve runs with OpenMP's passive wait policy unless the environment says otherwise (its
// OpenMP threads must not spin on the cores its request threads need).
TEST(serve_api, runs_with_passive_openmp_unless_told_otherwise) {
  const char* was = std::getenv("OMP_WAIT_POLICY");
  const std::string saved = was ? was : "";
  const auto environment_of = [](pid_t pid) {
    std::string text = test::read_file("/proc/" + std::to_string(pid) + "/environ");
    std::replace(text.begin(), text.end(), '\0', '\n');
    return text;
  };
  ::unsetenv("OMP_WAIT_POLICY");
  {
    started_server s;
    EXPECT_NE(environment_of(s.server->pid()).find("\nOMP_WAIT_POLICY=passive\n"),
              std::string::npos);
    EXPECT_EQ(s.server->stop(), 0);
  }
  ::setenv("OMP_WAIT_POLICY", "active", 1);
  {
    started_server s;
    EXPECT_NE(environment_of(s.server->pid()).find("\nOMP_WAIT_POLICY=active\n"),
              std::string::npos);
    EXPECT_EQ(s.server->stop(), 0);
  }
  if (was)
    ::setenv("OMP_WAIT_POLICY", saved.c_str(), 1);
  else
    ::unsetenv("OMP_WAIT_POLICY");
}

}  // namespace
}  // namespace msync
