#pragma once
// The fuzz targets, one file each (fuzz/<name>.cpp). fuzz_main.cpp wraps one of them as libFuzzer's
// entry point; tests/io/test_fuzz_regressions.cpp feeds fuzz/regressions/<name>/* through the same
// functions in the normal build.
#include <string_view>

namespace msync::fuzz {

void csv_reader_text(std::string_view input);  // the CSV reader itself
void instruments_csv(std::string_view input);
void accounts_csv(std::string_view input);
void positions_csv(std::string_view input);
void market_json(std::string_view input);
void risk_json(std::string_view input);
void scenario_csv(std::string_view input);
void depth_csv(std::string_view input);
void marks_csv(std::string_view input);      // marks.csv against data/sample's instruments
void tick_lines(std::string_view input);     // a tick stream, CSV or JSON lines
void book_snapshot(std::string_view input);  // a binary snapshot
void number_fields(std::string_view input);  // numbers and timestamps of every file

struct target {
  const char* name;
  void (*run)(std::string_view);
};

// Every target, by the name of its folder under fuzz/regressions/ and of its fuzz_NAME binary.
inline constexpr target all_targets[] = {
    {"csv_reader_text", csv_reader_text},
    {"instruments_csv", instruments_csv},
    {"accounts_csv", accounts_csv},
    {"positions_csv", positions_csv},
    {"market_json", market_json},
    {"risk_json", risk_json},
    {"scenario_csv", scenario_csv},
    {"depth_csv", depth_csv},
    {"marks_csv", marks_csv},
    {"tick_lines", tick_lines},
    {"book_snapshot", book_snapshot},
    {"number_fields", number_fields},
};

}  // namespace msync::fuzz
