// docs/design.md section 5: every malformed input stops the run before computation with
// FILE:LINE: column 'NAME': reason. One case per rule, each breaking one file of a valid book.
#include <gtest/gtest.h>

#include "io/load_inputs.hpp"
#include "marginsync/errors.hpp"
#include "test_support.hpp"

namespace msync {
namespace {

using test::temp_dir;
using test::write_file;

class validation : public ::testing::Test {
 protected:
  void SetUp() override { test::copy_sample_book(dir_.path()); }

  // Loads the book and expects a problem in `file` at `line` naming `column` whose reason contains
  // `reason`. Returns all problems for further checks.
  std::vector<input_problem> expect_problem(const std::string& file, long line,
                                            const std::string& column, const std::string& reason) {
    try {
      load_book_inputs(book_paths::in_directory(dir_.path()));
    } catch (const input_error& e) {
      for (const input_problem& p : e.problems()) {
        if (std::filesystem::path(p.file).filename() == file && p.line == line &&
            p.column == column && p.reason.find(reason) != std::string::npos)
          return e.problems();
      }
      std::string all;
      for (const input_problem& p : e.problems()) all += "  " + p.to_string() + "\n";
      ADD_FAILURE() << "no problem " << file << ":" << line << " '" << column << "' ~ '" << reason
                    << "'; got:\n"
                    << all;
      return e.problems();
    }
    ADD_FAILURE() << "the book loaded without error; expected " << file << ":" << line << " "
                  << column;
    return {};
  }

  void replace_line(const std::string& file, int line, const std::string& text) {
    std::istringstream in(test::read_file(dir_ / file));
    std::string out, l;
    for (int n = 1; std::getline(in, l); ++n) out += (n == line ? text : l) + "\n";
    write_file(dir_ / file, out);
  }
  void append_line(const std::string& file, const std::string& text) {
    write_file(dir_ / file, test::read_file(dir_ / file) + text + "\n");
  }

