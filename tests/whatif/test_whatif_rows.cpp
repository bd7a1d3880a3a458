// The what-if's scenario rows (docs/design.md 8.10, "Cost"): the row pricer gives
// scenario_unit_pnl's numbers to the last bit; one whatif_row_cache shared by many calculators and
// threads prices each row once and answers exactly what a calculator of its own answers; a prewarm
// after a tick leaves nothing for the what-ifs to price; an older row published late does not
// replace a newer one.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <future>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "io/load_inputs.hpp"
#include "marginsync/instrument_inputs.hpp"
#include "test_books.hpp"
#include "whatif/whatif.hpp"

namespace msync::test {
namespace {

bool same_bits(double a, double b) {
  return std::memcmp(&a, &b, sizeof a) == 0;
}

// Every kind the pricer has its own path for, and those it hands to scenario_unit_pnl: calls and
// puts at and away from the money, short and long, with and without the tenor-scaled vol shock;
// an option expiring within the horizon; a settled option and future; marked, theoretical and
// expiring futures; a perpetual with funding; spot.
TEST(whatif_rows, RowPricerEqualsScenarioUnitPnlToTheLastBit) {
  const std::size_t n = 1301;  // more than two of the pricer's blocks, and not a multiple of one
  std::mt19937_64 gen(7);
  std::normal_distribution<double> z(0.0, 1.0);
  std::vector<double> spot(n), shock(n), out(n), factor(n), shared(n);
  for (std::size_t s = 0; s < n; ++s) {
    spot[s] = 90000.0 * std::exp(0.25 * z(gen));
    shock[s] = 0.4 * z(gen);
  }
  spot[0] = 1e-300;  // far out: log, erfc at their extremes
  spot[1] = 1e12;
  const double h = 1.0 / 365.0, drift = 0.01;
  struct instrument_case {
    const char* name;
    contract_terms c;
    valuation_inputs x;
  };
  const auto inputs = [](double t, double vol, double basis, double funding, bool settled) {
    valuation_inputs x{};
    x.spot = 91000.0;
    x.vol = vol;
    x.rate = 0.045;
    x.carry = 0.045 - 0.01;
    x.time_to_expiry = t;
    x.basis = basis;
    x.vol_term = 1.37;
    x.funding_rate = funding;
    x.settled = settled;
    return x;
  };
  std::vector<instrument_case> cases = {
      {"call at the money",
       {instrument_kind::option, true, 91000.0, 1.0},
       inputs(0.1, 0.6, 0, 0, false)},
      {"call far out",
       {instrument_kind::option, true, 150000.0, 0.1},
       inputs(0.02, 0.9, 0, 0, false)},
      {"put in the money",
       {instrument_kind::option, false, 120000.0, 1.0},
       inputs(0.5, 0.45, 0, 0, false)},
      {"put far out",
       {instrument_kind::option, false, 40000.0, 1.0},
       inputs(1.5, 0.3, 0, 0, false)},
      {"option expiring in the horizon",
       {instrument_kind::option, true, 90000.0, 1.0},
       inputs(0.5 / 365.0, 0.6, 0, 0, false)},
      {"settled option",
       {instrument_kind::option, false, 95000.0, 1.0},
       inputs(-0.01, 0.6, 0, 0, true)},
      {"marked future",
       {instrument_kind::future, false, 0.0, 1.0},
       inputs(0.2, 0.5, 1.004, 0, false)},
      {"theoretical future",
       {instrument_kind::future, false, 0.0, 0.5},
       inputs(0.2, 0.5, 0, 0, false)},
      {"future expiring in the horizon",
       {instrument_kind::future, false, 0.0, 1.0},
       inputs(0.5 / 365.0, 0.5, 1.001, 0, false)},
      {"settled future", {instrument_kind::future, false, 0.0, 1.0}, inputs(-0.1, 0.5, 0, 0, true)},
      {"perpetual",
       {instrument_kind::perpetual, false, 0.0, 0.01},
       inputs(0, 0.5, 0, 0.0001, false)},
      {"spot", {instrument_kind::spot, false, 0.0, 1.0}, inputs(0, 0.5, 0, 0, false)},
  };
  // And options drawn at random: rates, carries, tenors, strikes, vols.
  std::uniform_real_distribution<double> uni(0.0, 1.0);
  for (int k = 0; k < 40; ++k) {
    valuation_inputs x = inputs(0.01 + 2.0 * uni(gen), 0.1 + 1.5 * uni(gen), 0, 0, false);
    x.rate = 0.1 * uni(gen) - 0.02;
    x.carry = x.rate - 0.05 * uni(gen);
    cases.push_back({"random option",
                     {instrument_kind::option, k % 2 == 0, 50000.0 + 100000.0 * uni(gen), 1.0},
                     x});
  }
  for (const instrument_case& ic : cases)
    for (const bool term_scaled : {false, true}) {
      const double base = unit_value(ic.c, ic.x), funding = unit_funding(ic.c, ic.x, 3.0);
      price_scenario_row(ic.c, ic.x, base, funding, spot.data(), shock.data(), drift, h,
                         term_scaled, n, out.data());
      // And with the vol factor row a prewarm shares between options of one g.
      vol_factor_row(term_scaled ? ic.x.vol_term : 1.0, shock.data(), drift, n, factor.data());
      price_scenario_row(ic.c, ic.x, base, funding, spot.data(), shock.data(), drift, h,
                         term_scaled, n, shared.data(), factor.data());
      int differ = 0;
      for (std::size_t s = 0; s < n; ++s) {
        const double want =
            scenario_unit_pnl(ic.c, ic.x, base, funding, spot[s], shock[s], drift, h, term_scaled);
        if ((!same_bits(want, out[s]) || !same_bits(want, shared[s])) && differ++ < 3)
          ADD_FAILURE() << ic.name << (term_scaled ? " (tenor-scaled)" : "") << " scenario " << s
                        << ": " << out[s] << " and " << shared[s] << " against " << want;
      }
    }
}

book_inputs sample(risk_method method) {
  book_location where;
  where.book = sample_book();
  book_inputs in = load_book_at(where);
  in.risk.method = method;
  in.risk.seed = 20261124;
  return in;
}

whatif_request orders_for(std::string account, std::vector<whatif_order> orders) {
  whatif_request r;
  r.account = std::move(account);
  r.orders = std::move(orders);
  return r;
}

std::vector<whatif_request> requests() {
  std::vector<whatif_request> r;
  r.push_back(orders_for("leveraged_perp_long", {{"BTC-PERP", 1.5, 91200.0}}));
  r.push_back(orders_for("short_option_seller", {{"BTC-20261225-80000-P", 4.0, 1900.0},
                                                 {"BTC-20261225-90000-C", -2.0, 6400.0}}));
  r.push_back(orders_for("protected_eth_long", {{"ETH-20261225-3000-P", -2.0, 140.0}}));
  r.push_back(orders_for("basis_trader", {{"BTC-20261225", -3.0, 92100.0}}));
  whatif_request fresh = orders_for(
      "new_client", {{"BTC-PERP", 0.8, 91050.0}, {"BTC-20261225-100000-C", -1.0, 2500.0}});
  fresh.tier = "vip";
  fresh.collateral = 20000.0;
  r.push_back(fresh);
  return r;
}

void expect_same_numbers(const whatif_numbers& a, const whatif_numbers& b, const std::string& l) {
  EXPECT_TRUE(same_bits(a.equity, b.equity)) << l;
  EXPECT_TRUE(same_bits(a.var, b.var)) << l;
  EXPECT_TRUE(same_bits(a.es, b.es)) << l;
  EXPECT_TRUE(same_bits(a.initial_margin, b.initial_margin)) << l;
  EXPECT_TRUE(same_bits(a.maintenance_margin, b.maintenance_margin)) << l;
  EXPECT_TRUE(same_bits(a.breach_probability, b.breach_probability)) << l;
  EXPECT_EQ(a.status, b.status) << l;
}

// A tick: every spot moves and stream time passes 100 ms, as on a 10 Hz feed.
void tick(market_state& m, double factor) {
  for (double& s : m.spot) s *= factor;
  m.as_of_ns += 100000000LL;
}

// Two calculators sharing one cache price each row once between them and answer bit for bit what
// a calculator with its own cache answers; after a tick every row is priced again, once.
TEST(whatif_rows, ASharedCachePricesEachRowOnceForEveryCalculator) {
  book_inputs in = sample(risk_method::full);
  const whatif_scenarios scenarios(in.market, scenario_source{}, in.risk);
  const book_lookup lookup(in.positions);
  whatif_row_cache rows;
  const whatif_state shared{&in.positions, nullptr, &in.market, &in.risk,
                            &scenarios,    &lookup, &rows};
  const whatif_state alone{&in.positions, nullptr, &in.market, &in.risk, &scenarios, &lookup};
  for (const double factor : {1.0, 1.003}) {
    tick(in.market, factor);
    whatif_calculator first, second, own;
    const std::uint64_t priced_before = rows.statistics().priced;
    for (const whatif_request& r : requests()) first.evaluate(shared, r);
    const std::uint64_t priced = rows.statistics().priced - priced_before;
    EXPECT_GT(priced, 0u);
    for (const whatif_request& r : requests()) {
      const whatif_result a = second.evaluate(shared, r), b = own.evaluate(alone, r);
      expect_same_numbers(a.before, b.before, r.account + " before");
      expect_same_numbers(a.after, b.after, r.account + " after");
    }
    // The second calculator found every row the first priced.
    EXPECT_EQ(rows.statistics().priced - priced_before, priced);
  }
}

// After a tick, a prewarm of the instruments asked for recently prices their rows, and the
// what-ifs then price none, with the same numbers as without it.
TEST(whatif_rows, APrewarmAfterATickLeavesNothingToPrice) {
  book_inputs in = sample(risk_method::full);
  const whatif_scenarios scenarios(in.market, scenario_source{}, in.risk);
  const book_lookup lookup(in.positions);
  whatif_row_cache rows;
  const whatif_state shared{&in.positions, nullptr, &in.market, &in.risk,
                            &scenarios,    &lookup, &rows};
  const whatif_state alone{&in.positions, nullptr, &in.market, &in.risk, &scenarios, &lookup};
  whatif_calculator calc, own;
  for (const whatif_request& r : requests()) calc.evaluate(shared, r);
  const std::vector<std::uint32_t> recent = rows.recently_used(std::chrono::seconds(60));
  EXPECT_FALSE(recent.empty());
  tick(in.market, 0.996);
  whatif_prewarm job(shared, rows, recent);
  EXPECT_EQ(job.size(), recent.size());  // the tick made every row stale
  EXPECT_EQ(job.run(), recent.size());
  EXPECT_EQ(prewarm(shared, recent), 0u);  // nothing left to price
  const std::uint64_t priced = rows.statistics().priced;
  for (const whatif_request& r : requests()) {
    const whatif_result a = calc.evaluate(shared, r), b = own.evaluate(alone, r);
    expect_same_numbers(a.after, b.after, r.account + " after");
  }
  EXPECT_EQ(rows.statistics().priced, priced);
}

// A prewarm planned before a tick and run after the what-ifs of the tick priced their rows
// publishes older rows: they do not replace the newer ones.
TEST(whatif_rows, ALatePrewarmDoesNotReplaceNewerRows) {
  book_inputs in = sample(risk_method::full);
  const whatif_scenarios scenarios(in.market, scenario_source{}, in.risk);
  const book_lookup lookup(in.positions);
  whatif_row_cache rows;
  const whatif_state shared{&in.positions, nullptr, &in.market, &in.risk,
                            &scenarios,    &lookup, &rows};
  std::vector<std::uint32_t> all(in.positions.instruments.size());
  for (std::uint32_t i = 0; i < all.size(); ++i) all[i] = i;
  whatif_prewarm late(shared, rows, all);  // planned at the old prices
  tick(in.market, 1.002);
  whatif_calculator calc;
  for (const whatif_request& r : requests()) calc.evaluate(shared, r);
  late.run();
  const std::uint64_t priced = rows.statistics().priced;
  for (const whatif_request& r : requests()) calc.evaluate(shared, r);
  EXPECT_EQ(rows.statistics().priced, priced) << "the late prewarm put back older rows";
}

// While a prewarm prices a tick's rows, what-ifs still answered from the market before that tick
// find their rows: the cache keeps the two newest rows of each instrument.
TEST(whatif_rows, ThePreviousTicksRowsStayWhileTheNextOnesArePriced) {
  book_inputs in = sample(risk_method::full);
  const whatif_scenarios scenarios(in.market, scenario_source{}, in.risk);
  const book_lookup lookup(in.positions);
  whatif_row_cache rows;
  market_state before = in.market;
  tick(before, 1.001);
  market_state after = before;
  tick(after, 0.998);
  const whatif_state old_state{&in.positions, nullptr, &before, &in.risk,
                               &scenarios,    &lookup, &rows};
  const whatif_state new_state{&in.positions, nullptr, &after, &in.risk,
                               &scenarios,    &lookup, &rows};
  whatif_calculator calc;
  for (const whatif_request& r : requests()) calc.evaluate(old_state, r);
  for (const whatif_request& r : requests()) {
    EXPECT_TRUE(calc.rows_ready(old_state, r)) << r.account;
    EXPECT_FALSE(calc.rows_ready(new_state, r)) << r.account;
  }
  // The account's positions count, not only the orders' instruments.
  EXPECT_FALSE(calc.rows_ready(new_state, orders_for("short_option_seller", {})));
  EXPECT_GT(prewarm(new_state, rows.recently_used(std::chrono::seconds(60))), 0u);
  for (const whatif_request& r : requests()) {
    EXPECT_TRUE(calc.rows_ready(old_state, r)) << r.account;
    EXPECT_TRUE(calc.rows_ready(new_state, r)) << r.account;
  }
  const std::uint64_t priced = rows.statistics().priced;
  for (const whatif_request& r : requests()) calc.evaluate(old_state, r);
  for (const whatif_request& r : requests()) calc.evaluate(new_state, r);
  EXPECT_EQ(rows.statistics().priced, priced);
}

// A row being priced by one thread is waited for by another that asks for it (not priced twice),
// skipped by one that will not wait (a prewarm), and a pricer's failure reaches its waiters.
TEST(whatif_rows, ARowBeingPricedIsWaitedForNotPricedTwice) {
  whatif_row_cache rows;
  scenario_row_key key;
  key.spot = 100.0;
  key.generation = 1;
  std::promise<void> started, release;
  std::shared_future<void> go = release.get_future().share();
  std::thread first([&] {
    rows.get(3, key, [&](std::vector<double>& pnl) {
      started.set_value();
      go.wait();
      pnl.assign(4, 1.5);
    });
  });
  started.get_future().wait();
  EXPECT_EQ(
      rows.get(
          3, key, [](std::vector<double>&) { ADD_FAILURE() << "priced twice"; }, false, false),
      nullptr);
  int second_priced = 0;
  std::shared_ptr<const scenario_row> waited;
  std::thread second([&] {
    waited = rows.get(3, key, [&](std::vector<double>& pnl) {
      ++second_priced;
      pnl.assign(4, 0.0);
    });
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  release.set_value();
  first.join();
  second.join();
  EXPECT_EQ(second_priced, 0);
  ASSERT_NE(waited, nullptr);
  EXPECT_EQ(waited->pnl, std::vector<double>(4, 1.5));
  EXPECT_EQ(rows.statistics().priced, 1u);
  EXPECT_EQ(rows.find(3, key), waited);

  scenario_row_key later = key;
  later.as_of_ns = 1;
  later.inputs.time_to_expiry = 0.5;
  EXPECT_THROW(rows.get(3, later, [](std::vector<double>&) { throw std::runtime_error("no"); }),
               std::runtime_error);
  EXPECT_EQ(rows.find(3, later), nullptr);
  EXPECT_EQ(rows.find(3, key), waited);  // kept: nothing newer was published
}

// Threads evaluating at once against one cache answer what one thread answers.
TEST(whatif_rows, ThreadsSharingACacheAnswerAsOneThreadDoes) {
  book_inputs in = sample(risk_method::full);
  tick(in.market, 1.001);
  const whatif_scenarios scenarios(in.market, scenario_source{}, in.risk);
  const book_lookup lookup(in.positions);
  const whatif_state alone{&in.positions, nullptr, &in.market, &in.risk, &scenarios, &lookup};
  whatif_calculator own;
  std::vector<whatif_result> want;
  for (const whatif_request& r : requests()) want.push_back(own.evaluate(alone, r));
  whatif_row_cache rows;
  const whatif_state shared{&in.positions, nullptr, &in.market, &in.risk,
                            &scenarios,    &lookup, &rows};
  std::vector<int> wrong(4, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      whatif_calculator calc;
      const std::vector<whatif_request> rs = requests();
      for (int round = 0; round < 3; ++round)
        for (std::size_t k = 0; k < rs.size(); ++k) {
          const std::size_t i = (k + static_cast<std::size_t>(t)) % rs.size();
          const whatif_result got = calc.evaluate(shared, rs[i]);
          if (!same_bits(got.after.initial_margin, want[i].after.initial_margin) ||
              !same_bits(got.after.var, want[i].after.var))
            ++wrong[static_cast<std::size_t>(t)];
        }
    });
  for (std::thread& th : threads) th.join();
  for (int t = 0; t < 4; ++t) EXPECT_EQ(wrong[static_cast<std::size_t>(t)], 0) << "thread " << t;
}

}  // namespace
}  // namespace msync::test
