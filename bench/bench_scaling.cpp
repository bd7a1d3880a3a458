#include "bench_scaling.hpp"

#include <algorithm>
#include <cstdio>
#include <map>
#include <tuple>

namespace msync {

namespace {

using stage_key = std::tuple<std::string, std::string, std::string>;  // backend, method, stage

stage_key key_of(const stage_result& r) {
  return {r.backend, r.method, r.stage};
}

nlohmann::json sizes_json(const scaling_sizes& s) {
  return {{"accounts", s.accounts},       {"positions", s.positions},
          {"exposures", s.exposures},     {"instruments", s.instruments},
          {"underlyings", s.underlyings}, {"scenarios", s.scenarios}};
}

}  // namespace

unit_cost stage_units(const stage_result& r, const scaling_sizes& sizes) {
  const double n = static_cast<double>(sizes.scenarios);
  unit_cost c;
  if (r.stage == "scenario risk") {
    c.unit = "position-scenario";
    c.units = static_cast<double>(r.positions) * n;
  } else if (r.stage == "scenario generation") {
    c.unit = "underlying-scenario";
    c.units = static_cast<double>(sizes.underlyings) * n;
  } else if (r.stage == "scenario pricing") {
    c.unit = "instrument-scenario";
    c.units = static_cast<double>(sizes.instruments) * n;
  } else if (r.stage == "upload market") {
    c.unit = "instrument";
    c.units = static_cast<double>(sizes.instruments);
  } else {
    c.unit = "position";
    c.units = static_cast<double>(r.positions);
  }
  c.ns_per_unit = c.units > 0 ? r.seconds * 1e9 / c.units : 0.0;
  return c;
}

std::vector<std::vector<unit_cost>> unit_costs(const scaling_series& s) {
  std::vector<std::vector<unit_cost>> out;
  std::map<stage_key, double> previous;  // ns per unit of each stage at the previous point
  for (const scaling_point& p : s.points) {
    std::vector<unit_cost> row;
    std::map<stage_key, double> here;
    for (const stage_result& r : p.stages) {
      unit_cost c = stage_units(r, p.sizes);
      const auto before = previous.find(key_of(r));
      if (before != previous.end() && before->second > 0) {
        c.growth = c.ns_per_unit / before->second;
        c.superlinear = c.growth > 1.0 + superlinear_growth;
      }
      here[key_of(r)] = c.ns_per_unit;
      row.push_back(c);
    }
    previous = here;
    out.push_back(row);
  }
  return out;
}

std::vector<method_peak> method_peaks(const std::vector<stage_result>& stages,
                                      std::int64_t positions) {
  std::vector<std::string> backends, methods;
  for (const stage_result& r : stages) {
    if (r.stage != "load" &&
        std::find(backends.begin(), backends.end(), r.backend) == backends.end())
      backends.push_back(r.backend);
    if (!r.method.empty() && std::find(methods.begin(), methods.end(), r.method) == methods.end())
      methods.push_back(r.method);
  }
  std::vector<method_peak> out;
  for (const std::string& backend : backends)
    for (const std::string& method : methods) {
      method_peak m{backend, method, 0, 0.0};
      bool ran = false;
      for (const stage_result& r : stages) {
        // The load runs in the process whichever backend follows (its backend is "cpu").
        const bool same_backend = r.backend == backend || r.stage == "load";
        if (!same_backend || !(r.method.empty() || r.method == method)) continue;
        ran = ran || r.method == method;
        m.peak_rss_bytes = std::max(m.peak_rss_bytes, r.peak_rss_bytes);
      }
      if (!ran) continue;
      m.bytes_per_position =
          positions > 0 ? static_cast<double>(m.peak_rss_bytes) / static_cast<double>(positions)
                        : 0.0;
      out.push_back(m);
    }
  return out;
}

void print_scaling(const std::vector<scaling_series>& series) {
  for (const scaling_series& s : series) {
    if (s.points.empty()) continue;
    const std::vector<std::vector<unit_cost>> costs = unit_costs(s);
    const scaling_sizes& first = s.points.front().sizes;
    if (s.name == "accounts")
      std::printf("\nagainst accounts (%lld scenarios each):\n",
                  static_cast<long long>(first.scenarios));
    else
      std::printf("\nagainst scenarios (%lld accounts, %lld positions):\n",
                  static_cast<long long>(first.accounts), static_cast<long long>(first.positions));
    std::printf("%-5s %-12s %-20s %9s %10s %9s %11s %-20s %9s %7s %9s %8s\n", "", "method", "stage",
                "accounts", "positions", "scenarios", "median ms", "unit", "ns/unit", "step",
                "peak MB", "B/pos");
    // Stage by stage (in the order of the first point), a row per point.
    std::vector<stage_key> order;
    for (const scaling_point& p : s.points)
      for (const stage_result& r : p.stages)
        if (std::find(order.begin(), order.end(), key_of(r)) == order.end())
          order.push_back(key_of(r));
    for (const stage_key& key : order) {
      for (std::size_t i = 0; i < s.points.size(); ++i) {
        const scaling_point& p = s.points[i];
        for (std::size_t k = 0; k < p.stages.size(); ++k) {
          const stage_result& r = p.stages[k];
          if (key_of(r) != key) continue;
          const unit_cost& c = costs[i][k];
          char step[16] = "";
          if (c.growth > 0)
            std::snprintf(step, sizeof step, "%.2fx%s", c.growth, c.superlinear ? "!" : " ");
          std::printf(
              "%-5s %-12s %-20s %9lld %10lld %9lld %11.3f %-20s %9.3f %7s %9.1f %8.1f",
              r.backend.c_str(), r.method.empty() ? "-" : r.method.c_str(), r.stage.c_str(),
              static_cast<long long>(p.sizes.accounts), static_cast<long long>(p.sizes.positions),
              static_cast<long long>(p.sizes.scenarios), r.seconds * 1e3, c.unit.c_str(),
              c.ns_per_unit, step, static_cast<double>(r.peak_rss_bytes) / 1e6,
              p.sizes.positions > 0
                  ? static_cast<double>(r.peak_rss_bytes) / static_cast<double>(p.sizes.positions)
                  : 0.0);
          if (r.accounts_fraction < 1.0)
            std::printf("  (on %.1f%% of accounts)", 100 * r.accounts_fraction);
          std::printf("\n");
        }
      }
    }
    std::printf("peak memory of a whole run, bytes per position:\n");
    for (const scaling_point& p : s.points) {
      std::printf("  %9lld accounts %10lld positions %9lld scenarios:",
                  static_cast<long long>(p.sizes.accounts),
                  static_cast<long long>(p.sizes.positions),
                  static_cast<long long>(p.sizes.scenarios));
      for (const method_peak& m : method_peaks(p.stages, p.sizes.positions))
        std::printf("  %s %s %.1f", m.backend.c_str(), m.method.c_str(), m.bytes_per_position);
      std::printf("\n");
    }
  }
  std::printf(
      "(step: cost per unit against the previous point; ! when it grew by more than %.0f%%)\n",
      100 * superlinear_growth);
}

nlohmann::json stage_json(const stage_result& r) {
  return {{"backend", r.backend},
          {"method", r.method},
          {"stage", r.stage},
          {"seconds", r.seconds},
          {"repeats", r.repeats},
          {"bytes", r.bytes},
          {"fp64_operations", r.operations},
          {"floor_seconds", r.floor_seconds},
          {"fraction_of_floor", r.fraction},
          {"accounts_fraction", r.accounts_fraction},
          {"positions", r.positions},
          {"peak_rss_bytes", r.peak_rss_bytes}};
}

nlohmann::json scaling_json(const std::vector<scaling_series>& series) {
  nlohmann::json out = nlohmann::json::array();
  for (const scaling_series& s : series) {
    const std::vector<std::vector<unit_cost>> costs = unit_costs(s);
    nlohmann::json points = nlohmann::json::array();
    for (std::size_t i = 0; i < s.points.size(); ++i) {
      const scaling_point& p = s.points[i];
      nlohmann::json point = sizes_json(p.sizes);
      point["stages"] = nlohmann::json::array();
      for (std::size_t k = 0; k < p.stages.size(); ++k) {
        const stage_result& r = p.stages[k];
        const unit_cost& c = costs[i][k];
        nlohmann::json stage = stage_json(r);
        stage["unit"] = c.unit;
        stage["units"] = c.units;
        stage["ns_per_unit"] = c.ns_per_unit;
        stage["growth"] = c.growth > 0 ? nlohmann::json(c.growth) : nlohmann::json(nullptr);
        stage["superlinear"] = c.superlinear;
        point["stages"].push_back(stage);
      }
      point["peak_memory"] = nlohmann::json::array();
      for (const method_peak& m : method_peaks(p.stages, p.sizes.positions))
        point["peak_memory"].push_back({{"backend", m.backend},
                                        {"method", m.method},
                                        {"peak_rss_bytes", m.peak_rss_bytes},
                                        {"bytes_per_position", m.bytes_per_position}});
      points.push_back(point);
    }
    out.push_back({{"name", s.name}, {"points", points}});
  }
  return out;
}

}  // namespace msync
