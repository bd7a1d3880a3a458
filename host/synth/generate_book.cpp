// Synthetic book generator (`marginsync generate`, docs/design.md section 2 formats, docs/design.md
// section 3 formulas).
//
// Decisions, written down where they are made:
// - Randomness is Philox4x32-10 keyed by the seed. Counter = (index low, index high, draw, tag):
//   tag 0 draws an underlying's parameters (index = underlying), tag 1 an account (index =
//   account), tags 2 and 3 the proxy scenarios below (index = scenario). An account's rows and
//   collateral are a pure function of (seed, account index, U, K): independent of the number of
//   accounts and of the thread layout; no std::*_distribution, whose output differs between
//   standard libraries (gcc and clang builds give identical bytes; a libm whose exp or log
//   differs in the last bit could still move a rounded digit).
// - Underlyings: a fixed list of realistic crypto spots and vols, then SYM<n> (n = 1-based
//   position) with seeded spot and vol. Correlation is one-factor, rho_ij = beta_i beta_j with
//   betas in whole percent, so every entry is an exact 4-decimal number and the matrix is
//   positive definite (min eigenvalue >= 1 - max beta^2 = 0.19).
// - Instruments per underlying: SPOT, PERP, three quarterly-style futures, and options on four
//   expiries (a daily, a weekly, the December monthly, the March quarterly) x 9 strikes (BTC, ETH)
//   or 7 (others) x call/put. Strike spacing is a 1-2-2.5-5 step near half a standard deviation
//   of the expiry. Perpetuals on underlyings above 20,000 have multiplier 0.01 and below 1 have
//   multiplier 10, to exercise the column; everything else 1.
// - Collateral is set from a proxy of the engine's margin: a small Monte Carlo (up to 512 shared
//   scenarios, full revaluation, the docs/design.md default risk parameters) gives each account a
//   VaR 99%, IM = max(VaR, 1% gross notional) x tier multiplier, MM = 0.6 IM, and a loss
//   distribution. Each account is given a target equity: liquidate (E in [-0.3, 0.5] IM), margin
//   call
//   ([0.66, 0.94] IM), just above IM ([1.04, 1.3] IM) or comfortably ok ([1.3, 8] IM,
//   log-uniform); collateral = E - credit_limit - sum of position values, rounded to cents. An
//   account in trouble gets there through its trades: the entries of its perpetuals and futures
//   are moved against it (by at most 30% of the price) until its cash is not negative. Where that
//   is not enough (spot or long options bought on credit), 80% are made comfortable instead, so
//   negative collateral stays uncommon (about 7%); the target shares (21% / 19% / 10% / 50%) are
//   set so that the engine finds about 80% ok, 10% margin call and 10% liquidate.
//   The pre-emptive flag needs a loss distribution concentrated near its maximum (with a normal
//   loss, E >= IM implies a breach probability of at most 18%), which long options expiring within
//   the horizon have; for accounts whose proxy distribution allows it, 70% are placed where the
//   proxy breach probability is at least 40% while E >= 1.03 IM (0.5% to 3% of accounts with 5
//   to 20 positions each, more with fewer).
// - Files are written to "<name>.tmp" in the output directory and renamed when complete.
#include "synth/generate_book.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <exception>
#include <functional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <vector>

#include "io/book_snapshot.hpp"
#include "io/output_files.hpp"
#include "marginsync/philox.hpp"
#include "marginsync/scenario.hpp"
#include "marginsync/time_units.hpp"
#include "marginsync/valuation.hpp"

namespace msync {

namespace {

// ---- constants of the generated market and risk files -------------------------------------------
constexpr const char* as_of_text = "2026-11-24T08:00:00Z";
constexpr double rate = 0.04;
// docs/design.md defaults, written to risk.json and used by the collateral proxy.
constexpr double confidence = 0.99;
constexpr double horizon_years = 1.0 / 365.0;
constexpr double vol_of_vol = 1.0;
constexpr double spot_vol_correlation = -0.5;
constexpr double min_margin_rate = 0.01;
constexpr double maintenance_ratio = 0.6;
constexpr double vip_im_multiplier = 0.8;
constexpr double vip_credit_limit = 25000.0;

constexpr std::uint32_t tag_underlying = 0, tag_account = 1, tag_scenario = 2, tag_factor = 3;

constexpr int future_count = 3;
constexpr int option_expiry_count = 4;
constexpr int options_base = 2 + future_count;  // SPOT, PERP, futures, then options

struct civil_date {
  int year, month, day;
};
constexpr civil_date future_dates[future_count] = {{2026, 12, 25}, {2027, 3, 26}, {2027, 6, 25}};
constexpr civil_date option_dates[option_expiry_count] = {
    {2026, 11, 25}, {2026, 12, 4}, {2026, 12, 25}, {2027, 3, 26}};
// Expiries are at 08:00:00Z, like as_of.

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
std::int64_t days_from_civil(int y, int m, int d) {
  y -= m <= 2 ? 1 : 0;
  const int era = (y >= 0 ? y : y - 399) / 400;
  const int yoe = y - era * 400;
  const int doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return static_cast<std::int64_t>(era) * 146097 + doe - 719468;
}

double years_from_as_of(const civil_date& d) {
  const std::int64_t as_of_days = days_from_civil(2026, 11, 24);
  return static_cast<double>((days_from_civil(d.year, d.month, d.day) - as_of_days) * 86400) /
         seconds_per_year;
}

struct named_underlying {
  const char* symbol;
  double spot;
  double vol;
  int beta_pct;    // loading on the common factor, percent
  double funding;  // per 8 hours
};

constexpr named_underlying named_underlyings[] = {
    {"BTC", 91000.0, 0.55, 90, 0.0001}, {"ETH", 3100.0, 0.7, 88, 0.0001},
    {"SOL", 140.0, 0.85, 80, 0.00012},  {"BNB", 620.0, 0.6, 75, 0.0001},
    {"XRP", 2.2, 0.9, 72, 0.00008},     {"DOGE", 0.16, 1.0, 74, 0.00015},
    {"ADA", 0.45, 0.95, 73, 0.0001},    {"AVAX", 14.0, 0.95, 76, 0.0001},
    {"LINK", 13.0, 0.9, 75, 0.0001},    {"DOT", 2.8, 0.95, 72, 0.00009},
    {"LTC", 85.0, 0.8, 70, 0.0001},     {"TRX", 0.28, 0.6, 55, 0.00005},
    {"ATOM", 2.5, 0.95, 68, 0.0001},    {"NEAR", 1.9, 1.05, 70, 0.0001},
    {"UNI", 6.0, 1.0, 70, 0.0001},      {"APT", 3.0, 1.05, 68, 0.0001},
    {"ARB", 0.22, 1.1, 69, 0.0001},     {"OP", 0.35, 1.1, 69, 0.0001},
    {"SUI", 1.6, 1.1, 70, 0.00012},     {"TON", 1.7, 0.85, 55, 0.00005},
};
constexpr int named_count =
    static_cast<int>(sizeof(named_underlyings) / sizeof(named_underlyings[0]));

// ---- random numbers ----------------------------------------------------------------------------
class draw_stream {
 public:
  draw_stream(std::uint64_t seed, std::uint64_t index, std::uint32_t tag)
      : key0_(static_cast<std::uint32_t>(seed)),
        key1_(static_cast<std::uint32_t>(seed >> 32)),
        index0_(static_cast<std::uint32_t>(index)),
        index1_(static_cast<std::uint32_t>(index >> 32)),
        tag_(tag) {}

