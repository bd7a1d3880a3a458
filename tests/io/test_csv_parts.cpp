// Reading a CSV file in parts on several threads (io/csv_parts.hpp, docs/design.md 5.2): the same
// records, the same problems with the same lines, in the same order, as one reading from start to
// end, wherever the cuts fall (at a line end, inside a quoted field, in blank lines); and a book
// loaded in any number of parts is the same book with the same problems.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <tuple>

#include "io/csv_parts.hpp"
#include "io/csv_reader.hpp"
#include "io/load_inputs.hpp"
#include "marginsync/errors.hpp"
#include "synth/generate_book.hpp"
#include "test_support.hpp"

namespace msync {
namespace {

using test::temp_dir;
using test::write_file;

// What a reading saw: each record as "line: field|field|...", then each problem's line.
struct reading {
  std::vector<std::string> records;
  std::vector<std::string> problems;
};

std::string describe(const csv_records& rows, std::size_t fields) {
  std::string s = std::to_string(rows.line()) + ":";
  for (std::size_t f = 0; f < fields; ++f) s += std::string(rows.field(static_cast<int>(f))) + "|";
  return s;
}

std::vector<std::string> lines_of(std::vector<input_problem> problems) {
  std::vector<std::string> out;
  for (const input_problem& p : problems) out.push_back(p.to_string());
  return out;
}

std::vector<std::string> problems_of(problem_list& problems) {
  try {
    problems.throw_if_any();
  } catch (const input_error& e) {
    return lines_of(e.problems());
  }
  return {};
}

reading read_whole(const std::string& text) {
  reading r;
  problem_list problems;
  csv_reader csv;
  EXPECT_TRUE(csv.open_text(text, "t.csv", problems));
  while (csv.next(problems)) {
    std::string s = std::to_string(csv.line()) + ":";
    for (std::size_t f = 0; f < csv.header_size(); ++f)
      s += std::string(csv.field(static_cast<int>(f))) + "|";
    r.records.push_back(s);
  }
  r.problems = problems_of(problems);
  return r;
}

reading read_parts(const std::string& text, std::size_t parts) {
  reading r;
  problem_list problems;
  csv_reader csv;
  EXPECT_TRUE(csv.open_text(text, "t.csv", problems));
  std::vector<std::vector<std::string>> records(parts);
  read_csv_in_parts(
      csv, parts,
      [&](csv_records& rows, std::size_t k, problem_list& part_problems) {
        records[k].clear();
        while (rows.next(part_problems)) records[k].push_back(describe(rows, csv.header_size()));
      },
      problems);
  for (const auto& part : records) r.records.insert(r.records.end(), part.begin(), part.end());
  r.problems = problems_of(problems);
  return r;
}

// Every rule of the reader in a few lines: quoted fields holding commas, quotes and line breaks
// (one spans three lines), CRLF, blank lines, text after a closing quote, wrong field counts;
// lines longer than the 16 bytes the reader scans at a time, one with a quote past them.
const std::string tricky =
    "\xEF\xBB\xBF"
    "a,b,c\n"
    "1,2,3\n"
    "\"x,y\",\"he said \"\"hi\"\"\",3\r\n"
    "\n"
    "  \t \r\n"
    "4,\"multi\nline\nfield\",6\n"
    "7,8\n"
    "\"q\" junk,9,10\n"
    "11, 12 ,13\r\n"
    "a first field longer than sixteen bytes \t\r,  a second \r,and a third one; long\r\n"
    "0123456789012345678901234567890123,\"quoted, after 32 bytes\",x\n"
    "\"\n\",\"\n\n\",\"\"\n"
    "14,15,16,17\n"
    "last,row,here";

TEST(csv_parts, any_number_of_parts_reads_what_one_reading_does) {
  const reading whole = read_whole(tricky);
  ASSERT_EQ(whole.records.size(), 9u);
  EXPECT_EQ(whole.records[5],
            "12:a first field longer than sixteen bytes|a second|and a third one; long|");
  EXPECT_EQ(whole.records[6], "13:0123456789012345678901234567890123|quoted, after 32 bytes|x|");
  ASSERT_EQ(whole.problems.size(), 3u);  // text after a quote, two wrong field counts
  for (std::size_t parts = 1; parts <= tricky.size() + 2; ++parts) {
    const reading in_parts = read_parts(tricky, parts);
    EXPECT_EQ(in_parts.records, whole.records) << parts << " parts";
    EXPECT_EQ(in_parts.problems, whole.problems) << parts << " parts";
  }
}

// A cut inside a quoted field: the part that starts there is read again from the record's start.
TEST(csv_parts, a_cut_inside_a_quoted_field_is_read_from_the_record_start) {
  problem_list problems;
  csv_reader csv;
  ASSERT_TRUE(csv.open_text(tricky, "t.csv", problems));
  const std::size_t inside = tricky.find("line\nfield");  // a line start inside the quotes
  bool cut_inside = false, cut_at_line_end = false;
  for (std::size_t parts = 2; parts <= tricky.size(); ++parts) {
    const csv_cuts cuts = cut_csv_records(csv, parts);
    for (std::size_t k = 1; k < parts; ++k) {
      cut_inside = cut_inside || cuts.begin[k] == inside;
      cut_at_line_end = cut_at_line_end || cuts.begin[k] == tricky.find("7,8");
      // Every cut is a line start, and its line is the number of line breaks before it, plus 1.
      if (cuts.begin[k] < tricky.size()) {
        EXPECT_EQ(tricky[cuts.begin[k] - 1], '\n');
      }
      EXPECT_EQ(cuts.line[k], 1 + std::count(tricky.begin(), tricky.begin() + cuts.begin[k], '\n'));
    }
  }
  EXPECT_TRUE(cut_inside);
  EXPECT_TRUE(cut_at_line_end);
}

// An unclosed quote takes the rest of the file, whichever part it starts in.
TEST(csv_parts, an_unclosed_quote_ends_the_file_in_every_part) {
  const std::string text = "a,b\n1,2\n3,\"open\n4,5\n6,7\n8,9\n";
  const reading whole = read_whole(text);
  ASSERT_EQ(whole.problems.size(), 1u);
  EXPECT_NE(whole.problems[0].find("t.csv:3: quoted field is not closed"), std::string::npos);
  for (std::size_t parts = 1; parts <= text.size(); ++parts) {
    const reading in_parts = read_parts(text, parts);
    EXPECT_EQ(in_parts.records, whole.records) << parts << " parts";
    EXPECT_EQ(in_parts.problems, whole.problems) << parts << " parts";
  }
}

// ---- a whole book -------------------------------------------------------------------------------

void expect_same_book(const book& a, const book& b) {
  EXPECT_EQ(a.instruments.id, b.instruments.id);
  EXPECT_EQ(a.account_id, b.account_id);
  EXPECT_EQ(a.collateral, b.collateral);
  EXPECT_EQ(a.account_tier, b.account_tier);
  EXPECT_EQ(a.position_instrument, b.position_instrument);
  EXPECT_EQ(a.position_quantity, b.position_quantity);
  EXPECT_EQ(a.position_cost, b.position_cost);
  EXPECT_EQ(a.account_position_begin, b.account_position_begin);
  EXPECT_EQ(a.account_exposure_begin, b.account_exposure_begin);
  EXPECT_EQ(a.exposure_underlying, b.exposure_underlying);
  EXPECT_EQ(a.exposure_position_begin, b.exposure_position_begin);
  EXPECT_EQ(a.position_rows, b.position_rows);
}

struct loaded {
  book b;
  std::vector<std::string> problems;
};

loaded load(const std::filesystem::path& dir, std::size_t parts) {
  const book_paths paths = book_paths::in_directory(dir);
  problem_list problems;
  const market_state market = load_market(paths.market, problems);
  const risk_params risk = load_risk(paths.risk, problems);
  EXPECT_TRUE(problems.empty());
  loaded out;
  out.b = load_book(paths, market, risk, problems, parts);
  out.problems = problems_of(problems);
  return out;
}

std::vector<std::string> read_lines(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::string join(const std::vector<std::string>& lines, const char* end) {
  std::string s;
  for (const std::string& line : lines) s += line + end;
  return s;
}

// The book's positions against the rows summed by hand in file order (docs/design.md 2.4): per
// account, ordered by (underlying, instrument input order), quantities and q * entry summed.
void expect_rows_merged(const book& b, const std::vector<std::string>& rows) {
  const instrument_table& t = b.instruments;
  std::map<std::string, std::uint32_t> account_of, instrument_of;
  for (std::uint32_t a = 0; a < b.accounts(); ++a) account_of[std::string(b.account_id[a])] = a;
  for (std::uint32_t i = 0; i < t.size(); ++i) instrument_of[t.id[i]] = i;
  // (account, underlying, instrument) -> (quantity, cost)
  std::map<std::tuple<std::uint32_t, std::uint32_t, std::uint32_t>, std::pair<double, double>> sum;
  for (const std::string& row : rows) {
    std::stringstream in(row);
    std::string account, instrument, quantity, entry;
    std::getline(in, account, ',');
    std::getline(in, instrument, ',');
    std::getline(in, quantity, ',');
    std::getline(in, entry, '\r');
    const std::uint32_t i = instrument_of.at(instrument);
    auto& [q, cost] = sum[{account_of.at(account), t.underlying[i], i}];
    q += std::stod(quantity);
    if (t.kind[i] == instrument_kind::perpetual || t.kind[i] == instrument_kind::future)
      cost += std::stod(quantity) * std::stod(entry);
  }
  ASSERT_EQ(b.positions(), sum.size());
  std::size_t p = 0;
  for (const auto& [key, value] : sum) {
    const auto [a, u, i] = key;
    EXPECT_TRUE(p >= b.account_position_begin[a] && p < b.account_position_begin[a + 1]);
    EXPECT_EQ(b.position_instrument[p], i);
    EXPECT_EQ(b.position_quantity[p], value.first) << p;
    EXPECT_EQ(b.position_cost[p], value.second) << p;
    ++p;
  }
}

// A generated book with its position rows shuffled (accounts no longer in runs), some repeated
// (positions of several rows), blank lines and CRLF: the same book from 1, 2, 7 and 64 parts.
TEST(csv_parts, a_book_loads_the_same_in_any_number_of_parts) {
  temp_dir dir;
  generate_options o;
  o.accounts = 3000;
  o.underlyings = 4;
  o.positions_per_account = 5;
  o.seed = 11;
  generate_book(o, dir.path());
  std::vector<std::string> rows = read_lines(dir.path() / "positions.csv");
  const std::string header = rows.front();
  rows.erase(rows.begin());
  std::mt19937_64 rng(5);
  for (std::size_t i = 0; i < 2000; ++i) rows.push_back(rows[rng() % rows.size()]);
  std::shuffle(rows.begin(), rows.end(), rng);
  for (std::size_t i = 0; i < rows.size(); i += 997) rows[i] += "\r\n";  // a blank line after
  write_file(dir.path() / "positions.csv", header + "\r\n" + join(rows, "\r\n"));

  const loaded one = load(dir.path(), 1);
  ASSERT_TRUE(one.problems.empty()) << one.problems.front();
  EXPECT_EQ(one.b.position_rows, 3000u * 5 + 2000);
  EXPECT_LT(one.b.positions(), one.b.position_rows);  // repeated rows merged
  expect_rows_merged(one.b, rows);
  for (std::size_t parts : {2, 7, 64}) {
    SCOPED_TRACE(std::to_string(parts) + " parts");
    const loaded many = load(dir.path(), parts);
    ASSERT_TRUE(many.problems.empty());
    expect_same_book(one.b, many.b);
  }
}

// Many bad rows spread over many parts: the same problems in the same order (file by file, line
// by line) as one reading; duplicates of ids in earlier parts are reported in their place among
// the row's own problems.
TEST(csv_parts, bad_rows_in_many_parts_report_the_same_problems_in_file_order) {
  temp_dir dir;
  generate_options o;
  o.accounts = 400;
  o.underlyings = 3;
  o.positions_per_account = 4;
  o.seed = 3;
  generate_book(o, dir.path());

  std::vector<std::string> accounts = read_lines(dir.path() / "accounts.csv");
  accounts[50] = accounts[3];          // a duplicate of an early id, far from it
  accounts[300] = accounts[299];       // and of the row before it
  accounts[310] = accounts[4] + ",x";  // a wrong field count
  const std::string dup = accounts[20].substr(0, accounts[20].find(','));
  accounts[200] = dup + ",1e999,nosuchtier";  // duplicate, bad collateral and tier in one row
  accounts[250] = "\"" + dup + "\"\" \",5,";  // an id with a quote: not a duplicate
  write_file(dir.path() / "accounts.csv", join(accounts, "\n"));

  std::vector<std::string> positions = read_lines(dir.path() / "positions.csv");
  const std::vector<std::string> bad = {
      "nobody,BTC-PERP,1,100",   "A0000001,NOPE,1,2",          "A0000001,BTC-PERP,abc,1",
      "A0000001,BTC-PERP,1",     "A0000002,BTC-PERP,1,",       "\"A0000002\" x,BTC-PERP,1,5",
      "A0000002,BTC-PERP,1e13,", "\"A00\n0001\",BTC-PERP,1,5", "nobody,NOPE,nan,-1"};
  for (std::size_t i = 1; i < positions.size(); i += 13) positions[i] = bad[i % bad.size()];
  write_file(dir.path() / "positions.csv", join(positions, "\n"));

  const loaded one = load(dir.path(), 1);
  ASSERT_GT(one.problems.size(), 150u);
  // One reading already reports file by file, line by line (the order every part count keeps).
  std::vector<std::pair<std::string, long>> where;
  for (const std::string& p : one.problems) {
    const std::size_t colon = p.find(".csv:") + 4;
    where.emplace_back(p.substr(0, colon), std::stol(p.substr(colon + 1)));
  }
  EXPECT_TRUE(std::is_sorted(where.begin(), where.end(), [](const auto& x, const auto& y) {
    return x.first == y.first && x.second < y.second;
  }));
  EXPECT_NE(std::find_if(one.problems.begin(), one.problems.end(),
                         [](const std::string& p) {
                           return p.find("accounts.csv:201: column 'account_id': duplicate id") !=
                                  std::string::npos;
                         }),
            one.problems.end());
  for (std::size_t parts : {2, 3, 16, 500}) {
    const loaded many = load(dir.path(), parts);
    EXPECT_EQ(many.problems, one.problems) << parts << " parts";
  }
}

}  // namespace
}  // namespace msync
