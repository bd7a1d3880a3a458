// The tick stream reader (docs/design.md section 2 and 5): CSV and JSON lines, line numbers, every
// kind of malformed line reported once and skipped, a bad CSV header fatal, and reading one line at
// a time.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <deque>
#include <sstream>
#include <streambuf>
#include <string>
#include <vector>

#include "io/tick_stream.hpp"
#include "marginsync/errors.hpp"
#include "test_support.hpp"

namespace msync {
namespace {

// Instants used below, each checked with `date -u -d @SECONDS`:
// 1795507200 = 2026-11-24T08:00:00Z, 1709251199 = 2024-02-29T23:59:59Z.
constexpr std::int64_t nov24_8am_ms = 1795507200000LL;
constexpr std::int64_t nov24_8am_ns = 1795507200000000000LL;
constexpr std::int64_t leap_day_ns = 1709251199000000000LL;

// A reader over `text` with the market's symbols BTC (0) and ETH (1), keeping every problem.
struct stream_fixture {
  std::istringstream in;
  std::vector<input_problem> problems;
  tick_reader reader;

  explicit stream_fixture(std::string text,
                          const std::vector<std::string>& symbols = {"BTC", "ETH"},
                          std::string name = "ticks.csv")
      : in(std::move(text)), reader(in, std::move(name), symbols, [this](const input_problem& p) {
          problems.push_back(p);
        }) {}

