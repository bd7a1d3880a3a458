// The command line of the market inputs (docs/design.md 2.9, 2.11, 7.1): --depth on margin,
// stream, replay and cascade feeds the liquidity add-on; --marks-file wherever --market-file is;
// bad input is exit status 2 naming FILE:LINE: column; an --out over the depth file is refused.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "test_support.hpp"

namespace msync {
namespace {

using test::q;
using test::run_cli;
using test::temp_dir;
using test::write_file;

// One account long 100 BTC perpetuals at spot 91,000 (annual vol 0.5): one exposure of delta 100,
// N = |q m S| = 9.1e6.
std::filesystem::path write_one_perp_book(const temp_dir& dir,
                                          const std::string& risk = "{\"scenarios\": 200}") {
  const std::filesystem::path book = dir / "book";
  std::filesystem::create_directories(book);
  write_file(book / "instruments.csv",
             "instrument_id,kind,underlying,strike,expiry,option_type,multiplier\n"
             "BTC-PERP,perpetual,BTC,,,,1\n"
             "BTC-C,option,BTC,90000,2026-12-25T08:00:00Z,call,1\n");
  write_file(book / "accounts.csv", "account_id,collateral\nwhale,5000000\n");
  write_file(book / "positions.csv",
             "account_id,instrument_id,quantity,entry_price\nwhale,BTC-PERP,100,91000\n");
  write_file(book / "market.json",
             "{\"as_of\": \"2026-11-24T08:00:00Z\", \"underlyings\": [{\"symbol\": \"BTC\", "
             "\"spot\": 91000, \"vol\": 0.5}, {\"symbol\": \"ETH\", \"spot\": 3100, \"vol\": "
             "0.7}]}\n");
  write_file(book / "risk.json", risk);
  return book;
}

// The liquidity add-on of the whale's account, as accounts.csv writes it.
double addon_of(const temp_dir& dir, const std::string& extra) {
  const auto r = run_cli("margin -q --backend cpu --book " + q(dir / "book") + " --out " +
                         q(dir / "out") + " --force " + extra);
  EXPECT_EQ(r.status, 0) << r.out;
  const auto rows = test::read_csv_by_key(dir / "out" / "accounts.csv");
  if (!rows.count("whale") || !rows.at("whale").count("liquidity_addon")) {
    ADD_FAILURE() << "no liquidity_addon for whale: " << r.out;
    return NAN;
  }
  return std::stod(rows.at("whale").at("liquidity_addon"));
}

// C = (2/3) Y (sigma / sqrt(365)) sqrt(N / V) N, by hand.
double hand_addon(double y, double v) {
  const double n = 100 * 91000.0;
  return 2.0 / 3.0 * y * (0.5 / std::sqrt(365.0)) * std::sqrt(n / v) * n;
}

TEST(cli_market_inputs, depth_on_margin_sets_the_liquidity_addon_by_the_square_root_law) {
  temp_dir dir;
  write_one_perp_book(dir);
  // risk.json's defaults: Y = 1, V = 1e9 (about 2,500 for 9.1e6 of notional).
  EXPECT_NEAR(addon_of(dir, ""), hand_addon(1.0, 1e9), 1e-9 * hand_addon(1.0, 1e9));
  // The depth file's V and Y for BTC: a tenth of the volume, half the coefficient.
  write_file(dir / "depth.csv", "underlying,daily_volume,impact_coefficient\nBTC,1e8,0.5\n");
  const double with_depth = addon_of(dir, "--depth " + q(dir / "depth.csv"));
  EXPECT_NEAR(with_depth, hand_addon(0.5, 1e8), 1e-9 * hand_addon(0.5, 1e8));
  EXPECT_NEAR(with_depth / hand_addon(1.0, 1e9), 0.5 * std::sqrt(10.0), 1e-9);
  // ETH only: BTC keeps risk.json's values.
  write_file(dir / "depth.csv", "underlying,daily_volume\nETH,1e3\n");
  EXPECT_NEAR(addon_of(dir, "--depth " + q(dir / "depth.csv")), hand_addon(1.0, 1e9),
              1e-9 * hand_addon(1.0, 1e9));
  // risk.json switches the add-on off.
  write_one_perp_book(dir, "{\"scenarios\": 200, \"liquidity_addon\": false}");
  EXPECT_EQ(addon_of(dir, "--depth " + q(dir / "depth.csv")), 0.0);
}

TEST(cli_market_inputs, a_bad_depth_file_is_bad_input_for_every_command_that_takes_it) {
  temp_dir dir;
  const auto book = write_one_perp_book(dir);
  write_file(dir / "depth.csv", "underlying,daily_volume\nBTC,0\n");
  write_file(dir / "ticks.csv", "timestamp,underlying,price\n2026-11-24T08:00:01Z,BTC,90000\n");
  const std::string depth = " --depth " + q(dir / "depth.csv");
  const std::string expected =
      (dir / "depth.csv").string() + ":2: column 'daily_volume': must be within [1, 1e15], got 0";
  for (const std::string& command :
       {std::string("margin --scenarios 100"), "stream --ticks " + q(dir / "ticks.csv"),
        "replay --ticks " + q(dir / "ticks.csv"), std::string("cascade --shock BTC=-0.1")}) {
    const auto r = run_cli(command + " -q --backend cpu --book " + q(book) + depth);
    EXPECT_EQ(r.status, 2) << command << ": " << r.out;
    EXPECT_NE(r.out.find(expected), std::string::npos) << command << ": " << r.out;
  }
}

TEST(cli_market_inputs, an_out_over_the_depth_file_is_refused) {
  temp_dir dir;
  const auto book = write_one_perp_book(dir);
  write_file(dir / "depth.csv", "underlying,daily_volume\nBTC,1e9\n");
  const auto r = run_cli("margin -q --backend cpu --book " + q(book) + " --depth " +
                         q(dir / "depth.csv") + " --out " + q(dir / "depth.csv"));
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_NE(r.out.find("is the input --depth"), std::string::npos) << r.out;
  EXPECT_EQ(test::read_file(dir / "depth.csv"), "underlying,daily_volume\nBTC,1e9\n");
  write_file(dir / "marks.csv", "instrument_id,mark_iv\nBTC-C,0.5\n");
  const auto m = run_cli("margin -q --backend cpu --book " + q(book) + " --marks-file " +
                         q(dir / "marks.csv") + " --out " + q(dir / "marks.csv"));
  EXPECT_EQ(m.status, 2) << m.out;
  EXPECT_NE(m.out.find("is the input --marks-file"), std::string::npos) << m.out;
}

TEST(cli_market_inputs, marks_files_and_surfaces_are_checked_on_the_command_line) {
  temp_dir dir;
  const auto book = write_one_perp_book(dir);
  // A --marks-file that does not exist.
  auto r = run_cli("margin -q --backend cpu --scenarios 100 --book " + q(book) + " --marks-file " +
                   q(dir / "none.csv"));
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_NE(r.out.find((dir / "none.csv").string() + ": file not found"), std::string::npos)
      << r.out;
  // A marks.csv in the book with a value for a kind that does not use it.
  write_file(book / "marks.csv", "instrument_id,mark_iv\nBTC-PERP,0.5\n");
  r = run_cli("margin -q --backend cpu --scenarios 100 --book " + q(book));
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_NE(r.out.find((book / "marks.csv").string() +
                       ":2: column 'mark_iv': for options only; 'BTC-PERP' is a perpetual"),
            std::string::npos)
      << r.out;
  // A good one, then convert carries it into the snapshot and --marks-file replaces it there.
  write_file(book / "marks.csv", "instrument_id,mark_iv\nBTC-C,0.5\n");
  r = run_cli("convert -q --book " + q(book) + " --out " + q(dir / "book.msb"));
  EXPECT_EQ(r.status, 0) << r.out;
  write_file(dir / "bad_marks.csv", "instrument_id,mark_iv\nBTC-C,11\n");
  r = run_cli("margin -q --backend cpu --scenarios 100 --book " + q(dir / "book.msb") +
              " --marks-file " + q(dir / "bad_marks.csv"));
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_NE(r.out.find((dir / "bad_marks.csv").string() +
                       ":2: column 'mark_iv': must be within (0, 10], got 11"),
            std::string::npos)
      << r.out;
  // A surface slice that is not raw SVI.
  std::filesystem::remove(book / "marks.csv");
  write_file(dir / "market.json",
             "{\"as_of\": \"2026-11-24T08:00:00Z\", \"underlyings\": [{\"symbol\": \"BTC\", "
             "\"spot\": 91000, \"vol\": 0.5}, {\"symbol\": \"ETH\", \"spot\": 3100, \"vol\": "
             "0.7}],\n\"surface\": {\"BTC\": [\n{\"expiry\": \"2026-12-25T08:00:00Z\", \"a\": "
             "0.02, \"b\": 0.1, \"rho\": 1.2, \"m\": 0, \"sigma\": 0.2}]}}\n");
  r = run_cli("margin -q --backend cpu --scenarios 100 --book " + q(book) + " --market-file " +
              q(dir / "market.json"));
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_NE(r.out.find((dir / "market.json").string() +
                       ":3: column 'surface.BTC[0].rho': rho must be within (-1, 1), got 1.2"),
            std::string::npos)
      << r.out;
}

TEST(cli_market_inputs, help_teaches_marks_and_depth) {
  for (const char* command : {"margin", "stream", "replay", "cascade"}) {
    const auto h = run_cli(std::string(command) + " --help");
    EXPECT_NE(h.out.find("--marks-file FILE"), std::string::npos) << command << h.out;
    EXPECT_NE(h.out.find("--depth FILE"), std::string::npos) << command << h.out;
    EXPECT_NE(h.out.find("liquidity add-on"), std::string::npos) << command << h.out;
  }
  const auto c = run_cli("convert --help");
  EXPECT_NE(c.out.find("--marks-file FILE"), std::string::npos) << c.out;
  EXPECT_EQ(c.out.find("--depth"), std::string::npos) << c.out;  // not stored in a snapshot
}

}  // namespace
}  // namespace msync
