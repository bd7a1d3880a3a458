// Tests of the synthetic book generator (host/generate_book.cpp): the five files of docs/design.md
// section 2, determinism for a seed, row counts, the shape of each account, a valid correlation
// matrix, and references that resolve. Whether the generated collateral gives every status is
// checked end to end with the engine elsewhere.
#include <gtest/gtest.h>

#include <charconv>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "marginsync/market.hpp"
#include "synth/generate_book.hpp"

namespace {

namespace fs = std::filesystem;

// A fresh directory under the system temp dir, removed with its contents at scope exit.
class scratch_dir {
 public:
  scratch_dir() {
    static std::mt19937_64 rng(std::random_device{}());
    path_ = fs::temp_directory_path() / ("msync-generate-test-" + std::to_string(rng()));
  }
  ~scratch_dir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  scratch_dir(const scratch_dir&) = delete;
  scratch_dir& operator=(const scratch_dir&) = delete;
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

const char* const kFiles[] = {"instruments.csv", "accounts.csv", "positions.csv", "market.json",
                              "risk.json"};

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<std::string> split(std::string_view line) {
  std::vector<std::string> out;
  std::size_t start = 0;
  for (;;) {
    const std::size_t comma = line.find(',', start);
    out.emplace_back(line.substr(
        start, comma == std::string_view::npos ? std::string_view::npos : comma - start));
    if (comma == std::string_view::npos) return out;
    start = comma + 1;
  }
}

// A CSV file as a header and rows of fields, looked up by column name.
struct csv_table {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
  std::size_t column(const std::string& name) const {
    for (std::size_t i = 0; i < header.size(); ++i)
      if (header[i] == name) return i;
    throw std::runtime_error("no column " + name);
  }
};

csv_table read_csv(const fs::path& p) {
  csv_table t;
  std::ifstream in(p, std::ios::binary);
  std::string line;
  if (!std::getline(in, line)) return t;
  t.header = split(line);
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    t.rows.push_back(split(line));
  }
  return t;
}

double number(const std::string& text) {
  double v = NAN;
  const auto res = std::from_chars(text.data(), text.data() + text.size(), v);
  if (res.ec != std::errc() || res.ptr != text.data() + text.size())
    throw std::runtime_error("not a number: '" + text + "'");
  return v;
}

msync::generate_options options(std::int64_t accounts, int underlyings, int per_account,
                                std::uint64_t seed) {
  msync::generate_options o;
  o.accounts = accounts;
  o.underlyings = underlyings;
  o.positions_per_account = per_account;
  o.seed = seed;
  return o;
}

// One generated book shared by the tests that only read it.
class GeneratedBook : public ::testing::Test {
 protected:
  static constexpr std::int64_t kAccounts = 3000;
  static constexpr int kUnderlyings = 23;  // past the named list: SYM21 .. SYM23
  static constexpr int kPerAccount = 6;

