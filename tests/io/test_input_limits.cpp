// Inputs that are well-formed but absurd in size (docs/design.md sections 2.10 and 5.2): every
// one is bad input with FILE:LINE, never gigabytes of memory, an abort or a line of megabytes.
#include <gtest/gtest.h>

#include <functional>

#include "io/book_snapshot.hpp"
#include "io/json_locator.hpp"
#include "io/load_inputs.hpp"
#include "marginsync/errors.hpp"
#include "test_books.hpp"
#include "test_support.hpp"

namespace msync {
namespace {

using test::temp_dir;
using test::write_file;

// The problems of loading the book in `dir`, as printed lines; empty when it loads.
std::vector<std::string> problems_of(const std::function<void()>& load) {
  std::vector<std::string> lines;
  try {
    load();
  } catch (const input_error& e) {
    for (const input_problem& p : e.problems()) lines.push_back(p.to_string());
  }
  return lines;
}

std::vector<std::string> load_problems(const temp_dir& dir) {
  return problems_of([&] { load_book_inputs(book_paths::in_directory(dir.path())); });
}

std::string joined(const std::vector<std::string>& lines) {
  std::string all;
  for (const std::string& l : lines) all += l + "\n";
  return all;
}

bool has_line(const std::vector<std::string>& lines, const std::string& start,
              const std::string& part) {
  for (const std::string& l : lines)
    if (l.find(start) != std::string::npos && l.find(part) != std::string::npos) return true;
  return false;
}

class input_limits : public ::testing::Test {
 protected:
  void SetUp() override { test::copy_sample_book(dir_.path()); }
  std::string path(const std::string& file) const { return (dir_ / file).string(); }
  temp_dir dir_;
};

// --- echoed input is cut -------------------------------------------------------------------

TEST(excerpt, keeps_short_text_and_cuts_long_text_with_its_length) {
  EXPECT_EQ(excerpt("BTC-PERP"), "BTC-PERP");
  EXPECT_EQ(excerpt(std::string(80, 'x')), std::string(80, 'x'));
  EXPECT_EQ(excerpt(std::string(81, 'x')), std::string(80, 'x') + "\u2026 (81 bytes)");
  EXPECT_EQ(quote_input("ab"), "'ab'");
  // Never inside a multi-byte character: 79 ASCII bytes, then a 3-byte one across the cut.
  const std::string text = std::string(79, 'a') + "\u20ac" + std::string(10, 'b');
  EXPECT_EQ(excerpt(text), std::string(79, 'a') + "\u2026 (92 bytes)");
}

TEST(excerpt, a_problem_line_stays_short_whatever_its_parts_hold) {
  const input_problem p{"accounts.csv", 2, std::string(5000, 'c'), std::string(1 << 20, 'r')};
  const std::string line = p.to_string();
  EXPECT_LT(line.size(), 600u);
  EXPECT_NE(line.find("(5000 bytes)"), std::string::npos) << line;
  EXPECT_NE(line.find("(1048576 bytes)"), std::string::npos) << line.substr(0, 200);
}

TEST_F(input_limits, a_ten_megabyte_cell_is_quoted_in_80_bytes) {
  write_file(dir_ / "positions.csv",
             "account_id,instrument_id,quantity,entry_price\n"
             "hedged_basis,BTC-SPOT," +
                 std::string(10'000'000, '7') + "x,\n");
  const auto lines = load_problems(dir_);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0], path("positions.csv") + ":2: column 'quantity': '" + std::string(80, '7') +
                          "\u2026 (10000001 bytes)' is not a number");
}

TEST_F(input_limits, a_long_json_string_is_quoted_in_80_bytes) {
  write_file(dir_ / "risk.json", "{\"confidence\": \"" + std::string(1'000'000, 'q') + "\"}");
  const auto lines = load_problems(dir_);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_LT(lines[0].size(), 200u);
  EXPECT_NE(lines[0].find("column 'confidence': expected a number, got \"qqq"), std::string::npos)
      << lines[0];
  EXPECT_NE(lines[0].find("(1000002 bytes)"), std::string::npos) << lines[0];
}

// --- JSON nesting and numbers ----------------------------------------------------------------

std::string nested(int depth) {
  return "{\"tiers\": {\"deep\": " + std::string(depth, '[') + std::string(depth, ']') + "}}";
}

TEST_F(input_limits, json_nested_deeper_than_the_limit_is_refused_before_parsing) {
  // 2 levels of objects, then arrays: the array that opens level max_json_depth + 1 is refused.
  write_file(dir_ / "risk.json", "\n" + nested(max_json_depth - 1));
  EXPECT_EQ(joined(load_problems(dir_)),
            path("risk.json") + ":2: arrays and objects nested deeper than 64 levels\n");
  // 20,000 levels in 40 KB: without the limit the locator's paths alone took gigabytes.
  write_file(dir_ / "market.json", nested(20000));
  EXPECT_TRUE(has_line(load_problems(dir_), path("market.json") + ":1:", "deeper than 64"));
}

