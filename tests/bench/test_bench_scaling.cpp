// bench --scaling (docs/design.md 13.6): every point and stage in the JSON, each cost per unit
// computed from the stage's time and the sizes as documented, steps flagged above +20%. No timing
// thresholds: only how the figures are derived from the measured times.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "bench_scaling.hpp"
#include "test_support.hpp"

namespace msync {
namespace {

using test::run_cli;
using test::temp_dir;

stage_result stage(const std::string& method, const std::string& name, double seconds,
                   std::int64_t positions, std::int64_t peak) {
  stage_result r;
  r.backend = "cpu";
  r.method = method;
  r.stage = name;
  r.seconds = seconds;
  r.positions = positions;
  r.peak_rss_bytes = peak;
  return r;
}

TEST(bench_scaling, costs_per_unit_and_flags_a_superlinear_step) {
  scaling_series s{"scenarios", {}};
  // 1,000 positions, 10 instruments, 4 underlyings at 100 then 200 then 400 scenarios.
  for (const auto& [n, risk_seconds] :
       std::vector<std::pair<std::int64_t, double>>{{100, 1e-3}, {200, 2.3e-3}, {400, 5.8e-3}}) {
    scaling_point p;
    p.sizes = {50, 1000, 200, 10, 4, n};
    const double scenarios = static_cast<double>(n);
    p.stages = {stage("", "revalue", 2e-6 * 1000, 1000, 100),
                stage("full", "scenario generation", 1e-9 * 4 * scenarios, 1000, 300),
                stage("full", "scenario pricing", 2e-9 * 10 * scenarios, 1000, 300),
                stage("full", "scenario risk", risk_seconds, 500, 300),
                stage("delta_gamma", "scenario risk", risk_seconds, 1000, 200)};
    s.points.push_back(p);
  }
  const auto costs = unit_costs(s);
  ASSERT_EQ(costs.size(), 3u);
  EXPECT_EQ(costs[0][0].unit, "position");
  EXPECT_DOUBLE_EQ(costs[0][0].ns_per_unit, 2000.0);
  EXPECT_EQ(costs[0][1].unit, "underlying-scenario");
  EXPECT_DOUBLE_EQ(costs[2][1].ns_per_unit, 1.0);
  EXPECT_EQ(costs[0][2].unit, "instrument-scenario");
  EXPECT_DOUBLE_EQ(costs[1][2].ns_per_unit, 2.0);
  // `full` on a share of the accounts is costed on the positions it ran on.
  EXPECT_EQ(costs[0][3].unit, "position-scenario");
  EXPECT_DOUBLE_EQ(costs[0][3].units, 500.0 * 100);
  EXPECT_DOUBLE_EQ(costs[0][3].ns_per_unit, 1e-3 * 1e9 / (500.0 * 100));
  EXPECT_DOUBLE_EQ(costs[0][4].ns_per_unit, 1e-3 * 1e9 / (1000.0 * 100));
  // Steps: none at the first point; +15% is not flagged, (5.8 / 4) / (2.3 / 2) = +26% is.
  EXPECT_EQ(costs[0][4].growth, 0.0);
  EXPECT_FALSE(costs[0][4].superlinear);
  EXPECT_DOUBLE_EQ(costs[1][4].growth, 2.3 / 2);
  EXPECT_FALSE(costs[1][4].superlinear);
  EXPECT_DOUBLE_EQ(costs[2][4].growth, (5.8 / 4) / (2.3 / 2));
  EXPECT_TRUE(costs[2][4].superlinear);
  EXPECT_DOUBLE_EQ(costs[2][0].growth, 1.0);  // a stage that does not grow with N: flat
  // A whole run's peak: the largest peak of the calls it needs, per position of the book.
  const auto peaks = method_peaks(s.points[0].stages, 1000);
  ASSERT_EQ(peaks.size(), 2u);
  EXPECT_EQ(peaks[0].method, "full");
  EXPECT_EQ(peaks[0].peak_rss_bytes, 300);
  EXPECT_DOUBLE_EQ(peaks[0].bytes_per_position, 0.3);
  EXPECT_EQ(peaks[1].method, "delta_gamma");
  EXPECT_EQ(peaks[1].peak_rss_bytes, 200);
}

TEST(bench_scaling, writes_every_point_and_stage_with_its_cost_per_unit) {
  temp_dir dir;
  const auto r = run_cli(
      "bench --scaling --scaling-accounts 100,300 --scaling-scenarios 64,128,256 --accounts 200 "
      "--scenarios 128 --underlyings 4 --positions-per-account 5 --repeats 1 --backend cpu "
      "--threads 2 --work-dir '" +
      dir.path().string() + "' --json '" + (dir / "scaling.json").string() + "'");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("against accounts (128 scenarios each)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("against scenarios (200 accounts"), std::string::npos) << r.out;
  const nlohmann::json j = nlohmann::json::parse(test::read_file(dir / "scaling.json"));
  EXPECT_EQ(j["scaling"]["repeats"], 1);
  EXPECT_EQ(j["scaling"]["superlinear_growth"], 0.2);
  EXPECT_GT(j["devices"]["cpu"]["memory_bandwidth_bytes_per_s"].get<double>(), 0.0);
  ASSERT_EQ(j["series"].size(), 2u);
  EXPECT_EQ(j["series"][0]["name"], "accounts");
  EXPECT_EQ(j["series"][1]["name"], "scenarios");
  const std::vector<std::vector<std::pair<int, int>>> want_points{
      {{100, 128}, {300, 128}}, {{200, 64}, {200, 128}, {200, 256}}};
  for (std::size_t s = 0; s < 2; ++s) {
    const nlohmann::json& points = j["series"][s]["points"];
    ASSERT_EQ(points.size(), want_points[s].size()) << points.dump();
    std::map<std::string, double> previous;  // ns per unit by method/stage
    for (std::size_t i = 0; i < points.size(); ++i) {
      const nlohmann::json& p = points[i];
      EXPECT_EQ(p["accounts"], want_points[s][i].first);
      EXPECT_EQ(p["scenarios"], want_points[s][i].second);
      const double positions = p["positions"], n = p["scenarios"];
      const double instruments = p["instruments"], underlyings = p["underlyings"];
      std::set<std::string> seen;
      std::map<std::string, std::int64_t> largest_peak;  // by method, over the calls it needs
      std::map<std::string, double> here;
      for (const nlohmann::json& st : p["stages"]) {
        const std::string method = st["method"], name = st["stage"];
        const std::string key = method + "/" + name;
        seen.insert(key);
        const double seconds = st["seconds"], units = st["units"];
        EXPECT_GT(seconds, 0.0) << st.dump();
        EXPECT_GT(st["peak_rss_bytes"].get<std::int64_t>(), 0) << st.dump();
        // The documented units.
        const double run_positions = st["positions"];
        if (name == "scenario risk") {
          EXPECT_EQ(st["unit"], "position-scenario");
          EXPECT_DOUBLE_EQ(units, run_positions * n);
          if (method == "delta_gamma") {
            EXPECT_EQ(run_positions, positions);
          }
        } else if (name == "scenario generation") {
          EXPECT_EQ(st["unit"], "underlying-scenario");
          EXPECT_DOUBLE_EQ(units, underlyings * n);
        } else if (name == "scenario pricing") {
          EXPECT_EQ(st["unit"], "instrument-scenario");
          EXPECT_DOUBLE_EQ(units, instruments * n);
        } else {
          EXPECT_EQ(st["unit"], "position");
          EXPECT_DOUBLE_EQ(units, positions);
        }
        const double ns = st["ns_per_unit"];
        EXPECT_DOUBLE_EQ(ns, seconds * 1e9 / units) << st.dump();
        here[key] = ns;
        if (i == 0) {
          EXPECT_TRUE(st["growth"].is_null()) << st.dump();
        } else {
          const double growth = st["growth"];
          EXPECT_DOUBLE_EQ(growth, ns / previous.at(key)) << st.dump();
          EXPECT_EQ(st["superlinear"].get<bool>(), growth > 1.2) << st.dump();
        }
        for (const char* m : {"delta_gamma", "full"})
          if (method.empty() || method == m)
            largest_peak[m] = std::max(largest_peak[m], st["peak_rss_bytes"].get<std::int64_t>());
      }
      previous = here;
      for (const char* want : {"/load", "/upload", "/revalue", "delta_gamma/scenario generation",
                               "delta_gamma/scenario risk", "full/scenario generation",
                               "full/scenario pricing", "full/scenario risk"})
        EXPECT_TRUE(seen.count(want)) << want << " missing from " << p["stages"].dump();
      ASSERT_EQ(p["peak_memory"].size(), 2u);
      for (const nlohmann::json& m : p["peak_memory"]) {
        EXPECT_EQ(m["peak_rss_bytes"], largest_peak.at(m["method"]));
        EXPECT_DOUBLE_EQ(m["bytes_per_position"].get<double>(),
                         m["peak_rss_bytes"].get<double>() / positions);
      }
    }
  }
  // The generated books are removed afterwards; only the JSON is left.
  std::size_t files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir.path()))
    files += entry.is_regular_file() ? 1 : 0;
  EXPECT_EQ(files, 1u);
  // Only one method; and what --scaling cannot be combined with.
  const auto one = run_cli(
      "bench --scaling --scaling-accounts 100 --scaling-scenarios 64 --accounts 100 --underlyings "
      "4 --method delta_gamma --repeats 1 --backend cpu -q --work-dir '" +
      dir.path().string() + "' --json '" + (dir / "one.json").string() + "'");
  ASSERT_EQ(one.status, 0) << one.out;
  const nlohmann::json k = nlohmann::json::parse(test::read_file(dir / "one.json"));
  for (const nlohmann::json& st : k["series"][0]["points"][0]["stages"])
    EXPECT_NE(st["method"], "full") << st.dump();
  EXPECT_EQ(run_cli("bench --scaling --stream").status, 2);
  EXPECT_EQ(run_cli("bench --scaling --book '" + test::sample_book().string() + "'").status, 2);
  EXPECT_EQ(run_cli("bench --scaling --scaling-scenarios 0").status, 2);
  EXPECT_EQ(run_cli("bench --scaling --scaling-accounts 10,x").status, 2);
}

}  // namespace
}  // namespace msync
