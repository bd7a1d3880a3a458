// An account's revaluation split across a warp (include/marginsync/account_split.hpp, the CUDA
// kernel's steps run one lane after another) against revalue_account, bit for bit: every exposure
// array and every account total, with the instruments' structs and with the position table, with
// and without funding and the liquidity add-on, on accounts of 0 to 1,000 positions (partial
// rounds, exposures ending inside and at the edge of a round, empty exposures); and which accounts
// take the split, and the collateral change looked up in the compact list.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "chunk_plan.hpp"
#include "marginsync/account_split.hpp"

namespace msync {
namespace {

bool same_bits(double a, double b) {
  return std::memcmp(&a, &b, sizeof a) == 0;
}

// A synthetic book of accounts with the given exposure sizes (positions per exposure), instruments
// of every kind on a few underlyings, and the market arrays the revaluation reads.
struct split_book {
  std::vector<contract_terms> terms;
  std::vector<valuation_inputs> inputs;
  std::vector<instrument_risk> unit;
  std::vector<position_terms> table;
  std::vector<std::uint8_t> flags;
  std::vector<std::uint32_t> instrument_underlying;
  std::vector<double> spot, vol, impact, volume, funding_spot, funding_rate;
  std::vector<std::uint64_t> account_exposure_begin{0}, exposure_position_begin{0};
  std::vector<std::uint32_t> exposure_underlying, position_instrument;
  std::vector<double> quantity, cost, collateral;
  std::vector<double> delta, gamma, vega, theta, decay, vol_exposure;

  explicit split_book(std::uint64_t seed) : rng(seed) {
    const std::uint32_t underlyings = 5;
    for (std::uint32_t u = 0; u < underlyings; ++u) {
      spot.push_back(10 + 3000 * uni(rng));
      vol.push_back(0.2 + uni(rng));
      impact.push_back(0.5 + uni(rng));
      volume.push_back(1e5 + 1e7 * uni(rng));
      funding_spot.push_back(spot.back() * (0.99 + 0.02 * uni(rng)));
      funding_rate.push_back(u == 3 ? 0.0 : 0.0005 * (uni(rng) - 0.3));  // one underlying pays none
    }
    for (std::uint32_t i = 0; i < 60; ++i) {
      const std::uint32_t u = i % underlyings;
      const auto kind = static_cast<instrument_kind>(i % 4);
      contract_terms c{kind, uni(rng) < 0.5, spot[u] * (0.7 + 0.6 * uni(rng)), 0.1 + uni(rng)};
      valuation_inputs x{spot[u], vol[u], 0.03, 0.01, (i % 9 == 0) ? -0.01 : 2.0 * uni(rng)};
      x.settled = i % 9 == 0;
      x.funding_rate = funding_rate[u];
      if (i % 5 == 0) x.basis = 0.97 + 0.06 * uni(rng);
      terms.push_back(c);
      inputs.push_back(x);
      unit.push_back(price_instrument(c, x, 1.0 / 365.0, 3.0));
      table.push_back(make_position_terms(unit.back(), c));
      flags.push_back(position_flags(c, x));
      instrument_underlying.push_back(u);
    }
  }

  // An account whose exposures hold these many positions (0: an empty exposure), on underlyings
  // 0, 1, ... in turn.
  void add_account(const std::vector<std::uint64_t>& sizes) {
    for (std::size_t e = 0; e < sizes.size(); ++e) {
      const std::uint32_t u = static_cast<std::uint32_t>(e % spot.size());
      exposure_underlying.push_back(u);
      for (std::uint64_t p = 0; p < sizes[e]; ++p) {
        std::uint32_t i = static_cast<std::uint32_t>(uni(rng) * 12) * 5 + u;
        position_instrument.push_back(i);
        quantity.push_back((uni(rng) < 0.5 ? -1 : 1) * (0.01 + 50 * uni(rng)));
        cost.push_back(spot[u] * (0.9 + 0.2 * uni(rng)));
      }
      exposure_position_begin.push_back(position_instrument.size());
    }
    account_exposure_begin.push_back(exposure_underlying.size());
    collateral.push_back(1e4 * uni(rng));
  }