TEST_F(input_limits, json_nested_to_the_limit_is_parsed) {
  write_file(dir_ / "risk.json", nested(max_json_depth - 2));
  const auto lines = load_problems(dir_);
  EXPECT_FALSE(has_line(lines, "", "deeper than")) << joined(lines);
  EXPECT_TRUE(has_line(lines, path("risk.json") + ":1: column 'tiers.deep'", "")) << joined(lines);
}

TEST_F(input_limits, brackets_inside_strings_are_not_nesting) {
  write_file(dir_ / "risk.json",
             "{\"method\": \"" + std::string(100, '[') + "\\\"" + std::string(100, '{') + "\"}");
  const auto lines = load_problems(dir_);
  EXPECT_TRUE(has_line(lines, path("risk.json") + ":1: column 'method'", "is not one of"))
      << joined(lines);
}

TEST_F(input_limits, a_number_beyond_a_double_names_file_line_and_key) {
  write_file(dir_ / "risk.json", "{\n  \"seed\": 1,\n  \"confidence\": 1e400\n}\n");
  EXPECT_EQ(joined(load_problems(dir_)),
            path("risk.json") +
                ":3: column 'confidence': '1e400' is out of the range of a double (about "
                "1.8e308)\n");
  // Negative, in an array, and a 400-digit integer: each found, each with its key.
  write_file(dir_ / "risk.json", "{}");
  write_file(dir_ / "market.json",
             "{\"as_of\": \"2026-11-24T08:00:00Z\",\n\"underlyings\": [\n"
             "{\"symbol\": \"BTC\", \"spot\": -2E+999, \"vol\": 0.5},\n"
             "{\"symbol\": \"ETH\", \"spot\": " +
                 std::string(400, '9') + ", \"vol\": 0.5}]}");
  const auto lines = load_problems(dir_);
  EXPECT_TRUE(has_line(lines, path("market.json") + ":3: column 'underlyings[0].spot': '-2E+999'",
                       "out of the range"))
      << joined(lines);
  EXPECT_TRUE(has_line(lines, path("market.json") + ":4: column 'underlyings[1].spot'",
                       "(400 bytes)' is out of the range"))
      << joined(lines);
}

TEST_F(input_limits, a_number_beyond_a_double_in_a_snapshot_names_the_snapshot) {
  const book_inputs in = load_book_inputs(book_paths::in_directory(dir_.path()));
  const std::string file = (dir_ / "book.msb").string();
  write_book_snapshot(in, test::read_file(dir_ / "market.json"), "{\"confidence\":\n1e400}", file);
  const auto lines = problems_of([&] { read_book_snapshot(file, {}, {}); });
  EXPECT_EQ(joined(lines), file +
                               ":risk.json:2: column 'confidence': '1e400' is out of the range of "
                               "a double (about 1.8e308)\n");
}

// --- counts ------------------------------------------------------------------------------------

// market.json with BTC, ETH (the sample's instruments need them) and `extra` more underlyings.
std::string market_with(std::size_t extra) {
  std::string u = R"({"symbol": "BTC", "spot": 91000.0, "vol": 0.55},
{"symbol": "ETH", "spot": 3100.0, "vol": 0.7})";
  for (std::size_t i = 0; i < extra; ++i)
    u += ",\n{\"symbol\": \"X" + std::to_string(i) + "\", \"spot\": 1.0, \"vol\": 0.5}";
  return "{\"as_of\": \"2026-11-24T08:00:00Z\",\n\"underlyings\": [\n" + u + "]}";
}

// The sample's risk.json with another scenario count.
std::string risk_with_scenarios(const std::string& count) {
  std::string risk = test::read_file(test::sample_book() / "risk.json");
  const std::string from = "\"scenarios\": 10000";
  risk.replace(risk.find(from), from.size(), "\"scenarios\": " + count);
  return risk;
}

TEST_F(input_limits, more_underlyings_than_the_limit_are_refused_before_any_table) {
  write_file(dir_ / "market.json", market_with(max_underlyings - 1));  // 1,025
  EXPECT_EQ(joined(load_problems(dir_)),
            path("market.json") + ":2: column 'underlyings': at most 1024 underlyings, got 1025\n");
}

