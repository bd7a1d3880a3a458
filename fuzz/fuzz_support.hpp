#pragma once
// What every fuzz target shares (docs/design.md section 1.6): the defect exception, the fixed
// companions of the file being fuzzed (the sample market and risk configuration, the sample book
// files), scratch files for the loaders that read paths, and the invariants a successful load
// must hold (the limits of docs/design.md section 2.10).
//
// A target feeds its input to one parser. A reported problem (input_error, or a problem_list
// entry) is the expected outcome of bad input; anything else that escapes, a sanitizer report or
// a broken invariant (fuzz_defect) is a defect and crashes the fuzzer.
#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>

#include "io/load_inputs.hpp"

namespace msync::fuzz {

// A broken invariant: never caught by a target, so the fuzzer stops on it with the input.
struct fuzz_defect : std::logic_error {
  using std::logic_error::logic_error;
};

// Throws fuzz_defect with `what` when `ok` is false.
void check(bool ok, const std::string& what);

// data/sample's files, compiled in so that a target needs no working directory.
extern const char* const sample_market_json;
extern const char* const sample_risk_json;
extern const char* const sample_instruments_csv;
extern const char* const sample_accounts_csv;
extern const char* const sample_positions_csv;

// data/sample's market and risk configuration, loaded once.
const market_state& sample_market();
const risk_params& sample_risk();

// Writes `text` to `name` in this process's scratch directory (created on first use, removed at
// exit) and returns its path.
std::filesystem::path scratch_file(const std::string& name, std::string_view text);

// The invariants of a successfully loaded input: every value within its documented bounds, every
// index in range, the book's offsets consistent.
void check_market(const market_state& m);
void check_risk(const risk_params& r);
void check_book(const book& b, const market_state& m, const risk_params& r);
// marks.csv's lists (docs/design.md 2.11): none, or one per instrument, each value NaN or within
// its bounds on a kind that uses it.
void check_marks(const market_state& m, const instrument_table& t);

}  // namespace msync::fuzz
