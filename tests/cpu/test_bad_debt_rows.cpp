// The book's bad-debt rows (host/cpu/bad_debt_rows.hpp): summed in chunk order whatever order the
// chunks finish in, bit for bit, and each row freed once added.
#include <gtest/gtest.h>

#include <vector>

#include "cpu/bad_debt_rows.hpp"

namespace msync::cpu {
namespace {

TEST(bad_debt_rows, chunks_done_out_of_order_add_in_chunk_order_and_are_freed) {
  const std::size_t chunks = 5, n = 3;
  // Values whose sum depends on the order of the additions.
  const std::vector<std::vector<double>> values = {
      {1e16, 1.0, 0.0}, {}, {1.0, 1e16, 3.0}, {-1e16, 1.0, 0.5}, {1.0, -1e16, 0.25}};
  bad_debt_rows rows(chunks, n);
  std::vector<double> expected(n, 0.0);
  for (const std::vector<double>& v : values)
    for (std::size_t s = 0; s < v.size(); ++s) expected[s] += v[s];
  for (const std::size_t c : {4u, 2u, 3u, 0u, 1u}) {
    if (!values[c].empty()) {
      double* row = rows.row(c);
      for (std::size_t s = 0; s < n; ++s) row[s] += values[c][s];
    }
    rows.done(c);
    // Chunks 2, 3 and 4 wait for 0 and 1; once 1 is done every row is added and freed.
    EXPECT_EQ(rows.rows_held(), c == 1 ? 0u : (c == 0 ? 3u : (c == 4 ? 1u : (c == 2 ? 2u : 3u))))
        << "after chunk " << c;
  }
  EXPECT_EQ(rows.sum(), expected);
}

}  // namespace
}  // namespace msync::cpu
