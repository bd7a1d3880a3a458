// marginsync bench: builds (or loads) a book and times every stage on every available backend.
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <nlohmann/json.hpp>

#include "bench_run.hpp"
#include "bench_scaling.hpp"
#include "bench_stream.hpp"
#include "cli_common.hpp"
#include "io/book_snapshot.hpp"
#include "margin/margin_job.hpp"
#include "marginsync/errors.hpp"
#include "marginsync/risk_share.hpp"
#include "marginsync/stopwatch.hpp"
#include "mpi/book_parts.hpp"
#include "mpi/margin_ranks.hpp"
#include "synth/generate_book.hpp"
#include "synth/generate_ticks.hpp"

namespace msync::cli {

namespace {

void print_table(const std::vector<stage_result>& results) {
  // floor: compulsory bytes at the measured bandwidth, or FP64 operations at the peak rate (the
  // larger); the CPU's FP64 peak is not known, so its floors are by bytes alone.
  // peak MB: the process's resident memory at its highest during the call that ran the stage.
  std::printf("\n%-5s %-12s %-20s %11s %10s %9s %9s %10s %9s %9s\n", "", "method", "stage",
              "median ms", "MB moved", "GFLOP", "GFLOP/s", "floor ms", "of floor", "peak MB");
  for (const stage_result& r : results) {
    std::printf("%-5s %-12s %-20s %11.3f %10.1f %9.2f %9.1f %10.3f %8.1f%% %9.1f",
                r.backend.c_str(), r.method.empty() ? "-" : r.method.c_str(), r.stage.c_str(),
                r.seconds * 1e3, r.bytes / 1e6, r.operations / 1e9,
                r.seconds > 0 ? r.operations / r.seconds / 1e9 : 0.0, r.floor_seconds * 1e3,
                100 * r.fraction, static_cast<double>(r.peak_rss_bytes) / 1e6);
    if (r.accounts_fraction < 1.0)
      std::printf("  (%.1f%% of accounts; whole book about %.1f s)", 100 * r.accounts_fraction,
                  r.seconds / r.accounts_fraction);
    std::printf("\n");
  }
}

// The peak memory of a whole run of each method, per position of the book.
void print_memory_per_position(const std::vector<stage_result>& results, std::size_t positions,
                               const peak_memory& memory) {
  std::printf("peak memory per position (%s):", memory.method().c_str());
  for (const method_peak& m : method_peaks(results, static_cast<std::int64_t>(positions)))
    std::printf("  %s %s %.1f B (%.1f MB)", m.backend.c_str(), m.method.c_str(),
                m.bytes_per_position, static_cast<double>(m.peak_rss_bytes) / 1e6);
  std::printf("\n");
}

nlohmann::json peak_memory_json(const std::vector<stage_result>& results, std::size_t positions,
                                const peak_memory& memory) {
  nlohmann::json j = {{"how", memory.method()},
                      {"per_stage", memory.per_stage()},
                      {"methods", nlohmann::json::array()}};
  for (const method_peak& m : method_peaks(results, static_cast<std::int64_t>(positions)))
    j["methods"].push_back({{"backend", m.backend},
                            {"method", m.method},
                            {"peak_rss_bytes", m.peak_rss_bytes},
                            {"bytes_per_position", m.bytes_per_position}});
  return j;
}

nlohmann::json peaks_json(const machine_peaks& p) {
  return nlohmann::json{{"name", p.name},
                        {"memory_bandwidth_bytes_per_s", p.memory_bandwidth},
                        {"fp64_ops_per_s", p.fp64_rate},
                        {"fp32_ops_per_s", p.fp32_rate},
                        {"host_to_device_bytes_per_s", p.link_bandwidth},
                        {"l2_read_bytes_per_s", p.on_chip_bandwidth}};
}

struct bench_cli_options {
  std::string book;
  CLI::Option* book_opt = nullptr;
  std::int64_t accounts = 100000;
  int positions_per_account = 10, underlyings = 20;
  std::uint64_t seed = 1;
  CLI::Option* seed_opt = nullptr;
  std::string work_dir;
  CLI::Option* work_dir_opt = nullptr;
  std::int64_t scenarios = 10000;
  int repeats = 5;
  double cpu_full_fraction = -1;
  std::string json;
  CLI::Option* json_opt = nullptr;
  bool stream = false;
  double stream_seconds = 10, tick_rate = 10;
  std::string method;
  CLI::Option* method_opt = nullptr;
  CLI::Option* repeats_opt = nullptr;
  bool scaling = false;
  std::vector<std::int64_t> scaling_accounts{10000, 30000, 100000, 300000, 1000000};
  std::vector<std::int64_t> scaling_scenarios{1000, 3000, 10000, 30000, 100000};
  run_options run;
};

// Timed runs per stage of --scaling unless --repeats says otherwise: 30 points of 10 stages each.
constexpr int scaling_default_repeats = 2;

// The bench --json document: the provenance block first, then the results.
std::string bench_document(const bench_cli_options& o, const run_context& context,
                           const book_inputs& in, const nlohmann::json& body,
                           const std::string& method, int ranks = 1) {
  run_provenance p = context.provenance(o.book_opt->count() ? o.book : std::string("generated"));
  p.ranks = ranks;
  describe_risk(p, in.risk);
  p.method = method;  // empty: both methods timed
  p.scenarios = o.scenarios;
  return summary_document(p, body);
}

// bench --stream: a tick stream generated for the book's market, replayed on each backend.
int run_stream_bench(const bench_cli_options& args, const run_context& context, book_inputs in,
                     const std::string& which, const bench_options& bo,
                     const std::filesystem::path& book_path, private_directory& work_dir,
                     const std::function<void(const std::string&)>& log) {
  tick_generate_options t;
  t.seconds = args.stream_seconds;
  t.rate_hz = args.tick_rate;
  if (const std::string why = tick_generate_problem(t); !why.empty())
    throw usage_error("--stream-seconds / --tick-rate: " + why);
  risk_overrides o;
  if (args.method_opt->count())
    o.method = args.method == "full" ? risk_method::full : risk_method::delta_gamma;
  if (args.seed_opt->count())
    o.seed = args.seed;  // the generated book's seed seeds its scenarios too
  o.scenarios = bo.scenarios;
  apply_risk_overrides(o, in.market.size(), in.risk);

  const std::filesystem::path ticks = work_dir.file("ticks.csv");
  generate_ticks(in.market, t, ticks);
  std::vector<std::vector<stream_event>> updates;
  try {
    // The stream is generated from as_of at --tick-rate: the bound on its times is the default,
    // or two tick intervals when that is longer.
    tick_time_bound bound;
    bound.max_jump_ns = std::max(
        bound.max_jump_ns, static_cast<std::int64_t>(std::ceil(2e9 / std::max(t.rate_hz, 1e-9))));
    updates = read_updates(ticks, in.market.symbols, in.market.as_of_ns, bound);
  } catch (...) {
    std::filesystem::remove(ticks);
    throw;
  }
  std::filesystem::remove(ticks);
  log("stream: " + std::to_string(updates.size()) + " updates of " +
      std::to_string(in.market.size()) + " ticks, risk path " + method_name(in.risk.method) +
      " with " + std::to_string(in.risk.scenarios) + " scenarios, heartbeat " +
      std::to_string(in.risk.heartbeat_ms) + " ms");

  // The tick path against the revalue stage's floor on the same device, measured in this run.
  auto revalue_floor = [&](const machine_peaks& peaks) {
    return stage_floor_seconds("revalue", "", in.positions, in.market.size(), in.risk.scenarios,
                               peaks);
  };
  std::vector<stream_bench_result> results;
  if (which != "cuda") {
    auto engine = make_cpu_backend(bo.threads);
    const double floor = revalue_floor(measure_cpu_peaks(bo.threads));
    results.push_back(bench_stream(*engine, in, updates, log));
    results.back().revalue_floor_seconds = floor;
  }
  if (which != "cpu") {
    backend_selection cuda = select_backend(
        which == "cuda" ? backend_choice::cuda : backend_choice::automatic, bo.threads);
    if (cuda.instance->name() == "cuda") {
      const std::optional<accelerator_peaks> p = measure_accelerator_peaks();
      results.push_back(bench_stream(*cuda.instance, in, updates, log));
      if (p)
        results.back().revalue_floor_seconds =
            revalue_floor(machine_peaks{p->name, p->memory_bandwidth, p->fp64_rate, 0.0});
    } else
      log("cuda: not timed: " + cuda.note);
  }

  std::printf("\n%-5s %8s %11s %9s %9s %9s %11s %6s %9s %9s %9s\n", "", "updates", "updates/s",
              "tick p50", "tick p99", "tick max", "p50/floor", "risk", "risk p50", "risk p99",
              "risk max");
  nlohmann::json rows = nlohmann::json::array();
  for (const stream_bench_result& r : results) {
    const double updates_per_second = static_cast<double>(r.updates) / r.wall_seconds;
    const latency_summary tick = summarize_latency(r.tick_seconds),
                          risk = summarize_latency(r.risk_seconds);
    // The tick path's p50 over the revalue floor (1 = the floor itself; 0 where unknown).
    const double floor_ms = r.revalue_floor_seconds * 1e3;
    const double over_floor = floor_ms > 0 ? tick.p50_ms / floor_ms : 0.0;
    std::printf("%-5s %8lld %11.1f %9.3f %9.3f %9.3f %10.2fx %6zu %9.1f %9.1f %9.1f   (ms)\n",
                r.backend.c_str(), static_cast<long long>(r.updates), updates_per_second,
                tick.p50_ms, tick.p99_ms, tick.max_ms, over_floor, risk.count, risk.p50_ms,
                risk.p99_ms, risk.max_ms);
    rows.push_back(
        {{"backend", r.backend},
         {"device", r.device},
         {"updates", r.updates},
         {"warmup_updates", r.warmup_updates},
         {"ticks", r.ticks},
         {"wall_seconds", r.wall_seconds},
         {"updates_per_second", updates_per_second},
         {"ticks_per_second", static_cast<double>(r.ticks) / r.wall_seconds},
         {"risk_runs", r.risk_runs},
         {"tick_path_ms", {{"p50", tick.p50_ms}, {"p99", tick.p99_ms}, {"max", tick.max_ms}}},
         {"revalue_floor_ms", floor_ms},
         {"tick_p50_over_revalue_floor", over_floor},
         {"risk_path_ms", {{"p50", risk.p50_ms}, {"p99", risk.p99_ms}, {"max", risk.max_ms}}}});
  }
  if (args.json_opt->count()) {
    const book& b = in.positions;
    nlohmann::json j;
    j["sizes"] = {{"accounts", b.accounts()},
                  {"positions", b.positions()},
                  {"exposures", b.exposures()},
                  {"underlyings", in.market.size()},
                  {"scenarios", in.risk.scenarios}};
    j["book"] = args.book_opt->count() ? book_path.string() : std::string("generated");
    j["stream"] = {{"seconds", t.seconds},
                   {"rate_hz", t.rate_hz},
                   {"updates", updates.size()},
                   {"method", method_name(in.risk.method)},
                   {"heartbeat_ms", in.risk.heartbeat_ms},
                   {"deviation_threshold", in.risk.deviation_threshold}};
    j["backends"] = rows;
    const std::string& path = args.json;
    write_atomically(path, bench_document(args, context, in, j, method_name(in.risk.method)));
    if (!args.run.quiet) std::printf("results in %s\n", path.c_str());
  }
  return exit_ok;
}

// The machines bench times on: the CPU's peaks, and the GPU's where `which` asks for it and it is
// usable (why not, otherwise), with their JSON.
struct backend_peaks {
  machine_peaks cpu;
  std::optional<machine_peaks> cuda;
  std::string cuda_description, cuda_reason;
  nlohmann::json devices = nlohmann::json::object();
};

backend_peaks measure_backend_peaks(const std::string& which, int threads) {
  backend_peaks peaks;
  peaks.cpu = measure_cpu_peaks(threads);
  peaks.devices["cpu"] = peaks_json(peaks.cpu);
  if (which == "cpu") return peaks;
  const std::vector<std::string> built = built_backends();
  const backend_probe device =
      std::find(built.begin(), built.end(), "cuda") != built.end()
          ? probe_backend("cuda")
          : backend_probe{false, {}, "this marginsync was built without CUDA"};
  const std::optional<accelerator_peaks> p =
      device.usable ? measure_accelerator_peaks() : std::nullopt;
  if (p) {
    machine_peaks cuda;
    cuda.name = p->name;
    cuda.memory_bandwidth = p->memory_bandwidth;
    cuda.fp64_rate = p->fp64_rate;
    cuda.link_bandwidth = p->host_to_device;  // (was taken as fp32_rate by position)
    cuda.on_chip_bandwidth = p->l2_read_bandwidth;
    peaks.cuda = cuda;
    peaks.devices["cuda"] = peaks_json(*peaks.cuda);
    peaks.devices["cuda"]["nominal_memory_bandwidth_bytes_per_s"] = p->nominal_bandwidth;
    peaks.cuda_description = device.description;
  } else if (which == "cuda") {
    throw backend_unavailable("--backend cuda: " + device.reason);
  } else {
    peaks.cuda_reason = device.reason;
  }
  return peaks;
}

// Every stage of each backend `which` names on the loaded book, appended to `results`.
void time_backends(const std::string& which, book_inputs& in, const bench_options& bo,
                   const backend_peaks& peaks, std::vector<stage_result>& results,
                   const std::function<void(const std::string&)>& log) {
  if (which != "cuda") {
    auto engine = make_cpu_backend(bo.threads);
    log("cpu: " + engine->device());
    const auto r = bench_backend(*engine, peaks.cpu, in, bo, log);
    results.insert(results.end(), r.begin(), r.end());
  }
  if (which == "cpu") return;
  if (peaks.cuda) {
    auto engine = make_backend("cuda");
    log("cuda: " + peaks.cuda_description);
    const auto r = bench_backend(*engine, *peaks.cuda, in, bo, log);
    results.insert(results.end(), r.begin(), r.end());
  } else {
    log("cuda: not timed: " + peaks.cuda_reason);
  }
}

// The load stage's floor: the snapshot read and written once at the copy bandwidth.
void set_load_floor(stage_result& load, const machine_peaks& cpu) {
  load.floor_seconds = cpu.memory_bandwidth > 0 ? 2 * load.bytes / cpu.memory_bandwidth : 0.0;
  load.fraction = load.seconds > 0 ? load.floor_seconds / load.seconds : 0.0;
}

// bench --scaling: every stage on a generated book of each --scaling-accounts count (at
// --scenarios), then on a book of --accounts at each --scaling-scenarios count.
int run_scaling_bench(const bench_cli_options& args, const run_context& context,
                      const std::string& which, bench_options bo, private_directory& work_dir,
                      const std::function<void(const std::string&)>& log) {
  if (!args.repeats_opt->count()) bo.repeats = scaling_default_repeats;
  for (const std::int64_t n : args.scaling_scenarios)
    if (n < 1 || n > max_scenarios)
      throw usage_error("--scaling-scenarios: each must be in [1, " +
                        std::to_string(static_cast<long long>(max_scenarios)) + "]");
  const backend_peaks peaks = measure_backend_peaks(which, bo.threads);
  generate_options g;
  g.positions_per_account = args.positions_per_account;
  g.underlyings = args.underlyings;
  g.seed = args.seed;
  g.accounts = 0;
  const std::filesystem::path path = work_dir.file("book.msbook");
  book_inputs in;
  const std::size_t total = args.scaling_accounts.size() + args.scaling_scenarios.size();
  std::size_t done = 0;
  // One point: the book of `accounts` (generated unless it is the one already on disk) loaded and
  // every stage of every backend timed at `scenarios`.
  auto point = [&](std::int64_t accounts, std::int64_t scenarios) {
    char line[160];
    std::snprintf(line, sizeof line, "scaling: point %zu of %zu: %lld accounts, %lld scenarios",
                  ++done, total, static_cast<long long>(accounts),
                  static_cast<long long>(scenarios));
    log(line);
    if (g.accounts != accounts) {
      g.accounts = accounts;
      generate_book_snapshot(g, path);
    }
    in = book_inputs{};  // the previous point's book released before this one is loaded
    scaling_point p;
    p.stages.push_back(time_load({path, {}, {}, {}, {}, {}}, in, bo.repeats, bo.memory));
    set_load_floor(p.stages.back(), peaks.cpu);
    const book& b = in.positions;
    p.sizes = {static_cast<std::int64_t>(b.accounts()),
               static_cast<std::int64_t>(b.positions()),
               static_cast<std::int64_t>(b.exposures()),
               static_cast<std::int64_t>(b.instruments.size()),
               static_cast<std::int64_t>(in.market.size()),
               scenarios};
    bench_options at = bo;
    at.scenarios = scenarios;
    time_backends(which, in, at, peaks, p.stages, log);
    return p;
  };
  std::vector<scaling_series> series{{"accounts", {}}, {"scenarios", {}}};
  for (const std::int64_t accounts : args.scaling_accounts)
    series[0].points.push_back(point(accounts, args.scenarios));
  for (const std::int64_t scenarios : args.scaling_scenarios)
    series[1].points.push_back(point(args.accounts, scenarios));
  std::filesystem::remove(path);

  print_scaling(series);
  std::printf("peak memory: %s\n", bo.memory->method().c_str());
  if (args.json_opt->count()) {
    nlohmann::json j;
    j["scaling"] = {{"positions_per_account", args.positions_per_account},
                    {"underlyings", args.underlyings},
                    {"seed", args.seed},
                    {"repeats", bo.repeats},
                    {"accounts_series_scenarios", args.scenarios},
                    {"scenarios_series_accounts", args.accounts},
                    {"superlinear_growth", superlinear_growth}};
    j["devices"] = peaks.devices;
    j["peak_memory"] = {{"how", bo.memory->method()}, {"per_stage", bo.memory->per_stage()}};
    j["series"] = scaling_json(series);
    write_atomically(args.json, bench_document(args, context, in, j, ""));
    if (!args.run.quiet) std::printf("results in %s\n", args.json.c_str());
  }
  return exit_ok;
}

// The `book: ...` line bench logs once its book is loaded.
std::string book_line(const book_inputs& in, std::int64_t scenarios) {
  const book& b = in.positions;
  char line[256];
  std::snprintf(line, sizeof line,
                "book: %zu accounts, %zu positions, %zu exposures, %zu instruments, %zu "
                "underlyings; %lld scenarios",
                b.accounts(), b.positions(), b.exposures(), b.instruments.size(), in.market.size(),
                static_cast<long long>(scenarios));
  return line;
}

// Why bench cannot give every one of `ranks` ranks a part of a book of `accounts` accounts at
// `scenarios` scenarios (fewer bad-debt chunks than ranks; empty: it can). A rank with no part
// would time nothing while the others wait for it, so bench refuses rather than time it.
std::string empty_part_problem(std::size_t accounts, std::int64_t scenarios, int ranks,
                               const std::string& what, const std::string& why = "") {
  const std::size_t chunks = bad_debt_chunks(accounts, static_cast<std::size_t>(scenarios));
  if (chunks >= static_cast<std::size_t>(ranks)) return {};
  return "bench across " + std::to_string(ranks) + " ranks needs a bad-debt chunk (256 accounts " +
         "or more) for every rank: " + what + " " + std::to_string(accounts) + " accounts" + why +
         " make " + std::to_string(chunks) + " at " + std::to_string(scenarios) +
         " scenarios; run it on at most " + std::to_string(chunks) + " rank" +
         (chunks == 1 ? "" : "s");
}

// mpirun -np K marginsync bench --book ... (docs/design.md 16.6): the ranks hold what they hold in
// `margin` (rank 0 the whole book, every other rank only its part of the bad-debt chunks:
// mpi/book_parts.hpp) and time the stages on the CPU backend with their share of the machine's
// cores; after each scenario risk the parts are put together as `margin` puts them together (the
// stage `combine`). Rank 0 writes each stage's time as the slowest rank's median, the rank count
// and the bytes each rank sent.
int run_bench_on_ranks(const bench_cli_options& args, const run_context& context, bench_options bo,
                       rank_group& ranks) {
  const int rank = ranks.rank(), k = ranks.size();
  const bool lead = rank == 0;
  const auto log = rank_note(ranks, args.run, nullptr);
  const auto stage = [&](const std::function<void()>& work) {
    on_every_rank(ranks, "marginsync bench", work);
  };
  bo.threads = bo.threads > 0 ? bo.threads : cpu_threads_per_rank(ranks.local_size());
  const auto scenarios = static_cast<std::size_t>(bo.scenarios);
  const book_location where{std::filesystem::path(args.book), {}, {}, {}, {}, {}};
  const book_parts_from source = agree_book_parts_source(ranks, where);
  // This rank's part of the whole book, and of the first accounts `full` runs on (rank 0: the
  // whole book and its first accounts; no index).
  book_part part, first_part;
  book_inputs in, first_in;
  book_texts texts;  // rank 0, a book directory: what its parts carry besides the accounts
  const bool timing_full =
      std::find(bo.methods.begin(), bo.methods.end(), risk_method::full) != bo.methods.end();
  stage_result load;
  // Loading: rank 0 the whole book, a rank but 0 of a snapshot its part (at N = --scenarios),
  // `load` each the median of the repeats; rank 0 also chooses full's first accounts.
  stage([&] {
    if (lead) {
      load = time_load(where, in, bo.repeats, bo.memory);
      part.book_accounts = in.positions.accounts();
      first_part.book_accounts =
          timing_full ? full_prefix_accounts(in.positions, bo.scenarios, bo.cpu_full_fraction)
                      : part.book_accounts;
      std::string why = empty_part_problem(part.book_accounts, bo.scenarios, k, "the book's");
      if (why.empty() && first_part.book_accounts < part.book_accounts)
        why = empty_part_problem(first_part.book_accounts, bo.scenarios, k, "`full`'s first",
                                 " (--cpu-full-fraction)");
      if (!why.empty()) throw usage_error(why);
      if (source == book_parts_from::first_rank) texts = read_book_texts(where.directory_paths());
    } else if (source == book_parts_from::snapshot) {
      load = time_load(where, in, bo.repeats, bo.memory, [&](const book_inputs& whole) {
        part.book_accounts = whole.positions.accounts();
        part.whole_index = accounts_of_rank(whole.positions, scenarios, rank, k);
        return part.whole_index;
      });
    }
  });
  // Rank 0 tells every rank how many first accounts `full` runs on, then, for a book directory,
  // sends each its part of the book and of those (16.2's parts); a rank but 0 times the receipt of
  // its book's part as its `load`, with the reading of it below.
  std::string part_bytes, first_bytes;
  double received_seconds = 0;
  run_or_abort_job(ranks, "marginsync bench", "while the book was sent", [&] {
    if (lead) {
      for (int to = 1; to < k; ++to)
        ranks.send_vector(to, std::vector<std::uint64_t>{first_part.book_accounts});
      if (source == book_parts_from::first_rank) {
        send_book_parts(ranks, in, texts, scenarios);
        if (first_part.book_accounts < part.book_accounts)
          send_book_parts(
              ranks,
              book_inputs{in.market, in.risk, book_prefix(in.positions, first_part.book_accounts)},
              texts, scenarios);
      }
    } else {
      const std::vector<std::uint64_t> first = ranks.receive_vector<std::uint64_t>(0);
      if (first.size() != 1) throw std::logic_error("a bad count of first accounts from rank 0");
      first_part.book_accounts = static_cast<std::size_t>(first[0]);
      if (source == book_parts_from::first_rank) {
        std::size_t n = 0;
        const stopwatch watch;
        part_bytes = receive_book_part(ranks, part, n);
        received_seconds = watch.seconds();
        if (first_part.book_accounts < part.book_accounts)
          first_bytes = receive_book_part(ranks, first_part, n);
      }
    }
  });
  const bool full_on_first = first_part.book_accounts < part.book_accounts;
  std::unique_ptr<backend> engine;
  stage([&] {
    if (!lead && source == book_parts_from::first_rank) {
      const std::string name = args.book + " (rank " + std::to_string(rank) + "'s part)";
      if (bo.memory) bo.memory->reset();
      const stopwatch watch;
      in = read_book_snapshot_bytes(part_bytes, name);
      load.backend = "cpu";
      load.stage = "load";
      load.seconds = received_seconds + watch.seconds();
      load.repeats = 1;
      load.positions = static_cast<std::int64_t>(in.positions.positions());
      load.peak_rss_bytes = bo.memory ? bo.memory->read() : 0;
      part_bytes.clear();
      if (full_on_first) first_in = read_book_snapshot_bytes(first_bytes, name);
      first_bytes.clear();
    } else if (!lead && full_on_first) {
      first_in = load_book_at(where, [&](const book_inputs& whole) {
        first_part.whole_index = accounts_of_rank_in_first(
            whole.positions, first_part.book_accounts, scenarios, rank, k);
        return first_part.whole_index;
      });
    }
    engine = make_cpu_backend(bo.threads);
    if (!engine->set_risk_share(part.share(rank, k, scenarios)))
      throw backend_unavailable("backend " + engine->name() + " cannot split its scenario risk");
  });
  const book& b = in.positions;
  if (lead)
    log(book_line(in, bo.scenarios) + "; " + std::to_string(k) + " ranks of " +
        std::to_string(bo.threads) + " CPU threads");
  else
    log("holds " + std::to_string(b.accounts()) + " of the book's " +
        std::to_string(part.book_accounts) + " accounts (" + std::to_string(b.positions()) +
        " positions)");

  // The machine's peaks as the ranks measure them all at once, each on its threads: their sum is
  // what the job has, so the floors are the whole book's work on the whole job. The load is every
  // rank's own whole-book load: its floor is at one rank's bandwidth (rank 0's).
  // From here the ranks wait for each other: a failure ends the whole job (16.3).
  const auto or_end_job = [&](const std::function<void()>& work) {
    run_or_abort_job(ranks, "marginsync bench", "while timing", work);
  };
  machine_peaks own;
  std::vector<double> sum;
  or_end_job([&] {
    own = measure_cpu_peaks(bo.threads);
    sum = ranks.sum_on_every_rank({own.memory_bandwidth, own.fp64_rate, own.fp32_rate});
  });
  set_load_floor(load, own);
  machine_peaks peaks;
  peaks.name = "CPU, " + std::to_string(k) + " ranks of " + std::to_string(bo.threads) + " thread" +
               (bo.threads == 1 ? "" : "s");
  peaks.memory_bandwidth = sum[0];
  peaks.fp64_rate = sum[1];
  peaks.fp32_rate = sum[2];

  // The whole book's index of each account of the book the backend holds (rank 0: none).
  const std::vector<std::uint32_t>* whole_index = &part.whole_index;
  bo.combine = [&](const risk_result& share, const risk_params& risk) {
    combine_risk_on_ranks(ranks, share, risk, *whole_index);
  };
  bo.whole_accounts = part.book_accounts;
  bo.full_prefix = first_part.book_accounts;
  book first_book;  // rank 0: the whole book's first accounts, made when `full` runs on them
  bo.hold_first = [&](std::size_t first) -> book& {
    if (first == 0) {
      whole_index = &part.whole_index;
      engine->set_risk_share(part.share(rank, k, scenarios));
      return in.positions;
    }
    whole_index = &first_part.whole_index;
    engine->set_risk_share(first_part.share(rank, k, scenarios));
    if (!lead) return first_in.positions;
    if (first_book.accounts() != first) first_book = book_prefix(in.positions, first);
    return first_book;
  };
  std::vector<stage_result> results{load};
  // The bytes sent from here on are the timed runs' alone (not the few of the peaks and figures).
  const std::uint64_t sent_before = ranks.bytes_sent();
  or_end_job([&] {
    log("cpu: " + engine->device());
    if (built_backends().size() > 1 && args.run.backend != "cpu")
      log("cuda: not timed: across ranks, only the CPU backend splits its scenario risk");
    const auto r = bench_backend(*engine, peaks, in, bo, log);
    results.insert(results.end(), r.begin(), r.end());
  });

  // Each stage as the slowest rank's median, and its peak memory as the largest rank's.
  // Before the figures below are sent.
  const std::uint64_t sent = ranks.bytes_sent() - sent_before;
  std::vector<double> seconds, peak;
  for (const stage_result& r : results) {
    seconds.push_back(r.seconds);
    peak.push_back(static_cast<double>(r.peak_rss_bytes));
  }
  seconds = ranks.max_on_first(seconds);
  peak = ranks.max_on_first(peak);
  const std::vector<std::vector<std::uint64_t>> sent_by_rank =
      ranks.gather_on_first(std::vector<std::uint64_t>{sent});
  if (!lead) return exit_ok;
  for (std::size_t i = 0; i < results.size(); ++i) {
    stage_result& r = results[i];
    r.seconds = seconds[i];
    r.fraction = r.seconds > 0 ? r.floor_seconds / r.seconds : 0.0;
    r.peak_rss_bytes = static_cast<std::int64_t>(peak[i]);
  }

  print_table(results);
  print_memory_per_position(results, b.positions(), *bo.memory);
  std::printf("ranks: %d, %d CPU thread%s each; times: the slowest rank's median; bytes sent:", k,
              bo.threads, bo.threads == 1 ? "" : "s");
  nlohmann::json bytes = nlohmann::json::array();
  for (std::size_t r = 0; r < sent_by_rank.size(); ++r) {
    std::printf(" rank %zu %llu", r, static_cast<unsigned long long>(sent_by_rank[r][0]));
    bytes.push_back(sent_by_rank[r][0]);
  }
  std::printf("\n");
  if (args.json_opt->count()) {
    nlohmann::json j;
    j["sizes"] = {{"accounts", b.accounts()},        {"positions", b.positions()},
                  {"exposures", b.exposures()},      {"instruments", b.instruments.size()},
                  {"underlyings", in.market.size()}, {"scenarios", bo.scenarios}};
    j["book"] = args.book;
    j["repeats"] = bo.repeats;
    j["ranks"] = {{"count", k},
                  {"threads_per_rank", bo.threads},
                  {"stage_seconds", "the slowest rank's median"},
                  {"bytes_sent", bytes}};
    j["devices"] = {{"cpu", peaks_json(peaks)}};
    j["stages"] = nlohmann::json::array();
    for (const stage_result& r : results) j["stages"].push_back(stage_json(r));
    j["peak_memory"] = peak_memory_json(results, b.positions(), *bo.memory);
    write_atomically(args.json, bench_document(args, context, in, j, "", k));
    if (!args.run.quiet) std::printf("results in %s\n", args.json.c_str());
  }
  return exit_ok;
}

// Under mpirun with K > 1, what bench cannot split is refused alike on every rank: rank 0 says why
// (the exception), the others exit with the same status silently.
void refuse_on_ranks(const bench_cli_options& args, rank_group& ranks) {
  std::string why;
  int status = exit_bad_input;
  if (args.stream)
    why = "--stream runs in one process: under mpirun only the stage timings run across ranks";
  else if (args.scaling)
    why = "--scaling runs in one process: under mpirun only the stage timings run across ranks";
  else if (!args.book_opt->count())
    why = "under mpirun, bench times a given book: --book is required";
  else if (args.run.backend == "cuda") {
    status = exit_no_backend;
    why = "the CUDA backend cannot yet split its scenario risk between ranks: --backend cpu";
  }
  if (why.empty()) return;
  if (ranks.rank() != 0) throw rank_stopped(status);
  if (status == exit_bad_input) throw usage_error(why);
  throw backend_unavailable(why);
}

int run_bench_command(const bench_cli_options& args, const run_context& context) {
  if (context.ranks && context.ranks->size() > 1) refuse_on_ranks(args, *context.ranks);
  if (args.json_opt->count()) reject_directory_for_file("--json", args.json);
  if (args.json_opt->count() && args.book_opt->count())
    refuse_output_over_inputs("--json", args.json, {{"--book", args.book}});
  bench_options bo;
  bo.scenarios = args.scenarios;
  bo.repeats = args.repeats;
  bo.threads = args.run.threads;
  bo.cpu_full_fraction = args.cpu_full_fraction;
  peak_memory memory;
  bo.memory = &memory;
  if (args.method_opt->count())
    bo.methods = {args.method == "full" ? risk_method::full : risk_method::delta_gamma};
  if (bo.scenarios < 1 || bo.scenarios > max_scenarios)
    throw usage_error("--scenarios must be in [1, " +
                      std::to_string(static_cast<long long>(max_scenarios)) + "]");
  if (context.ranks && context.ranks->size() > 1)
    return run_bench_on_ranks(args, context, bo, *context.ranks);
  auto log = [quiet = args.run.quiet](const std::string& line) {
    if (!quiet) std::fprintf(stderr, "%s\n", line.c_str());
  };
  std::string which = args.run.backend;
  if (which == "auto") {
    // The one backend `margin --backend auto` would use, timed alone.
    backend_selection chosen = select_backend(backend_choice::automatic, bo.threads);
    which = chosen.instance->name() == "cuda" ? "cuda" : "cpu";
    log("auto: " + chosen.note);
  }

  // The book: generated into a snapshot (then loaded, which is the `load` stage), or given.
  // Staged in a directory of its own (mkdtemp), removed at the end or on SIGINT/SIGTERM.
  private_directory work_dir(args.work_dir_opt->count() ? std::filesystem::path(args.work_dir)
                                                        : std::filesystem::temp_directory_path(),
                             "bench");
  if (args.scaling) return run_scaling_bench(args, context, which, bo, work_dir, log);
  std::filesystem::path book_path;
  std::filesystem::path generated;
  if (args.book_opt->count()) {
    book_path = args.book;
  } else {
    generate_options g;
    g.accounts = args.accounts;
    g.positions_per_account = args.positions_per_account;
    g.underlyings = args.underlyings;
    g.seed = args.seed;
    generated = work_dir.file("book.msbook");
    const stopwatch start;
    generate_book_snapshot(g, generated);
    book_path = generated;
    char line[160];
    std::snprintf(line, sizeof line,
                  "generated %lld accounts x %d positions, %d underlyings in %.1f s",
                  static_cast<long long>(g.accounts), g.positions_per_account, g.underlyings,
                  start.seconds());
    log(line);
  }
  // load: the median of the repeats (after a warm-up that fills the page cache).
  const book_location where{book_path, {}, {}, {}, {}, {}};
  book_inputs in;
  stage_result load = time_load(where, in, bo.repeats, bo.memory);
  const book& b = in.positions;
  log(book_line(in, bo.scenarios));

  if (args.stream) return run_stream_bench(args, context, in, which, bo, book_path, work_dir, log);

  const backend_peaks peaks = measure_backend_peaks(which, bo.threads);
  const nlohmann::json& devices = peaks.devices;
  std::vector<stage_result> results;
  set_load_floor(load, peaks.cpu);
  results.push_back(load);
  time_backends(which, in, bo, peaks, results, log);

  print_table(results);
  print_memory_per_position(results, b.positions(), memory);
  if (args.json_opt->count()) {
    nlohmann::json j;
    j["sizes"] = {{"accounts", b.accounts()},        {"positions", b.positions()},
                  {"exposures", b.exposures()},      {"instruments", b.instruments.size()},
                  {"underlyings", in.market.size()}, {"scenarios", bo.scenarios}};
    j["book"] = args.book_opt->count() ? book_path.string() : std::string("generated");
    j["repeats"] = bo.repeats;
    j["devices"] = devices;
    j["stages"] = nlohmann::json::array();
    for (const stage_result& r : results) j["stages"].push_back(stage_json(r));
    j["peak_memory"] = peak_memory_json(results, b.positions(), memory);
    const std::string& path = args.json;
    write_atomically(path, bench_document(args, context, in, j, ""));
    if (!args.run.quiet) std::printf("results in %s\n", path.c_str());
  }
  return exit_ok;
}

}  // namespace

command bench_command(CLI::App& top, const run_context& context) {
  auto o = std::make_shared<bench_cli_options>();
  CLI::App* app =
      top.add_subcommand("bench",
                         "Time every stage (load, upload, revalue, scenario generation, scenario "
                         "risk for delta_gamma and "
                         "full, health) on each available backend: one warm-up, then the median of "
                         "repeated runs (device "
                         "events on the GPU). Prints a table with each stage's compulsory bytes "
                         "and FP64 operations and "
                         "the floor they imply on this machine; --json writes the same as JSON.");
  const char* book = "Book";
  o->book_opt = app->add_option("--book", o->book,
                                "time this book (directory or snapshot) instead of a generated one")
                    ->type_name("DIR|FILE")
                    ->group(book);
  app->add_option(
         "--accounts", o->accounts,
         "accounts of the generated book (a count; --scaling: of the scenarios series' book)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str()
      ->type_name("N")
      ->group(book)
      ->excludes(o->book_opt);
  app->add_option("--positions-per-account", o->positions_per_account,
                  "position rows per generated account")
      ->check(CLI::PositiveNumber)
      ->capture_default_str()
      ->type_name("N")
      ->group(book);
  app->add_option("--underlyings", o->underlyings, "underlyings of the generated book")
      ->check(CLI::Range(1, static_cast<int>(max_underlyings)).description(""))
      ->capture_default_str()
      ->type_name("N")
      ->group(book);
  o->seed_opt = app->add_option("--seed", o->seed,
                                "seed of the generated book (and, with --stream, of its scenarios)")
                    ->capture_default_str()
                    ->type_name("N")
                    ->group(book);
  o->work_dir_opt =
      app->add_option(
             "--work-dir", o->work_dir,
             "where the generated book (and stream) are written, removed after (default: the "
             "system's temporary directory)")
          ->type_name("DIR")
          ->group(book);
  const char* run = "Run";
  app->add_option("--scenarios", o->scenarios,
                  "Monte Carlo scenarios (--scaling: of the accounts series)")
      ->capture_default_str()
      ->type_name("N")
      ->group(run);
  o->repeats_opt = app->add_option("--repeats", o->repeats,
                                   "timed runs of each stage after one warm-up (--scaling: 2 "
                                   "unless given)")
                       ->check(CLI::PositiveNumber)
                       ->capture_default_str()
                       ->type_name("N")
                       ->group(run);
  add_backend_option(*app, o->run, backend_use::bench);
  add_thread_count_option(*app, o->run.threads, run);
  app->add_option(
         "--cpu-full-fraction", o->cpu_full_fraction,
         "share of the accounts `full` runs on with the CPU backend (-1: enough for about 2e10 "
         "position-scenarios)")
      ->capture_default_str()
      ->type_name("X")
      ->group(run);
  add_verbosity_options(*app, o->run);
  o->json_opt = app->add_option("--json", o->json,
                                "also write the results as JSON to this file (provenance first)")
                    ->type_name("FILE")
                    ->group("Outputs");
  const char* stream = "Stream (--stream)";
  app->add_flag("--stream", o->stream,
                "replay a generated tick stream through `stream`'s engine instead of timing "
                "stages: updates per "
                "second and the latency of the tick and risk paths")
      ->group(stream);
  app->add_option("--stream-seconds", o->stream_seconds, "stream time to replay")
      ->capture_default_str()
      ->type_name("S")
      ->group(stream);
  app->add_option("--tick-rate", o->tick_rate,
                  "updates per second of stream time (every underlying ticks in each)")
      ->capture_default_str()
      ->type_name("HZ")
      ->group(stream);
  o->method_opt =
      app->add_option("--method", o->method,
                      "time only this method (default: both); with --stream, the risk path's "
                      "method (default: the book's risk.json)")
          ->check(CLI::IsMember({"full", "delta_gamma"}).description(""))
          ->type_name("full|delta_gamma")
          ->group(run);
  const char* scaling = "Scaling (--scaling)";
  app->add_flag("--scaling", o->scaling,
                "time every stage against accounts (a generated book of each --scaling-accounts "
                "count, at --scenarios) and against scenarios (a book of --accounts at each "
                "--scaling-scenarios count): time, cost per unit (ns per position, per "
                "position-scenario, ...), its step from the previous point (flagged when it grows "
                "by more than 20%) and peak memory")
      ->excludes(o->book_opt)
      ->excludes("--stream")
      ->group(scaling);
  app->add_option("--scaling-accounts", o->scaling_accounts,
                  "accounts of each point of the accounts series (a comma-separated list)")
      ->delimiter(',')
      ->check(CLI::PositiveNumber)
      ->capture_default_str()
      ->type_name("N,N,...")
      ->group(scaling);
  app->add_option("--scaling-scenarios", o->scaling_scenarios,
                  "scenarios of each point of the scenarios series (a comma-separated list)")
      ->delimiter(',')
      ->check(CLI::PositiveNumber)
      ->capture_default_str()
      ->type_name("N,N,...")
      ->group(scaling);
  app->footer(help_footer(
      "marginsync bench --accounts 1000000 --scenarios 10000 --repeats 3 --json bench.json",
      "times in ms of wall time (device events on the GPU); bytes and FP64 operations are what "
      "each stage must move and compute; peak MB is the process's resident memory at its highest "
      "during the stage.\n"
      "\nHow each stage scales (books of 10k to 1M accounts at 10,000 scenarios, then 1k to 100k "
      "scenarios on 100,000 accounts; a few minutes on 2 cores), plotted:\n"
      "  marginsync bench --scaling --backend cpu --json scaling.json\n"
      "  gnuplot -e \"in='scaling.json'; out='scaling.png'\" bench/scaling.gp\n"
      "A smaller run: --scaling-accounts 1000,10000 --scaling-scenarios 1000,10000 --accounts "
      "10000.\n"));
  return {app, [o, &context] { return run_bench_command(*o, context); }};
}

}  // namespace msync::cli
