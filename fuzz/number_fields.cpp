// The field parsers under every file (io/number_parse.hpp): a number read is finite and its
// shortest text reads back to it; a timestamp read is within 1900-2149 and its ISO text reads back
// to the same nanosecond.
#include <cmath>

#include "fuzz_support.hpp"
#include "fuzz_targets.hpp"
#include "io/number_parse.hpp"

namespace msync::fuzz {

void number_fields(std::string_view input) {
  double x = 0.0;
  if (parse_number(input, x).empty()) {
    check(std::isfinite(x), "number: not finite");
    double back = 0.0;
    const std::string text = format_number(x);
    check(parse_number(text, back).empty() && back == x, "number: '" + text + "' reads back wrong");
  }
  std::int64_t i = 0;
  if (parse_integer(input, i).empty()) {
    double as_number = 0.0;
    check(parse_number(input, as_number).empty(), "integer: not a number");
  }
  std::int64_t ns = 0;
  if (parse_timestamp(input, ns).empty()) {
    check(ns >= earliest_timestamp_ms * 1'000'000 && ns < latest_timestamp_ms * 1'000'000,
          "timestamp: outside 1900-2149");
    std::int64_t back = 0;
    const std::string text = format_timestamp(ns);
    check(parse_timestamp(text, back).empty() && back == ns,
          "timestamp: '" + text + "' reads back wrong");
  }
}

}  // namespace msync::fuzz