  account_revaluation_view view(bool with_table, bool with_funding, bool with_addon) {
    const std::size_t x = exposure_underlying.size();
    for (auto* v : {&delta, &gamma, &vega, &theta, &decay, &vol_exposure})
      v->assign(x, std::numeric_limits<double>::quiet_NaN());  // every one must be written
    account_revaluation_view v{exposure_underlying.data(),
                               exposure_position_begin.data(),
                               position_instrument.data(),
                               quantity.data(),
                               cost.data(),
                               terms.data(),
                               inputs.data(),
                               unit.data(),
                               spot.data(),
                               vol.data(),
                               impact.data(),
                               with_addon ? volume.data() : nullptr,
                               delta.data(),
                               gamma.data(),
                               vega.data(),
                               theta.data(),
                               decay.data(),
                               vol_exposure.data()};
    if (with_table) {
      v.position_table = table.data();
      v.position_table_flags = flags.data();
    }
    if (with_funding) {
      v.funding_spot = funding_spot.data();
      v.funding_rate = funding_rate.data();
      v.funding_periods = 1.5;
    }
    return v;
  }

  std::vector<std::vector<double>> exposures() const {
    return {delta, gamma, vega, theta, decay, vol_exposure};
  }

  std::mt19937_64 rng;
  std::uniform_real_distribution<double> uni{0.0, 1.0};
};

void expect_same(const account_totals& a, const account_totals& b, double change_a,
                 double change_b) {
  EXPECT_PRED2(same_bits, a.own_funds, b.own_funds);
  EXPECT_PRED2(same_bits, a.equity, b.equity);
  EXPECT_PRED2(same_bits, a.gross_notional, b.gross_notional);
  EXPECT_PRED2(same_bits, a.floor_notional, b.floor_notional);
  EXPECT_PRED2(same_bits, a.liquidity_addon, b.liquidity_addon);
  EXPECT_PRED2(same_bits, change_a, change_b);
}

TEST(account_split, gives_the_bits_of_revalue_account) {
  split_book b(7);
  // Sizes around a round (32) and the split threshold, exposures that end inside a round, at its
  // edge, and empty ones (first, between and last).
  const std::vector<std::vector<std::uint64_t>> accounts = {
      {},
      {0},
      {1},
      {31},
      {32},
      {33},
      {5, 0, 27},
      {0, 40, 0},
      {32, 32},
      {31, 1, 32},
      {64, 63, 1},
      {127},
      {128},
      {100, 29},
      {0, 0, 200},
      {1000},
      {333, 0, 333, 334, 0},
      {17, 17, 17, 17, 17, 17, 17, 17},
  };
  for (const auto& sizes : accounts) b.add_account(sizes);
  for (bool with_table : {false, true})
    for (bool with_funding : {false, true})
      for (bool with_addon : {false, true}) {
        SCOPED_TRACE(testing::Message() << "table " << with_table << " funding " << with_funding
                                        << " addon " << with_addon);
        account_revaluation_view v = b.view(with_table, with_funding, with_addon);
        std::vector<account_totals> sequential;
        std::vector<double> sequential_change;
        for (std::size_t a = 0; a + 1 < b.account_exposure_begin.size(); ++a) {
          double change = 100.0 * static_cast<double>(a) - 250.0;
          sequential.push_back(revalue_account(v, b.account_exposure_begin[a],
                                               b.account_exposure_begin[a + 1], b.collateral[a],
                                               3.5, change));
          sequential_change.push_back(change);
        }
        const auto expected = b.exposures();
        v = b.view(with_table, with_funding, with_addon);  // NaN again
        for (std::size_t a = 0; a + 1 < b.account_exposure_begin.size(); ++a) {
          SCOPED_TRACE(a);
          double change = 100.0 * static_cast<double>(a) - 250.0;
          const account_totals got =
              revalue_account_split(v, b.account_exposure_begin[a], b.account_exposure_begin[a + 1],
                                    b.collateral[a], 3.5, change);
          expect_same(got, sequential[a], change, sequential_change[a]);
        }
        const auto got = b.exposures();
        for (std::size_t k = 0; k < got.size(); ++k)
          for (std::size_t x = 0; x < got[k].size(); ++x)
            EXPECT_PRED2(same_bits, got[k][x], expected[k][x])
                << "array " << k << " exposure " << x;
      }
}

TEST(account_split, large_accounts_take_the_warp) {
  EXPECT_FALSE(revalued_by_warp(0));
  EXPECT_FALSE(revalued_by_warp(split_min_positions - 1));
  EXPECT_TRUE(revalued_by_warp(split_min_positions));
  EXPECT_TRUE(revalued_by_warp(10000));
  split_book b(3);
  for (const auto& sizes : std::vector<std::vector<std::uint64_t>>{
           {10}, {64, 63}, {64, 64}, {0}, {}, {1000}, {3, 0, 200}, {127}})
    b.add_account(sizes);
  EXPECT_EQ(account_positions(b.account_exposure_begin.data(), b.exposure_position_begin.data(), 1),
            127u);
  EXPECT_EQ(account_positions(b.account_exposure_begin.data(), b.exposure_position_begin.data(), 4),
            0u);
  // The list the kernel's warps take, chunk-local: accounts 2, 5 and 6 of the book; of the chunk
  // of accounts 3 .. 8, its accounts 2 and 3.
  EXPECT_EQ(
      cuda::split_accounts(b.account_exposure_begin.data(), b.exposure_position_begin.data(), 0, 8),
      (std::vector<std::uint32_t>{2, 5, 6}));
  EXPECT_EQ(
      cuda::split_accounts(b.account_exposure_begin.data(), b.exposure_position_begin.data(), 3, 8),
      (std::vector<std::uint32_t>{2, 3}));
  EXPECT_TRUE(
      cuda::split_accounts(b.account_exposure_begin.data(), b.exposure_position_begin.data(), 0, 2)
          .empty());
}

TEST(account_split, listed_change_finds_the_account_or_adds_nothing) {
  const std::vector<std::uint32_t> account = {2, 5, 6, 40};
  const std::vector<double> change = {1.5, -2.0, std::numeric_limits<double>::quiet_NaN(), 7.0};
  const auto n = static_cast<std::uint32_t>(account.size());
  EXPECT_EQ(listed_change(account.data(), change.data(), n, 2), 1.5);
  EXPECT_EQ(listed_change(account.data(), change.data(), n, 5), -2.0);
  EXPECT_TRUE(std::isnan(listed_change(account.data(), change.data(), n, 6)));
  EXPECT_EQ(listed_change(account.data(), change.data(), n, 40), 7.0);
  for (std::uint32_t a : {0u, 3u, 39u, 41u})
    EXPECT_EQ(listed_change(account.data(), change.data(), n, a), 0.0);
  EXPECT_EQ(listed_change(account.data(), change.data(), 0, 2), 0.0);
  // Not listed (0.0 of either sign): nothing added, a -0.0 sum keeps its sign; listed: added.
  EXPECT_PRED2(same_bits, plus_change(-0.0, 0.0), -0.0);
  EXPECT_PRED2(same_bits, plus_change(-0.0, -0.0), -0.0);
  EXPECT_PRED2(same_bits, plus_change(3.0, 0.0), 3.0);
  EXPECT_EQ(plus_change(3.0, 1.5), 4.5);
  EXPECT_TRUE(std::isnan(plus_change(3.0, change[2])));
  EXPECT_EQ(lower_bound_account(account.data(), n, 6), 2u);
  EXPECT_EQ(lower_bound_account(account.data(), n, 7), 3u);
  EXPECT_EQ(lower_bound_account(account.data(), n, 41), 4u);
}

}  // namespace
}  // namespace msync