  std::vector<stream_event> read_all() {
    std::vector<stream_event> events;
    while (std::optional<stream_event> e = reader.next()) events.push_back(*e);
    return events;
  }
};

TEST(tick_stream, csv_any_column_order_bom_crlf_empty_lines_and_quoting) {
  stream_fixture s(
      "\xEF\xBB\xBF"
      "price, vol ,timestamp,underlying,source\r\n"                             // 1: header
      "\r\n"                                                                    // 2
      "91000.5,0.55,2026-11-24T08:00:00Z,BTC,feed a\r\n"                        // 3
      "   \t\r\n"                                                               // 4
      "3100,,1795507201500,ETH,\"feed, b\"\r\n"                                 // 5
      "\"2.5e4\" , 0.6,2024-02-29T23:59:59Z,\"B\"\"X\",\"say \"\"hi\"\"\"\r\n"  // 6
      "\n"                                                                      // 7
      "7,1,2026-11-24T08:00:01.25Z, \"A,B\" ,x\n",                              // 8
      {"BTC", "ETH", "B\"X", "A,B"});
  const std::vector<stream_event> events = s.read_all();
  EXPECT_TRUE(s.problems.empty());
  ASSERT_EQ(events.size(), 4u);

  EXPECT_EQ(events[0].kind, stream_event_kind::price);
  EXPECT_EQ(events[0].line, 3);
  EXPECT_EQ(events[0].ts_ns, nov24_8am_ns);
  EXPECT_EQ(events[0].underlying, 0u);
  EXPECT_EQ(events[0].price, 91000.5);
  EXPECT_EQ(events[0].vol, 0.55);

  EXPECT_EQ(events[1].line, 5);
  EXPECT_EQ(events[1].ts_ns, nov24_8am_ns + 1'500'000'000LL);  // epoch ms 1.5 s later
  EXPECT_EQ(events[1].underlying, 1u);
  EXPECT_EQ(events[1].price, 3100.0);
  EXPECT_TRUE(std::isnan(events[1].vol));  // an empty vol cell: no vol in this tick

  EXPECT_EQ(events[2].line, 6);
  EXPECT_EQ(events[2].ts_ns, leap_day_ns);
  EXPECT_EQ(events[2].underlying, 2u);  // "B""X" is B"X
  EXPECT_EQ(events[2].price, 25000.0);
  EXPECT_EQ(events[2].vol, 0.6);

  EXPECT_EQ(events[3].line, 8);
  EXPECT_EQ(events[3].ts_ns, nov24_8am_ns + 1'250'000'000LL);
  EXPECT_EQ(events[3].underlying, 3u);  // a quoted comma is part of the field
  EXPECT_EQ(events[3].price, 7.0);
  EXPECT_EQ(events[3].vol, 1.0);

  EXPECT_EQ(s.reader.lines_read(), 8);
  EXPECT_EQ(s.reader.rejected(), 0);
  EXPECT_FALSE(s.reader.next());  // stays at the end
}

TEST(tick_stream, csv_without_vol_column_and_epoch_milliseconds) {
  stream_fixture s(
      "\r\n"
      "underlying,timestamp,price\r\n"
      "ETH,1795507200000,3100.25\r\n"  // the line end is no part of the price
      "BTC,-1000,5\n"  // 1969-12-31T23:59:59Z: before the epoch, within the supported years
      "BTC,0,6\r\n");
  const std::vector<stream_event> events = s.read_all();
  EXPECT_TRUE(s.problems.empty());
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].line, 3);
  EXPECT_EQ(events[0].ts_ns, nov24_8am_ns);
  EXPECT_EQ(events[0].underlying, 1u);
  EXPECT_EQ(events[0].price, 3100.25);
  EXPECT_TRUE(std::isnan(events[0].vol));
  EXPECT_EQ(events[1].line, 4);
  EXPECT_EQ(events[1].ts_ns, -1'000'000'000LL);
  EXPECT_EQ(events[1].underlying, 0u);
  EXPECT_EQ(events[2].line, 5);
  EXPECT_EQ(events[2].ts_ns, 0);
  EXPECT_EQ(events[2].price, 6.0);
  EXPECT_EQ(s.reader.lines_read(), 5);
}

TEST(tick_stream, json_lines_price_trade_collateral) {
  stream_fixture s(
      "\xEF\xBB\xBF  {\"ts\": 1795507200000, \"underlying\": \"BTC\", \"price\": 91010.5, \"vol\": "
      "0.5}\r\n"
      "\n"
      "{\"type\": \"price\", \"ts\": \"2026-11-24T08:00:00.001Z\", \"underlying\": \"ETH\", "
      "\"price\": 3100, \"source\": \"ignored\"}\n"
      "{\"type\": \"trade\", \"ts\": \"2024-02-29T23:59:59Z\", \"account\": \"A-1\", "
      "\"instrument\": \"BTC-PERP\", \"quantity\": -2.5, \"price\": 91000}\n"
      "   \n"
      "{\"type\": \"collateral\", \"ts\": 1795507200001, \"account\": \"new account\", \"amount\": "
      "-150.75}\n"
      "{\"ts\": 1.7955072e12, \"underlying\": \"BTC\", \"price\": 1e-3}\n",
      {"BTC", "ETH"}, "feed.jsonl");
  const std::vector<stream_event> events = s.read_all();
  EXPECT_TRUE(s.problems.empty());
  ASSERT_EQ(events.size(), 5u);

  EXPECT_EQ(events[0].kind, stream_event_kind::price);
  EXPECT_EQ(events[0].line, 1);
  EXPECT_EQ(events[0].ts_ns, nov24_8am_ns);
  EXPECT_EQ(events[0].underlying, 0u);
  EXPECT_EQ(events[0].price, 91010.5);
  EXPECT_EQ(events[0].vol, 0.5);

  EXPECT_EQ(events[1].kind, stream_event_kind::price);
  EXPECT_EQ(events[1].line, 3);
  EXPECT_EQ(events[1].ts_ns, nov24_8am_ns + 1'000'000LL);
  EXPECT_EQ(events[1].underlying, 1u);
  EXPECT_EQ(events[1].price, 3100.0);
  EXPECT_TRUE(std::isnan(events[1].vol));

  EXPECT_EQ(events[2].kind, stream_event_kind::trade);
  EXPECT_EQ(events[2].line, 4);
  EXPECT_EQ(events[2].ts_ns, leap_day_ns);
  EXPECT_EQ(events[2].account, "A-1");
  EXPECT_EQ(events[2].instrument, "BTC-PERP");
  EXPECT_EQ(events[2].quantity, -2.5);
  EXPECT_EQ(events[2].price, 91000.0);

  EXPECT_EQ(events[3].kind, stream_event_kind::collateral);
  EXPECT_EQ(events[3].line, 6);
  EXPECT_EQ(events[3].ts_ns, nov24_8am_ns + 1'000'000LL);
  EXPECT_EQ(events[3].account, "new account");
  EXPECT_EQ(events[3].amount, -150.75);

  EXPECT_EQ(events[4].line, 7);
  EXPECT_EQ(events[4].ts_ns, nov24_8am_ns);  // whole milliseconds written with an exponent
  EXPECT_EQ(events[4].price, 1e-3);

  EXPECT_EQ(s.reader.lines_read(), 7);
  EXPECT_EQ(s.reader.rejected(), 0);
}

struct bad_line {
  std::string text;
  std::string column;
  std::string reason_part;  // a piece the reason must contain
};

// Streams each bad line followed by a good one and checks that every bad line gives exactly one
// problem, on its line and column, and that every good line still comes out.
void expect_each_rejected_once(const std::string& header, const std::vector<bad_line>& cases,
                               const std::string& good_prefix, const std::string& good_suffix) {
  std::string text = header.empty() ? "" : header + "\n";
  const long first = header.empty() ? 1 : 2;
  for (std::size_t i = 0; i < cases.size(); ++i)
    text += cases[i].text + "\n" + good_prefix + std::to_string(100 + i) + good_suffix + "\n";
  text += good_prefix + "99" + good_suffix + "\n";
  stream_fixture s(text);
  const std::vector<stream_event> events = s.read_all();

  ASSERT_EQ(s.problems.size(), cases.size());
  EXPECT_EQ(s.reader.rejected(), static_cast<long>(cases.size()));
  for (std::size_t i = 0; i < cases.size(); ++i) {
    SCOPED_TRACE(cases[i].text);
    const input_problem& p = s.problems[i];
    EXPECT_EQ(p.file, "ticks.csv");
    EXPECT_EQ(p.line, first + 2 * static_cast<long>(i));
    EXPECT_EQ(p.column, cases[i].column);
    EXPECT_NE(p.reason.find(cases[i].reason_part), std::string::npos) << p.reason;
  }
  ASSERT_EQ(events.size(), cases.size() + 1);
  for (std::size_t i = 0; i < cases.size(); ++i) {
    EXPECT_EQ(events[i].line, first + 2 * static_cast<long>(i) + 1);
    EXPECT_EQ(events[i].price, static_cast<double>(100 + i));
  }
  EXPECT_EQ(events.back().price, 99.0);
}

TEST(tick_stream, csv_malformed_lines_are_reported_once_and_skipped) {
  const std::vector<bad_line> cases = {
      {"1795507200000,BTC,91000", "", "expected 4 fields (as the header has), found 3"},
      {"1795507200000,BTC,91000,0.5,extra", "", "expected 4 fields (as the header has), found 5"},
      {"1795507200000,BTC,91000,0.5,", "", "found 5"},
      {"\"1795507200000,BTC,1,", "", "quoted field is not closed"},
      {"\"1795507200000\"x,BTC,1,", "", "unexpected text after a closing quote"},
      {",BTC,1,", "timestamp", "empty"},
      {"2026-11-24 08:00:00,BTC,1,", "timestamp", "is not a timestamp"},
      {"2026-11-24T08:00:00+01:00,BTC,1,", "timestamp", "must be UTC"},
      {"2026-02-30T08:00:00Z,BTC,1,", "timestamp", "not a valid date"},
      {"99999999999999,BTC,1,", "timestamp", "outside the supported years"},
      {"1795507200000,XYZ,1,", "underlying", "unknown underlying 'XYZ'"},
      {"1795507200000,btc,1,", "underlying", "unknown underlying 'btc'"},
      {"1795507200000,,1,", "underlying", "unknown underlying ''"},
      {"1795507200000,BTC,abc,", "price", "'abc' is not a number"},
      {"1795507200000,BTC,,", "price", "empty"},
      {"1795507200000,BTC,0,", "price", "must be > 0"},
      {"1795507200000,BTC,-5,", "price", "must be > 0"},
      {"1795507200000,BTC,1e13,", "price", "at most 1e12"},
      {"1795507200000,BTC,nan,", "price", "not a number"},
      {"1795507200000,BTC,inf,", "price", "not a number"},
      {"1795507200000,BTC,1,0", "vol", "must be within (0, 10]"},
      {"1795507200000,BTC,1,-0.2", "vol", "must be within (0, 10]"},
      {"1795507200000,BTC,1,10.5", "vol", "must be within (0, 10]"},
      {"1795507200000,BTC,1,x", "vol", "'x' is not a number"},
      {"{\"ts\":1795507200000,\"underlying\":\"BTC\",\"price\":1}", "",
       "unexpected text after a closing quote"},
  };
  expect_each_rejected_once("timestamp,underlying,price,vol", cases, "1795507200000,BTC,", ",");
}

TEST(tick_stream, json_malformed_lines_are_reported_once_and_skipped) {
  const std::string ts = "\"ts\":1795507200000";
  const std::string trade = "{\"type\":\"trade\"," + ts;
  const std::string collateral = "{\"type\":\"collateral\"," + ts;
  const std::string price = "{" + ts + ",\"underlying\":\"BTC\"";
  const std::string mark = "{\"type\":\"mark\"," + ts;
  const std::vector<bad_line> cases = {
      {"{\"ts\":1795507200000,\"underlying\":\"BTC\",\"price\":1", "", "invalid JSON"},
      {"not json", "", "invalid JSON"},
      {"{} {}", "", "invalid JSON"},
      {"timestamp,underlying,price", "", "invalid JSON"},
      {"[1, 2]", "", "not a JSON object"},
      {"\"text\"", "", "not a JSON object"},
      {"{\"type\":\"swap\"," + ts + "}", "type", "unknown type 'swap'"},
      {"{\"type\":5," + ts + "}", "type", "expected a string, got 5"},
      {"{\"underlying\":\"BTC\",\"price\":1}", "ts", "missing"},
      {"{\"ts\":1.5,\"underlying\":\"BTC\",\"price\":1}", "ts",
       "expected whole epoch milliseconds"},
      {"{\"ts\":true,\"underlying\":\"BTC\",\"price\":1}", "ts",
       "expected whole epoch milliseconds"},
      {"{\"ts\":\"yesterday\",\"underlying\":\"BTC\",\"price\":1}", "ts", "is not a timestamp"},
      {"{\"ts\":99999999999999,\"underlying\":\"BTC\",\"price\":1}", "ts",
       "outside the supported years"},
      {"{\"ts\":18446744073709551615,\"underlying\":\"BTC\",\"price\":1}", "ts", "out"},
      {"{" + ts + ",\"price\":1}", "underlying", "missing"},
      {"{" + ts + ",\"underlying\":5,\"price\":1}", "underlying", "expected a string"},
      {"{" + ts + ",\"underlying\":\"XYZ\",\"price\":1}", "underlying", "unknown underlying 'XYZ'"},
      {price + "}", "price", "missing"},
      {price + ",\"price\":\"91000\"}", "price", "expected a number"},
      {price + ",\"price\":0}", "price", "must be > 0"},
      {price + ",\"price\":-1}", "price", "must be > 0"},
      {price + ",\"price\":1e13}", "price", "at most 1e12"},
      {price + ",\"price\":1e400}", "", "invalid JSON: number overflow parsing '1e400'"},
      {price + ",\"price\":1,\"vol\":0}", "vol", "must be within (0, 10]"},
      {price + ",\"price\":1,\"vol\":11}", "vol", "must be within (0, 10]"},
      {price + ",\"price\":1,\"vol\":\"0.5\"}", "vol", "expected a number"},
      {price + ",\"price\":1,\"vol\":null}", "vol", "expected a number"},
      {price + ",\"price\":1,\"price\":2}", "price", "more than once"},
      {trade + ",\"instrument\":\"I\",\"quantity\":1,\"price\":1}", "account", "missing"},
      {trade + ",\"account\":\"\",\"instrument\":\"I\",\"quantity\":1,\"price\":1}", "account",
       "empty"},
      {trade + ",\"account\":7,\"instrument\":\"I\",\"quantity\":1,\"price\":1}", "account",
       "expected a string"},
      {trade + ",\"account\":\"A\",\"quantity\":1,\"price\":1}", "instrument", "missing"},
      {trade + ",\"account\":\"A\",\"instrument\":\"I\",\"price\":1}", "quantity", "missing"},
      {trade + ",\"account\":\"A\",\"instrument\":\"I\",\"quantity\":0,\"price\":1}", "quantity",
       "must not be 0"},
      {trade + ",\"account\":\"A\",\"instrument\":\"I\",\"quantity\":-2e12,\"price\":1}",
       "quantity", "[-1e12, 1e12]"},
      {trade + ",\"account\":\"A\",\"instrument\":\"I\",\"quantity\":\"5\",\"price\":1}",
       "quantity", "expected a number"},
      {trade + ",\"account\":\"A\",\"instrument\":\"I\",\"quantity\":1}", "price", "missing"},
      {trade + ",\"account\":\"A\",\"instrument\":\"I\",\"quantity\":1,\"price\":0}", "price",
       "must be > 0"},
      {"{\"type\":\"trade\",\"account\":\"A\",\"instrument\":\"I\",\"quantity\":1,\"price\":1}",
       "ts", "missing"},
      {collateral + ",\"amount\":5}", "account", "missing"},
      {collateral + ",\"account\":\"A\"}", "amount", "missing"},
      {collateral + ",\"account\":\"A\",\"amount\":2e15}", "amount", "[-1e15, 1e15]"},
      {collateral + ",\"account\":\"A\",\"amount\":\"x\"}", "amount", "expected a number"},
      {mark + ",\"mark_price\":1}", "instrument", "missing"},
      {mark + ",\"instrument\":\"F\"}", "mark_price", "missing: a mark gives mark_price"},
      {mark + ",\"instrument\":\"F\",\"mark_price\":0}", "mark_price", "must be > 0"},
      {mark + ",\"instrument\":\"F\",\"mark_price\":2e12}", "mark_price", "at most 1e12"},
      {mark + ",\"instrument\":\"F\",\"mark_price\":\"1\"}", "mark_price", "expected a number"},
      {mark + ",\"instrument\":\"O\",\"iv\":0}", "iv", "must be within (0, 10]"},
      {mark + ",\"instrument\":\"O\",\"iv\":10.5}", "iv", "must be within (0, 10]"},
      {mark + ",\"instrument\":\"O\",\"iv\":null}", "iv", "expected a number"},
      {mark + ",\"instrument\":5,\"iv\":0.5}", "instrument", "expected a string"},
      // The id rule of every reader (docs/design.md 2.1): bytes that are not UTF-8 fail the JSON
      // parse; control characters, written as escapes, are refused by the rule.
      {trade + ",\"account\":\"A\xff\",\"instrument\":\"I\",\"quantity\":1,\"price\":1}", "",
       "invalid JSON"},
      {trade + ",\"account\":\"A\\u0007\",\"instrument\":\"I\",\"quantity\":1,\"price\":1}",
       "account", "control character U+0007 at offset 1"},
      {trade + ",\"account\":\"A\",\"instrument\":\"I\\u009f\",\"quantity\":1,\"price\":1}",
       "instrument", "control character U+009F at offset 1"},
      {collateral + ",\"account\":\"\\u0000\",\"amount\":5}", "account",
       "control character U+0000 at offset 0"},
  };
  // The first line decides the format, so the stream starts with a good JSON line.
  std::vector<bad_line> all = cases;
  const std::string good_prefix = "{\"ts\":1795507200000,\"underlying\":\"ETH\",\"price\":";
  std::string text = good_prefix + "1}\n";
  for (std::size_t i = 0; i < all.size(); ++i)
    text += all[i].text + "\n" + good_prefix + std::to_string(100 + i) + "}\n";
  stream_fixture s(text);
  const std::vector<stream_event> events = s.read_all();
  ASSERT_EQ(s.problems.size(), all.size());
  EXPECT_EQ(s.reader.rejected(), static_cast<long>(all.size()));
  for (std::size_t i = 0; i < all.size(); ++i) {
    SCOPED_TRACE(all[i].text);
    EXPECT_EQ(s.problems[i].line, 2 + 2 * static_cast<long>(i));
    EXPECT_EQ(s.problems[i].column, all[i].column);
    EXPECT_NE(s.problems[i].reason.find(all[i].reason_part), std::string::npos)
        << s.problems[i].reason;
  }
  ASSERT_EQ(events.size(), all.size() + 1);
  EXPECT_EQ(events[0].price, 1.0);
  for (std::size_t i = 0; i < all.size(); ++i) {
    EXPECT_EQ(events[i + 1].line, 3 + 2 * static_cast<long>(i));
    EXPECT_EQ(events[i + 1].underlying, 1u);
    EXPECT_EQ(events[i + 1].price, static_cast<double>(100 + i));
  }
}

// A mark (docs/design.md 2.8): the instrument as written and whichever of mark_price and iv it
// gives, the other NaN. Whether the instrument exists and is of that kind is the engine's check.
TEST(tick_stream, json_mark_events) {
  stream_fixture s(
      "{\"type\":\"mark\",\"ts\":1795507200000,\"instrument\":\"BTC-F\",\"mark_price\":91500}\n"
      "{\"type\":\"mark\",\"ts\":1795507200000,\"instrument\":\"BTC-C\",\"iv\":0.61}\n"
      "{\"type\":\"mark\",\"ts\":1795507200001,\"instrument\":\"X\",\"mark_price\":2,"
      "\"iv\":0.5}\n");
  const std::vector<stream_event> events = s.read_all();
  EXPECT_TRUE(s.problems.empty());
  ASSERT_EQ(events.size(), 3u);
  for (const stream_event& e : events) EXPECT_EQ(e.kind, stream_event_kind::mark);
  EXPECT_EQ(events[0].instrument, "BTC-F");
  EXPECT_EQ(events[0].price, 91500.0);
  EXPECT_TRUE(std::isnan(events[0].vol));
  EXPECT_EQ(events[1].instrument, "BTC-C");
  EXPECT_TRUE(std::isnan(events[1].price));
  EXPECT_EQ(events[1].vol, 0.61);
  EXPECT_EQ(events[2].price, 2.0);  // both given: the engine refuses the kind that does not fit
  EXPECT_EQ(events[2].vol, 0.5);
  EXPECT_EQ(events[2].ts_ns, nov24_8am_ns + 1000000);
}

TEST(tick_stream, problem_text_names_file_line_and_column) {
  stream_fixture s("timestamp,underlying,price\n1795507200000,BTC,0\n", {"BTC"}, "-");
  EXPECT_FALSE(s.reader.next());
  ASSERT_EQ(s.problems.size(), 1u);
  EXPECT_EQ(s.problems[0].to_string(),
            "<stdin>:2: column 'price': must be > 0 and at most 1e12, got 0");
}

TEST(tick_stream, reader_without_problem_callback_still_counts) {
  std::istringstream in("timestamp,underlying,price\nx,BTC,1\n1795507200000,BTC,2\n");
  tick_reader reader(in, "t.csv", {"BTC"}, nullptr);
  const std::optional<stream_event> e = reader.next();
  ASSERT_TRUE(e);
  EXPECT_EQ(e->line, 3);
  EXPECT_EQ(reader.rejected(), 1);
}

TEST(tick_stream, missing_header_columns_make_the_stream_unreadable) {
  stream_fixture s("\n timestamp , ticker, last\n1795507200000,BTC,1\n");
  try {
    s.reader.next();
    FAIL() << "expected input_error";
  } catch (const input_error& e) {
    ASSERT_EQ(e.problems().size(), 2u);
    EXPECT_EQ(e.problems()[0].to_string(),
              "ticks.csv:2: column 'underlying': missing required column");
    EXPECT_EQ(e.problems()[1].to_string(), "ticks.csv:2: column 'price': missing required column");
  }
  // Not line problems: the exception carries them, and asking again says the same.
  EXPECT_TRUE(s.problems.empty());
  EXPECT_EQ(s.reader.rejected(), 0);
  EXPECT_THROW(s.reader.next(), input_error);
  EXPECT_EQ(s.reader.lines_read(), 2);
}

TEST(tick_stream, headerless_csv_and_repeated_columns_are_fatal) {
  stream_fixture headerless("1795507200000,BTC,1\n");
  try {
    headerless.reader.next();
    FAIL() << "expected input_error";
  } catch (const input_error& e) {
    ASSERT_EQ(e.problems().size(), 3u);
    EXPECT_EQ(e.problems()[0].column, "timestamp");
    EXPECT_EQ(e.problems()[1].column, "underlying");
    EXPECT_EQ(e.problems()[2].column, "price");
  }
  stream_fixture twice("timestamp,underlying,price,price\n1795507200000,BTC,1,2\n");
  try {
    twice.reader.next();
    FAIL() << "expected input_error";
  } catch (const input_error& e) {
    ASSERT_EQ(e.problems().size(), 1u);
    EXPECT_EQ(e.problems()[0].to_string(),
              "ticks.csv:1: column 'price': column appears twice in the header");
  }
  // A repeated column the reader does not use is harmless.
  stream_fixture extra("note,timestamp,underlying,price,note\na,1795507200000,BTC,1,b\n");
  const std::vector<stream_event> events = extra.read_all();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].price, 1.0);
}

TEST(tick_stream, empty_inputs_end_without_events) {
  stream_fixture nothing("");
  EXPECT_FALSE(nothing.reader.next());
  EXPECT_EQ(nothing.reader.lines_read(), 0);
  stream_fixture blank("\n  \r\n\t\n");
  EXPECT_FALSE(blank.reader.next());
  EXPECT_EQ(blank.reader.lines_read(), 3);
  stream_fixture header_only("timestamp,underlying,price\r\n");
  EXPECT_FALSE(header_only.reader.next());
  EXPECT_TRUE(header_only.problems.empty());
}

TEST(tick_stream, reads_no_further_than_the_event_it_returns) {
  const std::string header = "timestamp,underlying,price\n";
  const std::string first = "1795507200000,BTC,1\n";
  std::istringstream in(header + "\n" + first + "1795507200001,BTC,2\n" + "1795507200002,BTC,3\n");
  tick_reader reader(in, "t.csv", {"BTC"}, nullptr);
  ASSERT_TRUE(reader.next());
  EXPECT_EQ(static_cast<std::size_t>(in.tellg()), header.size() + 1 + first.size());
  EXPECT_EQ(reader.lines_read(), 3);
  std::string rest;
  std::getline(in, rest);
  EXPECT_EQ(rest, "1795507200001,BTC,2");
}

// A stream whose lines arrive one at a time, as through a pipe: it hands out the text pushed so
// far, and being asked for more before close() is counted (a pipe would block there).
class line_feed : public std::streambuf {
 public:
  void push(std::string text) { pending_.push_back(std::move(text)); }
  void close() { closed_ = true; }
  int starved = 0;

