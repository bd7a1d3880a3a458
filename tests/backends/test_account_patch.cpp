// Patching accounts into a loaded book (what a cascade round or a replay's close-out does instead
// of loading the whole book again) against loading the edited book from scratch, on every
// backend: the revaluation and margins must be the same bit for bit (resident and, for CUDA, in
// chunks), agree with the CPU backend, and the undo patch must give back the numbers of the book
// as loaded. Gathering some accounts' part of the revaluation (copy_revaluation_of) against the
// whole copy.
#include <gtest/gtest.h>

#include <algorithm>
#include <stdexcept>

#include "backend_cases.hpp"
#include "marginsync/backend.hpp"
#include "test_books.hpp"

namespace msync {
namespace {

using test::expect_identical;
using test::outcome;
using test::run_loaded;
using test::run_on;

class account_patch_test : public test::each_backend {};

book_inputs generated(const test::temp_dir& dir, std::int64_t accounts = 3000) {
  book_inputs in = test::generated_book(dir, accounts, 5, 4, 11);
  in.risk.scenarios = 800;
  return in;
}

TEST_P(account_patch_test, a_patched_book_equals_the_edited_book_loaded_and_the_undo_restores_it) {
  test::temp_dir dir;
  book_inputs in = generated(dir);
  const book& b = in.positions;
  // Every seventh account closed, with collateral 1000 + a left; the edited book is made by hand.
  const test::closed_accounts c = test::close_every(b, 7, 1000.0);
  book_inputs edited = in;
  edited.positions = c.edited;
  auto engine = make();
  const outcome loaded = run_on(*engine, in);
  engine->patch_accounts(c.close);
  // The backend works on the book it was given rather than a copy of it (backend.hpp): the patch
  // is in the caller's book.
  EXPECT_EQ(in.positions.position_quantity, c.edited.position_quantity);
  EXPECT_EQ(in.positions.position_cost, c.edited.position_cost);
  EXPECT_EQ(in.positions.collateral, c.edited.collateral);
  const outcome patched = run_loaded(*engine, in);
  auto fresh = make();
  expect_identical(patched, run_on(*fresh, edited));
  auto cpu = make_reference();
  test::expect_agree(edited, patched, run_on(*cpu, edited));
  // A closed account holds nothing: its own funds are its collateral, its equity that and its
  // credit, and it has no margin.
  for (std::uint32_t a = 0; a < b.accounts(); a += 7) {
    EXPECT_EQ(patched.reval.account_own_funds[a], 1000.0 + a) << a;
    EXPECT_EQ(patched.reval.account_equity[a],
              1000.0 + a + in.risk.tiers[b.account_tier[a]].credit_limit)
        << a;
    EXPECT_EQ(patched.reval.account_gross_notional[a], 0.0) << a;
    EXPECT_EQ(patched.risk.maintenance_margin[a], 0.0) << a;
  }
  EXPECT_NE(patched.reval.account_equity, loaded.reval.account_equity);
  engine->patch_accounts(c.undo);
  expect_identical(run_loaded(*engine, in), loaded);
}

TEST_P(account_patch_test, a_patch_that_does_not_fit_the_book_is_refused) {
  test::temp_dir dir;
  book_inputs in = generated(dir, 500);
  auto engine = make();
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
  auto fresh = make();
  fresh->load_book(in.positions, in.risk);
  engine->revalue(in.market, {});
  fresh->revalue(in.market, {});
  EXPECT_EQ(engine->copy_revaluation().account_equity, fresh->copy_revaluation().account_equity);
}

// The accounts a cascade closes come back alone: equal to the whole copy bit for bit, and to the
// reference within docs/design.md section 6; a patch after the revalue does not change them.
TEST_P(account_patch_test, copy_revaluation_of_gives_those_accounts_of_the_revaluation) {
  test::temp_dir dir;
  book_inputs in = generated(dir, 2000);
  book& b = in.positions;
  auto engine = make();
  engine->load_book(b, in.risk);
  engine->revalue(in.market, {});
  const revaluation whole = engine->copy_revaluation();
  auto cpu = make_reference();
  book reference_book = b;  // its own: the patch below writes into the book `engine` borrows
  cpu->load_book(reference_book, in.risk);
  cpu->revalue(in.market, {});
  std::vector<std::uint32_t> picked{1999, 0, 17, 1000, 3, 512};
  // And an account with a credit line, whose own funds and equity differ.
  for (std::uint32_t a = 0; a < b.accounts(); ++a)
    if (in.risk.tiers[b.account_tier[a]].credit_limit > 0.0 &&
        std::find(picked.begin(), picked.end(), a) == picked.end()) {
      picked.push_back(a);
      break;
    }
  ASSERT_EQ(picked.size(), 7u) << "the generated book has an account with a credit line";
  const test::closed_accounts closed = test::close_every(b, 3, 0.0);
  engine->patch_accounts(closed.close);  // the revaluation held describes the book before it
  const revalued_accounts r = engine->copy_revaluation_of(picked),
                          c = cpu->copy_revaluation_of(picked);
  ASSERT_EQ(r.first, c.first);
  ASSERT_EQ(r.first.size(), picked.size() + 1);
  for (std::size_t i = 0; i < picked.size(); ++i) {
    const std::uint32_t a = picked[i];
    EXPECT_EQ(r.equity[i], whole.account_equity[a]) << a;
    EXPECT_EQ(r.own_funds[i], whole.account_own_funds[a]) << a;
    EXPECT_EQ(r.gross_notional[i], whole.account_gross_notional[a]) << a;
    test::expect_close(r.equity[i], c.equity[i], test::revaluation_tolerance, 1.0, "equity");
    test::expect_close(r.own_funds[i], c.own_funds[i], test::revaluation_tolerance, 1.0,
                       "own funds");
    ASSERT_EQ(r.first[i + 1] - r.first[i],
              b.account_exposure_begin[a + 1] - b.account_exposure_begin[a])
        << a;
    for (std::uint64_t k = r.first[i]; k < r.first[i + 1]; ++k) {
      EXPECT_EQ(r.exposure_delta[k],
                whole.exposure_delta[b.account_exposure_begin[a] + (k - r.first[i])])
          << a;
      test::expect_close(r.exposure_delta[k], c.exposure_delta[k], test::revaluation_tolerance, 1.0,
                         "delta");
    }
  }
  EXPECT_TRUE(engine->copy_revaluation_of({}).equity.empty());
  EXPECT_THROW(engine->copy_revaluation_of({static_cast<std::uint32_t>(b.accounts())}),
               std::logic_error);
}

MSYNC_FOR_EACH_BACKEND(account_patch_test);

}  // namespace
}  // namespace msync
