#pragma once
// Output files: every file a command writes goes through atomic_file (docs/design.md 4.1, 7.10):
// written under a temporary name in the file's own directory, "<name>.tmp.<pid>.<6 random
// characters>", created exclusively (mkstemp: O_CREAT|O_EXCL, so nothing planted there is
// followed) with the mode of a new file (0666 less the umask); commit() flushes and fsyncs it,
// renames it onto its path (a symlink there is replaced, never followed) and fsyncs the
// directory. A file that exists is complete; one never committed (an exception, a write that
// failed, SIGINT/SIGTERM: see signal_cleanup.hpp) leaves no temporary behind.
#include <sys/types.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "io/sha256.hpp"
#include "io/signal_cleanup.hpp"
#include "marginsync/stopwatch.hpp"

namespace msync {

// A file's size and content hash, as a run's manifest lists it.
struct file_digest {
  std::uint64_t bytes = 0;
  std::string sha256;  // 64 lowercase hex digits
};

class atomic_file {
 public:
  // Creates the temporary; removes first the temporaries of `path` that a killed process left
  // (their pid no longer runs). Throws std::runtime_error naming `path`.
  explicit atomic_file(std::filesystem::path path);
  atomic_file(const atomic_file&) = delete;
  atomic_file& operator=(const atomic_file&) = delete;
  ~atomic_file();

  void write(const char* data, std::size_t n);
  void write(std::string_view s) { write(s.data(), s.size()); }

  // Flushes, fsyncs, renames onto the path, fsyncs the directory; the file's digest is then
  // recorded for the run's manifest (committed_digest).
  void commit();
  const std::filesystem::path& temporary_path() const { return tmp_; }

 private:
  [[noreturn]] void fail(int error);

  std::filesystem::path path_, tmp_;
  std::FILE* file_ = nullptr;
  sha256 hash_;
  std::uint64_t bytes_ = 0;
  std::unique_ptr<removed_on_signal> on_signal_;
  bool committed_ = false;
};

// The digest of a file this process committed through atomic_file at `path`, if any.
std::optional<file_digest> committed_digest(const std::filesystem::path& path);

// Whether `name` is the temporary of an output named `output`: "<output>.tmp.<pid>.<suffix>"
// (and the "<output>.tmp.<pid>" of earlier versions). `pid` receives the writer's pid.
bool temporary_name_of(const std::string& name, const std::string& output, long* pid = nullptr);

// Removes the temporaries of `output` in `dir` whose writer no longer runs (a killed run's).
void remove_stale_temporaries(const std::filesystem::path& dir, const std::string& output);

// fsync of a directory, so that a rename or a removal in it survives a crash.
void sync_directory(const std::filesystem::path& dir);

// A file written in place as a run goes, each append whole or not at all (a stream's events.jsonl
// and ticks.csv, docs/design.md 8.8): created exclusively (no file, no symlink of that name may
// exist), written unbuffered; an append that fails is cut back off, so that the file ends after
// the last whole append, and the file refuses every later append.
class appending_file {
 public:
  explicit appending_file(const std::filesystem::path& path);  // throws, naming the file
  appending_file(const appending_file&) = delete;
  appending_file& operator=(const appending_file&) = delete;
  ~appending_file();

  // False when the text could not be written whole (then error() says why, naming the file).
  bool append(std::string_view text);
  // fsync; false (and error()) when it fails.
  bool sync();
  // Takes back the appends after the first `bytes` (an update whose other file failed); the
  // file then refuses every later append. False (and error()) when it cannot be cut.
  bool take_back_to(std::uint64_t bytes, const std::string& why);
  bool failed() const { return !error_.empty(); }
  const std::string& error() const { return error_; }
  std::uint64_t bytes() const { return bytes_; }

 private:
  void fail(int error);

