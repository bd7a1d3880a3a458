// The margin model in a stream (docs/design.md 8.2, 8.4, 8.6): calm states that do not flap on a
// calm feed, mark events repricing an option at its own implied vol and a future at its own mark,
// settlement of an instrument that expires mid-stream, and close-outs on own funds, never on a
// credit line. Every expected number is worked out here from the closed forms (bsm_value, the
// intrinsic value, q m (mark - entry)), not read from the engine.
#include <gtest/gtest.h>

#include <cmath>

#include "io/number_parse.hpp"
#include "margin/margin_job.hpp"
#include "marginsync/black_scholes.hpp"
#include "stream/stream_engine.hpp"
#include "test_support.hpp"

namespace msync {
namespace {

constexpr std::int64_t second_ns = 1000000000;
constexpr double seconds_per_year_act365 = 365.0 * 86400.0;

std::int64_t t0_ns() {
  std::int64_t ns = 0;
  EXPECT_EQ(parse_timestamp("2026-11-24T08:00:00Z", ns), "");
  return ns;
}

stream_event price(std::int64_t ts, std::uint32_t underlying, double p) {
  stream_event e;
  e.ts_ns = ts;
  e.underlying = underlying;
  e.price = p;
  e.vol = std::nan("");
  return e;
}

stream_event mark(std::int64_t ts, const std::string& instrument, double mark_price, double iv) {
  stream_event e;
  e.kind = stream_event_kind::mark;
  e.ts_ns = ts;
  e.line = 7;
  e.instrument = instrument;
  e.price = mark_price;
  e.vol = iv;
  return e;
}

// BTC only, zero rates (carry 0, so an unmarked future is worth S): a call and a future expiring
// `expiry`, a perpetual, and accounts holding each. risk.json keeps risk runs to the start and
// whatever the test triggers.
void write_book(const std::filesystem::path& dir, const std::string& expiry,
                const std::string& accounts, const std::string& positions) {
  test::write_file(dir / "instruments.csv",
                   "instrument_id,kind,underlying,strike,expiry,option_type,multiplier\n"
                   "BTC-PERP,perpetual,BTC,,,,1\n"
                   "BTC-C-90000,option,BTC,90000," +
                       expiry +
                       ",call,1\n"
                       "BTC-F,future,BTC,," +
                       expiry + ",,1\n");
  test::write_file(dir / "accounts.csv", "account_id,collateral,tier\n" + accounts);
  test::write_file(dir / "positions.csv",
                   "account_id,instrument_id,quantity,entry_price\n" + positions);
  test::write_file(dir / "market.json",
                   R"({"as_of": "2026-11-24T08:00:00Z", "rate": 0.0, "underlyings": [
                       {"symbol": "BTC", "spot": 91000.0, "vol": 0.55}]})");
  test::write_file(dir / "risk.json",
                   R"({"method": "delta_gamma", "scenarios": 2000, "confidence": 0.99,
                       "deviation_threshold": 0.9, "heartbeat_ms": 1000000000000,
                       "stale_after_ms": 1000000000000,
                       "tiers": {"standard": {"im_multiplier": 1.0, "credit_limit": 0.0},
                                 "vip": {"im_multiplier": 1.0, "credit_limit": 20000.0}}})");
}

book_inputs load(const std::filesystem::path& dir) {
  book_location where;
  where.book = dir;
  return load_book_at(where);
}

