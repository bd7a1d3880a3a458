// The CUDA backend against the CPU backend on the same inputs (DESIGN 6): equity, greeks and
// exposures within 1e-9 relative (1e-9 absolute near zero); VaR, ES, margins and breach
// probability within 1e-4 relative; statuses, flags and the not-ok list equal. Books: the sample,
// generated books of several shapes, a random book whose accounts span every underlying, and a
// chunked run (which must equal the resident run bit for bit). Every test skips itself where no
// CUDA device is usable (or the build has no CUDA).
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <random>
#include <sstream>

#include "io/load_inputs.hpp"
#include "marginsync/backend.hpp"
#include "marginsync/errors.hpp"
#include "test_books.hpp"
#include "test_support.hpp"

#ifdef MSYNC_HAS_CUDA
#include "cuda_entry.hpp"
#endif

namespace msync {
namespace {

using test::temp_dir;
using test::write_file;

using test::expect_identical;
using test::outcome;
using test::run_loaded;
using test::run_on;

std::unique_ptr<backend> cuda_backend_or_null(std::size_t max_chunk_accounts = 0) {
#ifdef MSYNC_HAS_CUDA
  if (!cuda::probe_device().usable) return nullptr;
  cuda::cuda_backend_options options;
  options.max_chunk_accounts = max_chunk_accounts;
  return cuda::make_cuda_backend(options);
#else
  (void)max_chunk_accounts;
  return nullptr;
#endif
}

bool cuda_usable() {
#ifdef MSYNC_HAS_CUDA
  return cuda::probe_device().usable;
#else
  return false;
#endif
}

#define REQUIRE_CUDA() \
  if (!cuda_usable()) GTEST_SKIP() << "no usable CUDA device (or a build without CUDA)"

// |a - b| <= rel * max(|b|, floor): relative, with an absolute floor near zero.
void expect_close(double a, double b, double rel, double floor, const std::string& what) {
  if (std::isinf(b)) {
    EXPECT_EQ(a, b) << what;
    return;
  }
  EXPECT_LE(std::fabs(a - b), rel * std::max(std::fabs(b), floor)) << what << ": cuda " << a << ", cpu " << b;
}

void expect_backends_agree(const book_inputs& in, const outcome& gpu, const outcome& cpu) {
  const book& b = in.positions;
  ASSERT_EQ(gpu.reval.account_equity.size(), b.accounts());
  ASSERT_EQ(gpu.reval.exposure_delta.size(), b.exposures());
  ASSERT_EQ(gpu.risk.scenarios, cpu.risk.scenarios);
  for (std::size_t x = 0; x < b.exposures(); ++x) {
    const std::string id = "exposure " + std::to_string(x);
    expect_close(gpu.reval.exposure_delta[x], cpu.reval.exposure_delta[x], 1e-9, 1.0, id + " delta");
    expect_close(gpu.reval.exposure_gamma[x], cpu.reval.exposure_gamma[x], 1e-9, 1.0, id + " gamma");
    expect_close(gpu.reval.exposure_vega[x], cpu.reval.exposure_vega[x], 1e-9, 1.0, id + " vega");
    expect_close(gpu.reval.exposure_theta[x], cpu.reval.exposure_theta[x], 1e-9, 1.0, id + " theta");
  }
  std::size_t status_checked = 0;
  for (std::size_t a = 0; a < b.accounts(); ++a) {
    const std::string id = b.account_id[a];
    const double e = cpu.reval.account_equity[a];
    expect_close(gpu.reval.account_equity[a], e, 1e-9, 1.0, id + " equity");
    expect_close(gpu.reval.account_gross_notional[a], cpu.reval.account_gross_notional[a], 1e-9, 1.0, id + " gross");
    // Scenario numbers: relative to the account's scale (its gross notional), since a VaR near
    // zero is a difference of large position P&Ls.
    const double scale = std::max(1.0, 1e-6 * cpu.reval.account_gross_notional[a]);
    expect_close(gpu.risk.var[a], cpu.risk.var[a], 1e-4, scale, id + " var");
    expect_close(gpu.risk.es[a], cpu.risk.es[a], 1e-4, scale, id + " es");
    expect_close(gpu.risk.initial_margin[a], cpu.risk.initial_margin[a], 1e-4, scale, id + " im");
    expect_close(gpu.risk.maintenance_margin[a], cpu.risk.maintenance_margin[a], 1e-4, scale, id + " mm");
    EXPECT_NEAR(gpu.risk.breach_probability[a], cpu.risk.breach_probability[a], 1e-4) << id;
    if (std::isfinite(cpu.risk.health[a]))
      expect_close(gpu.risk.health[a], cpu.risk.health[a], 1e-4, 1e-6, id + " health");
    else
      EXPECT_EQ(gpu.risk.health[a], cpu.risk.health[a]) << id;
    // Status and flag are thresholds: equal unless the account sits within the tolerance of one.
    const double im = cpu.risk.initial_margin[a], mm = cpu.risk.maintenance_margin[a];
    const bool near_edge = std::fabs(e - im) <= 1e-4 * std::max(im, scale) ||
                           std::fabs(e - mm) <= 1e-4 * std::max(mm, scale);
    if (!near_edge) {
      EXPECT_EQ(gpu.risk.status[a], cpu.risk.status[a]) << id;
      ++status_checked;
    }
    if (std::fabs(cpu.risk.breach_probability[a] - in.risk.preemptive_threshold) > 1e-4 && !near_edge) {
      EXPECT_EQ(gpu.risk.preemptive[a], cpu.risk.preemptive[a]) << id;
    }
  }
  EXPECT_GE(status_checked * 10, b.accounts() * 9) << "most accounts are far from a threshold";
  if (status_checked == b.accounts()) {
    EXPECT_EQ(gpu.risk.not_ok_accounts, cpu.risk.not_ok_accounts);
  }
  const double book_scale = std::max(1.0, 1e-6 * std::fabs(cpu.risk.bad_debt_es));
  expect_close(gpu.risk.bad_debt_mean, cpu.risk.bad_debt_mean, 1e-4, book_scale, "E[B]");
  expect_close(gpu.risk.bad_debt_var, cpu.risk.bad_debt_var, 1e-4, book_scale, "VaR(B)");
  expect_close(gpu.risk.bad_debt_es, cpu.risk.bad_debt_es, 1e-4, book_scale, "ES(B)");
}

using test::generated_book;

// Runs both backends with both methods (and the given scenario count) and compares.
void compare_both_methods(book_inputs in, std::int64_t scenarios) {
  in.risk.scenarios = scenarios;
  for (risk_method method : {risk_method::full, risk_method::delta_gamma}) {
    SCOPED_TRACE(method_name(method));
    in.risk.method = method;
    auto gpu = cuda_backend_or_null();
    auto cpu = make_cpu_backend(0);
    expect_backends_agree(in, run_on(*gpu, in), run_on(*cpu, in));
  }
}

TEST(cuda_backend, sample_book_matches_the_cpu) {
  REQUIRE_CUDA();
  book_inputs in = load_book_at(book_location{test::sample_book(), {}, {}, {}, {}, {}});
  compare_both_methods(in, 2000);
  // Expected shortfall margin and Student-t shocks.
  in.risk.measure = margin_measure::es;
  in.risk.distribution = shock_distribution::student_t;
  compare_both_methods(in, 1000);
}

TEST(cuda_backend, scenario_file_matches_the_cpu) {
  REQUIRE_CUDA();
  auto engine = cuda_backend_or_null();
  const book_inputs in = load_book_at(book_location{test::sample_book(), {}, {}, {}, {}, {}});
  temp_dir dir;
  std::ostringstream csv;
  csv << "scenario_id,underlying,spot_return,vol_change\n";
  std::mt19937_64 rng(11);
  std::normal_distribution<double> z(0.0, 0.04);
  for (int s = 0; s < 300; ++s)
    for (const char* u : {"BTC", "ETH"}) csv << "s" << s << "," << u << "," << z(rng) << "," << 5 * z(rng) << "\n";
  write_file(dir / "scenarios.csv", csv.str());
  const scenario_file_data file = load_scenario_file(dir / "scenarios.csv", in.market);
  auto cpu = make_cpu_backend(0);
  expect_backends_agree(in, run_on(*engine, in, &file), run_on(*cpu, in, &file));
}

TEST(cuda_backend, one_account_with_many_positions) {
  REQUIRE_CUDA();
  temp_dir dir;
  compare_both_methods(generated_book(dir, 1, 5, 3000, 2), 4096);
}

TEST(cuda_backend, many_accounts_with_one_position) {
  REQUIRE_CUDA();
  temp_dir dir;
  compare_both_methods(generated_book(dir, 20000, 3, 1, 3), 500);
}

TEST(cuda_backend, generated_book_with_more_scenarios_than_shared_memory_holds) {
  REQUIRE_CUDA();
  temp_dir dir;
  // 40,000 losses of 8 bytes are more than one block's shared memory: the kernel's global
  // scratch path.
  compare_both_methods(generated_book(dir, 50, 4, 6, 4), 40000);
}

// A random book whose every account trades every underlying, with random kinds, strikes,
// expiries (some expired), signs and sizes.
book_inputs random_spanning_book(const temp_dir& dir, int underlyings, int accounts, std::uint64_t seed) {
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
  write_file(dir / "risk.json", "{\"confidence\": 0.99, \"scenarios\": 1000, \"seed\": 5, "
                                "\"tiers\": {\"standard\": {\"im_multiplier\": 1.0, \"credit_limit\": 0.0}}}");
  ins << "instrument_id,kind,underlying,strike,expiry,option_type,multiplier\n";
  const char* expiries[] = {"2026-11-24T07:00:00Z", "2026-11-25T08:00:00Z", "2026-12-25T08:00:00Z", "2027-06-25T08:00:00Z"};
  const int per_underlying = 12;
  for (int u = 0; u < underlyings; ++u)
    for (int k = 0; k < per_underlying; ++k) {
      const std::string id = "U" + std::to_string(u) + "-" + std::to_string(k);
      if (k == 0) ins << id << ",spot,U" << u << ",,,,1\n";
      else if (k == 1) ins << id << ",perpetual,U" << u << ",,,,0.5\n";
      else if (k == 2) ins << id << ",future,U" << u << ",," << expiries[2] << ",,1\n";
      else
        ins << id << ",option,U" << u << "," << spot[u] * (0.7 + 0.6 * uni(rng)) << "," << expiries[k % 4]
            << "," << (k % 2 ? "call" : "put") << ",1\n";
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

TEST(cuda_backend, random_accounts_spanning_every_underlying) {
  REQUIRE_CUDA();
  for (std::uint64_t seed : {1u, 2u, 3u}) {
    SCOPED_TRACE(seed);
    temp_dir dir;
    compare_both_methods(random_spanning_book(dir, 6, 300, seed), 1000);
  }
}

TEST(cuda_backend, many_underlyings_use_the_global_normals_scratch) {
  REQUIRE_CUDA();
  temp_dir dir;
  // More underlyings than the Monte Carlo kernel keeps in local memory.
  compare_both_methods(random_spanning_book(dir, 70, 20, 9), 600);
}

TEST(cuda_backend, chunked_run_equals_resident_run) {
  REQUIRE_CUDA();
  temp_dir dir;
  book_inputs in = generated_book(dir, 3000, 5, 4, 6);
  in.risk.scenarios = 800;
  for (risk_method method : {risk_method::full, risk_method::delta_gamma}) {
    SCOPED_TRACE(method_name(method));
    in.risk.method = method;
    auto resident = cuda_backend_or_null();
    auto chunked = cuda_backend_or_null(700);
    const outcome r = run_on(*resident, in);
    const outcome c = run_on(*chunked, in);
    EXPECT_EQ(resident->residency_note(), "");
    EXPECT_NE(chunked->residency_note().find("chunks"), std::string::npos) << chunked->residency_note();
    expect_identical(c, r);
    auto cpu = make_cpu_backend(0);
    expect_backends_agree(in, c, run_on(*cpu, in));
  }
}

TEST(cuda_backend, same_inputs_give_identical_results_and_a_new_scenario_count_is_replanned) {
  REQUIRE_CUDA();
  auto engine = cuda_backend_or_null();
  temp_dir dir;
  book_inputs in = generated_book(dir, 500, 4, 5, 8);
  in.risk.scenarios = 1000;
  const outcome first = run_on(*engine, in);
  const outcome again = run_on(*engine, in);
  expect_identical(first, again);
  // The same backend, another scenario count and method without load_book again.
  in.risk.scenarios = 3001;
  in.risk.method = risk_method::delta_gamma;
  const risk_result more = engine->scenario_risk(in.market, scenario_source{}, in.risk, first.reval);
  auto cpu = make_cpu_backend(0);
  outcome gpu{first.reval, more};
  expect_backends_agree(in, gpu, run_on(*cpu, in));
  // A revaluation that is not the device's own (a copy with the tag cleared) is uploaded.
  revaluation copy = first.reval;
  copy.resident_tag = 0;
  const risk_result uploaded = engine->scenario_risk(in.market, scenario_source{}, in.risk, copy);
  EXPECT_EQ(uploaded.var, more.var);
  EXPECT_EQ(uploaded.bad_debt_es, more.bad_debt_es);
}

// Closing accounts with patch_accounts (resident and chunked) equals loading the edited book, bit
// for bit, agrees with the CPU, and the undo patch gives back the book as loaded.
TEST(cuda_backend, a_patched_book_equals_the_edited_book_loaded_and_the_undo_restores_it) {
  REQUIRE_CUDA();
  temp_dir dir;
  book_inputs in = generated_book(dir, 3000, 5, 4, 11);
  in.risk.scenarios = 800;
  const test::closed_accounts c = test::close_every(in.positions, 5, 500.0);
  book_inputs edited = in;
  edited.positions = c.edited;
  for (std::size_t max_chunk_accounts : {std::size_t{0}, std::size_t{700}}) {
    SCOPED_TRACE(max_chunk_accounts ? "chunked" : "resident");
    auto engine = cuda_backend_or_null(max_chunk_accounts);
    const outcome loaded = run_on(*engine, in);
    engine->patch_accounts(c.close);
    const outcome patched = run_loaded(*engine, in);
    auto fresh = cuda_backend_or_null(max_chunk_accounts);
    expect_identical(patched, run_on(*fresh, edited));
    auto cpu = make_cpu_backend(0);
    expect_backends_agree(edited, patched, run_on(*cpu, edited));
    engine->patch_accounts(c.undo);
    expect_identical(run_loaded(*engine, in), loaded);
  }
}

// The accounts a cascade closes come back alone (stream_accounts): equal to the CUDA backend's
// whole revaluation bit for bit, and to the CPU's within DESIGN 6.
TEST(cuda_backend, stream_accounts_gathers_those_accounts_of_the_revaluation) {
  REQUIRE_CUDA();
  temp_dir dir;
  const book_inputs in = generated_book(dir, 2000, 5, 4, 12);
  const book& b = in.positions;
  auto engine = cuda_backend_or_null();
  engine->load_book(b, in.risk);
  auto cpu = make_cpu_backend(0);
  cpu->load_book(b, in.risk);
  const revaluation whole = engine->revalue(in.market);
  engine->stream_revalue(in.market, {});
  cpu->stream_revalue(in.market, {});
  const std::vector<std::uint32_t> picked{1999, 0, 17, 1000, 3, 512};
  const revalued_accounts r = engine->stream_accounts(picked), c = cpu->stream_accounts(picked);
  ASSERT_EQ(r.first, c.first);
  for (std::size_t i = 0; i < picked.size(); ++i) {
    const std::uint32_t a = picked[i];
    EXPECT_EQ(r.equity[i], whole.account_equity[a]) << a;
    EXPECT_EQ(r.gross_notional[i], whole.account_gross_notional[a]) << a;
    expect_close(r.equity[i], c.equity[i], 1e-9, 1.0, "equity");
    for (std::uint64_t k = r.first[i]; k < r.first[i + 1]; ++k) {
      EXPECT_EQ(r.exposure_delta[k], whole.exposure_delta[b.account_exposure_begin[a] + (k - r.first[i])]) << a;
      expect_close(r.exposure_delta[k], c.exposure_delta[k], 1e-9, 1.0, "delta");
    }
  }
}

TEST(cuda_backend, empty_book) {
  REQUIRE_CUDA();
  auto engine = cuda_backend_or_null();
  temp_dir dir;
  test::copy_sample_book(dir.path());
  write_file(dir / "accounts.csv", "account_id,collateral,tier\n");
  write_file(dir / "positions.csv", "account_id,instrument_id,quantity,entry_price\n");
  book_inputs in = load_book_at(book_location{dir.path(), {}, {}, {}, {}, {}});
  in.risk.scenarios = 100;
  const outcome o = run_on(*engine, in);
  EXPECT_TRUE(o.risk.var.empty());
  EXPECT_TRUE(o.risk.not_ok_accounts.empty());
  EXPECT_EQ(o.risk.bad_debt_mean, 0.0);
  EXPECT_EQ(o.risk.bad_debt_es, 0.0);
}

}  // namespace
}  // namespace msync
