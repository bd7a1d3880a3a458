#include "whatif/scenario_rows.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <future>
#include <map>
#include <utility>

#include "marginsync/errors.hpp"
#include "marginsync/instrument_inputs.hpp"
#include "whatif/whatif.hpp"

namespace msync {

namespace {

bool same_inputs(const valuation_inputs& a, const valuation_inputs& b) {
  return a.spot == b.spot && a.vol == b.vol && a.rate == b.rate && a.carry == b.carry &&
         a.time_to_expiry == b.time_to_expiry && a.basis == b.basis && a.vol_term == b.vol_term &&
         a.funding_rate == b.funding_rate && a.settled == b.settled;
}

bool same_terms(const contract_terms& a, const contract_terms& b) {
  return a.kind == b.kind && a.is_call == b.is_call && a.strike == b.strike &&
         a.multiplier == b.multiplier;
}

// Whether a row priced from `a` is newer than one priced from `b`: generations are handed out in
// increasing order (a later risk run's set is newer), and a stream's time does not go back.
bool newer(const scenario_row_key& a, const scenario_row_key& b) {
  return a.generation != b.generation ? a.generation > b.generation : a.as_of_ns > b.as_of_ns;
}

std::int64_t steady_now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Scenarios per block of the option loop: its scratch lives on the stack (7 arrays, 28 KB).
constexpr std::size_t row_block = 512;

// An option alive at the horizon's end (T - h > 0, not settled): scenario_unit_pnl's
// unit_value(horizon_inputs(...)) - base + funding with bsm_value written out, operation for
// operation, so that every scenario's number is the same double. Per scenario the libm calls stay
// (one exp for the vol shock, one log, two erfc); sqrt(T - h), e^{(b-r)(T-h)} and e^{-r(T-h)} do
// not depend on the scenario and are computed once.
void price_option_row(const contract_terms& c, const valuation_inputs& x, double base,
                      double funding, const double* spot, const double* vol_shock, double vol_drift,
                      double t, bool term_scaled, std::size_t n, double* out,
                      const double* vol_factor) {
  const double g = term_scaled ? x.vol_term : 1.0;  // shocked_vol's g
  const double gg_drift = g * g * vol_drift;
  const double b = x.carry, r = x.rate, K = c.strike, m = c.multiplier;
  const double sqrt_t = sqrt(t);
  const double carry = exp((b - r) * t);
  const double disc = exp(-r * t);
  const double k_disc = K * disc;
  constexpr double inv_sqrt2 = 0.707106781186547524400844362105;  // norm_cdf's
  const bool call = c.is_call;
  double arg[row_block], sigma[row_block], lg[row_block], z1[row_block], z2[row_block],
      e1[row_block], e2[row_block];
  for (std::size_t s0 = 0; s0 < n; s0 += row_block) {
    const std::size_t len = std::min(row_block, n - s0);
    const double* S = spot + s0;
    const double* shock = vol_shock + s0;
    // shocked_vol: sigma exp(g x - g^2 drift)
    if (vol_factor) {
      for (std::size_t s = 0; s < len; ++s) sigma[s] = vol_factor[s0 + s];
    } else {
      for (std::size_t s = 0; s < len; ++s) arg[s] = g * shock[s] - gg_drift;
      for (std::size_t s = 0; s < len; ++s) sigma[s] = exp(arg[s]);
    }
    for (std::size_t s = 0; s < len; ++s) {
      sigma[s] = x.vol * sigma[s];
      lg[s] = S[s] / K;
    }
    for (std::size_t s = 0; s < len; ++s) lg[s] = log(lg[s]);
    // bsm_value's d1, d2 and norm_cdf's erfc arguments: N(d1), N(d2) for a call, N(-d2), N(-d1)
    // for a put, N(y) = erfc(-y / sqrt 2) / 2.
    for (std::size_t s = 0; s < len; ++s) {
      const double vol_t = sigma[s] * sqrt_t;
      const double d1 = (lg[s] + (b + 0.5 * sigma[s] * sigma[s]) * t) / vol_t;
      const double d2 = d1 - vol_t;
      z1[s] = call ? -d1 * inv_sqrt2 : -(-d2) * inv_sqrt2;
      z2[s] = call ? -d2 * inv_sqrt2 : -(-d1) * inv_sqrt2;
    }
    for (std::size_t s = 0; s < len; ++s) e1[s] = erfc(z1[s]);
    for (std::size_t s = 0; s < len; ++s) e2[s] = erfc(z2[s]);
    double* o = out + s0;
    for (std::size_t s = 0; s < len; ++s) {
      const double n1 = 0.5 * e1[s], n2 = 0.5 * e2[s];
      const double value = call ? S[s] * carry * n1 - k_disc * n2 : k_disc * n1 - S[s] * carry * n2;
      o[s] = m * value - base + funding;
    }
  }
}

}  // namespace

void vol_factor_row(double g, const double* vol_shock, double vol_drift, std::size_t n,
                    double* out) {
  const double gg_drift = g * g * vol_drift;
  for (std::size_t s = 0; s < n; ++s) out[s] = g * vol_shock[s] - gg_drift;
  for (std::size_t s = 0; s < n; ++s) out[s] = exp(out[s]);
}

bool same_row(const scenario_row_key& a, const scenario_row_key& b) {
  return a.generation == b.generation && a.spot == b.spot && same_terms(a.terms, b.terms) &&
         same_inputs(a.inputs, b.inputs);
}

void price_scenario_row(const contract_terms& c, const valuation_inputs& x, double base,
                        double funding, const double* spot, const double* vol_shock,
                        double vol_drift, double horizon_years, bool term_scaled, std::size_t n,
                        double* out, const double* vol_factor) {
  // horizon_inputs' T - h: the time left at the horizon's end, the same in every scenario.
  const double t = x.time_to_expiry - horizon_years;
  const double m = c.multiplier;
  if (!x.settled && c.kind == instrument_kind::option && t > 0.0) {
    price_option_row(c, x, base, funding, spot, vol_shock, vol_drift, t, term_scaled, n, out,
                     vol_factor);
    return;
  }
  // Linear instruments: unit_value at S' is m S', or m basis S' / m S' e^{b(T-h)} for a future
  // (future_mark); the vol shock does not enter, so its exp is not computed.
  if (!x.settled && (c.kind == instrument_kind::spot || c.kind == instrument_kind::perpetual)) {
    for (std::size_t s = 0; s < n; ++s) out[s] = m * spot[s] - base + funding;
    return;
  }
  if (!x.settled && c.kind == instrument_kind::future) {
    if (x.basis > 0.0 && t > 0.0) {
      for (std::size_t s = 0; s < n; ++s) out[s] = m * (x.basis * spot[s]) - base + funding;
    } else if (t > 0.0) {
      const double growth = exp(x.carry * t);
      for (std::size_t s = 0; s < n; ++s) out[s] = m * (spot[s] * growth) - base + funding;
    } else {
      for (std::size_t s = 0; s < n; ++s) out[s] = m * spot[s] - base + funding;
    }
    return;
  }
  // Settled instruments and options expiring within the horizon: the function itself.
  for (std::size_t s = 0; s < n; ++s)
    out[s] = scenario_unit_pnl(c, x, base, funding, spot[s], vol_shock[s], vol_drift, horizon_years,
                               term_scaled);
}

struct whatif_row_cache::pending_row {
  scenario_row_key key;
  std::promise<std::shared_ptr<const scenario_row>> promise;
  std::shared_future<std::shared_ptr<const scenario_row>> future;
};

whatif_row_cache::slot& whatif_row_cache::slot_of(std::uint32_t instrument) {
  if (instrument >= slots_.size()) slots_.resize(instrument + std::size_t{1});
  return slots_[instrument];
}

std::shared_ptr<const scenario_row> whatif_row_cache::get(std::uint32_t instrument,
                                                          const scenario_row_key& key,
                                                          const row_pricer& price, bool touch,
                                                          bool wait) {
  std::shared_ptr<pending_row> mine, theirs;
  {
    const std::int64_t now = touch ? steady_now_ns() : 0;
    std::lock_guard<std::mutex> lock(mutex_);
    slot& sl = slot_of(instrument);
    if (touch) sl.last_used_ns = now;
    for (const std::shared_ptr<const scenario_row>* kept : {&sl.row, &sl.previous})
      if (*kept && same_row((*kept)->key, key)) {
        hits_.fetch_add(1, std::memory_order_relaxed);
        return *kept;
      }
    for (const std::shared_ptr<pending_row>& p : sl.pending)
      if (same_row(p->key, key)) theirs = p;
    if (!theirs) {
      mine = std::make_shared<pending_row>();
      mine->key = key;
      mine->future = mine->promise.get_future().share();
      sl.pending.push_back(mine);
    }
  }
  if (theirs) {
    if (!wait) return nullptr;
    waited_.fetch_add(1, std::memory_order_relaxed);
    return theirs->future.get();
  }
  try {
    auto row = std::make_shared<scenario_row>();
    row->key = key;
    price(row->pnl);
    priced_.fetch_add(1, std::memory_order_relaxed);
    publish(instrument, mine, row);
    mine->promise.set_value(row);
    return row;
  } catch (...) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      unclaim(slot_of(instrument), mine);
    }
    mine->promise.set_exception(std::current_exception());
    throw;
  }
}

