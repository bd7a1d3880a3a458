#pragma once
// Cholesky factorisation of a correlation matrix, allowing positive SEMI-definite matrices (a
// perfectly correlated pair is a valid correlation matrix): a pivot within `tolerance` of zero
// gives a zero column instead of a failure. Host only (market validation and tick generation).
#include <cmath>
#include <string>
#include <vector>

namespace msync {

struct cholesky_result {
  std::vector<double> lower;  // row-major n x n, L L^T = input
  std::string failure;        // empty on success, else why the matrix is not PSD
};

inline cholesky_result cholesky_psd(const std::vector<double>& a, std::size_t n,
                                    double tolerance = 1e-10) {
  cholesky_result r;
  r.lower.assign(n * n, 0.0);
  std::vector<double>& l = r.lower;
  for (std::size_t j = 0; j < n; ++j) {
    double pivot = a[j * n + j];
    for (std::size_t k = 0; k < j; ++k) pivot -= l[j * n + k] * l[j * n + k];
    if (pivot < -tolerance) {
      r.failure = "not positive semi-definite (pivot " + std::to_string(pivot) + " at row " +
                  std::to_string(j + 1) + ")";
      return r;
    }
    if (pivot <= tolerance) {
      // Row j is a combination of earlier rows: its column below must then be consistent, i.e.
      // the remaining entries must also be explained by earlier columns.
      for (std::size_t i = j + 1; i < n; ++i) {
        double s = a[i * n + j];
        for (std::size_t k = 0; k < j; ++k) s -= l[i * n + k] * l[j * n + k];
        if (std::fabs(s) > std::sqrt(tolerance)) {
          r.failure = "not positive semi-definite (row " + std::to_string(j + 1) +
                      " is degenerate but row " + std::to_string(i + 1) +
                      " is not consistent with it)";
          return r;
        }
      }
      continue;  // zero column
    }
    const double d = std::sqrt(pivot);
    l[j * n + j] = d;
    for (std::size_t i = j + 1; i < n; ++i) {
      double s = a[i * n + j];
      for (std::size_t k = 0; k < j; ++k) s -= l[i * n + k] * l[j * n + k];
      l[i * n + j] = s / d;
    }
  }
  return r;
}

}  // namespace msync
