#pragma once
// The one calendar of the engine: ACT/365 (docs/design.md section 3.1). Time to expiry, the
// horizon, funding and the staleness add-on all count years of 365 days of 86,400 s.
namespace msync {

constexpr double days_per_year = 365.0;
constexpr double seconds_per_year = 31536000.0;  // 365 * 86,400

}  // namespace msync
