// The binary snapshot: a round trip gives the same book and the same results as the CSV
// directory; a damaged or mismatched snapshot is refused with a reason, never misread.
#include <gtest/gtest.h>

#include <climits>
#include <cstring>
#include <functional>

#include "cpu/risk_order.hpp"
#include "io/book_snapshot.hpp"
#include "io/json_locator.hpp"
#include "marginsync/account_patch.hpp"
#include "marginsync/book_slice.hpp"
#include "marginsync/errors.hpp"
#include "synth/generate_book.hpp"
#include "test_support.hpp"

namespace msync {
namespace {

using test::temp_dir;
using test::write_file;

std::filesystem::path convert_sample(const temp_dir& dir) {
  const book_inputs in = load_book_inputs(book_paths::in_directory(test::sample_book()));
  const auto market = test::read_file(test::sample_book() / "market.json");
  const auto risk = test::read_file(test::sample_book() / "risk.json");
  const std::filesystem::path file = dir / "sample.msb";
  write_book_snapshot(in, market, risk, file);
  return file;
}

// Each section of a snapshot's bytes, in order: where its bytes start and how many (format 3: a
// 64-byte header, then per section a 64-byte block holding its u64 length, then its bytes padded to
// 64).
std::vector<std::pair<std::size_t, std::size_t>> sections_of(const std::string& bytes) {
  std::vector<std::pair<std::size_t, std::size_t>> out;
  for (std::size_t pos = 64; pos + 64 <= bytes.size();) {
    std::uint64_t length;
    std::memcpy(&length, bytes.data() + pos, 8);
    out.emplace_back(pos + 64, static_cast<std::size_t>(length));
    pos += 64 + (length + 63) / 64 * 64;
  }
  return out;
}
// Section numbers (docs/design.md 12.1).
constexpr std::size_t symbols_section = 3, account_ids_section = 12, quantities_section = 16,
                      exposure_offsets_section = 21;

std::string reason_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const input_error& e) {
    return e.problems().front().to_string();
  }
  return "(no error)";
}

TEST(book_snapshot, round_trip_is_exact) {
  temp_dir dir;
  const auto file = convert_sample(dir);
  EXPECT_TRUE(is_book_snapshot(file));
  EXPECT_FALSE(is_book_snapshot(test::sample_book() / "market.json"));
  const book_inputs a = load_book_inputs(book_paths::in_directory(test::sample_book()));
  const book_inputs b = load_book_at(book_location{file, {}, {}, {}, {}, {}});
  const book& x = a.positions;
  const book& y = b.positions;
  EXPECT_EQ(x.instruments.id, y.instruments.id);
  EXPECT_EQ(x.instruments.kind, y.instruments.kind);
  EXPECT_EQ(x.instruments.is_call, y.instruments.is_call);
  EXPECT_EQ(x.instruments.underlying, y.instruments.underlying);
  EXPECT_EQ(x.instruments.strike, y.instruments.strike);
  EXPECT_EQ(x.instruments.multiplier, y.instruments.multiplier);
  EXPECT_EQ(x.instruments.expiry_ns, y.instruments.expiry_ns);
  EXPECT_EQ(x.account_id, y.account_id);
  EXPECT_EQ(x.collateral, y.collateral);
  EXPECT_EQ(x.account_tier, y.account_tier);
  EXPECT_EQ(x.position_instrument, y.position_instrument);
  EXPECT_EQ(x.position_quantity, y.position_quantity);
  EXPECT_EQ(x.position_cost, y.position_cost);
  EXPECT_EQ(x.account_position_begin, y.account_position_begin);
  EXPECT_EQ(x.account_exposure_begin, y.account_exposure_begin);
  EXPECT_EQ(x.exposure_underlying, y.exposure_underlying);
  EXPECT_EQ(x.exposure_position_begin, y.exposure_position_begin);
  EXPECT_EQ(x.position_rows, y.position_rows);
  EXPECT_EQ(a.market.spot, b.market.spot);
  EXPECT_EQ(a.market.cholesky, b.market.cholesky);
  EXPECT_EQ(a.risk.scenarios, b.risk.scenarios);
  EXPECT_EQ(a.risk.tiers.size(), b.risk.tiers.size());
}

