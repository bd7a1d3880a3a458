#pragma once
// A CSV reader for the book files: header row, free column order, RFC 4180 quoting, CRLF or LF,
// a UTF-8 byte-order mark, empty lines skipped. The file is read whole once; fields are views into
// that buffer (an unquoted field is never copied), so parsing a million rows allocates nothing
// per field.
//
// The records after the header can also be read in parts on several threads (read_csv_in_parts,
// io/csv_parts.hpp): each part is a csv_records cursor over a byte range of the same buffer.
#include <cstddef>
#include <deque>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "io/input_files.hpp"

namespace msync {

class problem_list;

// A cursor over the records that start in one byte range of a file's text: next() reads them in
// order, the last one possibly running past the range (a quoted line break). Fields are views into
// the text, or into this cursor's own copies of quoted fields that needed unescaping: views stay
// valid while the cursor lives.
class csv_records {
 public:
  // The next non-empty record that starts before the end of the range. Records with the wrong
  // number of fields are reported and skipped, so callers see only well-formed records. Returns
  // false at the end of the range or of the file.
  bool next(problem_list& problems);
  const std::string& file_name() const noexcept { return *name_; }
  long line() const noexcept { return line_; }
  std::string_view field(int index) const {
    return index < 0 ? std::string_view{} : fields_[index];
  }
  // Where reading stopped: the offset of the first record that is not this range's (the end of
  // the text when none), and its line.
  std::size_t stop() const noexcept { return pos_; }
  // At most how many records start in the range (its lines), to size the outputs.
  std::size_t lines() const noexcept { return lines_; }
  long stop_line() const noexcept { return next_line_; }

 private:
  friend class csv_reader;
  bool split_record(problem_list& problems);
  bool split_plain_line();

  const std::string* name_ = nullptr;
  std::string_view text_;
  std::size_t header_size_ = 0;
  std::size_t pos_ = 0;  // offset of the next record (or of empty lines before it)
  std::size_t end_ = 0;  // records starting at or after this offset belong to the next range
  long line_ = 0;        // line of the current record (1-based)
  long next_line_ = 1;   // line at pos_
  std::size_t lines_ = 0;
  std::vector<std::string_view> fields_;
  // Quoted fields that needed unescaping; stable addresses, kept until the cursor goes, because
  // callers keep views of fields (ids) across records.
  std::deque<std::string> unquoted_;
};

class csv_reader {
 public:
  csv_reader() = default;
  // Cursors point into the reader's name and text: it stays where it is.
  csv_reader(const csv_reader&) = delete;
  csv_reader& operator=(const csv_reader&) = delete;

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

  // The next non-empty record (csv_records::next). Returns false at the end of the file.
  bool next(problem_list& problems) { return rows_.next(problems); }
  long line() const noexcept { return rows_.line(); }
  std::string_view field(int index) const { return rows_.field(index); }
  std::size_t header_size() const noexcept { return header_.size(); }

  // Where the records after the header start (offset into the text, and line), and the text's
  // size: the span that read_csv_in_parts cuts.
  std::size_t records_begin() const noexcept { return records_begin_; }
  long records_line() const noexcept { return records_line_; }
  std::string_view text() const noexcept { return text_; }
  // A cursor over the records that start in [begin, end), `begin` being the start of a record at
  // line `line`, `lines` being the lines in the range. The reader's text must outlive it.
  csv_records records(std::size_t begin, std::size_t end, long line, std::size_t lines = 0) const;

 private:
  bool read_header(std::string_view text, problem_list& problems);

  std::string name_;
  std::optional<file_bytes> file_;  // the text of open()
  std::string owned_text_;          // the text of open_text()
  std::string_view text_;
  std::size_t records_begin_ = 0;
  long records_line_ = 1;
  std::vector<std::string> header_;
  long header_line_ = 1;  // line of the header row
  csv_records rows_;      // the reader's own cursor: header, then next()
};

}  // namespace msync