std::shared_ptr<const scenario_row> whatif_row_cache::find(std::uint32_t instrument,
                                                           const scenario_row_key& key) const {
  std::lock_guard<std::mutex> lock(mutex_);
  if (instrument >= slots_.size()) return nullptr;
  const slot& sl = slots_[instrument];
  for (const std::shared_ptr<const scenario_row>* kept : {&sl.row, &sl.previous})
    if (*kept && same_row((*kept)->key, key)) return *kept;
  return nullptr;
}

void whatif_row_cache::unclaim(slot& sl, const std::shared_ptr<pending_row>& claim) {
  sl.pending.erase(std::remove(sl.pending.begin(), sl.pending.end(), claim), sl.pending.end());
}

void whatif_row_cache::publish(std::uint32_t instrument, const std::shared_ptr<pending_row>& claim,
                               std::shared_ptr<const scenario_row> row) {
  std::shared_ptr<const scenario_row> dropped;  // freed after the lock is let go
  std::lock_guard<std::mutex> lock(mutex_);
  slot& sl = slot_of(instrument);
  unclaim(sl, claim);
  if (sl.row && same_row(sl.row->key, row->key)) return;
  if (!sl.row || newer(row->key, sl.row->key)) {
    // The newest row, the one it replaces kept as the previous.
    dropped = std::move(sl.previous);
    sl.previous = std::move(sl.row);
    sl.row = std::move(row);
  } else if (!sl.previous || newer(row->key, sl.previous->key)) {
    dropped = std::move(sl.previous);
    sl.previous = std::move(row);
  }
}

