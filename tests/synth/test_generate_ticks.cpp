// Tests of the tick-stream generator (host/generate_ticks.cpp, `generate --ticks`): determinism,
// the shape of the stream (rows, timestamps, prices), the statistics of its returns against the
// market's vols and correlation, fat tails with jumps, option checks, the CLI, and the sample
// streams of data/streams/ (their documented anomalies).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "io/load_inputs.hpp"
#include "io/number_parse.hpp"
#include "marginsync/cholesky.hpp"
#include "marginsync/errors.hpp"
#include "synth/generate_ticks.hpp"
#include "test_support.hpp"

namespace msync {
namespace {

constexpr double seconds_per_year = 31536000.0;  // ACT/365, as the generator

market_state sample_market() {
  problem_list problems;
  market_state m = load_market(test::sample_book() / "market.json", problems);
  EXPECT_TRUE(problems.empty());
  return m;
}

// Three underlyings with distinct vols and correlations, built here (not from a file).
market_state three_underlyings() {
  market_state m;
  m.as_of_ns = 1795939200LL * 1000000000LL;  // 2026-11-29T08:00:00Z
  m.symbols = {"AAA", "BBB", "CCC"};
  m.spot = {100.0, 0.25, 40000.0};
  m.vol = {0.5, 1.2, 0.3};
  m.dividend_yield = {0.0, 0.0, 0.0};
  m.funding_rate = {0.0, 0.0, 0.0};
  m.correlation = {1.0, 0.3, -0.2, 0.3, 1.0, 0.5, -0.2, 0.5, 1.0};
  m.cholesky = cholesky_psd(m.correlation, 3).lower;
  return m;
}

struct tick_row {
  std::int64_t ts_ns;
  std::string underlying;
  double price;
};

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) out.push_back(line);
  return out;
}

// A generated stream's data rows; fails the test on a header or field that is not as written.
std::vector<tick_row> read_ticks(const std::filesystem::path& file) {
  const std::vector<std::string> lines = lines_of(test::read_file(file));
  std::vector<tick_row> rows;
  EXPECT_FALSE(lines.empty());
  if (lines.empty()) return rows;
  EXPECT_EQ(lines[0], "timestamp,underlying,price");
  for (std::size_t i = 1; i < lines.size(); ++i) {
    const std::string& l = lines[i];
    const std::size_t a = l.find(','), b = l.find(',', a + 1);
    EXPECT_TRUE(a != std::string::npos && b != std::string::npos &&
                l.find(',', b + 1) == std::string::npos)
        << l;
    tick_row r{};
    EXPECT_EQ(parse_timestamp(l.substr(0, a), r.ts_ns), "") << l;
    r.underlying = l.substr(a + 1, b - a - 1);
    EXPECT_EQ(parse_number(l.substr(b + 1), r.price), "") << l;
    rows.push_back(r);
  }
  return rows;
}

// Log returns of each underlying (rows in update order, `n` underlyings per update).
std::vector<std::vector<double>> log_returns(const std::vector<tick_row>& rows,
                                             const market_state& m) {
  const std::size_t n = m.size();
  std::vector<std::vector<double>> r(n);
  std::vector<double> last = m.spot;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const std::size_t u = i % n;
    r[u].push_back(std::log(rows[i].price / last[u]));
    last[u] = rows[i].price;
  }
  return r;
}

// Four hours of generate_ticks on `m` (default rate: one update a second), as log returns.
std::vector<std::vector<double>> four_hours_of_returns(const market_state& m,
                                                       double jumps_per_hour) {
  test::temp_dir dir;
  tick_generate_options o;
  o.seconds = 4 * 3600;
  o.jumps_per_hour = jumps_per_hour;
  generate_ticks(m, o, dir / "t.csv");
  return log_returns(read_ticks(dir / "t.csv"), m);
}

double mean(const std::vector<double>& x) {
  double s = 0.0;
  for (double v : x) s += v;
  return s / static_cast<double>(x.size());
}

double central_moment(const std::vector<double>& x, int power) {
  const double mu = mean(x);
  double s = 0.0;
  for (double v : x) s += std::pow(v - mu, power);
  return s / static_cast<double>(x.size());
}