  static void SetUpTestSuite() {
    dir_ = new scratch_dir;
    report_ = msync::generate_book(options(kAccounts, kUnderlyings, kPerAccount, 42), dir_->path());
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  static fs::path file(const char* name) { return dir_->path() / name; }

  static scratch_dir* dir_;
  static msync::generate_report report_;
};

scratch_dir* GeneratedBook::dir_ = nullptr;
msync::generate_report GeneratedBook::report_;

TEST_F(GeneratedBook, WritesTheFiveFilesAndNoTemporaries) {
  for (const char* f : kFiles) EXPECT_TRUE(fs::is_regular_file(file(f))) << f;
  std::size_t entries = 0;
  for (const auto& e : fs::directory_iterator(dir_->path())) {
    ++entries;
    EXPECT_NE(e.path().extension(), ".tmp") << "left behind: " << e.path();
  }
  EXPECT_EQ(entries, 5u);
}

TEST_F(GeneratedBook, RowCountsMatchTheOptionsAndTheReport) {
  const csv_table accounts = read_csv(file("accounts.csv"));
  const csv_table positions = read_csv(file("positions.csv"));
  const csv_table instruments = read_csv(file("instruments.csv"));
  EXPECT_EQ(static_cast<std::int64_t>(accounts.rows.size()), kAccounts);
  EXPECT_EQ(static_cast<std::int64_t>(positions.rows.size()), kAccounts * kPerAccount);
  EXPECT_EQ(report_.accounts, kAccounts);
  EXPECT_EQ(report_.positions, kAccounts * kPerAccount);
  EXPECT_EQ(report_.instruments, static_cast<std::int64_t>(instruments.rows.size()));
  EXPECT_EQ(accounts.header, (std::vector<std::string>{"account_id", "collateral", "tier"}));
  EXPECT_EQ(positions.header,
            (std::vector<std::string>{"account_id", "instrument_id", "quantity", "entry_price"}));
  EXPECT_EQ(instruments.header,
            (std::vector<std::string>{"instrument_id", "kind", "underlying", "strike", "expiry",
                                      "option_type", "multiplier"}));
  EXPECT_EQ(accounts.rows.front()[0], "A0000001");
  EXPECT_EQ(accounts.rows.back()[0], "A0003000");
}

TEST_F(GeneratedBook, PositionsReferenceExistingAccountsAndInstruments) {
  const csv_table accounts = read_csv(file("accounts.csv"));
  const csv_table positions = read_csv(file("positions.csv"));
  const csv_table instruments = read_csv(file("instruments.csv"));
  std::set<std::string> account_ids, instrument_ids;
  for (const auto& r : accounts.rows) EXPECT_TRUE(account_ids.insert(r[0]).second) << r[0];
  std::map<std::string, std::string> kind_of;
  for (const auto& r : instruments.rows) {
    EXPECT_TRUE(instrument_ids.insert(r[0]).second) << "duplicate instrument " << r[0];
    kind_of[r[0]] = r[1];
  }
  std::size_t rows_ok = 0;
  for (const auto& r : positions.rows) {
    ASSERT_EQ(r.size(), 4u);
    ASSERT_TRUE(account_ids.count(r[0])) << r[0];
    ASSERT_TRUE(instrument_ids.count(r[1])) << r[1];
    const double q = number(r[2]);
    EXPECT_TRUE(std::isfinite(q) && q != 0.0) << r[2];
    const std::string& kind = kind_of[r[1]];
    if (kind == "perpetual" || kind == "future") {
      EXPECT_GT(number(r[3]), 0.0) << r[1];
    } else {
      EXPECT_TRUE(r[3].empty()) << "entry_price for " << kind << " " << r[1];
    }
    ++rows_ok;
  }
  EXPECT_EQ(rows_ok, positions.rows.size());
  // Account rows: a finite collateral and a tier of risk.json.
  const nlohmann::json risk = nlohmann::json::parse(slurp(file("risk.json")));
  std::size_t vip = 0, negative = 0;
  for (const auto& r : accounts.rows) {
    ASSERT_EQ(r.size(), 3u);
    EXPECT_TRUE(std::isfinite(number(r[1])));
    EXPECT_TRUE(risk["tiers"].contains(r[2])) << r[2];
    vip += r[2] == "vip";
    negative += number(r[1]) < 0.0;
  }
  EXPECT_GT(vip, 0u);
  EXPECT_LT(vip, accounts.rows.size() / 10);  // about 5%
  EXPECT_LT(negative, accounts.rows.size() / 4);
}

TEST_F(GeneratedBook, EveryAccountTradesOneToThreeUnderlyings) {
  const csv_table instruments = read_csv(file("instruments.csv"));
  const csv_table positions = read_csv(file("positions.csv"));
  std::map<std::string, std::string> underlying_of;
  for (const auto& r : instruments.rows) underlying_of[r[0]] = r[2];
  std::map<std::string, std::set<std::string>> traded;
  std::map<std::string, int> rows_of;
  for (const auto& r : positions.rows) {
    traded[r[0]].insert(underlying_of.at(r[1]));
    ++rows_of[r[0]];
  }
  ASSERT_EQ(static_cast<std::int64_t>(traded.size()), kAccounts);
  std::size_t count[4] = {0, 0, 0, 0};
  for (const auto& [account, set] : traded) {
    ASSERT_GE(set.size(), 1u) << account;
    ASSERT_LE(set.size(), 3u) << account;
    ++count[set.size()];
    EXPECT_EQ(rows_of[account], kPerAccount) << account;
  }
  EXPECT_GT(count[1], 0u);
  EXPECT_GT(count[2], 0u);
  EXPECT_GT(count[3], 0u);
}

TEST_F(GeneratedBook, EveryKindAndOptionTypeAppearsInInstrumentsAndPositions) {
  const csv_table instruments = read_csv(file("instruments.csv"));
  const csv_table positions = read_csv(file("positions.csv"));
  std::map<std::string, std::string> kind_of;
  std::set<std::string> option_types, multipliers;
  for (const auto& r : instruments.rows) {
    kind_of[r[0]] = r[1];
    const bool option = r[1] == "option", dated = option || r[1] == "future";
    EXPECT_EQ(r[3].empty(), !option) << r[0];
    EXPECT_EQ(r[4].empty(), !dated) << r[0];
    EXPECT_EQ(r[5].empty(), !option) << r[0];
    if (option) {
      EXPECT_GT(number(r[3]), 0.0) << r[0];
      option_types.insert(r[5]);
    }
    if (dated) {
      EXPECT_GT(r[4], std::string("2026-11-24T08:00:00Z")) << r[0];  // after as_of
    }
    EXPECT_GT(number(r[6]), 0.0) << r[0];
    multipliers.insert(r[6]);
  }
  EXPECT_EQ(option_types, (std::set<std::string>{"call", "put"}));
  EXPECT_GE(multipliers.size(), 2u) << "the multiplier column is exercised";
  std::map<std::string, std::size_t> rows_per_kind;
  std::size_t short_options = 0;
  for (const auto& r : positions.rows) {
    ++rows_per_kind[kind_of.at(r[1])];
    short_options += kind_of.at(r[1]) == "option" && number(r[2]) < 0.0;
  }
  for (const char* kind : {"spot", "perpetual", "future", "option"})
    EXPECT_GT(rows_per_kind[kind], 0u) << kind;
  EXPECT_EQ(rows_per_kind.size(), 4u);
  EXPECT_GT(short_options, 0u);
}

TEST_F(GeneratedBook, MarketHasNamedUnderlyingsAndAValidCorrelationMatrix) {
  const nlohmann::json m = nlohmann::json::parse(slurp(file("market.json")));
  EXPECT_EQ(m["as_of"], "2026-11-24T08:00:00Z");
  EXPECT_TRUE(m["rate"].is_number());
  const auto& list = m["underlyings"];
  ASSERT_EQ(list.size(), static_cast<std::size_t>(kUnderlyings));
  EXPECT_EQ(list[0]["symbol"], "BTC");
  EXPECT_EQ(list[1]["symbol"], "ETH");
  EXPECT_EQ(list[20]["symbol"], "SYM21");
  EXPECT_EQ(list[22]["symbol"], "SYM23");
  std::set<std::string> symbols;
  for (const auto& u : list) {
    EXPECT_TRUE(symbols.insert(u["symbol"].get<std::string>()).second);
    EXPECT_GT(u["spot"].get<double>(), 0.0);
    EXPECT_GE(u["vol"].get<double>(), 0.3);
    EXPECT_LE(u["vol"].get<double>(), 1.3);
    EXPECT_EQ(u["dividend_yield"].get<double>(), 0.0);
    EXPECT_LT(std::fabs(u["funding_rate"].get<double>()), 0.001);
  }

  const auto& c = m["correlation"];
  const std::size_t n = list.size();
  ASSERT_EQ(c.size(), n);
  std::vector<double> a(n * n);
  for (std::size_t i = 0; i < n; ++i) {
    ASSERT_EQ(c[i].size(), n);
    for (std::size_t j = 0; j < n; ++j) a[i * n + j] = c[i][j].get<double>();
  }
  for (std::size_t i = 0; i < n; ++i) {
    EXPECT_EQ(a[i * n + i], 1.0);
    for (std::size_t j = 0; j < n; ++j) {
      EXPECT_EQ(a[i * n + j], a[j * n + i]) << i << "," << j;
      EXPECT_LE(std::fabs(a[i * n + j]), 1.0);
      if (i != j) {
        EXPECT_GT(a[i * n + j], 0.0) << "crypto majors co-move";
      }
    }
  }
  // Cholesky: every pivot positive (the one-factor matrix is positive definite).
  std::vector<double> l(n * n, 0.0);
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = 0; j <= i; ++j) {
      double s = a[i * n + j];
      for (std::size_t k = 0; k < j; ++k) s -= l[i * n + k] * l[j * n + k];
      if (i == j) {
        ASSERT_GT(s, 1e-6) << "pivot " << i;
        l[i * n + i] = std::sqrt(s);
      } else {
        l[i * n + j] = s / l[j * n + j];
      }
    }
  }
  // L L^T gives the matrix back.
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < n; ++j) {
      double s = 0.0;
      for (std::size_t k = 0; k < n; ++k) s += l[i * n + k] * l[j * n + k];
      EXPECT_NEAR(s, a[i * n + j], 1e-12);
    }
}

