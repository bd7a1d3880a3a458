// The inputs of each instrument's own market (docs/design.md 2.5, 2.6, 2.9, 2.11, 12):
// market.json's SVI surfaces, marks.csv, risk.json's model keys and the depth file. Good inputs
// land in market_state / risk_params with their values; every bad one is FILE:LINE: column 'NAME':
// reason; a snapshot keeps surfaces and marks.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>

#include "io/book_snapshot.hpp"
#include "io/load_inputs.hpp"
#include "io/number_parse.hpp"
#include "marginsync/errors.hpp"
#include "test_support.hpp"

namespace msync {
namespace {

using test::temp_dir;
using test::write_file;

// A small book of every kind on two underlyings, independent of data/sample.
const char* const instruments_csv =
    "instrument_id,kind,underlying,strike,expiry,option_type,multiplier\n"
    "BTC-SPOT,spot,BTC,,,,1\n"                              // 0
    "BTC-PERP,perpetual,BTC,,,,1\n"                         // 1
    "BTC-FUT,future,BTC,,2026-12-25T08:00:00Z,,1\n"         // 2
    "BTC-C,option,BTC,90000,2026-12-25T08:00:00Z,call,1\n"  // 3
    "ETH-P,option,ETH,3000,2026-12-25T08:00:00Z,put,10\n";  // 4
const char* const accounts_csv = "account_id,collateral\nA,100000\n";
const char* const positions_csv =
    "account_id,instrument_id,quantity,entry_price\nA,BTC-FUT,1,90000\nA,BTC-C,-2,\n";
const char* const risk_json = "{\"scenarios\": 100}\n";

// Line 8 is the first slice, 9 the second.
std::string market_with_surface(const std::string& slices) {
  return "{\n"
         "  \"as_of\": \"2026-11-24T08:00:00Z\",\n"
         "  \"underlyings\": [\n"
         "    {\"symbol\": \"BTC\", \"spot\": 91000, \"vol\": 0.55},\n"
         "    {\"symbol\": \"ETH\", \"spot\": 3100, \"vol\": 0.7}\n"
         "  ],\n"
         "  \"surface\": {\"BTC\": [\n" +
         slices + "\n  ]}\n}\n";
}
const std::string good_slices =
    "    {\"expiry\": \"2026-12-25T08:00:00Z\", \"a\": 0.02, \"b\": 0.1, \"rho\": -0.3, \"m\": 0, "
    "\"sigma\": 0.2},\n"
    "    {\"expiry\": 1806048000000, \"a\": 0.05, \"b\": 0.12, \"rho\": -0.25, \"m\": 0.02, "
    "\"sigma\": 0.3}";

std::vector<std::string> problems_of(const std::function<void()>& load) {
  std::vector<std::string> lines;
  try {
    load();
  } catch (const input_error& e) {
    for (const input_problem& p : e.problems()) lines.push_back(p.to_string());
  }
  return lines;
}

std::string joined(const std::vector<std::string>& lines) {
  std::string all;
  for (const std::string& l : lines) all += "  " + l + "\n";
  return all;
}

class market_inputs : public ::testing::Test {
 protected:
  void SetUp() override {
    write_file(dir_ / "instruments.csv", instruments_csv);
    write_file(dir_ / "accounts.csv", accounts_csv);
    write_file(dir_ / "positions.csv", positions_csv);
    write_file(dir_ / "market.json", market_with_surface(good_slices));
    write_file(dir_ / "risk.json", risk_json);
  }
  book_inputs load() const { return load_book_inputs(book_paths::in_directory(dir_.path())); }
  std::vector<std::string> problems() const {
    return problems_of([&] { load(); });
  }
  // Expects exactly one problem line, equal to `expected` after the directory's path.
  void expect_only(const std::string& expected) const {
    const std::vector<std::string> lines = problems();
    ASSERT_EQ(lines.size(), 1u) << joined(lines);
    EXPECT_EQ(lines[0], (dir_ / expected).string()) << joined(lines);
  }
  void expect_line(const std::string& expected) const {
    const std::vector<std::string> lines = problems();
    for (const std::string& l : lines)
      if (l == (dir_ / expected).string()) return;
    ADD_FAILURE() << "no line " << expected << "; got:\n" << joined(lines);
  }
  temp_dir dir_;
};

// --- market.json: surface -------------------------------------------------------------------

TEST_F(market_inputs, a_surface_loads_per_underlying_in_market_order) {
  const book_inputs in = load();
  ASSERT_EQ(in.market.surface.size(), 2u);
  ASSERT_EQ(in.market.surface.at(0).size(), 2u);
  EXPECT_TRUE(in.market.surface.at(1).empty());  // ETH has none
  const svi_slice& s0 = in.market.surface.at(0)[0];
  std::int64_t expiry = 0;
  ASSERT_EQ(parse_timestamp("2026-12-25T08:00:00Z", expiry), "");
  EXPECT_EQ(s0.expiry_ns, expiry);
  EXPECT_EQ(s0.a, 0.02);
  EXPECT_EQ(s0.b, 0.1);
  EXPECT_EQ(s0.rho, -0.3);
  EXPECT_EQ(s0.m, 0.0);
  EXPECT_EQ(s0.sigma, 0.2);
  const svi_slice& s1 = in.market.surface.at(0)[1];
  EXPECT_EQ(s1.expiry_ns, 1806048000000LL * 1'000'000);  // epoch milliseconds, as as_of
  EXPECT_EQ(s1.a, 0.05);
  EXPECT_EQ(s1.sigma, 0.3);
  // Without the key, no surface at all.
  write_file(dir_ / "market.json",
             "{\"as_of\": \"2026-11-24T08:00:00Z\", \"underlyings\": [{\"symbol\": \"BTC\", "
             "\"spot\": 1, \"vol\": 0.5}, {\"symbol\": \"ETH\", \"spot\": 1, \"vol\": 0.5}]}");
  EXPECT_TRUE(load().market.surface.empty());
}

TEST_F(market_inputs, a_slice_that_is_not_raw_svi_names_the_parameter) {
  const std::string first =
      "    {\"expiry\": \"2026-12-25T08:00:00Z\", \"a\": 0.02, \"b\": 0.1, \"rho\": -0.3, \"m\": "
      "0, "
      "\"sigma\": 0.2},\n";
  auto second = [](const std::string& a, const std::string& b, const std::string& rho,
                   const std::string& sigma) {
    return "    {\"expiry\": \"2027-03-26T08:00:00Z\", \"a\": " + a + ", \"b\": " + b +
           ", \"rho\": " + rho + ", \"m\": 0, \"sigma\": " + sigma + "}";
  };
  write_file(dir_ / "market.json",
             market_with_surface(first + second("0.02", "0.1", "1.2", "0.2")));
  expect_only("market.json:9: column 'surface.BTC[1].rho': rho must be within (-1, 1), got 1.2");
  write_file(dir_ / "market.json", market_with_surface(first + second("0.02", "-0.1", "0", "0.2")));
  expect_only("market.json:9: column 'surface.BTC[1].b': b must be within [0, 100], got -0.1");
  write_file(dir_ / "market.json", market_with_surface(first + second("0.02", "0.1", "0", "0")));
  expect_only("market.json:9: column 'surface.BTC[1].sigma': sigma must be within (0, 10], got 0");
  // a + b sigma sqrt(1 - rho^2) = -0.1 + 0.1 * 0.2 = -0.08: the slice, not one parameter.
  write_file(dir_ / "market.json", market_with_surface(first + second("-0.1", "0.1", "0", "0.2")));
  expect_only(
      "market.json:9: column 'surface.BTC[1]': the minimum total variance a + b sigma sqrt(1 - "
      "rho^2) must be > 0, got -0.08");
}

TEST_F(market_inputs, slice_keys_are_all_required_and_none_unknown) {
  write_file(dir_ / "market.json",
             market_with_surface(
                 "    {\"expiry\": \"2026-12-25T08:00:00Z\", \"a\": 0.02, \"b\": "
                 "0.1, \"rho\": -0.3, \"sigma\": 0.2, \"nu\": 1},\n"
                 "    {\"expiry\": \"2027-13-01T00:00:00Z\", \"a\": \"x\", \"b\": 0.1, \"rho\": "
                 "0, \"m\": 0, \"sigma\": 0.2},\n"
                 "    3"));
  const std::vector<std::string> lines = problems();
  EXPECT_EQ(lines.size(), 5u) << joined(lines);
  expect_line(
      "market.json:8: column 'surface.BTC[0].nu': unknown key (a typo would silently use a "
      "default)");
  expect_line("market.json:8: column 'surface.BTC[0].m': missing required key");
  expect_line("market.json:9: column 'surface.BTC[1].a': expected a number, got \"x\"");
  const std::vector<std::string> all = problems();
  bool expiry_named = false;
  for (const std::string& l : all)
    expiry_named = expiry_named || l.find("column 'surface.BTC[1].expiry'") != std::string::npos;
  EXPECT_TRUE(expiry_named) << joined(all);
  expect_line(
      "market.json:10: column 'surface.BTC[2]': expected a slice {\"expiry\", \"a\", \"b\", "
      "\"rho\", \"m\", \"sigma\"}");
}

TEST_F(market_inputs, expiries_must_increase_strictly) {
  write_file(dir_ / "market.json",
             market_with_surface(
                 "    {\"expiry\": \"2027-03-26T08:00:00Z\", \"a\": 0.02, \"b\": 0.1, \"rho\": 0, "
                 "\"m\": 0, \"sigma\": 0.2},\n"
                 "    {\"expiry\": \"2026-12-25T08:00:00Z\", \"a\": 0.02, \"b\": 0.1, \"rho\": 0, "
                 "\"m\": 0, \"sigma\": 0.2}"));
  expect_only(
      "market.json:9: column 'surface.BTC[1].expiry': expiries out of order: 2026-12-25T08:00:00Z "
      "is not after the previous slice's 2027-03-26T08:00:00Z");
  // The same expiry twice is out of order too.
  write_file(dir_ / "market.json",
             market_with_surface(
                 "    {\"expiry\": \"2027-03-26T08:00:00Z\", \"a\": 0.02, \"b\": 0.1, \"rho\": 0, "
                 "\"m\": 0, \"sigma\": 0.2},\n"
                 "    {\"expiry\": 1806048000000, \"a\": 0.02, \"b\": 0.1, \"rho\": 0, "
                 "\"m\": 0, \"sigma\": 0.2}"));
  const std::vector<std::string> lines = problems();
  ASSERT_EQ(lines.size(), 1u) << joined(lines);
  EXPECT_NE(lines[0].find("'surface.BTC[1].expiry': expiries out of order"), std::string::npos);
}

TEST_F(market_inputs, a_surface_names_underlyings_of_the_market_and_is_bounded) {
  std::string market = market_with_surface(good_slices);
  const std::string btc = "\"surface\": {\"BTC\"";
  market.replace(market.find(btc), btc.size(), "\"surface\": {\"DOGE\"");
  write_file(dir_ / "market.json", market);
  expect_only("market.json:7: column 'surface.DOGE': 'DOGE' is not an underlying of market.json");

  write_file(dir_ / "market.json", market_with_surface(""));
  expect_only("market.json:7: column 'surface.BTC': expected a non-empty array of SVI slices");

  std::string many;
  for (std::size_t j = 0; j <= max_surface_slices; ++j)
    many += std::string(j ? ",\n" : "") + "    {\"expiry\": " +
            std::to_string(1800000000000LL + static_cast<long long>(j) * 86400000LL) +
            ", \"a\": 0.02, \"b\": 0.1, \"rho\": 0, \"m\": 0, \"sigma\": 0.2}";
  write_file(dir_ / "market.json", market_with_surface(many));
  expect_only("market.json:7: column 'surface.BTC': at most 1000 slices, got 1001");

  write_file(dir_ / "market.json",
             "{\"as_of\": \"2026-11-24T08:00:00Z\", \"underlyings\": [{\"symbol\": \"BTC\", "
             "\"spot\": 1, \"vol\": 0.5}, {\"symbol\": \"ETH\", \"spot\": 1, \"vol\": 0.5}],\n"
             "\"surface\": [1]}");
  expect_only(
      "market.json:2: column 'surface': expected an object from underlying symbol to a list of "
      "SVI slices, got [1]");
}

// --- risk.json: the model's keys ------------------------------------------------------------

TEST_F(market_inputs, risk_model_keys_have_defaults_and_bounds) {
  const risk_params defaults = load().risk;
  EXPECT_TRUE(defaults.liquidity_addon);
  EXPECT_EQ(defaults.vol_term_reference_days, 30.0);
  EXPECT_EQ(defaults.vol_term_exponent, 0.0);
  EXPECT_EQ(defaults.recovery_band, 0.02);

  write_file(dir_ / "risk.json",
             "{\"liquidity_addon\": false, \"vol_term_reference_days\": 3650, "
             "\"vol_term_exponent\": 2, \"recovery_band\": 0}");
  const risk_params r = load().risk;
  EXPECT_FALSE(r.liquidity_addon);
  EXPECT_EQ(r.vol_term_reference_days, 3650.0);
  EXPECT_EQ(r.vol_term_exponent, 2.0);
  EXPECT_EQ(r.recovery_band, 0.0);

  write_file(dir_ / "risk.json",
             "{\n  \"liquidity_addon\": 1,\n  \"vol_term_reference_days\": 0,\n"
             "  \"vol_term_exponent\": 2.5,\n  \"recovery_band\": 1\n}\n");
  const std::vector<std::string> lines = problems();
  EXPECT_EQ(lines.size(), 4u) << joined(lines);
  expect_line("risk.json:2: column 'liquidity_addon': expected true or false, got 1");
  expect_line("risk.json:3: column 'vol_term_reference_days': must be within (0, 3650], got 0");
  expect_line("risk.json:4: column 'vol_term_exponent': must be within [0, 2], got 2.5");
  expect_line("risk.json:5: column 'recovery_band': must be within [0, 1), got 1");
  write_file(dir_ / "risk.json",
             "{\"vol_term_exponent\": -0.1, \"vol_term_reference_days\": 3651}");
  EXPECT_EQ(problems().size(), 2u) << joined(problems());
}

// --- marks.csv ------------------------------------------------------------------------------

TEST_F(market_inputs, without_marks_the_lists_stay_empty) {
  const book_inputs in = load();
  EXPECT_TRUE(in.market.mark_price.empty());
  EXPECT_TRUE(in.market.mark_iv.empty());
  EXPECT_TRUE(in.market.settlement_price.empty());
}

TEST_F(market_inputs, marks_load_per_instrument_with_nan_where_not_given) {
  write_file(dir_ / "marks.csv",
             "instrument_id,mark_price,mark_iv,settlement_price,note\n"
             "BTC-FUT,91450.5,,90990,ignored\n"
             "ETH-P,,0.8,,\n"
             "BTC-C,,,,\n");  // a row that gives nothing
  const book_inputs in = load();
  const market_state& m = in.market;
  ASSERT_EQ(m.mark_price.size(), 5u);
  ASSERT_EQ(m.mark_iv.size(), 5u);
  ASSERT_EQ(m.settlement_price.size(), 5u);
  EXPECT_EQ(m.mark_price.at(2), 91450.5);
  EXPECT_EQ(m.settlement_price.at(2), 90990.0);
  EXPECT_EQ(m.mark_iv.at(4), 0.8);
  for (std::size_t i : {0u, 1u, 3u, 4u}) EXPECT_TRUE(std::isnan(m.mark_price.at(i))) << i;
  for (std::size_t i : {0u, 1u, 2u, 3u}) EXPECT_TRUE(std::isnan(m.mark_iv.at(i))) << i;
  for (std::size_t i : {0u, 1u, 3u, 4u}) EXPECT_TRUE(std::isnan(m.settlement_price.at(i))) << i;
  // Only the column given: the other lists are still one per instrument, all NaN.
  write_file(dir_ / "marks.csv", "mark_iv,instrument_id\n0.61,BTC-C\n");
  const market_state only = load().market;
  ASSERT_EQ(only.mark_price.size(), 5u);
  EXPECT_EQ(only.mark_iv.at(3), 0.61);
  EXPECT_TRUE(std::isnan(only.mark_price.at(2)));
}

TEST_F(market_inputs, a_mark_for_a_kind_that_does_not_use_it_is_bad_input) {
  write_file(dir_ / "marks.csv",
             "instrument_id,mark_price,mark_iv,settlement_price\n"
             "BTC-PERP,91000,,\n"
             "BTC-FUT,,0.5,\n"
             "BTC-C,90000,,\n"
             "BTC-SPOT,,,91000\n"
             "BTC-PERP,,,91000\n");
  const std::vector<std::string> lines = problems();
  EXPECT_EQ(lines.size(), 5u) << joined(lines);
  expect_line("marks.csv:2: column 'mark_price': for futures only; 'BTC-PERP' is a perpetual");
  expect_line("marks.csv:3: column 'mark_iv': for options only; 'BTC-FUT' is a future");
  expect_line("marks.csv:4: column 'mark_price': for futures only; 'BTC-C' is an option");
  expect_line(
      "marks.csv:5: column 'settlement_price': for futures and options only; 'BTC-SPOT' is a "
      "spot instrument");
  expect_line("marks.csv:6: column 'instrument_id': 'BTC-PERP' appears twice (first on line 2)");
}

TEST_F(market_inputs, marks_out_of_bounds_and_unknown_instruments_are_bad_input) {
  write_file(dir_ / "marks.csv",
             "instrument_id,mark_price,mark_iv,settlement_price\n"
             "BTC-FUT,0,,\n"
             "BTC-C,,10.5,-1\n"
             "ETH-P,,nan,\n"
             "DOGE-X,1,,\n"
             ",1,,\n"
             "BTC-FUT,1e13,,\n");
  const std::vector<std::string> lines = problems();
  EXPECT_EQ(lines.size(), 7u) << joined(lines);
  expect_line("marks.csv:2: column 'mark_price': must be within (0, 1e12], got 0");
  expect_line("marks.csv:3: column 'mark_iv': must be within (0, 10], got 10.5");
  expect_line("marks.csv:3: column 'settlement_price': must be within (0, 1e12], got -1");
  expect_line(
      "marks.csv:5: column 'instrument_id': 'DOGE-X' is not an instrument in instruments.csv");
  expect_line("marks.csv:6: column 'instrument_id': empty id");
  expect_line("marks.csv:7: column 'instrument_id': 'BTC-FUT' appears twice (first on line 2)");
  bool nan_named = false;
  for (const std::string& l : lines)
    nan_named = nan_named || l.rfind((dir_ / "marks.csv:4: column 'mark_iv': ").string(), 0) == 0;
  EXPECT_TRUE(nan_named) << joined(lines);
}

TEST_F(market_inputs, a_marks_file_needs_its_id_column_and_a_value_column) {
  write_file(dir_ / "marks.csv", "instrument,mark_iv\nBTC-C,0.5\n");
  expect_only("marks.csv:1: column 'instrument_id': missing required column");
  write_file(dir_ / "marks.csv", "instrument_id,iv\nBTC-C,0.5\n");
  expect_only(
      "marks.csv:1: no mark_price, mark_iv or settlement_price column: the file gives no mark");
  write_file(dir_ / "marks.csv", "");
  expect_only("marks.csv: empty file: expected a header row");
}

TEST_F(market_inputs, marks_are_read_only_once_the_book_files_are_sound) {
  write_file(dir_ / "marks.csv", "instrument_id,mark_iv\nBTC-C,0.5\n");
  write_file(dir_ / "instruments.csv", std::string(instruments_csv) + "X,swap,BTC,,,,1\n");
  const std::vector<std::string> lines = problems();
  ASSERT_EQ(lines.size(), 1u) << joined(lines);
  EXPECT_NE(lines[0].find("instruments.csv:7: column 'kind'"), std::string::npos);
}

TEST_F(market_inputs, a_marks_file_option_must_exist_and_replaces_the_books) {
  write_file(dir_ / "marks.csv", "instrument_id,mark_iv\nBTC-C,0.5\n");
  write_file(dir_ / "other.csv", "instrument_id,mark_iv\nBTC-C,0.7\n");
  book_location where;
  where.book = dir_.path();
  where.marks = dir_ / "other.csv";
  EXPECT_EQ(load_book_at(where).market.mark_iv.at(3), 0.7);
  where.marks = dir_ / "missing.csv";
  const std::vector<std::string> lines = problems_of([&] { load_book_at(where); });
  ASSERT_EQ(lines.size(), 1u) << joined(lines);
  EXPECT_EQ(lines[0], (dir_ / "missing.csv").string() + ": file not found");
  // A marks.csv in the book that is not a file is reported, not skipped.
  std::filesystem::remove(dir_ / "marks.csv");
  std::filesystem::create_directory(dir_ / "marks.csv");
  expect_only("marks.csv: is a directory, expected a file");
}

// --- snapshot -------------------------------------------------------------------------------

TEST_F(market_inputs, a_snapshot_keeps_surface_and_marks) {
  write_file(dir_ / "marks.csv",
             "instrument_id,mark_price,mark_iv,settlement_price\nBTC-FUT,91450.5,,90990\n"
             "ETH-P,,0.8,\n");
  const book_inputs csv = load();
  const std::filesystem::path file = dir_ / "book.msb";
  convert_book_directory(book_paths::in_directory(dir_.path()), file);
  book_location where;
  where.book = file;
  const book_inputs snap = load_book_at(where);
  ASSERT_EQ(snap.market.surface.size(), csv.market.surface.size());
  ASSERT_EQ(snap.market.surface.at(0).size(), 2u);
  for (std::size_t j = 0; j < 2; ++j) {
    const svi_slice &a = csv.market.surface.at(0)[j], &b = snap.market.surface.at(0)[j];
    EXPECT_EQ(a.expiry_ns, b.expiry_ns);
    EXPECT_EQ(a.a, b.a);
    EXPECT_EQ(a.b, b.b);
    EXPECT_EQ(a.rho, b.rho);
    EXPECT_EQ(a.m, b.m);
    EXPECT_EQ(a.sigma, b.sigma);
  }
  auto same = [](const std::vector<double>& x, const std::vector<double>& y) {
    if (x.size() != y.size()) return false;
    for (std::size_t i = 0; i < x.size(); ++i)
      if (!(x[i] == y[i] || (std::isnan(x[i]) && std::isnan(y[i])))) return false;
    return true;
  };
  EXPECT_EQ(snap.market.mark_price.size(), 5u);
  EXPECT_TRUE(same(snap.market.mark_price, csv.market.mark_price));
  EXPECT_TRUE(same(snap.market.mark_iv, csv.market.mark_iv));
  EXPECT_TRUE(same(snap.market.settlement_price, csv.market.settlement_price));
  EXPECT_EQ(snap.market.mark_iv.at(4), 0.8);

  // --marks-file replaces the snapshot's copy, and is checked against its instruments.
  write_file(dir_ / "other.csv", "instrument_id,mark_iv\nBTC-C,0.7\n");
  where.marks = dir_ / "other.csv";
  const book_inputs replaced = load_book_at(where);
  EXPECT_EQ(replaced.market.mark_iv.at(3), 0.7);
  EXPECT_TRUE(std::isnan(replaced.market.mark_iv.at(4)));
  write_file(dir_ / "other.csv", "instrument_id,mark_iv\nBTC-FUT,0.7\n");
  const std::vector<std::string> lines = problems_of([&] { load_book_at(where); });
  ASSERT_EQ(lines.size(), 1u) << joined(lines);
  EXPECT_EQ(lines[0], (dir_ / "other.csv").string() +
                          ":2: column 'mark_iv': for options only; 'BTC-FUT' is a future");

  // A book without marks: a snapshot without them.
  std::filesystem::remove(dir_ / "marks.csv");
  convert_book_directory(book_paths::in_directory(dir_.path()), file);
  where.marks.reset();
  EXPECT_TRUE(load_book_at(where).market.mark_iv.empty());
}

TEST_F(market_inputs, a_snapshot_of_another_format_version_says_to_convert_again) {
  const std::filesystem::path file = dir_ / "book.msb";
  convert_book_directory(book_paths::in_directory(dir_.path()), file);
  std::string bytes = test::read_file(file);
  ASSERT_EQ(bytes[8], 3);
  bytes[8] = 2;  // version 2: sections on 8-byte boundaries, not usable in place
  write_file(file, bytes);
  book_location where;
  where.book = file;
  const std::vector<std::string> lines = problems_of([&] { load_book_at(where); });
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0], file.string() +
                          ": not a valid marginsync book snapshot: format version 2 (written by "
                          "an older marginsync), this marginsync reads version 3: convert the "
                          "book again from its directory");
  bytes[8] = 4;
  write_file(file, bytes);
  const std::vector<std::string> newer = problems_of([&] { load_book_at(where); });
  ASSERT_EQ(newer.size(), 1u);
  EXPECT_NE(newer[0].find("format version 4 (written by a newer marginsync)"), std::string::npos);
}

