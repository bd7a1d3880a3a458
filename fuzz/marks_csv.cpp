// marks.csv (docs/design.md section 2.11) against data/sample's instruments: problems are
// expected; marks that load are one per instrument, each within its bounds on a kind that uses it.
#include "fuzz_support.hpp"
#include "fuzz_targets.hpp"
#include "marginsync/errors.hpp"

namespace msync::fuzz {

namespace {
const book& sample_book() {
  static const book b = [] {
    book_paths paths;
    paths.instruments = scratch_file("sample_instruments.csv", sample_instruments_csv);
    paths.accounts = scratch_file("sample_accounts.csv", sample_accounts_csv);
    paths.positions = scratch_file("sample_positions.csv", sample_positions_csv);
    problem_list problems;
    book loaded = load_book(paths, sample_market(), sample_risk(), problems);
    check(problems.empty(), "the sample book does not load");
    return loaded;
  }();
  return b;
}
}  // namespace

void marks_csv(std::string_view input) {
  const book& b = sample_book();
  market_state m = sample_market();
  problem_list problems;
  load_marks_text(std::string(input), "marks.csv", b.instruments, m, problems);
  if (problems.empty()) check_marks(m, b.instruments);
}

}  // namespace msync::fuzz