double sample_sd(const std::vector<double>& x) {
  return std::sqrt(central_moment(x, 2) * static_cast<double>(x.size()) /
                   static_cast<double>(x.size() - 1));
}

double kurtosis(const std::vector<double>& x) {
  const double m2 = central_moment(x, 2);
  return central_moment(x, 4) / (m2 * m2);
}

double correlation(const std::vector<double>& x, const std::vector<double>& y) {
  const double mx = mean(x), my = mean(y);
  double sxy = 0.0, sxx = 0.0, syy = 0.0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) * (x[i] - mx);
    syy += (y[i] - my) * (y[i] - my);
  }
  return sxy / std::sqrt(sxx * syy);
}

TEST(generate_ticks, same_options_give_the_same_bytes_and_another_seed_others) {
  test::temp_dir dir;
  const market_state m = sample_market();
  tick_generate_options o;
  o.seconds = 600;
  o.jumps_per_hour = 30;
  generate_ticks(m, o, dir / "a.csv");
  generate_ticks(m, o, dir / "b.csv");
  o.seed = 2;
  generate_ticks(m, o, dir / "c.csv");
  const std::string a = test::read_file(dir / "a.csv");
  EXPECT_EQ(a, test::read_file(dir / "b.csv"));
  EXPECT_NE(a, test::read_file(dir / "c.csv"));
  // Nothing but the three streams is left behind (no temporary files).
  std::size_t files = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir.path())) ++files;
  EXPECT_EQ(files, 3u);
}

TEST(generate_ticks, one_row_per_underlying_per_timestamp_in_order) {
  test::temp_dir dir;
  const market_state m = three_underlyings();
  tick_generate_options o;
  o.seconds = 60;
  o.rate_hz = 2.5;  // a period of 0.4 s: fractional timestamps
  const tick_generate_report r = generate_ticks(m, o, dir / "t.csv");
  EXPECT_EQ(r.updates, 150);
  EXPECT_EQ(r.ticks, 450);
  const std::vector<tick_row> rows = read_ticks(dir / "t.csv");
  ASSERT_EQ(rows.size(), 450u);
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const std::size_t k = i / 3 + 1, u = i % 3;
    EXPECT_EQ(rows[i].underlying, m.symbols[u]);
    // k / rate_hz seconds after as_of: k * 400 ms, exactly; equal across the update and so
    // strictly increasing per underlying.
    EXPECT_EQ(rows[i].ts_ns, m.as_of_ns + static_cast<std::int64_t>(k) * 400000000LL) << i;
    EXPECT_TRUE(std::isfinite(rows[i].price) && rows[i].price > 0.0) << i;
  }
  // A decimal length whose product with the rate is whole in decimal but not in binary
  // (0.29 * 100 = 28.999...) still gives that many updates.
  o.seconds = 0.29;
  o.rate_hz = 100;
  EXPECT_EQ(generate_ticks(m, o, dir / "u.csv").updates, 29);
}

// Without jumps, log returns are normal with sd vol * sqrt(dt) and the market's correlation.
TEST(generate_ticks, diffusion_has_the_market_vols_and_correlation) {
  const market_state m = three_underlyings();
  const auto r = four_hours_of_returns(m, 0);
  const double n = static_cast<double>(r[0].size());
  ASSERT_EQ(r[0].size(), 14400u);
  const double dt = 1.0 / seconds_per_year;
  for (std::size_t u = 0; u < 3; ++u) {
    // The sample sd of n normals has a relative standard error of 1 / sqrt(2 (n - 1)) (0.59%
    // here): 4 of those.
    const double expected = m.vol[u] * std::sqrt(dt);
    EXPECT_NEAR(sample_sd(r[u]) / expected, 1.0, 4.0 / std::sqrt(2.0 * (n - 1.0))) << m.symbols[u];
    // Normal returns: kurtosis 3, with a standard error of sqrt(24 / n) (0.04).
    EXPECT_NEAR(kurtosis(r[u]), 3.0, 4.0 * std::sqrt(24.0 / n)) << m.symbols[u];
  }
  // The sample correlation's standard error is about (1 - rho^2) / sqrt(n): 4 of those.
  for (std::size_t i = 0; i < 3; ++i)
    for (std::size_t j = 0; j < i; ++j) {
      const double rho = m.correlation[i * 3 + j];
      EXPECT_NEAR(correlation(r[i], r[j]), rho, 4.0 * (1.0 - rho * rho) / std::sqrt(n))
          << i << "," << j;
    }
}

