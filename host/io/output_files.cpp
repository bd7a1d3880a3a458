#include "io/output_files.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <ctime>
#include <map>
#include <mutex>
#include <random>

namespace msync {

namespace {

// The umask, read once before main (no other thread yet), so that a temporary gets the mode an
// ordinary new file would (mkstemp creates it 0600).
const mode_t process_umask = [] {
  const mode_t m = ::umask(0);
  ::umask(m);
  return m;
}();

std::mutex digests_mutex;
std::map<std::string, file_digest> digests;  // lexically normal absolute path -> digest

std::string digest_key(const std::filesystem::path& p) {
  std::error_code ec;
  return std::filesystem::absolute(p, ec).lexically_normal().string();
}

std::filesystem::path directory_of(const std::filesystem::path& p) {
  return p.has_parent_path() ? p.parent_path() : std::filesystem::path(".");
}

std::string error_text(int error) {
  return std::strerror(error);
}

// Whether process `pid` still runs (EPERM: it does, as another user).
bool running(long pid) {
  return pid == static_cast<long>(::getpid()) || ::kill(static_cast<pid_t>(pid), 0) == 0 ||
         errno == EPERM;
}

}  // namespace

bool temporary_name_of(const std::string& name, const std::string& output, long* pid) {
  const std::string prefix = output + ".tmp.";
  if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix) != 0) return false;
  std::size_t i = prefix.size(), digits = 0;
  long value = 0;
  for (; i < name.size() && name[i] >= '0' && name[i] <= '9' && digits < 10; ++i, ++digits)
    value = value * 10 + (name[i] - '0');
  if (digits == 0) return false;
  if (i < name.size()) {  // ".XXXXXX": mkstemp's six characters
    if (name[i] != '.' || name.size() - i - 1 != 6) return false;
    for (std::size_t j = i + 1; j < name.size(); ++j)
      if (!std::isalnum(static_cast<unsigned char>(name[j]))) return false;
  }
  if (pid) *pid = value;
  return true;
}

void remove_stale_temporaries(const std::filesystem::path& dir, const std::string& output) {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    long pid = 0;
    const std::string name = entry.path().filename().string();
    if (!temporary_name_of(name, output, &pid) || running(pid)) continue;
    std::error_code type_ec;
    const auto type = std::filesystem::symlink_status(entry.path(), type_ec).type();
    if (type == std::filesystem::file_type::regular || type == std::filesystem::file_type::symlink)
      std::filesystem::remove(entry.path(), type_ec);  // a link itself, never what it names
  }
}

void sync_directory(const std::filesystem::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    throw std::runtime_error("cannot open directory " + dir.string() + ": " + error_text(errno));
  const int rc = ::fsync(fd);
  const int error = errno;
  ::close(fd);
  // EINVAL: a file system that cannot sync a directory (its renames are then as durable as it
  // makes them).
  if (rc != 0 && error != EINVAL)
    throw std::runtime_error("cannot sync directory " + dir.string() + ": " + error_text(error));
}

atomic_file::atomic_file(std::filesystem::path path) : path_(std::move(path)) {
  const std::filesystem::path dir = directory_of(path_);
  remove_stale_temporaries(dir, path_.filename().string());
  std::string name =
      path_.string() + ".tmp." + std::to_string(static_cast<long long>(::getpid())) + ".XXXXXX";
  const int fd = ::mkostemp(name.data(), O_CLOEXEC);
  if (fd < 0) fail(errno);
  tmp_ = name;
  on_signal_ = std::make_unique<removed_on_signal>(name);
  if (::fchmod(fd, 0666 & ~process_umask) != 0 || !(file_ = ::fdopen(fd, "wb"))) {
    const int error = errno;
    ::close(fd);
    fail(error);
  }
}

atomic_file::~atomic_file() {
  if (file_) std::fclose(file_);
  if (!committed_ && !tmp_.empty()) ::unlink(tmp_.c_str());
}

void atomic_file::write(const char* data, std::size_t n) {
  if (!file_) throw std::logic_error("atomic_file: write after commit");
  if (n > 0 && std::fwrite(data, 1, n, file_) != n) fail(errno);
  hash_.update(data, n);
  bytes_ += n;
}

