#pragma once
// A feed for the journal tests (stream --journal, serve --journal): data/streams/crash.jsonl with
// trades, deposits and withdrawals interleaved, so that the book is patched and reloaded.
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "test_support.hpp"

namespace msync::test {

// The crash stream with trades (a held position, a new position: the book patched and reloaded),
// collateral (new accounts) and withdrawals interleaved, every few seconds of it.
inline std::vector<std::string> trading_crash_lines() {
  std::istringstream in(read_file(source_dir() / "data" / "streams" / "crash.jsonl"));
  std::vector<std::string> lines;
  std::string last_ts, seen_ts;
  int seconds = 0, kept = 0;
  for (std::string line; std::getline(in, line);) {
    const nlohmann::json e = nlohmann::json::parse(line);
    const std::string ts = e["ts"];
    // Every fourth second of the crash: the whole fall in a test that runs in seconds.
    if (ts != seen_ts) ++seconds;
    seen_ts = ts;
    if (seconds % 4 != 0) continue;
    if (ts != last_ts && !last_ts.empty() && ++kept % 7 == 0) {
      const int k = kept / 7;
      lines.push_back(R"({"type":"trade","ts":")" + last_ts +
                      R"(","account":"hedged_basis","instrument":"BTC-PERP","quantity":)" +
                      (k % 2 ? "-0.5" : "0.25") + R"(,"price":90000})");
      lines.push_back(R"({"type":"collateral","ts":")" + last_ts + R"(","account":"journal_)" +
                      std::to_string(k % 5) + R"(","amount":)" + std::to_string(1000 * k) + "}");
      if (k % 3 == 0)
        lines.push_back(R"({"type":"trade","ts":")" + last_ts + R"(","account":"journal_)" +
                        std::to_string(k % 5) +
                        R"(","instrument":"ETH-PERP","quantity":-3,"price":3000})");
      if (k % 11 == 0)
        lines.push_back(R"({"type":"collateral","ts":")" + last_ts +
                        R"(","account":"short_option_seller","amount":-4000})");
    }
    last_ts = ts;
    lines.push_back(line);
  }
  return lines;
}

inline std::string join(const std::vector<std::string>& lines, std::size_t from, std::size_t to) {
  std::string text;
  for (std::size_t i = from; i < to; ++i) text += lines[i] + "\n";
  return text;
}

}  // namespace msync::test
