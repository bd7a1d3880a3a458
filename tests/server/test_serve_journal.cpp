// serve --journal (docs/design.md 8.11, 8.12): every update a POST /v1/events answered for is on
// disk, so a server killed with SIGKILL in the middle of a stream of trades and started again on
// the same journal, fed the rest, ends with the accounts.csv and events.jsonl of the uninterrupted
// run, byte for byte.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "serve_process.hpp"
#include "test_support.hpp"
#include "trading_feed.hpp"

namespace msync {
namespace {

// The feed's lines as POST bodies of `per_body` whole updates each (an update is never split
// between two requests: it would be two updates).
std::vector<std::string> bodies_of(const std::vector<std::string>& lines, std::size_t per_body) {
  std::vector<std::string> bodies;
  std::string body, last_ts;
  std::size_t updates = 0;
  for (const std::string& line : lines) {
    const std::string ts = nlohmann::json::parse(line)["ts"];
    if (ts != last_ts && ++updates > per_body && !body.empty()) {
      bodies.push_back(body);
      body.clear();
      updates = 1;
    }
    last_ts = ts;
    body += line + "\n";
  }
  if (!body.empty()) bodies.push_back(body);
  return bodies;
}

TEST(serve_journal, sigkill_between_requests_then_restart_equals_the_uninterrupted_run) {
  test::temp_dir dir;
  const std::vector<std::string> lines = test::trading_crash_lines();
  test::write_file(dir / "whole.jsonl", test::join(lines, 0, lines.size()));
  const test::command_result whole = test::run_cli(
      "stream -q --scenarios 1000 --book " + test::q(test::sample_book()) + " --ticks " +
      test::q(dir / "whole.jsonl") + " --out " + test::q(dir / "whole"));
  ASSERT_EQ(whole.status, 0) << whole.out;

  const std::vector<std::string> bodies = bodies_of(lines, 10);
  ASSERT_GT(bodies.size(), 10u);
  const std::size_t cut = bodies.size() / 2;
  const std::vector<std::string> args = {"-q",
                                         "--scenarios",
                                         "1000",
                                         "--book",
                                         test::sample_book().string(),
                                         "--journal",
                                         (dir / "journal").string(),
                                         "--out",
                                         (dir / "run").string()};
  {
    test::serve_process first(dir.path(), args);
    auto c = first.client();
    for (std::size_t i = 0; i < cut; ++i) {
      auto r = c.Post("/v1/events", bodies[i], "application/x-ndjson");
      ASSERT_TRUE(r);
      ASSERT_EQ(r->status, 200) << r->body;
      ASSERT_TRUE(nlohmann::json::parse(r->body)["journaled"].get<bool>()) << r->body;
    }
    // Killed right after the last answer: the engine may not have applied what it journaled.
    EXPECT_EQ(first.stop(SIGKILL), 128 + SIGKILL);
  }
  EXPECT_FALSE(std::filesystem::exists(dir / "run" / "accounts.csv"));

  test::serve_process second(dir.path(), args);
  auto c = second.client();
  for (std::size_t i = cut; i < bodies.size(); ++i) {
    auto r = c.Post(i + 1 == bodies.size() ? "/v1/events?wait=applied" : "/v1/events", bodies[i],
                    "application/x-ndjson");
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
  }
  const nlohmann::json s = second.get("/v1/summary");
  const nlohmann::json whole_summary =
      nlohmann::json::parse(test::read_file(dir / "whole" / "summary.json"));
  EXPECT_EQ(s["stream"]["updates"], whole_summary["stream"]["updates"]);
  EXPECT_EQ(second.stop(SIGTERM), 0) << second.log();
  EXPECT_EQ(test::read_file(dir / "run" / "accounts.csv"),
            test::read_file(dir / "whole" / "accounts.csv"));
  EXPECT_EQ(test::read_file(dir / "run" / "events.jsonl"),
            test::read_file(dir / "whole" / "events.jsonl"));
  const nlohmann::json run = nlohmann::json::parse(test::read_file(dir / "run" / "summary.json"));
  EXPECT_GT(run["journal"]["replayed_updates"].get<long>(), 0);
  EXPECT_EQ(run["journal"]["updates"], whole_summary["stream"]["updates"]);
}

}  // namespace
}  // namespace msync
