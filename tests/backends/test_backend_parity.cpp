// Every backend against the CPU backend on the same inputs (docs/design.md section 6, with the
// tolerances of backend_cases.hpp). Books: the sample, generated books of several shapes, a random
// book whose accounts span every underlying; the CUDA backend also chunked (which must equal its
// resident run bit for bit). On the CPU backend itself these check that it repeats bit for bit.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <random>
#include <regex>
#include <sstream>

#include "backend_cases.hpp"
#include "io/load_inputs.hpp"
#include "marginsync/account_split.hpp"
#include "marginsync/errors.hpp"
#include "marginsync/funding.hpp"
#include "test_books.hpp"
#include "test_support.hpp"

namespace msync {
namespace {

using test::expect_agree;
using test::expect_identical;
using test::outcome;
using test::run_loaded;
using test::run_on;
using test::temp_dir;
using test::write_file;

class backend_parity : public test::each_backend {
 protected:
  // Runs this backend and the reference with both methods (and the given scenario count), and
  // compares.
  void compare_both_methods(book_inputs in, std::int64_t scenarios) const {
    in.risk.scenarios = scenarios;
    for (risk_method method : {risk_method::full, risk_method::delta_gamma}) {
      SCOPED_TRACE(method_name(method));
      in.risk.method = method;
      auto engine = make();
      auto cpu = make_reference();
      expect_agree(in, run_on(*engine, in), run_on(*cpu, in));
    }
  }
};

using test::generated_book;

TEST_P(backend_parity, sample_book_matches_the_cpu) {
  book_inputs in = load_book_at(book_location{test::sample_book(), {}, {}, {}, {}, {}});
  compare_both_methods(in, 2000);
  // Expected shortfall margin and Student-t shocks.
  in.risk.measure = margin_measure::es;
  in.risk.distribution = shock_distribution::student_t;
  compare_both_methods(in, 1000);
}

TEST_P(backend_parity, scenario_file_matches_the_cpu) {
  auto engine = make();
  book_inputs in = load_book_at(book_location{test::sample_book(), {}, {}, {}, {}, {}});
  temp_dir dir;
  std::ostringstream csv;
  csv << "scenario_id,underlying,spot_return,vol_change\n";
  std::mt19937_64 rng(11);
  std::normal_distribution<double> z(0.0, 0.04);
  for (int s = 0; s < 300; ++s)
    for (const char* u : {"BTC", "ETH"})
      csv << "s" << s << "," << u << "," << z(rng) << "," << 5 * z(rng) << "\n";
  write_file(dir / "scenarios.csv", csv.str());
  const scenario_file_data file = load_scenario_file(dir / "scenarios.csv", in.market);
  auto cpu = make_reference();
  expect_agree(in, run_on(*engine, in, &file), run_on(*cpu, in, &file));
}

TEST_P(backend_parity, one_account_with_many_positions) {
  temp_dir dir;
  compare_both_methods(generated_book(dir, 1, 5, 3000, 2), 4096);
}

TEST_P(backend_parity, full_tiled_over_many_tiles) {
  temp_dir dir;
  // 25,000 scenarios (k = 250, the largest tail the CUDA kernel tiles): 13 tiles of up to 2,048.
  compare_both_methods(generated_book(dir, 40, 3, 5, 14), 25000);
}

TEST_P(backend_parity, many_accounts_with_one_position) {
  temp_dir dir;
  compare_both_methods(generated_book(dir, 20000, 3, 1, 3), 500);
}

TEST_P(backend_parity, generated_book_with_more_scenarios_than_shared_memory_holds) {
  temp_dir dir;
  // 40,000 losses of 8 bytes are more than one block's shared memory: on CUDA, both methods'
  // losses in global scratch with the filter's slots (k = 400: 4 per thread; `full` does not tile
  // above k = 256).
  compare_both_methods(generated_book(dir, 50, 4, 6, 4), 40000);
}

TEST_P(backend_parity, more_scenarios_than_one_slot_per_thread_takes) {
  temp_dir dir;
  // 60,000 scenarios: k = 600 is more than the 512 threads' maxima can bound. On CUDA both methods
  // go account by account with 5 slots per thread, `full` untiled.
  compare_both_methods(generated_book(dir, 30, 3, 4, 12), 60000);
}

TEST_P(backend_parity, full_over_several_tiles_and_batches_of_accounts) {
  temp_dir dir;
  // 270,000 accounts: 66 per bad-debt group, so on CUDA a group's accounts go in two batches of
  // the tiled kernel, and 2,500 scenarios are two tiles (2,048 and 452) for a handful of
  // instruments. `full` only: delta_gamma does not tile.
  book_inputs in = generated_book(dir, 270000, 2, 1, 13);
  in.risk.scenarios = 2500;
  in.risk.method = risk_method::full;
  auto engine = make();
  auto cpu = make_reference();
  expect_agree(in, run_on(*engine, in), run_on(*cpu, in));
}

// A random book whose every account trades every underlying, with random kinds, strikes,
// expiries (some expired), signs and sizes.
book_inputs random_spanning_book(const temp_dir& dir, int underlyings, int accounts,
                                 std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> uni(0.0, 1.0);
  std::ostringstream market, ins, acc, pos;
  market << "{\"as_of\": \"2026-11-24T08:00:00Z\", \"rate\": 0.03, \"underlyings\": [";
  std::vector<double> spot(underlyings);
  for (int u = 0; u < underlyings; ++u) {
    spot[u] = 10 + 1000 * uni(rng);
    market << (u ? "," : "") << "{\"symbol\": \"U" << u << "\", \"spot\": " << spot[u]
           << ", \"vol\": " << 0.2 + uni(rng) << ", \"dividend_yield\": " << 0.02 * uni(rng) << "}";
  }
  market << "], \"correlation\": [";
  for (int i = 0; i < underlyings; ++i) {
    market << (i ? "," : "") << "[";
    for (int j = 0; j < underlyings; ++j) market << (j ? "," : "") << (i == j ? 1.0 : 0.3);
    market << "]";
  }
  market << "]}";
  write_file(dir / "market.json", market.str());
  write_file(dir / "risk.json",
             "{\"confidence\": 0.99, \"scenarios\": 1000, \"seed\": 5, "
             "\"tiers\": {\"standard\": {\"im_multiplier\": 1.0, \"credit_limit\": 0.0}}}");
  ins << "instrument_id,kind,underlying,strike,expiry,option_type,multiplier\n";
  const char* expiries[] = {"2026-11-24T07:00:00Z", "2026-11-25T08:00:00Z", "2026-12-25T08:00:00Z",
                            "2027-06-25T08:00:00Z"};
  const int per_underlying = 12;
  for (int u = 0; u < underlyings; ++u)
    for (int k = 0; k < per_underlying; ++k) {
      const std::string id = "U" + std::to_string(u) + "-" + std::to_string(k);
      if (k == 0)
        ins << id << ",spot,U" << u << ",,,,1\n";
      else if (k == 1)
        ins << id << ",perpetual,U" << u << ",,,,0.5\n";
      else if (k == 2)
        ins << id << ",future,U" << u << ",," << expiries[2] << ",,1\n";
      else
        ins << id << ",option,U" << u << "," << spot[u] * (0.7 + 0.6 * uni(rng)) << ","
            << expiries[k % 4] << "," << (k % 2 ? "call" : "put") << ",1\n";
    }
  write_file(dir / "instruments.csv", ins.str());
  acc << "account_id,collateral,tier\n";
  pos << "account_id,instrument_id,quantity,entry_price\n";
  for (int a = 0; a < accounts; ++a) {
    acc << "A" << a << "," << 20000 * uni(rng) << ",standard\n";
    for (int u = 0; u < underlyings; ++u)
      for (int r = 0; r < 2; ++r) {
        const int k = static_cast<int>(uni(rng) * per_underlying);
        const double q = (uni(rng) < 0.5 ? -1 : 1) * (0.1 + 10 * uni(rng));
        pos << "A" << a << ",U" << u << "-" << k << "," << q << ",";
        if (k == 1 || k == 2) pos << spot[u] * (0.9 + 0.2 * uni(rng));
        pos << "\n";
      }
  }
  write_file(dir / "accounts.csv", acc.str());
  write_file(dir / "positions.csv", pos.str());
  return load_book_at(book_location{dir.path(), {}, {}, {}, {}, {}});
}

TEST_P(backend_parity, random_accounts_spanning_every_underlying) {
  for (std::uint64_t seed : {1u, 2u, 3u}) {
    SCOPED_TRACE(seed);
    temp_dir dir;
    compare_both_methods(random_spanning_book(dir, 6, 300, seed), 1000);
  }
}

TEST_P(backend_parity, many_underlyings_use_the_global_normals_scratch) {
  temp_dir dir;
  // More underlyings than the Monte Carlo kernel keeps in local memory.
  compare_both_methods(random_spanning_book(dir, 70, 20, 9), 600);
}

// A book of many small accounts and, every 50th account, a large one of 127 to 144 positions on
// distinct instruments (12 underlyings of 12 instruments: spot, perpetual, future, options), so
// that the CUDA revaluation's thread-per-account blocks and its warps (account_split.hpp: from 128
// positions) run in one launch, the large accounts just below, at and above the threshold, with
// rounds of 32 ending inside and at the edge of an exposure; chunked, the large accounts fall in
// different chunks.
book_inputs book_with_large_accounts(const temp_dir& dir, int accounts, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> uni(0.0, 1.0);
  const int underlyings = 12, per_underlying = 12, instruments = underlyings * per_underlying;
  std::ostringstream market, ins, acc, pos;
  market << "{\"as_of\": \"2026-11-24T08:00:00Z\", \"rate\": 0.03, \"underlyings\": [";
  std::vector<double> spot(underlyings);
  for (int u = 0; u < underlyings; ++u) {
    spot[u] = 10 + 1000 * uni(rng);
    market << (u ? "," : "") << "{\"symbol\": \"U" << u << "\", \"spot\": " << spot[u]
           << ", \"vol\": " << 0.2 + uni(rng) << "}";
  }
  market << "]}";
  write_file(dir / "market.json", market.str());
  write_file(dir / "risk.json",
             "{\"confidence\": 0.99, \"scenarios\": 1000, \"seed\": 5, "
             "\"tiers\": {\"standard\": {\"im_multiplier\": 1.0, \"credit_limit\": 500.0}}}");
  ins << "instrument_id,kind,underlying,strike,expiry,option_type,multiplier\n";
  for (int u = 0; u < underlyings; ++u)
    for (int k = 0; k < per_underlying; ++k) {
      const std::string id = "U" + std::to_string(u) + "-" + std::to_string(k);
      if (k == 0)
        ins << id << ",spot,U" << u << ",,,,1\n";
      else if (k == 1)
        ins << id << ",perpetual,U" << u << ",,,,0.5\n";
      else if (k == 2)
        ins << id << ",future,U" << u << ",,2026-12-25T08:00:00Z,,1\n";
      else
        ins << id << ",option,U" << u << "," << spot[u] * (0.7 + 0.6 * uni(rng))
            << ",2027-03-25T08:00:00Z," << (k % 2 ? "call" : "put") << ",1\n";
    }
  write_file(dir / "instruments.csv", ins.str());
  acc << "account_id,collateral,tier\n";
  pos << "account_id,instrument_id,quantity,entry_price\n";
  const int large_sizes[] = {127, 128, 129, 144, 140, 160};
  std::vector<int> order(instruments);
  for (int a = 0; a < accounts; ++a) {
    acc << "A" << a << "," << 50000 * uni(rng) << ",standard\n";
    const int n = a % 50 == 7 ? std::min(instruments, large_sizes[(a / 50) % 6])
                              : 1 + static_cast<int>(uni(rng) * 6);
    for (int i = 0; i < instruments; ++i) order[i] = i;
    std::shuffle(order.begin(), order.end(), rng);
    for (int j = 0; j < n; ++j) {
      const int u = order[j] / per_underlying, k = order[j] % per_underlying;
      const double q = (uni(rng) < 0.5 ? -1 : 1) * (0.1 + 10 * uni(rng));
      pos << "A" << a << ",U" << u << "-" << k << "," << q << ",";
      if (k == 1 || k == 2) pos << spot[u] * (0.9 + 0.2 * uni(rng));
      pos << "\n";
    }
  }
  write_file(dir / "accounts.csv", acc.str());
  write_file(dir / "positions.csv", pos.str());
  return load_book_at(book_location{dir.path(), {}, {}, {}, {}, {}});
}

TEST_P(backend_parity, large_accounts_split_across_a_warp_among_small_ones) {
  temp_dir dir;
  book_inputs in = book_with_large_accounts(dir, 1500, 21);
  // The large accounts are there, just below, at and above the split's threshold.
  std::vector<std::uint64_t> large;
  for (std::size_t a = 0; a < in.positions.accounts(); ++a) {
    const std::uint64_t n = account_positions(in.positions.account_exposure_begin.data(),
                                              in.positions.exposure_position_begin.data(), a);
    if (n >= 100) large.push_back(n);
  }
  ASSERT_EQ(large.size(), 30u);
  for (std::uint64_t n : {split_min_positions - 1, split_min_positions, split_min_positions + 1})
    EXPECT_NE(std::find(large.begin(), large.end(), n), large.end()) << n;
  compare_both_methods(in, 1000);
}

// The collateral moved added by the revaluation (the CUDA kernel adds a compact list of the
// accounts whose change is not zero), large and small accounts, a NaN-free mix of signs.
TEST_P(backend_parity, collateral_changes_on_large_and_small_accounts) {
  temp_dir dir;
  book_inputs in = book_with_large_accounts(dir, 1500, 22);
  std::vector<double> change(in.positions.accounts(), 0.0);
  for (std::size_t a = 0; a < change.size(); a += 3)
    change[a] = 1000.0 - 0.5 * static_cast<double>(a);
  change[7] = -123.25;  // a large account
  change[57] = 0.0;     // a large account whose collateral did not move
  auto engine = make();
  auto cpu = make_reference();
  engine->load_book(in.positions, in.risk);
  cpu->load_book(in.positions, in.risk);
  engine->revalue(in.market, change);
  cpu->revalue(in.market, change);
  test::expect_revaluations_agree(engine->copy_revaluation(), cpu->copy_revaluation());
  // And after a revaluation without changes, none is left over.
  engine->revalue(in.market, {});
  cpu->revalue(in.market, {});
  test::expect_revaluations_agree(engine->copy_revaluation(), cpu->copy_revaluation());
}

// An exactly hedged account: q and -q of two listings of one underlying's spot, and of two
// options with the same terms, so that every scenario row of the one equals the other's. Its
// losses are exactly 0 on every backend with both methods (no fused multiply-add in the loss
// accumulation, docs/design.md 6: a contracted fma(-q, row, loss) leaves the rounding error of
// q row, about 1e-13 here), so VaR, ES and breach probability are exactly 0.
TEST_P(backend_parity, an_exactly_hedged_account_has_exactly_zero_risk) {
  temp_dir dir;
  write_file(dir / "market.json",
             "{\"as_of\": \"2026-11-24T08:00:00Z\", \"rate\": 0.03, \"underlyings\": ["
             "{\"symbol\": \"U\", \"spot\": 1234.567, \"vol\": 0.6, \"dividend_yield\": 0.0}]}");
  write_file(dir / "risk.json",
             "{\"confidence\": 0.99, \"scenarios\": 3000, \"seed\": 3, "
             "\"tiers\": {\"standard\": {\"im_multiplier\": 1.0, \"credit_limit\": 0.0}}}");
  write_file(dir / "instruments.csv",
             "instrument_id,kind,underlying,strike,expiry,option_type,multiplier\n"
             "U-SPOT-A,spot,U,,,,0.1\n"
             "U-SPOT-B,spot,U,,,,0.1\n"
             "U-C-A,option,U,1300,2026-12-25T08:00:00Z,call,1\n"
             "U-C-B,option,U,1300,2026-12-25T08:00:00Z,call,1\n");
  write_file(dir / "accounts.csv",
             "account_id,collateral,tier\nhedged,1000,standard\n"
             "open,1000,standard\n");
  write_file(dir / "positions.csv",
             "account_id,instrument_id,quantity,entry_price\n"
             "hedged,U-SPOT-A,7.3,\nhedged,U-SPOT-B,-7.3,\n"
             "hedged,U-C-A,-0.37,\nhedged,U-C-B,0.37,\n"
             "open,U-SPOT-A,7.3,\nopen,U-C-B,-0.37,\n");
  book_inputs in = load_book_at(book_location{dir.path(), {}, {}, {}, {}, {}});
  for (risk_method method : {risk_method::full, risk_method::delta_gamma}) {
    SCOPED_TRACE(method_name(method));
    in.risk.method = method;
    auto engine = make();
    const outcome got = run_on(*engine, in);
    ASSERT_EQ(got.risk.var.size(), 2u);
    // Account 0 is the hedged one (accounts in file order), account 1 is not.
    EXPECT_EQ(got.risk.var[0], 0.0);
    EXPECT_EQ(got.risk.es[0], 0.0);
    EXPECT_EQ(got.risk.breach_probability[0], 0.0);
    EXPECT_GT(got.risk.var[1], 0.0);
  }
}

// A run in chunks (the cuda_chunked case) gives the bytes of the resident run; on every backend,
// options that concern another backend change nothing.
TEST_P(backend_parity, chunked_run_equals_resident_run) {
  temp_dir dir;
  book_inputs in = test::generated_book(dir, 3000, 5, 4, 6);
  in.risk.scenarios = 800;
  for (risk_method method : {risk_method::full, risk_method::delta_gamma}) {
    SCOPED_TRACE(method_name(method));
    in.risk.method = method;
    auto engine = make();
    auto resident = make_backend(GetParam().name);
    const outcome c = run_on(*engine, in);
    const outcome r = run_on(*resident, in);
    EXPECT_EQ(resident->residency_note(), "");
    if (GetParam().options.max_chunk_accounts > 0 && GetParam().name != "cpu") {
      EXPECT_NE(engine->residency_note().find("chunks"), std::string::npos)
          << engine->residency_note();
      // More than two chunks (3,000 accounts, at most 700 a chunk), so that the two sets of upload
      // buffers take turns more than once: each chunk's upload overlaps the one before's compute.
      std::smatch count;
      const std::string note = engine->residency_note();
      ASSERT_TRUE(std::regex_search(note, count, std::regex("in ([0-9]+) chunks"))) << note;
      EXPECT_GE(std::stoi(count[1].str()), 3) << note;
    }
    expect_identical(c, r);
  }
}

// The same inputs twice give the same bits; another scenario count and method on the revaluation
// held (without load_book or revalue again) is planned anew and agrees with the reference.
TEST_P(backend_parity, same_inputs_give_identical_results_and_a_new_scenario_count_is_replanned) {
  auto engine = make();
  temp_dir dir;
  book_inputs in = test::generated_book(dir, 500, 4, 5, 8);
  in.risk.scenarios = 1000;
  const outcome first = run_on(*engine, in);
  const outcome again = run_on(*engine, in);
  expect_identical(first, again);
  in.risk.scenarios = 3001;
  in.risk.method = risk_method::delta_gamma;
  engine->scenario_risk(scenario_source{}, in.risk);
  const outcome more{first.reval, engine->copy_risk()};
  auto cpu = make_reference();
  expect_agree(in, more, run_on(*cpu, in));
  // The revaluation held is still the first one: copying it again gives the same bits.
  EXPECT_EQ(engine->copy_revaluation().account_equity, first.reval.account_equity);
  EXPECT_EQ(engine->copy_revaluation().exposure_vega, first.reval.exposure_vega);
}

// Collateral changes added at revalue move own funds and equity by exactly that amount (collateral
// is the client's money) and nothing else.
TEST_P(backend_parity, collateral_changes_add_to_equity_and_nothing_else) {
  auto engine = make();
  temp_dir dir;
  book_inputs in = test::generated_book(dir, 900, 4, 3, 21);
  engine->load_book(in.positions, in.risk);
  engine->revalue(in.market, {});
  const revaluation plain = engine->copy_revaluation();
  std::vector<double> change(in.positions.accounts());
  for (std::size_t a = 0; a < change.size(); ++a) {
    const double x = static_cast<double>(a);
    change[a] = (a % 3 == 0) ? -250.5 * x : 0.25 * x;
  }
  engine->revalue(in.market, change);
  const revaluation moved = engine->copy_revaluation();
  for (std::size_t a = 0; a < change.size(); ++a) {
    EXPECT_EQ(moved.account_equity[a], plain.account_equity[a] + change[a]) << a;
    EXPECT_EQ(moved.account_own_funds[a], plain.account_own_funds[a] + change[a]) << a;
  }
  EXPECT_EQ(moved.exposure_delta, plain.exposure_delta);
  EXPECT_EQ(moved.exposure_decay, plain.exposure_decay);
  EXPECT_EQ(moved.account_gross_notional, plain.account_gross_notional);
  EXPECT_EQ(moved.account_floor_notional, plain.account_floor_notional);
  EXPECT_EQ(moved.account_liquidity_addon, plain.account_liquidity_addon);
}

// A tick that changes the state of more accounts than the CUDA backend brings back with their
// count in its first copy (256, then at most 4,096) brings every change back, as on the CPU; and
// revalue_tick gives the bits of revalue and tick_states called one after the other.
TEST_P(backend_parity, a_tick_that_changes_many_states_brings_every_change_back) {
  temp_dir dir;
  book_inputs in = generated_book(dir, 5000, 4, 3, 31);
  in.risk.scenarios = 500;
  const std::size_t accounts = in.positions.accounts();
  tick_request request;
  request.preemptive_threshold = in.risk.preemptive_threshold;
  // Tick 1: every account loses far more than it holds; tick 2: the collateral is back.
  const std::vector<std::vector<double>> ticks = {std::vector<double>(accounts, -1e12),
                                                  std::vector<double>(accounts, 0.0)};
  auto replay = [&](backend& engine, bool one_call) {
    engine.load_book(in.positions, in.risk);
    engine.revalue(in.market, {});
    engine.scenario_risk(scenario_source{}, in.risk);
    std::vector<std::vector<tick_change>> out;
    for (std::vector<double> change : ticks) {
      if (one_call) {
        out.push_back(engine.revalue_tick(in.market, change, funding_accrual{}, &request));
      } else {
        engine.revalue(in.market, change);
        out.push_back(engine.tick_states(request));
      }
    }
    return out;
  };
  auto engine = make();
  const auto got = replay(*engine, true);
  auto apart = make();
  const auto separate = replay(*apart, false);
  auto cpu = make_reference();
  const auto want = replay(*cpu, true);
  ASSERT_EQ(got.size(), want.size());
  EXPECT_EQ(got[0].size(), accounts);  // every account to liquidate
  EXPECT_GT(got[1].size(), 256u);      // most of them back
  for (std::size_t t = 0; t < got.size(); ++t) {
    SCOPED_TRACE(t);
    ASSERT_EQ(got[t].size(), want[t].size());
    ASSERT_EQ(got[t].size(), separate[t].size());
    for (std::size_t i = 0; i < got[t].size(); ++i) {
      EXPECT_EQ(got[t][i].account, want[t][i].account) << i;
      EXPECT_EQ(got[t][i].state, want[t][i].state) << i;
      EXPECT_EQ(got[t][i].account, separate[t][i].account) << i;
      EXPECT_EQ(got[t][i].state, separate[t][i].state) << i;
      EXPECT_EQ(got[t][i].equity, separate[t][i].equity) << i;
      EXPECT_EQ(got[t][i].maintenance_margin, separate[t][i].maintenance_margin) << i;
    }
  }
}

// The tick path's revaluation (revalue_tick) on a book with large accounts split across a warp:
// the same changes as the CPU, with the equity the revaluation and the collateral moved give.
TEST_P(backend_parity, a_tick_on_large_accounts_gives_the_changes_of_the_cpu) {
  temp_dir dir;
  book_inputs in = book_with_large_accounts(dir, 1500, 23);
  in.risk.scenarios = 500;
  const std::size_t accounts = in.positions.accounts();
  tick_request request;
  request.preemptive_threshold = in.risk.preemptive_threshold;
  // Tick 1: every third account (the large ones 7, 157, 307, ... among them) loses far more than it
  // holds; tick 2: a small deposit everywhere.
  std::vector<double> lose(accounts, 0.0), deposit(accounts, 10.0);
  for (std::size_t a = 1; a < accounts; a += 3) lose[a] = -1e12;
  const std::vector<std::vector<double>> ticks = {lose, deposit};
  auto replay = [&](backend& engine) {
    engine.load_book(in.positions, in.risk);
    engine.revalue(in.market, {});
    engine.scenario_risk(scenario_source{}, in.risk);
    std::vector<std::vector<tick_change>> out;
    for (std::vector<double> change : ticks)
      out.push_back(engine.revalue_tick(in.market, change, funding_accrual{}, &request));
    return out;
  };
  auto engine = make();
  const auto got = replay(*engine);
  auto cpu = make_reference();
  const auto want = replay(*cpu);
  ASSERT_EQ(got.size(), want.size());
  EXPECT_GE(got[0].size(), accounts / 3);
  for (std::size_t t = 0; t < got.size(); ++t) {
    SCOPED_TRACE(t);
    ASSERT_EQ(got[t].size(), want[t].size());
    for (std::size_t i = 0; i < got[t].size(); ++i) {
      EXPECT_EQ(got[t][i].account, want[t][i].account) << i;
      EXPECT_EQ(got[t][i].state, want[t][i].state) << i;
      EXPECT_NEAR(got[t][i].equity, want[t][i].equity,
                  1e-9 * std::max(1.0, std::fabs(want[t][i].equity)))
          << i;
    }
  }
}

// Calls out of order are refused, not answered with stale or empty numbers.
TEST_P(backend_parity, results_are_refused_before_they_exist) {
  auto engine = make();
  book_inputs in = load_book_at(book_location{test::sample_book(), {}, {}, {}, {}, {}});
  engine->load_book(in.positions, in.risk);
  EXPECT_THROW(engine->copy_revaluation(), std::logic_error);
  EXPECT_THROW(engine->copy_risk(), std::logic_error);
  EXPECT_THROW(engine->scenario_risk(scenario_source{}, in.risk), std::logic_error);
  engine->revalue(in.market, {});
  EXPECT_THROW(engine->copy_risk(), std::logic_error);
  EXPECT_THROW(engine->tick_states(tick_request{}), std::logic_error);
  EXPECT_NO_THROW(engine->copy_revaluation());
}

TEST_P(backend_parity, empty_book) {
  auto engine = make();
  book_inputs in = load_book_at(book_location{test::sample_book(), {}, {}, {}, {}, {}});
  in.positions = test::without_accounts(in.positions);
  in.risk.scenarios = 100;
  const outcome o = run_on(*engine, in);
  EXPECT_TRUE(o.risk.var.empty());
  EXPECT_TRUE(o.risk.not_ok_accounts.empty());
  EXPECT_EQ(o.risk.bad_debt_mean, 0.0);
  EXPECT_EQ(o.risk.bad_debt_es, 0.0);
}

MSYNC_FOR_EACH_BACKEND(backend_parity);

}  // namespace
}  // namespace msync
