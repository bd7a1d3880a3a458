#include "fuzz_support.hpp"

#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <unordered_set>

#include "io/id_rules.hpp"
#include "io/number_parse.hpp"
#include "marginsync/errors.hpp"
#include "marginsync/vol_surface.hpp"

namespace msync::fuzz {

void check(bool ok, const std::string& what) {
  if (!ok) throw fuzz_defect("invariant broken: " + what);
}

namespace {
template <class T>
T load_sample(T (*load)(const std::string&, const std::string&, problem_list&), const char* text,
              const char* name) {
  problem_list problems;
  T value = load(text, name, problems);
  check(problems.empty(), std::string("the sample ") + name + " does not load");
  return value;
}

bool within(double x, double low, double high) {
  return x >= low && x <= high;
}
bool timestamp_ok(std::int64_t ns) {
  return ns >= earliest_timestamp_ms * 1'000'000 && ns < latest_timestamp_ms * 1'000'000;
}

void check_offsets(const column<std::uint64_t>& v, std::size_t size, std::uint64_t total,
                   const char* what) {
  check(v.size() == size + 1, std::string(what) + ": wrong count");
  check(v.front() == 0 && v.back() == total, std::string(what) + ": wrong ends");
  for (std::size_t i = 1; i < v.size(); ++i)
    check(v[i - 1] <= v[i], std::string(what) + ": decreasing");
}

template <class Ids>
void check_ids(const Ids& ids, const char* what) {
  std::unordered_set<std::string_view> seen;
  for (std::string_view id : ids) {
    check(!id.empty(), std::string(what) + ": an empty id");
    check(id_text_problem(id).empty(), std::string(what) + ": an id breaking the id rule (2.1)");
    check(seen.insert(id).second, std::string(what) + ": a repeated id");
  }
}
}  // namespace

const market_state& sample_market() {
  static const market_state m = load_sample(load_market_text, sample_market_json, "market.json");
  return m;
}

const risk_params& sample_risk() {
  static const risk_params r = load_sample(load_risk_text, sample_risk_json, "risk.json");
  return r;
}

std::filesystem::path scratch_file(const std::string& name, std::string_view text) {
  static const std::filesystem::path dir = [] {
    const char* base = std::getenv("TMPDIR");
    std::string pattern = std::string(base && *base ? base : "/tmp") + "/msync_fuzz_XXXXXX";
    check(mkdtemp(pattern.data()) != nullptr, "cannot create a scratch directory");
    return std::filesystem::path(pattern);
  }();
  // Registered after `dir` is built, so it runs before `dir` is destroyed.
  static const bool removed_at_exit = [] {
    std::atexit([] {
      std::error_code ignored;
      std::filesystem::remove_all(dir, ignored);
    });
    return true;
  }();
  (void)removed_at_exit;
  const std::filesystem::path file = dir / name;
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
  out.close();
  check(static_cast<bool>(out), "cannot write a scratch file");
  return file;
}

void check_market(const market_state& m) {
  const std::size_t n = m.size();
  check(n > 0 && n <= max_underlyings, "market: underlyings not in [1, 1024]");
  check(timestamp_ok(m.as_of_ns), "market: as_of outside 1900-2149");
  check(within(m.rate, -1.0, 1.0), "market: rate outside [-1, 1]");
  check(m.spot.size() == n && m.vol.size() == n && m.dividend_yield.size() == n &&
            m.funding_rate.size() == n && m.correlation.size() == n * n &&
            m.cholesky.size() == n * n,
        "market: per-underlying lists of different sizes");
  check_ids(m.symbols, "market symbols");
  for (std::size_t u = 0; u < n; ++u) {
    check(m.spot[u] > 0.0 && m.spot[u] <= max_price, "market: spot outside (0, 1e12]");
    check(m.vol[u] > 0.0 && m.vol[u] <= 10.0, "market: vol outside (0, 10]");
    check(within(m.dividend_yield[u], -1.0, 1.0), "market: dividend_yield outside [-1, 1]");
    check(within(m.funding_rate[u], -0.1, 0.1), "market: funding_rate outside [-0.1, 0.1]");
    check(std::isfinite(m.carry(u)), "market: carry rate - dividend_yield not finite");
  }
  for (std::size_t i = 0; i < n * n; ++i) {
    check(within(m.correlation[i], -1.0, 1.0), "market: correlation outside [-1, 1]");
    check(std::isfinite(m.cholesky[i]), "market: Cholesky factor not finite");
  }
  for (std::size_t i = 0; i < n; ++i)
    check(m.correlation[i * n + i] == 1.0, "market: correlation diagonal not 1");
  check(m.surface.empty() || m.surface.size() == n, "market: surface lists not one per underlying");
  for (const std::vector<svi_slice>& slices : m.surface) {
    check(slices.size() <= max_surface_slices, "market: more surface slices than allowed");
    for (std::size_t j = 0; j < slices.size(); ++j) {
      check(svi_slice_problem(slices[j]) == nullptr, "market: an invalid SVI slice");
      check(timestamp_ok(slices[j].expiry_ns), "market: slice expiry outside 1900-2149");
      check(j == 0 || slices[j - 1].expiry_ns < slices[j].expiry_ns,
            "market: slice expiries not increasing");
    }
  }
}

void check_marks(const market_state& m, const instrument_table& t) {
  const std::size_t n = t.size();
  const bool none = m.mark_price.empty() && m.mark_iv.empty() && m.settlement_price.empty();
  check(
      none || (m.mark_price.size() == n && m.mark_iv.size() == n && m.settlement_price.size() == n),
      "marks: lists not one per instrument");
  if (none) return;
  for (std::size_t i = 0; i < n; ++i) {
    const bool future = t.kind[i] == instrument_kind::future;
    const bool option = t.kind[i] == instrument_kind::option;
    check(std::isnan(m.mark_price[i]) || (future && within(m.mark_price[i], 1e-300, max_price)),
          "marks: a mark_price outside (0, 1e12] or on an instrument that is not a future");
    check(std::isnan(m.mark_iv[i]) || (option && within(m.mark_iv[i], 1e-300, max_mark_iv)),
          "marks: a mark_iv outside (0, 10] or on an instrument that is not an option");
    check(std::isnan(m.settlement_price[i]) ||
              ((future || option) && within(m.settlement_price[i], 1e-300, max_price)),
          "marks: a settlement_price outside (0, 1e12] or on a spot or perpetual");
  }
}

void check_risk(const risk_params& r) {
  check(r.confidence > 0.0 && r.confidence < 1.0, "risk: confidence outside (0, 1)");
  check(r.horizon_days > 0.0 && r.horizon_days <= 3650.0, "risk: horizon_days outside (0, 3650]");
  check(r.scenarios >= 1 && r.scenarios <= max_scenarios, "risk: scenarios outside [1, 1e7]");
  check(r.degrees_of_freedom > 2.0 && r.degrees_of_freedom <= 1000.0,
        "risk: degrees_of_freedom outside (2, 1000]");
  check(within(r.vol_of_vol, 0.0, 10.0), "risk: vol_of_vol outside [0, 10]");
  check(within(r.spot_vol_correlation, -1.0, 1.0), "risk: spot_vol_correlation outside [-1, 1]");
  check(within(r.min_margin_rate, 0.0, 1.0), "risk: min_margin_rate outside [0, 1]");
  check(r.maintenance_ratio > 0.0 && r.maintenance_ratio <= 1.0,
        "risk: maintenance_ratio outside (0, 1]");
  check(within(r.preemptive_threshold, 0.0, 1.0), "risk: preemptive_threshold outside [0, 1]");
  check(!r.tiers.empty() && r.tiers.size() <= max_tiers, "risk: tiers not in [1, 1000]");
  std::vector<std::string> names;
  for (const tier& t : r.tiers) {
    check(t.im_multiplier > 0.0 && t.im_multiplier <= 1000.0,
          "risk: im_multiplier outside (0, 1000]");
    check(within(t.credit_limit, 0.0, max_money), "risk: credit_limit outside [0, 1e15]");
    names.push_back(t.name);
  }
  check_ids(names, "risk tiers");
  check(within(r.deviation_threshold, 0.0, 1e6), "risk: deviation_threshold outside [0, 1e6]");
  check(r.heartbeat_ms >= 1 && r.heartbeat_ms <= 1'000'000'000'000,
        "risk: heartbeat_ms outside [1, 1e12]");
  check(r.stale_after_ms >= 1 && r.stale_after_ms <= 1'000'000'000'000,
        "risk: stale_after_ms outside [1, 1e12]");
  check(r.liquidation_penalty >= 0.0 && r.liquidation_penalty < 1.0,
        "risk: liquidation_penalty outside [0, 1)");
  check(within(r.insurance_fund, 0.0, max_money), "risk: insurance_fund outside [0, 1e15]");
  check(within(r.impact_coefficient, 0.0, 100.0), "risk: impact_coefficient outside [0, 100]");
  check(within(r.daily_volume, 1.0, max_money), "risk: daily_volume outside [1, 1e15]");
  check(r.vol_term_reference_days > 0.0 && r.vol_term_reference_days <= 3650.0,
        "risk: vol_term_reference_days outside (0, 3650]");
  check(within(r.vol_term_exponent, 0.0, 2.0), "risk: vol_term_exponent outside [0, 2]");
  check(r.recovery_band >= 0.0 && r.recovery_band < 1.0, "risk: recovery_band outside [0, 1)");
}

void check_book(const book& b, const market_state& m, const risk_params& r) {
  const instrument_table& t = b.instruments;
  const std::size_t n_ins = t.id.size();
  check(t.kind.size() == n_ins && t.is_call.size() == n_ins && t.underlying.size() == n_ins &&
            t.strike.size() == n_ins && t.multiplier.size() == n_ins && t.expiry_ns.size() == n_ins,
        "book: instrument lists of different sizes");
  check_ids(t.id, "instruments");
  for (std::size_t i = 0; i < n_ins; ++i) {
    check(static_cast<unsigned>(t.kind[i]) <= static_cast<unsigned>(instrument_kind::option),
          "book: unknown instrument kind");
    check(t.is_call[i] <= 1, "book: option type neither call nor put");
    check(t.underlying[i] < m.size(), "book: underlying index out of range");
    check(t.multiplier[i] > 0.0 && t.multiplier[i] <= max_multiplier,
          "book: multiplier outside (0, 1e9]");
    if (t.kind[i] == instrument_kind::option)
      check(t.strike[i] > 0.0 && t.strike[i] <= max_price, "book: strike outside (0, 1e12]");
    if (t.kind[i] == instrument_kind::option || t.kind[i] == instrument_kind::future)
      check(timestamp_ok(t.expiry_ns[i]), "book: expiry outside 1900-2149");
  }
  const std::size_t n_acc = b.account_id.size();
  check(b.collateral.size() == n_acc && b.account_tier.size() == n_acc,
        "book: account lists of different sizes");
  check_ids(b.account_id, "accounts");
  for (std::size_t a = 0; a < n_acc; ++a) {
    check(within(b.collateral[a], -max_money, max_money), "book: collateral outside +-1e15");
    check(b.account_tier[a] < r.tiers.size(), "book: tier index out of range");
  }
  const std::size_t n_pos = b.position_instrument.size();
  const std::size_t n_exp = b.exposure_underlying.size();
  check(b.position_quantity.size() == n_pos && b.position_cost.size() == n_pos,
        "book: position lists of different sizes");
  check(n_pos <= b.position_rows, "book: more positions than rows");
  check_offsets(b.account_position_begin, n_acc, n_pos, "book: account position offsets");
  check_offsets(b.account_exposure_begin, n_acc, n_exp, "book: account exposure offsets");
  check_offsets(b.exposure_position_begin, n_exp, n_pos, "book: exposure position offsets");
  // Merged positions sum rows (docs/design.md section 2.10: a snapshot's bounds).
  for (std::size_t p = 0; p < n_pos; ++p) {
    check(b.position_instrument[p] < n_ins, "book: position instrument out of range");
    check(within(b.position_quantity[p], -1e6 * max_quantity, 1e6 * max_quantity),
          "book: merged quantity outside +-1e18");
    check(
        within(b.position_cost[p], -1e6 * max_quantity * max_price, 1e6 * max_quantity * max_price),
        "book: merged entry cost outside +-1e30");
  }
  for (std::size_t a = 0; a < n_acc; ++a)
    for (std::uint64_t x = b.account_exposure_begin[a]; x < b.account_exposure_begin[a + 1]; ++x) {
      check(b.exposure_underlying[x] < m.size(), "book: exposure underlying out of range");
      check(x == b.account_exposure_begin[a] ||
                b.exposure_underlying[x - 1] < b.exposure_underlying[x],
            "book: exposures not in increasing underlying order");
      check(b.exposure_position_begin[x] < b.exposure_position_begin[x + 1],
            "book: an empty exposure");
      for (std::uint64_t p = b.exposure_position_begin[x]; p < b.exposure_position_begin[x + 1];
           ++p)
        check(t.underlying[b.position_instrument[p]] == b.exposure_underlying[x],
              "book: a position under another underlying's exposure");
    }
  for (std::size_t a = 0; a < n_acc; ++a)
    check(b.exposure_position_begin[b.account_exposure_begin[a]] == b.account_position_begin[a],
          "book: exposures do not tile their account's positions");
}

}  // namespace msync::fuzz
