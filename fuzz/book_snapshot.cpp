// A binary book snapshot (docs/design.md section 12), read from a scratch file with its own
// market.json and risk.json: every malformed file throws input_error; a snapshot that loads holds
// every invariant of a book loaded from CSV.
#include "io/book_snapshot.hpp"

#include <optional>

#include "fuzz_support.hpp"
#include "fuzz_targets.hpp"
#include "marginsync/errors.hpp"

namespace msync::fuzz {

void book_snapshot(std::string_view input) {
  book_inputs in;
  try {
    in = read_book_snapshot(scratch_file("book.msync", input), std::nullopt, std::nullopt);
  } catch (const input_error&) {
    return;
  }
  check_market(in.market);
  check_risk(in.risk);
  check_book(in.positions, in.market, in.risk);
}

}  // namespace msync::fuzz