std::vector<std::uint32_t> whatif_row_cache::recently_used(
    std::chrono::steady_clock::duration window) const {
  const std::int64_t since =
      steady_now_ns() - std::chrono::duration_cast<std::chrono::nanoseconds>(window).count();
  std::vector<std::pair<std::int64_t, std::uint32_t>> used;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (std::size_t i = 0; i < slots_.size(); ++i)
      if (slots_[i].last_used_ns >= 0 && slots_[i].last_used_ns >= since)
        used.emplace_back(slots_[i].last_used_ns, static_cast<std::uint32_t>(i));
  }
  std::sort(used.begin(), used.end(), [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first > b.first : a.second < b.second;
  });
  std::vector<std::uint32_t> out;
  out.reserve(used.size());
  for (const auto& u : used) out.push_back(u.second);
  return out;
}

void whatif_row_cache::clear() {
  std::vector<slot> dropped;
  std::lock_guard<std::mutex> lock(mutex_);
  dropped.swap(slots_);
}

whatif_row_cache::counters whatif_row_cache::statistics() const noexcept {
  return counters{hits_.load(std::memory_order_relaxed), waited_.load(std::memory_order_relaxed),
                  priced_.load(std::memory_order_relaxed)};
}

scenario_row_key scenario_row_key_of(const whatif_state& state, std::uint32_t instrument,
                                     const contract_terms& terms, const valuation_inputs& inputs) {
  scenario_row_key k;
  k.terms = terms;
  k.inputs = inputs;
  k.spot = state.market->spot[state.positions->instruments.underlying[instrument]];
  k.generation = state.scenarios->generation();
  k.as_of_ns = state.market->as_of_ns;
  return k;
}