void atomic_file::commit() {
  if (std::fflush(file_) != 0 || ::fsync(::fileno(file_)) != 0) fail(errno);
  const int rc = std::fclose(file_);
  file_ = nullptr;
  if (rc != 0) fail(errno);
  // rename(2) replaces whatever has the name, a symlink included, without following it.
  if (::rename(tmp_.c_str(), path_.c_str()) != 0) fail(errno);
  committed_ = true;
  on_signal_.reset();
  sync_directory(directory_of(path_));
  const std::lock_guard<std::mutex> lock(digests_mutex);
  digests[digest_key(path_)] = file_digest{bytes_, hash_.hex_digest()};
}

void atomic_file::fail(int error) {
  throw std::runtime_error("cannot write " + path_.string() + ": " + error_text(error));
}

std::optional<file_digest> committed_digest(const std::filesystem::path& path) {
  const std::lock_guard<std::mutex> lock(digests_mutex);
  const auto it = digests.find(digest_key(path));
  if (it == digests.end()) return std::nullopt;
  return it->second;
}

appending_file::appending_file(const std::filesystem::path& path) : path_(path) {
  fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
  if (fd_ < 0) throw std::runtime_error("cannot write " + path.string() + ": " + error_text(errno));
}

appending_file::~appending_file() {
  if (fd_ >= 0) ::close(fd_);
}

bool appending_file::append(std::string_view text) {
  if (failed()) return false;
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd_, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      fail(n < 0 ? errno : ENOSPC);
      return false;
    }
    done += static_cast<std::size_t>(n);
  }
  bytes_ += text.size();
  return true;
}

bool appending_file::sync() {
  if (failed()) return false;
  if (::fsync(fd_) != 0) fail(errno);
  return !failed();
}

bool appending_file::take_back_to(std::uint64_t bytes, const std::string& why) {
  if (fd_ < 0 || bytes > bytes_) return false;
  bytes_ = bytes;
  if (::ftruncate(fd_, static_cast<off_t>(bytes_)) != 0) {
    fail(errno);
    return false;
  }
  error_ = why;
  return true;
}

void appending_file::fail(int error) {
  error_ = "cannot write " + path_.string() + ": " + error_text(error);
  // Cut the part of the failed append that got through, so that the file ends where the last
  // whole one did (a reader never sees half a line). Shrinking needs no space.
  if (::ftruncate(fd_, static_cast<off_t>(bytes_)) != 0)
    error_ += " (and it could not be cut back to its last whole line: " + error_text(errno) + ")";
}

void remove_stale_private_directories(const std::filesystem::path& parent,
                                      const std::string& purpose) {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(parent, ec)) {
    long pid = 0;
    const std::string name = entry.path().filename().string();
    if (!temporary_name_of(name, "marginsync-" + purpose, &pid) || running(pid)) continue;
    struct stat st {};
    // A real directory of this user's: a symlink of that name is left alone, as is another
    // user's directory in a shared /tmp.
    if (::lstat(entry.path().c_str(), &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != ::getuid())
      continue;
    std::error_code remove_ec;
    std::filesystem::remove_all(entry.path(), remove_ec);
  }
}

private_directory::private_directory(const std::filesystem::path& parent,
                                     const std::string& purpose) {
  remove_stale_private_directories(parent, purpose);
  std::string name = (parent / ("marginsync-" + purpose + ".tmp." +
                                std::to_string(static_cast<long long>(::getpid())) + ".XXXXXX"))
                         .string();
  if (!::mkdtemp(name.data()))
    throw std::runtime_error("cannot create a directory in " + parent.string() + ": " +
                             error_text(errno));
  path_ = name;
  self_ = std::make_unique<removed_on_signal>(name, true);
}

