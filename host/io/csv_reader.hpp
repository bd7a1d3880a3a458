#pragma once
// A CSV reader for the book files: header row, free column order, RFC 4180 quoting, CRLF or LF,
// a UTF-8 byte-order mark, empty lines skipped. The file is read whole once; fields are views into
// that buffer (an unquoted field is never copied), so parsing a million rows allocates nothing
// per field.
#include <cstddef>
#include <deque>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace msync {

class problem_list;

class csv_reader {
 public:
  // Reads the file. Returns false (with a problem recorded) when it is missing or unreadable or
  // has no header row.
  bool open(const std::filesystem::path& path, problem_list& problems);
  // The same for text already in memory; `name` labels the problems.
  bool open_text(std::string text, std::string name, problem_list& problems);

  const std::string& file_name() const noexcept { return name_; }
  // Index of a header column, or -1.
  int column(std::string_view name) const;
  // Index of a required column; records "missing required column" and returns -1 when absent.
  int require(std::string_view name, problem_list& problems) const;

  // The next non-empty record. Fields with the wrong count are reported and skipped, so callers
  // see only well-formed records. Returns false at the end of the file.
  bool next(problem_list& problems);
  long line() const noexcept { return line_; }
  std::string_view field(int index) const {
    return index < 0 ? std::string_view{} : fields_[index];
  }
  std::size_t header_size() const noexcept { return header_.size(); }

 private:
  bool split_record(problem_list& problems);

  std::string name_;
  std::string text_;
  std::size_t pos_ = 0;
  long line_ = 0;         // line of the current record (1-based)
  long header_line_ = 1;  // line of the header row
  long next_line_ = 1;    // line where the next record starts
  std::vector<std::string> header_;
  std::vector<std::string_view> fields_;
  // Quoted fields that needed unescaping; stable addresses, kept until the reader goes, because
  // callers keep views of fields (ids) across records.
  std::deque<std::string> unquoted_;
};

}  // namespace msync
