// marginsync_bench_whatif: the latency of pre-trade what-ifs (docs/design.md 8.10) in process, on
// one thread, at 10,000 scenarios, `full`, while the book's prices move as a 10 Hz tick stream
// moves them. Reports p50, p99 and max (nearest rank) per case; never asserts a time.
//
//   marginsync_bench_whatif [BOOK] [ROUNDS] [PER_ROUND]   (defaults: data/generated, 30, 100)
//
// A round is one tick and the what-ifs that arrive before the next: every spot moves (a lognormal
// step of 0.05%) and stream time passes 100 ms, which makes every instrument's scenario row stale,
// then PER_ROUND what-ifs (1,000 a second at 10 Hz) on accounts drawn at random. Cases:
// - accounts of 1, 5 and 20 positions after their one order (positions drawn at random from the
//   book's instruments, two in three of them options), added to the book, 64 of each size; and the
//   book's own accounts drawn at random, each with one order on one of the book's instruments;
// - without a prewarm: one row cache shared by the what-ifs (as a server's threads share it), each
//   row priced by the first what-if after the tick that meets it;
// - "prewarm first": after each tick, a prewarm of the instruments the what-ifs asked for within
//   the last 5 s (whatif_row_cache::recently_used), timed apart, then the what-ifs (the best case:
//   none arrives before the prewarm is done);
// - "prewarm beside": the same prewarm on a second thread, started at the tick, while the
//   what-ifs arrive paced at PER_ROUND per 100 ms from the tick on (what a server does: requests
//   arriving during the prewarm wait for a row it is pricing or price one it has not reached);
// - "lagged": as beside, but the what-ifs that arrive before the prewarm is done are answered
//   from the market of the tick before (whose rows the cache still holds), a policy a server may
//   choose: answers up to one prewarm older, never a row priced in the request;
// - "freshest": as lagged, but each what-if is answered from the new tick when its rows there are
//   priced already (whatif_calculator::rows_ready), else from the tick before;
// - "rows priced": no tick between what-ifs (what a what-if costs when it prices nothing).
// Also counted: the rows priced per round and the BS evaluations (option rows x scenarios), and
// the ns one costs.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "io/load_inputs.hpp"
#include "stream/book_edit.hpp"
#include "whatif/whatif.hpp"

namespace {

using namespace msync;
using clock_type = std::chrono::steady_clock;

double nearest_rank(std::vector<double> v, double p) {
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  std::size_t k = static_cast<std::size_t>(p * static_cast<double>(v.size()) + 0.999999);
  k = std::clamp<std::size_t>(k, 1, v.size());
  return v[k - 1];
}

double ms_since(clock_type::time_point t0) {
  return std::chrono::duration<double, std::milli>(clock_type::now() - t0).count();
}

// A price near the market's for an order on instrument i: its unit value less the multiplier (a
// premium for an option, the spot for a linear instrument).
double order_price(const book_inputs& in, std::uint32_t i) {
  const instrument_table& ins = in.positions.instruments;
  const double spot = in.market.spot[ins.underlying[i]];
  if (ins.kind[i] != instrument_kind::option) return spot;
  return std::max(spot * 0.02, 1e-6);
}

struct account_case {
  std::string name;
  std::vector<whatif_request> requests;  // one per account of the case
};

// `count` accounts holding `held` positions each, added to the book, with a what-if of one order
// on an instrument they do not hold: `held` + 1 positions after it. Two in three instruments are
// options where the book has them.
account_case synthetic_accounts(book_inputs& in, std::size_t held, std::size_t count,
                                std::mt19937_64& gen) {
  book& b = in.positions;
  const instrument_table& ins = b.instruments;
  std::vector<std::uint32_t> options, linear;
  for (std::uint32_t i = 0; i < ins.size(); ++i)
    (ins.kind[i] == instrument_kind::option ? options : linear).push_back(i);
  auto draw = [&]() -> std::uint32_t {
    const bool option = !options.empty() && (linear.empty() || gen() % 3 != 0);
    const std::vector<std::uint32_t>& from = option ? options : linear;
    return from[gen() % from.size()];
  };
  account_case c;
  c.name = std::to_string(held + 1) + (held == 0 ? " position" : " positions");
  for (std::size_t k = 0; k < count; ++k) {
    const std::string id = "bench_" + std::to_string(held + 1) + "_" + std::to_string(k);
    const std::uint32_t a = add_account(b, id, 0);
    b.collateral[a] = 1e6;
    std::vector<std::uint32_t> mine;
    while (mine.size() < held + 1) {
      const std::uint32_t i = draw();
      if (std::find(mine.begin(), mine.end(), i) == mine.end()) mine.push_back(i);
    }
    for (std::size_t p = 0; p < held; ++p)
      b.collateral[a] += apply_trade(b, a, mine[p], p % 2 ? -3.0 : 5.0, order_price(in, mine[p]));
    whatif_request r;
    r.account = id;
    r.orders.push_back(whatif_order{ins.id[mine[held]], -2.0, order_price(in, mine[held])});
    c.requests.push_back(std::move(r));
  }
  return c;
}

// The book's own accounts drawn at random, each with one order on an instrument drawn at random.
account_case book_accounts(const book_inputs& in, std::size_t accounts, std::size_t count,
                           std::mt19937_64& gen) {
  const instrument_table& ins = in.positions.instruments;
  account_case c;
  c.name = "book's accounts";
  for (std::size_t k = 0; k < count; ++k) {
    whatif_request r;
    r.account = in.positions.account_id[gen() % accounts];
    const std::uint32_t i = static_cast<std::uint32_t>(gen() % ins.size());
    r.orders.push_back(whatif_order{ins.id[i], 1.0, order_price(in, i)});
    c.requests.push_back(std::move(r));
  }
  return c;
}

// A 10 Hz tick: every spot moves, stream time passes 100 ms.
void tick(market_state& m, std::mt19937_64& gen) {
  std::normal_distribution<double> z(0.0, 1.0);
  for (double& s : m.spot) s *= std::exp(0.0005 * z(gen));
  m.as_of_ns += 100000000LL;
}

struct figures {
  std::vector<double> whatif_ms, prewarm_ms, plan_ms;
  std::uint64_t rows_priced = 0;
  std::size_t older = 0;  // what-ifs answered from the tick before
};

}  // namespace

