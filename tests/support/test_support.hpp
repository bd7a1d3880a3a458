#pragma once
// Shared helpers of the test suite: temporary directories, small files, running the CLI, and
// reading output CSVs by key.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

namespace msync::test {

inline std::filesystem::path source_dir() {
  return MSYNC_SOURCE_DIR;
}
inline std::filesystem::path sample_book() {
  return source_dir() / "data" / "sample";
}

// A fresh directory under the system temp dir, removed with everything in it at scope exit.
class temp_dir {
 public:
  temp_dir() {
    static std::mt19937_64 rng(std::random_device{}());
    path_ = std::filesystem::temp_directory_path() / ("msync-test-" + std::to_string(rng()));
    std::filesystem::create_directories(path_);
  }
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

inline void write_file(const std::filesystem::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << text;
}

inline std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Copies the sample book into `dir` so that a test can break one file (marks.csv, optional, when
// the sample has one).
inline void copy_sample_book(const std::filesystem::path& dir) {
  for (const char* f :
       {"instruments.csv", "accounts.csv", "positions.csv", "market.json", "risk.json"})
    std::filesystem::copy_file(sample_book() / f, dir / f,
                               std::filesystem::copy_options::overwrite_existing);
  if (std::filesystem::exists(sample_book() / "marks.csv"))
    std::filesystem::copy_file(sample_book() / "marks.csv", dir / "marks.csv",
                               std::filesystem::copy_options::overwrite_existing);
}

// This build has AddressSanitizer (the debug preset): a few tests of the process's own limits
// cannot run under it, and say so.
#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool built_with_address_sanitizer = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
inline constexpr bool built_with_address_sanitizer = true;
#else
inline constexpr bool built_with_address_sanitizer = false;
#endif
#else
inline constexpr bool built_with_address_sanitizer = false;
#endif

struct command_result {
  int status = -1;
  std::string out;  // stdout and stderr together
};

// A path single-quoted for the shell command line of run_cli (test paths hold no quote).
inline std::string q(const std::filesystem::path& p) {
  return "'" + p.string() + "'";
}

// Runs the marginsync executable with `args` (a shell-quoted string), capturing its output.
inline command_result run_cli(const std::string& args) {
  command_result r;
  const std::string cmd = std::string("'") + MSYNC_CLI_PATH + "' " + args + " 2>&1";
  FILE* pipe = popen(cmd.c_str(), "r");
  if (!pipe) return r;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0) r.out.append(buf, n);
  const int raw = pclose(pipe);
  r.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  return r;
}

// A CSV file as rows of column -> text, keyed by the first column.
using csv_rows = std::map<std::string, std::map<std::string, std::string>>;

inline csv_rows read_csv_by_key(const std::filesystem::path& p) {
  csv_rows rows;
  std::istringstream in(read_file(p));
  std::string line;
  std::vector<std::string> header;
  auto split = [](const std::string& s) {
    std::vector<std::string> out;
    std::string cell;
    std::istringstream ls(s);
    while (std::getline(ls, cell, ',')) out.push_back(cell);
    if (!s.empty() && s.back() == ',') out.emplace_back();
    return out;
  };
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    if (header.empty()) {
      header = split(line);
      continue;
    }
    const auto cells = split(line);
    auto& row = rows[cells.at(0)];
    for (std::size_t i = 0; i < header.size() && i < cells.size(); ++i) row[header[i]] = cells[i];
  }
  return rows;
}

}  // namespace msync::test
