// marginsync_bench_serve: `marginsync serve` under load (docs/design.md 8.12, issue item 6). It
// starts the server on a book as a child process on a loopback port, drives a 10 Hz price stream
// into POST /v1/events (one update per 100 ms of wall time: every underlying ticks, stream time
// advancing 100 ms, prices a small random walk), and runs two phases of bounded length:
//   A: the 10 Hz stream alone;
//   B: the stream plus POST /v1/whatif at a fixed open-loop rate from a few keep-alive clients,
//      each request for a random account of the book with up to 20 positions after its orders
//      (or a new account with 20 orders), on the book's instruments at prices near the market.
// It reports the tick path per phase (exact, per update: the server's ticks.csv, read after the
// run), the delay the queries cause to it (p99 B / p99 A - 1), the what-if latency in the server
// (GET /metrics histogram over phase B, and /v1/summary's last-1,000 windows) and over HTTP as
// the client measures it, the achieved rate, errors, the risk runs and the engine's backlog.
// Never asserts a time; run by hand, never as a test.
//
//   marginsync_bench_serve BOOK_DIR | --generate N   [options, --help]
#include <fcntl.h>
#include <httplib.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "io/number_parse.hpp"
#include "marginsync/black_scholes.hpp"

extern char** environ;

namespace {

namespace fs = std::filesystem;
using clock_type = std::chrono::steady_clock;
using json = nlohmann::json;

struct options {
  std::string book;
  long generate = 0;  // accounts of a book to generate first (0: use `book`)
  std::string marginsync;
  std::string work;
  std::string json_path;
  std::string backend = "cpu";
  int threads = 0;  // the server's --threads (0: all cores)
  long scenarios = 10000;
  double phase_seconds = 30.0;
  double rate = 1000.0;  // what-ifs per second in phase B
  int clients = 6;
  int max_orders = 20;
  double new_account_share = 0.1;
  unsigned seed = 1;
  double start_timeout = 1800.0;  // seconds for the server to load and its first risk run
  double drain_seconds = 120.0;   // after phase B, for the engine to apply what was posted
  double stop_seconds = 300.0;    // after SIGTERM, for the server to write its outputs and exit
  std::vector<std::string> serve_args;  // more arguments for `marginsync serve`
};

void usage() {
  std::puts(
      "marginsync_bench_serve BOOK_DIR | --generate N [--marginsync PATH] [--work DIR]\n"
      "    [--json FILE] [--backend cpu|cuda|auto] [--threads N] [--scenarios N]\n"
      "    [--phase-seconds S] [--rate PER_SECOND] [--clients N] [--max-orders N]\n"
      "    [--new-account-share X] [--seed N] [--start-timeout S] [--drain-seconds S]\n"
      "    [--stop-seconds S] [--method full|delta_gamma] [--serve-arg ARG]...\n"
      "Defaults: --scenarios 10000 --phase-seconds 30 --rate 1000 --clients 6 --max-orders 20\n"
      "--new-account-share 0.1 --backend cpu --start-timeout 1800 --drain-seconds 120\n"
      "--stop-seconds 300; --marginsync: the marginsync beside this executable. --serve-arg\n"
      "passes one more argument to `marginsync serve` (repeat it for each).");
}

options parse_options(int argc, char** argv) {
  options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw std::runtime_error(a + " needs a value");
      return argv[++i];
    };
    if (a == "--help" || a == "-h") {
      usage();
      std::exit(0);
    } else if (a == "--generate") {
      o.generate = std::stol(value());
    } else if (a == "--marginsync") {
      o.marginsync = value();
    } else if (a == "--work") {
      o.work = value();
    } else if (a == "--json") {
      o.json_path = value();
    } else if (a == "--backend") {
      o.backend = value();
    } else if (a == "--threads") {
      o.threads = std::stoi(value());
    } else if (a == "--scenarios") {
      o.scenarios = std::stol(value());
    } else if (a == "--phase-seconds") {
      o.phase_seconds = std::stod(value());
    } else if (a == "--rate") {
      o.rate = std::stod(value());
    } else if (a == "--clients") {
      o.clients = std::stoi(value());
    } else if (a == "--max-orders") {
      o.max_orders = std::stoi(value());
    } else if (a == "--new-account-share") {
      o.new_account_share = std::stod(value());
    } else if (a == "--seed") {
      o.seed = static_cast<unsigned>(std::stoul(value()));
    } else if (a == "--start-timeout") {
      o.start_timeout = std::stod(value());
    } else if (a == "--drain-seconds") {
      o.drain_seconds = std::stod(value());
    } else if (a == "--stop-seconds") {
      o.stop_seconds = std::stod(value());
    } else if (a == "--method") {
      o.serve_args.push_back("--method");
      o.serve_args.push_back(value());
    } else if (a == "--serve-arg") {
      o.serve_args.push_back(value());
    } else if (!a.empty() && a[0] != '-' && o.book.empty()) {
      o.book = a;
    } else {
      throw std::runtime_error("unknown argument '" + a + "' (see --help)");
    }
  }
  if (o.book.empty() == (o.generate == 0))
    throw std::runtime_error("give a book directory or --generate N (see --help)");
  if (o.phase_seconds <= 0 || o.phase_seconds > 600)
    throw std::runtime_error("--phase-seconds must be in (0, 600]");
  if (o.rate <= 0 || o.rate > 100000) throw std::runtime_error("--rate must be in (0, 100000]");
  if (o.clients < 1 || o.clients > 16) throw std::runtime_error("--clients must be 1 to 16");
  if (o.max_orders < 1 || o.max_orders > 20) throw std::runtime_error("--max-orders: 1 to 20");
  return o;
}