private_directory::~private_directory() {
  files_.clear();
  self_.reset();
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::filesystem::path private_directory::file(const std::string& name) {
  const std::filesystem::path p = path_ / name;
  files_.push_back(std::make_unique<removed_on_signal>(p.string()));
  return p;
}

void write_atomically(const std::filesystem::path& target, std::string_view content) {
  atomic_file out(target);
  out.write(content);
  out.commit();
}

namespace {

// A name a marker may list: a plain file name in the directory itself, nothing that leads out.
bool plain_name(const std::string& name) {
  return !name.empty() && name != "." && name != ".." && name.find('/') == std::string::npos &&
         name != output_directory::marker_name;
}

// The temporary file of a listed output (or of the marker) that a run left behind.
bool temporary_of(const std::string& name, const std::vector<std::string>& files) {
  if (temporary_name_of(name, output_directory::marker_name)) return true;
  for (const std::string& f : files)
    if (temporary_name_of(name, f)) return true;
  return false;
}

// Removes a file or a symlink (never what it names); one already gone is no error (a stale
// temporary that writing the marker has just removed).
void remove_file(const std::filesystem::path& p) {
  std::error_code ec;
  const auto type = std::filesystem::symlink_status(p, ec).type();
  if (type == std::filesystem::file_type::not_found) return;
  if (type == std::filesystem::file_type::regular || type == std::filesystem::file_type::symlink)
    std::filesystem::remove(p, ec);
  if (ec) throw std::runtime_error("cannot remove " + p.string() + ": " + ec.message());
}

}  // namespace

std::string new_run_id() {
  std::random_device random;
  std::string id;
  char part[9];
  for (int i = 0; i < 4; ++i) {
    std::snprintf(part, sizeof part, "%08x", static_cast<unsigned>(random()));
    id += part;
  }
  return id;
}

output_directory::output_directory(std::filesystem::path dir, std::string command,
                                   std::string started, std::string run_id, bool force)
    : dir_(std::move(dir)),
      command_(std::move(command)),
      started_(std::move(started)),
      run_id_(std::move(run_id)) {
  std::error_code ec;
  if (std::filesystem::exists(dir_, ec) && !std::filesystem::is_directory(dir_, ec))
    throw std::runtime_error("cannot create output directory " + dir_.string() +
                             ": a file of that name exists");
  std::filesystem::create_directories(dir_, ec);
  if (ec || !std::filesystem::is_directory(dir_))
    throw std::runtime_error("cannot create output directory " + dir_.string() +
                             (ec ? ": " + ec.message() : ""));

  std::vector<std::string> entries;
  for (const auto& entry : std::filesystem::directory_iterator(dir_, ec))
    entries.push_back(entry.path().filename().string());
  if (ec)
    throw std::runtime_error("cannot read output directory " + dir_.string() + ": " + ec.message());
  std::sort(entries.begin(), entries.end());

  if (!entries.empty()) {
    const std::filesystem::path marker = dir_ / marker_name;
    std::string owner;
    std::vector<std::string> listed;
    bool marked = false;
    if (std::filesystem::is_regular_file(std::filesystem::symlink_status(marker, ec))) {
      std::FILE* f = std::fopen(marker.string().c_str(), "rb");
      std::string text;
      if (f) {
        char buf[4096];
        for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;) text.append(buf, n);
        std::fclose(f);
      }
      const nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
      if (j.is_object() && j.contains("command") && j["command"].is_string()) {
        marked = true;
        owner = j["command"].get<std::string>();
        if (j.contains("files") && j["files"].is_array())
          for (const auto& name : j["files"])
            if (name.is_string() && plain_name(name.get<std::string>()))
              listed.push_back(name.get<std::string>());
      }
    }
    if (!marked)
      throw output_directory_refused("output directory " + dir_.string() +
                                     " is not empty and holds no marginsync run (" +
                                     entries.front() + " is there); choose a new or empty --out");
    for (const std::string& name : entries)
      if (name != marker_name && std::find(listed.begin(), listed.end(), name) == listed.end() &&
          !temporary_of(name, listed))
        throw output_directory_refused(
            "output directory " + dir_.string() + " holds " + name +
            ", which marginsync did not write; it is never removed, even with --force: "
            "move it or choose another --out");
    if (owner != command_ && !force)
      throw output_directory_refused("output directory " + dir_.string() +
                                     " holds the results of `marginsync " + owner +
                                     "`; give --force to replace them, or choose another --out");
    // The earlier run's files go before this run writes any, so that the directory never holds
    // files of two runs: what is there after a failure or a kill is this run's, and the marker
    // says it is incomplete. A temporary whose writer still runs is left to it.
    // First the marker says the set is incomplete, still listing the earlier files, so that a
    // kill while removing them leaves a directory the next run recognises (and no reader trusts).
    write_marker(nullptr, &listed);
    for (const std::string& name : entries) {
      long pid = 0;
      bool temporary = false;
      if (name == marker_name) continue;
      for (const std::string& f : listed) temporary = temporary || temporary_name_of(name, f, &pid);
      if (!temporary) temporary = temporary_name_of(name, marker_name, &pid);
      if (temporary && running(pid)) continue;
      remove_file(dir_ / name);  // listed (or a listed file's temporary): checked above
    }
    sync_directory(dir_);
  }
  write_marker(nullptr);
}

