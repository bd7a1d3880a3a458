// Pre-trade what-if margin (docs/design.md 8.10): for one account, before and after a list of
// orders, the numbers a full CPU-backend risk run gives on a book with those orders applied (an
// independent run: load_book + revalue + scenario_risk), for every kind of trade and account,
// both methods, Monte Carlo and a scenario file; and the requests that must be refused.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "io/load_inputs.hpp"
#include "marginsync/backend_registry.hpp"
#include "marginsync/instrument_inputs.hpp"
#include "stream/book_edit.hpp"
#include "stream/stream_engine.hpp"
#include "test_books.hpp"
#include "test_support.hpp"
#include "whatif/whatif.hpp"

namespace msync::test {
namespace {

book_inputs sample_inputs(risk_method method) {
  book_location where;
  where.book = sample_book();
  book_inputs in = load_book_at(where);
  in.risk.method = method;
  in.risk.seed = 20261124;
  return in;
}

// A grid of given scenarios on both underlyings: spot moves of -30% to +30% (log returns) by vol
// moves of -50% to +200%, the two underlyings moving together and apart.
scenario_file_data scenario_grid(const market_state& m) {
  scenario_file_data f;
  f.path = "grid.csv";
  const std::size_t u = m.size();
  int id = 0;
  for (int i = -15; i <= 15; ++i)
    for (double vol : {-0.5, 0.0, 0.5, 2.0})
      for (double other : {1.0, -0.5}) {
        f.scenario_id.push_back("s" + std::to_string(id++));
        for (std::size_t k = 0; k < u; ++k) {
          f.spot_return.push_back((k == 0 ? 1.0 : other) * 0.02 * i);
          f.vol_change.push_back(vol);
        }
      }
  return f;
}

// The reference: the account's numbers from a full CPU-backend run on a copy of the book with the
// orders applied as the stream applies trades, their cash folded into collateral.
struct reference_numbers {
  double own_funds, equity, var, es, im, mm, health, breach;
  account_status status;
  bool preemptive;
};

reference_numbers reference(book_inputs in, const whatif_request& r,
                            const std::vector<double>& collateral_change,
                            const scenario_file_data* file) {
  book& b = in.positions;
  for (std::size_t a = 0; a < collateral_change.size(); ++a)
    b.collateral[a] += collateral_change[a];
  std::uint32_t a = 0;
  while (a < b.accounts() && b.account_id[a] != r.account) ++a;
  if (a == b.accounts()) {
    add_account(b, r.account, static_cast<std::uint32_t>(in.risk.tier_index(*r.tier)));
    b.collateral[a] = r.collateral.value_or(0.0);
  }
  for (const whatif_order& o : r.orders) {
    std::uint32_t i = 0;
    while (b.instruments.id[i] != o.instrument) ++i;
    b.collateral[a] += apply_trade(b, a, i, o.quantity, o.price);
  }
  const std::unique_ptr<backend> engine = make_cpu_backend(2);
  const outcome out = run_on(*engine, in, file);
  return reference_numbers{out.reval.account_own_funds[a],
                           out.reval.account_equity[a],
                           out.risk.var[a],
                           out.risk.es[a],
                           out.risk.initial_margin[a],
                           out.risk.maintenance_margin[a],
                           out.risk.health[a],
                           out.risk.breach_probability[a],
                           out.risk.status[a],
                           out.risk.preemptive[a] != 0};
}

// docs/design.md section 6: equity-like numbers within 1e-9 relative; the risk numbers are the
// CPU backend's own arithmetic, so within 1e-12 (1e-12 absolute near zero).
void expect_close(double want, double got, double rel, const std::string& what) {
  if (std::isinf(want) || std::isnan(want)) {
    EXPECT_TRUE(std::isnan(want) ? std::isnan(got) : want == got) << what << ": " << got;
    return;
  }
  EXPECT_NEAR(got, want, rel * std::max(1.0, std::fabs(want))) << what;
}

// The what-if's delta_gamma losses are double; the CPU risk run's are float, with VaR, ES, IM, MM
// and health within 1e-5 relative of double's and breaches and status exactly double's
// (docs/design.md 3.7). `full` is double on both sides.
void expect_matches(const reference_numbers& want, const whatif_numbers& got,
                    const std::string& label, risk_method method) {
  const double risk_rel = method == risk_method::delta_gamma ? 1e-5 : 1e-12;
  expect_close(want.own_funds, got.own_funds, 1e-9, label + " own funds");
  expect_close(want.equity, got.equity, 1e-9, label + " equity");
  expect_close(want.var, got.var, risk_rel, label + " VaR");
  expect_close(want.es, got.es, risk_rel, label + " ES");
  expect_close(want.im, got.initial_margin, risk_rel, label + " IM");
  expect_close(want.mm, got.maintenance_margin, risk_rel, label + " MM");
  expect_close(want.health, got.health, std::max(1e-9, risk_rel), label + " health");
  EXPECT_EQ(want.breach, got.breach_probability) << label << " breach probability";
  EXPECT_EQ(want.status, got.status) << label << " status";
  EXPECT_EQ(want.preemptive, got.preemptive) << label << " pre-emptive flag";
}

whatif_request orders_for(std::string account, std::vector<whatif_order> orders) {
  whatif_request r;
  r.account = std::move(account);
  r.orders = std::move(orders);
  return r;
}

// The what-ifs of item 2's test, on the sample book (docs/design.md 8.10).
std::vector<whatif_request> sample_requests() {
  std::vector<whatif_request> r;
  // Adding to a position.
  r.push_back(orders_for("leveraged_perp_long", {{"BTC-PERP", 1.5, 91200.0}}));
  // Reducing one, then flipping one through zero.
  r.push_back(orders_for("hedged_basis", {{"BTC-PERP", 0.4, 90500.0}}));
  r.push_back(
      orders_for("hedged_basis", {{"BTC-PERP", 3.0, 90800.0}, {"BTC-SPOT", -0.5, 91100.0}}));
  // A new instrument, and a new underlying, for an account.
  r.push_back(orders_for("short_option_seller",
                         {{"ETH-PERP", -2.0, 3105.0}, {"BTC-20261225", 0.5, 92000.0}}));
  // Options: buying back a short put, selling a call; a long-option account buying more.
  r.push_back(orders_for("short_option_seller", {{"BTC-20261225-80000-P", 4.0, 1900.0},
                                                 {"BTC-20261225-90000-C", -2.0, 6400.0}}));
  r.push_back(orders_for("long_options_only", {{"BTC-20261201-130000-C", 5.0, 15.0}}));
  r.push_back(orders_for("protected_eth_long", {{"ETH-20261225-3000-P", -2.0, 140.0}}));
  // Futures: a marked future, and a flip of a perpetual short into a long.
  r.push_back(orders_for("basis_trader", {{"BTC-20261225", -3.0, 92100.0}}));
  r.push_back(orders_for("market_maker_eth_short", {{"ETH-PERP", 60.0, 3098.0}}));
  // A settled instrument traded, and an account in debt on its credit line.
  r.push_back(orders_for("expired_positions", {{"BTC-20261120", 1.0, 88200.0}}));
  r.push_back(orders_for("vip_credit_in_debt", {{"BTC-PERP", -0.25, 91000.0}}));
  // A new account with a tier and collateral; another with no orders at all.
  whatif_request fresh = orders_for(
      "new_client", {{"BTC-PERP", 0.8, 91050.0}, {"BTC-20261225-100000-C", -1.0, 2500.0}});
  fresh.tier = "vip";
  fresh.collateral = 20000.0;
  r.push_back(fresh);
  whatif_request empty = orders_for("new_empty", {});
  empty.tier = "standard";
  r.push_back(empty);
  return r;
}

struct case_param {
  risk_method method;
  bool file;
};

class whatif_equality : public ::testing::TestWithParam<case_param> {};

// Item 2: the what-if equals a full risk run on a book with the orders applied, before and after,
// for every sample request; the last risk run's market is the current one.
TEST_P(whatif_equality, EqualsAFullRiskRunOnTheBookWithTheOrders) {
  book_inputs in = sample_inputs(GetParam().method);
  const scenario_file_data grid = scenario_grid(in.market);
  const scenario_file_data* file = GetParam().file ? &grid : nullptr;
  const whatif_scenarios scenarios(in.market, scenario_source{file}, in.risk);
  const book_lookup lookup(in.positions);
  const whatif_state state{&in.positions, nullptr, &in.market, &in.risk, &scenarios, &lookup};
  whatif_calculator calc;
  int accepted = 0;
  for (const whatif_request& r : sample_requests()) {
    const whatif_result got = calc.evaluate(state, r);
    whatif_request none = r;
    none.orders.clear();
    expect_matches(reference(in, none, {}, file), got.before, r.account + " before",
                   in.risk.method);
    expect_matches(reference(in, r, {}, file), got.after, r.account + " after", in.risk.method);
    EXPECT_EQ(got.incremental_margin, got.after.initial_margin - got.before.initial_margin);
    EXPECT_EQ(got.accept, got.after.equity >= got.after.initial_margin) << r.account;
    EXPECT_EQ(got.new_account, r.tier.has_value());
    accepted += got.accept ? 1 : 0;
  }
  // The sample's requests are not all one answer.
  EXPECT_GT(accepted, 0);
}

INSTANTIATE_TEST_SUITE_P(Methods, whatif_equality,
                         ::testing::Values(case_param{risk_method::full, false},
                                           case_param{risk_method::delta_gamma, false},
                                           case_param{risk_method::full, true},
                                           case_param{risk_method::delta_gamma, true}),
                         [](const ::testing::TestParamInfo<case_param>& p) {
                           return std::string(p.param.method == risk_method::full ? "full"
                                                                                  : "delta_gamma") +
                                  (p.param.file ? "_file" : "_monte_carlo");
                         });

// Prices moved and time passed since the last risk run: the what-if applies that run's scenario
// moves to the current prices, which is a full risk run at the current market (for Monte Carlo,
// the same seed at the same vols), with collateral moved since the book was made resident.
TEST(whatif, UsesTheCurrentPricesWithTheLastRiskRunsScenarioMoves) {
  for (const bool use_file : {false, true})
    for (const risk_method method : {risk_method::full, risk_method::delta_gamma}) {
      const book_inputs at_risk_run = sample_inputs(method);
      book_inputs now = at_risk_run;
      now.market.spot[0] *= 0.97;  // BTC down 3%
      now.market.spot[1] *= 1.02;  // ETH up 2%
      now.market.as_of_ns += 3600LL * 1000000000LL;
      settle_expired(now.positions.instruments, now.market);
      const scenario_file_data grid = scenario_grid(at_risk_run.market);
      const scenario_file_data* file = use_file ? &grid : nullptr;
      const whatif_scenarios scenarios(at_risk_run.market, scenario_source{file}, at_risk_run.risk);
      std::vector<double> change(now.positions.accounts(), 0.0);
      change[2] = -250.0;  // leveraged_perp_long paid funding
      change[9] = 1200.0;  // basis_trader deposited
      const book_lookup lookup(now.positions);
      const whatif_state state{&now.positions, &change,    &now.market,
                               &now.risk,      &scenarios, &lookup};
      whatif_calculator calc;
      for (const whatif_request& r : sample_requests()) {
        const whatif_result got = calc.evaluate(state, r);
        const std::string label = std::string(use_file ? "file " : "monte carlo ") +
                                  method_name(method) + " " + r.account;
        expect_matches(reference(now, r, change, file), got.after, label, now.risk.method);
      }
    }
}

// The calculator's cached scenario rows follow the market: the same request after a tick gives
// the full run at the new prices, not the rows priced before it.
TEST(whatif, CachedRowsFollowTheMarket) {
  book_inputs in = sample_inputs(risk_method::full);
  const whatif_scenarios scenarios(in.market, scenario_source{}, in.risk);
  const book_lookup lookup(in.positions);
  const whatif_state state{&in.positions, nullptr, &in.market, &in.risk, &scenarios, &lookup};
  whatif_calculator calc;
  const whatif_request r =
      orders_for("short_option_seller", {{"BTC-20261225-90000-C", -2.0, 6400.0}});
  calc.evaluate(state, r);
  // A new implied vol for the option (a mark event): its rows are stale. (A tick's underlying vol
  // would change the Monte Carlo moves themselves, which stay the last risk run's until the next.)
  in.market.mark_iv[4] = 0.65;
  ASSERT_EQ(in.positions.instruments.id[4], "BTC-20261225-90000-C");
  expect_matches(reference(in, r, {}, nullptr), calc.evaluate(state, r).after, "after the tick",
                 in.risk.method);
}

// On a stream's state: after an update whose risk path ran (a trade triggers it), the what-if
// built from that update's market equals a full run on the stream's book with the orders applied
// and its collateral moved folded in; after a later update without a risk run (ETH moved 0.3%, time
// passed, funding accrued), it equals a full run at the stream's current market.
TEST(whatif, OnAStreamsStateAfterAndBetweenRiskRuns) {
  book_location where;
  where.book = sample_book();
  const std::unique_ptr<backend> engine = make_cpu_backend(2);
  margin_stream stream(load_book_at(where), *engine);
  const std::int64_t t0 = stream.inputs().market.as_of_ns + 600LL * 1000000000LL;
  auto price = [](std::int64_t ts, std::uint32_t u, double p) {
    stream_event e;
    e.ts_ns = ts;
    e.underlying = u;
    e.price = p;
    e.vol = NAN;
    return e;
  };
  ASSERT_NE(stream.update(t0, {price(t0, 0, 91000.0)}).trigger, risk_trigger::none);
  const std::int64_t t1 = t0 + 1000000000LL;
  stream_event trade;
  trade.kind = stream_event_kind::trade;
  trade.ts_ns = t1;
  trade.account = "hedged_basis";
  trade.instrument = "BTC-PERP";
  trade.quantity = 0.3;
  trade.price = 91150.0;
  stream_event deposit;
  deposit.kind = stream_event_kind::collateral;
  deposit.ts_ns = t1;
  deposit.account = "leveraged_perp_long";
  deposit.amount = 500.0;
  ASSERT_EQ(stream.update(t1, {price(t1, 0, 91200.0), trade, deposit}).trigger,
            risk_trigger::book_change);
  const whatif_scenarios scenarios(stream.inputs().market, scenario_source{}, stream.inputs().risk);
  book_lookup lookup(stream.inputs().positions);
  whatif_calculator calc;
  auto check = [&](const std::string& label) {
    for (const whatif_request& r : sample_requests()) {
      const whatif_result got = calc.evaluate(whatif_state_of(stream, scenarios, lookup), r);
      expect_matches(reference(stream.inputs(), r, stream.collateral_change(), nullptr), got.after,
                     label + " " + r.account, stream.inputs().risk.method);
    }
  };
  check("at the risk run");
  const std::int64_t t2 = t1 + 200000000LL;
  ASSERT_EQ(stream.update(t2, {price(t2, 1, 3090.0)}).trigger, risk_trigger::none);
  check("between risk runs");
}

// Requests that cannot be answered are refused with what is wrong, and change nothing.
TEST(whatif, RefusesBadRequestsAndChangesNothing) {
  book_inputs in = sample_inputs(risk_method::full);
  const book_inputs untouched = in;
  const whatif_scenarios scenarios(in.market, scenario_source{}, in.risk);
  const book_lookup lookup(in.positions);
  const whatif_state state{&in.positions, nullptr, &in.market, &in.risk, &scenarios, &lookup};
  whatif_calculator calc;
  const whatif_request good = orders_for("hedged_basis", {{"BTC-PERP", 0.4, 90500.0}});
  const whatif_result first = calc.evaluate(state, good);

  using kind = whatif_error::kind;
  const double inf = std::numeric_limits<double>::infinity();
  const double nan = std::numeric_limits<double>::quiet_NaN();
  struct bad {
    whatif_request request;
    kind k;
    std::string field;
  };
  std::vector<bad> cases;
  cases.push_back(
      {orders_for("nobody", {{"BTC-PERP", 1.0, 91000.0}}), kind::unknown_account, "account"});
  cases.push_back(
      {orders_for("hedged_basis", {{"BTC-PERP", 1.0, 91000.0}, {"DOGE-PERP", 1.0, 1.0}}),
       kind::unknown_instrument, "orders[1].instrument"});
  for (double q : {0.0, nan, inf, -inf})
    cases.push_back({orders_for("hedged_basis", {{"BTC-PERP", q, 91000.0}}), kind::bad_request,
                     "orders[0].quantity"});
  for (double p : {0.0, -5.0, nan, inf})
    cases.push_back(
        {orders_for("hedged_basis", {{"BTC-PERP", 1.0, p}}), kind::bad_request, "orders[0].price"});
  whatif_request tier_for_existing = good;
  tier_for_existing.tier = "vip";
  cases.push_back({tier_for_existing, kind::bad_request, "tier"});
  whatif_request unknown_tier = orders_for("someone", {});
  unknown_tier.tier = "platinum";
  cases.push_back({unknown_tier, kind::bad_request, "tier"});
  whatif_request bad_collateral = unknown_tier;
  bad_collateral.tier = "standard";
  bad_collateral.collateral = nan;
  cases.push_back({bad_collateral, kind::bad_request, "collateral"});
  whatif_request too_many = orders_for(
      "hedged_basis",
      std::vector<whatif_order>(max_whatif_orders + 1, whatif_order{"BTC-PERP", 1.0, 1.0}));
  cases.push_back({too_many, kind::bad_request, "orders"});

  for (const bad& c : cases) {
    try {
      calc.evaluate(state, c.request);
      ADD_FAILURE() << "accepted a bad request on " << c.field;
    } catch (const whatif_error& e) {
      EXPECT_EQ(e.error_kind(), c.k) << e.what();
      EXPECT_EQ(e.field(), c.field) << e.what();
    }
  }
  // Nothing changed: the book and the market are as they were, and the good request's answer too.
  EXPECT_EQ(in.positions.position_quantity, untouched.positions.position_quantity);
  EXPECT_EQ(in.positions.position_cost, untouched.positions.position_cost);
  EXPECT_EQ(in.positions.collateral, untouched.positions.collateral);
  EXPECT_EQ(in.positions.account_id, untouched.positions.account_id);
  const whatif_result again = calc.evaluate(state, good);
  EXPECT_EQ(again.after.initial_margin, first.after.initial_margin);
  EXPECT_EQ(again.after.equity, first.after.equity);
}

}  // namespace
}  // namespace msync::test
