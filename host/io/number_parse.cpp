#include "io/number_parse.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>

#include "marginsync/errors.hpp"

namespace msync {

std::string parse_number(std::string_view text, double& out) {
  if (text.empty()) return "empty, expected a number";
  std::string_view body = text;
  if (body.front() == '+') body.remove_prefix(1);
  if (body.empty() || body.front() == '+' || (body.front() == '-' && text.front() == '+'))
    return quote_input(text) + " is not a number";
  const char* first = body.data();
  const char* last = body.data() + body.size();
  // from_chars would also accept "nan" and "inf"; the contract rejects them (docs/design.md section
  // 5).
  for (const char* c = first; c != last; ++c)
    if (!((*c >= '0' && *c <= '9') || *c == '.' || *c == '-' || *c == '+' || *c == 'e' ||
          *c == 'E'))
      return quote_input(text) + " is not a number";
  auto [end, ec] = std::from_chars(first, last, out, std::chars_format::general);
  if (ec == std::errc::result_out_of_range) return quote_input(text) + " is out of range";
  if (ec != std::errc() || end != last) return quote_input(text) + " is not a number";
  if (!std::isfinite(out)) return quote_input(text) + " is not finite";
  return {};
}

std::string parse_integer(std::string_view text, std::int64_t& out) {
  if (text.empty()) return "empty, expected a whole number";
  std::string_view body = text;
  if (body.front() == '+') body.remove_prefix(1);
  // One sign at most: from_chars would read the "-5" of "+-5".
  if (body.size() != text.size() && !body.empty() && body.front() == '-')
    return "'" + std::string(text) + "' is not a whole number";
  auto [end, ec] = std::from_chars(body.data(), body.data() + body.size(), out);
  if (ec == std::errc::result_out_of_range) return quote_input(text) + " is out of range";
  if (ec != std::errc() || end != body.data() + body.size())
    return quote_input(text) + " is not a whole number";
  return {};
}

namespace {
// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant, "chrono-Compatible Low-Level
// Date Algorithms", days_from_civil).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

void civil_from_days(std::int64_t z, std::int64_t& y, unsigned& m, unsigned& d) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  y = static_cast<std::int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y += m <= 2;
}

bool digits(std::string_view s, std::size_t at, std::size_t count, unsigned& out) {
  if (at + count > s.size()) return false;
  out = 0;
  for (std::size_t i = at; i < at + count; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    out = out * 10 + static_cast<unsigned>(s[i] - '0');
  }
  return true;
}

bool leap(std::int64_t y) {
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

std::string out_of_range(std::string_view text) {
  return quote_input(text) + " is outside the supported years 1900 to 2149";
}
}  // namespace

std::string parse_timestamp(std::string_view text, std::int64_t& out_ns) {
  if (text.empty()) return "empty, expected a timestamp";
  const bool all_digits =
      text.find_first_not_of("0123456789", text.front() == '-' ? 1 : 0) == std::string_view::npos;
  if (all_digits) {
    std::int64_t ms = 0;
    std::string why = parse_integer(text, ms);
    if (!why.empty()) return why;
    if (ms < earliest_timestamp_ms || ms >= latest_timestamp_ms) return out_of_range(text);
    out_ns = ms * 1'000'000;
    return {};
  }
  const std::string bad = quote_input(text) +
                          " is not a timestamp (expected ISO 8601 UTC such as "
                          "2026-11-24T08:00:00Z, or epoch milliseconds)";
  unsigned year, month, day, hour, minute, second;
  if (!digits(text, 0, 4, year) || text.size() < 20 || text[4] != '-' ||
      !digits(text, 5, 2, month) || text[7] != '-' || !digits(text, 8, 2, day) ||
      (text[10] != 'T' && text[10] != 't') || !digits(text, 11, 2, hour) || text[13] != ':' ||
      !digits(text, 14, 2, minute) || text[16] != ':' || !digits(text, 17, 2, second))
    return bad;
  std::size_t p = 19;
  std::int64_t fraction_ns = 0;
  if (p < text.size() && text[p] == '.') {
    ++p;
    std::size_t count = 0;
    std::int64_t scale = 100'000'000;
    while (p < text.size() && text[p] >= '0' && text[p] <= '9') {
      if (++count > 9) return quote_input(text) + " has more than 9 fractional digits";
      fraction_ns += (text[p] - '0') * scale;
      scale /= 10;
      ++p;
    }
    if (count == 0) return bad;
  }
  const std::string_view zone = text.substr(p);
  if (zone != "Z" && zone != "z" && zone != "+00:00")
    return quote_input(text) + " must be UTC (end in 'Z' or '+00:00')";
  static const unsigned month_days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (year < 1900 || year > 2149) return out_of_range(text);
  if (month < 1 || month > 12) return quote_input(text) + " has no month " + std::to_string(month);
  const unsigned last_day = month_days[month - 1] + (month == 2 && leap(year) ? 1 : 0);
  if (day < 1 || day > last_day || hour > 23 || minute > 59 || second > 59)
    return quote_input(text) + " is not a valid date and time";
  const std::int64_t days = days_from_civil(year, month, day);
  out_ns = ((days * 24 + hour) * 60 + minute) * 60'000'000'000LL +
           static_cast<std::int64_t>(second) * 1'000'000'000LL + fraction_ns;
  return {};
}

std::string format_timestamp(std::int64_t ns) {
  std::int64_t secs = ns / 1'000'000'000;
  std::int64_t frac = ns % 1'000'000'000;
  if (frac < 0) {
    frac += 1'000'000'000;
    --secs;
  }
  std::int64_t days = secs / 86400;
  std::int64_t rem = secs % 86400;
  if (rem < 0) {
    rem += 86400;
    --days;
  }
  std::int64_t y;
  unsigned m, d;
  civil_from_days(days, y, m, d);
  char buf[64];
  int len = std::snprintf(buf, sizeof buf, "%04lld-%02u-%02uT%02lld:%02lld:%02lld",
                          static_cast<long long>(y), m, d, static_cast<long long>(rem / 3600),
                          static_cast<long long>(rem / 60 % 60), static_cast<long long>(rem % 60));
  std::string out(buf, static_cast<std::size_t>(len));
  if (frac != 0) {
    char f[16];
    std::snprintf(f, sizeof f, ".%09lld", static_cast<long long>(frac));
    std::string fs(f);
    while (fs.back() == '0') fs.pop_back();
    out += fs;
  }
  out += 'Z';
  return out;
}

void append_number(std::string& out, double value) {
  if (std::isinf(value)) {
    out += value > 0 ? "inf" : "-inf";
    return;
  }
  if (std::isnan(value)) {
    out += "nan";
    return;
  }
  if (value == 0.0) value = 0.0;  // no "-0"
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
  out.append(buf, static_cast<std::size_t>(end - buf));
}

std::string format_number(double value) {
  std::string s;
  append_number(s, value);
  return s;
}

void append_fields(std::string& out, const double* values, std::size_t count) {
  for (std::size_t i = 0; i < count; ++i) {
    out += ',';
    append_number(out, values[i]);
  }
}

}  // namespace msync
