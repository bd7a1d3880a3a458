#pragma once
// Opening an input file: one rule for every reader (docs/design.md 5.2), so that a missing file, a
// directory named where a file is expected and an unreadable file are reported alike.
#include <cstddef>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "io/mapped_file.hpp"
#include "marginsync/errors.hpp"

namespace msync {

// Why `path` cannot be an input file ("is a directory, expected a file": a directory opens on
// Linux and reads as empty; "file not found"), or empty when it may be one (opening it may still
// fail: "cannot be read"). Opens nothing, so a named pipe is not waited on.
std::string input_file_problem(const std::filesystem::path& path);

// The whole file as text, or nothing with a problem recorded (missing, unreadable, a directory).
std::optional<std::string> read_text_file(const std::filesystem::path& path,
                                          problem_list& problems);

// A whole file in memory, for the large inputs (positions.csv is hundreds of MB): a regular file
// is mapped (the page cache's pages used in place: no copy, and no fresh pages to zero), anything
// else read.
class file_bytes {
 public:
  file_bytes() = default;
  std::string_view view() const noexcept {
    return mapped_ ? std::string_view(mapped_->data(), mapped_->size()) : std::string_view(text_);
  }

 private:
  friend std::optional<file_bytes> read_file_bytes(const std::filesystem::path&, problem_list&);
  std::shared_ptr<msync_os::mapped_file> mapped_;  // the mapping, when mapped
  std::string text_;                               // the text, when read (a pipe, an empty file)
};
// The same rules and problems as read_text_file.
std::optional<file_bytes> read_file_bytes(const std::filesystem::path& path,
                                          problem_list& problems);

}  // namespace msync
