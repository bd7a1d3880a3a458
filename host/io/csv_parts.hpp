#pragma once
// Reading the records of a CSV file in parts, one thread per part, with the same records, the same
// problems and the same line numbers, in the same order, as reading it from start to end
// (docs/design.md 5.2).
//
// The text after the header is cut into `parts` byte ranges at line starts. Where a record starts
// depends on all the text before it (a quoted field may hold line breaks), so each part is first
// read on the guess that its first line starts a record; then, in file order, a part whose guess
// proves wrong (the part before it stopped elsewhere: a quoted line break across the cut) is read
// again from where the part before it stopped. Without such fields every guess holds and every
// part is read once, in parallel.
#include <algorithm>
#include <cstddef>
#include <vector>

#include "cpu/omp_guard.hpp"
#include "io/csv_reader.hpp"
#include "marginsync/errors.hpp"

namespace msync {

// Cuts of the records of `csv` into `parts` ranges of about equal size, each starting at a line
// start; begin[k], begin[k + 1] delimit part k (begin has parts + 1 entries, some ranges may be
// empty), and line[k] is the line at begin[k].
struct csv_cuts {
  std::vector<std::size_t> begin;
  std::vector<long> line;
};
csv_cuts cut_csv_records(const csv_reader& csv, std::size_t parts);

// How many parts to cut a file into when the caller does not say: four per OpenMP thread.
std::size_t default_csv_parts();

// Reads the records of `csv` after its header in `parts` parts. `read_part(rows, k, problems)`
// reads part k through `rows` (rows.next(problems) until it returns false) into outputs of its own
// for part k, which it must start afresh (a part may be read twice). It runs on several threads
// at once. The problems of all parts are appended to `problems` in file order. Returns the
// cursors: fields the parts kept views of live in them.
template <class ReadPart>
std::vector<csv_records> read_csv_in_parts(const csv_reader& csv, std::size_t parts,
                                           ReadPart&& read_part, problem_list& problems) {
  const csv_cuts cuts = cut_csv_records(csv, std::max<std::size_t>(parts, 1));
  const std::size_t count = cuts.begin.size() - 1;
  // A part's records are at most its lines, plus one without a line break at the end.
  const auto lines = [&](std::size_t k) {
    return static_cast<std::size_t>(cuts.line[k + 1] - cuts.line[k]) + 1;
  };
  std::vector<csv_records> rows(count);
  std::vector<problem_list> part_problems(count);
  cpu::omp_guard guard;
#pragma omp parallel for schedule(dynamic, 1)
  for (std::size_t k = 0; k < count; ++k)
    guard.run([&] {
      rows[k] = csv.records(cuts.begin[k], cuts.begin[k + 1], cuts.line[k], lines(k));
      read_part(rows[k], k, part_problems[k]);
    });
  guard.rethrow();
  // Each part starts where the one before it stopped, or is read again from there.
  for (std::size_t k = 1; k < count; ++k) {
    if (rows[k - 1].stop() == cuts.begin[k]) continue;
    rows[k] = csv.records(rows[k - 1].stop(), cuts.begin[k + 1], rows[k - 1].stop_line(), lines(k));
    part_problems[k] = problem_list{};
    read_part(rows[k], k, part_problems[k]);
  }
  for (problem_list& p : part_problems) problems.append(std::move(p));
  return rows;
}

}  // namespace msync