// ---- small helpers ------------------------------------------------------------------------------

double seconds_since(clock_type::time_point t) {
  return std::chrono::duration<double>(clock_type::now() - t).count();
}

double nearest_rank(std::vector<double> v, double p) {
  if (v.empty()) return std::nan("");
  std::sort(v.begin(), v.end());
  std::size_t k = static_cast<std::size_t>(std::ceil(p * static_cast<double>(v.size())));
  k = std::clamp<std::size_t>(k, 1, v.size());
  return v[k - 1];
}

json percentiles(const std::vector<double>& ms) {
  return {{"count", ms.size()},
          {"p50_ms", nearest_rank(ms, 0.50)},
          {"p99_ms", nearest_rank(ms, 0.99)},
          {"max_ms", nearest_rank(ms, 1.0)}};
}

// ISO 8601 UTC or epoch milliseconds (the inputs' timestamps, docs/design.md 2.1), to epoch ms.
std::int64_t epoch_ms(const json& v) {
  if (v.is_number()) return static_cast<std::int64_t>(v.get<double>());
  std::int64_t ns = 0;
  const std::string s = v.get<std::string>();
  if (std::string why = msync::parse_timestamp(s, ns); !why.empty())
    throw std::runtime_error("not a timestamp: " + s + ": " + why);
  return ns / 1000000;
}

std::vector<std::string> split_csv_line(const std::string& line) {
  std::vector<std::string> out;
  std::string cell;
  std::istringstream in(line);
  while (std::getline(in, cell, ',')) {
    if (!cell.empty() && cell.back() == '\r') cell.pop_back();
    out.push_back(cell);
  }
  if (!line.empty() && line.back() == ',') out.emplace_back();
  return out;
}

// A CSV file as rows of cells, keyed by its header's names.
struct csv_table {
  std::map<std::string, std::size_t> column;
  std::vector<std::vector<std::string>> rows;
  const std::string& at(std::size_t r, const std::string& name) const {
    const auto c = column.find(name);
    if (c == column.end()) throw std::runtime_error("no column " + name);
    static const std::string empty;
    return c->second < rows[r].size() ? rows[r][c->second] : empty;
  }
};

csv_table read_csv(const fs::path& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read " + path.string());
  csv_table t;
  std::string line;
  if (!std::getline(in, line)) return t;
  const std::vector<std::string> header = split_csv_line(line);
  for (std::size_t i = 0; i < header.size(); ++i) t.column[header[i]] = i;
  while (std::getline(in, line))
    if (!line.empty()) t.rows.push_back(split_csv_line(line));
  return t;
}

std::string read_text(const fs::path& p) {
  std::ifstream in(p);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Runs a command and waits; its output appended to `log`. Returns the exit status.
pid_t spawn(const std::vector<std::string>& args, const fs::path& log) {
  std::vector<std::string> copy = args;
  std::vector<char*> argv;
  for (std::string& a : copy) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t files;
  posix_spawn_file_actions_init(&files);
  const std::string log_path = log.string();
  posix_spawn_file_actions_addopen(&files, 1, log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND,
                                   0644);
  posix_spawn_file_actions_adddup2(&files, 1, 2);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, argv[0], &files, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&files);
  if (rc != 0) throw std::runtime_error("cannot start " + args[0]);
  return pid;
}

