#include "io/csv_parts.hpp"

#include <omp.h>

namespace msync {

std::size_t default_csv_parts() {
  // A few parts per thread, so that a thread held up (a busy machine) does not hold up the load.
  return 4 * static_cast<std::size_t>(std::max(1, omp_get_max_threads()));
}

csv_cuts cut_csv_records(const csv_reader& csv, std::size_t parts) {
  const std::string_view text = csv.text();
  const std::size_t first = csv.records_begin(), n = text.size();
  csv_cuts cuts;
  cuts.begin.resize(parts + 1);
  cuts.begin[0] = first;
  cuts.begin[parts] = n;
  // Cut k goes after the first line break at or after its share of the bytes.
  for (std::size_t k = 1; k < parts; ++k) {
    const std::size_t at = std::max(cuts.begin[k - 1], first + (n - first) / parts * k);
    const std::size_t newline = text.find('\n', at);
    cuts.begin[k] = newline == std::string_view::npos ? n : newline + 1;
  }
  // The line of each cut: the line breaks before it, counted part by part on all threads.
  std::vector<long> breaks(parts, 0);
#pragma omp parallel for schedule(static, 1)
  for (std::size_t k = 0; k < parts; ++k)
    breaks[k] = static_cast<long>(
        std::count(text.begin() + static_cast<std::ptrdiff_t>(cuts.begin[k]),
                   text.begin() + static_cast<std::ptrdiff_t>(cuts.begin[k + 1]), '\n'));
  cuts.line.resize(parts + 1);
  cuts.line[0] = csv.records_line();
  for (std::size_t k = 0; k < parts; ++k) cuts.line[k + 1] = cuts.line[k] + breaks[k];
  return cuts;
}

}  // namespace msync
