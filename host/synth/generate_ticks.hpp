#pragma once
// A synthetic oracle tick stream for a market (`marginsync generate --ticks`), in the CSV form of
// docs/design.md section 2's tick stream: `timestamp,underlying,price`, one row per underlying per
// timestamp.
#include <cstdint>
#include <filesystem>
#include <string>

#include "marginsync/market.hpp"

namespace msync {

struct tick_generate_options {
  double seconds = 3600.0;      // length of the stream after the market's as_of
  double rate_hz = 1.0;         // timestamps per second; every underlying ticks at each one
  double jumps_per_hour = 2.0;  // Poisson rate of price jumps, per underlying
  double jump_vol = 0.02;       // standard deviation of a jump's log size
  std::uint64_t seed = 1;
};

struct tick_generate_report {
  std::int64_t ticks = 0;    // data rows written
  std::int64_t updates = 0;  // distinct timestamps (each one update of every underlying)
};

// Empty when the options can make a stream, else why not (for a usage message): seconds and
// rate_hz finite and > 0, rate_hz at most 1e9 (timestamps have nanosecond resolution),
// jumps_per_hour and jump_vol finite and >= 0, and at most 100 expected jumps between two ticks.
std::string tick_generate_problem(const tick_generate_options& options);

// Writes the stream for `market` to `out_csv` (under a temporary name beside it, renamed when
// complete; the directory must exist). Timestamp k (k = 1 .. floor(seconds * rate_hz)) is
// as_of + k / rate_hz seconds. Each underlying follows a geometric Brownian motion with its
// market vol and zero drift (only the Ito term -vol^2 dt / 2), the underlyings' shocks correlated
// through the market's Cholesky factor, plus compound-Poisson lognormal jumps, independent per
// underlying and mean-corrected (a jump multiplies the price by a factor of mean 1), so the price
// stays a martingale. Deterministic: the same market and options give the same bytes on every
// machine. Throws std::invalid_argument for options tick_generate_problem rejects or a stream
// that would end after 2149, std::runtime_error naming the file when it cannot be written.
tick_generate_report generate_ticks(const market_state& market,
                                    const tick_generate_options& options,
                                    const std::filesystem::path& out_csv);

}  // namespace msync
