// The streaming engine (host/stream_engine.hpp) on small books where every number can be worked
// out by hand: the normal quantile against published values, the staleness add-on against its
// formula, risk-run triggers exactly at their thresholds, stale oracles and held liquidations,
// out-of-order ticks, the time-weighted staleness, and a first update that reproduces the batch
// `margin` run on the sample book.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <thread>

#include "forwarding_backend.hpp"
#include "io/number_parse.hpp"
#include "margin/margin_job.hpp"
#include "marginsync/staleness.hpp"
#include "marginsync/stopwatch.hpp"
#include "stream/stream_engine.hpp"
#include "test_support.hpp"

namespace msync {
namespace {

constexpr std::int64_t second_ns = 1000000000;

std::int64_t t0_ns() {
  std::int64_t ns = 0;
  EXPECT_EQ(parse_timestamp("2026-11-24T08:00:00Z", ns), "");
  return ns;
}

// Two perpetual accounts: 1 BTC long and 10 ETH long, on a market with zero rates.
void write_perp_book(const std::filesystem::path& dir, double btc_collateral, double eth_collateral,
                     const std::string& stream_keys) {
  test::write_file(dir / "instruments.csv",
                   "instrument_id,kind,underlying,strike,expiry,option_type,multiplier\n"
                   "BTC-PERP,perpetual,BTC,,,,1\nETH-PERP,perpetual,ETH,,,,1\n");
  test::write_file(dir / "accounts.csv",
                   "account_id,collateral,tier\nbtc_long," + format_number(btc_collateral) +
                       ",standard\neth_long," + format_number(eth_collateral) + ",standard\n");
  test::write_file(dir / "positions.csv",
                   "account_id,instrument_id,quantity,entry_price\nbtc_long,BTC-PERP,1,91000\neth_"
                   "long,ETH-PERP,10,3100\n");
  test::write_file(dir / "market.json",
                   R"({"as_of": "2026-11-24T08:00:00Z", "rate": 0.0, "underlyings": [
                       {"symbol": "BTC", "spot": 91000.0, "vol": 0.55},
                       {"symbol": "ETH", "spot": 3100.0, "vol": 0.70}],
                       "correlation": [[1.0, 0.8], [0.8, 1.0]]})");
  test::write_file(
      dir / "risk.json",
      R"({"method": "delta_gamma", "scenarios": 4000, "confidence": 0.99, )" + stream_keys + "}");
}

stream_event trade(std::int64_t ts, const std::string& account, const std::string& instrument,
                   double q, double p) {
  stream_event e;
  e.kind = stream_event_kind::trade;
  e.ts_ns = ts;
  e.account = account;
  e.instrument = instrument;
  e.quantity = q;
  e.price = p;
  return e;
}

stream_event collateral(std::int64_t ts, const std::string& account, double amount) {
  stream_event e;
  e.kind = stream_event_kind::collateral;
  e.ts_ns = ts;
  e.account = account;
  e.amount = amount;
  return e;
}

stream_event price(std::int64_t ts, std::uint32_t underlying, double p) {
  stream_event e;
  e.ts_ns = ts;
  e.underlying = underlying;
  e.price = p;
  e.vol = std::nan("");
  return e;
}

struct stream_fixture {
  std::unique_ptr<backend> engine = make_cpu_backend(1);
  std::unique_ptr<margin_stream> stream;
  explicit stream_fixture(const std::filesystem::path& book_dir) {
    book_location where;
    where.book = book_dir;
    stream = std::make_unique<margin_stream>(load_book_at(where), *engine);
  }
};

TEST(stream_engine, normal_quantile_matches_published_values) {
  // Abramowitz & Stegun table 26.5 / Wichura (1988) AS241 values.
  EXPECT_NEAR(normal_quantile(0.99), 2.3263478740408408, 1e-14);
  EXPECT_NEAR(normal_quantile(0.95), 1.6448536269514722, 1e-14);
  EXPECT_NEAR(normal_quantile(0.975), 1.959963984540054, 1e-14);
  EXPECT_NEAR(normal_quantile(0.5), 0.0, 1e-15);
  EXPECT_NEAR(normal_quantile(0.001), -3.090232306167813, 1e-13);
  EXPECT_NEAR(normal_quantile(1e-10), -6.361340902404056, 1e-11);
  for (double p = 0.0005; p < 1.0; p += 0.0137)
    EXPECT_NEAR(norm_cdf(normal_quantile(p)), p, 1e-15) << p;
}