int main(int argc, char** argv) {
  try {
    book_location where;
    where.book = argc > 1 ? argv[1] : "data/generated";
    const long rounds = argc > 2 ? std::atol(argv[2]) : 30;
    const long per_round = argc > 3 ? std::atol(argv[3]) : 100;
    book_inputs in = load_book_at(where);
    in.risk.scenarios = 10000;
    in.risk.seed = 1;
    in.risk.method = risk_method::full;
    const std::size_t book_accounts_count = in.positions.accounts();
    std::mt19937_64 gen(2026);
    std::vector<account_case> cases;
    for (std::size_t held : {0, 4, 19}) cases.push_back(synthetic_accounts(in, held, 64, gen));
    cases.push_back(book_accounts(in, book_accounts_count, 4096, gen));
    const book_lookup lookup(in.positions);
    const instrument_table& ins = in.positions.instruments;
    std::size_t option_count = 0;
    for (std::uint32_t i = 0; i < ins.size(); ++i)
      option_count += ins.kind[i] == instrument_kind::option ? 1 : 0;

    // The scenario set of the "last risk run": the market as loaded. Ticks then move the prices
    // away from it, as between two risk runs of a stream.
    const market_state risk_market = in.market;
    const whatif_scenarios scenarios(risk_market, scenario_source{}, in.risk);
    std::printf(
        "book %s: %zu accounts, %zu instruments (%zu options), %zu underlyings; 10,000 "
        "scenarios, full, one thread; %ld rounds of a tick then %ld what-ifs\n",
        where.book.string().c_str(), book_accounts_count, ins.size(), option_count,
        in.market.size(), rounds, per_round);
    std::printf("%-16s %-14s %7s %9s %9s %9s %11s %14s %10s %7s\n", "accounts", "rows", "what-ifs",
                "p50 ms", "p99 ms", "max ms", "rows/round", "prewarm ms", "ns per BS", "older");

    enum class mode { priced, cold, prewarm, beside, lagged, freshest };
    for (const account_case& ac : cases)
      for (const mode md :
           {mode::priced, mode::cold, mode::prewarm, mode::beside, mode::lagged, mode::freshest}) {
        market_state market = risk_market, previous = risk_market;
        whatif_row_cache rows;
        const whatif_state state{&in.positions, nullptr, &market, &in.risk,
                                 &scenarios,    &lookup, &rows};
        // Lagged: the what-ifs are answered from the market of the tick before until the
        // prewarm of the new tick is done (the book does not change between them here).
        const whatif_state previous_state{&in.positions, nullptr, &previous, &in.risk,
                                          &scenarios,    &lookup, &rows};
        std::atomic<bool> prewarmed{true};
        whatif_calculator calc;
        std::mt19937_64 draw(7), ticks(11);
        // Warm-up: one what-if on every account of the case (buffers, and the recently-used
        // instruments a prewarm starts from).
        for (const whatif_request& r : ac.requests) calc.evaluate(state, r);
        figures f;
        double checksum = 0.0;
        const auto bench_start = clock_type::now();
        for (long round = 0; round < rounds; ++round) {
          previous = market;
          if (md != mode::priced) tick(market, ticks);
          const whatif_row_cache::counters before = rows.statistics();
          const auto tick_time = clock_type::now();
          if (md == mode::prewarm) {
            whatif_prewarm job(state, rows, rows.recently_used(std::chrono::seconds(5)));
            f.plan_ms.push_back(ms_since(tick_time));
            job.run();
            f.prewarm_ms.push_back(ms_since(tick_time));
          }
          // Beside: the prewarm is planned (as under the server's reader lock) and run on a
          // second thread while the what-ifs arrive at 1,000 a second from the tick on, as a
          // server's worker would run it.
          std::thread worker;
          const bool beside = md == mode::beside || md == mode::lagged || md == mode::freshest;
          if (beside) {
            prewarmed = false;
            worker = std::thread([&] {
              whatif_prewarm job(state, rows, rows.recently_used(std::chrono::seconds(5)));
              job.run();
              f.prewarm_ms.push_back(ms_since(tick_time));
              prewarmed = true;
            });
          }
          for (long q = 0; q < per_round; ++q) {
            if (beside)
              std::this_thread::sleep_until(tick_time +
                                            std::chrono::microseconds(100000 * q / per_round));
            const whatif_request& r = ac.requests[draw() % ac.requests.size()];
            const auto t0 = clock_type::now();
            const whatif_state* at = &state;
            if (md == mode::lagged && !prewarmed) at = &previous_state;
            if (md == mode::freshest && !prewarmed && !calc.rows_ready(state, r))
              at = &previous_state;
            const whatif_result w = calc.evaluate(*at, r);
            f.older += at == &previous_state ? 1 : 0;
            f.whatif_ms.push_back(ms_since(t0));
            checksum += w.after.initial_margin;
          }
          if (worker.joinable()) worker.join();
          f.rows_priced += rows.statistics().priced - before.priced;
          if (std::chrono::duration<double>(clock_type::now() - bench_start).count() > 60.0) break;
        }
        // ns per BS evaluation: one option row priced alone, timed.
        double ns_per_bs = NAN;
        if (md == mode::cold && option_count > 0) {
          std::vector<std::uint32_t> opts;
          for (std::uint32_t i = 0; i < ins.size() && opts.size() < 64; ++i)
            if (ins.kind[i] == instrument_kind::option) opts.push_back(i);
          tick(market, ticks);
          whatif_prewarm job(state, rows, opts);
          const std::size_t planned = job.size();
          const auto t0 = clock_type::now();
          job.run();
          ns_per_bs = ms_since(t0) * 1e6 /
                      (static_cast<double>(planned) * static_cast<double>(scenarios.count()));
        }
        const char* name = md == mode::priced    ? "priced"
                           : md == mode::cold    ? "no prewarm"
                           : md == mode::prewarm ? "prewarm first"
                           : md == mode::beside  ? "prewarm beside"
                           : md == mode::lagged  ? "lagged"
                                                 : "freshest";
        const double rounds_done =
            static_cast<double>(f.whatif_ms.size()) / static_cast<double>(per_round);
        char prewarm[32] = "-", bs[32] = "-";
        if (!f.prewarm_ms.empty())
          std::snprintf(prewarm, sizeof prewarm, "%.1f/%.1f", nearest_rank(f.prewarm_ms, 0.5),
                        nearest_rank(f.prewarm_ms, 1.0));
        if (!f.plan_ms.empty())
          std::snprintf(prewarm, sizeof prewarm, "%.2f+%.1f/%.1f", nearest_rank(f.plan_ms, 0.5),
                        nearest_rank(f.prewarm_ms, 0.5) - nearest_rank(f.plan_ms, 0.5),
                        nearest_rank(f.prewarm_ms, 1.0));
        if (!std::isnan(ns_per_bs)) std::snprintf(bs, sizeof bs, "%.1f", ns_per_bs);
        std::printf("%-16s %-14s %7zu %9.3f %9.3f %9.3f %11.1f %14s %10s %6.1f%%  (IM %.6g)\n",
                    ac.name.c_str(), name, f.whatif_ms.size(), nearest_rank(f.whatif_ms, 0.50),
                    nearest_rank(f.whatif_ms, 0.99), nearest_rank(f.whatif_ms, 1.0),
                    static_cast<double>(f.rows_priced) / rounds_done, prewarm, bs,
                    100.0 * static_cast<double>(f.older) / static_cast<double>(f.whatif_ms.size()),
                    checksum / static_cast<double>(f.whatif_ms.size()));
      }
    std::printf(
        "rows/round: rows priced per round (by the what-ifs and the prewarm); prewarm ms: p50/max "
        "per tick, from the tick to its last row (prewarm first: plan p50 + run p50 / max); ns per "
        "BS: a prewarm of 64 options / (64 x 10,000); older: what-ifs answered from the tick "
        "before\n");
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "marginsync_bench_whatif: %s\n", e.what());
    return 1;
  }
}
