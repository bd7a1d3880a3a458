// Liquidation cascades on books small enough to follow by hand: the impact law against its
// formula, one account closing out (its fill at 2/3 of its own impact, penalty to the fund from
// its own funds after the fill, the rest left to it, its sale moving the price), an account that
// becomes bad debt with the insurance fund running dry, an account in its credit line, a long and
// a short sharing one fill, an expired future the shock leaves alone, a two-round cascade where
// the first close-out's impact liquidates a second account, and a depth file.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "backend_cases.hpp"
#include "cascade/cascade.hpp"
#include "io/number_parse.hpp"
#include "marginsync/cascade_rules.hpp"
#include "marginsync/errors.hpp"
#include "test_books.hpp"
#include "test_support.hpp"

namespace msync {
namespace {

// One account of a test book: its collateral and tier, and a BTC perpetual position (quantity at
// `entry`), with optionally `expired` BTC of a future that expired before as_of, entered at 80000.
struct perp_account {
  double collateral = 0.0, quantity = 0.0, entry = 91000.0;
  std::string tier = "standard";
  double expired = 0.0;
};

book_inputs perp_book(const test::temp_dir& dir, const std::vector<perp_account>& accounts,
                      const std::string& risk_keys) {
  std::string acc = "account_id,collateral,tier\n",
              pos = "account_id,instrument_id,quantity,entry_price\n";
  for (std::size_t i = 0; i < accounts.size(); ++i) {
    const perp_account& a = accounts[i];
    const std::string id = "a" + std::to_string(i);
    acc += id + "," + format_number(a.collateral) + "," + a.tier + "\n";
    pos += id + ",BTC-PERP," + format_number(a.quantity) + "," + format_number(a.entry) + "\n";
    if (a.expired != 0.0) pos += id + ",BTC-EXPIRED," + format_number(a.expired) + ",80000\n";
  }
  test::write_file(dir / "instruments.csv",
                   "instrument_id,kind,underlying,strike,expiry,option_type,multiplier\nBTC-PERP,"
                   "perpetual,BTC,,,,1\nBTC-EXPIRED,future,BTC,,2026-11-20T08:00:00Z,,1\n");
  test::write_file(dir / "accounts.csv", acc);
  test::write_file(dir / "positions.csv", pos);
  test::write_file(dir / "market.json", R"({"as_of": "2026-11-24T08:00:00Z", "rate": 0.0,
      "underlyings": [{"symbol": "BTC", "spot": 91000.0, "vol": 0.55}]})");
  test::write_file(dir / "risk.json",
                   R"({"method": "delta_gamma", "scenarios": 4000, )" + risk_keys + "}");
  book_location where;
  where.book = dir.path();
  return load_book_at(where);
}
// The square-root impact move of trading `notional` BTC at vol 0.55 against `volume` a day (Y = 1),
// written out here rather than taken from cascade_rules.hpp.
double btc_move(double notional, double volume = 1e9) {
  const double move = 0.55 / std::sqrt(365.0) * std::sqrt(std::fabs(notional) / volume);
  return notional < 0 ? -move : move;
}

// The cascade of `shock` (per underlying) on a fresh CPU engine holding the book.
cascade_result cascade_of(const book_inputs& in, const std::vector<double>& shock) {
  book_inputs held = in;  // the engine borrows the book it is given
  auto engine = make_cpu_backend(1);
  engine->load_book(held.positions, held.risk);
  return run_cascade(held, *engine, load_impact_params(std::nullopt, held.market, held.risk),
                     {shock, 50});
}
cascade_result cascade_of(const book_inputs& in, double shock) {
  return cascade_of(in, std::vector<double>{shock});
}

// A shock that makes the numbers infinite (no input reaches it: prices are bounded at load, but the
// impact law compounds over rounds) puts every account in status error: counted, never closed out.
TEST(cascade, accounts_whose_numbers_are_not_finite_are_counted_and_never_closed_out) {
  test::temp_dir dir;
  book_inputs in = perp_book(dir, {{10000.0, 1.0}, {50.0, 2.0}}, R"("insurance_fund": 0)");
  const cascade_result r = cascade_of(in, 1e308);  // 91000 * (1 + 1e308) overflows to +inf
  EXPECT_EQ(r.accounts_in_error, 2);
  ASSERT_FALSE(r.rounds.empty());
  EXPECT_EQ(r.rounds[0].in_error, 2);
  EXPECT_TRUE(r.liquidations.empty());
  // A finite shock of the same book: none in error.
  EXPECT_EQ(cascade_of(in, -0.5).accounts_in_error, 0);
}

TEST(cascade, square_root_impact_follows_its_formula) {
  // 0.5 * 0.73 / sqrt(365) * sqrt(4e6 / 1e9), computed separately.
  EXPECT_NEAR(square_root_impact(0.5, 0.73, -4e6, 1e9), -0.0012083045973594571, 1e-17);
  EXPECT_NEAR(square_root_impact(0.5, 0.73, 4e6, 1e9), 0.0012083045973594571, 1e-17);
  EXPECT_EQ(square_root_impact(1.0, 0.5, 0.0, 1e9), 0.0);
  // Four times the size, twice the move.
  EXPECT_NEAR(square_root_impact(1.0, 0.5, 4e6, 1e9), 2 * square_root_impact(1.0, 0.5, 1e6, 1e9),
              1e-17);
}

TEST(cascade, one_account_closes_out_and_its_sale_moves_the_price) {
  test::temp_dir dir;
  // 10 BTC long at 91000 with 100,000: after -10% (81,900) own funds are 9,000, far below
  // maintenance.
  book_inputs in = perp_book(dir, {{100000, 10}}, R"("insurance_fund": 1000)");
  const cascade_result r = cascade_of(in, -0.10);
  ASSERT_EQ(r.rounds.size(), 2u);  // one close-out, then a round with nobody left
  const cascade_round& first = r.rounds[0];
  EXPECT_EQ(first.accounts, 1);
  EXPECT_NEAR(first.spot[0], 81900.0, 1e-9);
  EXPECT_NEAR(first.notional, 10 * 81900.0, 1e-6);
  // Sold 819,000 against a daily volume of 1e9 at vol 0.55: 0.55 / sqrt(365) * sqrt(0.000819);
  // the sale fills at 2/3 of that move: 9,000 - 10 * 81,900 * (2/3) * 0.000823869 = 8,550.17 left,
  // which still pays the whole penalty of 8,190.
  const double move = -0.0008238690878850857;
  const double fill = 81900.0 * (1 + 2.0 / 3.0 * move);
  EXPECT_NEAR(first.fill[0], fill, 1e-9);
  EXPECT_NEAR(first.penalties, 0.01 * 10 * 81900.0, 1e-6);
  EXPECT_EQ(first.bad_debt, 0.0);
  EXPECT_NEAR(first.fund, 1000 + 8190.0, 1e-6);
  EXPECT_NEAR(first.net_notional[0], -10 * 81900.0, 1e-6);  // a sale
  ASSERT_EQ(r.liquidations.size(), 1u);
  EXPECT_NEAR(r.liquidations[0].equity, 9000.0, 1e-6);
  EXPECT_NEAR(r.liquidations[0].own_funds, 9000.0, 1e-6);
  EXPECT_NEAR(r.liquidations[0].execution_cost, 10 * (81900.0 - fill), 1e-6);
  EXPECT_NEAR(r.rounds[1].spot[0], 81900.0 * (1 + move), 1e-6);
  EXPECT_EQ(r.rounds[1].fill[0], r.rounds[1].spot[0]);  // nobody closed: no trade, no impact
  EXPECT_EQ(r.rounds[1].accounts, 0);
  EXPECT_FALSE(r.round_limit_reached);
}

// The fill decides the penalty: 8,400 of own funds at the round's prices would pay the whole 8,190,
// but the sale of 10 BTC fills 449.83 below them, and the fund gets only what is left.
TEST(cascade, a_close_out_pays_its_penalty_from_own_funds_after_its_own_fill) {
  test::temp_dir dir;
  const double collateral = 8400 + 10 * (91000 - 81900.0);  // own funds 8,400 at 81,900
  book_inputs in = perp_book(dir, {{collateral, 10}}, R"("insurance_fund": 1000)");
  const cascade_result r = cascade_of(in, -0.10);
  ASSERT_EQ(r.liquidations.size(), 1u);
  const liquidation_record& l = r.liquidations[0];
  // By hand: N = -819,000; m = -0.55 / sqrt(365) * sqrt(819,000 / 1e9) = -0.000823869;
  // fill = 81,900 * (1 + (2/3) m) = 81,855.017; F' = 8,400 + 10 * (fill - 81,900) = 7,950.17.
  const double m = -0.55 / std::sqrt(365.0) * std::sqrt(819000.0 / 1e9);
  const double fill = 81900.0 * (1 + 2.0 / 3.0 * m);
  const double after = 8400 + 10 * (fill - 81900.0);
  EXPECT_NEAR(fill, 81855.0167, 1e-3);  // the hand value, to check the formula's transcription
  EXPECT_NEAR(r.rounds[0].fill[0], fill, 1e-9);
  EXPECT_NEAR(l.own_funds, 8400.0, 1e-6);
  EXPECT_NEAR(l.execution_cost, 8400.0 - after, 1e-6);
  EXPECT_NEAR(l.penalty, after, 1e-6);  // less than 0.01 * 819,000 = 8,190: all it has
  EXPECT_LT(l.penalty, 8190.0);
  EXPECT_EQ(l.bad_debt, 0.0);
  EXPECT_NEAR(r.rounds[0].fund, 1000 + after, 1e-6);
  // Nothing is left to the account: a second look at the book finds it flat with 0 collateral.
  ASSERT_EQ(r.rounds.size(), 2u);
  EXPECT_NEAR(r.rounds[1].spot[0], 81900.0 * (1 + m), 1e-6);
}

TEST(cascade, bad_debt_drains_the_insurance_fund) {
  test::temp_dir dir;
  // Own funds after -10%: 80,000 - 91,000 = -11,000: no penalty; the sale of 10 BTC fills
  // 10 * 81,900 * (2/3) * 0.000823869 = 449.83 lower, so 11,449.83 of bad debt against 5,000.
  book_inputs in = perp_book(dir, {{80000, 10}}, R"("insurance_fund": 5000)");
  const cascade_result r = cascade_of(in, -0.10);
  ASSERT_GE(r.rounds.size(), 1u);
  const double cost = 10 * 81900.0 * (2.0 / 3.0) * -btc_move(-819000.0);
  EXPECT_NEAR(cost, 449.83, 0.01);
  EXPECT_EQ(r.rounds[0].penalties, 0.0);
  EXPECT_NEAR(r.rounds[0].bad_debt, 11000.0 + cost, 1e-6);
  EXPECT_NEAR(r.rounds[0].uncovered, 6000.0 + cost, 1e-6);
  EXPECT_EQ(r.rounds[0].fund, 0.0);
}

// A VIP account with a 20,000 credit line: after -10% its own funds are -6,000 and its equity
// 14,000, below maintenance. The credit line is the venue's money: the account pays no penalty
// and all it owes, -F after its fill, is bad debt (the old rule, on equity, booked none and took a
// penalty of 8,190 from the credit line).
TEST(cascade, an_account_in_its_credit_line_is_bad_debt_and_pays_no_penalty) {
  test::temp_dir dir;
  const std::string keys = R"("insurance_fund": 50000, "tiers": {"standard": {},
      "vip": {"im_multiplier": 1.0, "credit_limit": 20000}})";
  perp_account vip;
  vip.collateral = 85000;  // own funds 85,000 - 10 * 9,100 = -6,000 at 81,900
  vip.quantity = 10;
  vip.tier = "vip";
  book_inputs in = perp_book(dir, {vip}, keys);
  const cascade_result r = cascade_of(in, -0.10);
  ASSERT_EQ(r.liquidations.size(), 1u);
  const liquidation_record& l = r.liquidations[0];
  EXPECT_NEAR(l.own_funds, -6000.0, 1e-6);
  EXPECT_NEAR(l.equity, 14000.0, 1e-6);
  EXPECT_LT(l.equity, l.maintenance_margin);
  const double fill = 81900.0 * (1 + 2.0 / 3.0 * btc_move(-819000.0));
  const double after = -6000.0 + 10 * (fill - 81900.0);
  EXPECT_EQ(l.penalty, 0.0);
  EXPECT_NEAR(l.bad_debt, -after, 1e-6);
  EXPECT_GT(l.bad_debt, 6000.0);
  EXPECT_NEAR(r.rounds[0].fund, 50000 + after, 1e-6);
  EXPECT_EQ(r.rounds[0].uncovered, 0.0);
}