TEST(stream_engine, staleness_addon_follows_its_formula_until_the_next_risk_run) {
  test::temp_dir dir;
  write_perp_book(dir.path(), 50000, 50000,
                  R"("deviation_threshold": 0.5, "heartbeat_ms": 1000000000)");
  stream_fixture f(dir.path());
  const std::int64_t t0 = t0_ns();
  update_outcome u = f.stream->update(t0, {price(t0, 0, 91000), price(t0, 1, 3100)});
  ASSERT_EQ(u.trigger, risk_trigger::start);
  const risk_result at_run = f.stream->margins_in_force();  // tau = 0: no add-on
  for (double seconds : {0.5, 60.0, 3600.0}) {
    const std::int64_t t = t0 + static_cast<std::int64_t>(seconds * 1e9);
    u = f.stream->update(t, {price(t, 0, 92000), price(t, 1, 3000)});
    ASSERT_EQ(u.trigger, risk_trigger::none);
    const risk_result now = f.stream->margins_in_force();
    const double z = 2.3263478740408408, tau = seconds / 31536000.0;
    // A perpetual's delta is q m: 1 BTC and 10 ETH, at the current prices and vols.
    const double btc = z * 1.0 * 92000 * 0.55 * std::sqrt(tau),
                 eth = z * 10.0 * 3000 * 0.70 * std::sqrt(tau);
    EXPECT_NEAR(now.initial_margin[0] - at_run.initial_margin[0], btc, 1e-9 * btc) << seconds;
    EXPECT_NEAR(now.maintenance_margin[0] - at_run.maintenance_margin[0], btc, 1e-9 * btc)
        << seconds;
    EXPECT_NEAR(now.initial_margin[1] - at_run.initial_margin[1], eth, 1e-9 * eth) << seconds;
    EXPECT_NEAR(u.staleness_years, tau, 1e-15);
  }
}

// Numbers that are not finite (here funding at a rate the loader refuses, 1e308 per 8 hours, set
// directly) are the state `error`, never `ok`: a transition like any other, and the stream goes on
// (docs/design.md 8.4). The funding a perpetual pays over the risk horizon overflows its scenario
// losses at the first risk run (margins NaN), and the funding accrued over the first hour then
// overflows the collateral (equity not finite): the account stays in `error`.
TEST(stream_engine, equity_that_is_not_finite_is_the_error_state_and_the_stream_goes_on) {
  test::temp_dir dir;
  write_perp_book(dir.path(), 50000, 50000,
                  R"("deviation_threshold": 0.5, "heartbeat_ms": 1000000000)");
  book_location where;
  where.book = dir.path();
  book_inputs in = load_book_at(where);
  in.market.funding_rate[0] = 1e308;  // BTC
  std::unique_ptr<backend> engine = make_cpu_backend(1);
  margin_stream stream(std::move(in), *engine);
  const std::int64_t t0 = t0_ns();
  update_outcome u = stream.update(t0, {price(t0, 0, 91000), price(t0, 1, 3100)});
  ASSERT_EQ(u.accounts.size(), 1u);
  EXPECT_EQ(u.accounts[0].account, 0u);
  EXPECT_EQ(u.accounts[0].from, stream_state::ok);
  EXPECT_EQ(u.accounts[0].to, stream_state::error);
  EXPECT_STREQ(u.accounts[0].event, "error");
  EXPECT_TRUE(std::isfinite(u.accounts[0].equity));  // no funding accrued yet
  EXPECT_FALSE(std::isfinite(u.accounts[0].initial_margin));
  EXPECT_EQ(stream.states()[1], stream_state::ok);  // ETH pays no such funding
  const std::int64_t t1 = t0 + 3600 * second_ns;
  u = stream.update(t1, {price(t1, 0, 91000)});
  EXPECT_TRUE(u.accounts.empty());  // still `error`, now with an equity that is not finite
  const std::int64_t t2 = t1 + second_ns;
  u = stream.update(t2, {price(t2, 1, 3000)});  // the stream goes on
  EXPECT_TRUE(u.accounts.empty());
  EXPECT_EQ(stream.states()[0], stream_state::error);
  EXPECT_EQ(stream.states()[1], stream_state::ok);
  const risk_result in_force = stream.margins_in_force();
  EXPECT_EQ(in_force.status[0], account_status::error);
  EXPECT_EQ(in_force.not_ok_accounts, std::vector<std::uint32_t>{0});
}