 protected:
  int_type underflow() override {
    if (pending_.empty()) {
      if (!closed_) ++starved;
      return traits_type::eof();
    }
    current_ = std::move(pending_.front());
    pending_.pop_front();
    setg(current_.data(), current_.data(), current_.data() + current_.size());
    return traits_type::to_int_type(current_[0]);
  }

 private:
  std::deque<std::string> pending_;
  std::string current_;
  bool closed_ = false;
};

TEST(tick_stream, returns_each_event_before_later_lines_exist) {
  line_feed feed;
  std::istream in(&feed);
  tick_reader reader(in, "pipe", {"BTC", "ETH"}, nullptr);
  feed.push("{\"ts\":1795507200000,\"underlying\":\"BTC\",");  // a line may arrive in pieces
  feed.push("\"price\":1}\n");
  std::optional<stream_event> e = reader.next();
  ASSERT_TRUE(e);
  EXPECT_EQ(e->price, 1.0);
  EXPECT_EQ(feed.starved, 0);
  feed.push("\n{\"ts\":1795507200001,\"underlying\":\"ETH\",\"price\":2}\n");
  e = reader.next();
  ASSERT_TRUE(e);
  EXPECT_EQ(e->line, 3);
  EXPECT_EQ(e->underlying, 1u);
  EXPECT_EQ(feed.starved, 0);
  feed.close();
  EXPECT_FALSE(reader.next());
  EXPECT_EQ(feed.starved, 0);
}

// A feed that died mid-line: "...,BTC,910" was meant as 91000. Applied, it liquidated an account
// at -748k (issue 12). The last line without its newline is reported and not applied, in either
// format; a blank one is only skipped.
TEST(tick_stream, incomplete_last_line_is_reported_and_not_applied) {
  stream_fixture csv(
      "timestamp,underlying,price\n2026-11-24T08:00:01Z,BTC,91000\n"
      "2026-11-24T08:00:02Z,BTC,910");
  std::vector<stream_event> events = csv.read_all();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].price, 91000.0);
  ASSERT_EQ(csv.problems.size(), 1u);
  EXPECT_EQ(csv.problems[0].to_string(),
            "ticks.csv:3: incomplete last line (no newline at end of input): not applied");
  EXPECT_EQ(csv.reader.rejected(), 1);
  EXPECT_EQ(csv.reader.lines_read(), 3);
  EXPECT_FALSE(csv.reader.next());  // and the input stays ended

  stream_fixture json(
      "{\"ts\":1795507200000,\"underlying\":\"BTC\",\"price\":91000}\r\n"
      "{\"ts\":1795507201000,\"underlying\":\"BTC\",\"price\":910}");
  events = json.read_all();
  ASSERT_EQ(events.size(), 1u);
  ASSERT_EQ(json.problems.size(), 1u);
  EXPECT_EQ(json.problems[0].line, 2);
  EXPECT_NE(json.problems[0].reason.find("incomplete last line"), std::string::npos);

  stream_fixture blank("timestamp,underlying,price\n2026-11-24T08:00:01Z,BTC,91000\n \t");
  EXPECT_EQ(blank.read_all().size(), 1u);
  EXPECT_TRUE(blank.problems.empty());
}