// An account whose equity oscillates around its IM on a calm feed (BTC 91,000 +- 50, one update
// every 10 ms, no risk run after the start): without the band every swing is a transition; with
// the default 2% band the account enters margin_call once and stays there, since the swings never
// clear IM by 2%.
TEST(stream_model, calm_states_do_not_flap_around_a_threshold) {
  test::temp_dir dir;
  write_book(dir.path(), "2026-12-24T08:00:00Z", "perp,50000,standard\n",
             "perp,BTC-PERP,1,91000\n");
  const std::int64_t t0 = t0_ns();
  double im = 0.0;
  {
    std::unique_ptr<backend> engine = make_cpu_backend(1);
    margin_stream probe(load(dir.path()), *engine);
    probe.update(t0, {price(t0, 0, 91000)});
    im = probe.margins_in_force().initial_margin[0];
  }
  ASSERT_GT(im, 1000.0);
  // Collateral = IM: equity C + (S - 91000) crosses IM at every swing of +-50
  // (the add-on grows to about 9 over the 190 ms; 2% of IM is about 120).
  write_book(dir.path(), "2026-12-24T08:00:00Z", "perp," + format_number(im) + ",standard\n",
             "perp,BTC-PERP,1,91000\n");
  auto transitions_with = [&](double band, stream_state& last) {
    book_inputs in = load(dir.path());
    in.risk.recovery_band = band;
    std::unique_ptr<backend> engine = make_cpu_backend(1);
    margin_stream stream(std::move(in), *engine);
    int count = 0;
    for (int k = 0; k < 20; ++k) {
      const std::int64_t t = t0 + k * 10000000;  // 10 ms
      const double s = 91000.0 + (k % 2 == 0 ? 50.0 : -50.0);
      const update_outcome u = stream.update(t, {price(t, 0, s)});
      if (k > 0) {
        EXPECT_EQ(u.trigger, risk_trigger::none) << k;
      }
      count += static_cast<int>(u.accounts.size());
    }
    last = stream.states()[0];
    return count;
  };
  stream_state last = stream_state::ok;
  // Without the band: margin_call at every down swing, back at every up swing (19 crossings).
  EXPECT_GE(transitions_with(0.0, last), 19);
  // With it: once into margin_call, and no further.
  EXPECT_EQ(transitions_with(0.02, last), 1);
  EXPECT_EQ(last, stream_state::margin_call);
}

// A mark event reprices: an option at its own implied vol (bsm_value at the new iv), a future at
// its own mark price, q m (mark - entry), which then moves with BTC at the fixed basis ratio. A
// mark triggers a risk run.
TEST(stream_model, marks_reprice_an_option_and_a_future) {
  test::temp_dir dir;
  write_book(dir.path(), "2026-12-24T08:00:00Z", "opt,100000,standard\nfut,100000,standard\n",
             "opt,BTC-C-90000,2,0\nfut,BTC-F,3,90000\n");
  std::unique_ptr<backend> engine = make_cpu_backend(1);
  margin_stream stream(load(dir.path()), *engine);
  const std::int64_t t0 = t0_ns(), t1 = t0 + second_ns, t2 = t1 + second_ns;
  const std::int64_t expiry = t0 + 30LL * 86400 * second_ns;
  auto years_left = [&](std::int64_t t) {
    return static_cast<double>(expiry - t) * 1e-9 / seconds_per_year_act365;
  };
  stream.update(t0, {price(t0, 0, 91000)});
  const double opt0 = stream.current_revaluation().account_equity[0];
  EXPECT_NEAR(opt0, 100000 + 2 * bsm_value(true, 91000, 90000, years_left(t0), 0, 0, 0.55), 1e-7);
  EXPECT_NEAR(stream.current_revaluation().account_equity[1], 100000 + 3 * (91000 - 90000.0), 1e-7);

  update_outcome u = stream.update(
      t1, {mark(t1, "BTC-C-90000", NAN, 0.80), mark(t1, "BTC-F", 91600, NAN), price(t1, 0, 91000)});
  EXPECT_TRUE(u.problems.empty());
  EXPECT_EQ(u.marks_applied, 2u);
  EXPECT_EQ(u.trigger, risk_trigger::mark);
  const double at_new_iv = bsm_value(true, 91000, 90000, years_left(t1), 0, 0, 0.80);
  EXPECT_NEAR(stream.current_revaluation().account_equity[0], 100000 + 2 * at_new_iv, 1e-7);
  EXPECT_NEAR(stream.current_revaluation().account_equity[1], 100000 + 3 * (91600 - 90000.0), 1e-7);

  // BTC +1%: the marked future moves at its basis, 91600 * 1.01; the option stays at its iv.
  u = stream.update(t2, {price(t2, 0, 91910)});
  EXPECT_EQ(u.trigger, risk_trigger::none);
  EXPECT_NEAR(stream.current_revaluation().account_equity[1],
              100000 + 3 * (91600 * (91910 / 91000.0) - 90000.0), 1e-6);
  EXPECT_NEAR(stream.current_revaluation().account_equity[0],
              100000 + 2 * bsm_value(true, 91910, 90000, years_left(t2), 0, 0, 0.80), 1e-7);
  EXPECT_EQ(stream.risk_runs(risk_trigger::mark), 1);
}

