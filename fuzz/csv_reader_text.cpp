// The book's CSV reader on its own: every record it hands out has the header's field count, and
// line numbers only grow.
#include "fuzz_support.hpp"
#include "fuzz_targets.hpp"
#include "io/csv_reader.hpp"
#include "marginsync/errors.hpp"

namespace msync::fuzz {

void csv_reader_text(std::string_view input) {
  problem_list problems;
  csv_reader csv;
  if (!csv.open_text(std::string(input), "fuzz.csv", problems)) {
    check(!problems.empty(), "csv: open failed without a problem");
    return;
  }
  check(csv.header_size() >= 1, "csv: a header without fields");
  std::size_t total = 0;
  long last_line = 0;
  while (csv.next(problems)) {
    check(csv.line() > last_line, "csv: line numbers do not grow");
    last_line = csv.line();
    for (std::size_t i = 0; i < csv.header_size(); ++i)
      total += csv.field(static_cast<int>(i)).size();
  }
  check(total <= input.size(), "csv: fields hold more text than the input");
}

}  // namespace msync::fuzz