// A live feed that closes in the middle of a line: nothing of that line is applied.
TEST(tick_stream, a_feed_closed_mid_line_applies_nothing_of_that_line) {
  line_feed feed;
  std::istream in(&feed);
  std::vector<input_problem> problems;
  tick_reader reader(in, "-", {"BTC"}, [&](const input_problem& p) { problems.push_back(p); });
  feed.push("{\"ts\":1795507200000,\"underlying\":\"BTC\",\"price\":91000}\n");
  ASSERT_TRUE(reader.next());
  feed.push("{\"ts\":1795507201000,\"underlying\":\"BTC\",\"price\":910");
  feed.close();
  EXPECT_FALSE(reader.next());
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].to_string(),
            "<stdin>:2: incomplete last line (no newline at end of input): not applied");
}

// Bytes produced as they are read, never all in memory: a line of `length` 'x's, then `rest`.
class long_line : public std::streambuf {
 public:
  long_line(std::size_t length, std::string rest) : left_(length), rest_(std::move(rest)) {}

 protected:
  int_type underflow() override {
    if (left_ > 0) {
      const std::size_t n = std::min(left_, chunk_.size());
      left_ -= n;
      setg(chunk_.data(), chunk_.data(), chunk_.data() + n);
      return traits_type::to_int_type('x');
    }
    if (rest_.empty()) return traits_type::eof();
    current_ = std::move(rest_);
    rest_.clear();
    setg(current_.data(), current_.data(), current_.data() + current_.size());
    return traits_type::to_int_type(current_[0]);
  }