TEST(stream_engine, deviation_and_heartbeat_trigger_exactly_at_their_thresholds) {
  {
    test::temp_dir dir;
    write_perp_book(dir.path(), 50000, 50000,
                    R"("deviation_threshold": 0.005, "heartbeat_ms": 1000000000)");
    stream_fixture f(dir.path());
    const std::int64_t t0 = t0_ns();
    EXPECT_EQ(f.stream->update(t0, {price(t0, 0, 91000)}).trigger, risk_trigger::start);
    EXPECT_EQ(f.stream->update(t0 + second_ns, {price(t0 + second_ns, 0, 91000 * 1.004)}).trigger,
              risk_trigger::none);
    EXPECT_EQ(
        f.stream->update(t0 + 2 * second_ns, {price(t0 + 2 * second_ns, 0, 91000 * 0.994)}).trigger,
        risk_trigger::deviation);
    // Measured from the last run's prices, not the start's.
    EXPECT_EQ(
        f.stream->update(t0 + 3 * second_ns, {price(t0 + 3 * second_ns, 0, 91000 * 0.994 * 1.004)})
            .trigger,
        risk_trigger::none);
    EXPECT_EQ(
        f.stream->update(t0 + 4 * second_ns, {price(t0 + 4 * second_ns, 1, 3100 * 1.006)}).trigger,
        risk_trigger::deviation);
    EXPECT_EQ(f.stream->risk_runs(risk_trigger::deviation), 2);
  }
  {
    test::temp_dir dir;
    write_perp_book(dir.path(), 50000, 50000,
                    R"("deviation_threshold": 0.5, "heartbeat_ms": 1000)");
    stream_fixture f(dir.path());
    const std::int64_t t0 = t0_ns(), ms = 1000000;
    EXPECT_EQ(f.stream->update(t0, {price(t0, 0, 91000)}).trigger, risk_trigger::start);
    EXPECT_EQ(f.stream->update(t0 + 999 * ms, {price(t0 + 999 * ms, 0, 91001)}).trigger,
              risk_trigger::none);
    EXPECT_EQ(f.stream->update(t0 + 1000 * ms, {price(t0 + 1000 * ms, 0, 91002)}).trigger,
              risk_trigger::heartbeat);
    EXPECT_EQ(f.stream->update(t0 + 1999 * ms, {price(t0 + 1999 * ms, 0, 91003)}).trigger,
              risk_trigger::none);
    EXPECT_EQ(f.stream->update(t0 + 2000 * ms, {price(t0 + 2000 * ms, 0, 91004)}).trigger,
              risk_trigger::heartbeat);
    EXPECT_EQ(f.stream->risk_runs(risk_trigger::heartbeat), 2);
    EXPECT_EQ(f.stream->risk_runs(risk_trigger::start), 1);
  }
}