  temp_dir dir_;
};

TEST_F(validation, sample_book_is_valid) {
  const book_inputs in = load_book_inputs(book_paths::in_directory(dir_.path()));
  EXPECT_EQ(in.positions.accounts(), 11u);
  EXPECT_EQ(in.positions.position_rows, 17u);
  EXPECT_EQ(in.positions.positions(), 16u);  // the two BTC-PERP rows of one account merge
}

// An id echoed in a problem is cut like any quoted input (80 bytes, then its length): a 10 MB
// cell must not become a 10 MB error line.
TEST_F(validation, an_unknown_id_is_quoted_cut_to_80_bytes) {
  const std::string id(5000, 'x');
  append_line("positions.csv", id + ",BTC-PERP,1,91000");
  const auto problems = expect_problem("positions.csv", 19, "account_id", "(5000 bytes)");
  for (const input_problem& p : problems) EXPECT_LT(p.to_string().size(), 400u) << p.to_string();
}

TEST_F(validation, missing_file) {
  std::filesystem::remove(dir_ / "accounts.csv");
  expect_problem("accounts.csv", 0, "", "file not found");
}

TEST_F(validation, missing_column) {
  replace_line("positions.csv", 1, "account_id,instrument_id,qty,entry_price");
  expect_problem("positions.csv", 1, "quantity", "missing required column");
}

TEST_F(validation, unparsable_number) {
  replace_line("positions.csv", 2, "hedged_basis,BTC-SPOT,1x,");
  expect_problem("positions.csv", 2, "quantity", "'1x' is not a number");
}

TEST_F(validation, nan_and_infinity) {
  replace_line("accounts.csv", 2, "hedged_basis,nan,standard");
  replace_line("accounts.csv", 3, "short_option_seller,inf,standard");
  expect_problem("accounts.csv", 2, "collateral", "not a number");
  expect_problem("accounts.csv", 3, "collateral", "not a number");
}

TEST_F(validation, number_out_of_range) {
  replace_line("accounts.csv", 2, "hedged_basis,1e999,standard");
  expect_problem("accounts.csv", 2, "collateral", "out of range");
}

TEST_F(validation, unparsable_timestamp) {
  replace_line("instruments.csv", 4, "BTC-20261225,future,BTC,,2026-12-25,,1");
  expect_problem("instruments.csv", 4, "expiry", "not a timestamp");
  replace_line("instruments.csv", 4, "BTC-20261225,future,BTC,,2026-02-30T08:00:00Z,,1");
  expect_problem("instruments.csv", 4, "expiry", "not a valid date");
  replace_line("instruments.csv", 4, "BTC-20261225,future,BTC,,2026-12-25T08:00:00+02:00,,1");
  expect_problem("instruments.csv", 4, "expiry", "must be UTC");
}

TEST_F(validation, duplicate_ids) {
  append_line("instruments.csv", "BTC-SPOT,spot,BTC,,,,1");
  expect_problem("instruments.csv", 14, "instrument_id", "duplicate id 'BTC-SPOT'");
  append_line("accounts.csv", "flat,1,standard");
  expect_problem("accounts.csv", 13, "account_id", "duplicate id 'flat'");
}

TEST_F(validation, unknown_references) {
  append_line("positions.csv", "nobody,BTC-SPOT,1,");
  append_line("positions.csv", "flat,NO-SUCH,1,");
  expect_problem("positions.csv", 19, "account_id", "'nobody' is not an account");
  expect_problem("positions.csv", 20, "instrument_id", "'NO-SUCH' is not an instrument");
  append_line("instruments.csv", "SOL-SPOT,spot,SOL,,,,1");
  expect_problem("instruments.csv", 14, "underlying", "'SOL' is not an underlying");
}

TEST_F(validation, kinds_and_option_types) {
  append_line("instruments.csv", "X1,swap,BTC,,,,1");
  append_line("instruments.csv", "X2,option,BTC,90000,2026-12-25T08:00:00Z,straddle,1");
  append_line("instruments.csv", "X3,option,BTC,90000,2026-12-25T08:00:00Z,,1");
  append_line("instruments.csv", "X4,perpetual,BTC,90000,,,1");
  expect_problem("instruments.csv", 14, "kind", "'swap' is not one of");
  expect_problem("instruments.csv", 15, "option_type", "'straddle' is not call or put");
  expect_problem("instruments.csv", 16, "option_type", "required for options");
  expect_problem("instruments.csv", 17, "strike", "must be empty for kind 'perpetual'");
}

TEST_F(validation, strikes_and_multipliers_must_be_positive) {
  append_line("instruments.csv", "X1,option,BTC,0,2026-12-25T08:00:00Z,call,1");
  append_line("instruments.csv", "X2,option,BTC,-5,2026-12-25T08:00:00Z,call,1");
  append_line("instruments.csv", "X3,spot,BTC,,,,0");
  append_line("instruments.csv", "X4,option,BTC,,2026-12-25T08:00:00Z,call,1");
  append_line("instruments.csv", "X5,future,BTC,,,,1");
  expect_problem("instruments.csv", 14, "strike", "must be > 0");
  expect_problem("instruments.csv", 15, "strike", "must be > 0");
  expect_problem("instruments.csv", 16, "multiplier", "must be > 0");
  expect_problem("instruments.csv", 17, "strike", "required for options");
  expect_problem("instruments.csv", 18, "expiry", "required for futures and options");
}

TEST_F(validation, entry_price_required_for_perpetuals_and_futures) {
  replace_line("positions.csv", 3, "hedged_basis,BTC-PERP,-1,");
  expect_problem("positions.csv", 3, "entry_price", "required for perpetuals and futures");
}

TEST_F(validation, rows_with_the_wrong_field_count) {
  replace_line("positions.csv", 2, "hedged_basis,BTC-SPOT,1");
  expect_problem("positions.csv", 2, "", "row has 3 fields, the header has 4");
}

TEST_F(validation, unknown_tier) {
  replace_line("accounts.csv", 2, "hedged_basis,1000,gold");
  expect_problem("accounts.csv", 2, "tier", "'gold' is not a tier");
}

TEST_F(validation, spots_and_vols_must_be_positive) {
  std::string m = test::read_file(dir_ / "market.json");
  m.replace(m.find("\"spot\": 3100.0"), 14, "\"spot\": -3100.0");
  m.replace(m.find("\"vol\": 0.55"), 11, "\"vol\": 0.0");
  write_file(dir_ / "market.json", m);
  expect_problem("market.json", 6, "underlyings[1].spot", "must be > 0");
  expect_problem("market.json", 5, "underlyings[0].vol", "must be within (0, 10]");
}

// Rates have plausible ranges (docs/design.md 2.5): finite but absurd values made NaN and infinite
// equity, VaR and ES (dividend_yield -10000, rate 10000) or collateral (funding_rate 1e308).
TEST_F(validation, rates_and_funding_have_plausible_ranges) {
  const std::string base = test::read_file(dir_ / "market.json");
  auto with = [&](const std::string& from, const std::string& to) {
    std::string m = base;
    m.replace(m.find(from), from.size(), to);
    write_file(dir_ / "market.json", m);
  };
  with("\"rate\": 0.04", "\"rate\": 10000");
  expect_problem("market.json", 3, "rate", "must be within [-1, 1] (annual fraction), got 10000");
  with("\"rate\": 0.04", "\"rate\": -1.5");
  expect_problem("market.json", 3, "rate", "must be within [-1, 1]");
  with("\"dividend_yield\": 0.0", "\"dividend_yield\": -10000");
  expect_problem("market.json", 5, "underlyings[0].dividend_yield", "must be within [-1, 1]");
  with("\"funding_rate\": 0.00005", "\"funding_rate\": 1e308");
  expect_problem("market.json", 6, "underlyings[1].funding_rate",
                 "must be within [-0.1, 0.1] (per 8 hours)");
  with("\"funding_rate\": 0.00005", "\"funding_rate\": -0.11");
  expect_problem("market.json", 6, "underlyings[1].funding_rate", "must be within [-0.1, 0.1]");
  // The ends of the ranges are valid.
  std::string m = base;
  m.replace(m.find("\"rate\": 0.04"), 12, "\"rate\": -1");
  m.replace(m.find("\"dividend_yield\": 0.0"), 21, "\"dividend_yield\": 1");
  m.replace(m.find("\"funding_rate\": 0.00005"), 23, "\"funding_rate\": -0.1");
  write_file(dir_ / "market.json", m);
  EXPECT_NO_THROW(load_book_inputs(book_paths::in_directory(dir_.path())));
}

// Open bounds of risk.json closed (docs/design.md 2.6, 2.10).
TEST_F(validation, risk_parameters_have_upper_bounds) {
  write_file(dir_ / "risk.json",
             "{\n  \"degrees_of_freedom\": 1e300,\n  \"min_margin_rate\": 1e300,\n"
             "  \"deviation_threshold\": 1e300,\n  \"daily_volume\": 1e-300\n}\n");
  expect_problem("risk.json", 2, "degrees_of_freedom", "must be within (2, 1000]");
  expect_problem("risk.json", 3, "min_margin_rate", "must be within [0, 1]");
  expect_problem("risk.json", 4, "deviation_threshold", "must be within [0, 1e6]");
  expect_problem("risk.json", 5, "daily_volume", "must be within [1, 1e15]");
  write_file(dir_ / "risk.json",
             "{\"degrees_of_freedom\": 1000, \"min_margin_rate\": 1, \"deviation_threshold\": "
             "1e6, \"daily_volume\": 1, \"tiers\": {\"standard\": {}, \"vip\": {}, "
             "\"market_maker\": {}}}");
  EXPECT_NO_THROW(load_book_inputs(book_paths::in_directory(dir_.path())));
}

// One rule for ids in every reader (docs/design.md 2.1): UTF-8 text without control characters,
// reported as FILE:LINE: column. An account id with byte 0xFF was accepted and later killed a
// stream at its first JSON event.
TEST_F(validation, ids_must_be_utf8_text_without_control_characters) {
  replace_line("accounts.csv", 2, "hedged\xff_basis,1000,standard");
  replace_line("accounts.csv", 3, "short_option_seller,1000,std\x01");
  replace_line("instruments.csv", 2, "BTC-SPOT\x1b[31m,spot,BTC,,,,1");
  replace_line("instruments.csv", 3, "BTC-PERP,perpetual,B\xc3,,,,1");
  append_line("positions.csv", "flat\xed\xa0\x80,ETH-SPOT,1,");  // a UTF-16 surrogate
  append_line("positions.csv", "flat,ETH-SPOT\xc2\x85,1,");      // U+0085, a C1 control
  expect_problem("accounts.csv", 2, "account_id", "not valid UTF-8: byte 0xFF at offset 6");
  expect_problem("accounts.csv", 3, "tier", "control character U+0001 at offset 3");
  expect_problem("instruments.csv", 2, "instrument_id", "control character U+001B at offset 8");
  expect_problem("instruments.csv", 3, "underlying", "not valid UTF-8");
  expect_problem("positions.csv", 19, "account_id", "not valid UTF-8: byte 0xED at offset 4");
  expect_problem("positions.csv", 20, "instrument_id", "control character U+0085 at offset 8");
}

TEST_F(validation, symbols_and_tier_names_follow_the_id_rule) {
  std::string m = test::read_file(dir_ / "market.json");
  m.replace(m.find("\"symbol\": \"ETH\""), 15, "\"symbol\": \"ETH\\u0000\"");
  write_file(dir_ / "market.json", m);
  expect_problem("market.json", 6, "underlyings[1].symbol", "control character U+0000 at offset 3");
  test::copy_sample_book(dir_.path());
  write_file(dir_ / "risk.json", "{\n  \"tiers\": {\"vip\\u0085\": {\"im_multiplier\": 1}}\n}\n");
  expect_problem("risk.json", 2, "tiers.vip\xc2\x85",
                 "tier name not text: control character U+0085");
}

TEST_F(validation, correlation_must_be_a_correlation_matrix) {
  const std::string base = test::read_file(dir_ / "market.json");
  auto with = [&](const std::string& matrix) {
    std::string m = base;
    m.replace(m.find("[[1.0, 0.8], [0.8, 1.0]]"), 24, matrix);
    write_file(dir_ / "market.json", m);
  };
  with("[[1.0, 0.8], [0.7, 1.0]]");
  expect_problem("market.json", 8, "correlation[1][0]", "not symmetric");
  with("[[1.0, 0.8], [0.8, 0.9]]");
  expect_problem("market.json", 8, "correlation[1][1]", "diagonal must be 1");
  with("[[1.0, 1.5], [1.5, 1.0]]");
  expect_problem("market.json", 8, "correlation[0][1]", "within [-1, 1]");
  with("[[1.0, 0.8]]");
  expect_problem("market.json", 8, "correlation", "expected 2 rows");
}

TEST(correlation, not_positive_semidefinite_is_rejected_and_degenerate_is_accepted) {
  temp_dir dir;
  test::copy_sample_book(dir.path());
  // Three underlyings, pairwise correlations that no joint distribution can have.
  auto market = [&](const std::string& corr) {
    write_file(dir / "market.json",
               "{\"as_of\": \"2026-11-24T08:00:00Z\", \"underlyings\": [\n"
               "{\"symbol\": \"BTC\", \"spot\": 1, \"vol\": 0.5},\n"
               "{\"symbol\": \"ETH\", \"spot\": 1, \"vol\": 0.5},\n"
               "{\"symbol\": \"SOL\", \"spot\": 1, \"vol\": 0.5}],\n"
               "\"correlation\": " +
                   corr + "}\n");
  };
  market("[[1, 0.9, -0.9], [0.9, 1, 0.9], [-0.9, 0.9, 1]]");
  problem_list problems;
  load_market(dir / "market.json", problems);
  ASSERT_EQ(problems.size(), 1u);
  try {
    problems.throw_if_any();
  } catch (const input_error& e) {
    EXPECT_NE(e.problems()[0].reason.find("not positive semi-definite"), std::string::npos);
    EXPECT_EQ(e.problems()[0].line, 5);
  }
  // Perfect correlation is a valid (semi-definite) correlation matrix.
  market("[[1, 1, 0], [1, 1, 0], [0, 0, 1]]");
  problem_list ok;
  const market_state m = load_market(dir / "market.json", ok);
  EXPECT_TRUE(ok.empty());
  // L L^T reproduces the matrix.
  for (std::size_t i = 0; i < 3; ++i)
    for (std::size_t j = 0; j < 3; ++j) {
      double s = 0.0;
      for (std::size_t k = 0; k < 3; ++k) s += m.cholesky[i * 3 + k] * m.cholesky[j * 3 + k];
      EXPECT_NEAR(s, m.correlation[i * 3 + j], 1e-12);
    }
}

TEST_F(validation, risk_parameters) {
  write_file(dir_ / "risk.json",
             "{\n  \"confidence\": 1.0,\n  \"scenarios\": 0,\n  \"method\": \"exact\",\n"
             "  \"confidance\": 0.9,\n  \"degrees_of_freedom\": 2\n}\n");
  expect_problem("risk.json", 2, "confidence", "within (0, 1)");
  expect_problem("risk.json", 3, "scenarios", "must be within [1, 10000000]");
  expect_problem("risk.json", 4, "method", "'exact' is not one of 'full', 'delta_gamma'");
  expect_problem("risk.json", 5, "confidance", "unknown key");
  expect_problem("risk.json", 6, "degrees_of_freedom", "must be within (2, 1000]");
  write_file(dir_ / "risk.json", "{\"confidence\": 0}");
  expect_problem("risk.json", 1, "confidence", "within (0, 1)");
  write_file(dir_ / "risk.json", "{\"scenarios\": 2.5}");
  expect_problem("risk.json", 1, "scenarios", "expected a whole number");
}

TEST_F(validation, scenario_count_has_an_upper_bound) {
  write_file(dir_ / "risk.json", "{\"scenarios\": 6148914691236517206}");
  expect_problem("risk.json", 1, "scenarios", "must be within [1, 10000000]");
}

TEST_F(validation, duplicate_json_keys_are_rejected) {
  write_file(dir_ / "risk.json", "{\n  \"confidence\": 0.95,\n  \"confidence\": 0.99\n}\n");
  expect_problem("risk.json", 3, "confidence", "key appears more than once");
}

TEST_F(validation, timestamps_outside_the_supported_years) {
  replace_line("instruments.csv", 4, "BTC-20261225,future,BTC,,2600-12-25T08:00:00Z,,1");
  expect_problem("instruments.csv", 4, "expiry", "outside the supported years 1900 to 2149");
  replace_line("instruments.csv", 4, "BTC-20261225,future,BTC,,99999999999999,,1");
  expect_problem("instruments.csv", 4, "expiry", "outside the supported years");
}

TEST_F(validation, as_of_may_be_epoch_milliseconds) {
  std::string m = test::read_file(dir_ / "market.json");
  m.replace(m.find("\"2026-11-24T08:00:00Z\""), 22, "1795507200000");
  write_file(dir_ / "market.json", m);
  const book_inputs in = load_book_inputs(book_paths::in_directory(dir_.path()));
  EXPECT_EQ(in.market.as_of_ns, 1795507200000LL * 1'000'000);
  m.replace(m.find("1795507200000"), 13, "1.5");
  write_file(dir_ / "market.json", m);
  expect_problem("market.json", 2, "as_of", "expected a timestamp");
}

// Ids that need CSV quoting (with "" inside) survive across records: the id maps keep views of
// the unescaped text.
TEST_F(validation, quoted_ids_with_escaped_quotes) {
  write_file(dir_ / "accounts.csv",
             "account_id,collateral\n\"acct \"\"one\"\" with a long name\",100\n\"b\"\"2\",200\n");
  write_file(dir_ / "positions.csv",
             "account_id,instrument_id,quantity\n\"acct \"\"one\"\" with a long "
             "name\",BTC-SPOT,1\n\"b\"\"2\",ETH-SPOT,2\n");
  const book_inputs in = load_book_inputs(book_paths::in_directory(dir_.path()));
  ASSERT_EQ(in.positions.accounts(), 2u);
  EXPECT_EQ(in.positions.account_id[0], "acct \"one\" with a long name");
  EXPECT_EQ(in.positions.account_id[1], "b\"2");
  EXPECT_EQ(in.positions.positions(), 2u);
}

TEST_F(validation, missing_column_names_the_header_line) {
  write_file(dir_ / "accounts.csv", "\n\naccount_id,cash\nflat,1\n");
  const auto problems = expect_problem("accounts.csv", 3, "collateral", "missing required column");
  // positions.csv refers to accounts the broken file could not provide: not reported row by row.
  for (const input_problem& p : problems)
    EXPECT_EQ(p.file.find("positions.csv"), std::string::npos) << p.to_string();
}

TEST_F(validation, a_directory_is_not_a_file) {
  std::filesystem::remove(dir_ / "accounts.csv");
  std::filesystem::create_directory(dir_ / "accounts.csv");
  expect_problem("accounts.csv", 0, "", "is a directory");
}

// Limits far beyond any real book keep every product of inputs finite.
TEST_F(validation, magnitudes_are_bounded) {
  replace_line("positions.csv", 2, "hedged_basis,BTC-SPOT,2e12,");
  replace_line("accounts.csv", 2, "hedged_basis,-2e15,standard");
  append_line("instruments.csv", "X1,option,BTC,2e12,2026-12-25T08:00:00Z,call,1");
  append_line("instruments.csv", "X2,spot,BTC,,,,1e10");
  expect_problem("positions.csv", 2, "quantity", "within [-1e12, 1e12]");
  expect_problem("accounts.csv", 2, "collateral", "within [-1e15, 1e15]");
  expect_problem("instruments.csv", 14, "strike", "at most 1e12");
  expect_problem("instruments.csv", 15, "multiplier", "at most 1e9");
}

TEST_F(validation, invalid_json_names_the_line) {
  write_file(dir_ / "risk.json", "{\n  \"confidence\": 0.99,\n  \"scenarios\": ,\n}\n");
  expect_problem("risk.json", 3, "", "invalid JSON");
}

TEST_F(validation, every_problem_is_reported_at_once) {
  replace_line("positions.csv", 2, "hedged_basis,BTC-SPOT,abc,");
  replace_line("positions.csv", 4, "short_option_seller,NOPE,-10,");
  const auto problems = expect_problem("positions.csv", 2, "quantity", "not a number");
  EXPECT_EQ(problems.size(), 2u);
}

TEST(scenario_file, validation) {
  temp_dir dir;
  problem_list none;
  const market_state market = load_market(test::sample_book() / "market.json", none);
  ASSERT_TRUE(none.empty());
  write_file(dir / "s.csv",
             "scenario_id,underlying,spot_return,vol_change\n"
             "s1,BTC,-0.1,0.2\n"
             "s1,DOGE,-0.1,0.2\n"
             "s2,BTC,x,0\n"
             "s3,ETH,0.1,-1\n"
             "s1,BTC,0.1,0\n");
  try {
    load_scenario_file(dir / "s.csv", market);
    FAIL() << "expected an input_error";
  } catch (const input_error& e) {
    std::vector<std::string> lines;
    for (const auto& p : e.problems()) lines.push_back(p.to_string());
    ASSERT_EQ(lines.size(), 4u);
    EXPECT_NE(lines[0].find("s.csv:3: column 'underlying': 'DOGE' is not an underlying"),
              std::string::npos)
        << lines[0];
    EXPECT_NE(lines[1].find("s.csv:4: column 'spot_return'"), std::string::npos) << lines[1];
    EXPECT_NE(lines[2].find("s.csv:5: column 'vol_change': must be within (-1, 100]"),
              std::string::npos)
        << lines[2];
    EXPECT_NE(lines[3].find("s.csv:6: column 'underlying': scenario 's1' gives 'BTC' twice"),
              std::string::npos)
        << lines[3];
  }
}

TEST(scenario_file, returns_that_would_overflow_prices_are_rejected) {
  temp_dir dir;
  problem_list none;
  const market_state market = load_market(test::sample_book() / "market.json", none);
  write_file(dir / "s.csv", "scenario_id,underlying,spot_return\ns1,BTC,800\ns2,BTC,-20\n");
  try {
    load_scenario_file(dir / "s.csv", market);
    FAIL() << "expected an input_error";
  } catch (const input_error& e) {
    ASSERT_EQ(e.problems().size(), 1u);
    EXPECT_EQ(e.problems()[0].line, 2);
    EXPECT_NE(e.problems()[0].reason.find("within [-20, 20]"), std::string::npos);
  }
}

TEST(scenario_file, order_and_missing_underlyings) {
  temp_dir dir;
  problem_list none;
  const market_state market = load_market(test::sample_book() / "market.json", none);
  write_file(dir / "s.csv",
             "underlying,scenario_id,spot_return\nETH,b,0.05\nBTC,a,-0.1\nBTC,b,0.02\n");
  const scenario_file_data f = load_scenario_file(dir / "s.csv", market);
  ASSERT_EQ(f.count(), 2u);
  EXPECT_EQ(f.scenario_id[0], "b");
  EXPECT_EQ(f.scenario_id[1], "a");
  EXPECT_DOUBLE_EQ(f.spot_return[0 * 2 + 0], 0.02);  // b, BTC
  EXPECT_DOUBLE_EQ(f.spot_return[0 * 2 + 1], 0.05);  // b, ETH
  EXPECT_DOUBLE_EQ(f.spot_return[1 * 2 + 0], -0.1);  // a, BTC
  EXPECT_DOUBLE_EQ(f.spot_return[1 * 2 + 1], 0.0);   // a, ETH: absent, unchanged
  EXPECT_DOUBLE_EQ(f.vol_change[1 * 2 + 1], 0.0);
}

}  // namespace
}  // namespace msync
