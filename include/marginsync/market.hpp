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

// One raw SVI slice of an underlying's implied volatility surface (docs/design.md 2.5, 3.2):
// total implied variance w(k) = a + b (rho (k - m) + sqrt((k - m)^2 + sigma^2)) at log-moneyness
// k = ln(K / F), for options expiring at `expiry_ns`.
struct svi_slice {
  std::int64_t expiry_ns = 0;  // UTC, nanoseconds since the epoch
  double a = 0.0, b = 0.0, rho = 0.0, m = 0.0, sigma = 0.0;
};

// Most slices one underlying's surface may hold: far more expiries than any venue lists.
constexpr std::size_t max_surface_slices = 1000;

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
  // Per underlying: its SVI surface, slices by increasing expiry; empty when market.json gives
  // none (its options then take `vol`). Empty outer vector: no surfaces at all.
  std::vector<std::vector<svi_slice>> surface;

  // Per instrument of the book (indexed like instrument_table; empty when the book has no
  // marks.csv and no mark event came): the venue's own marks (docs/design.md 2.11). NaN where not
  // given. mark_price: futures, quote currency; mark_iv: options, annualised vol; settlement_price:
  // futures and options, the price they settle at once expired (quote currency). A stream sets an
  // expired instrument's settlement_price at the first update at or after its expiry.
  std::vector<double> mark_price;
  std::vector<double> mark_iv;
  std::vector<double> settlement_price;

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