TEST(stream_engine, a_stale_oracle_holds_liquidation_until_it_recovers) {
  const std::string keys =
      R"("deviation_threshold": 0.5, "heartbeat_ms": 1000000000, "stale_after_ms": 5000)";
  const std::int64_t t0 = t0_ns();
  double mm = 0.0;
  {  // Margins do not depend on collateral: learn the ETH account's MM first.
    test::temp_dir dir;
    write_perp_book(dir.path(), 50000, 50000, keys);
    stream_fixture f(dir.path());
    f.stream->update(t0, {price(t0, 0, 91000), price(t0, 1, 3100)});
    mm = f.stream->margins_in_force().maintenance_margin[1];
  }
  // Equity 30 above MM: the add-on z 31000 0.7 sqrt(tau) passes 30 after about 11 s.
  test::temp_dir dir;
  write_perp_book(dir.path(), 50000, mm + 30.0, keys);
  stream_fixture f(dir.path());
  update_outcome u = f.stream->update(t0, {price(t0, 0, 91000), price(t0, 1, 3100)});
  ASSERT_EQ(u.accounts.size(), 1u);
  EXPECT_STREQ(u.accounts[0].event, "margin_call");  // between MM and IM
  std::vector<std::string> seen;
  for (int s = 1; s <= 14; ++s) {  // BTC ticks every second; ETH is silent until 13 s
    const std::int64_t t = t0 + s * second_ns;
    std::vector<stream_event> ticks{price(t, 0, 91000)};
    if (s == 13) ticks.push_back(price(t, 1, 3100));
    u = f.stream->update(t, ticks);
    for (const oracle_transition& o : u.oracles)
      seen.push_back(std::to_string(s) + (o.stale ? " stale " : " fresh ") +
                     std::to_string(o.underlying));
    for (const account_transition& a : u.accounts)
      seen.push_back(std::to_string(s) + " " + a.event);
  }
  // ETH is stale once more than 5 s pass (at 6 s); the add-on passes 30 at 12 s: held, not
  // liquidated; ETH ticks at 13 s: fresh, and the liquidation goes ahead.
  const double z = 2.3263478740408408;
  ASSERT_GT(z * 31000 * 0.7 * std::sqrt(12.0 / 31536000), 30.0);
  ASSERT_LT(z * 31000 * 0.7 * std::sqrt(11.0 / 31536000), 30.0);
  EXPECT_EQ(seen, (std::vector<std::string>{"6 stale 1", "12 liquidation_held", "13 fresh 1",
                                            "13 liquidate"}));
}

TEST(stream_engine, out_of_order_ticks_are_ignored_and_time_does_not_go_back) {
  test::temp_dir dir;
  write_perp_book(dir.path(), 50000, 50000,
                  R"("deviation_threshold": 0.5, "heartbeat_ms": 1000000000)");
  stream_fixture f(dir.path());
  const std::int64_t t0 = t0_ns();
  f.stream->update(t0, {price(t0, 0, 91000), price(t0, 1, 3100)});
  f.stream->update(t0 + 2 * second_ns, {price(t0 + 2 * second_ns, 0, 90000)});
  // An update stamped 1 s: BTC's tick is older than BTC's last (ignored), ETH's is not (applied).
  const update_outcome u = f.stream->update(
      t0 + second_ns, {price(t0 + second_ns, 0, 80000), price(t0 + second_ns, 1, 3000)});
  EXPECT_EQ(u.ticks_out_of_order, 1u);
  EXPECT_EQ(u.ticks_applied, 1u);
  EXPECT_EQ(u.ts_ns, t0 + 2 * second_ns);
  EXPECT_EQ(f.stream->inputs().market.spot[0], 90000.0);
  EXPECT_EQ(f.stream->inputs().market.spot[1], 3000.0);
  // Equity of a perpetual: collateral + q (S - entry).
  EXPECT_EQ(f.stream->current_revaluation().account_equity[0], 50000.0 + (90000.0 - 91000.0));
}

TEST(stream_engine, mean_staleness_is_time_weighted) {
  test::temp_dir dir;
  write_perp_book(dir.path(), 50000, 50000,
                  R"("deviation_threshold": 0.5, "heartbeat_ms": 1000000000)");
  stream_fixture f(dir.path());
  const std::int64_t t0 = t0_ns();
  f.stream->update(t0, {price(t0, 0, 91000)});
  f.stream->update(t0 + second_ns, {price(t0 + second_ns, 0, 91000)});
  f.stream->update(t0 + 3 * second_ns, {price(t0 + 3 * second_ns, 0, 91000)});
  // Staleness grows from 0 to 3 s over 3 s: its mean is 1.5 s.
  EXPECT_DOUBLE_EQ(f.stream->mean_staleness_seconds(), 1.5);
}

