#include "io/csv_reader.hpp"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "io/input_files.hpp"
#include "marginsync/errors.hpp"

namespace msync {

namespace {
std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}
}  // namespace

bool csv_reader::open(const std::filesystem::path& path, problem_list& problems) {
  name_ = path.string();
  file_ = read_file_bytes(path, problems);
  return file_ && read_header(file_->view(), problems);
}

bool csv_reader::open_text(std::string text, std::string name, problem_list& problems) {
  name_ = std::move(name);
  owned_text_ = std::move(text);
  return read_header(owned_text_, problems);
}

bool csv_reader::read_header(std::string_view text, problem_list& problems) {
  text_ = text;
  std::size_t begin = 0;
  if (text_.substr(0, 3) == "\xEF\xBB\xBF") begin = 3;  // UTF-8 byte-order mark
  rows_ = records(begin, text_.size(), 1);
  rows_.header_size_ = 0;  // the header row has any number of fields

  // The header is the first non-empty line; its fields are copied (the buffer outlives them anyway,
  // but names are compared often and are few).
  if (!rows_.split_record(problems)) {
    problems.add(name_, 0, "", "empty file: expected a header row");
    return false;
  }
  header_line_ = rows_.line();
  header_.clear();
  for (std::string_view f : rows_.fields_) header_.emplace_back(trim(f));
  for (std::size_t i = 0; i < header_.size(); ++i)
    for (std::size_t j = 0; j < i; ++j)
      if (!header_[i].empty() && header_[i] == header_[j])
        problems.add(name_, header_line_, header_[i], "column appears twice in the header");
  rows_.header_size_ = header_.size();
  records_begin_ = rows_.stop();
  records_line_ = rows_.stop_line();
  return true;
}

int csv_reader::column(std::string_view name) const {
  for (std::size_t i = 0; i < header_.size(); ++i)
    if (header_[i] == name) return static_cast<int>(i);
  return -1;
}

int csv_reader::require(std::string_view name, problem_list& problems) const {
  const int index = column(name);
  if (index < 0) problems.add(name_, header_line_, std::string(name), "missing required column");
  return index;
}

csv_records csv_reader::records(std::size_t begin, std::size_t end, long line,
                                std::size_t lines) const {
  csv_records r;
  r.name_ = &name_;
  r.text_ = text_;
  r.header_size_ = header_.size();
  r.pos_ = begin;
  r.end_ = end;
  r.next_line_ = line;
  r.lines_ = lines;
  return r;
}

bool csv_records::next(problem_list& problems) {
  while (split_record(problems)) {
    if (fields_.size() == header_size_) return true;
    problems.add(*name_, line_, "",
                 "row has " + std::to_string(fields_.size()) + " fields, the header has " +
                     std::to_string(header_size_));
  }
  return false;
}

namespace {
// The positions of the bytes ',', '"' and '\n' among the 16 at `p`, one bit each.
#if defined(__SSE2__)
unsigned delimiters16(const char* p) {
  const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  const __m128i hits = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(bytes, _mm_set1_epi8(',')),
                                                 _mm_cmpeq_epi8(bytes, _mm_set1_epi8('"'))),
                                    _mm_cmpeq_epi8(bytes, _mm_set1_epi8('\n')));
  return static_cast<unsigned>(_mm_movemask_epi8(hits));
}
#else
unsigned delimiters16(const char* p) {
  unsigned bits = 0;
  for (unsigned i = 0; i < 16; ++i)
    if (p[i] == ',' || p[i] == '"' || p[i] == '\n') bits |= 1u << i;
  return bits;
}
#endif
}  // namespace