// With the sample market (BTC/ETH 0.8) too, from its market.json's Cholesky factor.
TEST(generate_ticks, sample_market_correlation) {
  const market_state m = sample_market();
  const auto r = four_hours_of_returns(m, 0);
  const double n = static_cast<double>(r[0].size());
  EXPECT_NEAR(correlation(r[0], r[1]), 0.8, 4.0 * (1.0 - 0.64) / std::sqrt(n));
}

// Jumps: returns far beyond the diffusion (fat tails), about as many as the Poisson rate says.
TEST(generate_ticks, jumps_give_fat_tails) {
  const market_state m = sample_market();
  const auto r = four_hours_of_returns(m, 60);  // 240 expected jumps per underlying
  const double dt = 1.0 / seconds_per_year;
  for (std::size_t u = 0; u < m.size(); ++u) {
    // A jump (log sd 0.02) dwarfs a second's diffusion (sd about 1e-4): the mixture's kurtosis is
    // near 3 + 3 / (jump probability per tick) = 183; a normal's is 3.
    EXPECT_GT(kurtosis(r[u]), 30.0) << m.symbols[u];
    // Returns beyond 10 diffusion sds are jumps (a jump smaller than that has probability 4 to
    // 5%): Poisson(240) with a sd of 15.5 jumps, +-4 sds around 0.95 * 240.
    const double cut = 10.0 * m.vol[u] * std::sqrt(dt);
    int big = 0;
    for (double x : r[u]) big += std::fabs(x) > cut ? 1 : 0;
    EXPECT_NEAR(big, 0.95 * 240, 4 * 15.5) << m.symbols[u];
  }
}

TEST(generate_ticks, rejects_bad_options_and_unwritable_files) {
  test::temp_dir dir;
  const market_state m = sample_market();
  auto with = [](auto change) {
    tick_generate_options o;
    change(o);
    return o;
  };
  const tick_generate_options bad[] = {
      with([](tick_generate_options& o) { o.seconds = 0; }),
      with([](tick_generate_options& o) { o.seconds = NAN; }),
      with([](tick_generate_options& o) { o.rate_hz = -1; }),
      with([](tick_generate_options& o) { o.rate_hz = 2e9; }),
      with([](tick_generate_options& o) { o.jumps_per_hour = -0.5; }),
      with([](tick_generate_options& o) { o.jump_vol = INFINITY; }),
      with([](tick_generate_options& o) {
        o.rate_hz = 1e-3;
        o.jumps_per_hour = 1e6;  // 277,778 expected jumps between two ticks
      }),
  };
  for (const tick_generate_options& o : bad) {
    EXPECT_NE(tick_generate_problem(o), "");
    EXPECT_THROW(generate_ticks(m, o, dir / "t.csv"), std::invalid_argument);
  }
  EXPECT_EQ(tick_generate_problem(tick_generate_options{}), "");
  // Past the supported timestamps (2149).
  const tick_generate_options too_long = with([](tick_generate_options& o) {
    o.seconds = 1e10;  // 317 years
    o.rate_hz = 1e-7;
    o.jumps_per_hour = 0;
  });
  EXPECT_EQ(tick_generate_problem(too_long), "");
  EXPECT_THROW(generate_ticks(m, too_long, dir / "t.csv"), std::invalid_argument);
  EXPECT_FALSE(std::filesystem::exists(dir / "t.csv"));
  // A missing directory: the error names the file.
  const auto missing = dir / "no-such-dir" / "t.csv";
  try {
    generate_ticks(m, tick_generate_options{}, missing);
    ADD_FAILURE() << "expected a runtime_error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(missing.string()), std::string::npos) << e.what();
  }
}