// A long and a short closed in the same round trade against the round's net flow and fill at the
// same price: the long's sale costs it, the short's buy-back at that depressed price gains.
TEST(cascade, a_long_and_a_short_closed_in_one_round_fill_at_the_same_price) {
  test::temp_dir dir;
  perp_account lng{100000, 10};         // own funds 9,000 at 81,900
  perp_account shrt{20000, -4, 75000};  // own funds 20,000 - 4 * 6,900 = -7,600 at 81,900
  book_inputs in = perp_book(dir, {lng, shrt}, R"("insurance_fund": 0)");
  const cascade_result r = cascade_of(in, -0.10);
  ASSERT_EQ(r.rounds.size(), 2u);
  ASSERT_EQ(r.liquidations.size(), 2u);
  EXPECT_EQ(r.rounds[0].accounts, 2);
  // Net: the long sells 10, the short buys 4: -6 * 81,900 = -491,400.
  const double net = -6 * 81900.0;
  EXPECT_NEAR(r.rounds[0].net_notional[0], net, 1e-6);
  const double m = btc_move(net);
  const double fill = 81900.0 * (1 + 2.0 / 3.0 * m);
  EXPECT_NEAR(r.rounds[0].fill[0], fill, 1e-9);
  const liquidation_record& l = r.liquidations[0];
  const liquidation_record& s = r.liquidations[1];
  EXPECT_NEAR(l.own_funds, 9000.0, 1e-6);
  EXPECT_NEAR(s.own_funds, -7600.0, 1e-6);
  EXPECT_NEAR(l.execution_cost, 10 * (81900.0 - fill), 1e-6);
  EXPECT_GT(l.execution_cost, 0.0);
  EXPECT_NEAR(s.execution_cost, -4 * (81900.0 - fill), 1e-6);
  EXPECT_LT(s.execution_cost, 0.0);  // a gain
  const double long_after = 9000.0 - l.execution_cost, short_after = -7600.0 + 4 * (81900 - fill);
  EXPECT_NEAR(l.penalty, std::min(8190.0, long_after), 1e-6);
  EXPECT_EQ(l.bad_debt, 0.0);
  EXPECT_EQ(s.penalty, 0.0);
  EXPECT_NEAR(s.bad_debt, -short_after, 1e-6);
  EXPECT_LT(s.bad_debt, 7600.0);
  EXPECT_NEAR(r.rounds[0].bad_debt, -short_after, 1e-6);
  EXPECT_NEAR(r.rounds[1].spot[0], 81900.0 * (1 + m), 1e-6);
}

