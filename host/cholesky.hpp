#pragma once
// Cholesky factorisation of a correlation matrix, allowing positive SEMI-definite matrices (a
// perfectly correlated pair is a valid correlation matrix): a pivot within `tolerance` of zero
// gives a zero column instead of a failure.
#include <string>
#include <vector>

namespace msync {

struct cholesky_result {
  std::vector<double> lower;  // row-major n x n, L L^T = input
  std::string failure;        // empty on success, else why the matrix is not PSD
};

cholesky_result cholesky_psd(const std::vector<double>& matrix, std::size_t n,
                             double tolerance = 1e-10);

}  // namespace msync
