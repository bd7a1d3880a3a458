#include "io/input_files.hpp"

#include <fstream>
#include <sstream>
#include <system_error>
#include <utility>

#include "io/mapped_file.hpp"

namespace msync {

std::string input_file_problem(const std::filesystem::path& path) {
  std::error_code ec;
  const std::filesystem::file_status status = std::filesystem::status(path, ec);
  if (std::filesystem::is_directory(status)) return "is a directory, expected a file";
  if (!std::filesystem::exists(status)) return "file not found";
  return {};
}

std::optional<std::string> read_text_file(const std::filesystem::path& path,
                                          problem_list& problems) {
  const std::string name = path.string();
  if (std::string why = input_file_problem(path); !why.empty()) {
    problems.add(name, 0, "", why);
    return std::nullopt;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    problems.add(name, 0, "", "cannot be read");
    return std::nullopt;
  }
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return std::move(buffer).str();
}

std::optional<file_bytes> read_file_bytes(const std::filesystem::path& path,
                                          problem_list& problems) {
  file_bytes bytes;
  std::error_code ec;
  if (std::filesystem::is_regular_file(path, ec)) {
    int error = 0;
    auto mapped =
        msync_os::mapped_file::map(path.string(), error, msync_os::mapped_file::access::read_only);
    if (mapped && mapped->size() > 0) {
      bytes.mapped_ = std::move(mapped);
      return bytes;
    }
  }
  // Not mappable (a pipe, an empty file, no mmap): read like any input.
  std::optional<std::string> text = read_text_file(path, problems);
  if (!text) return std::nullopt;
  bytes.text_ = std::move(*text);
  return bytes;
}

}  // namespace msync
