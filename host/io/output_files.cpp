#include "io/output_files.hpp"

#include <algorithm>
#include <cmath>
#include <ctime>

namespace msync {

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

// "accounts.csv.tmp.1234": the temporary file of a listed output that a killed run left behind.
bool temporary_of(const std::string& name, const std::vector<std::string>& files) {
  for (const std::string& f : files) {
    const std::string prefix = f + ".tmp.";
    if (name.size() > prefix.size() && name.compare(0, prefix.size(), prefix) == 0 &&
        std::all_of(name.begin() + static_cast<std::ptrdiff_t>(prefix.size()), name.end(),
                    [](char c) { return c >= '0' && c <= '9'; }))
      return true;
  }
  return false;
}

void remove_file(const std::filesystem::path& p) {
  std::error_code ec;
  if (std::filesystem::is_regular_file(std::filesystem::symlink_status(p, ec)) ||
      std::filesystem::is_symlink(std::filesystem::symlink_status(p, ec)))
    std::filesystem::remove(p, ec);
  if (ec) throw std::runtime_error("cannot remove " + p.string() + ": " + ec.message());
}

}  // namespace

output_directory::output_directory(std::filesystem::path dir, std::string command,
                                   std::string started, bool force)
    : dir_(std::move(dir)), command_(std::move(command)), started_(std::move(started)) {
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
    if (std::filesystem::is_regular_file(marker)) {
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
    if (owner != command_) {
      if (!force)
        throw output_directory_refused("output directory " + dir_.string() +
                                       " holds the results of `marginsync " + owner +
                                       "`; give --force to replace them, or choose another --out");
      for (const std::string& name : entries)
        if (name != marker_name)
          remove_file(dir_ / name);  // all listed (or their temporaries): checked above
    } else {
      previous_ = listed;
      for (const std::string& name : entries)  // a killed run's temporaries
        if (temporary_of(name, listed)) remove_file(dir_ / name);
    }
  }
  write_marker(false);
}

std::filesystem::path output_directory::file(const std::string& name) {
  if (std::find(written_.begin(), written_.end(), name) == written_.end()) {
    written_.push_back(name);
    // Listed before it exists, so that a run killed while writing it leaves a directory the next
    // run recognises as marginsync's.
    if (std::find(previous_.begin(), previous_.end(), name) == previous_.end()) write_marker(false);
  }
  return dir_ / name;
}

void output_directory::write(const std::string& name, std::string_view content) {
  write_atomically(file(name), content);
}

void output_directory::finish() {
  for (const std::string& name : previous_)
    if (std::find(written_.begin(), written_.end(), name) == written_.end())
      remove_file(dir_ / name);
  previous_.clear();
  write_marker(true);
}

void output_directory::write_marker(bool complete) const {
  nlohmann::ordered_json j;
  j["command"] = command_;
  j["version"] = MSYNC_VERSION;
  j["started"] = started_;
  j["complete"] = complete;
  nlohmann::ordered_json files = nlohmann::ordered_json::array();
  for (const std::string& name : written_) files.push_back(name);
  for (const std::string& name : previous_)
    if (std::find(written_.begin(), written_.end(), name) == written_.end()) files.push_back(name);
  j["files"] = files;
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
