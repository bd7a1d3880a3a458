// Synthetic oracle tick stream (`marginsync generate --ticks`, docs/design.md section 2 tick stream
// format).
//
// Decisions, written down where they are made:
// - Randomness is Philox4x32-10 keyed by the seed, counter = (k low, k high, underlying, tag):
//   one block per (timestamp k, underlying) gives, by Box-Muller, the diffusion shock and the
//   jump size; a second block (another tag) the uniform for the number of jumps. Every draw is a
//   pure function of (seed, k, underlying), never of the buffering or the platform's
//   <random>, so the same options give the same bytes everywhere (up to libm's exp and log in the
//   last bit, as for the book generator). The tags are not the book generator's (0..3), so a
//   book and its ticks from one seed do not share numbers.
// - Jumps are mean-corrected: a jump's log size is normal with mean -jump_vol^2 / 2, so the
//   factor e^J it applies has mean 1 and, with the diffusion's Ito term, the price is a
//   martingale (zero drift). N jumps in one interval add one normal of mean -N jump_vol^2 / 2 and
//   variance N jump_vol^2 (a sum of N independent normals), so one normal serves any N.
// - The time step is the interval between the written (nanosecond) timestamps, in years of
//   31,536,000 s (ACT/365, as docs/design.md section 3), so the returns a reader computes are the
//   model's.
// - A price is kept within (0, max_price], the range market.json allows for a spot: only an
//   absurd vol over an absurd length could leave it (exp underflowing to 0 or overflowing).
// - The file is written to "<name>.tmp.<pid>" beside the target, in 1 MiB pieces (a stream can
//   be far larger than a book's market file), and renamed when complete.
#include "synth/generate_ticks.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

#include "io/load_inputs.hpp"
#include "io/number_parse.hpp"
#include "io/output_files.hpp"
#include "marginsync/errors.hpp"
#include "marginsync/philox.hpp"
#include "marginsync/time_units.hpp"

namespace msync {

namespace {

constexpr double seconds_per_hour = 3600.0;
constexpr double ns_per_second = 1e9;
// Timestamps have nanosecond resolution: above 1e9 Hz two ticks would share one.
constexpr double max_rate_hz = 1e9;
// More expected jumps than this between two ticks is extra diffusion, not a jump process; it also
// keeps the Poisson inversion's exp(-lambda) far from underflow.
constexpr double max_jumps_per_interval = 100.0;
// floor(seconds * rate_hz) with this relative slack, so that decimal inputs whose product is a
// whole number in decimal (0.29 s at 100 Hz) give that number despite binary rounding (28.99...).
constexpr double count_slack = 1e-12;
constexpr std::size_t flush_bytes = 1 << 20;

// Counter tags (the fourth counter word); arbitrary, distinct from generate_book's 0..3.
constexpr std::uint32_t tag_shock = 0x7469636Bu;       // "tick": diffusion shock and jump size
constexpr std::uint32_t tag_jump_count = 0x6A756D70u;  // "jump": number of jumps

struct tick_draws {
  double shock;       // standard normal, independent per underlying (before the Cholesky factor)
  double jump_size;   // standard normal
  double jump_count;  // uniform in (0, 1]
};

tick_draws draws_at(std::uint64_t seed, std::uint64_t k, std::uint32_t underlying) {
  const std::uint32_t key0 = static_cast<std::uint32_t>(seed),
                      key1 = static_cast<std::uint32_t>(seed >> 32);
  const std::uint32_t k0 = static_cast<std::uint32_t>(k), k1 = static_cast<std::uint32_t>(k >> 32);
  const normal_pair z =
      normals_from_block(philox4x32_10(philox_u32x4{{k0, k1, underlying, tag_shock}}, key0, key1));
  const philox_u32x4 u =
      philox4x32_10(philox_u32x4{{k0, k1, underlying, tag_jump_count}}, key0, key1);
  return tick_draws{z.z0, z.z1, uniform_open0(u.v[0], u.v[1])};
}

// Poisson(lambda) by inversion of the CDF at u in (0, 1]. lambda <= max_jumps_per_interval, so
// exp(-lambda) is a normal double; the bound on n ends the loop where rounding leaves the summed
// CDF just short of a u near 1 (it lies some 40 standard deviations above the mean).
int poisson_at(double lambda, double u) {
  if (lambda <= 0.0) return 0;
  const int max_n = static_cast<int>(lambda + 40.0 * std::sqrt(lambda) + 40.0);
  double p = std::exp(-lambda), cdf = p;
  int n = 0;
  while (cdf < u && n < max_n) {
    ++n;
    p *= lambda / n;
    cdf += p;
  }
  return n;
}

// The k-th timestamp, k / rate_hz seconds after as_of, rounded to the nanosecond.
std::int64_t timestamp_ns(std::int64_t as_of_ns, std::int64_t k, double rate_hz) {
  return as_of_ns + std::llround(static_cast<double>(k) * (ns_per_second / rate_hz));
}

// A symbol as a CSV field: quoted (with '"' doubled) when it holds a separator, quote or line end.
std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"\r\n") == std::string::npos) return text;
  std::string out = "\"";
  for (char c : text) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + '"';
}

