#include "stream_engine.hpp"

#include <chrono>
#include <cmath>

#include "marginsync/staleness.hpp"

namespace msync {

namespace {

constexpr double seconds_per_year = 31536000.0;  // ACT/365, as DESIGN 3's time to expiry

double seconds_between(std::int64_t from_ns, std::int64_t to_ns) {
  return static_cast<double>(to_ns - from_ns) * 1e-9;
}

double wall_seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

const char* stream_state_name(stream_state s) {
  switch (s) {
    case stream_state::ok: return "ok";
    case stream_state::preemptive: return "preemptive";
    case stream_state::margin_call: return "margin_call";
    case stream_state::liquidate: return "liquidate";
    case stream_state::liquidation_held: return "liquidation_held";
  }
  return "?";
}

const char* risk_trigger_name(risk_trigger t) {
  switch (t) {
    case risk_trigger::none: return "none";
    case risk_trigger::start: return "start";
    case risk_trigger::deviation: return "deviation";
    case risk_trigger::heartbeat: return "heartbeat";
    case risk_trigger::book_change: return "book_change";
  }
  return "?";
}

margin_stream::margin_stream(book_inputs inputs, backend& engine)
    : inputs_(std::move(inputs)), engine_(engine) {
  const book& b = inputs_.positions;
  engine_.load_book(b, inputs_.risk);
  z_ = normal_quantile(inputs_.risk.confidence);
  account_underlyings_.resize(b.accounts());
  for (std::size_t a = 0; a < b.accounts(); ++a)
    for (std::uint64_t x = b.account_exposure_begin[a]; x < b.account_exposure_begin[a + 1]; ++x)
      account_underlyings_[a].push_back(b.exposure_underlying[x]);
  const std::size_t u = inputs_.market.size();
  last_tick_ns_.assign(u, 0);
  stale_.assign(u, 0);
  addon_.assign(b.accounts(), 0.0);
  // Before the first update every account counts as ok, so the first update reports every
  // account that is not: what a venue starting the engine needs to act on.
  state_.assign(b.accounts(), stream_state::ok);
}

std::int64_t margin_stream::risk_runs(risk_trigger t) const {
  const auto it = runs_.find(t);
  return it == runs_.end() ? 0 : it->second;
}

double margin_stream::mean_staleness_seconds() const {
  const double span = seconds_between(start_ns_, now_ns_);
  return span > 0.0 ? staleness_integral_ / span : 0.0;
}

risk_trigger margin_stream::pick_trigger() const {
  if (!risk_ran_) return risk_trigger::start;
  if (book_changed_) return risk_trigger::book_change;
  const market_state& m = inputs_.market;
  for (std::size_t u = 0; u < m.size(); ++u)
    if (std::fabs(m.spot[u] / risk_spot_[u] - 1.0) > inputs_.risk.deviation_threshold) return risk_trigger::deviation;
  if (now_ns_ - risk_ns_ >= inputs_.risk.heartbeat_ms * 1000000) return risk_trigger::heartbeat;
  return risk_trigger::none;
}

update_outcome margin_stream::update(std::int64_t ts_ns, const std::vector<stream_event>& ticks) {
  update_outcome out;
  if (!started_) {
    started_ = true;
    start_ns_ = now_ns_ = risk_ns_ = ts_ns;
    // Every oracle counts as fresh at the start of the stream, whatever market.json's as_of.
    last_tick_ns_.assign(last_tick_ns_.size(), ts_ns);
  }
  // Stream time never goes back: an update older than the last one is applied at the current time,
  // tick by tick, and a tick older than the last one of its underlying is ignored.
  const std::int64_t previous_ns = now_ns_;
  now_ns_ = std::max(now_ns_, ts_ns);
  out.ts_ns = now_ns_;
  market_state& m = inputs_.market;
  for (const stream_event& e : ticks) {
    if (e.kind != stream_event_kind::price) continue;
    if (e.ts_ns < last_tick_ns_[e.underlying]) {
      ++out.ticks_out_of_order;
      continue;
    }
    last_tick_ns_[e.underlying] = e.ts_ns;
    m.spot[e.underlying] = e.price;
    if (!std::isnan(e.vol)) m.vol[e.underlying] = e.vol;
    ++out.ticks_applied;
  }
  m.as_of_ns = now_ns_;

  // Margin staleness accumulates over the interval at the previous risk run's age.
  const double t0 = seconds_between(risk_ns_, previous_ns), t1 = seconds_between(risk_ns_, now_ns_);
  staleness_integral_ += 0.5 * (t1 * t1 - t0 * t0);

  for (std::size_t u = 0; u < m.size(); ++u) {
    const bool stale = now_ns_ - last_tick_ns_[u] > inputs_.risk.stale_after_ms * 1000000;
    if (stale != static_cast<bool>(stale_[u])) {
      stale_[u] = stale;
      out.oracles.push_back(oracle_transition{now_ns_, static_cast<std::uint32_t>(u), stale});
    }
  }

  const auto tick_start = std::chrono::steady_clock::now();
  reval_ = engine_.revalue(m);
  out.tick_seconds = wall_seconds_since(tick_start);
  out.trigger = pick_trigger();
  if (out.trigger != risk_trigger::none) {
    const auto risk_start = std::chrono::steady_clock::now();
    run_risk();
    out.risk_seconds = wall_seconds_since(risk_start);
    ++runs_[out.trigger];
  }
  const auto evaluate_start = std::chrono::steady_clock::now();
  evaluate(out);
  out.tick_seconds += wall_seconds_since(evaluate_start);
  out.staleness_years = seconds_between(risk_ns_, now_ns_) / seconds_per_year;
  return out;
}

void margin_stream::run_risk() {
  risk_ = engine_.scenario_risk(inputs_.market, scenario_source{}, inputs_.risk, reval_);
  risk_ns_ = now_ns_;
  risk_spot_ = inputs_.market.spot;
  book_changed_ = false;
  risk_ran_ = true;
}

void margin_stream::evaluate(update_outcome& out) {
  const book& b = inputs_.positions;
  const market_state& m = inputs_.market;
  const double tau = seconds_between(risk_ns_, now_ns_) / seconds_per_year;
  const std::int64_t n_acc = static_cast<std::int64_t>(b.accounts());
  std::vector<stream_state> next(state_.size());
#pragma omp parallel for schedule(static)
  for (std::int64_t a = 0; a < n_acc; ++a) {
    double terms = 0.0;
    for (std::uint64_t x = b.account_exposure_begin[a]; x < b.account_exposure_begin[a + 1]; ++x) {
      const std::uint32_t u = b.exposure_underlying[x];
      terms += staleness_exposure_term(reval_.exposure_delta[x], m.spot[u], m.vol[u]);
    }
    addon_[a] = staleness_addon(z_, terms, tau);
    const margin_levels in_force{risk_.initial_margin[a] + addon_[a], risk_.maintenance_margin[a] + addon_[a]};
    const account_status status = margin_status(reval_.account_equity[a], in_force);
    stream_state s = stream_state::ok;
    if (status == account_status::liquidate) {
      s = stream_state::liquidate;
      for (std::uint32_t u : account_underlyings_[a])
        if (stale_[u]) s = stream_state::liquidation_held;
    } else if (status == account_status::margin_call) {
      s = stream_state::margin_call;
    } else if (preemptive_flag(status, risk_.breach_probability[a], inputs_.risk.preemptive_threshold)) {
      s = stream_state::preemptive;
    }
    next[a] = s;
  }
  for (std::size_t a = 0; a < next.size(); ++a) {
    if (next[a] == state_[a]) continue;
    account_transition t;
    t.ts_ns = now_ns_;
    t.account = static_cast<std::uint32_t>(a);
    t.from = state_[a];
    t.to = next[a];
    t.event = next[a] == stream_state::ok ? "recovered" : stream_state_name(next[a]);
    t.equity = reval_.account_equity[a];
    t.initial_margin = risk_.initial_margin[a] + addon_[a];
    t.maintenance_margin = risk_.maintenance_margin[a] + addon_[a];
    t.health = health_factor(t.equity, t.maintenance_margin);
    t.breach_probability = risk_.breach_probability[a];
    out.accounts.push_back(t);
    state_[a] = next[a];
  }
}

risk_result margin_stream::margins_in_force() const {
  risk_result r = risk_;
  for (std::size_t a = 0; a < r.status.size(); ++a) {
    r.initial_margin[a] += addon_[a];
    r.maintenance_margin[a] += addon_[a];
    const margin_levels in_force{r.initial_margin[a], r.maintenance_margin[a]};
    r.health[a] = health_factor(reval_.account_equity[a], r.maintenance_margin[a]);
    r.status[a] = margin_status(reval_.account_equity[a], in_force);
    r.preemptive[a] = preemptive_flag(r.status[a], r.breach_probability[a], inputs_.risk.preemptive_threshold);
  }
  r.not_ok_accounts.clear();
  for (std::size_t a = 0; a < r.status.size(); ++a)
    if (r.status[a] != account_status::ok) r.not_ok_accounts.push_back(static_cast<std::uint32_t>(a));
  return r;
}

}  // namespace msync
