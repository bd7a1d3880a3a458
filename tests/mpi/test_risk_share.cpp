// The CPU backend's scenario risk split into parts (backend::set_risk_share, docs/design.md 16.2),
// in one process: the parts' accounts tile the book, each account's numbers are the whole run's,
// and the parts' bad-debt rows added in part order give the whole run's bad debt to the bit.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "cpu/book_bad_debt.hpp"
#include "cpu/risk_order.hpp"
#include "marginsync/backend_registry.hpp"
#include "marginsync/book_slice.hpp"
#include "marginsync/risk_rules.hpp"
#include "mpi/book_parts.hpp"
#include "test_books.hpp"
#include "test_support.hpp"

namespace msync {
namespace {

using test::generated_book;
using test::temp_dir;

bool same_bits(double a, double b) {
  return std::memcmp(&a, &b, sizeof a) == 0;
}

void expect_parts_add_up(risk_method method, int parts) {
  const temp_dir dir;
  // 2,000 accounts: 8 bad-debt chunks (7 of 256 and one of 208), so parts divide them unevenly.
  book_inputs in = generated_book(dir, 2000, 4, 4, 7);
  in.risk.method = method;
  in.risk.scenarios = 1500;
  const scenario_source monte_carlo{nullptr};

  auto whole = make_cpu_backend(1);
  whole->load_book(in.positions, in.risk);
  whole->revalue(in.market, {});
  whole->scenario_risk(monte_carlo, in.risk);
  const risk_result& all = whole->held_risk();
  ASSERT_GT(all.bad_debt_mean, 0.0) << "the test book needs bad debt";

  std::vector<double> bad_debt(static_cast<std::size_t>(all.scenarios), 0.0);
  std::vector<int> seen(in.positions.accounts(), 0);
  const std::size_t n_acc = in.positions.accounts();
  for (int part = 0; part < parts; ++part) {
    // The part computed on the whole book, as rank 0 holds it, and on a book of its accounts only,
    // as the other ranks hold it: the same numbers and the same rows.
    const std::size_t n = static_cast<std::size_t>(in.risk.scenarios);
    const account_range range = share_of_accounts(n_acc, n, part, parts);
    const std::vector<std::uint32_t> held =
        cpu::accounts_of_part(cpu::accounts_in_risk_order(in.positions.account_exposure_begin,
                                                          in.positions.exposure_underlying),
                              n, part, parts);
    ASSERT_EQ(held.size(), range.size());
    book slice = slice_accounts(in.positions, held);
    auto on_slice = make_cpu_backend(1);
    ASSERT_TRUE(on_slice->set_risk_share(risk_share{n_acc, range.begin, part, parts}));
    on_slice->load_book(slice, in.risk);
    on_slice->revalue(in.market, {});
    on_slice->scenario_risk(monte_carlo, in.risk);
    const risk_result& rs = on_slice->held_risk();
    auto engine = make_cpu_backend(1);
    ASSERT_TRUE(engine->set_risk_share(risk_share{0, 0, part, parts}));
    engine->load_book(in.positions, in.risk);
    engine->revalue(in.market, {});
    engine->scenario_risk(monte_carlo, in.risk);
    const risk_result& r = engine->held_risk();
    EXPECT_TRUE(std::isnan(r.bad_debt_mean)) << "a part has no book-level numbers";
    ASSERT_EQ(rs.share_accounts.size(), r.share_accounts.size());
    for (std::size_t i = 0; i < r.share_accounts.size(); ++i) {
      const std::uint32_t a = r.share_accounts[i];
      ASSERT_EQ(held[rs.share_accounts[i]], a) << "the same order on the slice";
      ++seen[a];
      const std::size_t h = rs.share_accounts[i];
      for (const risk_result* x : {&r, &rs}) {
        const std::size_t at = x == &r ? a : h;
        EXPECT_TRUE(same_bits(x->var[at], all.var[a])) << a;
        EXPECT_TRUE(same_bits(x->es[at], all.es[a])) << a;
        EXPECT_TRUE(same_bits(x->initial_margin[at], all.initial_margin[a])) << a;
        EXPECT_TRUE(same_bits(x->breach_probability[at], all.breach_probability[a])) << a;
        EXPECT_EQ(x->status[at], all.status[a]) << a;
        EXPECT_EQ(x->preemptive[at], all.preemptive[a]) << a;
      }
    }
    ASSERT_EQ(rs.share_bad_debt_rows.size(), r.share_bad_debt_rows.size());
    for (std::size_t c = 0; c < r.share_bad_debt_rows.size(); ++c)
      EXPECT_TRUE(rs.share_bad_debt_rows[c] == r.share_bad_debt_rows[c]) << "chunk row " << c;
    // As the ranks do it: this part's rows onto the sum of the parts before it.
    for (const std::vector<double>& row : r.share_bad_debt_rows)
      for (std::size_t s = 0; s < row.size(); ++s) bad_debt[s] += row[s];
  }
  for (std::size_t a = 0; a < seen.size(); ++a) ASSERT_EQ(seen[a], 1) << "account " << a;
  const book_bad_debt book = book_bad_debt_of(
      bad_debt, static_cast<std::size_t>(tail_count(in.risk.confidence, all.scenarios)));
  EXPECT_TRUE(same_bits(book.mean, all.bad_debt_mean));
  EXPECT_TRUE(same_bits(book.var, all.bad_debt_var));
  EXPECT_TRUE(same_bits(book.es, all.bad_debt_es));
}

TEST(risk_share, full_in_three_parts_is_the_whole_run) {
  expect_parts_add_up(risk_method::full, 3);
}
TEST(risk_share, delta_gamma_in_two_and_five_parts_is_the_whole_run) {
  expect_parts_add_up(risk_method::delta_gamma, 2);
  expect_parts_add_up(risk_method::delta_gamma, 5);
}
TEST(risk_share, one_part_is_the_whole_book) {
  auto engine = make_cpu_backend(1);
  EXPECT_TRUE(engine->set_risk_share(risk_share{}));
  EXPECT_FALSE(engine->set_risk_share(risk_share{0, 0, 3, 3}));
  EXPECT_FALSE(engine->set_risk_share(risk_share{0, 0, 0, 0}));
}

// The parts are whole chunks, contiguous and in order, covering the book; a slice is the book's
// accounts with their positions.
TEST(risk_share, parts_tile_the_accounts_in_whole_chunks) {
  for (std::size_t accounts : {1u, 255u, 256u, 2000u, 70000u, 1000000u})
    for (std::size_t scenarios : {1000u, 10000u, 100000u})
      for (int parts : {1, 2, 3, 7}) {
        const std::size_t chunk = bad_debt_chunk_accounts(accounts, scenarios);
        std::size_t next = 0;
        for (int p = 0; p < parts; ++p) {
          const account_range r = share_of_accounts(accounts, scenarios, p, parts);
          EXPECT_EQ(r.begin, next);
          EXPECT_EQ(r.begin % chunk, 0u);
          EXPECT_TRUE(r.end == accounts || r.end % chunk == 0);
          next = r.end;
        }
        EXPECT_EQ(next, accounts);
        EXPECT_LE(bad_debt_chunks(accounts, scenarios), 256u);
      }
  EXPECT_EQ(bad_debt_chunk_accounts(2000, 1500), 256u);
  EXPECT_EQ(bad_debt_chunk_accounts(1000000, 10000), 3907u);  // 256 chunks
  // 256 MiB / 8 MB rows: 33 chunks.
  EXPECT_EQ(bad_debt_chunk_accounts(1000000, 1000000), 30304u);
}

// bench's `full` across ranks (docs/design.md 16.6) runs on the whole book's first accounts as a
// book of their own: a rank's part of them, found from the whole book's account-level arrays, is
// its part of that book.
TEST(risk_share, the_parts_of_a_books_first_accounts_are_the_parts_of_their_book) {
  const temp_dir dir;
  const book_inputs in = generated_book(dir, 3000, 4, 4, 5);
  const book& b = in.positions;
  for (std::size_t first : {1u, 700u, 1200u, 2999u, 3000u}) {
    std::vector<std::uint32_t> accounts(first);
    for (std::uint32_t a = 0; a < first; ++a) accounts[a] = a;
    const book prefix = slice_accounts(b, accounts);
    for (int parts : {1, 2, 3})
      for (int p = 0; p < parts; ++p)
        EXPECT_EQ(accounts_of_rank_in_first(b, first, 500, p, parts),
                  accounts_of_rank(prefix, 500, p, parts))
            << first << " first accounts, part " << p << " of " << parts;
  }
}

TEST(risk_share, a_slice_holds_its_accounts_positions) {
  const temp_dir dir;
  const book_inputs in = generated_book(dir, 300, 4, 4, 3);
  const book& b = in.positions;
  std::vector<std::uint32_t> pick;
  for (std::uint32_t a = 0; a < 300; a += 1 + a % 3) pick.push_back(a);
  const book s = slice_accounts(b, pick);
  ASSERT_EQ(s.accounts(), pick.size());
  EXPECT_EQ(s.account_position_begin[0], 0u);
  EXPECT_EQ(s.account_exposure_begin[0], 0u);
  EXPECT_EQ(s.account_position_begin[s.accounts()], s.positions());
  EXPECT_EQ(s.exposure_position_begin[s.exposures()], s.positions());
  for (std::size_t i = 0; i < s.accounts(); ++i) {
    const std::uint32_t w = pick[i];
    EXPECT_EQ(s.account_id[i], b.account_id[w]);
    EXPECT_EQ(s.collateral[i], b.collateral[w]);
    EXPECT_EQ(s.account_tier[i], b.account_tier[w]);
    const std::uint64_t p = b.account_position_begin[w];
    ASSERT_EQ(s.account_position_begin[i + 1] - s.account_position_begin[i],
              b.account_position_begin[w + 1] - p);
    for (std::uint64_t j = 0; j < s.account_position_begin[i + 1] - s.account_position_begin[i];
         ++j) {
      EXPECT_EQ(s.position_instrument[s.account_position_begin[i] + j],
                b.position_instrument[p + j]);
      EXPECT_EQ(s.position_quantity[s.account_position_begin[i] + j], b.position_quantity[p + j]);
      EXPECT_EQ(s.position_cost[s.account_position_begin[i] + j], b.position_cost[p + j]);
    }
    const std::uint64_t x = b.account_exposure_begin[w];
    for (std::uint64_t j = s.account_exposure_begin[i]; j < s.account_exposure_begin[i + 1]; ++j) {
      EXPECT_EQ(s.exposure_underlying[j],
                b.exposure_underlying[x + j - s.account_exposure_begin[i]]);
      EXPECT_EQ(s.exposure_position_begin[j] + p - s.account_position_begin[i],
                b.exposure_position_begin[x + j - s.account_exposure_begin[i]]);
    }
  }
}

}  // namespace
}  // namespace msync