int wait_exit(pid_t pid) {
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// ---- the book, as the bench needs it: instruments to order, prices near the market, accounts ----

struct instrument {
  std::string id, kind;
  std::size_t underlying = 0;
  double strike = 0.0, multiplier = 1.0;
  std::int64_t expiry_ms = 0;
  bool call = true;
};

struct book_view {
  std::int64_t as_of_ms = 0;
  double rate = 0.0;
  std::vector<std::string> symbols;
  std::vector<double> spot, vol, dividend;
  std::vector<instrument> instruments;
  std::vector<std::string> accounts;  // with at most max_orders - 1 positions
  std::vector<int> held;              // their position rows
  std::size_t all_accounts = 0;
};

book_view read_book(const fs::path& dir, int max_positions) {
  book_view b;
  const json market = json::parse(read_text(dir / "market.json"));
  b.as_of_ms = epoch_ms(market.at("as_of"));
  b.rate = market.value("rate", 0.0);
  std::map<std::string, std::size_t> by_symbol;
  for (const json& u : market.at("underlyings")) {
    by_symbol[u.at("symbol").get<std::string>()] = b.symbols.size();
    b.symbols.push_back(u.at("symbol"));
    b.spot.push_back(u.at("spot"));
    b.vol.push_back(u.value("vol", 0.5));
    b.dividend.push_back(u.value("dividend_yield", 0.0));
  }
  const csv_table ins = read_csv(dir / "instruments.csv");
  for (std::size_t r = 0; r < ins.rows.size(); ++r) {
    instrument i;
    i.id = ins.at(r, "instrument_id");
    i.kind = ins.at(r, "kind");
    i.underlying = by_symbol.at(ins.at(r, "underlying"));
    if (const std::string& m = ins.at(r, "multiplier"); !m.empty()) i.multiplier = std::stod(m);
    if (i.kind == "future" || i.kind == "option") i.expiry_ms = epoch_ms(json(ins.at(r, "expiry")));
    if (i.kind == "option") {
      i.strike = std::stod(ins.at(r, "strike"));
      i.call = ins.at(r, "option_type") == "call" || ins.at(r, "option_type") == "C";
    }
    b.instruments.push_back(i);
  }
  // Position rows per account (an upper bound on its positions), streamed: a 1 M-account book
  // has 5 M rows.
  std::unordered_map<std::string, int> rows;
  {
    std::ifstream in(dir / "positions.csv");
    std::string line;
    std::getline(in, line);
    while (std::getline(in, line))
      if (const std::size_t comma = line.find(','); comma != std::string::npos)
        ++rows[line.substr(0, comma)];
  }
  std::ifstream in(dir / "accounts.csv");
  std::string line;
  std::getline(in, line);
  while (std::getline(in, line)) {
    const std::size_t comma = line.find(',');
    if (comma == std::string::npos) continue;
    std::string id = line.substr(0, comma);
    ++b.all_accounts;
    const auto h = rows.find(id);
    const int held = h == rows.end() ? 0 : h->second;
    if (held < max_positions) {
      b.accounts.push_back(std::move(id));
      b.held.push_back(held);
    }
  }
  return b;
}

// A price near the instrument's value at spot S now (the model's: forward, Black-Scholes at the
// underlying's vol; the venue's marks and surfaces are not needed for an order's price).
double near_price(const book_view& b, const instrument& i, double spot, std::int64_t now_ms) {
  const double t = static_cast<double>(i.expiry_ms - now_ms) / (365.0 * 86400e3);
  const double carry = b.rate - b.dividend[i.underlying];
  if (i.kind == "future") return spot * std::exp(carry * std::max(t, 0.0));
  if (i.kind == "option")
    return std::max(msync::bsm_value(i.call, spot, i.strike, t, b.rate, carry, b.vol[i.underlying]),
                    spot * 1e-4);
  return spot;
}

// ---- the server ---------------------------------------------------------------------------------

struct server_process {
  pid_t pid = -1;
  int port = 0;
  ~server_process() {
    if (pid > 0) {
      ::kill(pid, SIGKILL);
      wait_exit(pid);
    }
  }
};

httplib::Client client_for(int port, int timeout_s = 30) {
  httplib::Client c("127.0.0.1", port);
  c.set_keep_alive(true);
  // A request's header and body are separate writes: without TCP_NODELAY, Nagle's algorithm
  // holds the body until the server's delayed ACK (40 ms on Linux).
  c.set_tcp_nodelay(true);
  c.set_read_timeout(timeout_s, 0);
  c.set_write_timeout(timeout_s, 0);
  c.set_connection_timeout(5, 0);
  return c;
}

json get_json(httplib::Client& c, const std::string& path) {
  auto res = c.Get(path.c_str());
  if (!res || res->status != 200)
    throw std::runtime_error("GET " + path + " failed" +
                             (res ? ": " + std::to_string(res->status) : std::string()));
  return json::parse(res->body);
}

std::string get_text(httplib::Client& c, const std::string& path) {
  auto res = c.Get(path.c_str());
  if (!res || res->status != 200) throw std::runtime_error("GET " + path + " failed");
  return res->body;
}

// Cumulative bucket counts of a histogram in /metrics, by upper bound (+Inf as infinity), and
// its _sum and _count.
struct histogram {
  std::vector<std::pair<double, double>> buckets;
  double sum = 0.0, count = 0.0;
};

histogram read_histogram(const std::string& metrics, const std::string& name) {
  histogram h;
  std::istringstream in(metrics);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(name + "_bucket{le=\"", 0) == 0) {
      const std::size_t a = name.size() + 12, b = line.find('"', a);
      const std::string le = line.substr(a, b - a);
      h.buckets.emplace_back(le == "+Inf" ? INFINITY : std::stod(le),
                             std::stod(line.substr(line.rfind(' ') + 1)));
    } else if (line.rfind(name + "_sum ", 0) == 0) {
      h.sum = std::stod(line.substr(line.rfind(' ') + 1));
    } else if (line.rfind(name + "_count ", 0) == 0) {
      h.count = std::stod(line.substr(line.rfind(' ') + 1));
    }
  }
  return h;
}

// The upper bound (ms) of the bucket holding the p-quantile of the observations between two reads.
double histogram_quantile_ms(const histogram& before, const histogram& after, double p) {
  const double n = after.count - before.count;
  if (n <= 0 || after.buckets.size() != before.buckets.size()) return std::nan("");
  for (std::size_t i = 0; i < after.buckets.size(); ++i)
    if (after.buckets[i].second - before.buckets[i].second >= std::ceil(p * n))
      return after.buckets[i].first * 1e3;
  return INFINITY;
}

// ---- the load -----------------------------------------------------------------------------------