TEST(book_snapshot, damaged_files_are_refused) {
  temp_dir dir;
  const auto file = convert_sample(dir);
  const std::string bytes = test::read_file(file);
  auto load = [&](const std::string& content) {
    write_file(dir / "bad.msb", content);
    return reason_of([&] { read_book_snapshot(dir / "bad.msb", {}, {}); });
  };
  EXPECT_NE(load(bytes.substr(0, bytes.size() - 8)).find("truncated"), std::string::npos);
  EXPECT_NE(load(bytes.substr(0, 100)).find("truncated"), std::string::npos);
  EXPECT_NE(load(bytes + std::string(8, '\0')).find("unexpected bytes"), std::string::npos);
  std::string version = bytes;
  version[8] = 9;
  EXPECT_NE(load(version).find("format version 9"), std::string::npos);
  std::string magic = bytes;
  magic[0] = 'X';
  EXPECT_NE(load(magic).find("missing the MSYNCBK header"), std::string::npos);
  // The last section is position_rows (one u64); before it the exposure offsets: corrupt the final
  // offset so the offsets no longer end at the position count.
  std::string offsets = bytes;
  const auto sections = sections_of(bytes);
  ASSERT_EQ(sections.size(), 23u);
  const std::size_t last_offset =
      sections[exposure_offsets_section].first + sections[exposure_offsets_section].second - 8;
  offsets[last_offset] = static_cast<char>(offsets[last_offset] + 1);
  EXPECT_NE(load(offsets).find("inconsistent"), std::string::npos);
}

TEST(book_snapshot, market_and_risk_replacements_are_mapped_by_name) {
  temp_dir dir;
  const auto file = convert_sample(dir);
  // A market with a new underlying first: BTC and ETH keep their relative order, indices move.
  write_file(dir / "market.json",
             "{\"as_of\": \"2026-11-24T09:00:00Z\", \"underlyings\": [\n"
             "{\"symbol\": \"SOL\", \"spot\": 140, \"vol\": 0.9},\n"
             "{\"symbol\": \"BTC\", \"spot\": 90000, \"vol\": 0.5},\n"
             "{\"symbol\": \"ETH\", \"spot\": 3000, \"vol\": 0.6}]}\n");
  const book_inputs moved = read_book_snapshot(file, dir / "market.json", std::nullopt);
  const book_inputs csv = load_book_inputs(
      book_location{test::sample_book(), {}, {}, {}, dir / "market.json", {}}.directory_paths());
  EXPECT_EQ(moved.positions.instruments.underlying, csv.positions.instruments.underlying);
  EXPECT_EQ(moved.positions.exposure_underlying, csv.positions.exposure_underlying);

  // Swapped order cannot keep the positions' sort order: refused with the reason.
  write_file(dir / "market.json",
             "{\"as_of\": \"2026-11-24T09:00:00Z\", \"underlyings\": [\n"
             "{\"symbol\": \"ETH\", \"spot\": 3000, \"vol\": 0.6},\n"
             "{\"symbol\": \"BTC\", \"spot\": 90000, \"vol\": 0.5}]}\n");
  EXPECT_NE(reason_of([&] {
              read_book_snapshot(file, dir / "market.json", std::nullopt);
            }).find("another order"),
            std::string::npos);
  // A missing underlying.
  write_file(dir / "market.json",
             "{\"as_of\": \"2026-11-24T09:00:00Z\", \"underlyings\": [{\"symbol\": \"BTC\", "
             "\"spot\": 1, \"vol\": 0.5}]}");
  EXPECT_NE(reason_of([&] {
              read_book_snapshot(file, dir / "market.json", std::nullopt);
            }).find("'ETH' of the snapshot"),
            std::string::npos);
  // A risk configuration without a tier the accounts use.
  write_file(dir / "risk.json", "{\"tiers\": {\"standard\": {\"im_multiplier\": 1.0}}}");
  EXPECT_NE(reason_of([&] {
              read_book_snapshot(file, std::nullopt, dir / "risk.json");
            }).find("of the snapshot is not in the risk configuration"),
            std::string::npos);
  // A snapshot's own market.json errors name the snapshot.
  EXPECT_NE(reason_of([&] {
              load_book_at(book_location{file, dir / "x.csv", {}, {}, {}, {}});
            }).find("cannot be replaced"),
            std::string::npos);
}