// The price paths of all underlyings, advanced one timestamp at a time.
class path_state {
 public:
  path_state(const market_state& market, const tick_generate_options& o)
      : market_(market),
        options_(o),
        log_move_(market.size(), 0.0),
        shocks_(market.size(), 0.0),
        jump_rate_per_second_(o.jumps_per_hour / seconds_per_hour) {}

  // Moves every underlying over `dt_seconds` to timestamp k.
  void advance(std::int64_t k, double dt_seconds) {
    const std::size_t n = market_.size();
    const double dt = dt_seconds / seconds_per_year;
    const double lambda = jump_rate_per_second_ * dt_seconds;
    const double jv = options_.jump_vol;
    for (std::size_t u = 0; u < n; ++u) {
      const tick_draws d =
          draws_at(options_.seed, static_cast<std::uint64_t>(k), static_cast<std::uint32_t>(u));
      shocks_[u] = d.shock;
      const int jumps = poisson_at(lambda, d.jump_count);
      if (jumps > 0)
        log_move_[u] +=
            -0.5 * jumps * jv * jv + std::sqrt(static_cast<double>(jumps)) * jv * d.jump_size;
    }
    for (std::size_t u = 0; u < n; ++u) {
      double z = 0.0;  // correlated shock: row u of L times the independent shocks
      for (std::size_t j = 0; j <= u; ++j) z += market_.cholesky[u * n + j] * shocks_[j];
      const double vol = market_.vol[u];
      log_move_[u] += -0.5 * vol * vol * dt + vol * std::sqrt(dt) * z;
    }
  }

  double price(std::size_t u) const {
    return std::clamp(market_.spot[u] * std::exp(log_move_[u]), std::numeric_limits<double>::min(),
                      max_price);
  }

 private:
  const market_state& market_;
  const tick_generate_options& options_;
  std::vector<double> log_move_;  // log(price / spot) of each underlying
  std::vector<double> shocks_;
  double jump_rate_per_second_;
};

}  // namespace

std::string tick_generate_problem(const tick_generate_options& o) {
  if (!(std::isfinite(o.seconds) && o.seconds > 0.0))
    return "the stream length must be > 0 seconds";
  if (!(std::isfinite(o.rate_hz) && o.rate_hz > 0.0 && o.rate_hz <= max_rate_hz))
    return "the tick rate must be > 0 and at most 1e9 per second (timestamps are in nanoseconds)";
  if (!(std::isfinite(o.jumps_per_hour) && o.jumps_per_hour >= 0.0))
    return "jumps per hour must be >= 0";
  if (!(std::isfinite(o.jump_vol) && o.jump_vol >= 0.0)) return "the jump volatility must be >= 0";
  if (o.jumps_per_hour / seconds_per_hour / o.rate_hz > max_jumps_per_interval)
    return "more than 100 expected jumps between two ticks: raise the tick rate or lower jumps per "
           "hour";
  return {};
}

tick_generate_report generate_ticks(const market_state& market, const tick_generate_options& o,
                                    const std::filesystem::path& out_csv) {
  if (const std::string why = tick_generate_problem(o); !why.empty())
    throw std::invalid_argument("generate ticks: " + why);
  const std::size_t n = market.size();
  MSYNC_EXPECTS(
      n > 0 && market.spot.size() == n && market.vol.size() == n && market.cholesky.size() == n * n,
      "market_state with consistent sizes and a Cholesky factor");
  // The last timestamp must stay within docs/design.md's supported range (before 2150); checked in
  // double before any conversion, so the tick count below fits in 64 bits.
  const double end_ns = static_cast<double>(market.as_of_ns) + o.seconds * ns_per_second;
  if (!(end_ns < static_cast<double>(latest_timestamp_ms) * 1e6))
    throw std::invalid_argument(
        "generate ticks: the stream would end after 2149-12-31, the last supported time");
  const auto updates =
      static_cast<std::int64_t>(std::floor(o.seconds * o.rate_hz * (1.0 + count_slack)));

  atomic_file out(out_csv);
  std::string text = "timestamp,underlying,price\n";
  text.reserve(flush_bytes + 4096);
  std::vector<std::string> fields(n);
  for (std::size_t u = 0; u < n; ++u) fields[u] = csv_field(market.symbols[u]);
  path_state path(market, o);
  tick_generate_report report;
  std::int64_t previous_ns = market.as_of_ns;
  for (std::int64_t k = 1; k <= updates; ++k) {
    const std::int64_t ts = timestamp_ns(market.as_of_ns, k, o.rate_hz);
    path.advance(k, static_cast<double>(ts - previous_ns) / ns_per_second);
    previous_ns = ts;
    const std::string stamp = format_timestamp(ts);
    for (std::size_t u = 0; u < n; ++u) {
      text += stamp;
      text += ',';
      text += fields[u];
      text += ',';
      append_number(text, path.price(u));
      text += '\n';
    }
    report.ticks += static_cast<std::int64_t>(n);
    ++report.updates;
    if (text.size() >= flush_bytes) {
      out.write(text);
      text.clear();
    }
  }
  out.write(text);
  out.commit();
  return report;
}

}  // namespace msync
