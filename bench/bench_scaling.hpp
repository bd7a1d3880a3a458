#pragma once
// `marginsync bench --scaling`: every stage timed on a series of generated books (against
// accounts) and a series of scenario counts (against scenarios), each stage's time as a cost per
// unit of the size it grows with, so that a superlinear step shows: a stage whose cost per unit
// grows by more than `superlinear_growth` from one point to the next is flagged.
//
// Units (docs/design.md 13.6): `scenario risk` per position-scenario (the positions it ran on, so
// `full` on a share of the accounts is costed on that share), `scenario generation` per
// underlying-scenario, `scenario pricing` per instrument-scenario, `upload market` per
// instrument, every other stage (load, upload, revalue, download, health) per position.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "bench_run.hpp"

namespace msync {

constexpr double superlinear_growth = 0.20;  // a step of more than +20% per unit is flagged

// The sizes of one measured book.
struct scaling_sizes {
  std::int64_t accounts = 0, positions = 0, exposures = 0, instruments = 0, underlyings = 0;
  std::int64_t scenarios = 0;
};

// One point of a series: a book at a scenario count, with every stage's result.
struct scaling_point {
  scaling_sizes sizes;
  std::vector<stage_result> stages;
};

struct scaling_series {
  std::string name;  // "accounts" or "scenarios": what grows
  std::vector<scaling_point> points;
};

// A stage's cost per unit at one point, and its step from the same stage at the previous point.
struct unit_cost {
  std::string unit;  // position, position-scenario, underlying-scenario, ...
  double units = 0.0;
  double ns_per_unit = 0.0;  // seconds * 1e9 / units
  double growth = 0.0;       // ns_per_unit / the previous point's (0 at the first point)
  bool superlinear = false;  // growth > 1 + superlinear_growth
};

// The unit of `r`'s stage and how many of them it processed at `sizes`.
unit_cost stage_units(const stage_result& r, const scaling_sizes& sizes);

// Every stage of every point of `s` costed, point by point, stage by stage (as in `points`).
std::vector<std::vector<unit_cost>> unit_costs(const scaling_series& s);

// The peak memory of a whole run of each method: the largest peak of the calls it needs (load,
// upload, revalue and the method's own stages) on each backend, and that per position of the
// book (`positions`).
struct method_peak {
  std::string backend, method;
  std::int64_t peak_rss_bytes = 0;
  double bytes_per_position = 0.0;
};
std::vector<method_peak> method_peaks(const std::vector<stage_result>& stages,
                                      std::int64_t positions);

// The tables on stdout, and the JSON `series` array.
void print_scaling(const std::vector<scaling_series>& series);
// One stage of bench --json's `stages[]` (docs/design.md 13.3), as --scaling's points also hold it.
nlohmann::json stage_json(const stage_result& r);
nlohmann::json scaling_json(const std::vector<scaling_series>& series);

}  // namespace msync