// A snapshot is read, not trusted: every invariant the backends rely on is checked, so a damaged
// or crafted file is refused instead of producing wrong rows or reading out of bounds.
TEST(book_snapshot, broken_invariants_are_refused) {
  temp_dir dir;
  const book_inputs good = load_book_inputs(book_paths::in_directory(test::sample_book()));
  const auto market = test::read_file(test::sample_book() / "market.json");
  const auto risk = test::read_file(test::sample_book() / "risk.json");
  auto refused = [&](const std::function<void(book&)>& damage) {
    book_inputs in = good;
    damage(in.positions);
    write_book_snapshot(in, market, risk, dir / "bad.msb");
    return reason_of([&] { read_book_snapshot(dir / "bad.msb", {}, {}); });
  };
  EXPECT_NE(refused([](book& b) {
              b.account_id.set(1, b.account_id[0]);
            }).find("account id appears twice"),
            std::string::npos);
  // The id rule of every reader (docs/design.md 2.1, 12.2).
  for (const char* bad : {"acc\xff", "acc\x07", "", "\xc0\x80"}) {
    EXPECT_NE(refused([&](book& b) {
                b.account_id.set(2, bad);
              }).find("an id is empty, not valid UTF-8 or holds a control character"),
              std::string::npos)
        << bad;
    EXPECT_NE(refused([&](book& b) {
                b.instruments.id[2] = bad;
              }).find("an id is empty, not valid UTF-8 or holds a control character"),
              std::string::npos)
        << bad;
  }
  EXPECT_NE(refused([](book& b) {
              b.instruments.id[1] = b.instruments.id[0];
            }).find("instrument id appears twice"),
            std::string::npos);
  EXPECT_NE(refused([](book& b) {
              b.instruments.expiry_ns[2] = INT64_MIN;
            }).find("outside the supported years"),
            std::string::npos);
  EXPECT_NE(refused([](book& b) { b.position_quantity[0] = 1e300; }).find("out of range"),
            std::string::npos);
  EXPECT_NE(refused([](book& b) { b.instruments.is_call[0] = 7; }).find("neither call nor put"),
            std::string::npos);
  // protected_eth_long trades one underlying; give a two-exposure account its exposures reversed
  // is impossible without moving positions, so break the order of positions instead.
  EXPECT_NE(refused([](book& b) {
              const std::uint64_t p =
                  b.account_position_begin[1];  // short_option_seller: 2 BTC options
              std::swap(b.position_instrument[p], b.position_instrument[p + 1]);
              std::swap(b.position_quantity[p], b.position_quantity[p + 1]);
            }).find("not in increasing instrument order"),
            std::string::npos);
  EXPECT_NE(refused([](book& b) {
              // Split hedged_basis's one BTC exposure into two BTC exposures.
              b.exposure_underlying.insert(b.exposure_underlying.begin() + 1,
                                           b.exposure_underlying[0]);
              b.exposure_position_begin.insert(b.exposure_position_begin.begin() + 1, 1);
              for (std::size_t a = 1; a < b.account_exposure_begin.size(); ++a)
                ++b.account_exposure_begin[a];
            }).find("not in increasing underlying order"),
            std::string::npos);
  EXPECT_NE(refused([](book& b) { b.position_cost[0] = 5.0; }).find("carries an entry cost"),
            std::string::npos);
  EXPECT_NE(refused([](book& b) { b.account_id.set(2, ""); }).find("an id is empty"),
            std::string::npos);
  EXPECT_NE(refused([](book& b) { b.instruments.id[3].clear(); }).find("an id is empty"),
            std::string::npos);
  EXPECT_NE(refused([](book& b) {
              b.position_rows = b.positions() - 1;
            }).find("fewer position rows than positions"),
            std::string::npos);
}