// An instrument expired at as_of is settled at the price before the shock: the shock moves the
// perpetual, not the expired future's 91,000 - 80,000 = 11,000 per BTC.
TEST(cascade, the_shock_does_not_move_an_expired_instrument) {
  test::temp_dir dir;
  perp_account a{100000, 10};
  a.expired = 1;  // own funds at 81,900: 100,000 - 91,000 + 11,000 = 20,000
  book_inputs in = perp_book(dir, {a}, R"("insurance_fund": 0)");
  const cascade_result r = cascade_of(in, -0.10);
  ASSERT_EQ(r.liquidations.size(), 1u);
  EXPECT_NEAR(r.liquidations[0].own_funds, 20000.0, 1e-6);  // not 100,000 - 91,000 + 1,900
  // Its delta is 0: only the perpetual's 10 BTC trade.
  EXPECT_NEAR(r.rounds[0].net_notional[0], -10 * 81900.0, 1e-6);
}

TEST(cascade, the_first_close_out_liquidates_a_second_account_in_round_two) {
  const std::string keys = R"("daily_volume": 1e7)";
  const double shocked = 91000 * 0.9;
  // Maintenance of a 1 BTC long at the shocked price, from a book where it stays ok.
  double mm = 0.0;
  {
    test::temp_dir dir;
    book_inputs in = perp_book(dir, {{1e6, 1}}, keys);
    ASSERT_EQ(cascade_of(in, -0.10).liquidations.size(), 0u);
    market_state m = in.market;
    m.spot[0] = shocked;
    auto engine = make_cpu_backend(1);
    engine->load_book(in.positions, in.risk);
    engine->revalue(m, {});
    engine->scenario_risk(scenario_source{}, in.risk);
    mm = engine->copy_risk().maintenance_margin[0];
  }
  // a0: 100 BTC, liquidated at once; its sale of 8.19M against 1e7 a day moves BTC down by
  // 0.55 / sqrt(365) * sqrt(0.819) = 2.6%, about 2,130 on a1's 1 BTC. a1 starts 500 above
  // maintenance.
  test::temp_dir dir;
  const double a1_collateral = mm + 500 - (shocked - 91000);
  book_inputs in = perp_book(dir, {{100000, 100}, {a1_collateral, 1}}, keys);
  const cascade_result r = cascade_of(in, -0.10);
  ASSERT_EQ(r.rounds.size(), 3u);
  EXPECT_EQ(r.rounds[0].accounts, 1);
  EXPECT_EQ(r.rounds[1].accounts, 1);
  EXPECT_EQ(r.rounds[2].accounts, 0);
  ASSERT_EQ(r.liquidations.size(), 2u);
  EXPECT_EQ(r.liquidations[0].account, 0u);
  EXPECT_EQ(r.liquidations[1].account, 1u);
  const double move = 0.55 / std::sqrt(365.0) * std::sqrt(100 * shocked / 1e7);
  EXPECT_NEAR(r.rounds[1].spot[0], shocked * (1 - move), 1e-6);
  EXPECT_NEAR(r.liquidations[1].equity, a1_collateral + (shocked * (1 - move) - 91000), 1e-6);
}

