#pragma once
// Books the suites build in memory: a generated book loaded like any other, and the close-out of
// a set of accounts made by hand (the reference for backend::patch_accounts); and a backend's
// results on a book, compared bit for bit.
#include <gtest/gtest.h>

#include <cstdint>

#include "synth/generate_book.hpp"
#include "io/load_inputs.hpp"
#include "marginsync/account_patch.hpp"
#include "marginsync/backend.hpp"
#include "test_support.hpp"

namespace msync::test {

// `generate` output in `dir`, loaded.
inline book_inputs generated_book(const temp_dir& dir, std::int64_t accounts, int underlyings, int positions,
                                  std::uint64_t seed) {
  generate_options o;
  o.accounts = accounts;
  o.underlyings = underlyings;
  o.positions_per_account = positions;
  o.seed = seed;
  generate_book(o, dir.path());
  book_location where;
  where.book = dir.path();
  return load_book_at(where);
}

// Every `step`-th account of `b` closed out with collateral `left + a`: `edited` is `b` with those
// accounts' positions zeroed by hand, `close` the patch that does it, `undo` the one that puts the
// accounts back as they are in `b`.
struct closed_accounts {
  book edited;
  account_patch close, undo;
};
inline closed_accounts close_every(const book& b, std::uint32_t step, double left) {
  closed_accounts c{b, {}, {}};
  for (std::uint32_t a = 0; a < b.accounts(); a += step) {
    add_current(c.undo, b, a);
    add_closed(c.close, b, a, left + a);
    for (std::uint64_t p = b.account_position_begin[a]; p < b.account_position_begin[a + 1]; ++p) {
      c.edited.position_quantity[p] = 0.0;
      c.edited.position_cost[p] = 0.0;
    }
    c.edited.collateral[a] = left + a;
  }
  return c;
}

// A backend's revaluation and scenario risk of a book.
struct outcome {
  revaluation reval;
  risk_result risk;
};

// On the book the engine holds already.
inline outcome run_loaded(backend& engine, const book_inputs& in, const scenario_file_data* file = nullptr) {
  outcome o;
  o.reval = engine.revalue(in.market);
  o.risk = engine.scenario_risk(in.market, scenario_source{file}, in.risk, o.reval);
  return o;
}

// Loading the book first.
inline outcome run_on(backend& engine, const book_inputs& in, const scenario_file_data* file = nullptr) {
  engine.load_book(in.positions, in.risk);
  return run_loaded(engine, in, file);
}

// The same numbers, bit for bit: what one backend must give twice, or a patched book and the
// edited book loaded.
inline void expect_identical(const outcome& a, const outcome& b) {
  EXPECT_EQ(a.reval.exposure_delta, b.reval.exposure_delta);
  EXPECT_EQ(a.reval.exposure_gamma, b.reval.exposure_gamma);
  EXPECT_EQ(a.reval.exposure_theta, b.reval.exposure_theta);
  EXPECT_EQ(a.reval.account_equity, b.reval.account_equity);
  EXPECT_EQ(a.reval.account_gross_notional, b.reval.account_gross_notional);
  EXPECT_EQ(a.risk.var, b.risk.var);
  EXPECT_EQ(a.risk.es, b.risk.es);
  EXPECT_EQ(a.risk.initial_margin, b.risk.initial_margin);
  EXPECT_EQ(a.risk.maintenance_margin, b.risk.maintenance_margin);
  EXPECT_EQ(a.risk.breach_probability, b.risk.breach_probability);
  EXPECT_EQ(a.risk.status, b.risk.status);
  EXPECT_EQ(a.risk.not_ok_accounts, b.risk.not_ok_accounts);
  EXPECT_EQ(a.risk.bad_debt_mean, b.risk.bad_debt_mean);
  EXPECT_EQ(a.risk.bad_debt_var, b.risk.bad_debt_var);
  EXPECT_EQ(a.risk.bad_debt_es, b.risk.bad_debt_es);
}

}  // namespace msync::test