// The 10 Hz stream: one update per 100 ms of wall time, each underlying ticking, stream time 100 ms
// further each time. Prices: a random walk of the underlying's vol over 100 ms of a year, scaled
// up 10x so that the prices visibly move (still far below the 0.5% deviation trigger).
class ticker {
 public:
  // `timeout_s`: the first update waits for the first risk run, minutes on a large book.
  ticker(const book_view& b, int port, unsigned seed, int timeout_s)
      : book_(b), client_(client_for(port, timeout_s)), rng_(seed), spot_(b.spot) {}

  // The posted update's number (1 is the first) and its stream time.
  std::int64_t posted() const { return posted_; }
  std::int64_t stream_ms() const { return book_.as_of_ms + 100 * posted_; }
  std::vector<double> spots() {
    std::lock_guard<std::mutex> guard(mutex_);
    return spot_;
  }

  // Posts one update; `wait_applied`: until the engine has applied it. Returns the POST's wall ms
  // or a negative number on an error.
  double post(bool wait_applied) {
    std::string body;
    {
      std::lock_guard<std::mutex> guard(mutex_);
      ++posted_;
      for (std::size_t u = 0; u < spot_.size(); ++u) {
        const double sd = 10.0 * book_.vol[u] * std::sqrt(0.1 / (365.0 * 86400.0));
        spot_[u] *= std::exp(sd * normal_(rng_));
        char line[256];
        std::snprintf(line, sizeof line,
                      "{\"type\":\"price\",\"ts\":%lld,\"underlying\":\"%s\",\"price\":%.10g}\n",
                      static_cast<long long>(stream_ms()), book_.symbols[u].c_str(), spot_[u]);
        body += line;
      }
    }
    const auto t0 = clock_type::now();
    auto res = client_.Post(wait_applied ? "/v1/events?wait=applied" : "/v1/events", body,
                            "application/x-ndjson");
    const double ms = seconds_since(t0) * 1e3;
    if (!res || res->status != 200) {
      ++errors_;
      if (res && last_error_.empty()) last_error_ = std::to_string(res->status) + " " + res->body;
      return -1.0;
    }
    return ms;
  }

  // Posts on a fixed schedule (t0 + k * 100 ms) until `stop`; a post that comes later than its
  // slot by more than 50 ms counts as late.
  void run(const std::atomic<bool>& stop) {
    auto next = clock_type::now();
    while (!stop) {
      std::this_thread::sleep_until(next);
      if (std::chrono::duration<double>(clock_type::now() - next).count() > 0.05) ++late_;
      const double ms = post(false);
      if (ms >= 0) {
        std::lock_guard<std::mutex> guard(mutex_);
        post_ms_.push_back(ms);
      }
      next += std::chrono::milliseconds(100);
    }
  }

  long errors() const { return errors_; }
  long late() const { return late_; }
  const std::string& last_error() const { return last_error_; }
  std::vector<double> take_post_ms() {
    std::lock_guard<std::mutex> guard(mutex_);
    return std::exchange(post_ms_, {});
  }

 private:
  const book_view& book_;
  httplib::Client client_;
  std::mt19937_64 rng_;
  std::normal_distribution<double> normal_;
  std::mutex mutex_;
  std::vector<double> spot_;
  std::atomic<std::int64_t> posted_{0};
  std::atomic<long> errors_{0}, late_{0};
  std::string last_error_;  // the first error's, written once by the posting thread
  std::vector<double> post_ms_;
};

// One what-if client: requests at its share of the open-loop schedule (request j of all clients
// is due at t0 + j / rate; this client sends j = c, c + clients, ...), on a keep-alive connection.
struct whatif_client_result {
  std::vector<double> http_ms;      // send to answer
  std::vector<double> schedule_ms;  // due time to answer (counts the wait for a late send)
  long errors = 0, accepted = 0, refused = 0;
  long not_sent = 0;  // due within the phase, but the client was still behind at its end
  std::map<int, long> codes;
  std::string first_error;
};

std::string whatif_body(const book_view& b, std::mt19937_64& rng, const std::vector<double>& spot,
                        std::int64_t now_ms, const options& o, long serial) {
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  json req;
  int orders = 0;
  if (unit(rng) < o.new_account_share || b.accounts.empty()) {
    req["account"] = "bench-new-" + std::to_string(serial);
    req["tier"] = "standard";
    req["collateral"] = 100000.0;
    orders = o.max_orders;
  } else {
    const std::size_t a = std::uniform_int_distribution<std::size_t>(0, b.accounts.size() - 1)(rng);
    req["account"] = b.accounts[a];
    orders = std::uniform_int_distribution<int>(1, std::max(1, o.max_orders - b.held[a]))(rng);
  }
  json list = json::array();
  while (static_cast<int>(list.size()) < orders) {
    const instrument& i =
        b.instruments[std::uniform_int_distribution<std::size_t>(0, b.instruments.size() - 1)(rng)];
    if (i.expiry_ms != 0 && i.expiry_ms <= now_ms) continue;  // expired: nothing to trade
    const double size = std::round((0.1 + 2.9 * unit(rng)) * 100.0) / 100.0;
    const double price =
        near_price(b, i, spot[i.underlying], now_ms) * (1.0 + 0.004 * (unit(rng) - 0.5));
    list.push_back({{"instrument", i.id},
                    {"quantity", unit(rng) < 0.5 ? -size : size},
                    {"price", std::round(price * 1e6) / 1e6}});
  }
  req["orders"] = std::move(list);
  return req.dump();
}

