// marginsync bench: builds (or loads) a book and times every stage on every available backend.
#include <unistd.h>

#include <chrono>
#include <algorithm>
#include <cstdio>
#include <functional>

#include <cxxopts.hpp>
#include <nlohmann/json.hpp>

#include "bench_run.hpp"
#include "bench_stream.hpp"
#include "synth/generate_ticks.hpp"
#include "commands.hpp"
#include "parse_options.hpp"
#include "synth/generate_book.hpp"
#include "margin/margin_job.hpp"
#include "marginsync/errors.hpp"

#ifdef MSYNC_HAS_CUDA
#include "cuda_entry.hpp"
#endif

namespace msync::cli {

namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

void print_table(const std::vector<stage_result>& results) {
  // floor: compulsory bytes at the measured bandwidth, or FP64 operations at the peak rate (the
  // larger); the CPU's FP64 peak is not known, so its floors are by bytes alone.
  std::printf("\n%-5s %-12s %-20s %11s %10s %9s %9s %10s %9s\n", "", "method", "stage", "median ms",
              "MB moved", "GFLOP", "GFLOP/s", "floor ms", "of floor");
  for (const stage_result& r : results) {
    std::printf("%-5s %-12s %-20s %11.3f %10.1f %9.2f %9.1f %10.3f %8.1f%%", r.backend.c_str(),
                r.method.empty() ? "-" : r.method.c_str(), r.stage.c_str(), r.seconds * 1e3, r.bytes / 1e6,
                r.operations / 1e9, r.seconds > 0 ? r.operations / r.seconds / 1e9 : 0.0,
                r.floor_seconds * 1e3, 100 * r.fraction);
    if (r.accounts_fraction < 1.0)
      std::printf("  (%.1f%% of accounts; whole book about %.1f s)", 100 * r.accounts_fraction,
                  r.seconds / r.accounts_fraction);
    std::printf("\n");
  }
}

nlohmann::json peaks_json(const machine_peaks& p) {
  return nlohmann::json{{"name", p.name},
                        {"memory_bandwidth_bytes_per_s", p.memory_bandwidth},
                        {"fp64_ops_per_s", p.fp64_rate},
                        {"host_to_device_bytes_per_s", p.link_bandwidth}};
}

// bench --stream: a tick stream generated for the book's market, replayed on each backend.
int run_stream_bench(const cxxopts::ParseResult& args, book_inputs in, const std::string& which,
                     const bench_options& bo, const std::filesystem::path& book_path,
                     const std::filesystem::path& work_dir, const std::function<void(const std::string&)>& log) {
  tick_generate_options t;
  t.seconds = args["stream-seconds"].as<double>();
  t.rate_hz = args["tick-rate"].as<double>();
  if (const std::string why = tick_generate_problem(t); !why.empty()) {
    std::fprintf(stderr, "marginsync bench: --stream-seconds / --tick-rate: %s\n", why.c_str());
    return exit_bad_input;
  }
  const std::optional<risk_overrides> overrides = risk_overrides_from(args, "marginsync bench");
  if (!overrides) return exit_bad_input;
  risk_overrides o = *overrides;
  o.scenarios = bo.scenarios;
  apply_risk_overrides(o, in.risk);

  const std::filesystem::path ticks =
      work_dir / ("marginsync-bench-" + std::to_string(static_cast<long long>(::getpid())) + ".ticks.csv");
  generate_ticks(in.market, t, ticks);
  std::vector<std::vector<stream_event>> updates;
  try {
    updates = read_updates(ticks, in.market.symbols);
  } catch (...) {
    std::filesystem::remove(ticks);
    throw;
  }
  std::filesystem::remove(ticks);
  log("stream: " + std::to_string(updates.size()) + " updates of " + std::to_string(in.market.size()) +
      " ticks, risk path " + method_name(in.risk.method) + " with " + std::to_string(in.risk.scenarios) +
      " scenarios, heartbeat " + std::to_string(in.risk.heartbeat_ms) + " ms");

  std::vector<stream_bench_result> results;
  if (which != "cuda") {
    auto engine = make_cpu_backend(bo.threads);
    results.push_back(bench_stream(*engine, in, updates, log));
  }
  if (which != "cpu") {
    backend_selection cuda = select_backend(which == "cuda" ? backend_choice::cuda : backend_choice::automatic, bo.threads);
    if (cuda.instance->name() == "cuda") results.push_back(bench_stream(*cuda.instance, in, updates, log));
    else log("cuda: not timed: " + cuda.note);
  }

  std::printf("\n%-5s %8s %11s %9s %9s %9s %6s %9s %9s %9s\n", "", "updates", "updates/s", "tick p50", "tick p99",
              "tick max", "risk", "risk p50", "risk p99", "risk max");
  nlohmann::json rows = nlohmann::json::array();
  for (const stream_bench_result& r : results) {
    const double updates_per_second = static_cast<double>(r.updates) / r.wall_seconds;
    const latency_summary tick = summarize_latency(r.tick_seconds), risk = summarize_latency(r.risk_seconds);
    std::printf("%-5s %8lld %11.1f %9.3f %9.3f %9.3f %6zu %9.1f %9.1f %9.1f   (ms)\n", r.backend.c_str(),
                static_cast<long long>(r.updates), updates_per_second, tick.p50_ms, tick.p99_ms, tick.max_ms,
                risk.count, risk.p50_ms, risk.p99_ms, risk.max_ms);
    rows.push_back({{"backend", r.backend}, {"device", r.device}, {"updates", r.updates}, {"ticks", r.ticks},
                    {"wall_seconds", r.wall_seconds}, {"updates_per_second", updates_per_second},
                    {"ticks_per_second", static_cast<double>(r.ticks) / r.wall_seconds}, {"risk_runs", r.risk_runs},
                    {"tick_path_ms", {{"p50", tick.p50_ms}, {"p99", tick.p99_ms}, {"max", tick.max_ms}}},
                    {"risk_path_ms", {{"p50", risk.p50_ms}, {"p99", risk.p99_ms}, {"max", risk.max_ms}}}});
  }
  if (args.count("json")) {
    const book& b = in.positions;
    nlohmann::json j;
    j["sizes"] = {{"accounts", b.accounts()}, {"positions", b.positions()}, {"exposures", b.exposures()},
                  {"underlyings", in.market.size()}, {"scenarios", in.risk.scenarios}};
    j["book"] = args.count("book") ? book_path.string() : std::string("generated");
    j["stream"] = {{"seconds", t.seconds}, {"rate_hz", t.rate_hz}, {"updates", updates.size()},
                   {"method", method_name(in.risk.method)}, {"heartbeat_ms", in.risk.heartbeat_ms},
                   {"deviation_threshold", in.risk.deviation_threshold}};
    j["backends"] = rows;
    const std::string path = args["json"].as<std::string>();
    write_atomically(path, j.dump(2) + "\n");
    std::printf("results in %s\n", path.c_str());
  }
  return exit_ok;
}

}  // namespace

