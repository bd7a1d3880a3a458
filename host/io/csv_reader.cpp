#include "io/csv_reader.hpp"

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
  std::optional<std::string> text = read_text_file(path, problems);
  return text && open_text(std::move(*text), name_, problems);
}

bool csv_reader::open_text(std::string text, std::string name, problem_list& problems) {
  name_ = std::move(name);
  text_ = std::move(text);
  pos_ = 0;
  next_line_ = 1;
  if (text_.compare(0, 3, "\xEF\xBB\xBF") == 0) pos_ = 3;  // UTF-8 byte-order mark

  // The header is the first non-empty line; its fields are copied (the buffer outlives them anyway,
  // but names are compared often and are few).
  if (!split_record(problems)) {
    problems.add(name_, 0, "", "empty file: expected a header row");
    return false;
  }
  header_line_ = line_;
  header_.clear();
  for (std::string_view f : fields_) header_.emplace_back(trim(f));
  for (std::size_t i = 0; i < header_.size(); ++i)
    for (std::size_t j = 0; j < i; ++j)
      if (!header_[i].empty() && header_[i] == header_[j])
        problems.add(name_, line_, header_[i], "column appears twice in the header");
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

bool csv_reader::next(problem_list& problems) {
  while (split_record(problems)) {
    if (fields_.size() == header_.size()) return true;
    problems.add(name_, line_, "",
                 "row has " + std::to_string(fields_.size()) + " fields, the header has " +
                     std::to_string(header_.size()));
  }
  return false;
}

// Splits the next non-empty record into fields_. Handles quoted fields (which may hold commas,
// quotes written as "" and line breaks). Unquoted fields are trimmed of spaces and tabs.
bool csv_reader::split_record(problem_list& problems) {
  const std::size_t n = text_.size();
  for (;;) {
    if (pos_ >= n) return false;
    // Skip empty lines (LF or CRLF, possibly with only blanks).
    std::size_t p = pos_;
    while (p < n && (text_[p] == ' ' || text_[p] == '\t' || text_[p] == '\r')) ++p;
    if (p < n && text_[p] == '\n') {
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
  fields_.clear();  // unquoted_ is kept: id maps hold views into it for the reader's lifetime
  line_ = next_line_;
  std::size_t p = pos_;
  for (;;) {
    // One field starting at p.
    std::size_t q = p;
    while (q < n && (text_[q] == ' ' || text_[q] == '\t')) ++q;
    if (q < n && text_[q] == '"') {
      std::string value;
      bool escaped = false;
      std::size_t r = q + 1;
      const long start_line = next_line_;
      for (;;) {
        if (r >= n) {
          problems.add(name_, start_line, "", "quoted field is not closed");
          pos_ = n;
          return false;
        }
        if (text_[r] == '"') {
          if (r + 1 < n && text_[r + 1] == '"') {
            value.push_back('"');
            escaped = true;
            r += 2;
            continue;
          }
          break;
        }
        if (text_[r] == '\n') ++next_line_;
        value.push_back(text_[r]);
        ++r;
      }
      if (escaped || value.find('\n') != std::string::npos) {
        unquoted_.push_back(std::move(value));
        fields_.emplace_back(unquoted_.back());
      } else {
        fields_.emplace_back(text_.data() + q + 1, r - q - 1);
      }
      p = r + 1;
      while (p < n && (text_[p] == ' ' || text_[p] == '\t')) ++p;
      if (p < n && text_[p] != ',' && text_[p] != '\n' && text_[p] != '\r') {
        problems.add(name_, next_line_, "", "unexpected text after a closing quote");
        while (p < n && text_[p] != ',' && text_[p] != '\n') ++p;
      }
    } else {
      std::size_t r = p;
      while (r < n && text_[r] != ',' && text_[r] != '\n') ++r;
      std::string_view raw(text_.data() + p, r - p);
      if (!raw.empty() && raw.back() == '\r') raw.remove_suffix(1);
      fields_.push_back(trim(raw));
      p = r;
    }
    if (p < n && text_[p] == '\r') ++p;
    if (p >= n) {
      pos_ = n;
      ++next_line_;
      return true;
    }
    if (text_[p] == '\n') {
      pos_ = p + 1;
      ++next_line_;
      return true;
    }
    ++p;  // the comma
  }
}

}  // namespace msync
