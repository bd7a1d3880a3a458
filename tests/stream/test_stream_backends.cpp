// The same stream on every backend gives the CPU backend's events: every account transition and
// stale-oracle event in the same order, with equity within 1e-9 and margins and breach probability
// within 1e-4 relative (docs/design.md section 6). The crash stream on the sample book, with trades
// and collateral changes added partway (a reload and a patch).
#include <gtest/gtest.h>

#include <cmath>

#include "backend_cases.hpp"
#include "io/tick_stream.hpp"
#include "stream/stream_engine.hpp"
#include "test_support.hpp"

namespace msync {
namespace {

struct recorded {
  std::vector<account_transition> accounts;
  std::vector<oracle_transition> oracles;
};

recorded replay(backend& engine, const std::vector<std::vector<stream_event>>& updates) {
  book_location where;
  where.book = test::sample_book();
  margin_stream stream(load_book_at(where), engine);
  recorded r;
  for (const std::vector<stream_event>& group : updates) {
    const update_outcome u = stream.update(group.front().ts_ns, group);
    r.accounts.insert(r.accounts.end(), u.accounts.begin(), u.accounts.end());
    r.oracles.insert(r.oracles.end(), u.oracles.begin(), u.oracles.end());
  }
  return r;
}

class stream_on_each_backend : public test::each_backend {};

TEST_P(stream_on_each_backend, the_same_stream_gives_the_events_of_the_cpu) {
  book_location where;
  where.book = test::sample_book();
  const book_inputs in = load_book_at(where);
  std::vector<std::vector<stream_event>> updates =
      read_updates(test::source_dir() / "data" / "streams" / "crash.jsonl", in.market.symbols,
                   in.market.as_of_ns, tick_time_bound{});
  // Book changes a third of the way in: a new account, a reduced perpetual, a deposit.
  std::vector<stream_event>& group = updates[updates.size() / 3];
  stream_event t;
  t.kind = stream_event_kind::trade;
  t.ts_ns = group.front().ts_ns;
  t.account = "newcomer";
  t.instrument = "BTC-PERP";
  t.quantity = 2;
  t.price = 90000;
  group.push_back(t);
  t.account = "leveraged_perp_long";
  t.quantity = -1;
  group.push_back(t);
  stream_event c;
  c.kind = stream_event_kind::collateral;
  c.ts_ns = t.ts_ns;
  c.account = "newcomer";
  c.amount = 30000;
  group.push_back(c);

  auto cpu = make_reference();
  auto engine = make();
  const recorded a = replay(*cpu, updates), b = replay(*engine, updates);
  ASSERT_EQ(a.oracles.size(), b.oracles.size());
  ASSERT_EQ(a.accounts.size(), b.accounts.size());
  ASSERT_FALSE(a.accounts.empty());
  for (std::size_t i = 0; i < a.accounts.size(); ++i) {
    const account_transition &x = a.accounts[i], &y = b.accounts[i];
    EXPECT_EQ(x.ts_ns, y.ts_ns) << i;
    EXPECT_EQ(x.account, y.account) << i;
    EXPECT_STREQ(x.event, y.event) << i;
    EXPECT_NEAR(y.equity, x.equity, 1e-9 * std::max(1.0, std::fabs(x.equity))) << i;
    EXPECT_NEAR(y.initial_margin, x.initial_margin,
                1e-4 * std::max(1.0, std::fabs(x.initial_margin)))
        << i;
    EXPECT_NEAR(y.maintenance_margin, x.maintenance_margin,
                1e-4 * std::max(1.0, std::fabs(x.maintenance_margin)))
        << i;
    EXPECT_NEAR(y.breach_probability, x.breach_probability,
                1e-4 * std::max(1e-2, x.breach_probability))
        << i;
  }
}

MSYNC_FOR_EACH_BACKEND(stream_on_each_backend);

}  // namespace
}  // namespace msync