 private:
  std::size_t left_;
  std::string rest_, current_;
  std::string chunk_ = std::string(4096, 'x');
};

TEST(tick_stream, a_line_over_the_limit_is_reported_and_skipped) {
  // The header has a fourth column the reader ignores, so a line can be padded to any length.
  const std::string header = "timestamp,underlying,price,note\n";
  const std::string prefix = "1795507200000,BTC,7,";
  const std::string at_limit = prefix + std::string(max_tick_line_bytes - prefix.size(), 'x');
  stream_fixture s(header + at_limit + "\n" + at_limit + "y\n" + "1795507200000,BTC,8,\n");
  const std::vector<stream_event> events = s.read_all();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].line, 2);  // exactly the limit: read
  EXPECT_EQ(events[0].price, 7.0);
  EXPECT_EQ(events[1].line, 4);
  EXPECT_EQ(events[1].price, 8.0);
  ASSERT_EQ(s.problems.size(), 1u);
  EXPECT_EQ(s.problems[0].to_string(),
            "ticks.csv:3: line longer than 65536 bytes: skipped (not read past that)");

  // 64 MiB on one line, made as it is read: skipped, and the line after it read.
  long_line feed(64u << 20, "\n{\"ts\":1795507200000,\"underlying\":\"BTC\",\"price\":9}\n");
  std::istream in(&feed);
  std::vector<input_problem> problems;
  tick_reader reader(in, "big.jsonl", {"BTC"},
                     [&](const input_problem& p) { problems.push_back(p); });
  const std::optional<stream_event> e = reader.next();
  ASSERT_TRUE(e);
  EXPECT_EQ(e->line, 2);
  EXPECT_EQ(e->price, 9.0);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].line, 1);
}

