// Outputs that fail closed (docs/design.md 4.1, 5.1, 7.10, 8.8): a stream that cannot write its
// events says so, exits 1 and leaves files that end at a whole update; a batch command that
// cannot write leaves no temporary; an output over an input is refused; a symlink at an output's
// name is replaced, never followed; SIGTERM removes a long writer's temporaries and a SIGKILLed
// run is recognised (its marker incomplete) and cleaned by the next.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <nlohmann/json.hpp>
#include <thread>

#include "test_support.hpp"

namespace msync {
namespace {

using test::run_cli;
using test::temp_dir;

using test::q;

// Starts the CLI with `args` (shell-quoted) in a child, stdout and stderr into `log`, every file
// it writes limited to `max_bytes` (RLIMIT_FSIZE with SIGXFSZ ignored: writes fail with EFBIG,
// as on a full disk) when given.
pid_t start_cli(const std::string& args, const std::filesystem::path& log,
                rlim_t max_bytes = RLIM_INFINITY) {
  const std::string cmd = std::string("exec '") + MSYNC_CLI_PATH + "' " + args;
  const pid_t child = ::fork();
  if (child == 0) {
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    std::signal(SIGXFSZ, SIG_IGN);
    const rlimit limit{max_bytes, max_bytes};
    ::setrlimit(RLIMIT_FSIZE, &limit);
    ::execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  return child;
}

int wait_status(pid_t child) {
  int status = 0;
  ::waitpid(child, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::vector<std::string> temporaries_in(const std::filesystem::path& dir) {
  std::vector<std::string> found;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (name.find(".tmp.") != std::string::npos) found.push_back(e.path().string());
  }
  return found;
}

nlohmann::json marker(const std::filesystem::path& dir) {
  return nlohmann::json::parse(test::read_file(dir / ".marginsync-run"));
}

TEST(output_safety, a_stream_that_cannot_write_says_so_exits_1_and_ends_at_a_whole_update) {
  temp_dir dir;
  const std::filesystem::path out = dir / "out", log = dir / "log";
  const std::string args = "stream -q --backend cpu --book " + q(test::sample_book()) +
                           " --ticks " + q(test::source_dir() / "data/streams/crash.jsonl") +
                           " --out " + q(out);
  for (rlim_t limit : {rlim_t{2048}, rlim_t{4096}}) {  // events.jsonl fails first, then ticks.csv
    std::filesystem::remove_all(out);
    const int status = wait_status(start_cli(args, log, limit));
    const std::string said = test::read_file(log);
    EXPECT_EQ(status, 1) << said;
    EXPECT_NE(said.find("cannot write " + out.string() + "/"), std::string::npos) << said;
    EXPECT_NE(said.find(std::strerror(EFBIG)), std::string::npos) << said;
    // Both files end with a whole line, and hold the same updates.
    const std::string events = test::read_file(out / "events.jsonl");
    const std::string ticks = test::read_file(out / "ticks.csv");
    ASSERT_FALSE(ticks.empty());
    EXPECT_EQ(ticks.back(), '\n');
    if (!events.empty()) {
      EXPECT_EQ(events.back(), '\n') << limit;
    }
    std::istringstream lines(events);
    for (std::string line; std::getline(lines, line);)
      EXPECT_TRUE(nlohmann::json::accept(line)) << line;
    const long rows = static_cast<long>(std::count(ticks.begin(), ticks.end(), '\n')) - 1;
    if (std::filesystem::exists(out / "summary.json")) {  // it fits: it says what was lost
      const nlohmann::json s = nlohmann::json::parse(test::read_file(out / "summary.json"));
      EXPECT_TRUE(s["write_error"].is_string()) << s.dump();
      EXPECT_EQ(s["updates_written"], rows);
      EXPECT_LT(rows, s["stream"]["updates"].get<long>());
    }
    EXPECT_FALSE(marker(out)["complete"].get<bool>());
    EXPECT_TRUE(temporaries_in(out).empty());
  }
}

TEST(output_safety, a_batch_command_that_cannot_write_fails_and_leaves_no_temporary) {
  temp_dir dir;
  const std::filesystem::path log = dir / "log";
  const std::string book = " --backend cpu -q --scenarios 200 --book " + q(test::sample_book());
  for (const std::string& args :
       {"margin" + book + " --out " + q(dir / "margin"),
        "cascade --shock BTC=-0.3" + book + " --out " + q(dir / "cascade"),
        "convert -q --book " + q(test::sample_book()) + " --out " + q(dir / "book.msb"),
        "generate -q --accounts 200 --out " + q(dir / "generated")}) {
    const int status = wait_status(start_cli(args, log, 600));
    EXPECT_EQ(status, 1) << args << "\n" << test::read_file(log);
    EXPECT_NE(test::read_file(log).find(std::strerror(EFBIG)), std::string::npos) << args;
  }
  EXPECT_EQ(temporaries_in(dir.path()), std::vector<std::string>{});
  EXPECT_FALSE(std::filesystem::exists(dir / "book.msb"));
}

TEST(output_safety, a_standard_output_that_cannot_be_written_fails_the_run) {
  // /dev/full: every write fails with ENOSPC. Events of a stream without --out, a human summary.
  const std::string book = " --backend cpu --scenarios 200 --book " + q(test::sample_book());
  const auto stream =
      run_cli("stream" + book + " --ticks " + q(test::source_dir() / "data/streams/crash.jsonl") +
              " 2>/dev/null >/dev/full");
  EXPECT_EQ(stream.status, 1);
  const auto margin = run_cli("margin" + book + " 2>/dev/null >/dev/full");
  EXPECT_EQ(margin.status, 1);
}

TEST(output_safety, an_output_that_is_lies_in_or_holds_an_input_is_refused) {
  temp_dir dir;
  std::filesystem::create_directories(dir / "book");
  test::copy_sample_book(dir / "book");
  const std::string before = test::read_file(dir / "book" / "accounts.csv");
  const std::string book = " --backend cpu -q --scenarios 200 --book " + q(dir / "book");
  const std::string ticks = " --ticks " + q(test::source_dir() / "data/streams/crash.jsonl");
  std::filesystem::create_directories(dir / "in");
  test::write_file(dir / "in" / "scenarios.csv",
                   "scenario_id,underlying,spot_return\ns1,BTC,-0.2\n");
  for (const std::string& args :
       {"margin" + book + " --out " + q(dir / "book"),                        // is
        "margin" + book + " --out " + q(dir / "book" / "results"),            // lies inside
        "margin" + book + " --out " + q(dir.path()),                          // holds
        "margin" + book + " --out " + q(dir / "book" / ".." / "book" / "."),  // spelt otherwise
        "margin --backend cpu -q --book " + q(test::sample_book()) + " --scenario-file " +
            q(dir / "in" / "scenarios.csv") + " --out " + q(dir / "in"),
        "stream" + book + ticks + " --out " + q(dir / "book"),
        "stream --backend cpu -q --book " + q(test::sample_book()) + " --ticks " +
            q(dir / "in" / "scenarios.csv") + " --out " + q(dir / "in" / "scenarios.csv"),
        "cascade --shock BTC=-0.2" + book + " --out " + q(dir / "book"),
        "replay" + book + ticks + " --out " + q(dir / "book"),
        "convert -q --book " + q(dir / "book") + " --out " + q(dir / "book" / "accounts.csv"),
        "convert -q --book " + q(test::sample_book()) + " --accounts-file " +
            q(dir / "book" / "accounts.csv") + " --out " + q(dir / "book" / "accounts.csv")}) {
    const auto r = run_cli(args);
    EXPECT_EQ(r.status, 2) << args << "\n" << r.out;
    EXPECT_NE(r.out.find("input"), std::string::npos) << r.out;
  }
  // generate's tick stream is an output too: never over the book it is made for.
  for (const std::string& args :
       {"generate -q --accounts 10 --out " + q(dir / "g") + " --ticks " + q(dir / "g/accounts.csv"),
        "generate -q --snapshot --accounts 10 --out " + q(dir / "g.msb") + " --ticks " +
            q(dir / "g.msb")}) {
    const auto r = run_cli(args);
    EXPECT_EQ(r.status, 2) << args << "\n" << r.out;
    EXPECT_NE(r.out.find("--ticks"), std::string::npos) << r.out;
  }
  EXPECT_EQ(test::read_file(dir / "book" / "accounts.csv"), before);
  EXPECT_FALSE(std::filesystem::exists(dir / "book" / ".marginsync-run"));
  EXPECT_FALSE(std::filesystem::exists(dir / ".marginsync-run"));
  EXPECT_FALSE(std::filesystem::exists(dir / "in" / ".marginsync-run"));
}

TEST(output_safety, a_symlink_at_an_output_name_is_replaced_and_its_target_untouched) {
  temp_dir dir;
  test::write_file(dir / "precious", "keep me");
  std::filesystem::create_symlink(dir / "precious", dir / "book.msb");
  ASSERT_EQ(run_cli("convert -q --book " + q(test::sample_book()) + " --out " + q(dir / "book.msb"))
                .status,
            0);
  EXPECT_FALSE(std::filesystem::is_symlink(dir / "book.msb"));
  EXPECT_EQ(test::read_file(dir / "precious"), "keep me");
  std::filesystem::create_symlink(dir / "precious", dir / "bench.json");
  ASSERT_EQ(run_cli("bench -q --backend cpu --accounts 20 --underlyings 2 --positions-per-account "
                    "2 --scenarios 10 --repeats 1 --work-dir " +
                    q(dir.path()) + " --json " + q(dir / "bench.json"))
                .status,
            0);
  EXPECT_FALSE(std::filesystem::is_symlink(dir / "bench.json"));
  EXPECT_EQ(test::read_file(dir / "precious"), "keep me");
  // bench staged its book in a private directory of --work-dir and removed it.
  std::vector<std::string> left;
  for (const auto& e : std::filesystem::directory_iterator(dir.path()))
    left.push_back(e.path().filename().string());
  std::sort(left.begin(), left.end());
  EXPECT_EQ(left, (std::vector<std::string>{"bench.json", "book.msb", "precious"}));
}

// Waits (at most 60 s) until a temporary whose name holds `part` appears under `dir`: the writer
// is in the middle of that file.
bool wait_for_temporary(const std::filesystem::path& dir, const std::string& part) {
  for (int i = 0; i < 600; ++i) {
    std::error_code ec;
    if (std::filesystem::exists(dir, ec))
      for (const std::string& t : temporaries_in(dir))
        if (t.find(part) != std::string::npos) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

TEST(output_safety, sigterm_removes_a_long_writers_temporaries_and_a_sigkilled_run_is_told_apart) {
  temp_dir dir;
  const std::filesystem::path out = dir / "book", log = dir / "log";
  const std::string args = "generate -q --accounts 2000000 --out " + q(out);
  pid_t child = start_cli(args, log);
  ASSERT_TRUE(wait_for_temporary(out, "positions.csv.tmp.")) << test::read_file(log);
  ::kill(child, SIGTERM);
  EXPECT_EQ(wait_status(child), 128 + SIGTERM) << test::read_file(log);
  EXPECT_EQ(temporaries_in(out), std::vector<std::string>{});
  EXPECT_FALSE(marker(out)["complete"].get<bool>());

  // The same with --snapshot: its CSV staging directory goes too.
  child = start_cli("generate -q --snapshot --accounts 2000000 --out " + q(dir / "s.msb"), log);
  ASSERT_TRUE(wait_for_temporary(dir.path(), "marginsync-generate.tmp.")) << test::read_file(log);
  ::kill(child, SIGTERM);
  EXPECT_EQ(wait_status(child), 128 + SIGTERM);
  EXPECT_EQ(temporaries_in(dir.path()), std::vector<std::string>{});

  // SIGKILL cannot be handled: the marker says the run is incomplete, and the next run in the
  // directory removes what the killed one left and completes.
  child = start_cli(args, log);
  ASSERT_TRUE(wait_for_temporary(out, "positions.csv.tmp."));
  ::kill(child, SIGKILL);
  EXPECT_EQ(wait_status(child), 128 + SIGKILL);
  EXPECT_FALSE(temporaries_in(out).empty());
  EXPECT_FALSE(marker(out)["complete"].get<bool>());
  const auto rerun = run_cli("generate -q --accounts 50 --out " + q(out));
  ASSERT_EQ(rerun.status, 0) << rerun.out;
  EXPECT_EQ(temporaries_in(out), std::vector<std::string>{});
  const nlohmann::json m = marker(out);
  EXPECT_TRUE(m["complete"].get<bool>());
  EXPECT_EQ(m["manifest"].size(), 5u);
}

}  // namespace
}  // namespace msync
