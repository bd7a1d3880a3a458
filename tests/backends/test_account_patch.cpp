// Patching accounts into a loaded book (what a cascade round or a replay's close-out does instead
// of loading the whole book again) against loading the edited book from scratch: the CPU
// backend's revaluation and margins must be the same bit for bit, and the undo patch must give
// back the numbers of the book as loaded. Gathering some accounts' numbers (stream_accounts)
// against the whole revaluation. The CUDA backend's patch and gather are tested in
// test_cuda_backend.cpp.
#include <gtest/gtest.h>

#include <stdexcept>

#include "marginsync/backend.hpp"
#include "test_books.hpp"

namespace msync {
namespace {

using test::expect_identical;
using test::outcome;
using test::run_loaded;

book_inputs generated(const test::temp_dir& dir) {
  book_inputs in = test::generated_book(dir, 500, 4, 5, 9);
  in.risk.scenarios = 1000;
  return in;
}

TEST(account_patch, a_patched_book_equals_the_edited_book_loaded_and_the_undo_restores_it) {
  test::temp_dir dir;
  const book_inputs in = generated(dir);
  const book& b = in.positions;
  // Every seventh account closed, with collateral 1000 + a left; the edited book is made by hand.
  const test::closed_accounts c = test::close_every(b, 7, 1000.0);
  auto engine = make_cpu_backend(2);
  engine->load_book(b, in.risk);
  const outcome loaded = run_loaded(*engine, in);
  engine->patch_accounts(c.close);
  const outcome patched = run_loaded(*engine, in);
  auto fresh = make_cpu_backend(2);
  fresh->load_book(c.edited, in.risk);
  expect_identical(patched, run_loaded(*fresh, in));
  // A closed account holds nothing: its equity is its collateral and credit, and it has no margin.
  for (std::uint32_t a = 0; a < b.accounts(); a += 7) {
    EXPECT_EQ(patched.reval.account_equity[a], 1000.0 + a + in.risk.tiers[b.account_tier[a]].credit_limit) << a;
    EXPECT_EQ(patched.reval.account_gross_notional[a], 0.0) << a;
    EXPECT_EQ(patched.risk.maintenance_margin[a], 0.0) << a;
  }
  EXPECT_NE(patched.reval.account_equity, loaded.reval.account_equity);
  engine->patch_accounts(c.undo);
  expect_identical(run_loaded(*engine, in), loaded);
}

TEST(account_patch, a_patch_that_does_not_fit_the_book_is_refused) {
  test::temp_dir dir;
  const book_inputs in = generated(dir);
  auto engine = make_cpu_backend(1);
  engine->load_book(in.positions, in.risk);
  account_patch p;
  add_closed(p, in.positions, 3, 0.0);
  p.quantity.push_back(0.0);  // one position too many for account 3
  p.cost.push_back(0.0);
  p.first.back() += 1;
  EXPECT_THROW(engine->patch_accounts(p), std::logic_error);
  account_patch missing;
  add_closed(missing, in.positions, static_cast<std::uint32_t>(in.positions.accounts()) - 1, 0.0);
  missing.accounts.back() = static_cast<std::uint32_t>(in.positions.accounts());  // no such account
  EXPECT_THROW(engine->patch_accounts(missing), std::logic_error);
  account_patch twice;
  add_closed(twice, in.positions, 4, 0.0);
  add_closed(twice, in.positions, 4, 1.0);
  EXPECT_THROW(engine->patch_accounts(twice), std::logic_error);
  // None of them changed anything.
  auto fresh = make_cpu_backend(1);
  fresh->load_book(in.positions, in.risk);
  EXPECT_EQ(engine->revalue(in.market).account_equity, fresh->revalue(in.market).account_equity);
}

TEST(account_patch, stream_accounts_gives_those_accounts_of_the_revaluation) {
  test::temp_dir dir;
  const book_inputs in = generated(dir);
  const book& b = in.positions;
  auto engine = make_cpu_backend(2);
  engine->load_book(b, in.risk);
  const revaluation whole = engine->revalue(in.market);
  engine->stream_revalue(in.market, {});
  const std::vector<std::uint32_t> picked{499, 0, 17, 250, 3};
  const revalued_accounts r = engine->stream_accounts(picked);
  ASSERT_EQ(r.first.size(), picked.size() + 1);
  for (std::size_t i = 0; i < picked.size(); ++i) {
    const std::uint32_t a = picked[i];
    EXPECT_EQ(r.equity[i], whole.account_equity[a]) << a;
    EXPECT_EQ(r.gross_notional[i], whole.account_gross_notional[a]) << a;
    ASSERT_EQ(r.first[i + 1] - r.first[i], b.account_exposure_begin[a + 1] - b.account_exposure_begin[a]) << a;
    for (std::uint64_t k = r.first[i]; k < r.first[i + 1]; ++k)
      EXPECT_EQ(r.exposure_delta[k], whole.exposure_delta[b.account_exposure_begin[a] + (k - r.first[i])]) << a;
  }
  EXPECT_TRUE(engine->stream_accounts({}).equity.empty());
  EXPECT_THROW(engine->stream_accounts({static_cast<std::uint32_t>(b.accounts())}), std::logic_error);
}

}  // namespace
}  // namespace msync
