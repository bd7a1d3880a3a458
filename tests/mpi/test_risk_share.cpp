// The CPU backend's scenario risk split into parts (backend::set_risk_share, docs/design.md 16.2),
// in one process: the parts' accounts tile the book, each account's numbers are the whole run's,
// and the parts' bad-debt rows added in part order give the whole run's bad debt to the bit.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "cpu/book_bad_debt.hpp"
#include "marginsync/backend_registry.hpp"
#include "marginsync/risk_rules.hpp"
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
  for (int part = 0; part < parts; ++part) {
    auto engine = make_cpu_backend(1);
    ASSERT_TRUE(engine->set_risk_share(part, parts));
    engine->load_book(in.positions, in.risk);
    engine->revalue(in.market, {});
    engine->scenario_risk(monte_carlo, in.risk);
    const risk_result& r = engine->held_risk();
    EXPECT_TRUE(std::isnan(r.bad_debt_mean)) << "a part has no book-level numbers";
    for (std::uint32_t a : r.share_accounts) {
      ++seen[a];
      EXPECT_TRUE(same_bits(r.var[a], all.var[a])) << a;
      EXPECT_TRUE(same_bits(r.es[a], all.es[a])) << a;
      EXPECT_TRUE(same_bits(r.initial_margin[a], all.initial_margin[a])) << a;
      EXPECT_TRUE(same_bits(r.breach_probability[a], all.breach_probability[a])) << a;
      EXPECT_EQ(r.status[a], all.status[a]) << a;
      EXPECT_EQ(r.preemptive[a], all.preemptive[a]) << a;
    }
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
  EXPECT_TRUE(engine->set_risk_share(0, 1));
  EXPECT_FALSE(engine->set_risk_share(3, 3));
  EXPECT_FALSE(engine->set_risk_share(0, 0));
}

}  // namespace
}  // namespace msync