TEST_F(GeneratedBook, RiskFileHasDefaultsAndTiers) {
  const nlohmann::json r = nlohmann::json::parse(slurp(file("risk.json")));
  EXPECT_EQ(r["scenarios"], 10000);
  EXPECT_EQ(r["confidence"], 0.99);
  EXPECT_EQ(r["maintenance_ratio"], 0.6);
  EXPECT_EQ(r["preemptive_threshold"], 0.25);
  EXPECT_EQ(r["tiers"]["standard"]["im_multiplier"], 1);
  EXPECT_EQ(r["tiers"]["standard"]["credit_limit"], 0);
  EXPECT_EQ(r["tiers"]["vip"]["im_multiplier"], 0.8);
  EXPECT_GT(r["tiers"]["vip"]["credit_limit"].get<double>(), 0.0);
}

TEST_F(GeneratedBook, NumbersAreInShortestRoundTripForm) {
  // Re-printing each parsed number in shortest form gives the same text back.
  auto check = [](const std::string& text) {
    if (text.empty()) return;
    const double v = number(text);
    char buf[64];
    const auto res = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed);
    ASSERT_EQ(res.ec, std::errc());
    EXPECT_EQ(std::string(buf, res.ptr), text);
  };
  const csv_table positions = read_csv(file("positions.csv"));
  for (std::size_t i = 0; i < positions.rows.size(); i += 7) {
    check(positions.rows[i][2]);
    check(positions.rows[i][3]);
  }
  for (const auto& r : read_csv(file("accounts.csv")).rows) check(r[1]);
  for (const auto& r : read_csv(file("instruments.csv")).rows) {
    check(r[3]);
    check(r[6]);
  }
}

