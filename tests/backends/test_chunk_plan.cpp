// The CUDA backend's chunk planner (kernels/chunk_plan.hpp), plain C++ tested on any machine:
// chunks are consecutive, cover every account, hold whole bad-debt groups, fit the room the
// scenarios leave and respect a chunk-size cap; a book that fits is held whole; what cannot fit
// is refused with a reason. Group sizes depend on the account count only; the scenario risk's
// waves (its grid) fill the device whatever the scenario count.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <vector>

#include "chunk_plan.hpp"
#include "test_books.hpp"

namespace msync::cuda {
namespace {

book_inputs book_of(const test::temp_dir& dir, std::int64_t accounts) {
  return test::generated_book(dir, accounts, 4, 3, 17);
}

// Every property a plan must have, checked against the book.
void expect_valid_plan(const chunk_plan& plan, const book& b, std::size_t cap) {
  ASSERT_FALSE(plan.chunks.empty());
  const std::uint32_t per = accounts_per_group(b.accounts());
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
  EXPECT_EQ(next_group, group_count(b.accounts()));
  EXPECT_EQ(next_account, b.accounts());
  // What the backend allocates for the chunks (sized by the largest chunk's counts, the upload
  // buffers twice when chunked) fits the room.
  EXPECT_LE(chunk_buffer_bytes(plan), plan.room);
}

TEST(chunk_plan, groups_depend_on_the_account_count_only) {
  // At most 4096 groups, whatever the scenario count (a wave's rows, not the groups', are held).
  EXPECT_EQ(accounts_per_group(1000), 1u);
  EXPECT_EQ(group_count(1000), 1000u);
  EXPECT_EQ(accounts_per_group(1000000), 245u);  // ceil(1e6 / 4,096)
  EXPECT_EQ(group_count(1000000), 4082u);        // ceil(1e6 / 245)
  EXPECT_EQ(accounts_per_group(10000000), 2442u);
  EXPECT_EQ(group_count(10000000), 4096u);
  // An empty book still has a row.
  EXPECT_EQ(group_count(0), 1u);
  EXPECT_EQ(accounts_per_group(0), 1u);
}

// H100 and H200: 132 SMs; about 90% of their 80 and 141 GB free for the backend.
constexpr std::uint32_t sms = 132;
constexpr std::size_t h100_budget = std::size_t{72} << 30;
constexpr std::size_t h200_budget = std::size_t{125} << 30;

TEST(chunk_plan, a_wave_fills_the_device_whatever_the_scenario_count) {
  const std::size_t accounts = 1000000;  // 4,082 groups
  for (std::int64_t n : {std::int64_t{10000}, std::int64_t{262144}, std::int64_t{1000000}}) {
    SCOPED_TRACE(n);
    for (std::size_t budget : {h100_budget, h200_budget}) {
      const run_shape shape{n, 20, false, false, sms};
      EXPECT_EQ(wave_groups(shape, accounts, budget), 2 * sms);  // 2 blocks per SM
    }
  }
  // 10 M scenarios: 160 MB of rows per block, within half the budget; still more than one block
  // per SM. Before waves, 1 M scenarios gave 33 blocks and 10 M gave 3.
  const run_shape ten_million{10000000, 20, false, false, sms};
  EXPECT_EQ(wave_groups(ten_million, accounts, h100_budget), 241u);  // 36 GiB / 160 MB
  // 62.5 GiB / 160 MB would allow 419: the device's two blocks per SM are the limit.
  EXPECT_EQ(wave_groups(ten_million, accounts, h200_budget), 2 * sms);
  EXPECT_GT(wave_groups(ten_million, accounts, h100_budget), sms);
  // Rows held: a wave's, within half the budget.
  EXPECT_LE(wave_groups(ten_million, accounts, h100_budget) * wave_row_bytes(10000000),
            h100_budget / 2);
  // Never more blocks than groups, never fewer than one.
  EXPECT_EQ(wave_groups(run_shape{10000, 4, false, false, sms}, 100, h100_budget), 100u);
  EXPECT_EQ(wave_groups(run_shape{10000000, 4, false, false, sms}, accounts, 1000), 1u);
  EXPECT_EQ(wave_groups(run_shape{0, 4, false, false, sms}, 0, h100_budget), 1u);
}

// The order in which the wave's rows reach the book's row (bundles of groups, whatever the wave)
// is tests/cpu/test_bad_debt_order.cpp's.

TEST(chunk_plan, full_tiles_keep_a_table_tile_in_a_quarter_of_l2) {
  const std::size_t l2 = std::size_t{50} << 20;  // an H100's or H200's L2
  // B1M: 1,252 instruments, 5 MB of table per 512 scenarios: 1,024 scenarios per tile (10 MB).
  EXPECT_EQ(full_tile_scenarios(1252, l2, 10000), 1024u);
  EXPECT_EQ(full_tile_scenarios(1252, l2, 100000), 1024u);
  // Few instruments: at most 2,048 (four losses per thread in registers), at most N rounded up.
  EXPECT_EQ(full_tile_scenarios(10, l2, 1000000), max_tile_scenarios);
  EXPECT_EQ(full_tile_scenarios(10, l2, 1000), 1024u);
  EXPECT_EQ(full_tile_scenarios(10, l2, 100), 512u);
  // Many instruments: one block of scenarios, even where its tile does not stay on chip.
  EXPECT_EQ(full_tile_scenarios(100000, l2, 10000), 512u);
  EXPECT_EQ(full_tile_scenarios(0, 0, 0), 512u);
  // The tiled scratch counts in a wave's bytes for `full` only, and a wave still fills the device.
  const run_shape dg{10000, 20, false, false, sms}, full{10000, 20, true, false, sms};
  EXPECT_EQ(wave_block_bytes(dg), wave_row_bytes(10000));
  EXPECT_EQ(wave_block_bytes(full), wave_row_bytes(10000) + full_tile_block_bytes);
  EXPECT_EQ(wave_groups(full, 1000000, h100_budget), 2 * sms);
  EXPECT_LE(std::size_t{2} * sms * full_tile_block_bytes, std::size_t{300} << 20)
      << "a wave's tiled scratch on an H100 stays near a quarter of a GB";
}

TEST(chunk_plan, a_book_that_fits_is_held_whole) {
  test::temp_dir dir;
  const book_inputs in = book_of(dir, 500);
  const run_shape shape{1000, 4, true, false};
  const chunk_plan plan = plan_chunks(in.positions, shape, std::size_t{1} << 30, 0);
  EXPECT_TRUE(plan.resident());
  EXPECT_TRUE(plan.use_table);
  expect_valid_plan(plan, in.positions, 0);
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
    expect_valid_plan(plan, in.positions, cap);
  }
}

TEST(chunk_plan, a_small_budget_splits_the_book_by_bytes) {
  test::temp_dir dir;
  const book_inputs in = book_of(dir, 3000);
  const book& b = in.positions;
  const run_shape shape{1000, 4, false, false};
  const std::size_t fixed =
      fixed_bytes(shape, b.instruments.size(), b.accounts(), false, std::size_t{1} << 30);
  // Room for about a fifth of the book beside the scenarios.
  const std::size_t budget = fixed + book_bytes(b) / 5;
  const chunk_plan plan = plan_chunks(b, shape, budget, 0);
  EXPECT_GE(plan.chunks.size(), 5u);
  EXPECT_LE(plan.chunks.size(), 7u);  // chunks grow until the next group would not fit
  EXPECT_EQ(plan.room, budget - fixed);
  expect_valid_plan(plan, b, 0);
  EXPECT_FALSE(stays_resident(b, shape, budget));
}

// A book in chunks holds its upload buffers twice (the next chunk's upload runs while this one
// computes), each buffer sized by the largest chunk: the planner counts both, whatever the room.
TEST(chunk_plan, chunks_count_the_second_set_of_upload_buffers) {
  test::temp_dir dir;
  const book_inputs in = book_of(dir, 3000);
  const book& b = in.positions;
  const run_shape shape{1000, 4, false, false};
  const std::size_t fixed =
      fixed_bytes(shape, b.instruments.size(), b.accounts(), false, std::size_t{1} << 30);
  const std::size_t second = upload_set_bytes(b.accounts(), b.exposures(), b.positions());
  EXPECT_EQ(second, b.accounts() * 44 + b.exposures() * 12 + b.positions() * 20);
  for (std::size_t parts : {2, 3, 5, 9, 17, 40}) {
    SCOPED_TRACE(parts);
    const chunk_plan plan = plan_chunks(b, shape, fixed + book_bytes(b) / parts, 0);
    ASSERT_GT(plan.chunks.size(), 1u);
    expect_valid_plan(plan, b, 0);
    const std::size_t acc = plan.max_accounts(), exp = plan.max_exposures(),
                      pos = plan.max_positions();
    EXPECT_EQ(chunk_buffer_bytes(plan),
              book_bytes(acc, exp, pos) + upload_set_bytes(acc, exp, pos));
    for (const chunk_range& c : plan.chunks)
      EXPECT_LE(book_bytes(c.accounts(), c.exposures(), c.positions()) +
                    upload_set_bytes(c.accounts(), c.exposures(), c.positions()),
                plan.room);
    // One set would have fitted larger chunks: the second one costs chunks.
    EXPECT_GT(plan.chunks.size(), parts - 1);
  }
  // Held whole, one set: the budget that just fits the book keeps it whole.
  const chunk_plan whole = plan_chunks(b, shape, fixed + book_bytes(b), 0);
  EXPECT_TRUE(whole.resident());
  EXPECT_EQ(chunk_buffer_bytes(whole), book_bytes(b));
  EXPECT_FALSE(plan_chunks(b, shape, fixed + book_bytes(b) - 1, 0).resident());
}

TEST(chunk_plan, full_keeps_the_table_only_where_it_fits) {
  test::temp_dir dir;
  const book_inputs in = book_of(dir, 300);
  const book& b = in.positions;
  const run_shape shape{20000, 4, true, false};
  const std::size_t with =
      fixed_bytes(shape, b.instruments.size(), b.accounts(), true, std::size_t{1} << 30);
  const std::size_t without =
      fixed_bytes(shape, b.instruments.size(), b.accounts(), false, std::size_t{1} << 30);
  EXPECT_EQ(with - without, b.instruments.size() * 20000 * sizeof(double));
  EXPECT_TRUE(plan_chunks(b, shape, with + book_bytes(b), 0).use_table);
  // Neither the whole book beside it nor at most half the budget: priced on the fly.
  const chunk_plan tight = plan_chunks(b, shape, with + book_bytes(b) / 2, 0);
  EXPECT_FALSE(tight.use_table);
  expect_valid_plan(tight, b, 0);
}

TEST(chunk_plan, what_cannot_fit_is_refused_with_a_reason) {
  test::temp_dir dir;
  const book_inputs in = book_of(dir, 100);
  const book& b = in.positions;
  const run_shape shape{100000, 4, false, false};
  const std::size_t fixed =
      fixed_bytes(shape, b.instruments.size(), b.accounts(), false, std::size_t{1} << 30);
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