void run_whatif_client(int c, int port, const book_view& b, ticker& tick, const options& o,
                       clock_type::time_point t0, double seconds, whatif_client_result& out) {
  httplib::Client client = client_for(port);
  std::mt19937_64 rng(o.seed * 7919u + static_cast<unsigned>(c) + 1u);
  const long total = static_cast<long>(o.rate * seconds);
  const auto end = t0 + std::chrono::nanoseconds(static_cast<std::int64_t>(seconds * 1e9));
  for (long j = c; j < total; j += o.clients) {
    const auto due = t0 + std::chrono::nanoseconds(
                              static_cast<std::int64_t>(static_cast<double>(j) / o.rate * 1e9));
    std::this_thread::sleep_until(due);
    if (clock_type::now() >= end) {  // a bounded phase: what is left is counted, not sent
      out.not_sent += (total - 1 - j) / o.clients + 1;
      break;
    }
    const std::string body = whatif_body(b, rng, tick.spots(), tick.stream_ms(), o, j);
    const auto sent = clock_type::now();
    auto res = client.Post("/v1/whatif", body, "application/json");
    const auto got = clock_type::now();
    if (!res) {
      ++out.errors;
      ++out.codes[0];
      if (out.first_error.empty()) out.first_error = httplib::to_string(res.error());
      continue;
    }
    ++out.codes[res->status];
    if (res->status != 200) {
      ++out.errors;
      if (out.first_error.empty()) out.first_error = std::to_string(res->status) + " " + res->body;
      continue;
    }
    const json answer = json::parse(res->body, nullptr, false);
    if (!answer.is_discarded() && answer.value("accept", false))
      ++out.accepted;
    else
      ++out.refused;
    out.http_ms.push_back(std::chrono::duration<double, std::milli>(got - sent).count());
    out.schedule_ms.push_back(std::chrono::duration<double, std::milli>(got - due).count());
  }
}

// What the server's summary said at a moment: runs by trigger, updates applied.
struct summary_point {
  std::map<std::string, long> runs;
  long updates = 0;
};

summary_point summary_now(httplib::Client& c) {
  const json s = get_json(c, "/v1/summary");
  summary_point p;
  for (const auto& [k, v] : s["risk"]["runs"].items()) p.runs[k] = v.get<long>();
  p.updates = s["stream"]["updates"].get<long>();
  return p;
}

json runs_between(const summary_point& a, const summary_point& b) {
  json j = json::object();
  for (const auto& [k, v] : b.runs) j[k] = v - (a.runs.count(k) ? a.runs.at(k) : 0);
  return j;
}

struct phase_monitor {
  long max_backlog = 0;              // updates posted but not yet applied, at the monitor's samples
  std::vector<json> whatif_windows;  // /v1/summary latency.whatif samples
};

// Samples the backlog (and, in phase B, the server's what-if window) every 500 ms until `stop`.
void monitor(int port, const ticker& tick, const std::atomic<bool>& stop, phase_monitor& m) {
  httplib::Client c = client_for(port);
  while (!stop) {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    auto res = c.Get("/v1/summary");
    if (!res || res->status != 200) continue;
    const json s = json::parse(res->body, nullptr, false);
    if (s.is_discarded()) continue;
    m.max_backlog = std::max(m.max_backlog,
                             static_cast<long>(tick.posted()) - s["stream"]["updates"].get<long>());
    m.whatif_windows.push_back(s["latency"]["whatif"]);
  }
}

}  // namespace