TEST(stream_engine, first_update_at_the_market_reproduces_the_batch_margin_run) {
  margin_request request;
  request.book.book = test::sample_book();
  request.backend = backend_choice::cpu;
  request.threads = 1;
  const margin_run batch = run_margin(request, [](const std::string&) {});

  stream_fixture f(test::sample_book());
  const market_state& m = batch.inputs.market;
  std::vector<stream_event> ticks;
  for (std::uint32_t u = 0; u < m.size(); ++u) ticks.push_back(price(m.as_of_ns, u, m.spot[u]));
  const update_outcome u = f.stream->update(m.as_of_ns, ticks);
  const risk_result r = f.stream->margins_in_force();
  ASSERT_EQ(r.status.size(), batch.risk->status.size());
  std::size_t expected_events = 0;
  for (std::size_t a = 0; a < r.status.size(); ++a) {
    EXPECT_EQ(r.initial_margin[a], batch.risk->initial_margin[a]) << a;
    EXPECT_EQ(r.status[a], batch.risk->status[a]) << a;
    EXPECT_EQ(f.stream->current_revaluation().account_equity[a], batch.reval->account_equity[a])
        << a;
    expected_events += batch.risk->status[a] != account_status::ok || batch.risk->preemptive[a];
  }
  EXPECT_EQ(u.accounts.size(), expected_events);
  for (const account_transition& t : u.accounts) {
    const account_status s = batch.risk->status[t.account];
    const char* expected = s == account_status::liquidate     ? "liquidate"
                           : s == account_status::margin_call ? "margin_call"
                                                              : "preemptive";
    EXPECT_STREQ(t.event, expected) << batch.inputs.positions.account_id[t.account];
  }
}

// Trades and collateral changes applied to the resident book must give what a fresh load of the
// changed book gives: positions.csv with the trades as extra rows (docs/design.md section 2 merges
// them at the average entry), accounts.csv with the collateral moved by deposits and by spot and
// option payments. A book on BTC (spot, perpetual, future, call) and ETH (perpetual) with
// `accounts` and `positions` rows, for trades against a fresh load.
void write_trading_book(const std::filesystem::path& dir, const std::string& accounts,
                        const std::string& positions, const std::string& keys) {
  test::write_file(
      dir / "instruments.csv",
      "instrument_id,kind,underlying,strike,expiry,option_type,multiplier\n"
      "BTC-SPOT,spot,BTC,,,,1\nBTC-PERP,perpetual,BTC,,,,0.5\n"
      "BTC-FUT,future,BTC,,2026-12-25T08:00:00Z,,1\n"
      "BTC-C100K,option,BTC,100000,2026-12-25T08:00:00Z,call,1\nETH-PERP,perpetual,ETH,,,,10\n");
  test::write_file(dir / "accounts.csv", "account_id,collateral,tier\n" + accounts);
  test::write_file(dir / "positions.csv",
                   "account_id,instrument_id,quantity,entry_price\n" + positions);
  test::write_file(dir / "market.json",
                   R"({"as_of": "2026-11-24T08:00:00Z", "rate": 0.03, "underlyings": [
                       {"symbol": "BTC", "spot": 91000.0, "vol": 0.55},
                       {"symbol": "ETH", "spot": 3100.0, "vol": 0.70}],
                       "correlation": [[1.0, 0.8], [0.8, 1.0]]})");
  test::write_file(dir / "risk.json", R"({"scenarios": 2000, )" + keys + "}");
}

// The trading book with accounts a and b streamed from a first update at the market at t0; trades
// go to f.stream, and a fresh load of the expected book is compared with expect_same_as_fresh.
const std::string trading_keys =
    R"("deviation_threshold": 0.5, "heartbeat_ms": 1000000000, "method": "full")";
const std::string trading_positions = "a,BTC-PERP,4,90000\na,BTC-FUT,-2,92000\nb,ETH-PERP,3,3000\n";
struct trading_stream {
  test::temp_dir dir;
  std::unique_ptr<stream_fixture> fixture;
  margin_stream* stream = nullptr;
  std::int64_t t0 = t0_ns();
  trading_stream() {
    write_trading_book(dir.path(), "a,100000,standard\nb,50000,standard\n", trading_positions,
                       trading_keys);
    fixture = std::make_unique<stream_fixture>(dir.path());
    stream = fixture->stream.get();
    stream->update(t0, {price(t0, 0, 91000), price(t0, 1, 3100)});
  }
};

