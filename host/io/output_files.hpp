#pragma once
// Output files: every file a command writes goes through atomic_file, written under a temporary
// name ("<path>.tmp.<pid>") and renamed onto its path by commit(), so that a file that exists is
// complete (docs/design.md, "Outputs"); removed if never committed (an exception on the way).
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "marginsync/stopwatch.hpp"

namespace msync {

class atomic_file {
 public:
  explicit atomic_file(std::filesystem::path path)
      : path_(std::move(path)),
        tmp_(path_.string() + ".tmp." + std::to_string(static_cast<long long>(::getpid()))) {
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

// An output directory refused to a run (another command's results, or files marginsync did not
// write): a usage error, exit status 2.
class output_directory_refused : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The --out directory of one run (docs/design.md, "Command line"). Every run keeps a marker,
// `.marginsync-run` (JSON: command, version, started, complete, files), in its directory:
//  - a directory that does not exist or is empty is created and claimed;
//  - one whose marker names the same command is a re-run: its files are replaced, and those of
//    the earlier run that this run does not write again are removed by finish();
//  - one whose marker names another command is refused unless `force`: then the files its marker
//    lists are removed first;
//  - one holding any file marginsync did not write (not in the marker, or no marker at all) is
//    refused, with or without `force`: nothing the tool did not write is ever deleted.
// Throws output_directory_refused (exit 2) or std::runtime_error (cannot create or write: exit 1).
class output_directory {
 public:
  static constexpr const char* marker_name = ".marginsync-run";

  output_directory(std::filesystem::path dir, std::string command, std::string started, bool force);

  const std::filesystem::path& path() const { return dir_; }
  // The path of an output file of this run, recorded in the marker (for files written by other
  // means than write(), e.g. streams written as the run goes).
  std::filesystem::path file(const std::string& name);
  // Writes one output file atomically and records it.
  void write(const std::string& name, std::string_view content);
  // The run is complete: removes the earlier run's files this run did not write again, and
  // rewrites the marker with the files of this run.
  void finish();

 private:
  void write_marker(bool complete) const;

  std::filesystem::path dir_;
  std::string command_, started_;
  std::vector<std::string> written_;   // this run's files, in order of first write
  std::vector<std::string> previous_;  // the earlier run's (same command), removed at finish
};

// What every summary.json begins with (docs/design.md, "Command line"): the run that wrote it.
struct run_provenance {
  std::string command_line;           // argv joined, shell-quoted where needed
  std::string book;                   // --book, or "generated"
  std::optional<std::uint64_t> seed;  // none: scenarios from a file
  std::string method;                 // full | delta_gamma
  std::optional<double> confidence;
  std::optional<std::int64_t> scenarios;
  std::string started;  // ISO 8601 UTC with milliseconds
  stopwatch clock;      // since the process started: wall_seconds
};

// JSON text never throws on a string that is not UTF-8 (a path; an id, should a reader let one
// through): such bytes are written as U+FFFD. Ids are UTF-8 by the rule of every reader
// (io/id_rules.hpp); this is the second line of defence. Pass to every dump().
constexpr auto json_replace = nlohmann::json::error_handler_t::replace;

// The provenance block, its wall_seconds measured now.
nlohmann::ordered_json provenance_json(const run_provenance& p);

// A summary document: {"provenance": ..., then the keys of `body` in their order}, indented by
// 2, with a final newline. Non-finite numbers are written as null.
std::string summary_document(const run_provenance& p, const nlohmann::json& body);
std::string summary_document(const run_provenance& p, const nlohmann::ordered_json& body);

// The current time as ISO 8601 UTC with milliseconds: 2026-11-29T18:18:49.123Z.
std::string iso8601_utc_now();

// argv as one line a shell would read back: each argument single-quoted where it needs to be.
std::string shell_quoted_command_line(int argc, const char* const* argv);

// Appends an id to a CSV line as it was read: quoted (RFC 4180) only when it needs to be.
void append_id(std::string& out, const std::string& id);

}  // namespace msync