// --- depth file -----------------------------------------------------------------------------

TEST_F(market_inputs, a_depth_file_sets_y_and_v_per_underlying) {
  write_file(dir_ / "risk.json", "{\"impact_coefficient\": 0.7, \"daily_volume\": 5e8}");
  write_file(dir_ / "depth.csv", "underlying,daily_volume,impact_coefficient\nETH,2.5e9,0.4\n");
  book_location where;
  where.book = dir_.path();
  EXPECT_TRUE(load_book_at(where).risk.underlying_daily_volume.empty());  // no --depth
  where.depth = dir_ / "depth.csv";
  const risk_params r = load_book_at(where).risk;
  ASSERT_EQ(r.underlying_daily_volume.size(), 2u);
  ASSERT_EQ(r.underlying_impact_coefficient.size(), 2u);
  EXPECT_EQ(r.daily_volume_of(0), 5e8);  // BTC: risk.json's
  EXPECT_EQ(r.impact_coefficient_of(0), 0.7);
  EXPECT_EQ(r.daily_volume_of(1), 2.5e9);
  EXPECT_EQ(r.impact_coefficient_of(1), 0.4);
  // An empty impact_coefficient keeps risk.json's.
  write_file(dir_ / "depth.csv", "underlying,daily_volume,impact_coefficient\nETH,2.5e9,\n");
  EXPECT_EQ(load_book_at(where).risk.impact_coefficient_of(1), 0.7);
  // On a snapshot too.
  convert_book_directory(book_paths::in_directory(dir_.path()), dir_ / "book.msb");
  where.book = dir_ / "book.msb";
  EXPECT_EQ(load_book_at(where).risk.daily_volume_of(1), 2.5e9);
}

