#include "io/output_files.hpp"

namespace msync {

void write_atomically(const std::filesystem::path& target, std::string_view content) {
  atomic_file out(target);
  out.write(content);
  out.commit();
}

void prepare_output_directory(const std::filesystem::path& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec || !std::filesystem::is_directory(dir))
    throw std::runtime_error("cannot create output directory " + dir.string() +
                             (ec ? ": " + ec.message() : ": a file of that name exists"));
  write_atomically(dir / ".marginsync-write-check", "");
  std::filesystem::remove(dir / ".marginsync-write-check", ec);
}

void append_id(std::string& out, const std::string& id) {
  if (id.find_first_of(",\"\n\r") == std::string::npos) {
    out += id;
    return;
  }
  out += '"';
  for (char c : id) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
}

}  // namespace msync
