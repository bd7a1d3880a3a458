// marginsync stream end to end on the sample streams of data/streams: the anomalies that file's
// README lists are reported where it says, every event is consistent with the margin rules of
// docs/design.md section 3 applied to the numbers it carries, each account's events chain (every
// `from` is the previous event's state) and end in accounts.csv's status, a piped replay equals a
// file replay, and SIGTERM still leaves summary.json and accounts.csv.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "test_support.hpp"

namespace msync {
namespace {

std::filesystem::path stream_file(const char* name) {
  return test::source_dir() / "data" / "streams" / name;
}

std::vector<nlohmann::json> read_events(const std::filesystem::path& p) {
  std::vector<nlohmann::json> events;
  std::istringstream in(test::read_file(p));
  for (std::string line; std::getline(in, line);) events.push_back(nlohmann::json::parse(line));
  return events;
}

// Health is null when infinite (no maintenance margin): JSON has no infinity.
double number(const nlohmann::json& v) {
  return v.is_null() ? HUGE_VAL : v.get<double>();
}

// The state each event names must be what docs/design.md section 3 gives for the equity and margins
// it carries, with the calm-state rule of 8.4: a threshold the account was past before (its `from`
// state or a worse one) is cleared only by the recovery band (relative; the sample book's is the
// default, 0.02).
void expect_consistent_with_margin_rules(const nlohmann::json& e, double preemptive_threshold,
                                         double band = 0.02) {
  const std::string kind = e["event"];
  if (kind == "stale_oracle" || kind == "settled") return;  // not an account's transition
  const double equity = e["equity"], im = e["initial_margin"], mm = e["maintenance_margin"];
  const double p = e["breach_probability"];
  const std::string from = e["from"];
  const int was = from == "liquidate" || from == "liquidation_held" ? 3
                  : from == "margin_call"                           ? 2
                  : from == "preemptive"                            ? 1
                                                                    : 0;
  const double mm_band = mm * (was >= 3 ? 1.0 + band : 1.0);
  const double im_band = im * (was >= 2 ? 1.0 + band : 1.0);
  const double threshold = preemptive_threshold * (was >= 1 ? 1.0 - band : 1.0);
  if (kind == "liquidate" || kind == "liquidation_held") {
    EXPECT_LT(equity, mm_band) << e.dump();
  }
  if (kind == "margin_call") {
    EXPECT_GE(equity, mm_band) << e.dump();
    EXPECT_LT(equity, im_band) << e.dump();
  }
  if (kind == "preemptive") {
    EXPECT_GE(equity, im_band) << e.dump();
    EXPECT_GE(p, threshold) << e.dump();
  }
  if (kind == "recovered") {
    EXPECT_GE(equity, im_band) << e.dump();
    EXPECT_LT(p, threshold) << e.dump();
  }
  EXPECT_DOUBLE_EQ(number(e["health"]), mm == 0.0 ? HUGE_VAL : equity / mm) << e.dump();
}

TEST(stream_cli, sample_streams_give_events_that_chain_and_follow_the_rules) {
  for (const char* name : {"crash.jsonl", "stale_out_of_order.csv", "calm_hour.csv"}) {
    test::temp_dir out;
    const test::command_result r =
        test::run_cli("stream --book '" + test::sample_book().string() + "' --ticks '" +
                      stream_file(name).string() + "' --out '" + out.path().string() + "'");
    ASSERT_EQ(r.status, 0) << r.out;
    const std::vector<nlohmann::json> events = read_events(out / "events.jsonl");
    ASSERT_FALSE(events.empty()) << name;
    std::map<std::string, std::string> state;  // account -> state after its last event
    std::string last_ts;
    for (const nlohmann::json& e : events) {
      expect_consistent_with_margin_rules(e, 0.25);
      const std::string ts = e["ts"];
      EXPECT_GE(ts, last_ts) << name;  // ISO timestamps of one format sort as text
      last_ts = ts;
      if (e["event"] == "stale_oracle" || e["event"] == "settled") continue;
      const std::string account = e["account"];
      EXPECT_EQ(e["from"], state.count(account) ? state[account] : "ok") << name << " " << e.dump();
      state[account] = e["event"] == "recovered" ? "ok" : e["event"].get<std::string>();
    }
    const test::csv_rows accounts = test::read_csv_by_key(out / "accounts.csv");
    for (const auto& [account, row] : accounts) {
      const std::string s = state.count(account) ? state[account] : "ok";
      // accounts.csv has no held state: a held account is liquidate there.
      const std::string expected_status = s == "preemptive"         ? "ok"
                                          : s == "liquidation_held" ? "liquidate"
                                                                    : s;
      EXPECT_EQ(row.at("status"), expected_status) << name << " " << account;
      EXPECT_EQ(row.at("preemptive"), s == "preemptive" ? "true" : "false")
          << name << " " << account;
    }
    const nlohmann::json summary = nlohmann::json::parse(test::read_file(out / "summary.json"));
    EXPECT_EQ(summary["risk_runs"]["start"], 1);
    EXPECT_FALSE(summary["stream"]["interrupted"].get<bool>());
  }
}

// After the crash stream the margins in force come from a risk run at the last update (a heartbeat
// every second): the batch `margin` job on a market at the last prices and time must give the
// same margins. Equity differs only by the funding the perpetuals accrued over the 40 minutes.
TEST(stream_cli, the_crash_ends_where_a_batch_run_at_its_last_prices_does) {
  test::temp_dir out, book;
  test::copy_sample_book(book.path());
  const test::command_result r =
      test::run_cli("stream -q --book '" + book.path().string() + "' --ticks '" +
                    stream_file("crash.jsonl").string() + "' --out '" + (out / "s").string() + "'");
  ASSERT_EQ(r.status, 0) << r.out;
  // The last prices of the stream.
  std::map<std::string, double> last;
  std::string last_ts;
  std::istringstream in(test::read_file(stream_file("crash.jsonl")));
  for (std::string line; std::getline(in, line);) {
    const nlohmann::json e = nlohmann::json::parse(line);
    last[e["underlying"]] = e["price"];
    last_ts = e["ts"];
  }
  nlohmann::json market = nlohmann::json::parse(test::read_file(book / "market.json"));
  market["as_of"] = last_ts;
  for (nlohmann::json& u : market["underlyings"])
    u["spot"] = last.at(u["symbol"].get<std::string>());
  test::write_file(book / "market.json", market.dump());
  // The sample's marked future keeps its basis ratio to the spot (docs/design.md 3.3): at the
  // last BTC price its mark is 91950 * S / 91000, which the batch run must be given.
  auto exact = [](double x) {
    std::ostringstream o;
    o.precision(17);
    o << x;
    return o.str();
  };
  std::string marks = test::read_file(book / "marks.csv");
  const std::string marked = "BTC-20261225,91950,,";
  ASSERT_NE(marks.find(marked), std::string::npos);
  marks.replace(marks.find(marked), marked.size(),
                "BTC-20261225," + exact(91950.0 * last.at("BTC") / 91000.0) + ",,");
  test::write_file(book / "marks.csv", marks);
  ASSERT_EQ(test::run_cli("margin -q --backend cpu --book '" + book.path().string() + "' --out '" +
                          (out / "m").string() + "'")
                .status,
            0);
  const test::csv_rows streamed = test::read_csv_by_key(out / "s" / "accounts.csv");
  const test::csv_rows batch = test::read_csv_by_key(out / "m" / "accounts.csv");
  ASSERT_EQ(streamed.size(), batch.size());
  for (const auto& [account, row] : batch) {
    const auto& s = streamed.at(account);
    EXPECT_EQ(s.at("initial_margin"), row.at("initial_margin")) << account;
    EXPECT_EQ(s.at("maintenance_margin"), row.at("maintenance_margin")) << account;
    EXPECT_EQ(s.at("var"), row.at("var")) << account;
    // Funding over 40 minutes (1/12 of a period): at most |q m S| * rate / 12 on the perpetuals,
    // at the prices along the way, which the crash takes down by less than a third: below 1.5
    // times the last gross notional * 0.0001 (the sample's largest rate) / 12. (The whale's
    // 62,000,000 of ETH at 0.00005 accrues about 258; 2 BTC at 0.0001 about 1.5.)
    const double funding_bound = 1.5 * std::stod(row.at("gross_notional")) * 0.0001 / 12 + 0.01;
    EXPECT_NEAR(std::stod(s.at("equity")), std::stod(row.at("equity")), funding_bound) << account;
  }
}

// The replay with the engine on every update liquidates exactly what `stream` reports: each
// account at the update of its first `liquidate` event.
TEST(stream_cli, replay_at_interval_zero_liquidates_what_stream_reports) {
  for (const char* name : {"crash.jsonl"}) {
    test::temp_dir out;
    const std::string book = test::sample_book().string(), ticks = stream_file(name).string();
    ASSERT_EQ(test::run_cli("stream -q --book '" + book + "' --ticks '" + ticks + "' --out '" +
                            (out / "s").string() + "'")
                  .status,
              0);
    std::map<std::string, std::string> first;  // account -> timestamp of its first liquidate
    for (const nlohmann::json& e : read_events(out / "s" / "events.jsonl"))
      if (e["event"] == "liquidate" && !first.count(e["account"])) first[e["account"]] = e["ts"];
    ASSERT_FALSE(first.empty()) << name;
    const test::command_result r =
        test::run_cli("replay -q --book '" + book + "' --ticks '" + ticks +
                      "' --engine-interval-ms 0 --out '" + (out / "r").string() + "'");
    ASSERT_EQ(r.status, 0) << r.out;
    std::map<std::string, std::string> replayed;
    std::istringstream in(test::read_file(out / "r" / "liquidations.csv"));
    std::string line;
    std::getline(in, line);
    while (std::getline(in, line)) {
      std::vector<std::string> f;
      std::stringstream cells(line);
      for (std::string x; std::getline(cells, x, ',');) f.push_back(x);
      ASSERT_GE(f.size(), 3u);
      replayed[f[2]] = f[1];
    }
    EXPECT_EQ(replayed, first) << name;
  }
}

TEST(stream_cli, stale_and_out_of_order_stream_reports_what_its_readme_lists) {
  test::temp_dir out;
  const test::command_result r = test::run_cli(
      "stream --book '" + test::sample_book().string() + "' --ticks '" +
      stream_file("stale_out_of_order.csv").string() + "' --out '" + out.path().string() + "'");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("stale_out_of_order.csv:425: column 'price'"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("stale_out_of_order.csv:917: column 'underlying'"), std::string::npos)
      << r.out;
  const nlohmann::json summary = nlohmann::json::parse(test::read_file(out / "summary.json"));
  EXPECT_EQ(summary["stream"]["lines_rejected"], 2);
  EXPECT_EQ(summary["stream"]["ticks_out_of_order"], 5);
  EXPECT_EQ(summary["stream"]["lines"], 1188);
  std::vector<std::string> oracle;
  for (const nlohmann::json& e : read_events(out / "events.jsonl"))
    if (e["event"] == "stale_oracle")
      oracle.push_back(e["ts"].get<std::string>() + " " + e["underlying"].get<std::string>() +
                       (e["stale"].get<bool>() ? " stale" : " fresh"));
  // ETH's last tick before the gap is 08:04:59: more than 5 s have passed at 08:05:05.
  EXPECT_EQ(oracle, (std::vector<std::string>{"2026-11-24T08:05:05Z ETH stale",
                                              "2026-11-24T08:05:20Z ETH fresh"}));
}

TEST(stream_cli, a_piped_replay_equals_a_file_replay) {
  test::temp_dir out;
  const std::string book = test::sample_book().string(),
                    ticks = stream_file("crash.jsonl").string();
  ASSERT_EQ(test::run_cli("stream -q --book '" + book + "' --ticks '" + ticks + "' --out '" +
                          out.path().string() + "'")
                .status,
            0);
  const std::string piped_events = (out / "piped.jsonl").string();
  const std::string cmd = "cat '" + ticks + "' | '" + MSYNC_CLI_PATH + "' stream -q --book '" +
                          book + "' --ticks - > '" + piped_events + "'";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  EXPECT_EQ(test::read_file(piped_events), test::read_file(out / "events.jsonl"));
}

TEST(stream_cli, sigterm_finishes_the_update_in_hand_and_writes_the_outputs) {
  test::temp_dir out;
  // Two updates, then the feed stays open and quiet for 10 s: the engine processes both updates
  // while it waits (nothing more is coming), and SIGTERM at 1 s stops it then, not when the feed
  // closes.
  // The feed is a named pipe, so that $! is the engine itself (a background pipeline's $! may be
  // a subshell) and the named-pipe path is the one tested.
  const std::string fifo = (out / "feed").string();
  const std::string script =
      "mkfifo '" + fifo +
      "'; (printf 'timestamp,underlying,price\\n2026-11-24T08:00:00Z,BTC,91000\\n"
      "2026-11-24T08:00:01Z,BTC,90000\\n'; sleep 10) > '" +
      fifo + "' 2>/dev/null & '" + std::string(MSYNC_CLI_PATH) + "' stream -q --book '" +
      test::sample_book().string() + "' --ticks '" + fifo + "' --out '" + (out / "s").string() +
      "' & pid=$!; start=$(date +%s%N); sleep 1; kill -TERM $pid; wait $pid; echo rc=$? ms=$(( "
      "($(date +%s%N) - start) / 1000000 ))";
  test::write_file(out / "run.sh", script + "\n");
  FILE* p = popen(("sh '" + (out / "run.sh").string() + "' 2>&1").c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string text;
  char buf[256];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) text.append(buf, n);
  pclose(p);
  ASSERT_NE(text.find("rc=0"), std::string::npos) << text;
  const long ms = std::stol(text.substr(text.find("ms=") + 3));
  EXPECT_LT(ms, 5000) << "the stream should stop at the signal, not when the feed closes: " << text;
  const nlohmann::json summary = nlohmann::json::parse(test::read_file(out / "s" / "summary.json"));
  EXPECT_TRUE(summary["stream"]["interrupted"].get<bool>());
  EXPECT_EQ(summary["stream"]["updates"], 2);
  EXPECT_TRUE(std::filesystem::exists(out / "s" / "accounts.csv"));
  const std::string ticks = test::read_file(out / "s" / "ticks.csv");
  EXPECT_NE(ticks.find("2026-11-24T08:00:01Z"), std::string::npos)
      << "the second update, processed while waiting";
}

TEST(stream_cli, bench_stream_replays_a_generated_stream_and_reports_both_paths) {
  test::temp_dir out;
  const test::command_result r = test::run_cli(
      "bench --stream --accounts 300 --underlyings 4 --backend cpu --stream-seconds 2 --tick-rate "
      "5 --scenarios 500 "
      "--work-dir '" +
      out.path().string() + "' --json '" + (out / "bench.json").string() + "'");
  ASSERT_EQ(r.status, 0) << r.out;
  const nlohmann::json j = nlohmann::json::parse(test::read_file(out / "bench.json"));
  ASSERT_EQ(j["backends"].size(), 1u);
  const nlohmann::json& cpu = j["backends"][0];
  EXPECT_EQ(cpu["updates"], 10);  // 2 s at 5 updates per second
  // The first updates replayed once before, on a stream of their own, and not counted.
  EXPECT_EQ(cpu["warmup_updates"], 5);
  EXPECT_EQ(cpu["ticks"], 10 * 4);  // every underlying in every update
  EXPECT_EQ(cpu["risk_runs"]["start"], 1);
  // Heartbeats every 1000 ms of stream time from the first update at 0.2 s: one, at 1.2 s. No
  // deviation: a 0.2 s diffusion step is about 1e-4 of the price, far below 0.5%, and the seeded
  // stream has no jump in these 2 s.
  EXPECT_EQ(cpu["risk_runs"].value("heartbeat", 0), 1);
  EXPECT_EQ(cpu["risk_runs"].value("deviation", 0), 0);
  EXPECT_GT(cpu["tick_path_ms"]["p50"].get<double>(), 0.0);
  EXPECT_GE(cpu["tick_path_ms"]["max"].get<double>(), cpu["tick_path_ms"]["p99"].get<double>());
  EXPECT_GE(cpu["tick_path_ms"]["p99"].get<double>(), cpu["tick_path_ms"]["p50"].get<double>());
  std::size_t files = 0;  // the generated book and stream are removed; the JSON stays
  for (const auto& entry : std::filesystem::directory_iterator(out.path()))
    files += entry.path().filename() == "bench.json" ? 0 : 1;
  EXPECT_EQ(files, 0u);
}

// `stream` on the sample book over `ticks` (written to a file), with `options`, into out/NAME.
test::command_result stream_text(const test::temp_dir& out, const std::string& name,
                                 const std::string& ticks, const std::string& options = "") {
  const std::filesystem::path file = out / (name + ".ticks");
  test::write_file(file, ticks);
  return test::run_cli("stream --backend cpu --book '" + test::sample_book().string() +
                       "' --ticks '" + file.string() + "' --out '" + (out / name).string() + "' " +
                       options);
}

std::string price_line(const std::string& ts, const std::string& symbol, double price) {
  return "{\"ts\": \"" + ts + "\", \"underlying\": \"" + symbol +
         "\", \"price\": " + std::to_string(price) + "}\n";
}

// A short crash: BTC falls from 91000 to 60000 in four seconds. One tick stamped 2149 in it used
// to move stream time 123 years (the later BTC ticks dropped as out of order, options expired, a
// century of funding), and a first tick stamped 1900 charged 126 years of funding at the next.
// Rejected now: the poisoned streams end exactly where the clean one does, one line rejected.
TEST(stream_cli, a_tick_far_from_stream_time_does_not_poison_the_stream) {
  test::temp_dir out;
  std::string clean;
  const double btc[] = {91000, 85000, 75000, 65000, 60000};
  for (int k = 0; k < 5; ++k) {
    const std::string ts = "2026-11-24T08:00:0" + std::to_string(k + 1) + "Z";
    clean += price_line(ts, "BTC", btc[k]) + price_line(ts, "ETH", 3100 - 100 * k);
  }
  const std::string far = price_line("2149-12-31T00:00:00Z", "BTC", 91000);
  const std::string early = price_line("1900-01-01T00:00:00Z", "BTC", 91000);
  const std::size_t second_update = clean.find("2026-11-24T08:00:02Z") - 8;
  const std::string poisoned = clean.substr(0, second_update) + far + clean.substr(second_update);
  ASSERT_EQ(stream_text(out, "clean", clean).status, 0);
  const test::command_result p = stream_text(out, "poisoned", poisoned);
  const test::command_result f = stream_text(out, "first", early + clean);
  ASSERT_EQ(p.status, 0) << p.out;
  ASSERT_EQ(f.status, 0) << f.out;
  EXPECT_NE(p.out.find("poisoned.ticks:3: column 'ts': 2149-12-31T00:00:00Z is "),
            std::string::npos)
      << p.out;
  EXPECT_NE(f.out.find("first.ticks:1: column 'ts': 1900-01-01T00:00:00Z is 4004496000 s before "
                       "the book's as_of 2026-11-24T08:00:00Z, more than --max-tick-jump 3600 s"),
            std::string::npos)
      << f.out;
  const std::string clean_events = test::read_file(out / "clean" / "events.jsonl");
  EXPECT_NE(clean_events.find("\"liquidate\""), std::string::npos);
  for (const char* name : {"poisoned", "first"}) {
    EXPECT_EQ(test::read_file(out / name / "events.jsonl"), clean_events) << name;
    EXPECT_EQ(test::read_file(out / name / "accounts.csv"),
              test::read_file(out / "clean" / "accounts.csv"))
        << name;
    const nlohmann::json summary =
        nlohmann::json::parse(test::read_file(out / name / "summary.json"));
    EXPECT_EQ(summary["stream"]["lines_rejected"], 1) << name;
    EXPECT_EQ(summary["stream"]["start"], "2026-11-24T08:00:01Z") << name;
    EXPECT_EQ(summary["stream"]["end"], "2026-11-24T08:00:05Z") << name;
  }
  // A bound of one second rejects the first tick (1 s after as_of is fine, 2 s is not) ...
  const test::command_result tight = stream_text(
      out, "tight", price_line("2026-11-24T08:00:02Z", "BTC", 91000) + clean, "--max-tick-jump 1");
  ASSERT_EQ(tight.status, 0) << tight.out;
  EXPECT_NE(tight.out.find("tight.ticks:1: column 'ts': 2026-11-24T08:00:02Z is 2 s after the "
                           "book's as_of"),
            std::string::npos)
      << tight.out;
  // ... and a bound of 0 is a usage error.
  EXPECT_EQ(stream_text(out, "zero", clean, "--max-tick-jump 0").status, 2);
}

// A feed back from a 3-hour outage: its jump is confirmed by consecutive ticks, said on stderr
// (even with -q) and counted, and the stream goes on at the new time.
TEST(stream_cli, a_confirmed_jump_after_an_outage_moves_the_stream_on) {
  test::temp_dir out;
  std::string ticks = price_line("2026-11-24T08:00:01Z", "BTC", 91000);
  for (int k = 0; k < 4; ++k)
    ticks += price_line("2026-11-24T11:00:0" + std::to_string(k) + "Z", "BTC", 91000 + k);
  const test::command_result r =
      stream_text(out, "outage", ticks, "-q --tick-jump-confirmations 3");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("outage.ticks:4: stream time jumps 10801 s forward"), std::string::npos)
      << r.out;
  const nlohmann::json summary =
      nlohmann::json::parse(test::read_file(out / "outage" / "summary.json"));
  EXPECT_EQ(summary["stream"]["lines_rejected"], 2);
  EXPECT_EQ(summary["stream"]["time_jumps"], 1);
  EXPECT_EQ(summary["stream"]["updates"], 3);
  EXPECT_EQ(summary["stream"]["end"], "2026-11-24T11:00:03Z");
}

// A feed that died mid-line: `2026-11-24T08:00:02Z,BTC,910` was meant as 91000, and applied it
// liquidated an account at -748k. Not applied now: the run is the run without that line, the line
// is reported and counted. --strict makes it exit status 2 (outputs still written), and replay,
// which reads strictly, refuses the stream.
TEST(stream_cli, a_last_line_without_its_newline_is_not_applied) {
  test::temp_dir out;
  const std::string whole = "timestamp,underlying,price\n2026-11-24T08:00:01Z,BTC,91000\n";
  const std::string cut = whole + "2026-11-24T08:00:02Z,BTC,910";
  ASSERT_EQ(stream_text(out, "whole", whole).status, 0);
  const test::command_result r = stream_text(out, "cut", cut);
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("cut.ticks:3: incomplete last line (no newline at end of input): not "
                       "applied"),
            std::string::npos)
      << r.out;
  EXPECT_EQ(test::read_file(out / "cut" / "events.jsonl"),
            test::read_file(out / "whole" / "events.jsonl"));
  EXPECT_EQ(nlohmann::json::parse(
                test::read_file(out / "cut" / "summary.json"))["stream"]["lines_rejected"],
            1);