TEST_F(market_inputs, a_bad_depth_file_names_file_line_and_column) {
  write_file(dir_ / "depth.csv",
             "underlying,daily_volume,impact_coefficient\n"
             "DOGE,1e9,\n"
             "BTC,0.5,\n"
             "ETH,1e9,101\n"
             "ETH,1e9,\n");
  book_location where;
  where.book = dir_.path();
  where.depth = dir_ / "depth.csv";
  const std::vector<std::string> lines = problems_of([&] { load_book_at(where); });
  const std::string f = (dir_ / "depth.csv").string();
  ASSERT_EQ(lines.size(), 4u) << joined(lines);
  EXPECT_EQ(lines[0], f + ":2: column 'underlying': unknown underlying 'DOGE'");
  EXPECT_EQ(lines[1], f + ":3: column 'daily_volume': must be within [1, 1e15], got 0.5");
  EXPECT_EQ(lines[2], f + ":4: column 'impact_coefficient': must be within [0, 100], got 101");
  EXPECT_EQ(lines[3], f + ":5: column 'underlying': 'ETH' appears twice (first on line 4)");
  where.depth = dir_ / "none.csv";
  const std::vector<std::string> missing = problems_of([&] { load_book_at(where); });
  ASSERT_EQ(missing.size(), 1u);
  EXPECT_EQ(missing[0], (dir_ / "none.csv").string() + ": file not found");
  write_file(dir_ / "depth.csv", "symbol,daily_volume\nBTC,1e9\n");
  where.depth = dir_ / "depth.csv";
  const std::vector<std::string> header = problems_of([&] { load_book_at(where); });
  ASSERT_EQ(header.size(), 1u);
  EXPECT_EQ(header[0], f + ":1: column 'underlying': missing required column");
}

// The fuzz seeds for marks and surfaces are good inputs: the fuzz targets then start from files
// that load all the way.
TEST(market_inputs_seeds, the_fuzz_seeds_load) {
  problem_list problems;
  const market_state m =
      load_market(test::source_dir() / "fuzz" / "seeds" / "market_surface.json", problems);
  EXPECT_TRUE(problems.empty());
  ASSERT_EQ(m.surface.size(), 2u);
  EXPECT_EQ(m.surface.at(0).size(), 2u);
  const book_inputs sample = load_book_inputs(book_paths::in_directory(test::sample_book()));
  market_state marked = sample.market;
  problems = problem_list();
  load_marks(test::source_dir() / "fuzz" / "seeds" / "marks.csv", sample.positions.instruments,
             marked, problems);
  EXPECT_TRUE(problems.empty());
  EXPECT_EQ(marked.mark_iv.size(), sample.positions.instruments.size());
}

}  // namespace
}  // namespace msync