  std::filesystem::path path_;
  int fd_ = -1;
  std::uint64_t bytes_ = 0;  // the whole appends written
  std::string error_;
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

// A directory only this process uses (`bench`'s generated book and stream, the CSV staging of
// `generate --snapshot`): created by mkdtemp as "<parent>/marginsync-<purpose>.tmp.<pid>.XXXXXX"
// (mode 0700, a fresh unpredictable name, so nothing planted in a shared /tmp is followed),
// removed with what it holds when this object goes, on SIGINT/SIGTERM/SIGHUP (the files named
// through file()), and by a later one of the same purpose in the same parent when its pid no
// longer runs (a SIGKILL). Throws std::runtime_error.
void remove_stale_private_directories(const std::filesystem::path& parent,
                                      const std::string& purpose);

class private_directory {
 public:
  private_directory(const std::filesystem::path& parent, const std::string& purpose);
  private_directory(const private_directory&) = delete;
  private_directory& operator=(const private_directory&) = delete;
  ~private_directory();

  const std::filesystem::path& path() const { return path_; }
  // The path of a file in it, removed on a signal too.
  std::filesystem::path file(const std::string& name);

 private:
  std::filesystem::path path_;
  std::unique_ptr<removed_on_signal> self_;
  std::vector<std::unique_ptr<removed_on_signal>> files_;
};

// The --out directory of one run (docs/design.md 7.10). Every run keeps a marker,
// `.marginsync-run` (JSON: command, version, started, run_id, complete, files, and once complete
// a manifest of each file's bytes and sha256), in its directory:
//  - a directory that does not exist or is empty is created and claimed;
//  - one whose marker names the same command is a re-run: the earlier run's files are removed
//    at claim, so that the directory never holds files of two runs;
//  - one whose marker names another command is refused unless `force`: then the files its marker
//    lists are removed first;
//  - one holding any file marginsync did not write (not in the marker, or no marker at all) is
//    refused, with or without `force`: nothing the tool did not write is ever deleted.
// Throws output_directory_refused (exit 2) or std::runtime_error (cannot create or write: exit 1).
class output_directory {
 public:
  static constexpr const char* marker_name = ".marginsync-run";

  output_directory(std::filesystem::path dir, std::string command, std::string started,
                   std::string run_id, bool force);

  const std::filesystem::path& path() const { return dir_; }
  const std::string& run_id() const { return run_id_; }
  // The path of an output file of this run, recorded in the marker (for files written by other
  // means than write(), e.g. streams written as the run goes).
  std::filesystem::path file(const std::string& name);
  // Writes one output file atomically and records it.
  void write(const std::string& name, std::string_view content);
  // The run is complete: rewrites the marker, last, with "complete": true and the manifest
  // (each file's bytes and sha256). Throws std::runtime_error when a file cannot be read back.
  void finish();

 private:
  // "complete": true with `manifest`, false without; `files` lists `listed`, or this run's files.
  void write_marker(const nlohmann::ordered_json* manifest,
                    const std::vector<std::string>* listed = nullptr) const;

  std::filesystem::path dir_;
  std::string command_, started_, run_id_;
  std::vector<std::string> written_;  // this run's files, in order of first write
};

// 32 random hex digits: the id of one run, in its marker and its summary's provenance.
std::string new_run_id();

// What every summary.json begins with (docs/design.md, "Command line"): the run that wrote it.
struct run_provenance {
  std::string command_line;           // argv joined, shell-quoted where needed
  std::string book;                   // --book, or "generated"
  std::optional<std::uint64_t> seed;  // none: scenarios from a file
  std::string method;                 // full | delta_gamma
  std::optional<double> confidence;
  std::optional<std::int64_t> scenarios;
  std::string started;  // ISO 8601 UTC with milliseconds
  std::string run_id;   // new_run_id(): the same in the run's marker
  int ranks = 1;        // processes the run was split between (mpirun); written when more than 1
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
void append_id(std::string& out, std::string_view id);

}  // namespace msync
