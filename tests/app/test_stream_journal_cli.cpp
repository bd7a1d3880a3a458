// marginsync stream --journal (docs/design.md 8.11): a stream killed with SIGKILL in the middle and
// started again on the same journal with the rest of the feed ends with the same accounts.csv and
// events.jsonl, byte for byte, as the stream run whole; a torn last record is dropped with a
// warning; a journal is not replayed onto another book; without --journal nothing changes.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>

#include "test_support.hpp"
#include "trading_feed.hpp"

namespace msync {
namespace {

// Runs `script` with sh, returns its output (stderr included).
std::string run_script(const test::temp_dir& dir, const std::string& script) {
  test::write_file(dir / "run.sh", script + "\n");
  FILE* p = popen(("sh '" + (dir / "run.sh").string() + "' 2>&1").c_str(), "r");
  std::string text;
  if (!p) return text;
  char buf[256];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) text.append(buf, n);
  pclose(p);
  return text;
}

std::size_t count_lines(const std::string& text) {
  return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
}

// ticks.csv without its wall times (tick_ms, risk_ms, wall_ms): what must repeat exactly.
std::string ticks_without_times(const std::string& text) {
  std::istringstream in(text);
  std::string out;
  for (std::string line; std::getline(in, line);) {
    std::vector<std::string> f;
    std::stringstream cells(line);
    for (std::string c; std::getline(cells, c, ',');) f.push_back(c);
    for (std::size_t i = 0; i < f.size(); ++i)
      if (i < 5 || i > 7) out += f[i] + ",";
    out += "\n";
  }
  return out;
}

TEST(stream_journal_cli, sigkill_then_restart_on_the_journal_equals_the_uninterrupted_run) {
  test::temp_dir dir;
  const std::vector<std::string> lines = test::trading_crash_lines();
  // Cut between two timestamps in the middle of the fall (transitions on both sides): the killed
  // run gets the first part.
  const auto ts_of = [&](std::size_t i) { return nlohmann::json::parse(lines[i])["ts"]; };
  std::size_t cut = 0;
  while (ts_of(cut).get<std::string>() < "2026-11-24T08:12:30Z") ++cut;
  test::write_file(dir / "whole.jsonl", test::join(lines, 0, lines.size()));
  test::write_file(dir / "first.jsonl", test::join(lines, 0, cut));
  test::write_file(dir / "rest.jsonl", test::join(lines, cut, lines.size()));
  std::set<std::string> first_ts;
  for (std::size_t i = 0; i < cut; ++i) first_ts.insert(ts_of(i).get<std::string>());
  const std::size_t first_updates = first_ts.size();
  ASSERT_LT(test::read_file(dir / "first.jsonl").size(), 60000u)
      << "the first part must fit a pipe's buffer so that it arrives as one";

  const std::string cli = "'" + std::string(MSYNC_CLI_PATH) + "' stream -q --book " +
                          test::q(test::sample_book()) + " ";
  const test::command_result whole =
      test::run_cli("stream -q --book " + test::q(test::sample_book()) + " --ticks " +
                    test::q(dir / "whole.jsonl") + " --out " + test::q(dir / "whole"));
  ASSERT_EQ(whole.status, 0) << whole.out;

  // The first part through a named pipe held open (the feed is live), killed once ticks.csv holds
  // every update of it: the journal holds them, the outputs may or may not.
  const std::string fifo = (dir / "feed").string();
  const std::string killed = run_script(
      dir, "mkfifo '" + fifo + "'; (cat " + test::q(dir / "first.jsonl") + "; sleep 60) > '" +
               fifo + "' 2>/dev/null & writer=$!; " + cli + "--ticks '" + fifo + "' --journal " +
               test::q(dir / "journal") + " --out " + test::q(dir / "run") +
               " & pid=$!; i=0; while [ $i -lt 600 ]; do n=$(cat " +
               test::q(dir / "run" / "ticks.csv") + " 2>/dev/null | wc -l); [ \"$n\" -ge " +
               std::to_string(first_updates + 1) +
               " ] && break; sleep 0.1; i=$((i+1)); done; kill -KILL $pid; wait $pid; "
               "echo rc=$?; kill $writer");
  ASSERT_NE(killed.find("rc=137"), std::string::npos) << killed;
  EXPECT_FALSE(std::filesystem::exists(dir / "run" / "accounts.csv"))
      << "killed: it wrote no final outputs";
  // Killed in the middle: events on both sides of the cut.
  const std::string before = test::read_file(dir / "run" / "events.jsonl"),
                    all = test::read_file(dir / "whole" / "events.jsonl");
  EXPECT_GT(count_lines(before), 2u);
  EXPECT_LT(count_lines(before) + 2, count_lines(all));
  EXPECT_EQ(all.compare(0, before.size(), before), 0)
      << "the killed run's events begin the whole's";
  const std::string journal = test::read_file(dir / "journal" / "journal.msj");
  EXPECT_EQ(count_lines(journal), first_updates + 1) << "the header and every update";

  // A crash that cut the next record's write: dropped, with a warning.
  test::write_file(dir / "journal" / "journal.msj", journal + "0badc0de 999 {\"update\":");

  // Again on the same journal and --out (a re-run of the same command: no --force), with the rest.
  const test::command_result again =
      test::run_cli("stream -q --book " + test::q(test::sample_book()) + " --ticks " +
                    test::q(dir / "rest.jsonl") + " --journal " + test::q(dir / "journal") +
                    " --out " + test::q(dir / "run"));
  ASSERT_EQ(again.status, 0) << again.out;
  EXPECT_NE(again.out.find("incomplete"), std::string::npos) << again.out;

  EXPECT_EQ(test::read_file(dir / "run" / "events.jsonl"),
            test::read_file(dir / "whole" / "events.jsonl"));
  EXPECT_EQ(test::read_file(dir / "run" / "accounts.csv"),
            test::read_file(dir / "whole" / "accounts.csv"));
  EXPECT_EQ(ticks_without_times(test::read_file(dir / "run" / "ticks.csv")),
            ticks_without_times(test::read_file(dir / "whole" / "ticks.csv")));
  const nlohmann::json s = nlohmann::json::parse(test::read_file(dir / "run" / "summary.json")),
                       w = nlohmann::json::parse(test::read_file(dir / "whole" / "summary.json"));
  EXPECT_EQ(s["journal"]["replayed_updates"], first_updates);
  EXPECT_EQ(s["stream"]["updates"], w["stream"]["updates"]);
  EXPECT_EQ(s["stream"]["book_events_applied"], w["stream"]["book_events_applied"]);
  EXPECT_EQ(s["risk_runs"], w["risk_runs"]);
  EXPECT_EQ(s["transitions"], w["transitions"]);
  EXPECT_EQ(s["mean_margin_staleness_ms"], w["mean_margin_staleness_ms"]);
  EXPECT_TRUE(w["journal"].is_null());
  EXPECT_GT(w["stream"]["book_events_applied"].get<int>(), 100);
}

TEST(stream_journal_cli, an_update_the_journal_cannot_hold_is_not_applied) {
  // Every file limited to 16 KB (SIGXFSZ ignored: a write fails with EFBIG, as on a full disk);
  // the journal, with every tick, reaches it first. The update it could not write must not be
  // applied: the outputs hold exactly the updates the journal holds.
  test::temp_dir dir;
  const std::vector<std::string> lines = test::trading_crash_lines();
  test::write_file(dir / "feed.jsonl", test::join(lines, 0, lines.size()));
  const std::string out =
      run_script(dir, "trap '' XFSZ; ulimit -f 32; '" + std::string(MSYNC_CLI_PATH) +
                          "' stream -q --book " + test::q(test::sample_book()) + " --ticks " +
                          test::q(dir / "feed.jsonl") + " --journal " + test::q(dir / "j") +
                          " --out " + test::q(dir / "out") + "; echo rc=$?");
  EXPECT_NE(out.find("cannot write " + (dir / "j" / "journal.msj").string()), std::string::npos)
      << out;
  EXPECT_NE(out.find("rc=1"), std::string::npos) << out;
  const std::string journal = test::read_file(dir / "j" / "journal.msj");
  ASSERT_FALSE(journal.empty());
  EXPECT_EQ(journal.back(), '\n') << "cut back to its last whole record";
  EXPECT_EQ(count_lines(test::read_file(dir / "out" / "ticks.csv")), count_lines(journal))
      << "ticks.csv: the header and one row per journaled update; journal: the header and them";
}

TEST(stream_journal_cli, a_journal_is_not_replayed_onto_another_book) {
  test::temp_dir dir;
  std::filesystem::create_directories(dir / "book");
  test::copy_sample_book(dir / "book");
  test::write_file(dir / "ticks.csv",
                   "timestamp,underlying,price\n2026-11-24T08:00:00Z,BTC,91000\n");
  const std::string args = " --ticks " + test::q(dir / "ticks.csv") + " --journal " +
                           test::q(dir / "journal") + " --out " + test::q(dir / "out");
  ASSERT_EQ(test::run_cli("stream -q --book " + test::q(dir / "book") + args).status, 0);
  const std::string journal = test::read_file(dir / "journal" / "journal.msj");
  // Another book: one more account.
  const std::string accounts = test::read_file(dir / "book" / "accounts.csv");
  test::write_file(dir / "book" / "accounts.csv", accounts + "one_more,1,standard\n");
  test::command_result r = test::run_cli("stream -q --book " + test::q(dir / "book") + args);
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_NE(r.out.find("journal.msj:1: column 'book': the journal was written for another book"),
            std::string::npos)
      << r.out;
  // Other risk parameters shape every margin: refused alike.
  test::write_file(dir / "book" / "accounts.csv", accounts);
  r = test::run_cli("stream -q --book " + test::q(dir / "book") + " --scenarios 500" + args);
  EXPECT_EQ(r.status, 2) << r.out;
  EXPECT_EQ(test::read_file(dir / "journal" / "journal.msj"), journal) << "left as it was";
  // A journal in the output directory would be removed by the next run there.
  r = test::run_cli("stream -q --book " + test::q(dir / "book") + " --ticks " +
                    test::q(dir / "ticks.csv") + " --journal " + test::q(dir / "out" / "j") +
                    " --out " + test::q(dir / "out"));
  EXPECT_EQ(r.status, 2) << r.out;
}

TEST(stream_journal_cli, without_a_journal_the_stream_is_unchanged_and_writes_none) {
  test::temp_dir dir;
  const std::vector<std::string> lines = test::trading_crash_lines();
  test::write_file(dir / "feed.jsonl", test::join(lines, 0, lines.size()));
  const std::string ticks = (dir / "feed.jsonl").string();
  ASSERT_EQ(test::run_cli("stream -q --book " + test::q(test::sample_book()) + " --ticks '" +
                          ticks + "' --out " + test::q(dir / "plain"))
                .status,
            0);
  ASSERT_EQ(
      test::run_cli("stream -q --book " + test::q(test::sample_book()) + " --ticks '" + ticks +
                    "' --journal " + test::q(dir / "j") + " --out " + test::q(dir / "journaled"))
          .status,
      0);
  EXPECT_EQ(test::read_file(dir / "plain" / "events.jsonl"),
            test::read_file(dir / "journaled" / "events.jsonl"));
  EXPECT_EQ(test::read_file(dir / "plain" / "accounts.csv"),
            test::read_file(dir / "journaled" / "accounts.csv"));
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir.path()),
                          std::filesystem::directory_iterator()),
            4)
      << "feed.jsonl, plain, journaled and j only";
  // A finished stream's journal replays whole: run again with nothing new, the same results.
  test::write_file(dir / "empty.jsonl", "");
  ASSERT_EQ(test::run_cli("stream -q --book " + test::q(test::sample_book()) + " --ticks " +
                          test::q(dir / "empty.jsonl") + " --journal " + test::q(dir / "j") +
                          " --out " + test::q(dir / "journaled"))
                .status,
            0);
  EXPECT_EQ(test::read_file(dir / "plain" / "events.jsonl"),
            test::read_file(dir / "journaled" / "events.jsonl"));
  EXPECT_EQ(test::read_file(dir / "plain" / "accounts.csv"),
            test::read_file(dir / "journaled" / "accounts.csv"));
}

}  // namespace
}  // namespace msync
