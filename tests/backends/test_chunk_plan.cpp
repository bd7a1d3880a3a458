// The CUDA backend's chunk planner (kernels/chunk_plan.hpp), plain C++ tested on any machine:
// chunks are consecutive, cover every account, hold whole bad-debt groups, fit the room the
// scenarios leave and respect a chunk-size cap; a book that fits is held whole; what cannot fit
// is refused with a reason. Group sizes depend on the account and scenario counts only.
#include <gtest/gtest.h>

#include <stdexcept>

#include "chunk_plan.hpp"
#include "test_books.hpp"

namespace msync::cuda {
namespace {

book_inputs book_of(const test::temp_dir& dir, std::int64_t accounts) {
  return test::generated_book(dir, accounts, 4, 3, 17);
}

// Every property a plan must have, checked against the book.
void expect_valid_plan(const chunk_plan& plan, const book& b, const run_shape& shape,
                       std::size_t cap) {
  ASSERT_FALSE(plan.chunks.empty());
  const std::uint32_t per = accounts_per_group(b.accounts(), shape.n);
  std::uint32_t next_group = 0;
  std::size_t next_account = 0;
  for (const chunk_range& c : plan.chunks) {
    EXPECT_EQ(c.group_begin, next_group);
    EXPECT_EQ(c.account_begin, next_account);
    EXPECT_GT(c.group_end, c.group_begin);
    // Whole groups: a chunk starts at a group's first account, and ends at one (or the book's end).
    EXPECT_EQ(c.account_begin,
              std::min<std::size_t>(b.accounts(), std::size_t{c.group_begin} * per));
    EXPECT_EQ(c.account_end, std::min<std::size_t>(b.accounts(), std::size_t{c.group_end} * per));
    EXPECT_EQ(c.exposure_begin, b.account_exposure_begin[c.account_begin]);
    EXPECT_EQ(c.exposure_end, b.account_exposure_begin[c.account_end]);
    EXPECT_EQ(c.position_begin, b.account_position_begin[c.account_begin]);
    EXPECT_EQ(c.position_end, b.account_position_begin[c.account_end]);
    EXPECT_LE(book_bytes(c.accounts(), c.exposures(), c.positions()), plan.room);
    if (cap > 0 && c.groups() > 1) {
      EXPECT_LE(c.accounts(), cap);
    }
    next_group = c.group_end;
    next_account = c.account_end;
  }
  EXPECT_EQ(next_group, group_count(b.accounts(), shape.n));
  EXPECT_EQ(next_account, b.accounts());
}

TEST(chunk_plan, groups_depend_on_the_account_and_scenario_counts_only) {
  // At most 4096 groups, and at most 256 MiB of partial rows of n doubles: 10,000 scenarios are
  // 80,000-byte rows, floor(2^28 / 80,000) = 3,355 groups at most.
  EXPECT_EQ(accounts_per_group(1000, 10000), 1u);
  EXPECT_EQ(group_count(1000, 10000), 1000u);
  EXPECT_EQ(accounts_per_group(1000000, 10000), 299u);  // ceil(1e6 / 3,355)
  EXPECT_EQ(group_count(1000000, 10000), 3345u);        // ceil(1e6 / 299)
  // 1 M scenarios: 8 MB rows, at most 33 groups.
  EXPECT_EQ(accounts_per_group(1000000, 1000000), 30304u);
  EXPECT_EQ(group_count(1000000, 1000000), 33u);
  // Small scenario counts: the 4,096 cap.
  EXPECT_EQ(accounts_per_group(1000000, 100), 245u);  // ceil(1e6 / 4,096)
  // An empty book still has a row.
  EXPECT_EQ(group_count(0, 100), 1u);
  EXPECT_EQ(accounts_per_group(0, 100), 1u);
}

TEST(chunk_plan, a_book_that_fits_is_held_whole) {
  test::temp_dir dir;
  const book_inputs in = book_of(dir, 500);
  const run_shape shape{1000, 4, true, false};
  const chunk_plan plan = plan_chunks(in.positions, shape, std::size_t{1} << 30, 0);
  EXPECT_TRUE(plan.resident());
  EXPECT_TRUE(plan.use_table);
  expect_valid_plan(plan, in.positions, shape, 0);
  EXPECT_TRUE(stays_resident(in.positions, shape, std::size_t{1} << 30));
}

TEST(chunk_plan, a_cap_on_accounts_splits_the_book_into_valid_chunks) {
  test::temp_dir dir;
  const book_inputs in = book_of(dir, 3000);
  for (std::size_t cap :
       {std::size_t{1}, std::size_t{31}, std::size_t{32}, std::size_t{33}, std::size_t{700}}) {
    SCOPED_TRACE(cap);
    const run_shape shape{800, 4, false, false};
    const chunk_plan plan = plan_chunks(in.positions, shape, std::size_t{1} << 30, cap);
    EXPECT_GT(plan.chunks.size(), 1u);
    expect_valid_plan(plan, in.positions, shape, cap);
  }
}

TEST(chunk_plan, a_small_budget_splits_the_book_by_bytes) {
  test::temp_dir dir;
  const book_inputs in = book_of(dir, 3000);
  const book& b = in.positions;
  const run_shape shape{1000, 4, false, false};
  const std::size_t fixed = fixed_bytes(shape, b.instruments.size(), b.accounts(), false);
  // Room for about a fifth of the book beside the scenarios.
  const std::size_t budget = fixed + book_bytes(b) / 5;
  const chunk_plan plan = plan_chunks(b, shape, budget, 0);
  EXPECT_GE(plan.chunks.size(), 5u);
  EXPECT_LE(plan.chunks.size(), 7u);  // chunks grow until the next group would not fit
  EXPECT_EQ(plan.room, budget - fixed);
  expect_valid_plan(plan, b, shape, 0);
  EXPECT_FALSE(stays_resident(b, shape, budget));
}

TEST(chunk_plan, full_keeps_the_table_only_where_it_fits) {
  test::temp_dir dir;
  const book_inputs in = book_of(dir, 300);
  const book& b = in.positions;
  const run_shape shape{20000, 4, true, false};
  const std::size_t with = fixed_bytes(shape, b.instruments.size(), b.accounts(), true);
  const std::size_t without = fixed_bytes(shape, b.instruments.size(), b.accounts(), false);
  EXPECT_EQ(with - without, b.instruments.size() * 20000 * sizeof(double));
  EXPECT_TRUE(plan_chunks(b, shape, with + book_bytes(b), 0).use_table);
  // Neither the whole book beside it nor at most half the budget: priced on the fly.
  const chunk_plan tight = plan_chunks(b, shape, with + book_bytes(b) / 2, 0);
  EXPECT_FALSE(tight.use_table);
  expect_valid_plan(tight, b, shape, 0);
}

TEST(chunk_plan, what_cannot_fit_is_refused_with_a_reason) {
  test::temp_dir dir;
  const book_inputs in = book_of(dir, 100);
  const book& b = in.positions;
  const run_shape shape{100000, 4, false, false};
  const std::size_t fixed = fixed_bytes(shape, b.instruments.size(), b.accounts(), false);
  try {
    plan_chunks(b, shape, fixed, 0);
    ADD_FAILURE() << "scenarios that fill the budget are refused";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("fewer scenarios"), std::string::npos) << e.what();
  }
  // Room for less than one group of accounts.
  EXPECT_THROW(plan_chunks(b, shape, fixed + 8, 0), std::runtime_error);
}

}  // namespace
}  // namespace msync::cuda