// String offsets pointing past their section are refused before any string is built.
TEST(book_snapshot, string_offsets_past_the_section_are_refused) {
  temp_dir dir;
  const auto file = convert_sample(dir);
  std::string bytes = test::read_file(file);
  // The symbols list: u64 count, u64 offsets[count + 1], characters.
  const std::size_t symbols = sections_of(bytes)[symbols_section].first;
  const std::uint64_t huge = 1ULL << 40;
  std::memcpy(&bytes[symbols + 8 + 8], &huge, 8);  // offsets[1] of the symbols list
  test::write_file(dir / "bad.msb", bytes);
  EXPECT_NE(reason_of([&] {
              read_book_snapshot(dir / "bad.msb", {}, {});
            }).find("section 'symbols' has bad offsets"),
            std::string::npos);
}

// The arrays are used where they lie in the mapped file; a patch changes the book, never the file,
// and a copy of the book is its own.
TEST(book_snapshot, arrays_are_used_in_place_and_patches_never_touch_the_file) {
  temp_dir dir;
  const auto file = convert_sample(dir);
  const std::string before = test::read_file(file);
  book_inputs in = read_book_snapshot(file, {}, {});
  book& b = in.positions;
  EXPECT_TRUE(b.position_quantity.is_view());
  EXPECT_TRUE(b.collateral.is_view());
  EXPECT_TRUE(b.exposure_position_begin.is_view());
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(b.position_quantity.data()) % 64, 0u);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(b.account_position_begin.data()) % 64, 0u);
  const book original = b;  // a copy owns its elements
  EXPECT_FALSE(original.position_quantity.is_view());

  account_patch closed;
  add_closed(closed, b, 1, 123.0);
  apply_patch(b, closed);
  EXPECT_EQ(b.collateral[1], 123.0);
  EXPECT_EQ(b.position_quantity[b.account_position_begin[1]], 0.0);
  EXPECT_TRUE(b.position_quantity.is_view());  // written in place
  EXPECT_NE(original.collateral[1], 123.0);
  EXPECT_NE(original.position_quantity[original.account_position_begin[1]], 0.0);
  EXPECT_EQ(test::read_file(file), before);
  // Read again (while the patched mapping still lives): the file's values.
  const book_inputs again = read_book_snapshot(file, {}, {});
  EXPECT_EQ(again.positions.collateral, original.collateral);
  EXPECT_EQ(again.positions.position_quantity, original.position_quantity);
  EXPECT_EQ(again.positions.position_cost, original.position_cost);
  // Growing a view makes it owned; the file and the other book stay as they were.
  b.collateral.push_back(7.0);
  EXPECT_FALSE(b.collateral.is_view());
  EXPECT_EQ(b.collateral[1], 123.0);
  EXPECT_EQ(test::read_file(file), before);
}

// Account ids are read where they lie in the mapped string table (docs/design.md 12.2): no string
// per id. A copy, or an id appended, makes them owned; the ids read stay the directory's.
TEST(book_snapshot, account_ids_are_read_in_place) {
  temp_dir dir;
  const auto file = convert_sample(dir);
  const book_inputs csv = load_book_inputs(book_paths::in_directory(test::sample_book()));
  EXPECT_FALSE(csv.positions.account_id.is_view());
  book_inputs in = read_book_snapshot(file, {}, {});
  string_column& ids = in.positions.account_id;
  ASSERT_TRUE(ids.is_view());
  EXPECT_EQ(ids, csv.positions.account_id);
  const std::string mapped = test::read_file(file);
  const auto [start, length] = sections_of(mapped)[account_ids_section];
  EXPECT_EQ(std::string(ids[0]), mapped.substr(start + 8 * (ids.size() + 2), ids[0].size()));
  const string_column copy = ids;
  EXPECT_FALSE(copy.is_view());
  ids.push_back("newcomer");
  EXPECT_FALSE(ids.is_view());
  EXPECT_EQ(ids.back(), "newcomer");
  EXPECT_EQ(ids[0], copy[0]);
  EXPECT_LE(length, mapped.size());
}

