// The writers every output goes through (docs/design.md 4.1, 7.10): SHA-256 against FIPS 180-4
// vectors, atomic_file's exclusive random temporaries (mode of a new file, nothing left behind,
// a symlink at the final name replaced and never followed, a killed writer's temporaries
// recognised and removed), appending_file cut back to its last whole append when a write fails,
// private directories, and the run marker: previous files gone at claim, a manifest written last.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <nlohmann/json.hpp>

#include "io/output_files.hpp"
#include "io/sha256.hpp"
#include "test_support.hpp"

namespace msync {
namespace {

std::string sha(std::string_view s) {
  sha256 h;
  h.update(s);
  return h.hex_digest();
}

std::vector<std::string> names_in(const std::filesystem::path& dir) {
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

// A pid that runs no process: a child that has exited and been reaped.
long dead_pid() {
  const pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  ::waitpid(child, nullptr, 0);
  return child;
}

TEST(sha256, matches_the_fips_vectors_however_it_is_fed) {
  EXPECT_EQ(sha(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  const std::string two_blocks = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  EXPECT_EQ(sha(two_blocks), "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  const std::string million(1000000, 'a');
  sha256 pieces;  // fed in uneven pieces across block boundaries
  for (std::size_t at = 0, step = 1; at < million.size(); at += step, step = step % 97 + 13)
    pieces.update(million.data() + at, std::min(step, million.size() - at));
  EXPECT_EQ(pieces.hex_digest(),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(atomic_file, its_temporary_is_random_exclusive_and_gone_after_commit_or_failure) {
  test::temp_dir dir;
  const std::filesystem::path target = dir / "out.csv";
  std::string first_temporary;
  {
    atomic_file f(target);
    first_temporary = f.temporary_path().filename().string();
    long pid = 0;
    EXPECT_TRUE(temporary_name_of(first_temporary, "out.csv", &pid)) << first_temporary;
    EXPECT_EQ(pid, static_cast<long>(::getpid()));
    atomic_file g(target);  // a second writer of the same name gets another temporary
    EXPECT_NE(g.temporary_path(), f.temporary_path());
    f.write("partial");
    EXPECT_FALSE(std::filesystem::exists(target));  // nothing under the final name yet
  }  // neither committed: both temporaries are removed
  EXPECT_TRUE(names_in(dir.path()).empty());

  atomic_file f(target);
  f.write("a,b\n1,2\n");
  f.commit();
  EXPECT_EQ(names_in(dir.path()), std::vector<std::string>{"out.csv"});
  EXPECT_EQ(test::read_file(target), "a,b\n1,2\n");
  // The mode of any new file: 0666 less the umask (mkstemp alone would give 0600).
  const mode_t mask = ::umask(022);
  ::umask(mask);
  struct stat st {};
  ASSERT_EQ(::stat(target.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0666 & ~mask);
  const std::optional<file_digest> d = committed_digest(target);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->bytes, 8u);
  EXPECT_EQ(d->sha256, sha("a,b\n1,2\n"));
}

TEST(atomic_file, a_symlink_at_the_final_name_is_replaced_and_its_target_untouched) {
  test::temp_dir dir;
  test::write_file(dir / "precious", "keep me");
  std::filesystem::create_symlink(dir / "precious", dir / "out.json");
  write_atomically(dir / "out.json", "{}\n");
  EXPECT_FALSE(std::filesystem::is_symlink(dir / "out.json"));
  EXPECT_EQ(test::read_file(dir / "out.json"), "{}\n");
  EXPECT_EQ(test::read_file(dir / "precious"), "keep me");
}

TEST(atomic_file, the_temporaries_a_killed_writer_left_are_recognised_and_removed) {
  EXPECT_TRUE(temporary_name_of("accounts.csv.tmp.123.aB3xYz", "accounts.csv"));
  EXPECT_TRUE(temporary_name_of("accounts.csv.tmp.123", "accounts.csv"));  // earlier versions
  EXPECT_FALSE(temporary_name_of("accounts.csv.tmp.", "accounts.csv"));
  EXPECT_FALSE(temporary_name_of("accounts.csv.tmp.12x", "accounts.csv"));
  EXPECT_FALSE(temporary_name_of("accounts.csv.tmp.123.abc", "accounts.csv"));
  EXPECT_FALSE(temporary_name_of("accounts.csv.tmp.123.aB3xY/", "accounts.csv"));
  EXPECT_FALSE(temporary_name_of("positions.csv.tmp.123.aB3xYz", "accounts.csv"));

  test::temp_dir dir;
  const std::string dead = "out.csv.tmp." + std::to_string(dead_pid()) + ".Qw3rTy";
  const std::string live = "out.csv.tmp." + std::to_string(::getpid()) + ".Qw3rTy";
  test::write_file(dir / dead, "left by a killed run");
  test::write_file(dir / live, "being written by a live one");
  test::write_file(dir / "precious", "keep me");
  std::filesystem::create_symlink(dir / "precious",
                                  dir / ("out.csv.tmp." + std::to_string(dead_pid()) + ".LiNk00"));
  write_atomically(dir / "out.csv", "x\n");
  EXPECT_EQ(names_in(dir.path()), (std::vector<std::string>{"out.csv", live, "precious"}));
  EXPECT_EQ(test::read_file(dir / "precious"), "keep me");  // the link went, not its target
}

// Runs `body` in a child limited to `max_bytes` per file (RLIMIT_FSIZE, SIGXFSZ ignored: the
// write fails with EFBIG, as on a full disk); the child's exit status.
template <class Body>
int with_file_size_limit(rlim_t max_bytes, Body body) {
  const pid_t child = ::fork();
  if (child == 0) {
    std::signal(SIGXFSZ, SIG_IGN);
    const rlimit limit{max_bytes, max_bytes};
    ::setrlimit(RLIMIT_FSIZE, &limit);
    ::_exit(body());
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 100 + WTERMSIG(status);
}

TEST(appending_file, a_failed_append_is_cut_back_so_the_file_ends_after_a_whole_one) {
  test::temp_dir dir;
  const std::filesystem::path p = dir / "events.jsonl";
  const int status = with_file_size_limit(100, [&] {
    appending_file f(p);
    const std::string line(30, 'x');
    int whole = 0;
    while (f.append(line + "\n")) ++whole;
    if (f.error().find("events.jsonl") == std::string::npos) return 10;
    if (f.error().find(std::strerror(EFBIG)) == std::string::npos) return 11;
    if (f.append("more\n")) return 12;  // refused after a failure
    return whole;
  });
  EXPECT_EQ(status, 3);  // 3 lines of 31 bytes fit in 100, the fourth does not
  std::string three;
  for (int i = 0; i < 3; ++i) three += std::string(30, 'x') + "\n";
  EXPECT_EQ(test::read_file(p), three);
}

TEST(appending_file, is_created_exclusively_and_never_through_a_symlink) {
  test::temp_dir dir;
  test::write_file(dir / "precious", "keep me");
  std::filesystem::create_symlink(dir / "precious", dir / "events.jsonl");
  EXPECT_THROW(appending_file f(dir / "events.jsonl"), std::runtime_error);
  EXPECT_EQ(test::read_file(dir / "precious"), "keep me");
  appending_file ticks(dir / "ticks.csv");
  EXPECT_TRUE(ticks.append("a\n"));
  EXPECT_TRUE(ticks.append("b\n"));
  EXPECT_TRUE(ticks.take_back_to(2, "the other file failed"));
  EXPECT_FALSE(ticks.append("c\n"));
  EXPECT_EQ(test::read_file(dir / "ticks.csv"), "a\n");
}

TEST(private_directory, is_private_removed_after_and_a_killed_ones_is_removed_by_the_next) {
  test::temp_dir parent;
  const std::filesystem::path stale =
      parent / ("marginsync-bench.tmp." + std::to_string(dead_pid()) + ".AbC123");
  std::filesystem::create_directories(stale);
  test::write_file(stale / "book.msbook", "4 GB, say");
  test::write_file(parent / "precious", "keep me");
  std::filesystem::path made;
  {
    private_directory d(parent.path(), "bench");
    made = d.path();
    EXPECT_FALSE(std::filesystem::exists(stale));
    struct stat st {};
    ASSERT_EQ(::stat(made.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0700u);
    test::write_file(d.file("book.msbook"), "data");
  }
  EXPECT_FALSE(std::filesystem::exists(made));
  EXPECT_EQ(names_in(parent.path()), std::vector<std::string>{"precious"});
}

nlohmann::json marker(const std::filesystem::path& dir) {
  return nlohmann::json::parse(test::read_file(dir / output_directory::marker_name));
}

TEST(output_directory, a_run_killed_between_two_files_is_told_apart_and_cleaned_by_the_next) {
  test::temp_dir root;
  const std::filesystem::path out = root / "out";
  {  // a complete run
    output_directory d(out, "margin", "2026-01-01T00:00:00.000Z", "run1", false);
    d.write("accounts.csv", "old accounts\n");
    d.write("summary.json", "{\"run\": 1}\n");
    d.finish();
  }
  nlohmann::json m = marker(out);
  EXPECT_TRUE(m["complete"].get<bool>());
  EXPECT_EQ(m["run_id"], "run1");
  // The manifest: every file's bytes and sha256, as a reader (sha256sum) checks them.
  for (const char* name : {"accounts.csv", "summary.json"}) {
    std::uint64_t bytes = 0;
    EXPECT_EQ(m["manifest"][name]["sha256"], sha256_of_file((out / name).string(), &bytes));
    EXPECT_EQ(m["manifest"][name]["bytes"], bytes);
  }
  {  // a re-run killed after its first file (the destructor runs, finish does not: as SIGKILL)
    output_directory d(out, "margin", "2026-01-02T00:00:00.000Z", "run2", false);
    // At claim the earlier run's files are gone: nothing of run 1 can pass for run 2's.
    EXPECT_EQ(names_in(out), std::vector<std::string>{".marginsync-run"});
    EXPECT_FALSE(marker(out)["complete"].get<bool>());
    EXPECT_EQ(marker(out)["run_id"], "run2");
    EXPECT_EQ(marker(out)["files"], nlohmann::json::array());
    d.write("accounts.csv", "new accounts\n");
    test::write_file(out / ("summary.json.tmp." + std::to_string(dead_pid()) + ".ZzZzZz"), "{");
    d.file("summary.json");  // named, then killed while writing it
  }
  // ... and while rewriting its marker.
  test::write_file(out / (".marginsync-run.tmp." + std::to_string(dead_pid()) + ".MaRkEr"), "{");
  m = marker(out);
  EXPECT_FALSE(m["complete"].get<bool>());
  EXPECT_EQ(m["run_id"], "run2");
  EXPECT_FALSE(m.contains("manifest"));
  EXPECT_EQ(m["files"], (nlohmann::json{"accounts.csv", "summary.json"}));
  {  // the next run recognises all of it as marginsync's and starts clean
    output_directory d(out, "margin", "2026-01-03T00:00:00.000Z", "run3", false);
    EXPECT_EQ(names_in(out), std::vector<std::string>{".marginsync-run"});
    d.write("summary.json", "{\"run\": 3}\n");
    d.finish();
  }
  m = marker(out);
  EXPECT_TRUE(m["complete"].get<bool>());
  EXPECT_EQ(m["files"], nlohmann::json{"summary.json"});
  EXPECT_EQ(m["manifest"].size(), 1u);
}

TEST(output_directory,
     a_file_written_in_place_is_hashed_from_disk_and_a_file_never_written_left_out) {
  test::temp_dir root;
  output_directory d(root / "out", "stream", "2026-01-01T00:00:00.000Z", "r", false);
  {
    appending_file events(d.file("events.jsonl"));
    events.append("{\"a\":1}\n");
  }
  d.file("accounts.csv");  // named, never written (a stream with no update)
  d.finish();
  const nlohmann::json m = marker(root / "out");
  EXPECT_EQ(m["manifest"]["events.jsonl"]["sha256"], sha("{\"a\":1}\n"));
  EXPECT_FALSE(m["manifest"].contains("accounts.csv"));
}

}  // namespace
}  // namespace msync