TEST(GenerateBook, SameSeedSameBytesOtherSeedOtherBook) {
  scratch_dir a, b, c;
  msync::generate_book(options(500, 7, 4, 7), a.path());
  msync::generate_book(options(500, 7, 4, 7), b.path());
  msync::generate_book(options(500, 7, 4, 8), c.path());
  for (const char* f : kFiles) {
    const std::string text = slurp(a.path() / f);
    EXPECT_FALSE(text.empty()) << f;
    EXPECT_EQ(text, slurp(b.path() / f)) << f;
  }
  EXPECT_NE(slurp(a.path() / "positions.csv"), slurp(c.path() / "positions.csv"));
  EXPECT_NE(slurp(a.path() / "accounts.csv"), slurp(c.path() / "accounts.csv"));
}

TEST(GenerateBook, AnAccountDoesNotDependOnHowManyOthersThereAre) {
  // Draws are keyed by account index, so a small book is a prefix of a larger one, also across the
  // generator's chunk and thread boundaries.
  scratch_dir small, large;
  msync::generate_book(options(40, 5, 5, 3), small.path());
  msync::generate_book(options(60000, 5, 5, 3), large.path());
  for (const char* f : {"accounts.csv", "positions.csv"}) {
    const std::string s = slurp(small.path() / f);
    const std::string l = slurp(large.path() / f);
    ASSERT_GT(l.size(), s.size());
    EXPECT_EQ(l.compare(0, s.size(), s), 0) << f;
  }
  const csv_table positions = read_csv(large.path() / "positions.csv");
  EXPECT_EQ(positions.rows.size(), 300000u);
  EXPECT_EQ(positions.rows.back()[0], "A0060000");
}

TEST(GenerateBook, OnePositionPerAccountMeansOneUnderlying) {
  scratch_dir d;
  msync::generate_book(options(200, 1, 1, 5), d.path());
  const csv_table positions = read_csv(d.path() / "positions.csv");
  ASSERT_EQ(positions.rows.size(), 200u);
  for (const auto& r : positions.rows) EXPECT_EQ(r[1].rfind("BTC-", 0), 0u) << r[1];
}

// A book without accounts, or with more underlyings than a market may list, would not load.
TEST(GenerateBook, RefusesZeroAccountsAndTooManyUnderlyings) {
  scratch_dir d;
  EXPECT_THROW(msync::generate_book(options(0, 2, 3, 1), d.path()), std::invalid_argument);
  EXPECT_THROW(msync::generate_book(options(1, static_cast<int>(msync::max_underlyings) + 1, 3, 1),
                                    d.path()),
               std::invalid_argument);
  EXPECT_FALSE(std::filesystem::exists(d.path() / "accounts.csv"));
}

TEST(GenerateBook, OverwritesAnExistingBookAndCreatesMissingDirectories) {
  scratch_dir d;
  const fs::path nested = d.path() / "a" / "b";
  msync::generate_book(options(30, 3, 2, 1), nested);
  const std::string first = slurp(nested / "positions.csv");
  msync::generate_book(options(10, 3, 2, 1), nested);
  const std::string second = slurp(nested / "positions.csv");
  EXPECT_LT(second.size(), first.size());
  EXPECT_EQ(first.compare(0, second.size(), second), 0);
}

TEST(GenerateBook, RejectsBadOptionsAndUnwritableDirectories) {
  scratch_dir d;
  EXPECT_THROW(msync::generate_book(options(-1, 2, 2, 1), d.path()), std::invalid_argument);
  EXPECT_THROW(msync::generate_book(options(10, 0, 2, 1), d.path()), std::invalid_argument);
  EXPECT_THROW(msync::generate_book(options(10, 2, 0, 1), d.path()), std::invalid_argument);
  // A path under a regular file cannot be a directory.
  fs::create_directories(d.path());
  std::ofstream(d.path() / "plain") << "x";
  try {
    msync::generate_book(options(10, 2, 2, 1), d.path() / "plain" / "book");
    FAIL() << "expected std::runtime_error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("plain"), std::string::npos) << e.what();
  }
}

}  // namespace
