// The stream's journal (host/journal, docs/design.md 8.11): updates read back exactly as appended,
// a torn last record dropped and cut off, a damaged record before whole ones refused, a journal of
// another book or format version refused, the book's identity following its files.
#include <gtest/gtest.h>

#include <cmath>

#include "journal/stream_journal.hpp"
#include "marginsync/errors.hpp"
#include "test_support.hpp"

namespace msync {
namespace {

std::vector<stream_event> sample_events() {
  stream_event price;
  price.kind = stream_event_kind::price;
  price.ts_ns = 1'790'000'000'000'000'001;
  price.line = 7;
  price.underlying = 1;
  price.price = 0.1 + 0.2;  // not a short decimal: must come back bit for bit
  price.vol = NAN;
  stream_event trade;
  trade.kind = stream_event_kind::trade;
  trade.ts_ns = price.ts_ns;
  trade.line = 8;
  trade.account = "new \"quoted\" account";
  trade.instrument = "BTC-PERP";
  trade.quantity = -1.0 / 3.0;
  trade.price = 91000.5;
  trade.vol = NAN;
  stream_event collateral;
  collateral.kind = stream_event_kind::collateral;
  collateral.account = "acc";
  collateral.amount = -1e15;
  stream_event mark;
  mark.kind = stream_event_kind::mark;
  mark.instrument = "ETH-C";
  mark.price = NAN;
  mark.vol = 0.55;
  return {price, trade, collateral, mark};
}

// `b` read back from the journal as `a` was written, in the fields the engine reads for the kind
// (the others are not journaled).
void expect_same(const stream_event& a, const stream_event& b) {
  EXPECT_EQ(a.kind, b.kind);
  EXPECT_EQ(a.ts_ns, b.ts_ns);
  EXPECT_EQ(a.line, b.line);
  EXPECT_EQ(a.underlying, b.underlying);
  const bool price = a.kind != stream_event_kind::collateral,
             vol = a.kind == stream_event_kind::price || a.kind == stream_event_kind::mark,
             quantity = a.kind == stream_event_kind::trade,
             amount = a.kind == stream_event_kind::collateral;
  for (auto [x, y] :
       {std::pair{price ? a.price : 0.0, b.price}, std::pair{vol ? a.vol : 0.0, b.vol},
        std::pair{quantity ? a.quantity : 0.0, b.quantity},
        std::pair{amount ? a.amount : 0.0, b.amount}}) {
    if (std::isnan(x))
      EXPECT_TRUE(std::isnan(y));
    else
      EXPECT_EQ(x, y);  // exactly
  }
  EXPECT_EQ(a.account, b.account);
  EXPECT_EQ(a.instrument, b.instrument);
}

std::vector<std::string> warnings;
void collect(const std::string& w) {
  warnings.push_back(w);
}

TEST(stream_journal, crc32_is_ieee) {
  EXPECT_EQ(crc32("123456789", 9), 0xcbf43926u);
}

TEST(stream_journal, updates_read_back_exactly_in_order) {
  test::temp_dir dir;
  const std::vector<stream_event> events = sample_events();
  {
    stream_journal j(dir / "j", "BOOK", collect);
    EXPECT_TRUE(j.recorded().empty());
    j.append(100, events);
    j.append(200, {});
    EXPECT_EQ(j.updates(), 2);
  }
  warnings.clear();
  stream_journal j(dir / "j", "BOOK", collect);
  EXPECT_TRUE(warnings.empty());
  ASSERT_EQ(j.recorded().size(), 2u);
  EXPECT_EQ(j.recorded()[0].ts_ns, 100);
  EXPECT_EQ(j.recorded()[1].ts_ns, 200);
  ASSERT_EQ(j.recorded()[0].events.size(), events.size());
  for (std::size_t i = 0; i < events.size(); ++i) expect_same(events[i], j.recorded()[0].events[i]);
  EXPECT_TRUE(j.recorded()[1].events.empty());
  // New updates go after the old ones.
  j.append(300, {});
  EXPECT_EQ(j.updates(), 3);
}

TEST(stream_journal, a_second_process_on_the_same_journal_is_refused) {
  test::temp_dir dir;
  stream_journal first(dir / "j", "BOOK", collect);
  EXPECT_THROW(stream_journal(dir / "j", "BOOK", collect), std::runtime_error);
}

TEST(stream_journal, a_torn_last_record_is_dropped_with_a_warning_and_cut_off) {
  test::temp_dir dir;
  {
    stream_journal j(dir / "j", "BOOK", collect);
    j.append(100, sample_events());
    j.append(200, sample_events());
  }
  const std::filesystem::path file = dir / "j" / "journal.msj";
  const std::string whole = test::read_file(file);
  const std::size_t second = whole.rfind('\n', whole.size() - 2) + 1;  // the last record's start
  for (const std::string& torn :
       {whole.substr(0, whole.size() - 1),           // the newline missing
        whole.substr(0, second + 30),                // cut in the middle
        whole.substr(0, whole.size() - 3) + "X}\n",  // a byte changed: the CRC says so
        whole + "0000"}) {
    test::write_file(file, torn);
    warnings.clear();
    {
      stream_journal j(dir / "j", "BOOK", collect);
      ASSERT_EQ(warnings.size(), 1u) << torn;
      EXPECT_NE(warnings[0].find("incomplete"), std::string::npos) << warnings[0];
      // Whole updates only: the damaged one is never misread as an update.
      EXPECT_EQ(j.recorded().size(), whole.size() < torn.size() ? 2u : 1u);
    }
    const std::string after = test::read_file(file);
    EXPECT_EQ(after, whole.size() < torn.size() ? whole : whole.substr(0, second));
  }
}

TEST(stream_journal, a_damaged_record_before_whole_ones_is_corruption) {
  test::temp_dir dir;
  {
    stream_journal j(dir / "j", "BOOK", collect);
    j.append(100, sample_events());
    j.append(200, sample_events());
  }
  const std::filesystem::path file = dir / "j" / "journal.msj";
  std::string text = test::read_file(file);
  const std::size_t first_update = text.find('\n') + 1;
  text[first_update + 20] ^= 1;  // inside the first update, with the second whole after it
  test::write_file(file, text);
  try {
    stream_journal j(dir / "j", "BOOK", collect);
    FAIL() << "a damaged journal was opened";
  } catch (const input_error& e) {
    EXPECT_NE(std::string(e.what()).find("corrupt"), std::string::npos) << e.what();
  }
}

TEST(stream_journal, a_journal_of_another_book_or_version_is_refused) {
  test::temp_dir dir;
  stream_journal(dir / "j", "BOOK", collect).append(100, sample_events());
  try {
    stream_journal j(dir / "j", "OTHER", collect);
    FAIL() << "a journal was opened for another book";
  } catch (const input_error& e) {
    EXPECT_NE(std::string(e.what()).find("another book"), std::string::npos) << e.what();
  }
  // Version 2 in an intact header.
  const std::string payload = R"({"book":"BOOK","format":"marginsync-journal","version":2})";
  char crc[9];
  std::snprintf(crc, sizeof crc, "%08x", crc32(payload.data(), payload.size()));
  test::write_file(dir / "j" / "journal.msj",
                   std::string(crc) + " " + std::to_string(payload.size()) + " " + payload + "\n");
  try {
    stream_journal j(dir / "j", "BOOK", collect);
    FAIL() << "a journal of another format version was opened";
  } catch (const input_error& e) {
    EXPECT_NE(std::string(e.what()).find("version 2"), std::string::npos) << e.what();
  }
}

TEST(stream_journal, the_book_identity_follows_its_files_and_parameters) {
  test::temp_dir dir;
  std::filesystem::create_directories(dir / "book");
  test::copy_sample_book(dir / "book");
  book_location where;
  where.book = dir / "book";
  const std::string id = book_identity(where, "p");
  EXPECT_EQ(id.size(), 64u);
  EXPECT_EQ(book_identity(where, "p"), id);
  EXPECT_NE(book_identity(where, "q"), id);
  test::write_file(dir / "book" / "accounts.csv",
                   test::read_file(dir / "book" / "accounts.csv") + "one_more,1,standard\n");
  EXPECT_NE(book_identity(where, "p"), id);
}

}  // namespace
}  // namespace msync
