// The marginsync executable end to end: the sample book, exit statuses, error lines, outputs.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>

#include "test_support.hpp"

namespace msync {
namespace {

using test::run_cli;
using test::temp_dir;

TEST(cli, margin_on_the_sample_book) {
  temp_dir out;
  const auto r = run_cli("margin --book '" + test::sample_book().string() +
                         "' --backend cpu --out '" + out.path().string() + "'");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("status: ok 9, margin_call 1, liquidate 1; preemptive 2"), std::string::npos)
      << r.out;

  const auto accounts = test::read_csv_by_key(out / "accounts.csv");
  ASSERT_EQ(accounts.size(), 11u);
  // The statuses the sample book was written to show (README, data/sample).
  EXPECT_EQ(accounts.at("hedged_basis").at("status"), "ok");
  EXPECT_EQ(accounts.at("hedged_basis").at("equity"), "92000");
  // Long spot, short perp: no price risk; the short receives a day of funding in every scenario,
  // 91000 * 0.0001 * 3 = 27.3.
  EXPECT_EQ(std::stod(accounts.at("hedged_basis").at("var")), -27.299999999999955);
  EXPECT_EQ(accounts.at("hedged_basis").at("own_funds"), "92000");
  EXPECT_EQ(accounts.at("short_option_seller").at("status"), "margin_call");
  EXPECT_EQ(accounts.at("leveraged_perp_long").at("status"), "liquidate");
  EXPECT_EQ(accounts.at("leveraged_perp_long").at("equity"), "3900");
  EXPECT_EQ(accounts.at("flat").at("health"), "inf");
  EXPECT_EQ(accounts.at("market_maker_eth_short").at("preemptive"), "true");
  // One account for each rule of the margin model (README, "The margin model on the sample book").
  // A VIP credit line of 10,000 spent: own funds -1000 + 0.5 (91000 - 95000) = -3000, equity 7000.
  EXPECT_EQ(accounts.at("vip_credit_in_debt").at("own_funds"), "-3000");
  EXPECT_EQ(accounts.at("vip_credit_in_debt").at("equity"), "7000");
  // Settled: 3 calls on 85000 at 88500 (10,500), short 2 futures settled at 88200 against 88000
  // (-400): fixed value, no risk, no margin, though their notional stays in gross_notional.
  EXPECT_EQ(accounts.at("expired_positions").at("equity"), "11100");
  EXPECT_EQ(accounts.at("expired_positions").at("var"), "0");
  EXPECT_EQ(accounts.at("expired_positions").at("initial_margin"), "0");
  EXPECT_EQ(accounts.at("expired_positions").at("gross_notional"), "455000");
  // Long options only: margin at most their value (plus a tiny add-on), not 1% of 910,000.
  const auto& longs = accounts.at("long_options_only");
  EXPECT_EQ(longs.at("gross_notional"), "910000");
  EXPECT_LE(std::stod(longs.at("initial_margin")),
            std::stod(longs.at("equity")) + std::stod(longs.at("liquidity_addon")));
  // The marked future: 1 at 91500 marked 91950, short 1 perp at 91000.
  EXPECT_EQ(accounts.at("basis_trader").at("equity"), "5450");
  // The whale pays for its size: (2/3) 0.7 / sqrt(365) sqrt(62e6 / 1e9) 62e6 = 377,092.49.
  EXPECT_NEAR(std::stod(accounts.at("whale_eth_short").at("liquidity_addon")), 377092.49, 0.01);
  // Rows in input order.
  const std::string text = test::read_file(out / "accounts.csv");
  EXPECT_LT(text.find("hedged_basis"), text.find("short_option_seller"));
  EXPECT_LT(text.find("flat"), text.find("protected_eth_long"));

  const auto exposures = test::read_csv_by_key(out / "exposures.csv");
  EXPECT_EQ(exposures.at("leveraged_perp_long").at("delta"), "2");
  EXPECT_EQ(exposures.at("leveraged_perp_long").at("underlying"), "BTC");

