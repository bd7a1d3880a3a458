// instruments.csv (docs/design.md section 2) against data/sample's other book files: problems are
// expected; a book that loads must hold every invariant (fuzz_support.hpp).
#include "book_files.hpp"
#include "fuzz_support.hpp"
#include "fuzz_targets.hpp"

namespace msync::fuzz {

void instruments_csv(std::string_view input) {
  fuzz_book_file(input, sample_accounts_csv, sample_positions_csv);
}

}  // namespace msync::fuzz