// A mark the book cannot take is refused like a trade on an unknown instrument (5.3): a problem
// on its line, nothing applied, the stream goes on.
TEST(stream_model, marks_for_an_unknown_instrument_or_the_wrong_kind_are_refused) {
  test::temp_dir dir;
  write_book(dir.path(), "2026-12-24T08:00:00Z", "opt,100000,standard\nfut,100000,standard\n",
             "opt,BTC-C-90000,2,0\nfut,BTC-F,3,90000\n");
  std::unique_ptr<backend> engine = make_cpu_backend(1);
  margin_stream stream(load(dir.path()), *engine);
  const std::int64_t t0 = t0_ns(), t1 = t0 + second_ns;
  stream.update(t0, {price(t0, 0, 91000)});
  const double opt0 = stream.current_revaluation().account_equity[0];
  const double fut0 = stream.current_revaluation().account_equity[1];
  const update_outcome u =
      stream.update(t0, {mark(t1, "NOPE", 1, NAN), mark(t1, "BTC-C-90000", 5000, NAN),
                         mark(t1, "BTC-F", NAN, 0.9), mark(t1, "BTC-PERP", 91000, NAN),
                         mark(t1, "BTC-F", 95000, 0.9)});
  ASSERT_EQ(u.problems.size(), 5u);
  EXPECT_EQ(u.problems[0].column, "instrument");
  EXPECT_NE(u.problems[0].reason.find("unknown instrument 'NOPE'"), std::string::npos);
  EXPECT_EQ(u.problems[1].column, "mark_price");
  EXPECT_EQ(u.problems[2].column, "iv");
  EXPECT_EQ(u.problems[3].column, "mark_price");
  EXPECT_EQ(u.problems[4].column, "iv");  // the whole event goes: its mark_price too
  for (const input_problem& p : u.problems) EXPECT_EQ(p.line, 7);
  EXPECT_EQ(u.marks_applied, 0u);
  EXPECT_EQ(u.trigger, risk_trigger::none);
  EXPECT_EQ(stream.current_revaluation().account_equity[0], opt0);
  EXPECT_EQ(stream.current_revaluation().account_equity[1], fut0);
}

// An option and a future expiring two hours into the stream settle at the first update at or after
// expiry, at BTC's price in that update, and stay there: later ticks do not move them. Each settles
// once, reported with its price, and the settlement triggers a risk run.
TEST(stream_model, an_instrument_settles_mid_stream_and_stays_settled) {
  test::temp_dir dir;
  write_book(dir.path(), "2026-11-24T10:00:00Z", "opt,100000,standard\nfut,100000,standard\n",
             "opt,BTC-C-90000,2,0\nfut,BTC-F,3,90000\n");
  std::unique_ptr<backend> engine = make_cpu_backend(1);
  margin_stream stream(load(dir.path()), *engine);
  const std::int64_t t0 = t0_ns(), hour = 3600 * second_ns;
  update_outcome u = stream.update(t0, {price(t0, 0, 91000)});
  EXPECT_TRUE(u.settlements.empty());
  u = stream.update(t0 + hour, {price(t0 + hour, 0, 92000)});
  EXPECT_TRUE(u.settlements.empty());
  const double t_left = 3600.0 / seconds_per_year_act365;
  EXPECT_NEAR(stream.current_revaluation().account_equity[0],
              100000 + 2 * bsm_value(true, 92000, 90000, t_left, 0, 0, 0.55), 1e-7);
  // 10:00:00.5, the first update at or after expiry: settles at 93,000.
  const std::int64_t settle_ns = t0 + 2 * hour + second_ns / 2;
  u = stream.update(settle_ns, {price(settle_ns, 0, 93000)});
  ASSERT_EQ(u.settlements.size(), 2u);
  EXPECT_EQ(u.settlements[0].instrument, 1u);  // the call
  EXPECT_EQ(u.settlements[0].price, 93000.0);
  EXPECT_EQ(u.settlements[0].ts_ns, settle_ns);
  EXPECT_EQ(u.settlements[1].instrument, 2u);  // the future
  EXPECT_EQ(u.trigger, risk_trigger::settlement);
  const double option_settled = 100000 + 2 * (93000 - 90000.0);
  const double future_settled = 100000 + 3 * (93000 - 90000.0);
  EXPECT_NEAR(stream.current_revaluation().account_equity[0], option_settled, 1e-9);
  EXPECT_NEAR(stream.current_revaluation().account_equity[1], future_settled, 1e-9);
  for (double s : {80000.0, 99000.0}) {
    const std::int64_t t = stream.stream_time_ns() + hour;
    u = stream.update(t, {price(t, 0, s)});
    EXPECT_TRUE(u.settlements.empty());
    EXPECT_EQ(u.trigger, risk_trigger::none);
    EXPECT_NEAR(stream.current_revaluation().account_equity[0], option_settled, 1e-9) << s;
    EXPECT_NEAR(stream.current_revaluation().account_equity[1], future_settled, 1e-9) << s;
  }
  EXPECT_EQ(stream.risk_runs(risk_trigger::settlement), 1);
}

