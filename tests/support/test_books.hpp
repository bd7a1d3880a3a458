#pragma once
// Books the suites build in memory: a generated book loaded like any other, and the close-out of
// a set of accounts made by hand (the reference for backend::patch_accounts); and a backend's
// results on a book.
#include <gtest/gtest.h>

#include <cstdint>

#include "io/load_inputs.hpp"
#include "marginsync/account_patch.hpp"
#include "marginsync/backend.hpp"
#include "synth/generate_book.hpp"
#include "test_support.hpp"

namespace msync::test {

// `b` with its instruments but no accounts: what a backend must handle, though no input loads as
// one (a book without accounts is bad input, docs/design.md section 2.3).
inline book without_accounts(book b) {
  b.account_id.clear();
  b.collateral.clear();
  b.account_tier.clear();
  b.position_instrument.clear();
  b.position_quantity.clear();
  b.position_cost.clear();
  b.account_position_begin.assign(1, 0);
  b.account_exposure_begin.assign(1, 0);
  b.exposure_underlying.clear();
  b.exposure_position_begin.assign(1, 0);
  b.position_rows = 0;
  return b;
}

// `generate` output in `dir`, loaded.
inline book_inputs generated_book(const temp_dir& dir, std::int64_t accounts, int underlyings,
                                  int positions, std::uint64_t seed) {
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

// A backend's revaluation and scenario risk of a book, copied to the host.
struct outcome {
  revaluation reval;
  risk_result risk;
};

// On the book the engine holds already.
inline outcome run_loaded(backend& engine, const book_inputs& in,
                          const scenario_file_data* file = nullptr) {
  engine.revalue(in.market, {});
  engine.scenario_risk(scenario_source{file}, in.risk);
  return outcome{engine.copy_revaluation(), engine.copy_risk()};
}

// Loading the book first (the engine borrows it: `in` must outlive the engine's use of it).
inline outcome run_on(backend& engine, book_inputs& in, const scenario_file_data* file = nullptr) {
  engine.load_book(in.positions, in.risk);
  return run_loaded(engine, in, file);
}

}  // namespace msync::test