TEST(cascade, a_depth_file_sets_impact_per_underlying_and_bad_rows_are_reported) {
  test::temp_dir dir;
  book_inputs in = perp_book(dir, {{1e6, 1}}, "\"impact_coefficient\": 0.7");
  test::write_file(dir / "depth.csv", "underlying,daily_volume,impact_coefficient\nBTC,2.5e9,\n");
  const impact_params p = load_impact_params(dir / "depth.csv", in.market, in.risk);
  EXPECT_EQ(p.daily_volume[0], 2.5e9);
  EXPECT_EQ(p.coefficient[0], 0.7);  // empty: risk.json's default
  test::write_file(dir / "bad.csv", "underlying,daily_volume\nDOGE,1e9\nBTC,-5\n");
  try {
    load_impact_params(dir / "bad.csv", in.market, in.risk);
    FAIL() << "expected input_error";
  } catch (const input_error& e) {
    ASSERT_EQ(e.problems().size(), 2u);
    EXPECT_EQ(e.problems()[0].line, 2);
    EXPECT_EQ(e.problems()[0].column, "underlying");
    EXPECT_EQ(e.problems()[1].line, 3);
    EXPECT_EQ(e.problems()[1].column, "daily_volume");
  }
}

// Grid points run back to back on one loaded book (patches, then their undo) equal fresh runs of
// each shock on a new instance of the same backend, bit for bit, and the book is as loaded
// afterwards (its revaluation and margins unchanged).
class cascade_on_each_backend : public test::each_backend {};