// The streamed book's revaluation and margins against a fresh stream of the same book loaded
// from files: equity to 1e-9, greeks and VaR exactly (same positions, same scenarios).
void expect_same_as_fresh(const margin_stream& streamed, const margin_stream& fresh) {
  const book& sb = streamed.inputs().positions;
  const book& fb = fresh.inputs().positions;
  ASSERT_EQ(sb.account_id, fb.account_id);
  EXPECT_EQ(sb.position_instrument, fb.position_instrument);
  EXPECT_EQ(sb.position_quantity, fb.position_quantity);
  EXPECT_EQ(sb.account_position_begin, fb.account_position_begin);
  EXPECT_EQ(sb.exposure_underlying, fb.exposure_underlying);
  EXPECT_EQ(sb.exposure_position_begin, fb.exposure_position_begin);
  const revaluation& sr = streamed.current_revaluation();
  const revaluation& fr = fresh.current_revaluation();
  for (std::size_t a = 0; a < sb.accounts(); ++a)
    EXPECT_NEAR(sr.account_equity[a], fr.account_equity[a], 1e-9 * std::fabs(fr.account_equity[a]))
        << sb.account_id[a];
  for (std::size_t x = 0; x < sb.exposures(); ++x) {
    EXPECT_EQ(sr.exposure_delta[x], fr.exposure_delta[x]) << x;
    EXPECT_EQ(sr.exposure_gamma[x], fr.exposure_gamma[x]) << x;
  }
  const risk_result sm = streamed.margins_in_force(), fm = fresh.margins_in_force();
  for (std::size_t a = 0; a < sb.accounts(); ++a) {
    EXPECT_EQ(sm.var[a], fm.var[a]) << sb.account_id[a];
    EXPECT_EQ(sm.status[a], fm.status[a]) << sb.account_id[a];
  }
}

TEST(stream_engine, trades_and_collateral_equal_a_fresh_load_of_the_changed_book) {
  trading_stream f;
  const std::int64_t t1 = f.t0 + second_ns;
  const std::string& keys = trading_keys;
  const std::string& base_positions = trading_positions;
  test::temp_dir fresh_dir;
  const update_outcome u = f.stream->update(
      t1, {price(t1, 0, 91500), trade(t1, "a", "BTC-PERP", -1, 91200),  // reduce: realizes P&L
           trade(t1, "a", "BTC-FUT", 5, 91800),    // through zero: closes 2, opens 3
           trade(t1, "a", "BTC-SPOT", 2, 91400),   // new position, paid from collateral
           trade(t1, "b", "BTC-C100K", -3, 2500),  // new exposure for b, premium received
           trade(t1, "c", "ETH-PERP", -1, 3110),   // unknown account: opened
           collateral(t1, "b", -1234.5), collateral(t1, "c", 800), trade(t1, "a", "NOPE", 1, 1)});
  EXPECT_EQ(u.trigger, risk_trigger::book_change);
  EXPECT_EQ(u.book_events_applied, 7u);
  ASSERT_EQ(u.problems.size(), 1u);
  EXPECT_EQ(u.problems[0].column, "instrument");

  // The same book loaded fresh: trades as rows, payments and deposits in collateral.
  write_trading_book(fresh_dir.path(),
                     "a," + format_number(100000 - 2 * 91400.0) + ",standard\nb," +
                         format_number(50000 + 3 * 2500.0 - 1234.5) + ",standard\nc,800,standard\n",
                     base_positions +
                         "a,BTC-PERP,-1,91200\na,BTC-FUT,5,91800\na,BTC-SPOT,2,\nb,BTC-C100K,-3,"
                         "\nc,ETH-PERP,-1,3110\n",
                     keys);
  stream_fixture fresh(fresh_dir.path());
  fresh.stream->update(t1, {price(t1, 0, 91500), price(t1, 1, 3100)});
  expect_same_as_fresh(*f.stream, *fresh.stream);
}