  const auto summary = nlohmann::json::parse(test::read_file(out / "summary.json"));
  EXPECT_EQ(summary["inputs"]["accounts"], 11);
  EXPECT_EQ(summary["inputs"]["position_rows"], 17);
  EXPECT_EQ(summary["scenarios"], 10000);
  EXPECT_EQ(summary["backend"], "cpu");
  EXPECT_EQ(summary["status_counts"]["liquidate"], 1);
  EXPECT_TRUE(summary["stage_seconds"].contains("scenario_risk"));
  // No temporary file is left behind.
  for (const auto& f : std::filesystem::directory_iterator(out.path()))
    EXPECT_EQ(f.path().string().find(".tmp."), std::string::npos) << f.path();
}

TEST(cli, same_run_gives_identical_files_with_any_thread_count) {
  temp_dir a, b;
  const std::string book =
      "--book '" + test::sample_book().string() + "' --backend cpu --scenarios 3000 -q";
  ASSERT_EQ(run_cli("margin " + book + " --threads 1 --out '" + a.path().string() + "'").status, 0);
  ASSERT_EQ(run_cli("margin " + book + " --threads 2 --out '" + b.path().string() + "'").status, 0);
  EXPECT_EQ(test::read_file(a / "accounts.csv"), test::read_file(b / "accounts.csv"));
  EXPECT_EQ(test::read_file(a / "exposures.csv"), test::read_file(b / "exposures.csv"));
}

TEST(cli, command_line_overrides_risk_json) {
  temp_dir out;
  const auto r = run_cli(
      "margin --book '" + test::sample_book().string() +
      "' --backend cpu --method delta_gamma --scenarios 500 --seed 9 --confidence 0.95 -q --out '" +
      out.path().string() + "'");
  ASSERT_EQ(r.status, 0) << r.out;
  const auto summary = nlohmann::json::parse(test::read_file(out / "summary.json"));
  EXPECT_EQ(summary["method"], "delta_gamma");
  EXPECT_EQ(summary["scenarios"], 500);
  EXPECT_EQ(summary["seed"], 9);
  EXPECT_EQ(summary["confidence"], 0.95);
}

TEST(cli, bad_input_exits_2_with_file_line_and_column) {
  temp_dir dir;
  test::copy_sample_book(dir.path());
  std::string positions = test::read_file(dir / "positions.csv");
  positions += "flat,BTC-SPOT,two,\n";
  for (int i = 0; i < 25; ++i) positions += "ghost" + std::to_string(i) + ",BTC-SPOT,1,\n";
  test::write_file(dir / "positions.csv", positions);
  temp_dir out;
  const auto r =
      run_cli("margin --book '" + dir.path().string() + "' --out '" + out.path().string() + "'");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.out.find("positions.csv:19: column 'quantity': 'two' is not a number"),
            std::string::npos)
      << r.out;
  EXPECT_NE(
      r.out.find(
          "positions.csv:20: column 'account_id': 'ghost0' is not an account in accounts.csv"),
      std::string::npos)
      << r.out;
  // At most 20 problem lines, then a count.
  EXPECT_NE(r.out.find("... and 6 more problems (26 in all)"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("ghost19"), std::string::npos);
  // Nothing was computed or written.
  EXPECT_FALSE(std::filesystem::exists(out / "accounts.csv"));
}

// The examples: absurd but finite rates, and an account id that is not UTF-8, are bad
// input (exit 2, FILE:LINE: column), where they gave NaN passing as `ok` or a stream that died at
// its first JSON event.
TEST(cli, absurd_rates_and_ids_that_are_not_text_exit_2) {
  struct example {
    std::string file, from, to, expected;
  };
  const example examples[] = {
      {"market.json", "\"dividend_yield\": 0.0", "\"dividend_yield\": -10000",
       "market.json:5: column 'underlyings[0].dividend_yield': must be within [-1, 1]"},
      {"market.json", "\"rate\": 0.04", "\"rate\": 10000",
       "market.json:3: column 'rate': must be within [-1, 1]"},
      {"market.json", "\"funding_rate\": 0.0001", "\"funding_rate\": 1e308",
       "market.json:5: column 'underlyings[0].funding_rate': must be within [-0.1, 0.1]"},
      {"accounts.csv", "flat,",
       "fl\xff"
       "at,",
       "accounts.csv:5: column 'account_id': not valid UTF-8: byte 0xFF at offset 2"},
  };
  for (const example& e : examples) {
    SCOPED_TRACE(e.expected);
    temp_dir dir;
    test::copy_sample_book(dir.path());
    std::string text = test::read_file(dir / e.file);
    text.replace(text.find(e.from), e.from.size(), e.to);
    test::write_file(dir / e.file, text);
    for (const char* command : {"margin", "stream --ticks /dev/null"}) {
      const auto r = run_cli(std::string(command) + " --book '" + dir.path().string() + "'");
      EXPECT_EQ(r.status, 2) << command;
      EXPECT_NE(r.out.find(e.expected), std::string::npos) << command << ": " << r.out;
    }
  }
}

TEST(cli, usage_errors_exit_2) {
  EXPECT_EQ(run_cli("").status, 2);
  EXPECT_EQ(run_cli("frobnicate").status, 2);
  EXPECT_EQ(run_cli("margin").status, 2);  // no --book
  EXPECT_EQ(run_cli("margin --book x --backend gpu").status, 2);
  EXPECT_EQ(run_cli("margin --book x --method exact").status, 2);
  EXPECT_EQ(run_cli("margin --book x --scenarios many").status, 2);
  const auto r = run_cli("margin --book '" + test::sample_book().string() +
                         "' --confidence 1.5 --backend cpu");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.out.find("--confidence: must be within (0, 1), got 1.5"), std::string::npos) << r.out;
  const auto missing = run_cli("margin --book /nonexistent/book");
  EXPECT_EQ(missing.status, 2);
  EXPECT_NE(missing.out.find("/nonexistent/book: no such book directory or snapshot file"),
            std::string::npos)
      << missing.out;
}

