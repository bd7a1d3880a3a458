#pragma once
// Market data of one instant: what market.json holds (docs/design.md section 2), with the Cholesky
// factor of the correlation matrix computed once at load.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace msync {

// Most underlyings a market may list (docs/design.md section 2.10), far beyond the few hundred of
// the largest venues. The correlation matrix and its Cholesky factor take 2 U^2 doubles (16 MiB at
// 1,024; 50,000 underlyings asked for 40 GB), and Monte Carlo draws cost U^2 per scenario.
constexpr std::size_t max_underlyings = 1024;

struct market_state {
  std::int64_t as_of_ns = 0;  // UTC, nanoseconds since the epoch
  double rate = 0.0;          // continuously compounded, annual
  std::vector<std::string> symbols;
  std::vector<double> spot;            // quote currency
  std::vector<double> vol;             // annualised lognormal vol (fraction)
  std::vector<double> dividend_yield;  // annual fraction; carry b = rate - dividend_yield
  std::vector<double> funding_rate;    // perpetual funding per 8 hours (fraction)
  std::vector<double> correlation;     // row-major U x U, in `symbols` order
  std::vector<double> cholesky;        // lower-triangular L with L L^T = correlation, row-major

  std::size_t size() const noexcept { return symbols.size(); }
  // The index of an underlying by symbol, or size() when the market has none of that name.
  std::size_t index_of(std::string_view symbol) const {
    std::size_t u = 0;
    while (u < symbols.size() && symbols[u] != symbol) ++u;
    return u;
  }
  double carry(std::size_t u) const { return rate - dividend_yield[u]; }
};

}  // namespace msync