TEST(generate_ticks, cli_writes_a_stream_for_the_generated_market) {
  test::temp_dir dir;
  const auto book = dir / "book";
  const auto ticks = dir / "ticks.csv";
  const test::command_result r =
      test::run_cli("generate --accounts 20 --underlyings 3 --out '" + book.string() +
                    "' --ticks '" + ticks.string() + "' --tick-seconds 60 --tick-rate 2");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("wrote 360 ticks (120 updates) to " + ticks.string()), std::string::npos)
      << r.out;
  problem_list problems;
  const market_state m = load_market(book / "market.json", problems);
  const std::vector<tick_row> rows = read_ticks(ticks);
  ASSERT_EQ(rows.size(), 360u);
  EXPECT_EQ(rows[0].underlying, m.symbols[0]);
  EXPECT_EQ(rows[0].ts_ns, m.as_of_ns + 500000000LL);

  // A snapshot holds the same market, so the same stream.
  const auto snap_ticks = dir / "snap-ticks.csv";
  const test::command_result s = test::run_cli(
      "generate --accounts 20 --underlyings 3 --snapshot --out '" + (dir / "book.msb").string() +
      "' --ticks '" + snap_ticks.string() + "' --tick-seconds 60 --tick-rate 2");
  ASSERT_EQ(s.status, 0) << s.out;
  EXPECT_EQ(test::read_file(snap_ticks), test::read_file(ticks));

  for (const char* bad :
       {"--tick-seconds 0", "--tick-rate -2", "--jumps-per-hour -1", "--tick-rate 2e9"}) {
    const test::command_result b =
        test::run_cli("generate --accounts 5 --out '" + (dir / "bad").string() + "' --ticks '" +
                      (dir / "bad.csv").string() + "' " + bad);
    EXPECT_EQ(b.status, 2) << bad << ": " << b.out;
    EXPECT_FALSE(std::filesystem::exists(dir / "bad"))
        << bad << ": checked before the book is generated";
  }
}

// The sample streams of data/streams/ are where data/streams/README.md says, with the anomalies
// it lists (a light check; make_streams.py checks them as it writes).
TEST(generate_ticks, sample_streams_match_their_readme) {
  const auto streams = test::source_dir() / "data" / "streams";
  const std::vector<std::string> calm = lines_of(test::read_file(streams / "calm_hour.csv"));
  ASSERT_EQ(calm.size(), 7201u);
  EXPECT_EQ(calm[0], "timestamp,underlying,price");
  EXPECT_EQ(calm[1].rfind("2026-11-24T08:00:01Z,BTC,", 0), 0u) << calm[1];
  EXPECT_EQ(calm[7200].rfind("2026-11-24T09:00:00Z,ETH,", 0), 0u) << calm[7200];

  const std::vector<std::string> crash = lines_of(test::read_file(streams / "crash.jsonl"));
  ASSERT_EQ(crash.size(), 4800u);
  EXPECT_EQ(crash[0].rfind(R"({"ts": "2026-11-24T08:00:01Z", "underlying": "BTC", "price": )", 0),
            0u)
      << crash[0];

  const std::vector<std::string> stale =
      lines_of(test::read_file(streams / "stale_out_of_order.csv"));
  ASSERT_EQ(stale.size(), 1188u);
  auto line = [&](std::size_t number) { return stale[number - 1]; };  // 1-based, as the README
  EXPECT_EQ(line(425), "2026-11-24T08:03:30Z,BTC,n/a");
  EXPECT_EQ(line(917), "2026-11-24T08:07:45Z,DOGE,0.16");
  EXPECT_EQ(line(603).rfind("2026-11-24T08:04:59Z,ETH,", 0), 0u);
  EXPECT_EQ(line(625).rfind("2026-11-24T08:05:20Z,ETH,", 0), 0u);
  // Out of order: exactly the README's five lines are older than their underlying's last tick.
  std::vector<std::size_t> late;
  std::int64_t last[2] = {0, 0};
  for (std::size_t i = 2; i <= stale.size(); ++i) {
    const std::string& l = line(i);
    const std::size_t a = l.find(',');
    const std::string sym = l.substr(a + 1, 3);
    if (sym != "BTC" && sym != "ETH") continue;
    std::int64_t ts = 0;
    ASSERT_EQ(parse_timestamp(l.substr(0, a), ts), "") << l;
    std::int64_t& previous = last[sym == "ETH" ? 1 : 0];
    if (ts < previous)
      late.push_back(i);
    else
      previous = ts;
  }
  EXPECT_EQ(late, (std::vector<std::size_t>{212, 309, 388, 836, 990}));
}

}  // namespace
}  // namespace msync