// Trades on positions the book already holds change no layout: the engine's book is patched, not
// loaded again, and the numbers are those of a fresh load all the same.
TEST(stream_engine, trades_on_held_positions_patch_the_engine_and_equal_a_fresh_load) {
  trading_stream f;
  const std::int64_t t1 = f.t0 + second_ns;
  const std::string& keys = trading_keys;
  const std::string& base_positions = trading_positions;
  test::temp_dir fresh_dir;
  const std::size_t positions = f.stream->inputs().positions.positions();
  const update_outcome u = f.stream->update(
      t1, {price(t1, 0, 91500), trade(t1, "a", "BTC-PERP", -1, 91200),  // reduce: realizes P&L
           trade(t1, "a", "BTC-FUT", 2, 91800),                         // closes the future
           trade(t1, "b", "ETH-PERP", 2, 3050)});                       // adds at average cost
  EXPECT_EQ(u.trigger, risk_trigger::book_change);
  EXPECT_EQ(f.stream->inputs().positions.positions(), positions);
  // Fresh: the trades as rows; realized P&L sits in the rows' entries, not in collateral.
  write_trading_book(fresh_dir.path(), "a,100000,standard\nb,50000,standard\n",
                     base_positions + "a,BTC-PERP,-1,91200\na,BTC-FUT,2,91800\nb,ETH-PERP,2,3050\n",
                     keys);
  stream_fixture fresh(fresh_dir.path());
  fresh.stream->update(t1, {price(t1, 0, 91500), price(t1, 1, 3100)});
  expect_same_as_fresh(*f.stream, *fresh.stream);
}

TEST(stream_engine, a_trade_moves_equity_by_exactly_q_m_mark_minus_price) {
  test::temp_dir dir;
  write_perp_book(dir.path(), 50000, 50000,
                  R"("deviation_threshold": 0.5, "heartbeat_ms": 1000000000)");
  stream_fixture f(dir.path());
  const std::int64_t t0 = t0_ns();
  f.stream->update(t0, {price(t0, 0, 91000)});
  double before = f.stream->current_revaluation().account_equity[0];
  // Long 1 at 91000 (the book's entry); sell 3 at 90500 with the mark at 91000: closes 1, opens 2
  // short.
  f.stream->update(t0, {trade(t0, "btc_long", "BTC-PERP", -3, 90500)});
  EXPECT_NEAR(f.stream->current_revaluation().account_equity[0] - before,
              -3 * 1.0 * (91000 - 90500.0), 1e-9);
  EXPECT_EQ(f.stream->inputs().positions.position_quantity[0], -2.0);
  before = f.stream->current_revaluation().account_equity[0];
  f.stream->update(t0, {trade(t0, "btc_long", "BTC-PERP", 1, 91700)});  // buy back 1 above the mark
  EXPECT_NEAR(f.stream->current_revaluation().account_equity[0] - before,
              1 * 1.0 * (91000 - 91700.0), 1e-9);
}

TEST(stream_engine, a_book_change_reports_only_the_accounts_it_changes) {
  stream_fixture f(test::sample_book());
  const market_state m = f.stream->inputs().market;
  std::vector<stream_event> ticks;
  for (std::uint32_t u = 0; u < m.size(); ++u) ticks.push_back(price(m.as_of_ns, u, m.spot[u]));
  const update_outcome first = f.stream->update(m.as_of_ns, ticks);
  ASSERT_FALSE(first.accounts.empty());
  // A new account buys spot with no collateral: equity 0 against a positive margin. The book is
  // made resident again; the accounts already reported keep their states and are not repeated.
  const update_outcome u =
      f.stream->update(m.as_of_ns, {trade(m.as_of_ns, "newcomer", "BTC-SPOT", 0.01, m.spot[0])});
  EXPECT_EQ(u.trigger, risk_trigger::book_change);
  ASSERT_EQ(u.accounts.size(), 1u);
  EXPECT_EQ(f.stream->inputs().positions.account_id[u.accounts[0].account], "newcomer");
  EXPECT_STREQ(u.accounts[0].event, "liquidate");
  EXPECT_NEAR(u.accounts[0].equity, 0.0, 1e-9);
}

