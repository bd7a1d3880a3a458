#pragma once
// Opening an input file: one rule for every reader (docs/design.md 5.2), so that a missing file, a
// directory named where a file is expected and an unreadable file are reported alike.
#include <filesystem>
#include <optional>
#include <string>

#include "marginsync/errors.hpp"

namespace msync {

// Why `path` cannot be an input file ("is a directory, expected a file": a directory opens on
// Linux and reads as empty; "file not found"), or empty when it may be one (opening it may still
// fail: "cannot be read"). Opens nothing, so a named pipe is not waited on.
std::string input_file_problem(const std::filesystem::path& path);

// The whole file as text, or nothing with a problem recorded (missing, unreadable, a directory).
std::optional<std::string> read_text_file(const std::filesystem::path& path,
                                          problem_list& problems);

}  // namespace msync
