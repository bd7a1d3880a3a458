#pragma once
// Field parsers that say what is wrong instead of guessing: every function returns an empty
// string on success and the reason otherwise.
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

namespace msync {

// A finite decimal number ('.' as the decimal point, optional sign and exponent).
std::string parse_number(std::string_view text, double& out);
// A whole number (optional sign).
std::string parse_integer(std::string_view text, std::int64_t& out);
// Supported instants: 1900-01-01T00:00:00Z up to (not including) 2150-01-01T00:00:00Z. In
// nanoseconds they, and the difference of any two of them, fit in 64 bits.
constexpr std::int64_t earliest_timestamp_ms = -2208988800000LL;
constexpr std::int64_t latest_timestamp_ms = 5680281600000LL;

// ISO 8601 UTC (2026-11-24T08:00:00Z, fractional seconds up to nanoseconds, 'Z' or '+00:00')
// or integer epoch milliseconds. Out: nanoseconds since the epoch.
std::string parse_timestamp(std::string_view text, std::int64_t& out_ns);
// The same instant in ISO 8601 with the shortest exact fraction.
std::string format_timestamp(std::int64_t ns);

// Shortest text that reads back to exactly `value` ("inf" for +infinity).
std::string format_number(double value);
// Appends the same to `out` without allocating a temporary.
void append_number(std::string& out, double value);
// Appends each value as a further CSV field: a comma, then the value as append_number writes it.
void append_fields(std::string& out, const double* values, std::size_t count);
inline void append_fields(std::string& out, std::initializer_list<double> values) {
  append_fields(out, values.begin(), values.size());
}
inline void append_fields(std::string& out, const std::vector<double>& values) {
  append_fields(out, values.data(), values.size());
}

}  // namespace msync