// A book large enough for the checks to split into ranges on every core: the round trip is exact,
// and each check still reports what a serial reading would report first.
TEST(book_snapshot, checks_over_many_accounts_find_the_first_problem) {
  temp_dir dir;
  generate_options g;
  g.accounts = 70000;  // above the 65,536 where the checks go parallel
  g.underlyings = 3;
  g.positions_per_account = 2;
  generate_book(g, dir / "big");
  const book_inputs good = load_book_inputs(book_paths::in_directory(dir / "big"));
  const auto market = test::read_file(dir / "big" / "market.json");
  const auto risk = test::read_file(dir / "big" / "risk.json");
  write_book_snapshot(good, market, risk, dir / "good.msb");
  const book_inputs read = read_book_snapshot(dir / "good.msb", {}, {});
  EXPECT_EQ(read.positions.account_id, good.positions.account_id);
  EXPECT_EQ(read.positions.collateral, good.positions.collateral);
  EXPECT_EQ(read.positions.position_instrument, good.positions.position_instrument);
  EXPECT_EQ(read.positions.position_quantity, good.positions.position_quantity);
  EXPECT_EQ(read.positions.exposure_position_begin, good.positions.exposure_position_begin);

  auto refused = [&](const std::function<void(book&)>& damage) {
    book_inputs in = good;
    damage(in.positions);
    write_book_snapshot(in, market, risk, dir / "bad.msb");
    return reason_of([&] { read_book_snapshot(dir / "bad.msb", {}, {}); });
  };
  const std::string prefix =
      (dir / "bad.msb").string() + ": not a valid marginsync book snapshot: ";
  const std::size_t last = good.positions.accounts() - 1;
  // Duplicates far apart, and next to each other.
  EXPECT_EQ(refused([&](book& b) { b.account_id.set(last, b.account_id[3]); }),
            prefix + "an account id appears twice");
  EXPECT_EQ(refused([&](book& b) { b.account_id.set(40001, b.account_id[40000]); }),
            prefix + "an account id appears twice");
  // Ids that differ only past their first characters (equal hashes are compared in full).
  EXPECT_EQ(
      refused([&](book& b) {
        string_column ids;
        for (std::size_t a = 0; a < b.accounts(); ++a)
          ids.push_back(std::string(b.account_id[a]) + (a <= last ? "-same-long-suffix" : ""));
        b.account_id = std::move(ids);
      }).find("appears twice"),
      std::string::npos);
  EXPECT_EQ(refused([&](book& b) { b.account_id.set(50000, "caf\xc3\xa9\x01"); }),
            prefix + "an id is empty, not valid UTF-8 or holds a control character");
  EXPECT_EQ(refused([&](book& b) { b.account_id.set(60000, "caf\xc3\xa9"); }).find("not valid"),
            std::string::npos);  // UTF-8 is text
  EXPECT_EQ(refused([&](book& b) { b.position_quantity[b.positions() - 1] = NAN; }),
            prefix + "a quantity or entry cost is out of range");
  EXPECT_EQ(refused([&](book& b) { b.account_tier[last] = 99; }),
            prefix + "an account's tier index is out of range");
  EXPECT_EQ(refused([&](book& b) { b.exposure_underlying[b.exposures() - 1] = 99; }),
            prefix + "an exposure's underlying index is out of range");
  EXPECT_EQ(refused([&](book& b) { ++b.account_position_begin[last]; }),
            prefix + "exposures do not tile their account's positions");
  EXPECT_EQ(refused([&](book& b) { b.exposure_position_begin[5] = b.exposure_position_begin[7]; }),
            prefix + "exposure position offsets are inconsistent");
  EXPECT_EQ(refused([&](book& b) {
              b.position_instrument[b.positions() - 1] = static_cast<std::uint32_t>(1u << 30);
            }),
            prefix + "a position's instrument index is out of range");
  // Two problems of the layout in different ranges: the earlier account's is reported.
  const auto spot_position = [&](const book& b, std::size_t from) {
    for (std::size_t p = from; p < b.positions(); ++p)
      if (b.instruments.kind[b.position_instrument[p]] == instrument_kind::spot) return p;
    return b.positions();
  };
  const std::size_t late_spot = spot_position(good.positions, good.positions.positions() - 2000);
  ASSERT_LT(late_spot, good.positions.positions());
  EXPECT_EQ(refused([&](book& b) { b.position_cost[late_spot] = 1.0; }),
            prefix + "a spot or option position carries an entry cost");
  const auto two_positions = [&](const book& b, std::size_t from) {
    for (std::size_t x = from; x < b.exposures(); ++x)
      if (b.exposure_position_begin[x + 1] - b.exposure_position_begin[x] >= 2) return x;
    return b.exposures();
  };
  const std::size_t early = two_positions(good.positions, 1000);
  ASSERT_LT(early, good.positions.exposures());
  EXPECT_EQ(refused([&](book& b) {
              b.position_cost[late_spot] = 1.0;
              const std::uint64_t p = b.exposure_position_begin[early];
              std::swap(b.position_instrument[p], b.position_instrument[p + 1]);
              std::swap(b.position_cost[p], b.position_cost[p + 1]);
            }),
            prefix + "an exposure's positions are not in increasing instrument order");
  // A position filed under another underlying's exposure, where the exposures keep their order.
  EXPECT_EQ(
      refused([&](book& b) {
        const std::uint64_t p = b.exposure_position_begin[early];
        const std::uint32_t u = b.instruments.underlying[b.position_instrument[p]];
        for (std::uint32_t i = 0; i < b.instruments.size(); ++i)
          if (b.instruments.underlying[i] != u && b.instruments.kind[i] == instrument_kind::spot) {
            b.position_instrument[p + 1] = i;
            b.position_cost[p + 1] = 0.0;
            break;
          }
      }),
      prefix + "a position is filed under another underlying's exposure");
}