  const test::command_result strict = stream_text(out, "strict", cut, "--strict");
  EXPECT_EQ(strict.status, 2) << strict.out;
  EXPECT_NE(strict.out.find("--strict: rejected lines 1, refused events 0: exit status 2"),
            std::string::npos)
      << strict.out;
  EXPECT_TRUE(std::filesystem::exists(out / "strict" / "summary.json"));
  EXPECT_EQ(stream_text(out, "strict_whole", whole, "--strict").status, 0);

  const test::command_result replay =
      test::run_cli("replay -q --backend cpu --book '" + test::sample_book().string() +
                    "' --ticks '" + (out / "cut.ticks").string() + "' --engine-interval-ms 0");
  EXPECT_EQ(replay.status, 2) << replay.out;
  EXPECT_NE(replay.out.find("cut.ticks:3: incomplete last line"), std::string::npos) << replay.out;
}

// --strict fails a run on a refused event too (a trade on an unknown instrument), at the end.
TEST(stream_cli, strict_fails_on_refused_events_and_malformed_lines) {
  test::temp_dir out;
  const std::string ticks =
      price_line("2026-11-24T08:00:01Z", "BTC", 91000) +
      "{\"type\": \"trade\", \"ts\": \"2026-11-24T08:00:02Z\", \"account\": \"a\", "
      "\"instrument\": \"NOPE\", \"quantity\": 1, \"price\": 1}\n" +
      "{\"ts\": \"2026-11-24T08:00:03Z\", \"underlying\": \"BTC\", \"price\": -1}\n" +
      price_line("2026-11-24T08:00:04Z", "BTC", 90000);
  const test::command_result r = stream_text(out, "s", ticks, "--strict");
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_NE(r.out.find("s.ticks:2: column 'instrument': unknown instrument 'NOPE'"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("s.ticks:3: column 'price'"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("--strict: rejected lines 1, refused events 1"), std::string::npos) << r.out;
  // The stream ran to its end: every update is in the outputs.
  const nlohmann::json summary = nlohmann::json::parse(test::read_file(out / "s" / "summary.json"));
  EXPECT_EQ(summary["stream"]["updates"], 3);
  EXPECT_EQ(stream_text(out, "lenient", ticks).status, 0);
}

// A directory is not a tick stream: it used to open as an empty file, 0 updates, exit 0. Where a
// file is to be written, a directory is a usage error found before any work (it was a failed
// write, exit 1, after generate had written the book).
TEST(stream_cli, a_directory_where_a_file_is_expected_is_bad_input) {
  test::temp_dir out;
  const std::string book = test::sample_book().string(), dir = out.path().string();
  for (const std::string& command : {"stream -q --book '" + book + "' --ticks '" + dir + "'",
                                     "replay -q --book '" + book + "' --ticks '" + dir + "'"}) {
    const test::command_result r = test::run_cli(command + " --backend cpu");
    EXPECT_EQ(r.status, 2) << command << "\n" << r.out;
    EXPECT_NE(r.out.find(dir + ": is a directory, expected a file"), std::string::npos) << r.out;
  }
  const std::string generated = (out / "book").string();
  const std::vector<std::pair<std::string, std::string>> writers = {
      {"generate -q --accounts 5 --out '" + generated + "' --ticks '" + dir + "'", "--ticks"},
      {"generate -q --accounts 5 --snapshot --out '" + dir + "'", "--out"},
      {"convert -q --book '" + book + "' --out '" + dir + "'", "--out"},
      {"bench -q --accounts 5 --backend cpu --json '" + dir + "'", "--json"}};
  for (const auto& [command, option] : writers) {
    const test::command_result r = test::run_cli(command);
    EXPECT_EQ(r.status, 2) << command << "\n" << r.out;
    EXPECT_NE(r.out.find(option + ": '" + dir + "' is a directory, expected a file"),
              std::string::npos)
        << r.out;
  }
  EXPECT_FALSE(std::filesystem::exists(generated)) << "nothing generated before the refusal";
}

// Book reloads (a new account) and patches (a trade on a held position) are in the tick path's
// latency, and summarized on their own as latency.book_update.
TEST(stream_cli, book_updates_are_counted_in_the_latency) {
  test::temp_dir out;
  const std::string ticks =
      price_line("2026-11-24T08:00:01Z", "BTC", 91000) +
      "{\"type\": \"trade\", \"ts\": \"2026-11-24T08:00:02Z\", \"account\": \"newcomer\", "
      "\"instrument\": \"BTC-PERP\", \"quantity\": 1, \"price\": 91000}\n" +
      "{\"type\": \"trade\", \"ts\": \"2026-11-24T08:00:03Z\", \"account\": \"newcomer\", "
      "\"instrument\": \"BTC-PERP\", \"quantity\": 1, \"price\": 91000}\n" +
      price_line("2026-11-24T08:00:04Z", "BTC", 90000);
  ASSERT_EQ(stream_text(out, "s", ticks, "-q").status, 0);
  const nlohmann::json summary = nlohmann::json::parse(test::read_file(out / "s" / "summary.json"));
  const nlohmann::json& latency = summary["latency"];
  EXPECT_EQ(latency["book_update"]["count"], 2);
  EXPECT_EQ(latency["tick_path"]["count"], 4);
  EXPECT_GE(latency["tick_path"]["max_ms"].get<double>(),
            latency["book_update"]["max_ms"].get<double>());
}

// Marks and settlement end to end on the sample book (docs/design.md 8.2, 8.6, 8.8): a mark on the
// future and one on an option are applied and trigger a risk run, marks the book cannot take are
// refused and counted, and at the first update past the December expiry every dated instrument
// settles once, at that update's price, with a `settled` event and its count in summary.json.
TEST(stream_cli, marks_and_settlement_in_events_and_summary) {
  test::temp_dir out;
  auto mark_line = [](const std::string& ts, const std::string& instrument,
                      const std::string& keys) {
    return "{\"type\": \"mark\", \"ts\": \"" + ts + "\", \"instrument\": \"" + instrument + "\", " +
           keys + "}\n";
  };
  const std::string ticks =
      price_line("2026-11-24T08:00:01Z", "BTC", 91000) +
      mark_line("2026-11-24T08:00:02Z", "BTC-20261225", "\"mark_price\": 91500") +
      mark_line("2026-11-24T08:00:02Z", "BTC-20261225-90000-C", "\"iv\": 0.6") +
      mark_line("2026-11-24T08:00:02Z", "BTC-PERP", "\"mark_price\": 91500") +  // not a future
      mark_line("2026-11-24T08:00:02Z", "NO-SUCH", "\"iv\": 0.6") +
      price_line("2026-12-25T08:00:00.5Z", "BTC", 95000) +
      price_line("2026-12-25T08:00:01Z", "BTC", 70000);
  const test::command_result r = stream_text(out, "s", ticks, "-q --max-tick-jump 3000000");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("column 'mark_price': instrument 'BTC-PERP' is not a future"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("column 'instrument': unknown instrument 'NO-SUCH'"), std::string::npos)
      << r.out;
  const nlohmann::json summary = nlohmann::json::parse(test::read_file(out / "s" / "summary.json"));
  EXPECT_EQ(summary["stream"]["marks_applied"], 2);
  EXPECT_EQ(summary["stream"]["events_refused"], 2);
  EXPECT_EQ(summary["risk_runs"]["mark"], 1);
  std::map<std::string, double> settled;
  for (const nlohmann::json& e : read_events(out / "s" / "events.jsonl")) {
    if (e["event"] != "settled") continue;
    const std::string id = e["instrument"];
    EXPECT_EQ(settled.count(id), 0u) << "settles once: " << id;
    settled[id] = e["price"];
    if (id.rfind("BTC-20261225", 0) == 0) {
      EXPECT_EQ(e["ts"], "2026-12-25T08:00:00.5Z");
    }
  }
  for (const char* id :
       {"BTC-20261225", "BTC-20261225-80000-P", "BTC-20261225-90000-C", "BTC-20261225-100000-C"})
    EXPECT_EQ(settled[id], 95000.0) << id;
  EXPECT_EQ(summary["stream"]["settlements"], static_cast<int>(settled.size()));
  EXPECT_GE(summary["risk_runs"]["settlement"].get<int>(), 1);
}

}  // namespace
}  // namespace msync
