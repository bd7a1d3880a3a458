// The CSV reader and the field parsers: quoting, line endings, line numbers, timestamps, ids.
#include <gtest/gtest.h>

#include "io/csv_reader.hpp"
#include "io/id_rules.hpp"
#include "io/number_parse.hpp"
#include "io/output_files.hpp"
#include "marginsync/errors.hpp"
#include "test_support.hpp"

namespace msync {
namespace {

TEST(csv_reader, quoting_crlf_bom_blank_lines_and_line_numbers) {
  test::temp_dir dir;
  test::write_file(dir / "f.csv",
                   "\xEF\xBB\xBF"
                   "b , a\r\n"
                   "\r\n"
                   "\"x,1\", 2 \r\n"
                   "   \n"
                   "\"say \"\"hi\"\"\",3\n"
                   "\"multi\nline\",4\n"
                   "last,5");
  problem_list problems;
  csv_reader csv;
  ASSERT_TRUE(csv.open(dir / "f.csv", problems));
  EXPECT_EQ(csv.column("a"), 1);
  EXPECT_EQ(csv.column("b"), 0);
  EXPECT_EQ(csv.column("c"), -1);
  struct row {
    long line;
    std::string b, a;
  };
  std::vector<row> rows;
  while (csv.next(problems))
    rows.push_back({csv.line(), std::string(csv.field(0)), std::string(csv.field(1))});
  ASSERT_TRUE(problems.empty());
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(rows[0].line, 3);
  EXPECT_EQ(rows[0].b, "x,1");
  EXPECT_EQ(rows[0].a, "2");
  EXPECT_EQ(rows[1].line, 5);
  EXPECT_EQ(rows[1].b, "say \"hi\"");
  EXPECT_EQ(rows[2].line, 6);
  EXPECT_EQ(rows[2].b, "multi\nline");
  EXPECT_EQ(rows[3].line, 8);
  EXPECT_EQ(rows[3].a, "5");
}

TEST(csv_reader, unclosed_quote_and_duplicate_header) {
  test::temp_dir dir;
  test::write_file(dir / "f.csv", "a,a\n\"open,1\n");
  problem_list problems;
  csv_reader csv;
  ASSERT_TRUE(csv.open(dir / "f.csv", problems));
  while (csv.next(problems)) {
  }
  ASSERT_EQ(problems.size(), 2u);
  try {
    problems.throw_if_any();
  } catch (const input_error& e) {
    EXPECT_EQ(e.problems()[0].to_string(),
              (dir / "f.csv").string() + ":1: column 'a': column appears twice in the header");
    EXPECT_EQ(e.problems()[1].to_string(),
              (dir / "f.csv").string() + ":2: quoted field is not closed");
  }
}

TEST(numbers, parse_and_reject) {
  double v = 0.0;
  EXPECT_EQ(parse_number("1.5", v), "");
  EXPECT_EQ(v, 1.5);
  EXPECT_EQ(parse_number("+2e3", v), "");
  EXPECT_EQ(v, 2000.0);
  EXPECT_EQ(parse_number("-0.25", v), "");
  EXPECT_EQ(v, -0.25);
  EXPECT_NE(parse_number("", v), "");
  EXPECT_NE(parse_number("1,5", v), "");
  EXPECT_NE(parse_number("nan", v), "");
  EXPECT_NE(parse_number("inf", v), "");
  EXPECT_NE(parse_number("1e400", v), "");
  EXPECT_NE(parse_number("0x10", v), "");
  EXPECT_NE(parse_number("1.0.0", v), "");
  EXPECT_NE(parse_number("+-5", v), "");
  EXPECT_NE(parse_number("++5", v), "");
  EXPECT_NE(parse_number("+", v), "");
}

// The one rule for ids (docs/design.md 2.1): UTF-8 text (RFC 3629) without control characters.
TEST(id_rule, utf8_text_without_control_characters) {
  for (const char* good :
       {"", "acct-1", "trader \"7\", desk", "\xc3\xa9t\xc3\xa9",  // été
        "\xe2\x82\xac", "\xef\xbf\xbd", "\xf0\x9f\x98\x80",       // EUR, U+FFFD, an emoji
        "\xf4\x8f\xbf\xbf", "\xc2\xa0"})                          // U+10FFFF, U+00A0
    EXPECT_EQ(id_text_problem(good), "") << good;
  const std::pair<std::string, std::string> bad[] = {
      {"a\xff", "not valid UTF-8: byte 0xFF at offset 1"},
      {"\x80", "not valid UTF-8: byte 0x80 at offset 0"},              // a lone continuation
      {"\xc0\x80", "not valid UTF-8: byte 0xC0 at offset 0"},          // overlong NUL
      {"\xe0\x80\xaf", "not valid UTF-8: byte 0xE0 at offset 0"},      // overlong '/'
      {"\xed\xa0\x80", "not valid UTF-8: byte 0xED at offset 0"},      // surrogate U+D800
      {"\xf4\x90\x80\x80", "not valid UTF-8: byte 0xF4 at offset 0"},  // above U+10FFFF
      {"\xf5\x80\x80\x80", "not valid UTF-8: byte 0xF5 at offset 0"},
      {"ab\xe2\x82", "not valid UTF-8: incomplete sequence from byte 0xE2 at offset 2"},
      {"\xe2\x28\xa1", "not valid UTF-8: byte 0x28 at offset 1"},
      {std::string("a\0b", 3), "not text: control character U+0000 at offset 1"},
      {"tab\there", "not text: control character U+0009 at offset 3"},
      {"x\n", "not text: control character U+000A at offset 1"},
      {"\x7f", "not text: control character U+007F at offset 0"},
      {"\xc2\x9b", "not text: control character U+009B at offset 0"},  // C1 CSI
  };
  for (const auto& [id, why] : bad) EXPECT_EQ(id_text_problem(id), why) << why;
}

// The second line of defence: JSON text with a string that is not UTF-8 is written, never thrown.
TEST(id_rule, json_output_replaces_bytes_that_are_not_utf8) {
  nlohmann::json body;
  body["inputs"]["book"] = "/data/b\xffook";
  const std::string text = summary_document(run_provenance{}, body);
  EXPECT_NE(text.find("/data/b\xef\xbf\xbdook"), std::string::npos) << text;  // U+FFFD
}

// One sign at most, as for parse_number (found by the number_fields fuzz target: "+-24488" was
// read as -24488).
TEST(numbers, integers_take_one_sign) {
  std::int64_t v = 0;
  EXPECT_EQ(parse_integer("+42", v), "");
  EXPECT_EQ(v, 42);
  EXPECT_EQ(parse_integer("-42", v), "");
  EXPECT_EQ(v, -42);
  EXPECT_NE(parse_integer("+-24488", v), "");
  EXPECT_NE(parse_integer("++5", v), "");
  EXPECT_NE(parse_integer("--5", v), "");
  EXPECT_NE(parse_integer("+", v), "");
  EXPECT_NE(parse_integer("-", v), "");
}

TEST(numbers, shortest_round_trip) {
  for (double x : {0.1, 1.0 / 3.0, 91000.0, -1e-300, 6.02214076e23, 2.0 / 7.0 * 1e5}) {
    const std::string s = format_number(x);
    double back = 0.0;
    EXPECT_EQ(parse_number(s, back), "");
    EXPECT_EQ(back, x) << s;
  }
  EXPECT_EQ(format_number(0.1), "0.1");
  EXPECT_EQ(format_number(-0.0), "0");
  EXPECT_EQ(format_number(HUGE_VAL), "inf");
}

TEST(timestamps, iso_8601_and_epoch_milliseconds) {
  std::int64_t ns = 0;
  EXPECT_EQ(parse_timestamp("1970-01-01T00:00:00Z", ns), "");
  EXPECT_EQ(ns, 0);
  // 2026-11-24T08:00:00Z = 1795507200 s since the epoch (20,781 days + 8 h).
  EXPECT_EQ(parse_timestamp("2026-11-24T08:00:00Z", ns), "");
  EXPECT_EQ(ns, (20781LL * 86400 + 8 * 3600) * 1'000'000'000LL);
  EXPECT_EQ(parse_timestamp("1795507200000", ns), "");
  EXPECT_EQ(ns, (20781LL * 86400 + 8 * 3600) * 1'000'000'000LL);
  EXPECT_EQ(parse_timestamp("2026-11-24T08:00:00.123456789Z", ns), "");
  EXPECT_EQ(ns % 1'000'000'000LL, 123456789);
  EXPECT_EQ(parse_timestamp("2026-11-24T08:00:00.5+00:00", ns), "");
  EXPECT_EQ(ns % 1'000'000'000LL, 500000000);
  EXPECT_EQ(parse_timestamp("2024-02-29T00:00:00Z", ns), "");  // leap day
  EXPECT_NE(parse_timestamp("2026-02-29T00:00:00Z", ns), "");
  EXPECT_NE(parse_timestamp("2026-13-01T00:00:00Z", ns), "");
  EXPECT_NE(parse_timestamp("2026-11-24T24:00:00Z", ns), "");
  EXPECT_NE(parse_timestamp("2026-11-24T08:00:00", ns), "");  // no zone: not UTC for sure
  EXPECT_NE(parse_timestamp("2026-11-24 08:00:00Z", ns), "");
  EXPECT_NE(parse_timestamp("2026-11-24T08:00:00.Z", ns), "");
  EXPECT_NE(parse_timestamp("2026-11-24T08:00:00.1234567891Z", ns), "");
}

TEST(timestamps, format_round_trip) {
  for (const char* t : {"2026-11-24T08:00:00Z", "1999-12-31T23:59:59.5Z",
                        "2024-02-29T12:34:56.000000001Z", "1969-07-20T20:17:40Z"}) {
    std::int64_t ns = 0;
    ASSERT_EQ(parse_timestamp(t, ns), "");
    EXPECT_EQ(format_timestamp(ns), t);
  }
}

}  // namespace
}  // namespace msync