// A reader over JSON price lines, each {"ts": MS, "underlying": SYM, "price": P}, with the time
// bound of `bound` from `as_of_ns`, keeping problems and jump notices.
struct timed_fixture {
  std::istringstream in;
  std::vector<input_problem> problems;
  std::vector<std::string> jumps;
  tick_reader reader;

  timed_fixture(const std::string& text, std::int64_t as_of_ns, tick_time_bound bound)
      : in(text), reader(in, "feed.jsonl", {"BTC", "ETH"}, [this](const input_problem& p) {
          problems.push_back(p);
        }) {
    reader.check_time(as_of_ns, bound, [this](const std::string& line) { jumps.push_back(line); });
  }

  std::vector<stream_event> read_all() {
    std::vector<stream_event> events;
    while (std::optional<stream_event> e = reader.next()) events.push_back(*e);
    return events;
  }
};

std::string tick_json(std::int64_t ms, const char* symbol = "BTC", double price = 91000) {
  return "{\"ts\":" + std::to_string(ms) + ",\"underlying\":\"" + symbol +
         "\",\"price\":" + std::to_string(price) + "}\n";
}

constexpr std::int64_t hour_ms = 3600 * 1000LL;
constexpr std::int64_t year_2149_ms = 5671900800000LL;   // 2149-09-26T00:00:00Z
constexpr std::int64_t year_1900_ms = -2208988800000LL;  // 1900-01-01T00:00:00Z