TEST(book_snapshot, not_a_book) {
  temp_dir dir;
  write_file(dir / "notes.txt", "hello");
  EXPECT_NE(reason_of([&] {
              load_book_at(book_location{dir / "notes.txt", {}, {}, {}, {}, {}});
            }).find("neither a book directory nor a marginsync snapshot"),
            std::string::npos);
  EXPECT_NE(reason_of([&] {
              load_book_at(book_location{dir / "nothing", {}, {}, {}, {}, {}});
            }).find("no such book directory or snapshot file"),
            std::string::npos);
}

// convert, then margin on the snapshot: the same files as on the directory.
TEST(book_snapshot, cli_results_match_the_directory) {
  temp_dir dir;
  const std::string book = (test::source_dir() / "data" / "generated").string();
  const auto c =
      test::run_cli("convert --book '" + book + "' --out '" + (dir / "g.msb").string() + "'");
  ASSERT_EQ(c.status, 0) << c.out;
  EXPECT_NE(c.out.find("wrote 1000 accounts"), std::string::npos) << c.out;
  const std::string common = " --backend cpu --scenarios 500 -q";
  ASSERT_EQ(test::run_cli("margin --book '" + book + "'" + common + " --out '" +
                          (dir / "a").string() + "'")
                .status,
            0);
  ASSERT_EQ(test::run_cli("margin --book '" + (dir / "g.msb").string() + "'" + common + " --out '" +
                          (dir / "b").string() + "'")
                .status,
            0);
  EXPECT_EQ(test::read_file(dir / "a" / "accounts.csv"),
            test::read_file(dir / "b" / "accounts.csv"));
  EXPECT_EQ(test::read_file(dir / "a" / "exposures.csv"),
            test::read_file(dir / "b" / "exposures.csv"));
  EXPECT_EQ(test::run_cli("convert --book '" + (dir / "g.msb").string() + "' --out '" +
                          (dir / "h.msb").string() + "'")
                .status,
            2);
}

