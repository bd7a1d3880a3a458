#pragma once
// Output files: every file a command writes goes through atomic_file, written under a temporary
// name ("<path>.tmp.<pid>") and renamed onto its path by commit(), so that a file that exists is
// complete (docs/design.md, "Outputs"); removed if never committed (an exception on the way).
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>

namespace msync {

class atomic_file {
 public:
  explicit atomic_file(std::filesystem::path path)
      : path_(std::move(path)), tmp_(path_.string() + ".tmp." + std::to_string(static_cast<long long>(::getpid()))) {
    file_ = std::fopen(tmp_.string().c_str(), "wb");
    if (!file_) fail();
  }
  atomic_file(const atomic_file&) = delete;
  atomic_file& operator=(const atomic_file&) = delete;
  ~atomic_file() {
    if (file_) std::fclose(file_);
    if (!committed_) {
      std::error_code ec;
      std::filesystem::remove(tmp_, ec);
    }
  }

  void write(const char* data, std::size_t n) {
    if (n > 0 && std::fwrite(data, 1, n, file_) != n) fail();
  }
  void write(std::string_view s) { write(s.data(), s.size()); }

  void commit() {
    const int rc = std::fclose(file_);
    file_ = nullptr;
    if (rc != 0) fail();
    std::error_code ec;
    std::filesystem::rename(tmp_, path_, ec);
    if (ec) throw std::runtime_error("cannot write " + path_.string() + ": " + ec.message());
    committed_ = true;
  }

 private:
  [[noreturn]] void fail() {
    throw std::runtime_error("cannot write " + path_.string() + ": " + std::strerror(errno));
  }

  std::filesystem::path path_, tmp_;
  std::FILE* file_ = nullptr;
  bool committed_ = false;
};

// The whole of `content` into `target` through an atomic_file. Throws std::runtime_error naming the
// file when it cannot be written.
void write_atomically(const std::filesystem::path& target, std::string_view content);

// Creates `dir` if needed and checks that a file can be written there, so that a bad --out fails
// before the computation rather than after it. Throws std::runtime_error naming the problem.
void prepare_output_directory(const std::filesystem::path& dir);

// Appends an id to a CSV line as it was read: quoted (RFC 4180) only when it needs to be.
void append_id(std::string& out, const std::string& id);

}  // namespace msync
