// The command line's conventions (docs/design.md, "Command line"), on the built executable: one
// meaning per option name (the renamed book files), --backend, -q and -v on every command, help
// with defaults, an example and units, the provenance block first in every summary, the rules of
// an output directory (--force), and health written as null, never "inf".
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <regex>
#include <string>
#include <vector>

#include "test_support.hpp"

namespace msync {
namespace {

using test::run_cli;
using test::temp_dir;

using test::q;
std::string sample() {
  return q(test::sample_book());
}
std::string stream_file(const char* name) {
  return q(test::source_dir() / "data" / "streams" / name);
}

// A quick run of every command, each with what it needs (and --out DIR where it writes one).
std::vector<std::pair<std::string, std::string>> quick_runs(const temp_dir& dir) {
  return {
      {"margin", "margin --book " + sample() + " --scenarios 200 --out " + q(dir / "margin")},
      {"stream", "stream --book " + sample() + " --ticks " + stream_file("crash.jsonl") +
                     " --scenarios 200 --out " + q(dir / "stream")},
      {"cascade", "cascade --book " + sample() + " --shock BTC=-0.15 --scenarios 200 --out " +
                      q(dir / "cascade")},
      {"replay", "replay --book " + sample() + " --ticks " + stream_file("crash.jsonl") +
                     " --engine-interval-ms 10000 --scenarios 200 --out " + q(dir / "replay")},
      {"generate", "generate --accounts 20 --underlyings 2 --out " + q(dir / "generate")},
      {"convert", "convert --book " + sample() + " --out " + q(dir / "convert.msbook")},
      {"bench",
       "bench --accounts 50 --underlyings 2 --scenarios 64 --repeats 1 --threads 1 --work-dir " +
           q(dir.path()) + " --json " + q(dir / "bench.json")},
  };
}

const char* const all_commands[] = {"margin",   "stream",  "cascade", "replay",
                                    "generate", "convert", "bench"};

TEST(cli_conventions, renamed_book_file_options_are_usage_errors_naming_the_new_name) {
  const std::string file = q(test::sample_book() / "accounts.csv");
  for (const char* command : {"margin", "stream", "cascade", "replay", "convert"})
    for (const char* old_name : {"instruments", "accounts", "positions", "market", "risk"}) {
      const std::string needs = std::string(command) == "stream" || std::string(command) == "replay"
                                    ? " --ticks x"
                                : std::string(command) == "cascade" ? " --shock BTC=-0.1"
                                : std::string(command) == "convert" ? " --out x.msbook"
                                                                    : "";
      const auto r = run_cli(std::string(command) + " --book " + sample() + needs + " --" +
                             old_name + " " + file);
      EXPECT_EQ(r.status, 2) << command << " --" << old_name << ": " << r.out;
      EXPECT_NE(r.out.find(std::string("--") + old_name + " is now --" + old_name + "-file"),
                std::string::npos)
          << command << ": " << r.out;
      EXPECT_NE(r.out.find("(see --help)"), std::string::npos) << r.out;
    }
  // The new names replace the book's files.
  temp_dir out;
  const auto r = run_cli("margin -q --backend cpu --scenarios 100 --book " + sample() +
                         " --accounts-file " + file + " --risk-file " +
                         q(test::sample_book() / "risk.json") + " --out " + q(out / "m"));
  EXPECT_EQ(r.status, 0) << r.out;
  // --accounts stays a count where it is one.
  const auto help = run_cli("generate --help");
  EXPECT_NE(help.out.find("--accounts N"), std::string::npos) << help.out;
}

TEST(cli_conventions, every_command_accepts_backend_quiet_and_verbose) {
  temp_dir dir;
  for (const auto& [name, args] : quick_runs(dir)) {
    const auto quiet = run_cli(args + " --backend cpu -q");
    EXPECT_EQ(quiet.status, 0) << name << ": " << quiet.out;
    // Quiet: nothing but errors (bench's table, its data, stays on stdout).
    if (name != "bench") {
      EXPECT_EQ(quiet.out, "") << name;
    }
  }
  temp_dir again;
  for (const auto& [name, args] : quick_runs(again)) {
    const auto verbose = run_cli(args + " --backend auto -v");
    EXPECT_EQ(verbose.status, 0) << name << ": " << verbose.out;
  }
  for (const char* command : all_commands) {
    const auto bad = run_cli(std::string(command) + " --backend gpu");
    EXPECT_EQ(bad.status, 2) << command << ": " << bad.out;
    EXPECT_NE(bad.out.find("--backend"), std::string::npos) << command << ": " << bad.out;
    EXPECT_NE(bad.out.find("(see --help)"), std::string::npos) << command << ": " << bad.out;
  }
  temp_dir unused;
  for (const auto& [name, args] : quick_runs(unused)) {
    const auto both =
        run_cli(args + " -q -v");  // they exclude each other: a usage error, nothing runs
    EXPECT_EQ(both.status, 2) << name << ": " << both.out;
    EXPECT_NE(both.out.find("--quiet excludes --verbose"), std::string::npos)
        << name << ": " << both.out;
  }
  EXPECT_TRUE(std::filesystem::is_empty(unused.path()));
  EXPECT_EQ(run_cli("bench --backend all --help").status, 0);
}

TEST(cli_conventions, help_shows_defaults_an_example_and_units) {
  for (const char* command : all_commands) {
    const auto r = run_cli(std::string(command) + " --help");
    EXPECT_EQ(r.status, 0) << command;
    EXPECT_NE(r.out.find("example:\n  marginsync " + std::string(command) + " "), std::string::npos)
        << r.out;
    EXPECT_NE(r.out.find("--backend"), std::string::npos) << command;
    EXPECT_NE(r.out.find("-q,--quiet"), std::string::npos) << command;
    EXPECT_NE(r.out.find("-v,--verbose"), std::string::npos) << command;
    EXPECT_NE(
        r.out.find("exit status: 0 success, 1 failure while running, 2 bad input or usage, 3"),
        std::string::npos)
        << command;
  }
  for (const char* command : {"margin", "stream", "cascade", "replay"}) {
    const auto r = run_cli(std::string(command) + " --help");
    EXPECT_NE(r.out.find("=auto"), std::string::npos) << r.out;  // the default shown
    EXPECT_NE(r.out.find("theta per year"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("vega per 1.00 of volatility"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("in the quote currency"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("--force"), std::string::npos) << r.out;
  }
  EXPECT_NE(run_cli("cascade --help").out.find("=100"), std::string::npos);    // --max-rounds
  EXPECT_NE(run_cli("generate --help").out.find("=1000"), std::string::npos);  // --accounts
  EXPECT_NE(run_cli("replay --help").out.find("=0,100,1000,10000"),
            std::string::npos);  // intervals
  EXPECT_NE(run_cli("bench --help").out.find("=all"), std::string::npos);
}

void expect_provenance_first(const std::filesystem::path& summary, const std::string& command,
                             const std::string& book) {
  SCOPED_TRACE(summary.string());
  const nlohmann::ordered_json j = nlohmann::ordered_json::parse(test::read_file(summary));
  ASSERT_TRUE(j.is_object());
  ASSERT_FALSE(j.empty());
  EXPECT_EQ(j.begin().key(), "provenance");
  const nlohmann::ordered_json& p = j["provenance"];
  std::vector<std::string> keys;
  for (auto it = p.begin(); it != p.end(); ++it) keys.push_back(it.key());
  EXPECT_EQ(keys, (std::vector<std::string>{"version", "command_line", "book", "seed", "method",
                                            "confidence", "scenarios", "started", "run_id",
                                            "wall_seconds"}));
  EXPECT_TRUE(std::regex_match(p["run_id"].get<std::string>(), std::regex("[0-9a-f]{32}")));
  EXPECT_EQ(p["version"], MSYNC_VERSION);
  const std::string line = p["command_line"];
  EXPECT_NE(line.find(" " + command + " "), std::string::npos) << line;
  EXPECT_EQ(p["book"], book);
  EXPECT_TRUE(std::regex_match(p["started"].get<std::string>(),
                               std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)")))
      << p["started"];
  EXPECT_GE(p["wall_seconds"].get<double>(), 0.0);
  EXPECT_TRUE(p["confidence"].is_number());
  EXPECT_TRUE(p["scenarios"].is_number_integer());
  EXPECT_EQ(j.size() > 1, true);
}

TEST(cli_conventions, every_summary_begins_with_the_provenance_block) {
  temp_dir dir;
  const std::string book = test::sample_book().string();
  for (const auto& [name, args] : quick_runs(dir)) {
    const auto r = run_cli(args + " --backend cpu -q");
    ASSERT_EQ(r.status, 0) << name << ": " << r.out;
  }
  for (const char* command : {"margin", "stream", "cascade", "replay"}) {
    expect_provenance_first(dir / command / "summary.json", command, book);
    // The summary belongs to the run its directory's marker describes (docs/design.md 7.10).
    EXPECT_EQ(nlohmann::json::parse(
                  test::read_file(dir / command / "summary.json"))["provenance"]["run_id"],
              nlohmann::json::parse(test::read_file(dir / command / ".marginsync-run"))["run_id"]);
  }
  expect_provenance_first(dir / "bench.json", "bench", "generated");
  // What the run used, after the overrides.
  const nlohmann::json margin =
      nlohmann::json::parse(test::read_file(dir / "margin" / "summary.json"));
  EXPECT_EQ(margin["provenance"]["scenarios"], 200);
  EXPECT_EQ(margin["provenance"]["method"], margin["method"]);
  EXPECT_EQ(margin["provenance"]["seed"], margin["seed"]);
  EXPECT_EQ(margin["scenarios"], 200);  // the keys of before, unchanged
  // The command line reads back in a shell: an argument with a space is quoted.
  temp_dir spaced;
  std::filesystem::create_directories(spaced / "a b");
  ASSERT_EQ(run_cli("margin -q --backend cpu --scenarios 100 --book " + sample() + " --out " +
                    q(spaced / "a b" / "out"))
                .status,
            0);
  const nlohmann::json s =
      nlohmann::json::parse(test::read_file(spaced / "a b" / "out" / "summary.json"));
  EXPECT_NE(s["provenance"]["command_line"].get<std::string>().find(
                "--out '" + (spaced / "a b" / "out").string() + "'"),
            std::string::npos)
      << s["provenance"]["command_line"];
  // A scenario file has no seed.
  test::write_file(dir / "scenarios.csv", "scenario_id,underlying,spot_return\ns1,BTC,-0.2\n");
  ASSERT_EQ(run_cli("margin -q --backend cpu --book " + sample() + " --scenario-file " +
                    q(dir / "scenarios.csv") + " --out " + q(dir / "file"))
                .status,
            0);
  EXPECT_TRUE(
      nlohmann::json::parse(test::read_file(dir / "file" / "summary.json"))["provenance"]["seed"]
          .is_null());
}

std::vector<std::string> marker_files(const std::filesystem::path& dir) {
  const nlohmann::json m = nlohmann::json::parse(test::read_file(dir / ".marginsync-run"));
  std::vector<std::string> files = m["files"];
  std::sort(files.begin(), files.end());
  return files;
}

std::vector<std::string> files_in(const std::filesystem::path& dir) {
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

TEST(cli_conventions, an_output_directory_belongs_to_one_command_and_force_takes_it_over) {
  temp_dir dir;
  const std::string out = q(dir / "out");
  const std::string common =
      " -q --backend cpu --scenarios 200 --book " + sample() + " --out " + out;
  ASSERT_EQ(run_cli("cascade --shock-grid BTC=-0.05:-0.10:0.05" + common).status, 0);
  EXPECT_EQ(files_in(dir / "out"),
            (std::vector<std::string>{".marginsync-run", "grid.csv", "summary.json"}));
  const nlohmann::json marker =
      nlohmann::json::parse(test::read_file(dir / "out" / ".marginsync-run"));
  EXPECT_EQ(marker["command"], "cascade");
  EXPECT_EQ(marker["version"], MSYNC_VERSION);
  EXPECT_TRUE(marker["complete"].get<bool>());
  EXPECT_EQ(marker_files(dir / "out"), (std::vector<std::string>{"grid.csv", "summary.json"}));

  // The same command again replaces its files: the grid's grid.csv does not survive a single shock.
  ASSERT_EQ(run_cli("cascade --shock BTC=-0.15" + common).status, 0);
  EXPECT_EQ(files_in(dir / "out"), (std::vector<std::string>{".marginsync-run", "liquidations.csv",
                                                             "rounds.csv", "summary.json"}));
  EXPECT_EQ(marker_files(dir / "out"),
            (std::vector<std::string>{"liquidations.csv", "rounds.csv", "summary.json"}));

  // Another command is refused, naming the directory and the command; nothing is touched.
  const auto refused = run_cli("margin" + common);
  EXPECT_EQ(refused.status, 2) << refused.out;
  EXPECT_NE(refused.out.find((dir / "out").string()), std::string::npos) << refused.out;
  EXPECT_NE(refused.out.find("marginsync cascade"), std::string::npos) << refused.out;
  EXPECT_NE(refused.out.find("--force"), std::string::npos) << refused.out;
  EXPECT_TRUE(std::filesystem::exists(dir / "out" / "rounds.csv"));

  // --force takes it over: the cascade's files are removed, the margin's written.
  ASSERT_EQ(run_cli("margin --force" + common).status, 0);
  EXPECT_EQ(files_in(dir / "out"), (std::vector<std::string>{".marginsync-run", "accounts.csv",
                                                             "exposures.csv", "summary.json"}));
  EXPECT_EQ(nlohmann::json::parse(test::read_file(dir / "out" / ".marginsync-run"))["command"],
            "margin");

  // A file marginsync did not write is never removed: refused, even with --force.
  test::write_file(dir / "out" / "notes.txt", "mine");
  for (const char* force : {"", " --force"}) {
    const auto r = run_cli(std::string("cascade --shock BTC=-0.15") + force + common);
    EXPECT_EQ(r.status, 2) << r.out;
    EXPECT_NE(r.out.find("notes.txt"), std::string::npos) << r.out;
  }
  EXPECT_EQ(test::read_file(dir / "out" / "notes.txt"), "mine");
  EXPECT_TRUE(std::filesystem::exists(dir / "out" / "accounts.csv"));

  // A directory of someone else's files, no marker: refused, with or without --force.
  std::filesystem::create_directories(dir / "theirs");
  test::write_file(dir / "theirs" / "accounts.csv", "keep");
  for (const char* force : {"", " --force"}) {
    const auto r = run_cli(std::string("margin -q --backend cpu --scenarios 100 --book ") +
                           sample() + force + " --out " + q(dir / "theirs"));
    EXPECT_EQ(r.status, 2) << r.out;
  }
  EXPECT_EQ(test::read_file(dir / "theirs" / "accounts.csv"), "keep");
}

// An account whose positions are all closed has no maintenance margin: its health is infinite,
// written as null (JSON has no infinity), never as the string "inf".
TEST(cli_conventions, events_write_an_infinite_health_as_null) {
  temp_dir dir;
  test::write_file(
      dir / "close.jsonl",
      "{\"ts\": \"2026-11-24T08:00:01Z\", \"underlying\": \"BTC\", \"price\": 91000}\n"
      "{\"ts\": \"2026-11-24T08:00:02Z\", \"type\": \"trade\", \"account\": "
      "\"leveraged_perp_long\", "
      "\"instrument\": \"BTC-PERP\", \"quantity\": -2, \"price\": 91000}\n"
      "{\"ts\": \"2026-11-24T08:00:03Z\", \"underlying\": \"BTC\", \"price\": 91001}\n");
  const auto r = run_cli("stream -q --backend cpu --scenarios 500 --book " + sample() +
                         " --ticks " + q(dir / "close.jsonl") + " --out " + q(dir / "out"));
  ASSERT_EQ(r.status, 0) << r.out;
  const std::string text = test::read_file(dir / "out" / "events.jsonl");
  EXPECT_EQ(text.find("inf"), std::string::npos) << text;
  bool seen = false;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    const nlohmann::json e = nlohmann::json::parse(line);
    // .value: a `settled` line has no account (a missing key read through operator[] on a const
    // json is an assertion in a debug build).
    if (e.value("account", std::string()) == "leveraged_perp_long" && e["event"] == "recovered") {
      EXPECT_EQ(e["maintenance_margin"], 0) << line;
      EXPECT_TRUE(e["health"].is_null()) << line;
      seen = true;
    }
  }
  EXPECT_TRUE(seen) << text;
}

}  // namespace
}  // namespace msync
