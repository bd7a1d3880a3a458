// Absurd but well-formed command lines and inputs end with the right exit status and a line that
// says why (docs/design.md sections 2.10, 5 and 7): never an abort, a silent choice or a run on.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>

#include "test_support.hpp"

namespace msync {
namespace {

using test::run_cli;
using test::temp_dir;
using test::write_file;

std::string sample() {
  return "'" + test::sample_book().string() + "'";
}

bool contains(const test::command_result& r, const std::string& part) {
  return r.out.find(part) != std::string::npos;
}

TEST(cli_limits, threads_and_device_memory_are_bounded) {
  for (const std::string& command :
       {"margin --book " + sample(), "cascade --shock BTC=-0.1 --book " + sample(),
        "bench --book " + sample()}) {
    const auto r = run_cli(command + " -q --threads 10000");
    EXPECT_EQ(r.status, 2) << command << "\n" << r.out;
    EXPECT_TRUE(contains(r, "--threads: Value 10000 not in range 0 to 1024")) << r.out;
  }
  const auto r = run_cli("margin --book " + sample() + " -q --device-memory 99999999999999");
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_TRUE(contains(r, "--device-memory")) << r.out;
  EXPECT_EQ(run_cli("margin --book " + sample() + " -q --threads 3 --scenarios 100").status, 0);
}

TEST(cli_limits, a_shock_given_twice_for_one_underlying_is_a_usage_error) {
  for (const std::string& option :
       {std::string("--shock BTC=-0.1,BTC=-0.2"), std::string("--shock BTC=-0.1,ETH=0,BTC=-0.1"),
        std::string("--shock-grid BTC=-0.1:-0.2:0.05,BTC=-0.1:-0.2:0.05")}) {
    const auto r = run_cli("cascade --book " + sample() + " -q " + option);
    EXPECT_EQ(r.status, 2) << option << "\n" << r.out;
    EXPECT_TRUE(contains(r, "underlying 'BTC' is given twice (see --help)")) << r.out;
  }
  EXPECT_EQ(run_cli("cascade --book " + sample() + " -q --scenarios 100 --shock BTC=-0.1,ETH=-0.2")
                .status,
            0);
}

TEST(cli_limits, a_replay_interval_given_twice_is_a_usage_error) {
  const auto r = run_cli("replay --book " + sample() + " -q --ticks '" +
                         (test::source_dir() / "data" / "streams" / "crash.jsonl").string() +
                         "' --engine-interval-ms 0,100,100");
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_TRUE(contains(r, "--engine-interval-ms: 100 is given twice")) << r.out;
}

TEST(cli_limits, an_empty_book_is_bad_input_in_every_command) {
  temp_dir dir, outputs;  // outputs apart: an output inside the book is refused (7.10)
  test::copy_sample_book(dir.path());
  write_file(dir / "accounts.csv", "account_id,collateral,tier\n");
  write_file(dir / "positions.csv", "account_id,instrument_id,quantity,entry_price\n");
  const std::string book = "'" + dir.path().string() + "'";
  for (const std::string& command :
       {"margin --book " + book, "cascade --shock BTC=-0.1 --book " + book,
        "convert --out '" + (outputs / "b.msb").string() + "' --book " + book}) {
    const auto r = run_cli(command + " -q");
    EXPECT_EQ(r.status, 2) << command << "\n" << r.out;
    EXPECT_TRUE(contains(r, (dir / "accounts.csv").string() + ": no accounts")) << r.out;
  }
  const auto r = run_cli("generate --accounts 0 --out '" + (outputs / "g").string() + "' -q");
  EXPECT_EQ(r.status, 2) << r.out;
}

TEST(cli_limits, a_json_number_overflow_exits_2_naming_file_line_and_key) {
  temp_dir dir;
  test::copy_sample_book(dir.path());
  write_file(dir / "risk.json", "{\n\"confidence\": 1e400\n}\n");
  const auto r = run_cli("margin --book '" + dir.path().string() + "'");
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_TRUE(contains(r, (dir / "risk.json").string() + ":2: column 'confidence': '1e400'"))
      << r.out;
}

TEST(cli_limits, counts_beyond_the_limits_exit_2_before_any_work) {
  temp_dir dir;
  test::copy_sample_book(dir.path());
  std::string u = R"({"symbol": "BTC", "spot": 91000.0, "vol": 0.55},
                     {"symbol": "ETH", "spot": 3100.0, "vol": 0.7})";
  for (int i = 0; i < 9; ++i)
    u += ", {\"symbol\": \"X" + std::to_string(i) + "\", \"spot\": 1, \"vol\": 0.5}";
  write_file(dir / "market.json",
             "{\"as_of\": \"2026-11-24T08:00:00Z\", \"underlyings\": [" + u + "]}");
  // 11 underlyings: 9,090,909 scenarios at most.
  auto r = run_cli("margin --book '" + dir.path().string() + "' --scenarios 10000000");
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_TRUE(contains(r, "--scenarios: 10000000 scenarios of 11 underlyings exceed")) << r.out;
  for (const std::string& command :
       {"generate --out '" + (dir / "g").string() + "' --underlyings 1025",
        std::string("bench --underlyings 1025")}) {
    r = run_cli(command + " -q");
    EXPECT_EQ(r.status, 2) << command << "\n" << r.out;
    EXPECT_TRUE(contains(r, "--underlyings: Value 1025 not in range 1 to 1024")) << r.out;
  }
}

// Memory that runs out ends the run with exit status 1 and says so (an address-space limit in a
// child shell stands in for a full machine).
TEST(cli_limits, out_of_memory_exits_1_with_a_message) {
  if (test::built_with_address_sanitizer)
    GTEST_SKIP() << "AddressSanitizer reserves terabytes of shadow memory at start: it cannot run "
                    "under ulimit -v (the allocator failure itself is tested in "
                    "marginsync_alloc_failure_tests)";
  const std::string cmd = "ulimit -v 400000 && '" + std::string(MSYNC_CLI_PATH) +
                          "' margin --book " + sample() +
                          " -q --threads 2 --scenarios 10000000 2>&1";
  FILE* pipe = popen(cmd.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string out;
  char buf[4096];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, pipe)) > 0;) out.append(buf, n);
  const int raw = pclose(pipe);
  ASSERT_TRUE(WIFEXITED(raw)) << out;
  EXPECT_EQ(WEXITSTATUS(raw), 1) << out;
  EXPECT_NE(out.find("marginsync margin: out of memory"), std::string::npos) << out;
}

}  // namespace
}  // namespace msync
