// The server's engine (host/server/engine_service.*, docs/design.md 8.12) in process: a what-if
// is answered while a risk run is in progress (it reads the book under its own lock, with the
// last completed run's scenarios), and account queries wait for the update in hand. The risk run
// is held open by a backend that forwards to the CPU backend but blocks in scenario_risk until
// the test releases it: no timing decides the outcome.
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <future>
#include <thread>

#include "forwarding_backend.hpp"
#include "io/number_parse.hpp"
#include "marginsync/backend_registry.hpp"
#include "server/engine_service.hpp"
#include "test_books.hpp"
#include "test_support.hpp"

namespace msync::test {
namespace {

class gated_backend final : public forwarding_backend {
 public:
  explicit gated_backend(std::unique_ptr<backend> inner) : forwarding_backend(std::move(inner)) {}
  void scenario_risk(const scenario_source& s, const risk_params& p) override {
    if (hold_next_) {
      hold_next_ = false;
      entered_.set_value();
      release_.get_future().wait();
    }
    forwarding_backend::scenario_risk(s, p);
  }

  // The next risk run blocks until release(); entered() is ready once it has begun.
  void hold_next_risk_run() { hold_next_ = true; }
  std::future<void> entered() { return entered_.get_future(); }
  void release() { release_.set_value(); }

 private:
  std::atomic<bool> hold_next_{false};
  std::promise<void> entered_, release_;
};

stream_event price(std::int64_t ts, std::uint32_t u, double p) {
  stream_event e;
  e.kind = stream_event_kind::price;
  e.ts_ns = ts;
  e.underlying = u;
  e.price = p;
  e.vol = std::nan("");
  return e;
}

TEST(engine_service, a_whatif_is_answered_while_a_risk_run_is_in_progress) {
  book_location where;
  where.book = sample_book();
  gated_backend engine(make_cpu_backend(1));
  margin_stream stream(load_book_at(where), engine);
  server::event_log events;
  server::engine_service service(stream, "cpu", nullptr, events, {});
  std::thread engine_thread([&] { service.run(); });

  const std::int64_t t0 = stream.inputs().market.as_of_ns;
  const double btc = stream.inputs().market.spot[0];
  // The first update (its risk run: start) completes.
  ASSERT_TRUE(
      service.submit_request({journal_update{t0, {price(t0, 0, btc)}}}, true).failure.empty());
  whatif_request request;
  request.account = "basis_trader";
  request.orders = {{"BTC-PERP", 0.5, btc}};
  const nlohmann::json before = service.whatif(request);

  // A trade makes the next update run the risk path (book_change); hold that run open.
  engine.hold_next_risk_run();
  std::future<void> entered = engine.entered();
  stream_event trade;
  trade.kind = stream_event_kind::trade;
  trade.ts_ns = t0 + 1000000000;
  trade.account = "basis_trader";
  trade.instrument = "BTC-PERP";
  trade.quantity = 0.5;
  trade.price = btc;
  std::thread poster([&] {
    service.submit_request({journal_update{trade.ts_ns, {trade}}}, /*wait_applied=*/true);
  });
  entered.wait();  // the risk run has begun and is held

  // The what-if answers now, from the book with the trade (the update's book change is
  // complete) and the scenarios of the last completed run.
  std::future<nlohmann::json> during =
      std::async(std::launch::async, [&] { return service.whatif(request); });
  ASSERT_EQ(during.wait_for(std::chrono::seconds(60)), std::future_status::ready)
      << "the what-if waited for the risk run";
  const nlohmann::json j = during.get();
  EXPECT_EQ(j["stream_time"], nlohmann::json(format_timestamp(t0 + 1000000000)));
  EXPECT_EQ(j["risk_run"], before["risk_run"]) << "the last completed run's scenarios";
  EXPECT_NE(j["before"]["initial_margin"], before["before"]["initial_margin"])
      << "the book already holds the trade";
  // The account with the trade is the account after the first what-if, a second of decay later.
  EXPECT_NEAR(j["before"]["initial_margin"].get<double>(),
              before["after"]["initial_margin"].get<double>(),
              1e-6 * before["after"]["initial_margin"].get<double>());

  // An account query waits for the update in hand.
  std::future<std::optional<nlohmann::json>> account =
      std::async(std::launch::async, [&] { return service.account("basis_trader"); });
  EXPECT_EQ(account.wait_for(std::chrono::milliseconds(200)), std::future_status::timeout)
      << "an account query answered in the middle of an update";
  engine.release();
  poster.join();
  ASSERT_TRUE(account.get().has_value());
  EXPECT_EQ(service.whatif(request)["risk_run"], nlohmann::json(format_timestamp(t0 + 1000000000)));
  service.stop();
  engine_thread.join();
}

}  // namespace
}  // namespace msync::test