  // Uniform in [0, 1).
  double uniform() {
    if (have_uniform_) {
      have_uniform_ = false;
      return spare_uniform_;
    }
    const philox_u32x4 r = next_block();
    spare_uniform_ = 1.0 - uniform_open0(r.v[2], r.v[3]);
    have_uniform_ = true;
    return 1.0 - uniform_open0(r.v[0], r.v[1]);
  }
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  // Integer in [0, n).
  int below(int n) {
    const int k = static_cast<int>(uniform() * n);
    return k < n ? k : n - 1;
  }
  double normal() {
    if (have_normal_) {
      have_normal_ = false;
      return spare_normal_;
    }
    const normal_pair p = normals_from_block(next_block());
    spare_normal_ = p.z1;
    have_normal_ = true;
    return p.z0;
  }

 private:
  philox_u32x4 next_block() {
    return philox4x32_10(philox_u32x4{{index0_, index1_, draw_++, tag_}}, key0_, key1_);
  }
  std::uint32_t key0_, key1_, index0_, index1_, tag_;
  std::uint32_t draw_ = 0;
  bool have_uniform_ = false, have_normal_ = false;
  double spare_uniform_ = 0.0, spare_normal_ = 0.0;
};

// ---- rounding to readable decimals
// ---------------------------------------------------------------
constexpr double powers_of_ten[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                    1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                    1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

// x rounded to `decimals` decimal places (negative: to tens, hundreds, ...). The result is the
// double nearest to a decimal number, so it prints short and reads back exactly.
double round_decimals(double x, int decimals) {
  decimals = std::clamp(decimals, -15, 15);
  if (decimals >= 0) {
    const double p = powers_of_ten[decimals];
    return static_cast<double>(std::llround(x * p)) / p;
  }
  const double p = powers_of_ten[-decimals];
  return static_cast<double>(std::llround(x / p)) * p;
}

int floor_log10(double x) {
  return static_cast<int>(std::floor(std::log10(x)));
}

// x rounded to `digits` significant digits.
double round_significant(double x, int digits) {
  return round_decimals(x, digits - 1 - floor_log10(std::fabs(x)));
}

// ---- text output -------------------------------------------------------------------------------
class text_buffer {
 public:
  void clear() { size_ = 0; }
  std::size_t size() const { return size_; }
  const char* data() const { return data_.data(); }
  void put(char c) {
    reserve(1);
    data_[size_++] = c;
  }
  void put(std::string_view s) {
    reserve(s.size());
    std::memcpy(data_.data() + size_, s.data(), s.size());
    size_ += s.size();
  }
  // Shortest form that reads back exactly, in plain decimal notation (no exponent) when that fits
  // in 64 characters; -0 prints as 0.
  void put_number(double v) {
    reserve(64);
    char* first = data_.data() + size_;
    auto res = std::to_chars(first, first + 64, v + 0.0, std::chars_format::fixed);
    if (res.ec != std::errc()) res = std::to_chars(first, first + 64, v + 0.0);
    size_ = static_cast<std::size_t>(res.ptr - data_.data());
  }
  void put_integer(std::uint64_t v) {
    reserve(24);
    char* first = data_.data() + size_;
    const auto res = std::to_chars(first, first + 24, v);
    size_ = static_cast<std::size_t>(res.ptr - data_.data());
  }
  // A0000001: 'A' and the 1-based index, at least 7 digits.
  void put_account_id(std::uint64_t index) {
    char digits[24];
    const auto res = std::to_chars(digits, digits + sizeof digits, index + 1);
    const std::size_t n = static_cast<std::size_t>(res.ptr - digits);
    reserve(32);
    data_[size_++] = 'A';
    for (std::size_t i = n; i < 7; ++i) data_[size_++] = '0';
    std::memcpy(data_.data() + size_, digits, n);
    size_ += n;
  }

 private:
  void reserve(std::size_t n) {
    if (size_ + n > data_.size())
      data_.resize(std::max<std::size_t>(2 * data_.size(), size_ + n + 4096));
  }
  std::vector<char> data_;
  std::size_t size_ = 0;
};

void write_whole_file(const std::filesystem::path& path, const text_buffer& b) {
  atomic_file f(path);
  f.write(b.data(), b.size());
  f.commit();
}

// ---- the market --------------------------------------------------------------------------------
struct underlying_spec {
  std::string symbol;
  double spot;
  double vol;
  int beta_pct;
  double funding;
  int first_instrument;
  int strikes;  // per option expiry
};

std::vector<underlying_spec> make_underlyings(int count, std::uint64_t seed) {
  std::vector<underlying_spec> out;
  out.reserve(static_cast<std::size_t>(count));
  for (int i = 0; i < count; ++i) {
    underlying_spec u;
    if (i < named_count) {
      const named_underlying& n = named_underlyings[i];
      u.symbol = n.symbol;
      u.spot = n.spot;
      u.vol = n.vol;
      u.beta_pct = n.beta_pct;
      u.funding = n.funding;
    } else {
      draw_stream r(seed, static_cast<std::uint64_t>(i), tag_underlying);
      u.symbol = "SYM" + std::to_string(i + 1);
      u.spot = round_significant(std::pow(10.0, r.uniform(-1.3, 2.7)), 5);  // 0.05 .. 500
      u.vol = round_decimals(r.uniform(0.6, 1.2), 2);
      u.beta_pct = 50 + r.below(31);  // 0.50 .. 0.80
      u.funding = round_decimals(r.uniform(-0.5, 2.0) * 1e-4, 6);
    }
    u.strikes = i < 2 ? 9 : 7;
    u.first_instrument = 0;
    out.push_back(std::move(u));
  }
  return out;
}

double correlation(const underlying_spec& a, const underlying_spec& b) {
  return static_cast<double>(a.beta_pct * b.beta_pct) / 1e4;
}

void write_market(const std::vector<underlying_spec>& us, const std::filesystem::path& path) {
  text_buffer b;
  b.put("{\n  \"as_of\": \"");
  b.put(as_of_text);
  b.put("\",\n  \"rate\": ");
  b.put_number(rate);
  b.put(",\n  \"underlyings\": [\n");
  for (std::size_t i = 0; i < us.size(); ++i) {
    b.put("    {\"symbol\": \"");
    b.put(us[i].symbol);
    b.put("\", \"spot\": ");
    b.put_number(us[i].spot);
    b.put(", \"vol\": ");
    b.put_number(us[i].vol);
    b.put(", \"dividend_yield\": 0, \"funding_rate\": ");
    b.put_number(us[i].funding);
    b.put(i + 1 < us.size() ? "},\n" : "}\n");
  }
  b.put("  ],\n  \"correlation\": [\n");
  for (std::size_t i = 0; i < us.size(); ++i) {
    b.put("    [");
    for (std::size_t j = 0; j < us.size(); ++j) {
      if (j > 0) b.put(", ");
      b.put_number(i == j ? 1.0 : correlation(us[i], us[j]));
    }
    b.put(i + 1 < us.size() ? "],\n" : "]\n");
  }
  b.put("  ]\n}\n");
  write_whole_file(path, b);
}

void write_risk(const std::filesystem::path& path) {
  text_buffer b;
  b.put("{\n  \"confidence\": ");
  b.put_number(confidence);
  b.put(",\n  \"horizon_days\": 1,\n  \"scenarios\": 10000,\n  \"seed\": 1,\n");
  b.put("  \"method\": \"full\",\n  \"margin_measure\": \"var\",\n");
  b.put("  \"distribution\": \"normal\",\n  \"degrees_of_freedom\": 4,\n");
  b.put("  \"vol_of_vol\": ");
  b.put_number(vol_of_vol);
  b.put(",\n  \"spot_vol_correlation\": ");
  b.put_number(spot_vol_correlation);
  b.put(",\n  \"min_margin_rate\": ");
  b.put_number(min_margin_rate);
  b.put(",\n  \"maintenance_ratio\": ");
  b.put_number(maintenance_ratio);
  b.put(",\n  \"preemptive_threshold\": 0.25,\n  \"tiers\": {\n");
  b.put("    \"standard\": {\"im_multiplier\": 1, \"credit_limit\": 0},\n");
  b.put("    \"vip\": {\"im_multiplier\": ");
  b.put_number(vip_im_multiplier);
  b.put(", \"credit_limit\": ");
  b.put_number(vip_credit_limit);
  b.put("}\n  },\n");
  b.put(
      "  \"deviation_threshold\": 0.005,\n  \"heartbeat_ms\": 1000,\n  \"stale_after_ms\": "
      "5000\n}\n");
  write_whole_file(path, b);
}

// ---- instruments -------------------------------------------------------------------------------
struct instrument_spec {
  std::string id;
  instrument_kind kind;
  int underlying;
  double multiplier;
  double unit_value;     // m x value of one unit now
  double reference;      // spot or forward: where perpetual and future entries are drawn around
  double notional_unit;  // m x S: gross notional of one unit
  int quantity_decimals;
  int price_decimals;
};

std::string date_code(const civil_date& d) {
  char text[16];
  std::snprintf(text, sizeof text, "%04d%02d%02d", d.year, d.month, d.day);
  return text;
}

std::string expiry_text(const civil_date& d) {
  char text[32];
  std::snprintf(text, sizeof text, "%04d-%02d-%02dT08:00:00Z", d.year, d.month, d.day);
  return text;
}

std::string number_text(double v) {
  text_buffer b;
  b.put_number(v);
  return std::string(b.data(), b.size());
}

// Builds the instrument list (ordered by underlying: SPOT, PERP, futures, options by expiry,
// strike, call then put), its csv text, and each instrument's valuation inputs and contract terms
// (for the collateral proxy).
std::vector<instrument_spec> make_instruments(std::vector<underlying_spec>& us, text_buffer& csv,
                                              std::vector<valuation_inputs>& now,
                                              std::vector<contract_terms>& terms) {
  std::vector<instrument_spec> out;
  csv.put("instrument_id,kind,underlying,strike,expiry,option_type,multiplier\n");
  for (std::size_t ui = 0; ui < us.size(); ++ui) {
    underlying_spec& u = us[ui];
    u.first_instrument = static_cast<int>(out.size());
    const double carry = rate;  // dividend_yield 0
    // Quantities in steps worth about 0.01 to 0.1 of quote currency.
    const int qty_decimals = std::clamp(static_cast<int>(std::ceil(std::log10(u.spot))) + 1, 0, 8);
    auto add = [&](std::string id, instrument_kind kind, const char* kind_name, double strike,
                   const std::string& strike_text, const civil_date* expiry, int option_type,
                   double multiplier) {
      const double t = expiry ? years_from_as_of(*expiry) : 0.0;
      const valuation_inputs x{u.spot, u.vol, rate, carry, t};
      const contract_terms c{kind, option_type == 1, strike, multiplier};
      instrument_spec s;
      s.id = std::move(id);
      s.kind = kind;
      s.underlying = static_cast<int>(ui);
      s.multiplier = multiplier;
      s.unit_value = unit_value(c, x);
      s.reference = kind == instrument_kind::future ? future_price(u.spot, carry, t) : u.spot;
      s.notional_unit = multiplier * u.spot;
      s.quantity_decimals =
          std::clamp(static_cast<int>(std::ceil(std::log10(s.notional_unit))) + 1, 0, 8);
      if (kind == instrument_kind::spot || kind == instrument_kind::option)
        s.quantity_decimals = qty_decimals;
      s.price_decimals = 4 - floor_log10(s.reference);  // 5 significant digits
      csv.put(s.id);
      csv.put(',');
      csv.put(kind_name);
      csv.put(',');
      csv.put(u.symbol);
      csv.put(',');
      csv.put(strike_text);
      csv.put(',');
      if (expiry) csv.put(expiry_text(*expiry));
      csv.put(',');
      if (option_type == 1) csv.put("call");
      if (option_type == 2) csv.put("put");
      csv.put(',');
      csv.put_number(multiplier);
      csv.put('\n');
      now.push_back(x);
      terms.push_back(c);
      out.push_back(std::move(s));
    };
    add(u.symbol + "-SPOT", instrument_kind::spot, "spot", 0.0, "", nullptr, 0, 1.0);
    const double perp_multiplier = u.spot > 20000.0 ? 0.01 : (u.spot < 1.0 ? 10.0 : 1.0);
    add(u.symbol + "-PERP", instrument_kind::perpetual, "perpetual", 0.0, "", nullptr, 0,
        perp_multiplier);
    for (const civil_date& d : future_dates)
      add(u.symbol + "-" + date_code(d), instrument_kind::future, "future", 0.0, "", &d, 0, 1.0);
    const int half = u.strikes / 2;
    for (const civil_date& d : option_dates) {
      // Step: 1, 2, 2.5 or 5 x 10^e, at most half a standard deviation of the expiry and small
      // enough that the lowest strike stays positive. Strike = integer x mantissa x 10^e.
      const double sd = u.spot * u.vol * std::sqrt(years_from_as_of(d));
      const double raw = std::min(0.5 * sd, u.spot / (half + 1.5));
      int e = floor_log10(raw);
      const double mant = raw / std::pow(10.0, e);
      long long m = mant >= 5.0 ? 50 : mant >= 2.5 ? 25 : mant >= 2.0 ? 20 : 10;
      e -= 1;  // raw ~ m x 10^e with m in {10, 20, 25, 50}
      const double step = e >= 0 ? static_cast<double>(m) * powers_of_ten[std::min(e, 22)]
                                 : static_cast<double>(m) / powers_of_ten[std::min(-e, 22)];
      const long long center = std::max<long long>(std::llround(u.spot / step), half + 1);
      for (int k = -half; k <= half; ++k) {
        const long long n = (center + k) * m;
        const double strike = e >= 0 ? static_cast<double>(n) * powers_of_ten[std::min(e, 22)]
                                     : static_cast<double>(n) / powers_of_ten[std::min(-e, 22)];
        const std::string strike_text = number_text(strike);
        const std::string base = u.symbol + "-" + date_code(d) + "-" + strike_text;
        add(base + "-C", instrument_kind::option, "option", strike, strike_text, &d, 1, 1.0);
        add(base + "-P", instrument_kind::option, "option", strike, strike_text, &d, 2, 1.0);
      }
    }
  }
  return out;
}

int option_index(const underlying_spec& u, int expiry, int strike, bool put) {
  return u.first_instrument + options_base + (expiry * u.strikes + strike) * 2 + (put ? 1 : 0);
}

// ---- the collateral proxy ----------------------------------------------------------------------
// dv[i * scenarios + s] = m x (value of instrument i in scenario s at T - h) - unit_value(i), as
// float: the proxy only needs a few significant digits.
struct proxy_table {
  int scenarios = 0;
  std::vector<float> dv;
};

proxy_table make_proxy(const std::vector<underlying_spec>& us,
                       const std::vector<instrument_spec>& instruments,
                       const std::vector<valuation_inputs>& now,
                       const std::vector<contract_terms>& terms, std::uint64_t seed) {
  proxy_table p;
  // At most 512 scenarios and about 256 MB of table.
  const std::size_t n = instruments.size();
  const std::size_t cap = (std::size_t{256} << 20) / (sizeof(float) * std::max<std::size_t>(n, 1));
  p.scenarios = static_cast<int>(std::clamp<std::size_t>(cap / 16 * 16, 64, 512));
  const std::size_t S = static_cast<std::size_t>(p.scenarios);
  p.dv.assign(n * S, 0.0f);
  std::vector<double> spot(us.size()), vol(us.size());
  for (std::size_t s = 0; s < S; ++s) {
    draw_stream factor(seed, s, tag_factor);
    const double f = factor.normal();
    for (std::size_t u = 0; u < us.size(); ++u) {
      const normal_pair e = normals_from_block(
          philox4x32_10(philox_u32x4{{static_cast<std::uint32_t>(s), 0u,
                                      static_cast<std::uint32_t>(u), tag_scenario}},
                        static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32)));
      const double beta = us[u].beta_pct / 100.0;
      const double z = beta * f + std::sqrt(1.0 - beta * beta) * e.z0;
      const shocked_market m = shock_underlying(us[u].spot, us[u].vol, z, e.z1, horizon_years,
                                                vol_of_vol, spot_vol_correlation);
      spot[u] = m.spot;
      vol[u] = shocked_vol(us[u].vol, 1.0, m.vol_shock, vol_shock_drift(vol_of_vol, horizon_years));
    }
    for (std::size_t i = 0; i < n; ++i) {
      const std::size_t u = static_cast<std::size_t>(instruments[i].underlying);
      valuation_inputs x = now[i];
      x.spot = spot[u];
      x.vol = vol[u];
      x.time_to_expiry = now[i].time_to_expiry - horizon_years;
      p.dv[i * S + s] = static_cast<float>(unit_value(terms[i], x) - instruments[i].unit_value);
    }
  }
  return p;
}

// ---- accounts and positions --------------------------------------------------------------------
enum class style { directional, basis, option_buyer, gamma_buyer, option_seller, mixed };

struct generator {
  const std::vector<underlying_spec>& underlyings;
  const std::vector<instrument_spec>& instruments;
  const proxy_table& proxy;
  std::vector<double> popularity;  // cumulative weights for picking underlyings
  std::uint64_t seed;
  int per_account;
};

// loss[s] -= q dv[s]; S is a multiple of 16, and blocks of 16 vectorize even at -O2.
void accumulate_loss(float* __restrict loss, const float* __restrict dv, float q, std::size_t S) {
  for (std::size_t s = 0; s < S; s += 16)
    for (std::size_t j = 0; j < 16; ++j) loss[s + j] -= q * dv[s + j];
}

struct row {
  int instrument;
  double quantity;
  double entry;  // > 0 for perpetuals and futures, 0 otherwise
};

struct worker_scratch {
  std::vector<row> rows;
  std::vector<float> loss, sorted;
  std::vector<std::int64_t> stamp;  // last account that used an instrument, to keep duplicates rare
  std::vector<double> weight;
  std::vector<int> chosen;
};

int pick_weighted(const std::vector<double>& cumulative, double u) {
  const double x = u * cumulative.back();
  const auto it = std::upper_bound(cumulative.begin(), cumulative.end(), x);
  const auto k = static_cast<int>(it - cumulative.begin());
  return std::min(k, static_cast<int>(cumulative.size()) - 1);
}

int pick_from(draw_stream& r, const double* cumulative, int n) {
  const double x = r.uniform() * cumulative[n - 1];
  for (int i = 0; i < n - 1; ++i)
    if (x < cumulative[i]) return i;
  return n - 1;
}

// Generates account `a`: its rows into `positions`, its row into `accounts`.
void generate_account(const generator& g, std::uint64_t a, worker_scratch& w, text_buffer& accounts,
                      text_buffer& positions) {
  draw_stream r(g.seed, a, tag_account);
  const int U = static_cast<int>(g.underlyings.size());
  const int K = g.per_account;
  const std::size_t S = static_cast<std::size_t>(g.proxy.scenarios);

  // How many underlyings (1 to 3, never more than rows or underlyings), and which.
  const double nu_draw = r.uniform();
  int nu = nu_draw < 0.5 ? 1 : nu_draw < 0.8 ? 2 : 3;
  nu = std::min({nu, K, U});
  w.chosen.clear();
  for (int i = 0; i < nu; ++i) {
    int pick = pick_weighted(g.popularity, r.uniform());
    for (int attempt = 0;
         attempt < 16 && std::find(w.chosen.begin(), w.chosen.end(), pick) != w.chosen.end();
         ++attempt)
      pick = pick_weighted(g.popularity, r.uniform());
    while (std::find(w.chosen.begin(), w.chosen.end(), pick) != w.chosen.end())
      pick = (pick + 1) % U;
    w.chosen.push_back(pick);
  }
  int direction[3];
  for (int i = 0; i < nu; ++i) direction[i] = r.uniform() < 0.55 ? 1 : -1;

  const double style_draw = r.uniform();
  const style st = style_draw < 0.32   ? style::directional
                   : style_draw < 0.46 ? style::basis
                   : style_draw < 0.62 ? style::option_buyer
                   : style_draw < 0.70 ? style::gamma_buyer
                   : style_draw < 0.84 ? style::option_seller
                                       : style::mixed;
  const double account_notional = std::pow(10.0, 3.0 + 3.0 * r.uniform());  // 1e3 .. 1e6

  w.weight.resize(static_cast<std::size_t>(K));
  double weight_sum = 0.0;
  for (int k = 0; k < K; ++k)
    weight_sum += (w.weight[static_cast<std::size_t>(k)] = 0.25 + r.uniform());

  std::fill(w.loss.begin(), w.loss.end(), 0.0f);
  double gross = 0.0;
  w.rows.clear();
  const std::int64_t stamp = static_cast<std::int64_t>(a);

  for (int k = 0; k < K; ++k) {
    const int slot = k < nu ? k : r.below(nu);
    const underlying_spec& u =
        g.underlyings[static_cast<std::size_t>(w.chosen[static_cast<std::size_t>(slot)])];
    const int dir = direction[slot];
    const int half = u.strikes / 2;
    int sign = 1;
    auto option_pick = [&](const double* expiry_weights, int strike_offset, bool put) {
      const int e = pick_from(r, expiry_weights, option_expiry_count);
      const int s = std::clamp(half + strike_offset, 0, u.strikes - 1);
      return option_index(u, e, s, put);
    };
    static constexpr double future_w[future_count] = {0.5, 0.8, 1.0};
    static constexpr double buyer_w[option_expiry_count] = {0.3, 0.6, 0.8, 1.0};
    static constexpr double gamma_w[option_expiry_count] = {1.0, 1.0, 1.0, 1.0};  // daily only
    static constexpr double seller_w[option_expiry_count] = {0.1, 0.45, 0.8, 1.0};
    static constexpr double any_w[option_expiry_count] = {0.25, 0.5, 0.75, 1.0};
    const int spot_i = u.first_instrument, perp_i = u.first_instrument + 1;
    auto future_pick = [&] {
      return u.first_instrument + 2 + pick_from(r, future_w, future_count);
    };

    int inst = 0;
    // About one row in 500 (after the first row of each underlying) is a second fill of an
    // instrument the account already holds: docs/design.md section 2.4 merges such rows into one
    // position.
    if (k >= nu && r.uniform() < 0.002) {
      const row& previous = w.rows[static_cast<std::size_t>(r.below(k))];
      inst = previous.instrument;
      sign = previous.quantity > 0.0 ? 1 : -1;
    } else {
      const double p = r.uniform();
      switch (st) {
        case style::directional:
          inst = p < 0.6 ? perp_i : p < 0.85 ? future_pick() : spot_i;
          sign = inst == spot_i ? 1 : dir;
          break;
        case style::basis:
          inst = p < 0.45 ? spot_i : p < 0.75 ? perp_i : future_pick();
          sign = inst == spot_i ? 1 : -1;
          break;
        case style::option_buyer:
          if (p < 0.7) {
            const bool put = r.uniform() < (dir > 0 ? 0.3 : 0.7);
            inst = option_pick(buyer_w, static_cast<int>(std::lround(r.normal() * 1.2)), put);
          } else {
            inst = p < 0.9 ? perp_i : spot_i;
            sign = inst == spot_i || r.uniform() < 0.5 ? 1 : -1;
          }
          break;
        case style::gamma_buyer: {
          // One draw per statement: the evaluation order of function arguments is unspecified.
          const int offset = static_cast<int>(std::lround(r.normal() * 0.6));
          const bool put = r.uniform() < 0.5;
          inst = option_pick(gamma_w, offset, put);
          break;
        }
        case style::option_seller:
          if (p < 0.65) {
            const bool put = r.uniform() < 0.6;
            const int otm = 1 + r.below(std::max(half, 1));
            inst = option_pick(seller_w, put ? -otm : otm, put);
            sign = -1;
          } else {
            inst = p < 0.8 ? spot_i : perp_i;
            sign = inst == spot_i ? 1 : dir;
          }
          break;
        case style::mixed:
          if (p < 0.15)
            inst = spot_i;
          else if (p < 0.5)
            inst = perp_i;
          else if (p < 0.65)
            inst = future_pick();
          else {
            const int offset = r.below(u.strikes) - half;
            const bool put = r.uniform() < 0.5;
            inst = option_pick(any_w, offset, put);
          }
          sign = inst == spot_i ? 1 : (r.uniform() < 0.55 ? 1 : -1);
          break;
      }
      // Keep duplicate (account, instrument) rows rare: on a repeat, take the first unused
      // perpetual, future or (for a long) spot of the same underlying, else random options of it.
      auto used = [&](int i) { return w.stamp[static_cast<std::size_t>(i)] == stamp; };
      if (used(inst) &&
          g.instruments[static_cast<std::size_t>(inst)].kind != instrument_kind::option) {
        for (int j = 1; j <= future_count + 2 && used(inst); ++j) {
          const int candidate = u.first_instrument + j % (future_count + 2);  // PERP, futures, SPOT
          if (candidate != spot_i || sign > 0) inst = candidate;
        }
      }
      for (int attempt = 0; attempt < 8 && used(inst); ++attempt) {
        const int expiry = r.below(option_expiry_count);
        const int strike = r.below(u.strikes);
        const bool put = r.uniform() < 0.5;
        inst = option_index(u, expiry, strike, put);
      }
    }
    w.stamp[static_cast<std::size_t>(inst)] = stamp;
    const instrument_spec& is = g.instruments[static_cast<std::size_t>(inst)];

    // Quantity: this row's share of the account notional, in units of the underlying.
    const double row_notional =
        account_notional * w.weight[static_cast<std::size_t>(k)] / weight_sum;
    double q = round_decimals(sign * row_notional / is.notional_unit, is.quantity_decimals);
    if (q == 0.0) q = sign / powers_of_ten[is.quantity_decimals];

    double entry = 0.0;
    if (is.kind == instrument_kind::perpetual || is.kind == instrument_kind::future)
      entry = round_decimals(is.reference * std::exp(std::clamp(0.03 * r.normal(), -0.2, 0.2)),
                             is.price_decimals);
    w.rows.push_back(row{inst, q, entry});
    gross += std::fabs(q * is.notional_unit);
    const float qf = static_cast<float>(q);
    accumulate_loss(w.loss.data(), g.proxy.dv.data() + static_cast<std::size_t>(inst) * S, qf, S);
  }

  // Proxy margin: VaR = k-th largest loss, IM, MM.
  const bool vip = account_notional >= 2e5 && r.uniform() < 0.2;
  const double im_multiplier = vip ? vip_im_multiplier : 1.0;
  const double credit = vip ? vip_credit_limit : 0.0;
  // VaR: the k-th largest proxy loss (k <= 6 for at most 512 scenarios), by insertion into a
  // short descending list.
  const std::size_t k_var = static_cast<std::size_t>(
      std::max(1.0, std::ceil((1.0 - confidence) * static_cast<double>(S) - 1e-9)));
  w.sorted.assign(k_var, -HUGE_VALF);
  for (std::size_t s = 0; s < S; ++s) {
    const float x = w.loss[s];
    if (!(x > w.sorted[k_var - 1])) continue;
    std::size_t j = k_var - 1;
    for (; j > 0 && w.sorted[j - 1] < x; --j) w.sorted[j] = w.sorted[j - 1];
    w.sorted[j] = x;
  }
  const double var = w.sorted[k_var - 1];
  const double im = std::max({var, min_margin_rate * gross, 0.0}) * im_multiplier;
  const double mm = maintenance_ratio * im;
  // Pre-emptive candidates: E <= MM + q40, q40 the loss exceeded in 40% of the proxy scenarios,
  // gives a breach probability of at least 40%; feasible when that leaves room above 1.08 IM.
  const std::size_t k40 = static_cast<std::size_t>(0.4 * static_cast<double>(S));
  const float room = static_cast<float>(1.08 * im - mm);
  std::size_t above = 0;
  for (std::size_t s = 0; s < S; ++s) above += w.loss[s] >= room ? 1 : 0;
  double preemptive_ceiling = -HUGE_VAL;
  if (above >= k40) {
    w.sorted.assign(w.loss.begin(), w.loss.end());
    std::nth_element(w.sorted.begin(), w.sorted.begin() + static_cast<std::ptrdiff_t>(k40 - 1),
                     w.sorted.end(), std::greater<float>());
    preemptive_ceiling = mm + w.sorted[k40 - 1];
  }

  // Target equity.
  enum class target { preemptive, liquidate, margin_call, near_im, ok };
  const double u_pre = r.uniform(), u_class = r.uniform(), u_level = r.uniform(),
               u_keep = r.uniform();
  target t = preemptive_ceiling >= 1.08 * im && u_pre < 0.7 ? target::preemptive
             : u_class < 0.21                               ? target::liquidate
             : u_class < 0.40                               ? target::margin_call
             : u_class < 0.50                               ? target::near_im
                                                            : target::ok;
  const double ok_equity = im * 1.3 * std::pow(8.0 / 1.3, u_level);
  double equity = ok_equity;
  switch (t) {
    case target::preemptive:
      equity = 1.03 * im + 0.8 * u_level * (preemptive_ceiling - 1.03 * im);
      break;
    case target::liquidate:
      equity = im * (-0.3 + 0.8 * u_level);
      break;
    case target::margin_call:
      equity = im * (0.66 + 0.28 * u_level);
      break;
    case target::near_im:
      equity = im * (1.04 + 0.26 * u_level);
      break;
    case target::ok:
      break;
  }

  auto book_value = [&] {  // sum of the rows' equity contributions
    double v = 0.0;
    for (const row& x : w.rows) {
      const instrument_spec& is = g.instruments[static_cast<std::size_t>(x.instrument)];
      v += x.quantity * is.unit_value;
      if (x.entry > 0.0) v -= is.multiplier * x.quantity * x.entry;
    }
    return v;
  };
  double value = book_value();
  double collateral = equity - credit - value;
  if (t != target::ok && t != target::preemptive && collateral < 0.0) {
    // An account in trouble is one whose trades went against it: move the entries of its
    // perpetuals and futures (by at most 30% of the price) until its cash is no longer negative.
    double linear_notional = 0.0;
    for (const row& x : w.rows)
      if (x.entry > 0.0) {
        const instrument_spec& is = g.instruments[static_cast<std::size_t>(x.instrument)];
        linear_notional += std::fabs(x.quantity * is.multiplier * is.reference);
      }
    if (linear_notional > 0.0) {
      const double shift = std::min(-collateral / linear_notional, 0.3);
      for (row& x : w.rows)
        if (x.entry > 0.0) {
          const instrument_spec& is = g.instruments[static_cast<std::size_t>(x.instrument)];
          const double moved = x.entry + (x.quantity > 0.0 ? shift : -shift) * is.reference;
          x.entry = round_decimals(moved, is.price_decimals);
          if (!(x.entry > 0.0)) x.entry = 1.0 / powers_of_ten[std::clamp(is.price_decimals, 0, 15)];
        }
      value = book_value();
      collateral = equity - credit - value;
    }
    // Still borrowing (spot or long options bought on credit): most such accounts are made
    // comfortable instead, so that negative cash stays uncommon.
    if (collateral < 0.0 && u_keep < 0.8) {
      t = target::ok;
      equity = ok_equity;
      collateral = equity - credit - value;
    }
  }
  if (t == target::ok && collateral < 0.0) collateral = account_notional * 0.05 * (0.2 + u_level);
  collateral = round_decimals(collateral, 2);

  for (const row& x : w.rows) {
    const instrument_spec& is = g.instruments[static_cast<std::size_t>(x.instrument)];
    positions.put_account_id(a);
    positions.put(',');
    positions.put(is.id);
    positions.put(',');
    positions.put_number(x.quantity);
    positions.put(',');
    if (x.entry > 0.0) positions.put_number(x.entry);
    positions.put('\n');
  }
  accounts.put_account_id(a);
  accounts.put(',');
  accounts.put_number(collateral);
  accounts.put(vip ? ",vip\n" : ",standard\n");
}

}  // namespace

generate_report generate_book(const generate_options& options,
                              const std::filesystem::path& out_dir) {
  // A book without accounts would not load (docs/design.md section 2.3).
  if (options.accounts < 1) throw std::invalid_argument("generate: --accounts must be >= 1");
  if (options.underlyings < 1 || options.underlyings > static_cast<int>(max_underlyings))
    throw std::invalid_argument("generate: --underlyings must be within [1, " +
                                std::to_string(max_underlyings) + "]");
  if (options.positions_per_account < 1)
    throw std::invalid_argument("generate: --positions-per-account must be >= 1");

  std::error_code ec;
  std::filesystem::create_directories(out_dir, ec);
  if (ec || !std::filesystem::is_directory(out_dir))
    throw std::runtime_error("cannot create directory " + out_dir.string() +
                             (ec ? ": " + ec.message() : std::string()));

  std::vector<underlying_spec> underlyings = make_underlyings(options.underlyings, options.seed);
  text_buffer instrument_csv;
  std::vector<valuation_inputs> now;
  std::vector<contract_terms> terms;
  const std::vector<instrument_spec> instruments =
      make_instruments(underlyings, instrument_csv, now, terms);
  const proxy_table proxy = make_proxy(underlyings, instruments, now, terms, options.seed);

  write_market(underlyings, out_dir / "market.json");
  write_risk(out_dir / "risk.json");
  write_whole_file(out_dir / "instruments.csv", instrument_csv);

  generator g{underlyings, instruments, proxy, {}, options.seed, options.positions_per_account};
  g.popularity.resize(underlyings.size());
  double total = 0.0;
  for (std::size_t i = 0; i < underlyings.size(); ++i)
    g.popularity[i] = (total += 1.0 / std::pow(static_cast<double>(i + 1), 0.7));

  // Accounts are generated in chunks, several chunks at a time on worker threads, and written in
  // order; an account's text does not depend on which thread made it.
  const std::int64_t n = options.accounts;
  const std::int64_t chunk = std::max<std::int64_t>(1, 262144 / options.positions_per_account);
  const unsigned hw = std::thread::hardware_concurrency();
  const std::size_t threads = std::clamp<std::size_t>(hw == 0 ? 1 : hw, 1, 8);
  std::vector<worker_scratch> scratch(threads);
  std::vector<text_buffer> account_text(threads), position_text(threads);
  for (worker_scratch& w : scratch) {
    w.loss.assign(static_cast<std::size_t>(proxy.scenarios), 0.0f);
    w.stamp.assign(instruments.size(), -1);
  }

  atomic_file accounts_file(out_dir / "accounts.csv");
  atomic_file positions_file(out_dir / "positions.csv");
  accounts_file.write("account_id,collateral,tier\n");
  positions_file.write("account_id,instrument_id,quantity,entry_price\n");

  std::vector<std::exception_ptr> errors(threads);
  auto run_chunk = [&](std::size_t t, std::int64_t begin) {
    try {
      account_text[t].clear();
      position_text[t].clear();
      const std::int64_t end = std::min(n, begin + chunk);
      for (std::int64_t a = begin; a < end; ++a)
        generate_account(g, static_cast<std::uint64_t>(a), scratch[t], account_text[t],
                         position_text[t]);
    } catch (...) {
      errors[t] = std::current_exception();
    }
  };
  for (std::int64_t start = 0; start < n; start += chunk * static_cast<std::int64_t>(threads)) {
    std::vector<std::thread> pool;
    std::vector<std::size_t> inline_chunks;  // where no thread could be started
    std::size_t used = 1;
    for (std::size_t t = 1; t < threads; ++t) {
      const std::int64_t begin = start + chunk * static_cast<std::int64_t>(t);
      if (begin >= n) break;
      try {
        pool.emplace_back(run_chunk, t, begin);
      } catch (const std::system_error&) {
        inline_chunks.push_back(t);
      }
      ++used;
    }
    run_chunk(0, start);
    for (std::size_t t : inline_chunks) run_chunk(t, start + chunk * static_cast<std::int64_t>(t));
    for (std::thread& th : pool) th.join();
    for (const std::exception_ptr& e : errors)
      if (e) std::rethrow_exception(e);
    for (std::size_t t = 0; t < used; ++t) {
      accounts_file.write(account_text[t].data(), account_text[t].size());
      positions_file.write(position_text[t].data(), position_text[t].size());
    }
  }
  accounts_file.commit();
  positions_file.commit();

  generate_report report;
  report.instruments = static_cast<std::int64_t>(instruments.size());
  report.accounts = n;
  report.positions = n * options.positions_per_account;
  return report;
}

generate_report generate_book_snapshot(const generate_options& options,
                                       const std::filesystem::path& file) {
  // Through CSV files, so a generated snapshot is exactly what convert makes of the generated
  // directory.
  // Staged in a private directory beside the snapshot (mkdtemp), removed when done, on an
  // exception, on SIGINT/SIGTERM, or by a later run if this one is killed.
  private_directory staging(file.has_parent_path() ? file.parent_path() : ".", "generate");
  for (const char* name :
       {"market.json", "risk.json", "instruments.csv", "accounts.csv", "positions.csv"})
    staging.file(name);
  const generate_report r = generate_book(options, staging.path());
  convert_book_directory(book_paths::in_directory(staging.path()), file);
  return r;
}

}  // namespace msync
