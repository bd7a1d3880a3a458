#include "bench_run.hpp"

#include <omp.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>

#include "cpu/loss_kernels.hpp"
#include "marginsync/stopwatch.hpp"
#include "marginsync/valuation.hpp"

namespace msync {

namespace {

struct stage_work_t {
  double bytes = 0.0;
  double operations = 0.0;
  bool over_link = false;  // moved between host and device: compared with the link bandwidth
  // Bytes gathered again and again from what stays on chip (a GPU's L2), compared with the
  // measured L2 read bandwidth where the machine has one (machine_peaks::on_chip_bandwidth).
  double on_chip_bytes = 0.0;
};

// The compulsory work of each stage, from the book's sizes (A accounts, E exposures, P positions,
// I instruments, U underlyings, N scenarios). Bytes count each array element read or written once;
// operations count the FP64 arithmetic of the formulas (an FMA is 2).
stage_work_t stage_work(const std::string& stage, const std::string& method, const book& b,
                        std::size_t underlyings, std::int64_t n) {
  const double A = static_cast<double>(b.accounts()), E = static_cast<double>(b.exposures());
  const double P = static_cast<double>(b.positions()),
               I = static_cast<double>(b.instruments.size());
  const double U = static_cast<double>(underlyings), N = static_cast<double>(n);
  const bool full = method == "full";
  stage_work_t w;
  if (stage == "upload") {
    // Positions (instrument 4, quantity 8, cost 8), exposures (underlying 4, offset 8), accounts
    // (two offsets, collateral, credit limit, IM multiplier).
    w.bytes = 20 * P + 12 * E + 40 * A;
    w.over_link = true;
  } else if (stage == "upload market") {
    // Each instrument's valuation inputs; spot, vol, impact coefficient and daily volume per
    // underlying; the Cholesky factor.
    w.bytes = static_cast<double>(sizeof(valuation_inputs)) * I + 32 * U + 8 * U * U;
    w.over_link = true;
  } else if (stage == "revalue") {
    // Read positions, exposure and account offsets, collateral and credit; write 4 greeks, decay
    // and vol exposure per exposure, and own funds, equity, gross and floor notional and the
    // liquidity add-on per account. Per position: value (3), gross and floor (4), four greeks,
    // decay and vol exposure (12).
    w.bytes = 20 * P + 12 * E + 48 * E + 32 * A + 40 * A;
    w.operations = 19 * P;
  } else if (stage == "download") {
    // After revalue: exposures' greeks, decay and vol exposure, and the accounts' five numbers;
    // after scenario risk: six numbers, status and flag per account.
    w.bytes = method.empty() ? 48 * E + 40 * A : 50 * A;
    w.over_link = true;
  } else if (stage == "scenario generation") {
    w.bytes = 16 * U * N + (full ? 0.0 : 48 * U * N);  // S', x (and their moves: read, write)
  } else if (stage == "scenario pricing") {
    w.bytes = 8 * I * N + 16 * U * N;  // the P&L table written, the scenario rows read
  } else if (stage == "scenario risk") {
    if (full) {
      // Every position once, every table row once; a multiply-add per (position, scenario). Each
      // position reads its row in every scenario: 8 P N bytes, compulsory once a tile of the table
      // stays on chip (L2 on a GPU: the tiled kernel, 1.3.1), at the L2 read bandwidth; the 8 I N
      // bytes are the table read from memory once. (Before, the floor had only the 8 I N bytes and
      // the operations, 2 P N: about 6 ms for B1M on an H100, not reachable by any kernel that
      // gathers 8 P N bytes, 800 GB there.)
      w.bytes = 20 * P + 8 * I * N + 40 * A;
      w.on_chip_bytes = 8 * P * N;
      w.operations = 2 * P * N;
    } else {
      // Every exposure once, every scenario row once; per (exposure, scenario) the delta-gamma
      // term as delta_gamma_term factors it (three products, three sums) and its subtraction
      // from the loss (7).
      w.bytes = 44 * E + 16 * U * N + 40 * A;
      w.operations = 7 * E * N;
    }
  } else if (stage == "health") {
    w.bytes = 46 * A;  // equity, IM, MM, breach probability read; health, status, flag written
    w.operations = 4 * A;
  }
  return w;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t m = v.size() / 2;
  return v.size() % 2 ? v[m] : 0.5 * (v[m - 1] + v[m]);
}

// Runs `call` once to warm up and then `repeats` times, collecting the stage times it returns.
template <class F>
std::vector<std::pair<std::string, double>> median_stages(int repeats, F&& call) {
  call();
  std::vector<std::string> order;
  std::map<std::string, std::vector<double>> times;
  for (int r = 0; r < repeats; ++r) {
    for (const stage_time& t : call()) {
      if (!times.count(t.name)) order.push_back(t.name);
      times[t.name].push_back(t.seconds);
    }
  }
  std::vector<std::pair<std::string, double>> out;
  for (const std::string& name : order) out.emplace_back(name, median(times[name]));
  return out;
}

}  // namespace

machine_peaks measure_cpu_peaks(int threads) {
  if (threads <= 0) threads = omp_get_max_threads();
  machine_peaks p;
  p.name = "CPU, " + std::to_string(threads) + " thread" + (threads == 1 ? "" : "s");
  const std::size_t count = std::size_t{64} << 20;  // 512 MiB of doubles each way
  std::vector<double> a(count, 1.0), b(count, 0.0);
  double best = 1e30;
  for (int r = 0; r < 3; ++r) {
    const stopwatch watch;
#pragma omp parallel for num_threads(threads) schedule(static)
    for (std::int64_t i = 0; i < static_cast<std::int64_t>(count); ++i) b[i] = a[i];
    best = std::min(best, watch.seconds());
  }
  p.memory_bandwidth = 2.0 * static_cast<double>(count * sizeof(double)) / best;
  if (b[count / 2] != 1.0) p.memory_bandwidth = 0.0;  // keeps the copy from being optimised away

  // FP64 rate: the probe on every thread at once, best of three (multiply and add counted as two
  // operations, as the stage models count them: the build does not fuse them).
  const std::size_t rounds = std::size_t{1} << 24;
  double best_rate = 0.0, checksum = 0.0;
  for (int r = 0; r < 3; ++r) {
    const stopwatch watch;
#pragma omp parallel num_threads(threads) reduction(+ : checksum)
    checksum += cpu::fp64_rate_probe(rounds);
    const double seconds = watch.seconds();
    best_rate = std::max(best_rate, 128.0 * static_cast<double>(rounds) * threads / seconds);
  }
  p.fp64_rate = checksum > 0.0 ? best_rate : 0.0;

  // FP32 rate: the same on float vectors (256 operations per round), for the float loss loop.
  best_rate = checksum = 0.0;
  for (int r = 0; r < 3; ++r) {
    const stopwatch watch;
#pragma omp parallel num_threads(threads) reduction(+ : checksum)
    checksum += cpu::fp32_rate_probe(rounds);
    const double seconds = watch.seconds();
    best_rate = std::max(best_rate, 256.0 * static_cast<double>(rounds) * threads / seconds);
  }
  p.fp32_rate = checksum > 0.0 ? best_rate : 0.0;
  return p;
}

stage_result time_load(const book_location& where, book_inputs& in, int repeats,
                       peak_memory* memory, const book_part_picker& pick) {
  in = load_book_at(where, pick);
  std::vector<double> times;
  if (memory) memory->reset();
  for (int r = 0; r < std::min(repeats, 3); ++r) {
    in = book_inputs{};
    const stopwatch start;
    in = load_book_at(where, pick);
    times.push_back(start.seconds());
  }
  stage_result load;
  load.backend = "cpu";
  load.stage = "load";
  load.peak_rss_bytes = memory ? memory->read() : 0;
  std::sort(times.begin(), times.end());
  load.seconds = times[times.size() / 2];
  load.repeats = static_cast<std::int64_t>(times.size());
  std::error_code ec;
  const auto size = std::filesystem::is_regular_file(where.book, ec)
                        ? std::filesystem::file_size(where.book, ec)
                        : 0;
  load.bytes = static_cast<double>(size);
  load.positions = static_cast<std::int64_t>(in.positions.positions());
  return load;
}

double stage_floor_seconds(const std::string& stage, const std::string& method, const book& b,
                           std::size_t underlyings, std::int64_t scenarios,
                           const machine_peaks& peaks, bool fp32_operations) {
  const stage_work_t w = stage_work(stage, method, b, underlyings, scenarios);
  const double bandwidth =
      w.over_link ? (peaks.link_bandwidth > 0 ? peaks.link_bandwidth : peaks.memory_bandwidth / 2)
                  : peaks.memory_bandwidth;
  const double by_bytes = bandwidth > 0 ? w.bytes / bandwidth : 0.0;
  const double rate = fp32_operations && peaks.fp32_rate > 0 ? peaks.fp32_rate : peaks.fp64_rate;
  const double by_ops = rate > 0 ? w.operations / rate : 0.0;
  const double on_chip =
      peaks.on_chip_bandwidth > 0 ? w.on_chip_bytes / peaks.on_chip_bandwidth : 0.0;
  return std::max({by_bytes, by_ops, on_chip});
}

std::size_t full_prefix_accounts(const book& b, std::int64_t scenarios, double cpu_full_fraction) {
  double fraction = cpu_full_fraction;
  if (fraction <= 0 || fraction > 1) {
    const double work = static_cast<double>(b.positions()) * static_cast<double>(scenarios);
    fraction = std::min(1.0, 2e10 / std::max(work, 1.0));
  }
  if (fraction >= 1.0) return b.accounts();
  return std::max<std::size_t>(
      1, static_cast<std::size_t>(fraction * static_cast<double>(b.accounts())));
}

book book_prefix(const book& b, std::size_t accounts) {
  accounts = std::min(accounts, b.accounts());
  book out;
  out.instruments = b.instruments;
  out.account_id.assign(b.account_id.begin(), b.account_id.begin() + accounts);
  out.collateral.assign(b.collateral.begin(), b.collateral.begin() + accounts);
  out.account_tier.assign(b.account_tier.begin(), b.account_tier.begin() + accounts);
  const std::size_t positions = b.account_position_begin[accounts];
  const std::size_t exposures = b.account_exposure_begin[accounts];
  out.position_instrument.assign(b.position_instrument.begin(),
                                 b.position_instrument.begin() + positions);
  out.position_quantity.assign(b.position_quantity.begin(),
                               b.position_quantity.begin() + positions);
  out.position_cost.assign(b.position_cost.begin(), b.position_cost.begin() + positions);
  out.account_position_begin.assign(b.account_position_begin.begin(),
                                    b.account_position_begin.begin() + accounts + 1);
  out.account_exposure_begin.assign(b.account_exposure_begin.begin(),
                                    b.account_exposure_begin.begin() + accounts + 1);
  out.exposure_underlying.assign(b.exposure_underlying.begin(),
                                 b.exposure_underlying.begin() + exposures);
  out.exposure_position_begin.assign(b.exposure_position_begin.begin(),
                                     b.exposure_position_begin.begin() + exposures + 1);
  out.position_rows = positions;
  return out;
}

std::vector<stage_result> bench_backend(backend& engine, const machine_peaks& peaks,
                                        book_inputs& in, const bench_options& options,
                                        const std::function<void(const std::string&)>& log) {
  std::vector<stage_result> results;
  const std::size_t underlyings = in.market.size();
  // Each measured call: the peak memory of its warm-up and timed runs, with the stages' medians.
  struct measured_call {
    std::vector<std::pair<std::string, double>> stages;
    std::int64_t peak_rss_bytes = 0;
  };
  auto measured = [&](auto&& call) {
    if (options.memory) options.memory->reset();
    measured_call m;
    m.stages = median_stages(options.repeats, call);
    m.peak_rss_bytes = options.memory ? options.memory->read() : 0;
    return m;
  };
  auto record = [&](const measured_call& call, const std::string& method, const book& b,
                    double accounts_fraction) {
    for (const auto& [name, seconds] : call.stages) {
      const stage_work_t w = stage_work(name, method, b, underlyings, options.scenarios);
      stage_result r;
      r.backend = engine.name();
      r.method = method;
      r.stage = name;
      r.seconds = seconds;
      r.repeats = options.repeats;
      r.bytes = w.bytes;
      r.operations = w.operations;
      // The CPU's delta_gamma losses are float (docs/design.md 3.7): its operations are FP32.
      r.floor_seconds = stage_floor_seconds(name, method, b, underlyings, options.scenarios, peaks,
                                            engine.name() == "cpu" && method == "delta_gamma");
      r.fraction = seconds > 0 ? r.floor_seconds / seconds : 0.0;
      // Scenario generation and pricing do not depend on the accounts: they ran whole.
      r.accounts_fraction =
          name == "scenario generation" || name == "scenario pricing" ? 1.0 : accounts_fraction;
      r.positions = static_cast<std::int64_t>(b.positions());
      r.peak_rss_bytes = call.peak_rss_bytes;
      results.push_back(r);
      char line[256];
      std::snprintf(line, sizeof line, "%s %s%s%s: %.3f ms", engine.name().c_str(), name.c_str(),
                    method.empty() ? "" : " ", method.c_str(), seconds * 1e3);
      log(line);
    }
  };

  risk_params risk = in.risk;
  risk.scenarios = options.scenarios;
  book& b = in.positions;  // the backends borrow it
  // Each operation is timed with its results brought to the host where the backend holds them
  // (held_revaluation, held_risk: a GPU's download), as `margin` reads them: no copy of the
  // caller's own, so the peak memory counts the results once.
  auto load = [&](book& which) {
    engine.load_book(which, risk);
    return engine.last_stages();
  };
  auto revalue = [&] {
    engine.revalue(in.market, {});
    std::vector<stage_time> stages = engine.last_stages();
    engine.held_revaluation();
    for (const stage_time& t : engine.last_stages()) stages.push_back(t);
    return stages;
  };
  auto scenario_risk = [&] {
    engine.scenario_risk(scenario_source{}, risk);
    std::vector<stage_time> stages = engine.last_stages();
    const risk_result& share = engine.held_risk();
    for (const stage_time& t : engine.last_stages()) stages.push_back(t);
    if (options.combine) {
      const stopwatch watch;
      options.combine(share, risk);
      stages.push_back({"combine", watch.seconds()});
    }
    return stages;
  };
  record(measured([&] { return load(b); }), "", b, 1.0);
  record(measured(revalue), "", b, 1.0);

  for (risk_method method : options.methods) {
    risk.method = method;
    // The whole book's accounts and the first of them `full` runs on (all: the book itself).
    std::size_t whole = b.accounts(), first = whole;
    if (method == risk_method::full && engine.name() == "cpu") {
      if (options.hold_first) {
        whole = options.whole_accounts;
        first = options.full_prefix;
      } else {
        first = full_prefix_accounts(b, options.scenarios, options.cpu_full_fraction);
      }
    }
    if (first < whole) {
      book own;  // one process: the prefix of its book
      book& part = options.hold_first ? options.hold_first(first) : (own = book_prefix(b, first));
      const double share = static_cast<double>(first) / static_cast<double>(whole);
      char line[160];
      std::snprintf(line, sizeof line, "%s full: on the first %zu accounts (%.1f%% of the book)",
                    engine.name().c_str(), first, 100 * share);
      log(line);
      load(part);
      revalue();
      record(measured(scenario_risk), method_name(method), part, share);
      if (options.hold_first) options.hold_first(0);
      load(b);
      revalue();
    } else {
      record(measured(scenario_risk), method_name(method), b, 1.0);
    }
  }
  return results;
}

}  // namespace msync