int main(int argc, char** argv) {
  try {
    options o = parse_options(argc, argv);
    if (o.marginsync.empty())
      o.marginsync = (fs::absolute(fs::path(argv[0])).parent_path() / "marginsync").string();
    const fs::path work =
        o.work.empty() ? fs::temp_directory_path() / ("marginsync_bench_serve." +
                                                      std::to_string(static_cast<long>(getpid())))
                       : fs::path(o.work);
    fs::create_directories(work);
    json report;
    report["date_utc"] = [] {
      char text[32];
      const std::time_t now = std::time(nullptr);
      std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
      return std::string(text);
    }();
    report["cores"] = std::thread::hardware_concurrency();

    // The book: given, or generated into the work directory.
    fs::path book_dir = o.book;
    if (o.generate > 0) {
      book_dir = work / "book";
      std::printf("generating a book of %ld accounts in %s ...\n", o.generate,
                  book_dir.string().c_str());
      std::fflush(stdout);
      const auto t = clock_type::now();
      const int rc = wait_exit(spawn({o.marginsync, "generate", "-q", "--force", "--accounts",
                                      std::to_string(o.generate), "--out", book_dir.string()},
                                     work / "generate.log"));
      if (rc != 0)
        throw std::runtime_error("marginsync generate failed: " + read_text(work / "generate.log"));
      report["generate_seconds"] = seconds_since(t);
    }
    const book_view book = read_book(book_dir, o.max_orders);
    if (book.instruments.empty()) throw std::runtime_error("the book has no instruments");
    report["book"] = {{"dir", fs::absolute(book_dir).string()},
                      {"accounts", book.all_accounts},
                      {"instruments", book.instruments.size()},
                      {"underlyings", book.symbols.size()}};

    // The server: loaded, listening, then the first update (its risk run "start") applied.
    const fs::path out_dir = work / "out", ready = work / "ready", log = work / "serve.log";
    fs::remove_all(out_dir);
    fs::remove(ready);
    std::vector<std::string> args = {o.marginsync,   "serve",
                                     "--book",       book_dir.string(),
                                     "--listen",     "127.0.0.1:0",
                                     "--ready-file", ready.string(),
                                     "--out",        out_dir.string(),
                                     "--log-file",   (work / "serve_log.txt").string(),
                                     "--scenarios",  std::to_string(o.scenarios),
                                     "--backend",    o.backend,
                                     "--threads",    std::to_string(o.threads)};
    args.insert(args.end(), o.serve_args.begin(), o.serve_args.end());
    std::printf("starting %s serve on %s (%zu accounts, %ld scenarios, --threads %d) ...\n",
                o.marginsync.c_str(), book_dir.string().c_str(), book.all_accounts, o.scenarios,
                o.threads);
    std::fflush(stdout);
    server_process server;
    const auto start = clock_type::now();
    server.pid = spawn(args, log);
    while (!fs::exists(ready)) {
      int status = 0;
      if (waitpid(server.pid, &status, WNOHANG) == server.pid) {
        server.pid = -1;
        throw std::runtime_error("marginsync serve exited at start:\n" + read_text(log));
      }
      if (seconds_since(start) > o.start_timeout)
        throw std::runtime_error("marginsync serve did not listen in time");
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    std::string url = read_text(ready);
    server.port = std::stoi(url.substr(url.rfind(':') + 1));
    report["load_seconds"] = seconds_since(start);

    ticker tick(book, server.port, o.seed, static_cast<int>(o.start_timeout));
    {
      const auto t = clock_type::now();
      if (tick.post(true) < 0)
        throw std::runtime_error("first update refused: " + tick.last_error());
      report["first_update_seconds"] = seconds_since(t);  // with the risk run "start"
    }
    std::printf("listening after %.1f s; first update (risk run 'start') applied after %.1f s\n",
                report["load_seconds"].get<double>(), report["first_update_seconds"].get<double>());
    std::fflush(stdout);

    httplib::Client control = client_for(server.port, 120);
    std::atomic<bool> stop_ticks{false};
    const auto stream_start = clock_type::now();
    std::thread ticks([&] { tick.run(stop_ticks); });

    // Phase A: the stream alone.
    const std::int64_t a_first = tick.posted() + 1;
    summary_point s0 = summary_now(control);
    phase_monitor mon_a;
    {
      std::atomic<bool> stop{false};
      std::thread m([&] { monitor(server.port, tick, stop, mon_a); });
      std::this_thread::sleep_until(
          stream_start + std::chrono::milliseconds(static_cast<long>(o.phase_seconds * 1e3)));
      stop = true;
      m.join();
    }
    const std::int64_t a_last = tick.posted();
    const std::vector<double> post_a = tick.take_post_ms();
    summary_point s1 = summary_now(control);
    std::printf("phase A done: %lld updates posted\n",
                static_cast<long long>(a_last - a_first + 1));
    std::fflush(stdout);

    // Phase B: the stream and the what-ifs.
    const histogram whatif_before =
        read_histogram(get_text(control, "/metrics"), "marginsync_whatif_seconds");
    const std::int64_t b_first = a_last + 1;
    phase_monitor mon_b;
    std::vector<whatif_client_result> results(static_cast<std::size_t>(o.clients));
    const auto b_start = clock_type::now();
    {
      std::atomic<bool> stop{false};
      std::thread m([&] { monitor(server.port, tick, stop, mon_b); });
      std::vector<std::thread> clients;
      for (int c = 0; c < o.clients; ++c)
        clients.emplace_back([&, c] {
          run_whatif_client(c, server.port, book, tick, o, b_start, o.phase_seconds,
                            results[static_cast<std::size_t>(c)]);
        });
      for (std::thread& t : clients) t.join();
      stop = true;
      m.join();
    }
    const double b_seconds = seconds_since(b_start);
    stop_ticks = true;
    ticks.join();
    const std::int64_t b_last = tick.posted();
    const std::vector<double> post_b = tick.take_post_ms();
    const histogram whatif_after =
        read_histogram(get_text(control, "/metrics"), "marginsync_whatif_seconds");
    summary_point s2 = summary_now(control);
    std::printf("phase B done: %lld updates posted\n",
                static_cast<long long>(b_last - b_first + 1));
    std::fflush(stdout);

    // Drain: every posted update applied (bounded), then SIGTERM writes ticks.csv whole.
    const auto drain_start = clock_type::now();
    long applied = 0;
    for (;;) {
      applied = get_json(control, "/healthz")["updates"].get<long>();
      if (applied >= b_last || seconds_since(drain_start) > o.drain_seconds) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    report["drain_seconds"] = seconds_since(drain_start);
    report["updates_applied_at_end"] = applied;
    ::kill(server.pid, SIGTERM);
    const auto stop_start = clock_type::now();
    int rc = -1;
    for (int status = 0;; std::this_thread::sleep_for(std::chrono::milliseconds(100))) {
      if (waitpid(server.pid, &status, WNOHANG) == server.pid) {
        rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        break;
      }
      if (seconds_since(stop_start) > o.stop_seconds) {
        // ticks.csv holds whole updates as they were applied (8.8): still readable.
        ::kill(server.pid, SIGKILL);
        rc = 128 + SIGKILL;
        wait_exit(server.pid);
        break;
      }
    }
    server.pid = -1;
    report["server_exit"] = rc;
    report["stop_seconds"] = seconds_since(stop_start);

    // The tick path per update, from ticks.csv (row r is the r-th update applied), by the phase
    // in which the engine applied it (the updates count at each phase's ends): when the engine
    // falls behind, updates posted in phase A are applied while the what-ifs run.
    const csv_table rows = read_csv(out_dir / "ticks.csv");
    std::vector<double> tick_a, tick_b, risk_a, risk_b, stale_a, stale_b;
    std::map<std::string, long> trig_a, trig_b;
    for (std::size_t r = 0; r < rows.rows.size(); ++r) {
      const long k = static_cast<long>(r) + 1;
      const bool in_a = k > s0.updates && k <= s1.updates, in_b = k > s1.updates && k <= s2.updates;
      if (!in_a && !in_b) continue;
      (in_a ? tick_a : tick_b).push_back(std::stod(rows.at(r, "tick_ms")));
      (in_a ? stale_a : stale_b).push_back(std::stod(rows.at(r, "staleness_ms")));
      if (rows.at(r, "trigger") != "none") {
        (in_a ? risk_a : risk_b).push_back(std::stod(rows.at(r, "risk_ms")));
        ++(in_a ? trig_a : trig_b)[rows.at(r, "trigger")];
      }
    }

    whatif_client_result all;
    for (const whatif_client_result& r : results) {
      all.http_ms.insert(all.http_ms.end(), r.http_ms.begin(), r.http_ms.end());
      all.schedule_ms.insert(all.schedule_ms.end(), r.schedule_ms.begin(), r.schedule_ms.end());
      all.errors += r.errors;
      all.not_sent += r.not_sent;
      all.accepted += r.accepted;
      all.refused += r.refused;
      for (const auto& [code, n] : r.codes) all.codes[code] += n;
      if (all.first_error.empty()) all.first_error = r.first_error;
    }
    std::vector<double> window_p99, window_max;
    for (const json& w : mon_b.whatif_windows)
      if (w.value("count", 0) > 0 && w["p99_ms"].is_number()) {
        window_p99.push_back(w["p99_ms"].get<double>());
        window_max.push_back(w["max_ms"].get<double>());
      }
    const double n_inproc = whatif_after.count - whatif_before.count;

    auto phase_json = [&](std::int64_t first, std::int64_t last, const std::vector<double>& t,
                          const std::vector<double>& risk, const std::vector<double>& stale,
                          const std::map<std::string, long>& trig, const summary_point& sa,
                          const summary_point& sb, const phase_monitor& m,
                          const std::vector<double>& post) {
      return json{{"updates_posted", last - first + 1},
                  {"updates_applied", sb.updates - sa.updates},
                  {"tick_path", percentiles(t)},
                  {"risk_path", percentiles(risk)},
                  {"risk_runs_by_trigger", trig},
                  {"risk_runs_summary", runs_between(sa, sb)},
                  {"staleness_ms_max", nearest_rank(stale, 1.0)},
                  {"max_backlog_updates", m.max_backlog},
                  {"events_post", percentiles(post)}};
    };
    report["options"] = {{"scenarios", o.scenarios},
                         {"threads", o.threads},
                         {"backend", o.backend},
                         {"phase_seconds", o.phase_seconds},
                         {"rate", o.rate},
                         {"clients", o.clients},
                         {"max_orders", o.max_orders},
                         {"new_account_share", o.new_account_share},
                         {"seed", o.seed},
                         {"serve_args", o.serve_args},
                         {"drain_seconds", o.drain_seconds}};
    report["serve_command"] = args;
    report["phase_a"] =
        phase_json(a_first, a_last, tick_a, risk_a, stale_a, trig_a, s0, s1, mon_a, post_a);
    report["phase_b"] =
        phase_json(b_first, b_last, tick_b, risk_b, stale_b, trig_b, s1, s2, mon_b, post_b);
    const double p99_a = nearest_rank(tick_a, 0.99), p99_b = nearest_rank(tick_b, 0.99);
    report["tick_path_p99_delay"] = p99_b / p99_a - 1.0;
    report["tick_path_p50_delay"] = nearest_rank(tick_b, 0.5) / nearest_rank(tick_a, 0.5) - 1.0;
    report["stream"] = {
        {"errors", tick.errors()}, {"late_posts", tick.late()}, {"last_error", tick.last_error()}};
    json codes = json::object();
    for (const auto& [code, n] : all.codes) codes[std::to_string(code)] = n;
    report["whatif"] = {
        {"requests_due", static_cast<long>(o.rate * o.phase_seconds)},
        {"answered_200", all.http_ms.size()},
        {"achieved_rate_per_s", static_cast<double>(all.http_ms.size()) / b_seconds},
        {"phase_b_seconds", b_seconds},
        {"errors", all.errors},
        {"not_sent", all.not_sent},
        {"codes", codes},
        {"first_error", all.first_error},
        {"accepted", all.accepted},
        {"refused", all.refused},
        {"http", percentiles(all.http_ms)},
        {"http_from_schedule", percentiles(all.schedule_ms)},
        {"in_process",
         {{"count", n_inproc},
          {"mean_ms",
           n_inproc > 0 ? (whatif_after.sum - whatif_before.sum) / n_inproc * 1e3 : std::nan("")},
          {"p50_bucket_le_ms", histogram_quantile_ms(whatif_before, whatif_after, 0.50)},
          {"p99_bucket_le_ms", histogram_quantile_ms(whatif_before, whatif_after, 0.99)},
          {"window_p99_ms_median", nearest_rank(window_p99, 0.5)},
          {"window_p99_ms_worst", nearest_rank(window_p99, 1.0)},
          {"max_ms", nearest_rank(window_max, 1.0)},
          {"windows", window_p99.size()}}}};

    // The human table.
    const json& a = report["phase_a"];
    const json& bj = report["phase_b"];
    const json& w = report["whatif"];
    auto f = [](const json& v) { return v.is_number() ? v.get<double>() : std::nan(""); };
    std::printf(
        "\nmarginsync serve: %zu accounts, %zu instruments, %ld scenarios, backend %s, "
        "--threads %d, %u cores; load %.1f s, first update %.1f s\n",
        book.all_accounts, book.instruments.size(), o.scenarios, o.backend.c_str(), o.threads,
        std::thread::hardware_concurrency(), f(report["load_seconds"]),
        f(report["first_update_seconds"]));
    std::printf("%-34s %10s %10s %10s %8s %9s %8s\n", "", "p50 ms", "p99 ms", "max ms", "count",
                "backlog", "risk");
    for (const auto& [name, p] :
         {std::pair<const char*, const json*>{"tick path, A (stream alone)", &a},
          {"tick path, B (stream + what-ifs)", &bj}})
      std::printf("%-34s %10.3f %10.3f %10.3f %8lld %9ld %8zu\n", name,
                  f((*p)["tick_path"]["p50_ms"]), f((*p)["tick_path"]["p99_ms"]),
                  f((*p)["tick_path"]["max_ms"]), (*p)["tick_path"]["count"].get<long long>(),
                  (*p)["max_backlog_updates"].get<long>(),
                  (*p)["risk_path"]["count"].get<std::size_t>());
    for (const auto& [name, p] :
         {std::pair<const char*, const json*>{"risk path, A", &a}, {"risk path, B", &bj}})
      std::printf("%-34s %10.3f %10.3f %10.3f %8lld\n", name, f((*p)["risk_path"]["p50_ms"]),
                  f((*p)["risk_path"]["p99_ms"]), f((*p)["risk_path"]["max_ms"]),
                  (*p)["risk_path"]["count"].get<long long>());
    std::printf(
        "updates posted at 10 Hz / applied: A %lld / %lld, B %lld / %lld (backlog: the most "
        "posted but not yet applied at the 0.5 s samples)\n",
        a["updates_posted"].get<long long>(), a["updates_applied"].get<long long>(),
        bj["updates_posted"].get<long long>(), bj["updates_applied"].get<long long>());
    std::printf("%-34s %+9.1f%% (p50 %+.1f%%)\n", "tick path p99 delay B/A",
                100.0 * f(report["tick_path_p99_delay"]), 100.0 * f(report["tick_path_p50_delay"]));
    std::printf("%-34s %10.3f %10.3f %10.3f %8lld\n", "what-if over HTTP", f(w["http"]["p50_ms"]),
                f(w["http"]["p99_ms"]), f(w["http"]["max_ms"]),
                w["http"]["count"].get<long long>());
    std::printf("%-34s %10.3f %10.3f %10.3f\n", "what-if over HTTP, from schedule",
                f(w["http_from_schedule"]["p50_ms"]), f(w["http_from_schedule"]["p99_ms"]),
                f(w["http_from_schedule"]["max_ms"]));
    const json& ip = w["in_process"];
    std::printf(
        "%-34s %10s %10s %10.3f %8.0f  (p50 <= %.3g ms, p99 <= %.3g ms by histogram; "
        "mean %.3f ms; 1,000-request windows: p99 median %.3f, worst %.3f)\n",
        "what-if in process", "", "", f(ip["max_ms"]), f(ip["count"]), f(ip["p50_bucket_le_ms"]),
        f(ip["p99_bucket_le_ms"]), f(ip["mean_ms"]), f(ip["window_p99_ms_median"]),
        f(ip["window_p99_ms_worst"]));
    std::printf(
        "what-ifs: %.0f/s achieved of %.0f/s asked, %ld not sent (clients behind), "
        "%ld errors, %ld accepted, %ld not; stream: %ld errors, %ld late posts; "
        "%ld of %lld updates applied after a drain of %.1f s; server exit %d\n",
        f(w["achieved_rate_per_s"]), o.rate, all.not_sent, all.errors, all.accepted, all.refused,
        tick.errors(), tick.late(), applied, static_cast<long long>(b_last),
        f(report["drain_seconds"]), rc);
    if (!all.first_error.empty()) std::printf("first what-if error: %s\n", all.first_error.c_str());
    std::printf("work directory: %s\n", work.string().c_str());
    if (!o.json_path.empty()) {
      std::ofstream out(o.json_path);
      out << report.dump(2) << '\n';
      if (!out) throw std::runtime_error("cannot write " + o.json_path);
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "marginsync_bench_serve: %s\n", e.what());
    return 1;
  }
}
