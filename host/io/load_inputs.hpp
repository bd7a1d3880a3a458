#pragma once
// Loading and validating the inputs of docs/design.md section 2. Every loader collects all the
// problems it finds (docs/design.md section 5) into a problem_list; load_book_inputs throws
// input_error with all of them before any computation starts.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "marginsync/book.hpp"
#include "marginsync/market.hpp"
#include "marginsync/risk_params.hpp"
#include "marginsync/scenario_source.hpp"

namespace msync {

class problem_list;

// Magnitude limits on inputs, far beyond any real book, that keep every product of them (q m S,
// sums over millions of positions) finite, so no NaN or infinity can reach the risk numbers.
constexpr double max_price = 1e12;      // spot, strike, entry price (quote currency)
constexpr double max_quantity = 1e12;   // |quantity| of one row
constexpr double max_multiplier = 1e9;  // contract size
constexpr double max_money = 1e15;      // |collateral|, credit limit (quote currency)
// |rate|, |dividend_yield| (annual fractions): carry b = r - q stays within [-2, 2], so the forward
// factor e^{bT} over the longest T of the supported years (250) is at most e^500 (1e217) and
// q m S e^{bT} stays finite. 100 % a year is beyond any real rate.
constexpr double max_annual_rate = 1.0;
// |funding_rate| per 8 hours: 10 %, beyond any venue's cap (their caps are 0.75-4 % per interval);
// 250 years of it on q m S stays finite.
constexpr double max_funding_rate = 0.1;
// An option's mark_iv in marks.csv: annualised, as market.json's vol (10 = 1000 %).
constexpr double max_mark_iv = 10.0;
// Timestamps are limited to 1900-2149: io/number_parse.hpp.

struct book_paths {
  std::filesystem::path instruments;
  std::filesystem::path accounts;
  std::filesystem::path positions;
  std::filesystem::path market;
  std::filesystem::path risk;
  // marks.csv (docs/design.md 2.11): optional. in_directory sets it when the directory has one.
  std::optional<std::filesystem::path> marks{};

  static book_paths in_directory(const std::filesystem::path& dir);
};

// Where a book comes from: a book directory or a snapshot file (`marginsync convert`), with any of
// its files replaced. A snapshot takes only market, risk and marks replacements.
struct book_location {
  std::filesystem::path book;
  std::optional<std::filesystem::path> instruments, accounts, positions, market, risk;
  // --marks-file: replaces the book's marks.csv (or the snapshot's copy); it must exist.
  std::optional<std::filesystem::path> marks{};
  // --depth: Y and V of the square-root law per underlying (docs/design.md 2.9), applied to the
  // risk parameters after the book is loaded.
  std::optional<std::filesystem::path> depth{};

  // The CSV/JSON paths of a book directory, replacements applied.
  book_paths directory_paths() const;
};

struct book_inputs {
  market_state market;
  risk_params risk;
  book positions;
};

market_state load_market(const std::filesystem::path& path, problem_list& problems);
risk_params load_risk(const std::filesystem::path& path, problem_list& problems);
// The same from text already in memory (a snapshot's copy); `name` labels the problems.
market_state load_market_text(const std::string& text, const std::string& name,
                              problem_list& problems);
risk_params load_risk_text(const std::string& text, const std::string& name,
                           problem_list& problems);
// marks.csv (docs/design.md 2.11) of a book whose instruments are loaded: fills the market's
// mark_price, mark_iv and settlement_price, each one per instrument, NaN where not given.
void load_marks(const std::filesystem::path& path, const instrument_table& instruments,
                market_state& market, problem_list& problems);
void load_marks_text(std::string text, const std::string& name, const instrument_table& instruments,
                     market_state& market, problem_list& problems);
// A depth file (docs/design.md 2.9): sets risk.underlying_impact_coefficient and
// underlying_daily_volume (one per underlying of `market`, risk.json's values where the file gives
// none). Left unchanged when the file has a problem.
void load_depth_file(const std::filesystem::path& path, const market_state& market,
                     risk_params& risk, problem_list& problems);
// Reads instruments, accounts and positions against an already loaded market and risk config.
// accounts.csv and positions.csv are read in `parts` parts on all threads (0: four per thread); the
// book and the problems are the same for any number of parts.
book load_book(const book_paths& paths, const market_state& market, const risk_params& risk,
               problem_list& problems, std::size_t parts = 0);
// All the book's files (marks.csv when `paths` names one); throws input_error listing every
// problem.
book_inputs load_book_inputs(const book_paths& paths);
// Chooses some accounts of a loaded book (read_book_snapshot_part, io/book_snapshot.hpp).
using book_part_picker = std::function<std::vector<std::uint32_t>(const book_inputs& whole)>;

// A book directory or a snapshot, then the depth file when the location names one; throws
// input_error. With `pick`, only the accounts it chooses (book_slice.hpp): a snapshot reads only
// their positions (read_book_snapshot_part); a directory is read whole, then cut.
book_inputs load_book_at(const book_location& location, const book_part_picker& pick = {});

// A scenario file (docs/design.md section 2) for the market's underlyings; throws input_error.
// Reading stops at the scenario that would take more than `max_cells` scenarios x underlyings
// (a parameter so that tests need not fill gigabytes to reach the limit).
scenario_file_data load_scenario_file(const std::filesystem::path& path, const market_state& market,
                                      std::int64_t max_cells = max_scenario_cells);

// Why `scenarios` scenarios of `underlyings` underlyings are too many (max_scenario_cells), or
// empty. Checked for risk.json at load, for --scenarios and for a scenario file.
std::string scenario_cells_problem(std::size_t underlyings, std::int64_t scenarios,
                                   std::int64_t max_cells = max_scenario_cells);

// The range checks on risk parameters (confidence in (0, 1), scenarios >= 1, ...), shared by
// risk.json and the command-line overrides: pairs of (key, reason), empty when all is well.
std::vector<std::pair<std::string, std::string>> risk_param_problems(const risk_params& risk);

}  // namespace msync
