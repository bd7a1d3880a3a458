// Every backend against the CPU backend on a book that uses every input of the margin model
// (docs/design.md 3.2 to 3.7): options with their own mark_iv and on an SVI surface, marked
// futures, expired options and futures (with and without a settlement price), perpetual funding,
// tenor-scaled vol shocks, a credit tier, per-underlying liquidity. Both methods, Monte Carlo and
// a scenario file, collateral changes. The generated books of test_backend_parity.cpp have none
// of these, so only this test takes each backend through those branches of its kernels.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "backend_cases.hpp"
#include "io/load_inputs.hpp"
#include "marginsync/instrument_inputs.hpp"
#include "marginsync/time_units.hpp"
#include "test_books.hpp"
#include "test_support.hpp"

namespace msync {
namespace {

using test::expect_agree;
using test::run_on;

constexpr std::int64_t ns_per_day = 86'400'000'000'000;

// A generated book given every model input, in memory (no loader involved).
book_inputs book_with_every_model_input(const test::temp_dir& dir) {
  book_inputs in = test::generated_book(dir, 1600, 4, 4, 29);
  market_state& m = in.market;
  instrument_table& ins = in.positions.instruments;
  const std::size_t n = ins.size();
  m.mark_price.assign(n, NAN);
  m.mark_iv.assign(n, NAN);
  m.settlement_price.assign(n, NAN);
  std::size_t options = 0, futures = 0, expired = 0, surfaced = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint32_t u = ins.underlying[i];
    if (ins.kind[i] == instrument_kind::option) {
      ++options;
      if (options % 4 == 0) m.mark_iv[i] = 1.3 * m.vol[u];  // its own smile point
      if (u == 0) ++surfaced;
    } else if (ins.kind[i] == instrument_kind::future) {
      ++futures;
      if (futures % 2 == 0) m.mark_price[i] = 1.004 * m.spot[u];  // a marked basis
    } else {
      continue;
    }
    // Every fifth dated instrument expired: a day ago, or inside the horizon's day; every other
    // expired one has a settlement price.
    if ((options + futures) % 5 == 0) {
      ins.expiry_ns[i] = m.as_of_ns - ((options + futures) % 2 ? ns_per_day : 0);
      if (expired++ % 2 == 0) m.settlement_price[i] = 0.97 * m.spot[u];
    } else if ((options + futures) % 7 == 0) {
      ins.expiry_ns[i] = m.as_of_ns + ns_per_day / 3;  // expires inside the horizon
    }
  }
  EXPECT_GT(options, 20u);
  EXPECT_GT(futures, 4u);
  EXPECT_GT(expired, 4u);
  EXPECT_GT(surfaced, 0u) << "options on the surfaced underlying";
  // Underlying 0 on a skewed surface of two slices (the first inside a week, the second at 90
  // days); its options off the slices' range take the first's or the last's vol.
  m.surface.assign(m.size(), {});
  m.surface[0] = {svi_slice{m.as_of_ns + 7 * ns_per_day, 0.002, 0.05, -0.4, 0.0, 0.1},
                  svi_slice{m.as_of_ns + 90 * ns_per_day, 0.03, 0.12, -0.3, 0.05, 0.2}};
  for (std::size_t u = 0; u < m.size(); ++u)
    m.funding_rate[u] = (u % 2 ? -1.0 : 1.0) * 0.0001 * static_cast<double>(u + 1);
  risk_params& r = in.risk;
  r.vol_term_exponent = 0.4;
  r.liquidity_addon = true;
  r.underlying_impact_coefficient.assign(m.size(), 0.7);
  r.underlying_daily_volume.assign(m.size(), 5e7);
  r.underlying_daily_volume[0] = 2e6;  // a thin market: a visible add-on
  // The book takes each branch: settled, marked basis, surface vol, tenor scaling.
  std::size_t settled = 0, based = 0, on_surface = 0, scaled = 0;
  const std::vector<valuation_inputs> x = instrument_inputs(ins, m, r);
  for (std::size_t i = 0; i < n; ++i) {
    settled += x[i].settled;
    based += x[i].basis > 0.0;
    on_surface += ins.kind[i] == instrument_kind::option && !x[i].settled &&
                  ins.underlying[i] == 0 && !(m.mark_iv[i] == m.mark_iv[i]);
    scaled += x[i].vol_term != 1.0;
  }
  EXPECT_GT(settled, 4u);
  EXPECT_GT(based, 2u);
  EXPECT_GT(on_surface, 2u);
  EXPECT_GT(scaled, 10u);
  return in;
}

class model_parity : public test::each_backend {
 protected:
  // This backend and the reference with both methods on `in` (and `file`), compared.
  void compare_both_methods(book_inputs in, const scenario_file_data* file = nullptr) const {
    for (risk_method method : {risk_method::full, risk_method::delta_gamma}) {
      SCOPED_TRACE(method_name(method));
      in.risk.method = method;
      auto engine = make();
      auto cpu = make_reference();
      expect_agree(in, run_on(*engine, in, file), run_on(*cpu, in, file));
    }
  }
};

TEST_P(model_parity, monte_carlo_on_every_model_input_matches_the_cpu) {
  test::temp_dir dir;
  book_inputs in = book_with_every_model_input(dir);
  in.risk.scenarios = 1500;
  compare_both_methods(in);
  // What the model adds shows in the reference: decay, add-ons, a floor below the gross notional.
  auto cpu = make_reference();
  const revaluation r = run_on(*cpu, in).reval;
  EXPECT_GT(std::count_if(r.exposure_decay.begin(), r.exposure_decay.end(),
                          [](double d) { return d != 0.0; }),
            100);
  EXPECT_GT(std::count_if(r.account_liquidity_addon.begin(), r.account_liquidity_addon.end(),
                          [](double c) { return c > 0.0; }),
            100);
  std::size_t below = 0;
  for (std::size_t a = 0; a < r.account_gross_notional.size(); ++a)
    below += r.account_floor_notional[a] < r.account_gross_notional[a];
  EXPECT_GT(below, 100u);
  // Without the add-on, and on expected shortfall.
  in.risk.liquidity_addon = false;
  in.risk.measure = margin_measure::es;
  compare_both_methods(in);
}

TEST_P(model_parity, a_scenario_file_on_every_model_input_matches_the_cpu) {
  test::temp_dir dir;
  book_inputs in = book_with_every_model_input(dir);
  // Given moves: no drift, no tenor scaling (the file says the move).
  scenario_file_data file;
  std::mt19937_64 rng(17);
  std::normal_distribution<double> z(0.0, 0.04);
  for (int s = 0; s < 400; ++s) {
    file.scenario_id.push_back("s" + std::to_string(s));
    for (std::size_t u = 0; u < in.market.size(); ++u) {
      file.spot_return.push_back(z(rng));
      file.vol_change.push_back(std::max(-0.9, 5 * z(rng)));
    }
  }
  compare_both_methods(in, &file);
}

// Collateral changes at revalue on that book: own funds and equity move alike, as on the CPU.
TEST_P(model_parity, collateral_changes_move_own_funds_as_on_the_cpu) {
  test::temp_dir dir;
  book_inputs in = book_with_every_model_input(dir);
  std::vector<double> change(in.positions.accounts());
  for (std::size_t a = 0; a < change.size(); ++a)
    change[a] = (a % 4 == 0) ? -40.0 * static_cast<double>(a) : 3.5;
  auto engine = make();
  auto cpu = make_reference();
  engine->load_book(in.positions, in.risk);
  cpu->load_book(in.positions, in.risk);
  engine->revalue(in.market, change);
  cpu->revalue(in.market, change);
  test::expect_revaluations_agree(engine->copy_revaluation(), cpu->copy_revaluation());
}

MSYNC_FOR_EACH_BACKEND(model_parity);

}  // namespace
}  // namespace msync