TEST_P(cascade_on_each_backend, shocks_back_to_back_on_one_loaded_book_equal_fresh_runs) {
  test::temp_dir dir;
  book_inputs in = test::generated_book(dir, 600, 3, 4, 5);
  in.risk.scenarios = 1000;
  in.risk.daily_volume = 1e6;  // a thin market, so that close-outs liquidate others
  const impact_params impact = load_impact_params(std::nullopt, in.market, in.risk);
  auto shared = make();
  const test::outcome before = test::run_on(*shared, in);
  std::size_t most_rounds = 0;
  for (double shock : {-0.3, -0.1, -0.5, -0.3}) {
    SCOPED_TRACE(shock);
    const std::vector<double> shocks(in.market.size(), shock);
    const cascade_result a = run_cascade(in, *shared, impact, {shocks, 50});
    auto fresh = make();
    fresh->load_book(in.positions, in.risk);
    const cascade_result b = run_cascade(in, *fresh, impact, {shocks, 50});
    most_rounds = std::max(most_rounds, a.rounds.size());
    ASSERT_EQ(a.rounds.size(), b.rounds.size());
    ASSERT_EQ(a.liquidations.size(), b.liquidations.size());
    for (std::size_t i = 0; i < a.liquidations.size(); ++i) {
      EXPECT_EQ(a.liquidations[i].round, b.liquidations[i].round);
      EXPECT_EQ(a.liquidations[i].account, b.liquidations[i].account);
      EXPECT_EQ(a.liquidations[i].equity, b.liquidations[i].equity);
      EXPECT_EQ(a.liquidations[i].maintenance_margin, b.liquidations[i].maintenance_margin);
    }
    for (std::size_t r = 0; r < a.rounds.size(); ++r) EXPECT_EQ(a.rounds[r].fund, b.rounds[r].fund);
    EXPECT_EQ(a.final_spot, b.final_spot);
  }
  EXPECT_GE(most_rounds, 3u) << "the book cascades past its first round";
  test::expect_identical(test::run_loaded(*shared, in), before);
}