// One tick stamped 2149 in a crash stream moved stream time 123 years: every later tick of its
// underlying was dropped as out of order, options expired and a century of funding accrued. Now it
// is rejected like a malformed line and the stream goes on; a tick that far behind likewise.
TEST(tick_stream, an_event_far_from_stream_time_is_rejected_and_counted) {
  std::string text;
  for (int k = 1; k <= 3; ++k) text += tick_json(nov24_8am_ms + k * 1000);
  text += tick_json(year_2149_ms);                           // line 4
  text += tick_json(nov24_8am_ms + 4000, "ETH");             // line 5
  text += tick_json(year_1900_ms, "ETH");                    // line 6: far behind
  text += tick_json(nov24_8am_ms + 4000 + hour_ms);          // line 7: exactly the bound ahead
  text += tick_json(nov24_8am_ms + 4000 + 2 * hour_ms + 1);  // line 8: 1 ms past it
  timed_fixture s(text, nov24_8am_ns, tick_time_bound{});
  const std::vector<stream_event> events = s.read_all();
  ASSERT_EQ(events.size(), 5u);
  EXPECT_EQ(events[3].line, 5);
  EXPECT_EQ(events[4].line, 7);
  ASSERT_EQ(s.problems.size(), 3u);
  EXPECT_EQ(s.problems[0].to_string(),
            "feed.jsonl:4: column 'ts': 2149-09-26T00:00:00Z is 3876393597 s after stream time "
            "2026-11-24T08:00:03Z, more than --max-tick-jump 3600 s: not applied");
  EXPECT_EQ(s.problems[1].line, 6);
  EXPECT_NE(s.problems[1].reason.find("1900-01-01T00:00:00Z is 4004496004 s before stream time"),
            std::string::npos)
      << s.problems[1].reason;
  EXPECT_EQ(s.problems[2].line, 8);
  EXPECT_NE(s.problems[2].reason.find("is 3600.001 s after stream time 2026-11-24T09:00:04Z"),
            std::string::npos)
      << s.problems[2].reason;
  EXPECT_EQ(s.reader.rejected(), 3);
  EXPECT_EQ(s.reader.time_jumps(), 0);
  EXPECT_TRUE(s.jumps.empty());
}

// A first tick stamped 1900 started the stream there and charged 126 years of funding at the next
// one. The first event is held to the book's as_of, and the CSV names its column `timestamp`.
TEST(tick_stream, the_first_event_is_checked_against_the_book_as_of) {
  std::istringstream in(
      "timestamp,underlying,price\n1900-01-01T00:00:00Z,BTC,91000\n"
      "2149-01-01T00:00:00Z,BTC,91000\n2026-11-24T07:30:00Z,BTC,91000\n");
  std::vector<input_problem> problems;
  tick_reader reader(in, "t.csv", {"BTC"}, [&](const input_problem& p) { problems.push_back(p); });
  reader.check_time(nov24_8am_ns, tick_time_bound{});
  const std::optional<stream_event> e = reader.next();
  ASSERT_TRUE(e);
  EXPECT_EQ(e->line, 4);  // half an hour before as_of: within the bound
  ASSERT_EQ(problems.size(), 2u);
  EXPECT_EQ(problems[0].to_string(),
            "t.csv:2: column 'timestamp': 1900-01-01T00:00:00Z is 4004496000 s before the book's "
            "as_of 2026-11-24T08:00:00Z, more than --max-tick-jump 3600 s: not applied");
  EXPECT_EQ(problems[1].line, 3);
  EXPECT_NE(problems[1].reason.find("after the book's as_of"), std::string::npos);
}

