// marginsync_bench_whatif: the latency of one pre-trade what-if (docs/design.md 8.10) in process,
// for an account of 20 positions after its orders at 10,000 scenarios, on one thread. Reports
// p50, p99 and max (nearest rank) per case; never asserts a time.
//
//   marginsync_bench_whatif [BOOK_DIR] [ITERATIONS]     (defaults: data/generated, 2000)
//
// Cases: `full` with the scenario rows already priced at the current market (what-ifs between
// two ticks), `full` after a tick (every row priced again: the first what-if after an update),
// and `delta_gamma`. Each case stops after ITERATIONS what-ifs or 20 s, whichever comes first.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "io/load_inputs.hpp"
#include "stream/book_edit.hpp"
#include "whatif/whatif.hpp"

namespace {

using namespace msync;

double nearest_rank(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  std::size_t k = static_cast<std::size_t>(p * static_cast<double>(v.size()) + 0.999999);
  k = std::clamp<std::size_t>(k, 1, v.size());
  return v[k - 1];
}

// 19 positions for a new account of the book: 3 perpetuals, 4 futures and 12 options, over the
// book's underlyings in turn; and the instruments of its two orders (an option it does not hold
// and a perpetual it does), so that it holds 20 positions after them.
struct bench_account {
  std::vector<std::uint32_t> held;
  std::uint32_t new_option = 0, perpetual = 0;
};

bench_account pick_instruments(const instrument_table& ins) {
  bench_account a;
  std::size_t perps = 0, futures = 0, options = 0;
  for (std::uint32_t i = 0; i < ins.size() && a.held.size() < 19; ++i) {
    const instrument_kind k = ins.kind[i];
    if (k == instrument_kind::perpetual && perps < 3) {
      a.held.push_back(i);
      ++perps;
    } else if (k == instrument_kind::future && futures < 4) {
      a.held.push_back(i);
      ++futures;
    } else if (k == instrument_kind::option && options < 12 && i % 7 == 0) {
      a.held.push_back(i);
      ++options;
    }
  }
  for (std::uint32_t i = 0; i < ins.size(); ++i)
    if (ins.kind[i] == instrument_kind::option &&
        std::find(a.held.begin(), a.held.end(), i) == a.held.end()) {
      a.new_option = i;
      break;
    }
  for (std::uint32_t i : a.held)
    if (ins.kind[i] == instrument_kind::perpetual) a.perpetual = i;
  return a;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    book_location where;
    where.book = argc > 1 ? argv[1] : "data/generated";
    const long iterations = argc > 2 ? std::atol(argv[2]) : 2000;
    book_inputs in = load_book_at(where);
    in.risk.scenarios = 10000;
    in.risk.seed = 1;
    // The account: opened at the current prices' neighbourhood, with collateral enough to matter.
    book& b = in.positions;
    const bench_account pick = pick_instruments(b.instruments);
    const std::uint32_t a = add_account(b, "bench_client", 0);
    b.collateral[a] = 1e6;
    for (std::size_t k = 0; k < pick.held.size(); ++k) {
      const std::uint32_t i = pick.held[k];
      const double spot = in.market.spot[b.instruments.underlying[i]];
      const bool option = b.instruments.kind[i] == instrument_kind::option;
      b.collateral[a] += apply_trade(b, a, i, k % 2 ? -3.0 : 5.0, option ? spot * 0.05 : spot);
    }
    whatif_request request;
    request.account = "bench_client";
    request.orders.push_back(
        whatif_order{b.instruments.id[pick.new_option], -2.0,
                     in.market.spot[b.instruments.underlying[pick.new_option]] * 0.04});
    request.orders.push_back(
        whatif_order{b.instruments.id[pick.perpetual], 1.0,
                     in.market.spot[b.instruments.underlying[pick.perpetual]]});
    const book_lookup lookup(b);

    std::printf(
        "book %s: %zu accounts, %zu instruments, %zu underlyings; account of %zu positions, "
        "%zu after its %zu orders; 10,000 scenarios, one thread\n",
        where.book.string().c_str(), b.accounts(), b.instruments.size(), in.market.size(),
        pick.held.size(), pick.held.size() + 1, request.orders.size());
    struct bench_case {
      const char* name;
      risk_method method;
      bool after_tick;
    };
    for (const bench_case c : {bench_case{"full, rows priced", risk_method::full, false},
                               bench_case{"full, after a tick", risk_method::full, true},
                               bench_case{"delta_gamma", risk_method::delta_gamma, false}}) {
      in.risk.method = c.method;
      const whatif_scenarios scenarios(in.market, scenario_source{}, in.risk);
      const whatif_state state{&b, nullptr, &in.market, &in.risk, &scenarios, &lookup};
      whatif_calculator calc;
      calc.evaluate(state, request);  // warm-up: buffers, and the rows for the first case
      std::vector<double> ms;
      double checksum = 0.0;
      const auto start = std::chrono::steady_clock::now();
      for (long r = 0; r < iterations; ++r) {
        if (c.after_tick) calc.forget_rows();
        const auto t0 = std::chrono::steady_clock::now();
        const whatif_result w = calc.evaluate(state, request);
        const auto t1 = std::chrono::steady_clock::now();
        checksum += w.after.initial_margin;
        ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
        if (std::chrono::duration<double>(t1 - start).count() > 20.0) break;
      }
      std::printf(
          "%-20s %6zu what-ifs  p50 %8.3f ms  p99 %8.3f ms  max %8.3f ms  (IM after %.2f)\n",
          c.name, ms.size(), nearest_rank(ms, 0.50), nearest_rank(ms, 0.99), nearest_rank(ms, 1.0),
          checksum / static_cast<double>(ms.size()));
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "marginsync_bench_whatif: %s\n", e.what());
    return 1;
  }
}