// The command on the sample book: each round's row is the sum of its liquidations, each
// liquidation follows the close-out rule on its own funds after the fill, each round's fill lies
// 2/3 of the way to the next round's price, and a grid point gives what the same single shock
// gives.
TEST(cascade, command_rounds_match_their_liquidations_and_grid_points_match_single_runs) {
  test::temp_dir out;
  const std::string book = test::sample_book().string();
  const test::command_result single =
      test::run_cli("cascade -q --book '" + book + "' --shock BTC=-0.15 --out '" +
                    (out / "single").string() + "'");
  ASSERT_EQ(single.status, 0) << single.out;
  const test::csv_rows rounds = test::read_csv_by_key(out / "single" / "rounds.csv");
  std::ifstream liq(out / "single" / "liquidations.csv");
  std::string line;
  std::getline(liq, line);
  ASSERT_EQ(line,
            "round,account_id,equity,own_funds,maintenance_margin,gross_notional,execution_cost,"
            "penalty,bad_debt");
  std::map<std::string, double> notional, penalties, bad_debt;
  std::map<std::string, int> accounts;
  while (std::getline(liq, line)) {
    std::vector<std::string> f;
    std::stringstream in(line);
    for (std::string x; std::getline(in, x, ',');) f.push_back(x);
    ASSERT_EQ(f.size(), 9u) << line;
    const double equity = std::stod(f[2]), own = std::stod(f[3]), gross = std::stod(f[5]),
                 cost = std::stod(f[6]), penalty = std::stod(f[7]), bad = std::stod(f[8]);
    EXPECT_LT(equity, std::stod(f[4])) << line;  // liquidated: equity below maintenance
    const double after = own - cost;             // own funds after the fill
    EXPECT_DOUBLE_EQ(penalty, std::max(0.0, std::min(after, 0.01 * gross))) << line;
    EXPECT_DOUBLE_EQ(bad, std::max(0.0, -after)) << line;
    accounts[f[0]] += 1;
    notional[f[0]] += gross;
    penalties[f[0]] += penalty;
    bad_debt[f[0]] += bad;
  }
  ASSERT_FALSE(accounts.empty());
  for (const auto& [round, row] : rounds) {
    EXPECT_EQ(std::stoi(row.at("accounts")), accounts[round]) << round;
    EXPECT_NEAR(std::stod(row.at("notional")), notional[round], 1e-6) << round;
    EXPECT_NEAR(std::stod(row.at("penalties")), penalties[round], 1e-6) << round;
    EXPECT_NEAR(std::stod(row.at("bad_debt")), bad_debt[round], 1e-6) << round;
    // fill = S (1 + (2/3) m) and the next round starts at S (1 + m).
    const auto next = rounds.find(std::to_string(std::stoi(round) + 1));
    for (const std::string u : {"BTC", "ETH"}) {
      const double spot = std::stod(row.at("spot_" + u)), fill = std::stod(row.at("fill_" + u));
      const double after = next == rounds.end() ? spot : std::stod(next->second.at("spot_" + u));
      EXPECT_NEAR(fill, spot + 2.0 / 3.0 * (after - spot), 1e-9 * spot) << round << " " << u;
    }
  }
  const test::command_result grid =
      test::run_cli("cascade -q --book '" + book + "' --shock-grid BTC=-0.05:-0.40:0.05 --out '" +
                    (out / "grid").string() + "'");
  ASSERT_EQ(grid.status, 0) << grid.out;
  const test::csv_rows points = test::read_csv_by_key(out / "grid" / "grid.csv");
  ASSERT_EQ(points.size(), 8u);
  EXPECT_EQ(points.at("3").at("shock_BTC"), "-0.15");
  const nlohmann::json summary =
      nlohmann::json::parse(test::read_file(out / "single" / "summary.json"));
  EXPECT_EQ(std::stod(points.at("3").at("bad_debt")), summary["totals"]["bad_debt"].get<double>());
  EXPECT_EQ(std::stoi(points.at("3").at("accounts")), summary["totals"]["accounts"].get<int>());
  EXPECT_EQ(std::stod(points.at("3").at("final_BTC")),
            summary["final_prices"]["BTC"].get<double>());
  // A bad shock is a usage error naming it.
  const test::command_result bad =
      test::run_cli("cascade -q --book '" + book + "' --shock DOGE=-0.1");
  EXPECT_EQ(bad.status, 2);
  EXPECT_NE(bad.out.find("unknown underlying 'DOGE'"), std::string::npos) << bad.out;
}