TEST(stream_engine, perpetual_funding_accrues_in_stream_time) {
  test::temp_dir dir;
  write_perp_book(dir.path(), 50000, 50000,
                  R"("deviation_threshold": 0.5, "heartbeat_ms": 1000000000)");
  // Funding 0.0001 per 8 hours on BTC, -0.0002 on ETH (shorts pay).
  test::write_file(dir / "market.json",
                   R"({"as_of": "2026-11-24T08:00:00Z", "rate": 0.0, "underlyings": [
                       {"symbol": "BTC", "spot": 91000.0, "vol": 0.55, "funding_rate": 0.0001},
                       {"symbol": "ETH", "spot": 3100.0, "vol": 0.70, "funding_rate": -0.0002}],
                       "correlation": [[1.0, 0.8], [0.8, 1.0]]})");
  stream_fixture f(dir.path());
  const std::int64_t t0 = t0_ns(), hour = 3600 * second_ns;
  f.stream->update(t0, {price(t0, 0, 91000), price(t0, 1, 3100)});
  const double btc0 = f.stream->current_revaluation().account_equity[0];
  const double eth0 = f.stream->current_revaluation().account_equity[1];
  f.stream->update(t0 + 4 * hour,
                   {price(t0 + 4 * hour, 0, 92000)});  // 4 h at 91000 before this tick
  f.stream->update(t0 + 8 * hour, {price(t0 + 8 * hour, 0, 92000)});  // 4 h at 92000
  // BTC long 1: pays 1 * 1 * S * 0.0001 per 8 h; marks also moved by 1 * (92000 - 91000).
  const double btc_funding = -(91000 * 0.5 + 92000 * 0.5) * 0.0001;
  EXPECT_NEAR(f.stream->current_revaluation().account_equity[0] - btc0, 1000.0 + btc_funding, 1e-9);
  // ETH long 10 at a negative rate: receives 10 * 3100 * 0.0002 over the 8 hours.
  EXPECT_NEAR(f.stream->current_revaluation().account_equity[1] - eth0, 10 * 3100 * 0.0002, 1e-9);
}

// A CPU backend whose book transfers take `delay` once armed, as a reload of a large book does
// (about 0.5 s at 1 M accounts).
class slow_book_backend : public test::forwarding_backend {
 public:
  explicit slow_book_backend(std::chrono::milliseconds delay)
      : forwarding_backend(make_cpu_backend(1)), delay_(delay) {}
  bool armed = false;

  void load_book(book& b, const risk_params& params) override {
    wait();
    forwarding_backend::load_book(b, params);
  }
  void patch_accounts(const account_patch& patch) override {
    wait();
    forwarding_backend::patch_accounts(patch);
  }

 private:
  void wait() const {
    if (armed) std::this_thread::sleep_for(delay_);
  }
  std::chrono::milliseconds delay_;
};

// The tick path's latency is what the update's states waited for: a reload of the book (a new
// account) or a patch (a trade on a held position) counts in it, and is also told apart.
TEST(stream_engine, book_reloads_and_patches_count_in_the_tick_path_latency) {
  test::temp_dir dir;
  write_perp_book(dir.path(), 50000, 50000,
                  R"("deviation_threshold": 0.5, "heartbeat_ms": 1000000000)");
  slow_book_backend engine(std::chrono::milliseconds(200));
  book_location where;
  where.book = dir.path();
  margin_stream stream(load_book_at(where), engine);
  engine.armed = true;
  const std::int64_t t0 = t0_ns();
  const update_outcome first = stream.update(t0, {price(t0, 0, 91000)});
  EXPECT_EQ(first.book_sent, book_transfer::none);
  EXPECT_EQ(first.book_seconds, 0.0);
  EXPECT_LT(first.tick_seconds, 0.2);

  const std::int64_t t1 = t0 + second_ns;
  const update_outcome reload = stream.update(t1, {trade(t1, "newcomer", "BTC-PERP", 1, 91000)});
  EXPECT_EQ(reload.book_sent, book_transfer::reload);
  EXPECT_GE(reload.book_seconds, 0.2);
  EXPECT_GE(reload.tick_seconds, reload.book_seconds);

  const std::int64_t t2 = t1 + second_ns;
  const stopwatch whole;
  const update_outcome patch = stream.update(t2, {trade(t2, "btc_long", "BTC-PERP", 1, 91000)});
  const double whole_seconds = whole.seconds();
  EXPECT_EQ(patch.book_sent, book_transfer::patch);
  EXPECT_GE(patch.book_seconds, 0.2);
  EXPECT_GE(patch.tick_seconds, patch.book_seconds);
  // The risk path (book_change) is timed on its own: the two paths add up to the update, once.
  EXPECT_EQ(patch.trigger, risk_trigger::book_change);
  EXPECT_GT(patch.risk_seconds, 0.0);
  EXPECT_LE(patch.tick_seconds + patch.risk_seconds, whole_seconds);
}

}  // namespace
}  // namespace msync