// After a genuine outage longer than the bound, every later tick would be rejected for ever. The
// jump is accepted once `confirmations` consecutive events at distinct times agree on it, and said.
TEST(tick_stream, a_jump_confirmed_by_consecutive_events_moves_stream_time) {
  std::string text = tick_json(nov24_8am_ms);
  const std::int64_t back = nov24_8am_ms + 3 * hour_ms;  // the feed returns 3 hours later
  for (int k = 0; k < 12; ++k)
    text += tick_json(back + k * 1000) + tick_json(back + k * 1000, "ETH");
  timed_fixture s(text, nov24_8am_ns, tick_time_bound{3600LL * 1000000000LL, 4});
  const std::vector<stream_event> events = s.read_all();
  // Lines 2 to 7 (3 timestamps, 2 events each) are rejected; line 8 is the fourth timestamp.
  EXPECT_EQ(s.reader.rejected(), 6);
  EXPECT_EQ(s.reader.time_jumps(), 1);
  ASSERT_EQ(events.size(), 1u + 24 - 6);
  EXPECT_EQ(events[1].line, 8);
  EXPECT_EQ(events[1].ts_ns, (back + 3000) * 1000000LL);
  ASSERT_EQ(s.jumps.size(), 1u);
  EXPECT_EQ(s.jumps[0],
            "feed.jsonl:8: stream time jumps 10803 s forward from stream time "
            "2026-11-24T08:00:00Z to 2026-11-24T11:00:03Z, beyond --max-tick-jump 3600 s: "
            "confirmed by 4 events at distinct times from line 2 on (those before this line were "
            "rejected)");
}

// What must never confirm a jump: one update's ticks all stamped by a bad clock (one timestamp),
// bad ticks interleaved with good ones, bad ticks that disagree among themselves, and any jump at
// all with 0 confirmations.
TEST(tick_stream, bad_clocks_do_not_confirm_a_jump) {
  const tick_time_bound four{3600LL * 1000000000LL, 4};
  std::string same_time = tick_json(nov24_8am_ms);
  for (int k = 0; k < 20; ++k) same_time += tick_json(year_2149_ms, k % 2 ? "ETH" : "BTC");
  same_time += tick_json(nov24_8am_ms + 1000);
  timed_fixture one_update(same_time, nov24_8am_ns, four);
  EXPECT_EQ(one_update.read_all().size(), 2u);
  EXPECT_EQ(one_update.reader.rejected(), 20);

  std::string interleaved = tick_json(nov24_8am_ms);
  for (int k = 1; k <= 10; ++k)
    interleaved += tick_json(year_2149_ms + k * 1000) + tick_json(nov24_8am_ms + k * 1000, "ETH");
  timed_fixture mixed(interleaved, nov24_8am_ns, four);
  EXPECT_EQ(mixed.read_all().size(), 11u);
  EXPECT_EQ(mixed.reader.rejected(), 10);

  std::string scattered = tick_json(nov24_8am_ms);
  for (int k = 1; k <= 10; ++k) scattered += tick_json(nov24_8am_ms + k * 10 * hour_ms);
  timed_fixture apart(scattered, nov24_8am_ns, four);
  EXPECT_EQ(apart.read_all().size(), 1u);  // each 10 hours after the one before: no new clock
  EXPECT_EQ(apart.reader.rejected(), 10);

  std::string outage = tick_json(nov24_8am_ms);
  for (int k = 0; k < 20; ++k) outage += tick_json(nov24_8am_ms + 3 * hour_ms + k * 1000);
  timed_fixture never(outage, nov24_8am_ns, tick_time_bound{3600LL * 1000000000LL, 0});
  EXPECT_EQ(never.read_all().size(), 1u);
  EXPECT_EQ(never.reader.rejected(), 20);
  EXPECT_EQ(never.reader.time_jumps(), 0);
  for (const timed_fixture* f : {&one_update, &mixed, &apart, &never})
    EXPECT_TRUE(f->jumps.empty());
}

// replay and bench --stream read strictly: every rejected line of a stream, the new ones included,
// is bad input; a directory is not a tick stream.
TEST(tick_stream, read_updates_refuses_what_a_stream_rejects) {
  test::temp_dir dir;
  const std::vector<std::string> symbols = {"BTC"};
  const auto expect_problem = [&](const std::filesystem::path& file, const std::string& wanted) {
    try {
      read_updates(file, symbols, nov24_8am_ns, tick_time_bound{});
      ADD_FAILURE() << "expected input_error for " << file;
    } catch (const input_error& e) {
      ASSERT_EQ(e.problems().size(), 1u);
      EXPECT_EQ(e.problems()[0].to_string(), wanted);
    }
  };
  expect_problem(dir.path(), dir.path().string() + ": is a directory, expected a file");
  expect_problem(dir / "none.csv", (dir / "none.csv").string() + ": file not found");
  test::write_file(dir / "cut.csv",
                   "timestamp,underlying,price\n1795507200000,BTC,91000\n"
                   "1795507201000,BTC,910");
  expect_problem(dir / "cut.csv", (dir / "cut.csv").string() +
                                      ":3: incomplete last line (no newline at end of input): "
                                      "not applied");
  test::write_file(dir / "far.csv",
                   "timestamp,underlying,price\n1795507200000,BTC,91000\n"
                   "2149-09-26T00:00:00Z,BTC,91000\n");
  expect_problem(dir / "far.csv",
                 (dir / "far.csv").string() +
                     ":3: column 'timestamp': 2149-09-26T00:00:00Z is 3876393600 s after stream "
                     "time 2026-11-24T08:00:00Z, more than --max-tick-jump 3600 s: not applied");
  test::write_file(dir / "ok.csv",
                   "timestamp,underlying,price\n1795507200000,BTC,91000\n"
                   "1795507200000,BTC,91001\n1795507201000,BTC,91002\n");
  const std::vector<std::vector<stream_event>> updates =
      read_updates(dir / "ok.csv", symbols, nov24_8am_ns, tick_time_bound{});
  ASSERT_EQ(updates.size(), 2u);
  EXPECT_EQ(updates[0].size(), 2u);
}

}  // namespace
}  // namespace msync