// A close-out takes its penalty from own funds and books negative own funds as bad debt; the
// credit line pays neither and is not kept as collateral (docs/design.md 10.1).
TEST(stream_model, a_close_out_is_on_own_funds_not_on_the_credit_line) {
  test::temp_dir dir;
  // vip_loss: own funds 1000 + (85000 - 91000) = -5000, equity 15000 on the 20000 line.
  // vip_thin: own funds 1500 + (90000 - 91000) = 500, below the 900 penalty on 90000 notional.
  write_book(dir.path(), "2026-12-24T08:00:00Z", "vip_loss,1000,vip\nvip_thin,1500,vip\n",
             "vip_loss,BTC-PERP,1,91000\nvip_thin,BTC-PERP,1,91000\n");
  const double penalty_rate = 0.01;
  for (double s : {85000.0, 90000.0}) {
    std::unique_ptr<backend> engine = make_cpu_backend(1);
    margin_stream stream(load(dir.path()), *engine);
    const std::int64_t t0 = t0_ns(), t1 = t0 + second_ns;
    stream.update(t0, {price(t0, 0, 91000)});
    stream.update(t1, {price(t1, 0, s)});
    const std::uint32_t a = s == 85000.0 ? 0 : 1;
    const double own = (a == 0 ? 1000.0 : 1500.0) + (s - 91000.0);
    EXPECT_NEAR(stream.current_revaluation().account_own_funds[a], own, 1e-9);
    EXPECT_NEAR(stream.current_revaluation().account_equity[a], own + 20000.0, 1e-9);
    const std::vector<closeout> closed = stream.close_accounts({a}, penalty_rate);
    ASSERT_EQ(closed.size(), 1u);
    if (a == 0) {
      EXPECT_EQ(closed[0].penalty, 0.0);  // no own funds to pay it from
      EXPECT_NEAR(closed[0].bad_debt, 5000.0, 1e-9);
      EXPECT_EQ(closed[0].left, 0.0);
    } else {
      EXPECT_NEAR(closed[0].penalty, 500.0, 1e-9);  // all of its own funds, not 900 of the line
      EXPECT_EQ(closed[0].bad_debt, 0.0);
      EXPECT_NEAR(closed[0].left, 0.0, 1e-9);
    }
    // The next update: no positions, own funds what was left (0), equity the credit line alone.
    const std::int64_t t2 = t1 + second_ns;
    const update_outcome u = stream.update(t2, {price(t2, 0, 80000)});
    EXPECT_EQ(u.trigger, risk_trigger::book_change);
    EXPECT_NEAR(stream.current_revaluation().account_own_funds[a], 0.0, 1e-9);
    EXPECT_NEAR(stream.current_revaluation().account_equity[a], 20000.0, 1e-9);
  }
}

}  // namespace
}  // namespace msync
