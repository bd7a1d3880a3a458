#include "book_files.hpp"

#include "fuzz_support.hpp"
#include "marginsync/errors.hpp"

namespace msync::fuzz {

void fuzz_book_file(std::string_view instruments, std::string_view accounts,
                    std::string_view positions) {
  book_paths paths;
  paths.instruments = scratch_file("instruments.csv", instruments);
  paths.accounts = scratch_file("accounts.csv", accounts);
  paths.positions = scratch_file("positions.csv", positions);
  problem_list problems;
  const book b = load_book(paths, sample_market(), sample_risk(), problems);
  if (problems.empty()) check_book(b, sample_market(), sample_risk());
}

}  // namespace msync::fuzz