TEST(cli, unwritable_output_fails_before_computing) {
  temp_dir dir;
  test::write_file(dir / "file", "x");
  const auto r = run_cli("margin --book '" + test::sample_book().string() +
                         "' --backend cpu --out '" + (dir / "file").string() + "'");
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_NE(r.out.find("cannot create output directory"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("scenario risk"), std::string::npos) << r.out;  // nothing was computed
}

TEST(cli, help_and_version) {
  const auto help = run_cli("--help");
  EXPECT_EQ(help.status, 0);
  EXPECT_NE(help.out.find("margin"), std::string::npos);
  const auto margin_help = run_cli("margin --help");
  EXPECT_EQ(margin_help.status, 0);
  EXPECT_NE(margin_help.out.find("--scenario-file"), std::string::npos);
  EXPECT_EQ(run_cli("generate --help").status, 0);
  const auto version = run_cli("--version");
  EXPECT_EQ(version.status, 0);
  EXPECT_NE(version.out.find("marginsync " MSYNC_VERSION), std::string::npos);
}

// --backend cuda without a usable device (or without a CUDA implementation) is exit status 3 with
// the reason; auto falls back to the CPU and says so.
TEST(cli, cuda_backend_unavailable_is_exit_3_and_auto_falls_back) {
  const std::string book = "--book '" + test::sample_book().string() + "' --scenarios 100";
  const auto cuda = run_cli("margin " + book + " --backend cuda");
  if (cuda.status == 0) GTEST_SKIP() << "a CUDA backend is usable here";
  EXPECT_EQ(cuda.status, 3) << cuda.out;
  EXPECT_NE(cuda.out.find("--backend cuda: "), std::string::npos) << cuda.out;
  const auto automatic = run_cli("margin " + book + " --backend auto");
  EXPECT_EQ(automatic.status, 0) << automatic.out;
  EXPECT_NE(automatic.out.find("backend: cpu"), std::string::npos) << automatic.out;
  EXPECT_NE(automatic.out.find("CUDA not used: "), std::string::npos) << automatic.out;
}

TEST(cli, scenario_file_run) {
  temp_dir dir;
  test::write_file(
      dir / "grid.csv",
      "scenario_id,underlying,spot_return,vol_change\n"
      "crash,BTC,-0.3,0.5\ncrash,ETH,-0.35,0.5\nrally,BTC,0.2,-0.2\nrally,ETH,0.25,-0.2\n");
  const auto r = run_cli("margin --book '" + test::sample_book().string() +
                         "' --backend cpu --scenario-file '" + (dir / "grid.csv").string() +
                         "' --out '" + (dir / "out").string() + "'");
  ASSERT_EQ(r.status, 0) << r.out;
  const auto summary = nlohmann::json::parse(test::read_file(dir / "out" / "summary.json"));
  EXPECT_EQ(summary["scenario_source"], "file");
  EXPECT_EQ(summary["scenarios"], 2);
  EXPECT_EQ(run_cli("margin --book '" + test::sample_book().string() +
                    "' --scenario-file x --scenarios 5")
                .status,
            2);
}

}  // namespace
}  // namespace msync