TEST_F(input_limits, the_largest_market_loads) {
  write_file(dir_ / "market.json", market_with(max_underlyings - 2));
  write_file(dir_ / "risk.json", risk_with_scenarios("1000"));
  const book_inputs in = load_book_inputs(book_paths::in_directory(dir_.path()));
  EXPECT_EQ(in.market.size(), max_underlyings);
  EXPECT_EQ(in.market.cholesky.size(), max_underlyings * max_underlyings);
}

TEST_F(input_limits, more_tiers_than_the_limit_are_refused) {
  std::string tiers = "\"standard\": {}";
  for (std::size_t i = 0; i < max_tiers; ++i) tiers += ", \"t" + std::to_string(i) + "\": {}";
  write_file(dir_ / "risk.json", "{\n\"tiers\": {" + tiers + "}}");
  EXPECT_EQ(joined(load_problems(dir_)),
            path("risk.json") + ":2: column 'tiers': at most 1000 tiers, got 1001\n");
}

TEST_F(input_limits, scenarios_times_underlyings_are_bounded_in_risk_json_and_snapshots) {
  write_file(dir_ / "market.json", market_with(18));  // 20 underlyings
  write_file(dir_ / "risk.json", risk_with_scenarios("5000001"));
  EXPECT_EQ(joined(load_problems(dir_)),
            path("risk.json") +
                ": column 'scenarios': 5000001 scenarios of 20 underlyings exceed the limit of "
                "100000000 scenarios x underlyings (at most 5000000 scenarios with this market)\n");
  write_file(dir_ / "risk.json", risk_with_scenarios("5000000"));
  const book_inputs in = load_book_inputs(book_paths::in_directory(dir_.path()));
  const std::string file = (dir_ / "book.msb").string();
  write_book_snapshot(in, test::read_file(dir_ / "market.json"), risk_with_scenarios("5000001"),
                      file);
  EXPECT_TRUE(has_line(problems_of([&] { read_book_snapshot(file, {}, {}); }),
                       file + ":risk.json: column 'scenarios'", "at most 5000000 scenarios"));
}

TEST_F(input_limits, a_scenario_file_stops_at_the_scenario_beyond_the_limit) {
  const book_inputs in = load_book_inputs(book_paths::in_directory(dir_.path()));
  std::string csv = "scenario_id,underlying,spot_return\n";
  for (int s = 0; s < 6; ++s)
    csv += "s" + std::to_string(s) + ",BTC,0.01\ns" + std::to_string(s) + ",ETH,-0.01\n";
  write_file(dir_ / "scenarios.csv", csv);
  // 2 underlyings: a limit of 10 cells takes 5 scenarios; the sixth starts on line 12.
  const auto lines =
      problems_of([&] { load_scenario_file(dir_ / "scenarios.csv", in.market, 10); });
  EXPECT_EQ(joined(lines), path("scenarios.csv") +
                               ":12: column 'scenario_id': 6 scenarios of 2 underlyings exceed "
                               "the limit of 10 scenarios x underlyings (at most 5 scenarios "
                               "with this market)\n");
  EXPECT_EQ(load_scenario_file(dir_ / "scenarios.csv", in.market, 12).count(), 6u);
}

// --- an empty book ------------------------------------------------------------------------------

TEST_F(input_limits, a_book_without_accounts_is_bad_input) {
  write_file(dir_ / "accounts.csv", "account_id,collateral,tier\n");
  write_file(dir_ / "positions.csv", "account_id,instrument_id,quantity,entry_price\n");
  EXPECT_EQ(joined(load_problems(dir_)), path("accounts.csv") + ": no accounts\n");
  // Accounts with collateral only, no positions: a book (nothing at risk, every account ok).
  write_file(dir_ / "accounts.csv", "account_id,collateral,tier\ncash_only,100,standard\n");
  EXPECT_EQ(load_book_inputs(book_paths::in_directory(dir_.path())).positions.accounts(), 1u);
}

TEST_F(input_limits, a_snapshot_without_accounts_is_bad_input) {
  book_inputs in = load_book_inputs(book_paths::in_directory(dir_.path()));
  in.positions = test::without_accounts(in.positions);
  const std::string file = (dir_ / "empty.msb").string();
  write_book_snapshot(in, test::read_file(dir_ / "market.json"),
                      test::read_file(dir_ / "risk.json"), file);
  EXPECT_EQ(joined(problems_of([&] { read_book_snapshot(file, {}, {}); })),
            file + ": no accounts\n");
}

TEST(json_locator, finds_no_overflow_in_ordinary_numbers) {
  const json_locator where(R"({"a": 1e308, "b": -1.7976931348623157e308, "c": 1e-400, "d": true,
                               "e": [0, 123456789012345678901234567890]})");
  EXPECT_TRUE(where.overflowing_numbers().empty());
}

}  // namespace
}  // namespace msync
