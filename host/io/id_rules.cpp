#include "io/id_rules.hpp"

#include <cstdint>
#include <cstdio>

namespace msync {

namespace {

std::string at(const char* what, unsigned value, std::size_t offset, bool code_point) {
  char text[96];
  std::snprintf(text, sizeof text,
                code_point ? "%s U+%04X at offset %zu" : "%s 0x%02X at offset %zu", what, value,
                offset);
  return text;
}

}  // namespace

std::string id_text_problem(std::string_view id) {
  const auto* s = reinterpret_cast<const unsigned char*>(id.data());
  const std::size_t n = id.size();
  for (std::size_t i = 0; i < n;) {
    const unsigned c = s[i];
    if (c < 0x80) {
      if (c < 0x20 || c == 0x7f) return at("not text: control character", c, i, true);
      ++i;
      continue;
    }
    // The length of the sequence and the range of its code point (RFC 3629: no overlong forms, no
    // surrogates, nothing above U+10FFFF).
    std::size_t len;
    std::uint32_t cp, min;
    if (c >= 0xc2 && c <= 0xdf) {
      len = 2, cp = c & 0x1f, min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
      len = 3, cp = c & 0x0f, min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
      len = 4, cp = c & 0x07, min = 0x10000;
    } else {
      return at("not valid UTF-8: byte", c, i, false);
    }
    if (n - i < len) return at("not valid UTF-8: incomplete sequence from byte", c, i, false);
    for (std::size_t j = 1; j < len; ++j) {
      if ((s[i + j] & 0xc0) != 0x80) return at("not valid UTF-8: byte", s[i + j], i + j, false);
      cp = (cp << 6) | (s[i + j] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
      return at("not valid UTF-8: byte", c, i, false);
    if (cp >= 0x80 && cp <= 0x9f) return at("not text: control character", cp, i, true);
    i += len;
  }
  return {};
}

}  // namespace msync
