// positions.csv (docs/design.md section 2) against data/sample's other book files: problems are
// expected; a book that loads must hold every invariant (fuzz_support.hpp).
#include "book_files.hpp"
#include "fuzz_support.hpp"
#include "fuzz_targets.hpp"

namespace msync::fuzz {

void positions_csv(std::string_view input) {
  fuzz_book_file(sample_instruments_csv, sample_accounts_csv, input);
}

}  // namespace msync::fuzz