// The common record, a line without quotes, in one pass that looks at 16 bytes at a time: its
// fields are the text between commas (one '\r' before a comma or the line end dropped, then
// trimmed, as split_record does). False, with nothing consumed, when the line holds a quote.
bool csv_records::split_plain_line() {
  const std::string_view text = text_;
  const std::size_t n = text.size();
  std::size_t start = pos_;
  // (Bounds, not string_view temporaries: a view built in registers and stored whole would be
  // read back before its halves are written, a store-forwarding stall per field.)
  const auto add_field = [&](std::size_t end) {
    std::size_t first = start;
    if (end > first && text[end - 1] == '\r') --end;
    while (first < end && (text[first] == ' ' || text[first] == '\t')) ++first;
    while (end > first && (text[end - 1] == ' ' || text[end - 1] == '\t')) --end;
    fields_.emplace_back(text.data() + first, end - first);
  };
  // Each delimiter in turn: a comma ends a field, a line break the record, a quote this path.
  const auto at = [&](std::size_t d) {
    if (text[d] == ',') {
      add_field(d);
      start = d + 1;
      return false;
    }
    return true;
  };
  std::size_t p = pos_;
  for (;; p += 16) {
    std::size_t d = n;
    if (p + 16 <= n) {
      for (unsigned bits = delimiters16(text.data() + p); bits != 0; bits &= bits - 1)
        if (at(d = p + static_cast<std::size_t>(__builtin_ctz(bits)))) break;
      if (d == n || text[d] == ',') continue;
    } else {
      for (d = p; d < n; ++d)
        if ((text[d] == ',' || text[d] == '"' || text[d] == '\n') && at(d)) break;
      if (d == n) {
        add_field(n);
        pos_ = n;
        ++next_line_;
        return true;
      }
    }
    if (text[d] == '"') return false;
    add_field(d);  // the line break
    pos_ = d + 1;
    ++next_line_;
    return true;
  }
}

// Splits the next non-empty record into fields_. Handles quoted fields (which may hold commas,
// quotes written as "" and line breaks). Unquoted fields are trimmed of spaces and tabs. A record
// belongs to this range when it starts before end_; it is read to its end wherever that is.
bool csv_records::split_record(problem_list& problems) {
  const std::string_view text = text_;
  const std::size_t n = text.size();
  for (;;) {
    if (pos_ >= end_) return false;
    // Skip empty lines (LF or CRLF, possibly with only blanks).
    std::size_t p = pos_;
    while (p < n && (text[p] == ' ' || text[p] == '\t' || text[p] == '\r')) ++p;
    if (p < n && text[p] == '\n') {
      pos_ = p + 1;
      ++next_line_;
      continue;
    }
    if (p >= n) {
      pos_ = n;
      return false;
    }
    break;
  }
  fields_.clear();  // unquoted_ is kept: id maps hold views into it for the cursor's lifetime
  line_ = next_line_;
  if (split_plain_line()) return true;
  fields_.clear();
  std::size_t p = pos_;
  for (;;) {
    // One field starting at p.
    std::size_t q = p;
    while (q < n && (text[q] == ' ' || text[q] == '\t')) ++q;
    if (q < n && text[q] == '"') {
      std::string value;
      bool escaped = false;
      std::size_t r = q + 1;
      const long start_line = next_line_;
      for (;;) {
        if (r >= n) {
          problems.add(*name_, start_line, "", "quoted field is not closed");
          pos_ = n;
          return false;
        }
        if (text[r] == '"') {
          if (r + 1 < n && text[r + 1] == '"') {
            value.push_back('"');
            escaped = true;
            r += 2;
            continue;
          }
          break;
        }
        if (text[r] == '\n') ++next_line_;
        value.push_back(text[r]);
        ++r;
      }
      if (escaped || value.find('\n') != std::string::npos) {
        unquoted_.push_back(std::move(value));
        fields_.emplace_back(unquoted_.back());
      } else {
        fields_.emplace_back(text.data() + q + 1, r - q - 1);
      }
      p = r + 1;
      while (p < n && (text[p] == ' ' || text[p] == '\t')) ++p;
      if (p < n && text[p] != ',' && text[p] != '\n' && text[p] != '\r') {
        problems.add(*name_, next_line_, "", "unexpected text after a closing quote");
        while (p < n && text[p] != ',' && text[p] != '\n') ++p;
      }
    } else {
      std::size_t r = p;
      while (r < n && text[r] != ',' && text[r] != '\n') ++r;
      std::string_view raw(text.data() + p, r - p);
      if (!raw.empty() && raw.back() == '\r') raw.remove_suffix(1);
      fields_.push_back(trim(raw));
      p = r;
    }
    if (p < n && text[p] == '\r') ++p;
    if (p >= n) {
      pos_ = n;
      ++next_line_;
      return true;
    }
    if (text[p] == '\n') {
      pos_ = p + 1;
      ++next_line_;
      return true;
    }
    ++p;  // the comma
  }
}

}  // namespace msync