namespace msync {
namespace {

// The generated sample book shows every status and the pre-emptive flag (the generator sets
// collateral for that); a smaller scenario count keeps the test quick.
TEST(cli, generated_book_shows_every_status) {
  temp_dir out;
  const auto r = run_cli("margin --book '" + (test::source_dir() / "data" / "generated").string() +
                         "' --backend cpu --scenarios 2000 -q --out '" + out.path().string() + "'");
  ASSERT_EQ(r.status, 0) << r.out;
  const auto summary = nlohmann::json::parse(test::read_file(out / "summary.json"));
  EXPECT_EQ(summary["inputs"]["accounts"], 1000);
  for (const char* key : {"ok", "margin_call", "liquidate", "preemptive"})
    EXPECT_GT(summary["status_counts"][key].get<int>(), 0) << key;
}

// generate then margin: the generator's files load without a single problem.
TEST(cli, generate_writes_a_book_that_loads) {
  temp_dir dir;
  const auto g =
      run_cli("generate --accounts 300 --underlyings 7 --positions-per-account 4 --seed 5 --out '" +
              (dir / "book").string() + "'");
  ASSERT_EQ(g.status, 0) << g.out;
  EXPECT_NE(g.out.find("wrote 300 accounts"), std::string::npos) << g.out;
  const auto m =
      run_cli("margin --book '" + (dir / "book").string() +
              "' --backend cpu --scenarios 200 -q --out '" + (dir / "out").string() + "'");
  ASSERT_EQ(m.status, 0) << m.out;
  EXPECT_EQ(test::read_csv_by_key(dir / "out" / "accounts.csv").size(), 300u);
  EXPECT_EQ(run_cli("generate --accounts 0 --out '" + (dir / "x").string() + "'").status, 2);
}

TEST(cli, bench_times_every_stage_and_writes_json) {
  temp_dir dir;
  const auto r = run_cli(
      "bench --accounts 300 --underlyings 4 --scenarios 256 --repeats 2 --backend cpu "
      "--threads 2 --work-dir '" +
      dir.path().string() + "' --json '" + (dir / "bench.json").string() + "'");
  ASSERT_EQ(r.status, 0) << r.out;
  const nlohmann::json j = nlohmann::json::parse(test::read_file(dir / "bench.json"));
  EXPECT_EQ(j["sizes"]["accounts"], 300);
  EXPECT_EQ(j["sizes"]["scenarios"], 256);
  EXPECT_GT(j["devices"]["cpu"]["memory_bandwidth_bytes_per_s"].get<double>(), 0.0);
  // The CPU's float delta_gamma losses are judged against the measured FP32 rate (13.2).
  EXPECT_GT(j["devices"]["cpu"]["fp32_ops_per_s"].get<double>(), 0.0);
  std::set<std::string> seen;
  for (const auto& stage : j["stages"]) {
    seen.insert(stage["method"].get<std::string>() + "/" + stage["stage"].get<std::string>());
    EXPECT_GT(stage["seconds"].get<double>(), 0.0) << stage.dump();
    EXPECT_GT(stage["bytes"].get<double>(), 0.0) << stage.dump();
    EXPECT_GT(stage["peak_rss_bytes"].get<double>(), 0.0) << stage.dump();
  }
  // A whole run's peak memory per method, per position of the book.
  ASSERT_EQ(j["peak_memory"]["methods"].size(), 2u) << j["peak_memory"].dump();
  for (const auto& m : j["peak_memory"]["methods"])
    EXPECT_DOUBLE_EQ(m["bytes_per_position"].get<double>(),
                     m["peak_rss_bytes"].get<double>() / j["sizes"]["positions"].get<double>());
  for (const char* want :
       {"/load", "/upload", "/revalue", "delta_gamma/scenario generation",
        "delta_gamma/scenario risk", "full/scenario pricing", "full/scenario risk"})
    EXPECT_TRUE(seen.count(want)) << want << " missing from " << j["stages"].dump();
  // The generated book is removed afterwards; only the JSON is left.
  std::size_t files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir.path()))
    files += entry.is_regular_file() ? 1 : 0;
  EXPECT_EQ(files, 1u);
  EXPECT_EQ(run_cli("bench --scenarios 0").status, 2);
  EXPECT_EQ(run_cli("bench --backend gpu").status, 2);
}

}  // namespace
}  // namespace msync