whatif_prewarm::whatif_prewarm(const whatif_state& state, whatif_row_cache& cache,
                               const std::vector<std::uint32_t>& instruments)
    : cache_(&cache), next_(std::make_unique<std::atomic<std::size_t>>(0)) {
  MSYNC_EXPECTS(state.positions && state.market && state.params && state.scenarios,
                "a whole what-if state");
  const instrument_table& ins = state.positions->instruments;
  const market_state& market = *state.market;
  const risk_params& params = *state.params;
  const whatif_scenarios& sc = *state.scenarios;
  const scenario_set& set = sc.set();
  MSYNC_EXPECTS(set.underlyings == market.size(), "the scenario set of this market's underlyings");
  n_ = static_cast<std::size_t>(set.count);
  vol_drift_ = set.vol_drift;
  horizon_years_ = params.horizon_years();
  term_scaled_ = set.term_scaled;
  const double funding_periods = 3.0 * params.horizon_days;
  std::vector<std::int64_t> slot_of(market.size(), -1);
  std::vector<bool> planned(ins.size(), false);
  std::vector<double> scratch;
  std::map<std::pair<std::uint32_t, std::uint64_t>, std::size_t> group_of;  // (slot, g's bits)
  for (const std::uint32_t i : instruments) {
    if (i >= ins.size() || planned[i]) continue;
    planned[i] = true;
    const contract_terms terms = ins.terms(i);
    const valuation_inputs x = instrument_input(
        ins, i, market, params, instrument_years_to_expiry(ins, i, market.as_of_ns));
    const scenario_row_key key = scenario_row_key_of(state, i, terms, x);
    if (cache.find(i, key)) continue;
    const std::uint32_t u = ins.underlying[i];
    if (slot_of[u] < 0) {
      slot_of[u] = static_cast<std::int64_t>(spot_.size() / std::max<std::size_t>(n_, 1));
      const double* s_spot = sc.shocked_spots(market, u, scratch);
      spot_.insert(spot_.end(), s_spot, s_spot + n_);
      const double* shock = set.vol_shock.data() + u * n_;
      shock_.insert(shock_.end(), shock, shock + n_);
    }
    std::int64_t group = -1;
    if (terms.kind == instrument_kind::option && !x.settled &&
        x.time_to_expiry - horizon_years_ > 0.0) {
      const double g = term_scaled_ ? x.vol_term : 1.0;
      const auto uslot = static_cast<std::uint32_t>(slot_of[u]);
      std::uint64_t g_bits = 0;
      std::memcpy(&g_bits, &g, sizeof g);
      const auto [at, added] = group_of.emplace(std::make_pair(uslot, g_bits), groups_.size());
      if (added) {
        groups_.push_back(std::make_unique<vol_group>());
        groups_.back()->underlying_slot = uslot;
        groups_.back()->g = g;
      }
      group = static_cast<std::int64_t>(at->second);
    }
    items_.push_back(item{i, static_cast<std::uint32_t>(slot_of[u]), group, key,
                          unit_value(terms, x), unit_funding(terms, x, funding_periods)});
  }
}

std::size_t whatif_prewarm::run() {
  std::size_t priced = 0;
  for (;;) {
    const std::size_t k = next_->fetch_add(1, std::memory_order_relaxed);
    if (k >= items_.size()) break;
    const item& it = items_[k];
    bool mine = false;
    cache_->get(
        it.instrument, it.key,
        [&](std::vector<double>& pnl) {
          const double* shock = shock_.data() + it.underlying_slot * n_;
          const double* factor = nullptr;
          if (it.group >= 0) {
            vol_group& gr = *groups_[static_cast<std::size_t>(it.group)];
            std::call_once(gr.once, [&] {
              gr.factor.resize(n_);
              vol_factor_row(gr.g, shock, vol_drift_, n_, gr.factor.data());
            });
            factor = gr.factor.data();
          }
          pnl.resize(n_);
          price_scenario_row(it.key.terms, it.key.inputs, it.base, it.funding,
                             spot_.data() + it.underlying_slot * n_, shock, vol_drift_,
                             horizon_years_, term_scaled_, n_, pnl.data(), factor);
          mine = true;
        },
        false, false);
    priced += mine ? 1 : 0;
  }
  return priced;
}

std::size_t prewarm(const whatif_state& state, const std::vector<std::uint32_t>& instruments) {
  MSYNC_EXPECTS(state.rows != nullptr, "a row cache in the state to prewarm");
  whatif_prewarm job(state, *state.rows, instruments);
  return job.run();
}

}  // namespace msync
