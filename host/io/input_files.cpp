#include "io/input_files.hpp"

#include <fstream>
#include <sstream>
#include <system_error>
#include <utility>

#include "io/map_file.hpp"

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

file_bytes::file_bytes(file_bytes&& other) noexcept {
  *this = std::move(other);
}

file_bytes& file_bytes::operator=(file_bytes&& other) noexcept {
  if (this == &other) return *this;
  msync_os::unmap_file(mapped_, size_);
  mapped_ = std::exchange(other.mapped_, nullptr);
  size_ = std::exchange(other.size_, 0);
  text_ = std::move(other.text_);
  data_ = mapped_ ? static_cast<const char*>(mapped_) : text_.data();
  other.data_ = nullptr;
  return *this;
}

file_bytes::~file_bytes() {
  msync_os::unmap_file(mapped_, size_);
  mapped_ = nullptr;
}

std::optional<file_bytes> read_file_bytes(const std::filesystem::path& path,
                                          problem_list& problems) {
  file_bytes bytes;
  std::error_code ec;
  if (std::filesystem::is_regular_file(path, ec)) {
    std::size_t size = 0;
    if (void* address = msync_os::map_file(path.c_str(), size)) {
      bytes.mapped_ = address;
      bytes.size_ = size;
      bytes.data_ = static_cast<const char*>(address);
      return bytes;
    }
  }
  // Not mappable (a pipe, an empty file, no mmap): read like any input.
  std::optional<std::string> text = read_text_file(path, problems);
  if (!text) return std::nullopt;
  bytes.text_ = std::move(*text);
  bytes.size_ = bytes.text_.size();
  bytes.data_ = bytes.text_.data();
  return bytes;
}

}  // namespace msync