// The cascade on every backend gives the CPU's rounds: the same accounts closed in the same
// rounds, prices and money within docs/design.md section 6's 1e-4 (margins decide who is closed,
// and they come from scenario loops).
TEST_P(cascade_on_each_backend, gives_the_rounds_of_the_cpu) {
  book_location where;
  where.book = test::sample_book();
  book_inputs in = load_book_at(where);
  const impact_params impact = load_impact_params(std::nullopt, in.market, in.risk);
  auto cpu = make_reference();
  auto engine = make();
  cpu->load_book(in.positions, in.risk);
  engine->load_book(in.positions, in.risk);
  for (double shock : {-0.05, -0.2, -0.4}) {  // back to back on the loaded book, as a grid runs
    const cascade_options o{{shock, shock}, 100};
    const cascade_result a = run_cascade(in, *cpu, impact, o),
                         b = run_cascade(in, *engine, impact, o);
    ASSERT_EQ(a.rounds.size(), b.rounds.size()) << shock;
    ASSERT_EQ(a.liquidations.size(), b.liquidations.size()) << shock;
    for (std::size_t i = 0; i < a.liquidations.size(); ++i) {
      EXPECT_EQ(a.liquidations[i].round, b.liquidations[i].round);
      EXPECT_EQ(a.liquidations[i].account, b.liquidations[i].account);
    }
    for (std::size_t r = 0; r < a.rounds.size(); ++r) {
      for (std::size_t u = 0; u < a.rounds[r].spot.size(); ++u)
        EXPECT_NEAR(b.rounds[r].spot[u], a.rounds[r].spot[u], 1e-4 * a.rounds[r].spot[u]);
      EXPECT_NEAR(b.rounds[r].bad_debt, a.rounds[r].bad_debt,
                  1e-4 * std::max(1.0, a.rounds[r].bad_debt));
      EXPECT_NEAR(b.rounds[r].fund, a.rounds[r].fund, 1e-4 * std::max(1.0, a.rounds[r].fund));
    }
  }
}

MSYNC_FOR_EACH_BACKEND(cascade_on_each_backend);

}  // namespace
}  // namespace msync