TEST(book_snapshot, generate_writes_the_snapshot_convert_would) {
  temp_dir dir;
  const std::string args =
      "generate --accounts 200 --underlyings 4 --positions-per-account 3 --seed 8 ";
  ASSERT_EQ(test::run_cli(args + "--out '" + (dir / "csv").string() + "'").status, 0);
  ASSERT_EQ(test::run_cli(args + "--snapshot --out '" + (dir / "direct.msb").string() + "'").status,
            0);
  ASSERT_EQ(test::run_cli("convert --book '" + (dir / "csv").string() + "' --out '" +
                          (dir / "converted.msb").string() + "'")
                .status,
            0);
  EXPECT_EQ(test::read_file(dir / "direct.msb"), test::read_file(dir / "converted.msb"));
  // Nothing but the three files made here is left in the directory (no staging directory).
  std::size_t entries = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) {
    (void)e;
    ++entries;
  }
  EXPECT_EQ(entries, 3u);
}

// A part (read_book_snapshot_part, docs/design.md 16.2): the accounts picked, with their
// positions, the same as those accounts of the whole book; only the part's positions are checked,
// so a bad position elsewhere goes unseen and one in the part is refused as the whole read refuses
// it. The picker sees the whole book's accounts and its risk configuration.
TEST(book_snapshot, a_part_reads_and_checks_its_accounts_only) {
  temp_dir dir;
  const auto file = convert_sample(dir);
  const book_inputs whole = read_book_snapshot(file, {}, {});
  const std::vector<std::uint32_t> pick{1, 4, 5, 9};
  std::size_t seen_accounts = 0;
  const book_inputs part = read_book_snapshot_part(file, {}, {}, {}, [&](const book_inputs& in) {
    seen_accounts = in.positions.accounts();
    return pick;
  });
  EXPECT_EQ(seen_accounts, whole.positions.accounts());
  const book expected = slice_accounts(whole.positions, pick);
  ASSERT_EQ(part.positions.accounts(), pick.size());
  for (std::size_t i = 0; i < pick.size(); ++i)
    EXPECT_EQ(part.positions.account_id[i], expected.account_id[i]);
  EXPECT_EQ(
      std::vector<double>(part.positions.position_quantity.begin(),
                          part.positions.position_quantity.end()),
      std::vector<double>(expected.position_quantity.begin(), expected.position_quantity.end()));
  EXPECT_EQ(std::vector<std::uint64_t>(part.positions.exposure_position_begin.begin(),
                                       part.positions.exposure_position_begin.end()),
            std::vector<std::uint64_t>(expected.exposure_position_begin.begin(),
                                       expected.exposure_position_begin.end()));
  EXPECT_EQ(part.market.symbols, whole.market.symbols);

  // Account 0's first quantity out of range: the part without account 0 reads; with it, refused.
  std::string bytes = test::read_file(file);
  const std::size_t q = sections_of(bytes)[quantities_section].first +
                        whole.positions.account_position_begin[0] * sizeof(double);
  const double huge = 1e300;
  std::memcpy(&bytes[q], &huge, sizeof huge);
  write_file(dir / "bad.msb", bytes);
  EXPECT_EQ(
      read_book_snapshot_part(dir / "bad.msb", {}, {}, {}, [&](const book_inputs&) { return pick; })
          .positions.accounts(),
      pick.size());
  const std::string refused = reason_of([&] {
    read_book_snapshot_part(dir / "bad.msb", {}, {}, {}, [](const book_inputs&) {
      return std::vector<std::uint32_t>{0, 1};
    });
  });
  EXPECT_NE(refused.find("a quantity or entry cost is out of range"), std::string::npos) << refused;
  EXPECT_EQ(reason_of([&] { read_book_snapshot(dir / "bad.msb", {}, {}); }), refused);
}

