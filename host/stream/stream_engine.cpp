#include "stream/stream_engine.hpp"

#include <algorithm>
#include <cmath>

#include "marginsync/funding.hpp"
#include "marginsync/instrument_inputs.hpp"
#include "marginsync/staleness.hpp"
#include "marginsync/stopwatch.hpp"
#include "marginsync/time_units.hpp"
#include "stream/book_edit.hpp"

namespace msync {

namespace {

constexpr double funding_period_seconds = 8 * 3600.0;  // market.json's funding_rate is per 8 hours

double seconds_between(std::int64_t from_ns, std::int64_t to_ns) {
  return static_cast<double>(to_ns - from_ns) * 1e-9;
}

}  // namespace

const char* stream_state_name(stream_state s) {
  switch (s) {
    case stream_state::ok:
      return "ok";
    case stream_state::preemptive:
      return "preemptive";
    case stream_state::margin_call:
      return "margin_call";
    case stream_state::liquidate:
      return "liquidate";
    case stream_state::liquidation_held:
      return "liquidation_held";
    case stream_state::error:
      return "error";
  }
  return "?";
}

const char* risk_trigger_name(risk_trigger t) {
  switch (t) {
    case risk_trigger::none:
      return "none";
    case risk_trigger::start:
      return "start";
    case risk_trigger::deviation:
      return "deviation";
    case risk_trigger::heartbeat:
      return "heartbeat";
    case risk_trigger::book_change:
      return "book_change";
    case risk_trigger::mark:
      return "mark";
    case risk_trigger::settlement:
      return "settlement";
  }
  return "?";
}

margin_stream::margin_stream(book_inputs inputs, backend& engine)
    : inputs_(std::move(inputs)), engine_(engine) {
  book& b = inputs_.positions;  // the engine borrows it: margin_stream is never moved
  engine_.load_book(b, inputs_.risk);
  z_ = normal_quantile(inputs_.risk.confidence);
  standard_tier_ = inputs_.risk.tier_index("standard");
  for (std::uint32_t i = 0; i < b.instruments.size(); ++i)
    instrument_index_[b.instruments.id[i]] = i;
  const std::size_t u = inputs_.market.size();
  last_tick_ns_.assign(u, 0);
  stale_.assign(u, 0);
  instrument_settled_.assign(b.instruments.size(), 0);
  // Marks are per instrument, NaN where none is given (market.hpp); a book without marks.csv has
  // none yet, and mark events need somewhere to go.
  market_state& m = inputs_.market;
  for (std::vector<double>* marks : {&m.mark_price, &m.mark_iv})
    if (marks->size() < b.instruments.size()) marks->resize(b.instruments.size(), NAN);
  mark_basis_.assign(b.instruments.size(), NAN);
  for (std::uint32_t i = 0; i < b.instruments.size(); ++i)
    if (b.instruments.kind[i] == instrument_kind::future && !std::isnan(m.mark_price[i]))
      mark_basis_[i] = m.mark_price[i] / m.spot[b.instruments.underlying[i]];
  // Before the first update every account counts as ok, so the first update reports every
  // account that is not: what a venue starting the engine needs to act on.
  index_book();
}

// Per-account lookups, sized to the book; new accounts start ok with no collateral change.
void margin_stream::index_book() {
  const book& b = inputs_.positions;
  for (std::uint32_t a = static_cast<std::uint32_t>(account_index_.size()); a < b.accounts(); ++a)
    account_index_[std::string(b.account_id[a])] = a;
  perpetuals_.clear();
  for (std::uint32_t a = 0; a < b.accounts(); ++a)
    for (std::uint64_t p = b.account_position_begin[a]; p < b.account_position_begin[a + 1]; ++p)
      if (b.instruments.kind[b.position_instrument[p]] == instrument_kind::perpetual)
        perpetuals_.emplace_back(a, p);
  state_.resize(b.accounts(), stream_state::ok);
  collateral_change_.resize(b.accounts(), 0.0);
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
  // A mark or a settlement changes values and greeks the last run did not see.
  if (marked_) return risk_trigger::mark;
  if (settled_) return risk_trigger::settlement;
  const market_state& m = inputs_.market;
  for (std::size_t u = 0; u < m.size(); ++u)
    if (std::fabs(m.spot[u] / risk_spot_[u] - 1.0) > inputs_.risk.deviation_threshold)
      return risk_trigger::deviation;
  if (now_ns_ - risk_ns_ >= inputs_.risk.heartbeat_ms * 1000000) return risk_trigger::heartbeat;
  return risk_trigger::none;
}

funding_accrual margin_stream::funding_over(std::int64_t from_ns, std::int64_t to_ns,
                                            const std::vector<double>& spot) const {
  funding_accrual f;
  if (to_ns <= from_ns) return f;
  f.positions = &inputs_.positions;
  f.periods = seconds_between(from_ns, to_ns) / funding_period_seconds;
  f.spot = spot.data();
  f.rate = inputs_.market.funding_rate.data();
  return f;
}

void margin_stream::accrue_funding(const funding_accrual& f) {
  if (!f.any()) return;
  const book& b = inputs_.positions;
  // Longs pay shorts when the rate is positive: q m S rate per period, at the spot in force. The
  // perpetual positions in book order, as account_after_funding takes them.
  for (const auto& [a, p] : perpetuals_) {
    const std::uint32_t i = b.position_instrument[p];
    const std::uint32_t u = b.instruments.underlying[i];
    if (f.rate[u] == 0.0) continue;
    collateral_change_[a] -= position_funding(b.position_quantity[p], b.instruments.multiplier[i],
                                              f.spot[u], f.rate[u], f.periods);
  }
}

void margin_stream::apply_book_event(const stream_event& e, update_outcome& out,
                                     bool& structure_changed, std::vector<std::uint32_t>& traded) {
  book& b = inputs_.positions;
  std::uint32_t instrument = 0;
  if (e.kind == stream_event_kind::trade) {
    const auto it = instrument_index_.find(e.instrument);
    if (it == instrument_index_.end()) {
      out.problems.push_back(
          input_problem{"", e.line, "instrument", "unknown instrument '" + e.instrument + "'"});
      return;
    }
    instrument = it->second;
  }
  auto account = account_index_.find(e.account);
  if (account == account_index_.end()) {
    // An account the book does not know opens with zero collateral in the standard tier.
    if (standard_tier_ < 0) {
      out.problems.push_back(input_problem{
          "", e.line, "account",
          "unknown account '" + e.account + "' and no 'standard' tier to open it in"});
      return;
    }
    const std::uint32_t a = add_account(b, e.account, static_cast<std::uint32_t>(standard_tier_));
    account = account_index_.emplace(e.account, a).first;
    collateral_change_.resize(b.accounts(), 0.0);
    structure_changed = true;
  }
  const std::uint32_t a = account->second;
  if (e.kind == stream_event_kind::collateral) {
    collateral_change_[a] += e.amount;
  } else {
    const std::size_t positions = b.positions();
    collateral_change_[a] += apply_trade(b, a, instrument, e.quantity, e.price);
    if (b.positions() != positions)
      structure_changed = true;
    else
      traded.push_back(a);
  }
  ++out.book_events_applied;
}

void margin_stream::apply_mark(const stream_event& e, update_outcome& out) {
  const auto it = instrument_index_.find(e.instrument);
  if (it == instrument_index_.end()) {
    out.problems.push_back(
        input_problem{"", e.line, "instrument", "unknown instrument '" + e.instrument + "'"});
    return;
  }
  const std::uint32_t i = it->second;
  const instrument_kind kind = inputs_.positions.instruments.kind[i];
  const bool has_price = !std::isnan(e.price), has_iv = !std::isnan(e.vol);
  if (has_price && kind != instrument_kind::future) {
    out.problems.push_back(input_problem{
        "", e.line, "mark_price",
        "instrument '" + e.instrument + "' is not a future: mark_price is a future's mark"});
    return;
  }
  if (has_iv && kind != instrument_kind::option) {
    out.problems.push_back(input_problem{
        "", e.line, "iv",
        "instrument '" + e.instrument + "' is not an option: iv is an option's implied vol"});
    return;
  }
  market_state& m = inputs_.market;
  if (has_price) {
    m.mark_price[i] = e.price;
    // Fixed against the spot in force now, in stream order: a later tick moves the future.
    mark_basis_[i] = e.price / m.spot[inputs_.positions.instruments.underlying[i]];
  }
  if (has_iv) m.mark_iv[i] = e.vol;
  marked_ = true;
  ++out.marks_applied;
}

void margin_stream::follow_marks() {
  const instrument_table& ins = inputs_.positions.instruments;
  market_state& m = inputs_.market;
  for (std::uint32_t i = 0; i < ins.size(); ++i)
    if (!std::isnan(mark_basis_[i])) m.mark_price[i] = mark_basis_[i] * m.spot[ins.underlying[i]];
}

void margin_stream::settle(update_outcome& out) {
  const instrument_table& ins = inputs_.positions.instruments;
  market_state& m = inputs_.market;
  settle_expired(ins, m);  // fixes the price of each newly expired instrument at today's spot
  for (std::uint32_t i = 0; i < ins.size(); ++i) {
    const instrument_kind k = ins.kind[i];
    if (instrument_settled_[i] || ins.expiry_ns[i] > m.as_of_ns ||
        (k != instrument_kind::future && k != instrument_kind::option))
      continue;
    instrument_settled_[i] = 1;
    settled_ = true;
    out.settlements.push_back(instrument_settlement{now_ns_, i, settlement_price(ins, i, m)});
  }
}

update_outcome margin_stream::update(std::int64_t ts_ns, const std::vector<stream_event>& events,
                                     const std::function<void()>& applied) {
  // The tick path's latency is the whole update but its risk path: funding, the events, making a
  // changed book resident again (a reload costs about 0.5 s at 1 M accounts), revaluation and
  // states (funding and states in the revaluation's pass where they can be). Every account's
  // state waits on all of it.
  const stopwatch update_watch;
  update_outcome out;
  if (!started_) {
    started_ = true;
    start_ns_ = now_ns_ = risk_ns_ = ts_ns;
    // Every oracle counts as fresh at the start of the stream, whatever market.json's as_of.
    last_tick_ns_.assign(last_tick_ns_.size(), ts_ns);
  }
  // Stream time never goes back: an update older than the last one is applied at the current time,
  // event by event, and a tick older than the last one of its underlying is ignored.
  const std::int64_t previous_ns = now_ns_;
  now_ns_ = std::max(now_ns_, ts_ns);
  out.ts_ns = now_ns_;
  market_state& m = inputs_.market;
  // Funding over the interval, at the prices in force until this update and on the positions as
  // they were. When no event of the update moves collateral (no trade, no collateral event) and
  // no caller reads the collateral moved before the revaluation (no `applied`), the backend's
  // revaluation pass accrues it, with the interval's spots kept aside: the pass reads every
  // position anyway. Otherwise it accrues here, before the events.
  const bool moves_collateral =
      std::any_of(events.begin(), events.end(), [](const stream_event& e) {
        return e.kind == stream_event_kind::trade || e.kind == stream_event_kind::collateral;
      });
  funding_accrual funding;
  if (moves_collateral || applied) {
    accrue_funding(funding_over(previous_ns, now_ns_, m.spot));
  } else {
    funding_spot_ = m.spot;  // the same size every update: no allocation
    funding = funding_over(previous_ns, now_ns_, funding_spot_);
  }
  bool structure_changed = false;
  std::vector<std::uint32_t> traded;
  for (const stream_event& e : events) {
    if (e.kind == stream_event_kind::mark) {
      apply_mark(e, out);
      continue;
    }
    if (e.kind != stream_event_kind::price) {
      apply_book_event(e, out, structure_changed, traded);
      continue;
    }
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
  follow_marks();
  settle(out);  // at this update's prices, before the revaluation
  const stopwatch book_watch;
  if (structure_changed)
    out.book_sent = book_transfer::reload;
  else if (!traded.empty())
    out.book_sent = book_transfer::patch;
  if (structure_changed) {
    // The book's layout changed: make it resident again, with the collateral moved so far.
    book& b = inputs_.positions;
    for (std::size_t a = 0; a < b.accounts(); ++a) b.collateral[a] += collateral_change_[a];
    std::fill(collateral_change_.begin(), collateral_change_.end(), 0.0);
    engine_.load_book(b, inputs_.risk);
    index_book();
    std::vector<std::uint8_t> states(state_.size());
    for (std::size_t a = 0; a < states.size(); ++a)
      states[a] = static_cast<std::uint8_t>(state_[a]);
    engine_.set_tick_states(states);  // the accounts keep their states across the reload
    book_changed_ = true;
  } else if (!traded.empty()) {
    patch_engine(std::move(traded));
  }
  if (out.book_sent != book_transfer::none) out.book_seconds = book_watch.seconds();

  // Margin staleness accumulates over the interval at the previous risk run's age.
  const double t0 = seconds_between(risk_ns_, previous_ns), t1 = seconds_between(risk_ns_, now_ns_);
  staleness_integral_ += 0.5 * (t1 * t1 - t0 * t0);

  for (std::size_t u = 0; u < m.size(); ++u) {
    const bool stale = now_ns_ - last_tick_ns_[u] > inputs_.risk.stale_after_ms * 1000000;
    if (stale != static_cast<bool>(stale_[u])) {
      stale_[u] = stale ? 1 : 0;
      out.oracles.push_back(oracle_transition{now_ns_, static_cast<std::uint32_t>(u), stale});
    }
  }

  if (applied) applied();
  host_reval_.reset();
  // The trigger depends on the prices and the book, not on the revaluation: known before it. With
  // no risk run, the revaluation and the states are one call (one pass over the accounts on the
  // CPU); with one, the states wait for its margins.
  out.trigger = pick_trigger();
  if (out.trigger == risk_trigger::none) {
    const tick_request request = tick_inputs();
    evaluate(out, engine_.revalue_tick(m, collateral_change_, funding, &request));
  } else {
    engine_.revalue_tick(m, collateral_change_, funding, nullptr);
    const stopwatch risk_watch;
    run_risk();
    out.risk_seconds = risk_watch.seconds();
    ++runs_[out.trigger];
    evaluate(out, engine_.tick_states(tick_inputs()));
  }
  out.tick_seconds = update_watch.seconds() - out.risk_seconds;
  out.staleness_years = seconds_between(risk_ns_, now_ns_) / seconds_per_year;
  return out;
}

void margin_stream::run_risk() {
  engine_.scenario_risk(scenario_source{}, inputs_.risk);
  risk_ = engine_.copy_risk();
  risk_ns_ = now_ns_;
  risk_spot_ = inputs_.market.spot;
  book_changed_ = marked_ = settled_ = false;
  risk_ran_ = true;
}

tick_request margin_stream::tick_inputs() const {
  tick_request r;
  r.z = z_;
  r.tau_years = seconds_between(risk_ns_, now_ns_) / seconds_per_year;
  r.preemptive_threshold = inputs_.risk.preemptive_threshold;
  r.recovery_band = inputs_.risk.recovery_band;
  r.stale_underlying = &stale_;
  return r;
}

void margin_stream::evaluate(update_outcome& out, const std::vector<tick_change>& changes) {
  for (const tick_change& c : changes) {
    account_transition t;
    t.ts_ns = now_ns_;
    t.account = c.account;
    t.from = state_[c.account];
    t.to = static_cast<stream_state>(c.state);
    t.event = t.to == stream_state::ok ? "recovered" : stream_state_name(t.to);
    t.equity = c.equity;
    t.initial_margin = c.initial_margin;
    t.maintenance_margin = c.maintenance_margin;
    t.health = health_factor(t.equity, t.maintenance_margin);
    t.breach_probability = c.breach_probability;
    out.accounts.push_back(t);
    state_[c.account] = t.to;
  }
}

std::vector<closeout> margin_stream::close_accounts(const std::vector<std::uint32_t>& accounts,
                                                    double penalty_rate) {
  std::vector<closeout> out;
  if (accounts.empty()) return out;
  const revaluation& reval = current_revaluation();
  book& b = inputs_.positions;
  account_patch patch;
  for (std::uint32_t a : accounts) {
    // On own funds (collateral + the collateral moved since the last reload + position values):
    // the credit line pays no penalty and is not the account's to keep.
    const closeout c =
        close_out(reval.account_own_funds[a], reval.account_gross_notional[a], penalty_rate);
    // Own funds after the close-out are c.left: the book's collateral plus the moves not yet in it.
    add_closed(patch, b, a, c.left - collateral_change_[a]);
    out.push_back(c);
  }
  apply_patch(b, patch);
  engine_.patch_accounts(patch);
  book_changed_ = true;
  return out;
}

void margin_stream::patch_engine(std::vector<std::uint32_t> accounts) {
  std::sort(accounts.begin(), accounts.end());
  accounts.erase(std::unique(accounts.begin(), accounts.end()), accounts.end());
  account_patch patch;
  for (std::uint32_t a : accounts) add_current(patch, inputs_.positions, a);
  engine_.patch_accounts(patch);
  book_changed_ = true;
}

const revaluation& margin_stream::current_revaluation() const {
  if (!host_reval_) host_reval_ = engine_.copy_revaluation();
  return *host_reval_;
}

std::vector<account_in_force> margin_stream::accounts_in_force(
    const std::vector<std::uint32_t>& accounts) const {
  std::vector<account_in_force> out;
  if (accounts.empty() || !risk_ran_) return out;
  const book& b = inputs_.positions;
  const market_state& m = inputs_.market;
  const revalued_accounts reval = engine_.copy_revaluation_of(accounts);
  const tick_request request = tick_inputs();
  out.reserve(accounts.size());
  for (std::size_t i = 0; i < accounts.size(); ++i) {
    const std::uint32_t a = accounts[i];
    account_in_force r;
    r.account = a;
    r.state = state_[a];
    r.own_funds = reval.own_funds[i];
    r.equity = reval.equity[i];
    r.var = risk_.var[a];
    r.es = risk_.es[a];
    r.breach_probability = risk_.breach_probability[a];
    // The add-on from the account's exposures, as margins_in_force and the tick path sum it.
    // Its exposures [x0, x0 + n) in the book are [first[i], first[i] + n) of the copy.
    const std::uint64_t x0 = b.account_exposure_begin[a], n = b.account_exposure_begin[a + 1] - x0;
    const std::uint32_t* underlying = b.exposure_underlying.data() + x0;
    const double* delta = reval.exposure_delta.data() + reval.first[i];
    bool on_stale = false;
    r.staleness_addon =
        account_staleness_addon(0, n, underlying, delta, m.spot.data(), m.vol.data(), nullptr,
                                request.z, request.tau_years, on_stale);
    r.initial_margin = risk_.initial_margin[a] + r.staleness_addon;
    r.maintenance_margin = risk_.maintenance_margin[a] + r.staleness_addon;
    r.health = health_factor(r.equity, r.maintenance_margin);
    r.status = margin_status(r.equity, margin_levels{r.initial_margin, r.maintenance_margin});
    r.preemptive =
        preemptive_flag(r.status, r.breach_probability, inputs_.risk.preemptive_threshold);
    for (std::uint64_t x = 0; x < n; ++x) r.exposure_delta.emplace_back(underlying[x], delta[x]);
    out.push_back(std::move(r));
  }
  return out;
}

risk_result margin_stream::margins_in_force() const {
  const book& b = inputs_.positions;
  const market_state& m = inputs_.market;
  const revaluation& reval = current_revaluation();
  const tick_request request = tick_inputs();
  risk_result r = risk_;
  for (std::size_t a = 0; a < r.status.size(); ++a) {
    bool on_stale = false;  // accounts.csv has no held state
    const double addon = account_staleness_addon(
        b.account_exposure_begin[a], b.account_exposure_begin[a + 1], b.exposure_underlying.data(),
        reval.exposure_delta.data(), m.spot.data(), m.vol.data(), nullptr, request.z,
        request.tau_years, on_stale);
    r.initial_margin[a] += addon;
    r.maintenance_margin[a] += addon;
    const margin_levels in_force{r.initial_margin[a], r.maintenance_margin[a]};
    r.health[a] = health_factor(reval.account_equity[a], r.maintenance_margin[a]);
    r.status[a] = margin_status(reval.account_equity[a], in_force);
    r.preemptive[a] =
        preemptive_flag(r.status[a], r.breach_probability[a], inputs_.risk.preemptive_threshold);
  }
  r.not_ok_accounts.clear();
  for (std::size_t a = 0; a < r.status.size(); ++a)
    if (r.status[a] != account_status::ok)
      r.not_ok_accounts.push_back(static_cast<std::uint32_t>(a));
  return r;
}

}  // namespace msync
