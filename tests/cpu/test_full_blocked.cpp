// The blocked `full` loop (docs/design.md 3.7) against the straightforward one: the streaming
// top-k against tail_selector on every loss, and the CPU backend with its P&L table (blocked)
// against the same backend pricing position by position (account by account, as before), bit for
// bit, on books and scenario counts that put tile boundaries inside the tail.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>

#include "cpu/streaming_tail.hpp"
#include "cpu/tail_select.hpp"
#include "marginsync/backend_registry.hpp"
#include "test_books.hpp"

namespace msync {
namespace {

bool same_bits(double a, double b) {
  return std::memcmp(&a, &b, sizeof a) == 0;
}

// The candidates of `losses` fed in tiles of `tile`, then selected: the same VaR, ES and k largest
// as tail_selector on every loss.
void expect_streaming_matches(const std::vector<double>& losses, std::size_t k, std::size_t tile,
                              const std::string& what) {
  tail_selector direct;
  const tail_statistics want = direct.select(losses.data(), losses.size(), k);
  std::vector<double> want_top(direct.largest(), direct.largest() + k);
  std::vector<double> storage(cpu::streaming_tail::capacity(k, tile));
  cpu::streaming_tail tail;
  tail.reset(storage.data(), k);
  tail_selector scratch;
  for (std::size_t t0 = 0; t0 < losses.size(); t0 += tile) {
    const std::size_t len = std::min(tile, losses.size() - t0);
    double top = -INFINITY;
    for (std::size_t s = t0; s < t0 + len; ++s) top = std::max(top, losses[s]);
    tail.add(losses.data() + t0, len, top, scratch);
    ASSERT_LE(tail.count() + tile + 8, storage.size()) << what;  // room for the next tile
  }
  ASSERT_GE(tail.count(), k) << what;
  tail_selector from_kept;
  const tail_statistics got = from_kept.select(tail.kept(), tail.count(), k);
  EXPECT_TRUE(same_bits(got.var, want.var)) << what << ": " << got.var << " vs " << want.var;
  EXPECT_TRUE(same_bits(got.es, want.es)) << what << ": " << got.es << " vs " << want.es;
  std::vector<double> got_top(from_kept.largest(), from_kept.largest() + k);
  std::sort(got_top.begin(), got_top.end());
  std::sort(want_top.begin(), want_top.end());
  EXPECT_EQ(got_top, want_top) << what;
}

TEST(streaming_tail, gives_the_selection_of_every_loss) {
  std::mt19937_64 rng(11);
  std::normal_distribution<double> normal(0.0, 1000.0);
  for (std::size_t n : {1u, 16u, 33u, 300u, 1037u, 5000u}) {
    for (std::size_t k : {std::size_t{1}, std::size_t{2}, std::max<std::size_t>(1, n / 100),
                          std::max<std::size_t>(1, n / 10), n / 2 + 1, n}) {
      if (k > n) continue;
      for (std::size_t tile : {std::size_t{16}, std::size_t{48}, std::size_t{256}}) {
        std::vector<double> v(n);
        for (double& x : v) x = normal(rng);
        const std::string what =
            "n " + std::to_string(n) + " k " + std::to_string(k) + " tile " + std::to_string(tile);
        expect_streaming_matches(v, k, tile, what + " random");
        std::sort(v.begin(), v.end());  // the bound rises every tile
        expect_streaming_matches(v, k, tile, what + " ascending");
        std::sort(v.begin(), v.end(), std::greater<double>());  // the tail in the first tile
        expect_streaming_matches(v, k, tile, what + " descending");
        for (double& x : v) x = std::round(x / 700.0);  // ties at the VaR rank
        expect_streaming_matches(v, k, tile, what + " ties");
        std::fill(v.begin(), v.end(), 42.0);  // all equal: never more than the storage
        expect_streaming_matches(v, k, tile, what + " constant");
        std::fill(v.begin(), v.end(), -INFINITY);
        if (n > 1) v[n / 2] = INFINITY;
        expect_streaming_matches(v, k, tile, what + " infinities");
      }
    }
  }
}

// The tail split by a tile boundary: the k largest straddle the end of one tile and the start of
// the next, with ties at the VaR rank on both sides.
TEST(streaming_tail, tail_across_a_tile_boundary) {
  std::vector<double> v(512, 0.0);
  for (std::size_t s = 0; s < v.size(); ++s) v[s] = static_cast<double>(s % 37) * 0.25;
  for (std::size_t s = 250; s < 262; ++s) v[s] = 100.0 + static_cast<double>(s % 3);  // 100..102
  for (std::size_t k : {1u, 4u, 5u, 8u, 12u, 13u, 40u}) {
    expect_streaming_matches(v, k, 256, "k " + std::to_string(k));
    expect_streaming_matches(v, k, 16, "k " + std::to_string(k) + " tile 16");
  }
}

void expect_same_bits(const std::vector<double>& a, const std::vector<double>& b,
                      const std::string& what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (!same_bits(a[i], b[i])) {
      ADD_FAILURE() << what << "[" << i << "]: " << a[i] << " vs " << b[i];
      return;
    }
}

// Every number of the blocked loop (the P&L table) and of the straightforward one (the table
// over budget: rows priced position by position, account by account) agrees bit for bit.
void expect_same_risk(book_inputs& in, const std::string& what) {
  std::vector<risk_result> r;
  for (std::size_t budget : {default_pnl_table_bytes, std::size_t{0}}) {
    auto engine = make_cpu_backend(2, budget);
    r.push_back(test::run_on(*engine, in).risk);
  }
  expect_same_bits(r[0].var, r[1].var, what + " var");
  expect_same_bits(r[0].es, r[1].es, what + " es");
  expect_same_bits(r[0].initial_margin, r[1].initial_margin, what + " initial margin");
  expect_same_bits(r[0].maintenance_margin, r[1].maintenance_margin, what + " maintenance");
  expect_same_bits(r[0].health, r[1].health, what + " health");
  expect_same_bits(r[0].breach_probability, r[1].breach_probability, what + " breaches");
  EXPECT_EQ(r[0].status, r[1].status) << what;
  EXPECT_EQ(r[0].preemptive, r[1].preemptive) << what;
  EXPECT_EQ(r[0].not_ok_accounts, r[1].not_ok_accounts) << what;
  EXPECT_TRUE(same_bits(r[0].bad_debt_mean, r[1].bad_debt_mean)) << what;
  EXPECT_TRUE(same_bits(r[0].bad_debt_var, r[1].bad_debt_var)) << what;
  EXPECT_TRUE(same_bits(r[0].bad_debt_es, r[1].bad_debt_es)) << what;
}

// A generated book (accounts in every margin status, bad debt in many scenarios, several chunks
// of accounts) at scenario counts around the tile (256) and confidences from k = 1 to k = N.
TEST(full_blocked, equals_the_straightforward_loop_on_a_generated_book) {
  const test::temp_dir dir;
  book_inputs in = test::generated_book(dir, 700, 6, 5, 3);
  in.risk.method = risk_method::full;
  for (std::int64_t n : {16, 255, 257, 1037})
    for (double confidence : {0.99, 0.9, 0.5, 1e-9, 0.999999}) {
      in.risk.scenarios = n;
      in.risk.confidence = confidence;
      expect_same_risk(in, "N " + std::to_string(n) + " confidence " + std::to_string(confidence));
    }
}

// ES as the margin measure, and a book with a NaN loss (the BTC option's value overflows): its
// chunk is done again account by account, so even the NaN accounts' numbers and the book's bad
// debt are as before.
TEST(full_blocked, equals_the_straightforward_loop_with_es_and_nan_losses) {
  book_inputs in = load_book_inputs(book_paths::in_directory(test::sample_book()));
  in.risk.method = risk_method::full;
  in.risk.scenarios = 1500;
  in.risk.measure = margin_measure::es;
  expect_same_risk(in, "sample, es");
  in.market.dividend_yield[0] = -10000.0;
  for (double confidence : {0.99, 0.01}) {
    in.risk.confidence = confidence;
    expect_same_risk(in, "sample with NaN, confidence " + std::to_string(confidence));
  }
}

}  // namespace
}  // namespace msync