int run_bench_command(int argc, char** argv) {
  cxxopts::Options options("marginsync bench",
                           "Time every stage (load, upload, revalue, scenario generation, scenario risk "
                           "for delta_gamma and full, health) on each available backend: one warm-up, "
                           "then the median of repeated runs (device events on the GPU). Prints a "
                           "table with each stage's compulsory bytes and FP64 operations and the "
                           "floor they imply on this machine; --json writes the same as JSON.");
  options.custom_help("[--accounts N | --book PATH] [OPTIONS]");
  options.add_options("Book")
      ("book", "time this book (directory or snapshot) instead of a generated one", cxxopts::value<std::string>())
      ("accounts", "accounts of the generated book", cxxopts::value<std::int64_t>()->default_value("100000"))
      ("positions-per-account", "position rows per generated account", cxxopts::value<int>()->default_value("10"))
      ("underlyings", "underlyings of the generated book", cxxopts::value<int>()->default_value("20"))
      ("seed", "seed of the generated book", cxxopts::value<std::uint64_t>()->default_value("1"))
      ("work-dir", "where the generated book (and stream) are written (removed after)", cxxopts::value<std::string>());
  options.add_options("Run")
      ("scenarios", "Monte Carlo scenarios", cxxopts::value<std::int64_t>()->default_value("10000"))
      ("repeats", "timed runs of each stage after one warm-up", cxxopts::value<int>()->default_value("5"))
      ("backend", "all (every available backend), cpu or cuda", cxxopts::value<std::string>()->default_value("all"))
      ("threads", "CPU threads (0: all cores)", cxxopts::value<int>()->default_value("0"))
      ("cpu-full-fraction", "share of the accounts `full` runs on with the CPU backend (default: enough for about 2e10 position-scenarios)", cxxopts::value<double>()->default_value("-1"))
      ("json", "also write the results as JSON to this file", cxxopts::value<std::string>())
      ("h,help", "this help");
  options.add_options("Stream (--stream)")
      ("stream", "replay a generated tick stream through `stream`'s engine instead of timing stages: "
                 "updates per second and the latency of the tick and risk paths")
      ("stream-seconds", "stream time to replay", cxxopts::value<double>()->default_value("10"))
      ("tick-rate", "updates per second of stream time (every underlying ticks in each)", cxxopts::value<double>()->default_value("10"))
      ("method", "risk path method: full or delta_gamma (default: the book's risk.json)", cxxopts::value<std::string>());
  int status = exit_ok;
  const auto parsed = parse_options(options, argc, argv, {}, "", status);
  if (!parsed) return status;
  const cxxopts::ParseResult& args = *parsed;

  bench_options bo;
  bo.scenarios = args["scenarios"].as<std::int64_t>();
  bo.repeats = args["repeats"].as<int>();
  bo.threads = args["threads"].as<int>();
  bo.cpu_full_fraction = args["cpu-full-fraction"].as<double>();
  const std::string which = args["backend"].as<std::string>();
  if (bo.scenarios < 1 || bo.scenarios > max_scenarios || bo.repeats < 1 || bo.threads < 0 ||
      (which != "all" && which != "cpu" && which != "cuda")) {
    std::fprintf(stderr, "marginsync bench: --scenarios must be in [1, %lld], --repeats >= 1, --threads >= 0, "
                         "--backend all, cpu or cuda\n", static_cast<long long>(max_scenarios));
    return exit_bad_input;
  }
  auto log = [](const std::string& line) { std::fprintf(stderr, "%s\n", line.c_str()); };

  // The book: generated into a snapshot (then loaded, which is the `load` stage), or given.
  const std::filesystem::path work_dir = args.count("work-dir") ? std::filesystem::path(args["work-dir"].as<std::string>())
                                                                : std::filesystem::temp_directory_path();
  std::filesystem::path book_path;
  std::filesystem::path generated;
  if (args.count("book")) {
    book_path = args["book"].as<std::string>();
  } else {
    generate_options g;
    g.accounts = args["accounts"].as<std::int64_t>();
    g.positions_per_account = args["positions-per-account"].as<int>();
    g.underlyings = args["underlyings"].as<int>();
    g.seed = args["seed"].as<std::uint64_t>();
    if (g.accounts < 1 || g.positions_per_account < 1 || g.underlyings < 1) {
      std::fprintf(stderr, "marginsync bench: --accounts, --positions-per-account and --underlyings must be >= 1\n");
      return exit_bad_input;
    }
    generated = work_dir / ("marginsync-bench-" + std::to_string(static_cast<long long>(::getpid())) + ".msbook");
    const auto start = std::chrono::steady_clock::now();
    generate_book_snapshot(g, generated);
    book_path = generated;
    char line[160];
    std::snprintf(line, sizeof line, "generated %lld accounts x %d positions, %d underlyings in %.1f s",
                  static_cast<long long>(g.accounts), g.positions_per_account, g.underlyings, seconds_since(start));
    log(line);
  }
  struct remove_on_exit {
    std::filesystem::path path;
    ~remove_on_exit() {
      std::error_code ec;
      if (!path.empty()) std::filesystem::remove(path, ec);
    }
  } cleanup{generated};

  // load: the median of the repeats (after a warm-up that fills the page cache).
  const book_location where{book_path, {}, {}, {}, {}, {}};
  book_inputs in = load_book_at(where);
  std::vector<double> load_times;
  for (int r = 0; r < std::min(bo.repeats, 3); ++r) {
    const auto start = std::chrono::steady_clock::now();
    in = load_book_at(where);
    load_times.push_back(seconds_since(start));
  }
  std::sort(load_times.begin(), load_times.end());
  const book& b = in.positions;
  char line[256];
  std::snprintf(line, sizeof line, "book: %zu accounts, %zu positions, %zu exposures, %zu instruments, %zu underlyings; %lld scenarios",
                b.accounts(), b.positions(), b.exposures(), b.instruments.size(), in.market.size(),
                static_cast<long long>(bo.scenarios));
  log(line);

  if (args.count("stream")) return run_stream_bench(args, in, which, bo, book_path, work_dir, log);

  const machine_peaks cpu_peaks = measure_cpu_peaks(bo.threads);
  std::vector<stage_result> results;
  {
    stage_result load;
    load.backend = "cpu";
    load.stage = "load";
    load.seconds = load_times[load_times.size() / 2];
    load.repeats = static_cast<std::int64_t>(load_times.size());
    std::error_code ec;
    const auto size = std::filesystem::is_regular_file(book_path, ec) ? std::filesystem::file_size(book_path, ec) : 0;
    load.bytes = static_cast<double>(size);
    load.floor_seconds = cpu_peaks.memory_bandwidth > 0 ? 2 * load.bytes / cpu_peaks.memory_bandwidth : 0.0;
    load.fraction = load.floor_seconds / load.seconds;
    results.push_back(load);
  }

  nlohmann::json devices = nlohmann::json::object();
  devices["cpu"] = peaks_json(cpu_peaks);
  if (which != "cuda") {
    auto engine = make_cpu_backend(bo.threads);
    log("cpu: " + engine->device());
    const auto r = bench_backend(*engine, cpu_peaks, in, bo, log);
    results.insert(results.end(), r.begin(), r.end());
  }
  if (which != "cpu") {
#ifdef MSYNC_HAS_CUDA
    const cuda::device_report device = cuda::probe_device();
    if (device.usable) {
      const cuda::device_peaks p = cuda::measure_device_peaks();
      const machine_peaks gpu{p.name, p.memory_bandwidth, p.fp64_rate, p.host_to_device};
      devices["cuda"] = peaks_json(gpu);
      devices["cuda"]["nominal_memory_bandwidth_bytes_per_s"] = p.nominal_bandwidth;
      auto engine = cuda::make_cuda_backend(cuda::cuda_backend_options{});
      log("cuda: " + device.description);
      const auto r = bench_backend(*engine, gpu, in, bo, log);
      results.insert(results.end(), r.begin(), r.end());
    } else if (which == "cuda") {
      throw backend_unavailable("--backend cuda: " + device.reason);
    } else {
      log("cuda: not timed: " + device.reason);
    }
#else
    if (which == "cuda") throw backend_unavailable("--backend cuda: this marginsync was built without CUDA");
    log("cuda: not timed: this marginsync was built without CUDA");
#endif
  }

  print_table(results);
  if (args.count("json")) {
    nlohmann::json j;
    j["sizes"] = {{"accounts", b.accounts()}, {"positions", b.positions()}, {"exposures", b.exposures()},
                  {"instruments", b.instruments.size()}, {"underlyings", in.market.size()},
                  {"scenarios", bo.scenarios}};
    j["book"] = args.count("book") ? book_path.string() : std::string("generated");
    j["repeats"] = bo.repeats;
    j["devices"] = devices;
    j["stages"] = nlohmann::json::array();
    for (const stage_result& r : results)
      j["stages"].push_back({{"backend", r.backend}, {"method", r.method}, {"stage", r.stage},
                             {"seconds", r.seconds}, {"repeats", r.repeats}, {"bytes", r.bytes},
                             {"fp64_operations", r.operations}, {"floor_seconds", r.floor_seconds},
                             {"fraction_of_floor", r.fraction}, {"accounts_fraction", r.accounts_fraction}});
    const std::string path = args["json"].as<std::string>();
    write_atomically(path, j.dump(2) + "\n");
    std::printf("results in %s\n", path.c_str());
  }
  return exit_ok;
}

}  // namespace msync::cli