std::filesystem::path output_directory::file(const std::string& name) {
  if (std::find(written_.begin(), written_.end(), name) == written_.end()) {
    written_.push_back(name);
    // Listed before it exists, so that a run killed while writing it leaves a directory the next
    // run recognises as marginsync's.
    write_marker(nullptr);
  }
  return dir_ / name;
}

void output_directory::write(const std::string& name, std::string_view content) {
  write_atomically(file(name), content);
}

void output_directory::finish() {
  nlohmann::ordered_json manifest = nlohmann::ordered_json::object();
  for (const std::string& name : written_) {
    const std::filesystem::path p = dir_ / name;
    std::error_code ec;
    if (!std::filesystem::exists(std::filesystem::symlink_status(p, ec)))
      continue;  // named but not written (a stream stopped before its first update)
    std::optional<file_digest> d = committed_digest(p);
    if (!d) {  // written in place (a stream's events.jsonl): read back
      d.emplace();
      d->sha256 = sha256_of_file(p.string(), &d->bytes);
    }
    manifest[name] = {{"bytes", d->bytes}, {"sha256", d->sha256}};
  }
  write_marker(&manifest);
}

void output_directory::write_marker(const nlohmann::ordered_json* manifest,
                                    const std::vector<std::string>* listed) const {
  nlohmann::ordered_json j;
  j["command"] = command_;
  j["version"] = MSYNC_VERSION;
  j["started"] = started_;
  j["run_id"] = run_id_;
  j["complete"] = manifest != nullptr;
  nlohmann::ordered_json files = nlohmann::ordered_json::array();
  for (const std::string& name : listed ? *listed : written_) files.push_back(name);
  j["files"] = files;
  if (manifest) j["manifest"] = *manifest;
  write_atomically(dir_ / marker_name, j.dump(2, ' ', false, json_replace) + "\n");
}

std::string iso8601_utc_now() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t seconds = std::chrono::system_clock::to_time_t(now);
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[80];  // room for any int the compiler assumes the fields may hold
  std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", utc.tm_year + 1900,
                utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
                static_cast<int>(ms));
  return text;
}

std::string shell_quoted_command_line(int argc, const char* const* argv) {
  std::string line;
  for (int i = 0; i < argc; ++i) {
    const std::string arg = argv[i];
    if (i > 0) line += ' ';
    const bool plain = !arg.empty() && arg.find_first_not_of(
                                           "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                           "0123456789_@%+=:,./-") == std::string::npos;
    if (plain) {
      line += arg;
      continue;
    }
    line += '\'';
    for (char c : arg) {
      if (c == '\'')
        line += "'\\''";
      else
        line += c;
    }
    line += '\'';
  }
  return line;
}

nlohmann::ordered_json provenance_json(const run_provenance& p) {
  nlohmann::ordered_json j;
  j["version"] = MSYNC_VERSION;
  j["command_line"] = p.command_line;
  j["book"] = p.book;
  j["seed"] = p.seed ? nlohmann::ordered_json(*p.seed) : nlohmann::ordered_json(nullptr);
  j["method"] =
      p.method.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(p.method);
  j["confidence"] =
      p.confidence ? nlohmann::ordered_json(*p.confidence) : nlohmann::ordered_json(nullptr);
  j["scenarios"] =
      p.scenarios ? nlohmann::ordered_json(*p.scenarios) : nlohmann::ordered_json(nullptr);
  j["started"] = p.started;
  if (!p.run_id.empty()) j["run_id"] = p.run_id;
  if (p.ranks > 1) j["ranks"] = p.ranks;
  j["wall_seconds"] = p.clock.seconds();
  return j;
}

std::string summary_document(const run_provenance& p, const nlohmann::ordered_json& body) {
  nlohmann::ordered_json j;
  j["provenance"] = provenance_json(p);
  for (auto it = body.begin(); it != body.end(); ++it)
    if (it.key() != "provenance") j[it.key()] = it.value();
  return j.dump(2, ' ', false, json_replace) + "\n";
}

std::string summary_document(const run_provenance& p, const nlohmann::json& body) {
  // The body's keys keep the order they have always been written in (nlohmann::json sorts them);
  // its text read back as an ordered_json keeps that order and every number exactly.
  return summary_document(p,
                          nlohmann::ordered_json::parse(body.dump(-1, ' ', false, json_replace)));
}

void append_id(std::string& out, std::string_view id) {
  if (id.find_first_of(",\"\n\r") == std::string_view::npos) {
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