// convert --account-order risk: the same accounts with the same positions, stored in scenario
// risk's order, which on that book is the identity (so a rank's part is one range of the file).
TEST(book_snapshot, risk_order_stores_the_accounts_as_risk_visits_them) {
  temp_dir dir;
  const book_paths paths = book_paths::in_directory(test::sample_book());
  const book_inputs input = load_book_inputs(paths);
  const book_inputs risk = convert_book_directory(paths, dir / "risk.msb", account_order::risk);
  const book_inputs back = read_book_snapshot(dir / "risk.msb", {}, {});
  const book& a = input.positions;
  const book& b = back.positions;
  const std::vector<std::uint32_t> order =
      cpu::accounts_in_risk_order(a.account_exposure_begin, a.exposure_underlying);
  ASSERT_EQ(b.accounts(), a.accounts());
  EXPECT_EQ(b.position_rows, a.position_rows);
  EXPECT_EQ(risk.positions.accounts(), a.accounts());
  bool moved = false;
  for (std::size_t i = 0; i < b.accounts(); ++i) {
    const std::uint32_t w = order[i];
    moved |= w != i;
    EXPECT_EQ(b.account_id[i], a.account_id[w]);
    EXPECT_EQ(b.collateral[i], a.collateral[w]);
    ASSERT_EQ(b.account_position_begin[i + 1] - b.account_position_begin[i],
              a.account_position_begin[w + 1] - a.account_position_begin[w]);
    for (std::uint64_t j = 0; j < b.account_position_begin[i + 1] - b.account_position_begin[i];
         ++j) {
      EXPECT_EQ(b.position_instrument[b.account_position_begin[i] + j],
                a.position_instrument[a.account_position_begin[w] + j]);
      EXPECT_EQ(b.position_quantity[b.account_position_begin[i] + j],
                a.position_quantity[a.account_position_begin[w] + j]);
    }
  }
  EXPECT_TRUE(moved) << "the sample book's input order is not already risk's";
  const std::vector<std::uint32_t> again =
      cpu::accounts_in_risk_order(b.account_exposure_begin, b.exposure_underlying);
  for (std::size_t i = 0; i < again.size(); ++i) EXPECT_EQ(again[i], i);
}

// A part sent by rank 0 (book_snapshot_bytes) reads back as the book it was made from.
TEST(book_snapshot, bytes_read_back_as_the_book) {
  const book_inputs in = load_book_inputs(book_paths::in_directory(test::sample_book()));
  const auto market = test::read_file(test::sample_book() / "market.json");
  const auto risk = test::read_file(test::sample_book() / "risk.json");
  const book_inputs part{in.market, in.risk, slice_accounts(in.positions, {2, 3, 7})};
  const book_inputs back =
      read_book_snapshot_bytes(book_snapshot_bytes(part, market, risk, ""), "part");
  ASSERT_EQ(back.positions.accounts(), 3u);
  EXPECT_EQ(back.positions.account_id[2], in.positions.account_id[7]);
  EXPECT_EQ(
      std::vector<double>(back.positions.position_cost.begin(), back.positions.position_cost.end()),
      std::vector<double>(part.positions.position_cost.begin(),
                          part.positions.position_cost.end()));
  EXPECT_EQ(back.risk.scenarios, in.risk.scenarios);
  const std::string bad = reason_of([] { read_book_snapshot_bytes("MSYNC", "rank 1's part"); });
  EXPECT_EQ(bad.rfind("rank 1's part: not a valid marginsync book snapshot", 0), 0u) << bad;
}

}  // namespace
}  // namespace msync
