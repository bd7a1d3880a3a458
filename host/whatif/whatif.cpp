#include "whatif/whatif.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>

#include "cpu/loss_kernels.hpp"
#include "marginsync/account_revaluation.hpp"
#include "marginsync/delta_gamma.hpp"
#include "marginsync/errors.hpp"
#include "marginsync/instrument_inputs.hpp"
#include "marginsync/trade_rules.hpp"

namespace msync {

namespace {

std::atomic<std::uint64_t> next_generation{1};

[[noreturn]] void refuse(whatif_error::kind k, std::string field, const std::string& reason) {
  throw whatif_error(k, std::move(field), reason);
}

}  // namespace

whatif_scenarios::whatif_scenarios(const market_state& risk_market, const scenario_source& source,
                                   const risk_params& params, int threads)
    : set_(build_scenario_set(risk_market, source, params, threads)),
      risk_spot_(risk_market.spot),
      generation_(next_generation++) {
  rel_vol_.resize(set_.vol_shock.size());
  for (std::size_t c = 0; c < rel_vol_.size(); ++c)
    rel_vol_[c] = relative_vol_move(set_.vol_shock[c], set_.vol_drift);
}

void book_lookup::update(const book& b) {
  if (instruments_.empty())
    for (std::uint32_t i = 0; i < b.instruments.size(); ++i)
      instruments_.emplace(b.instruments.id[i], i);
  for (std::size_t a = indexed_accounts_; a < b.accounts(); ++a)
    accounts_.emplace(b.account_id[a], static_cast<std::uint32_t>(a));
  indexed_accounts_ = b.accounts();
}

std::int64_t book_lookup::account(const std::string& id) const {
  const auto it = accounts_.find(id);
  return it == accounts_.end() ? std::int64_t{-1} : std::int64_t{it->second};
}

std::int64_t book_lookup::instrument(const std::string& id) const {
  const auto it = instruments_.find(id);
  return it == instruments_.end() ? std::int64_t{-1} : std::int64_t{it->second};
}

whatif_result whatif_calculator::evaluate(const whatif_state& state,
                                          const whatif_request& request) {
  MSYNC_EXPECTS(state.positions && state.market && state.params && state.scenarios && state.lookup,
                "a whole what-if state");
  const book& b = *state.positions;
  const risk_params& params = *state.params;
  MSYNC_EXPECTS(state.scenarios->set_.underlyings == state.market->size(),
                "the scenario set of this market's underlyings");
  using kind = whatif_error::kind;

  // Everything is checked before anything is computed.
  if (request.orders.size() > max_whatif_orders)
    refuse(kind::bad_request, "orders",
           std::to_string(request.orders.size()) + " orders, more than the " +
               std::to_string(max_whatif_orders) + " one what-if may carry");
  std::vector<std::uint32_t> order_instrument;
  order_instrument.reserve(request.orders.size());
  for (std::size_t k = 0; k < request.orders.size(); ++k) {
    const whatif_order& o = request.orders[k];
    const std::string at = "orders[" + std::to_string(k) + "]";
    const std::int64_t i = state.lookup->instrument(o.instrument);
    if (i < 0)
      refuse(kind::unknown_instrument, at + ".instrument",
             "unknown instrument " + quote_input(o.instrument));
    if (!std::isfinite(o.quantity) || o.quantity == 0.0)
      refuse(kind::bad_request, at + ".quantity",
             "a quantity must be a finite number other than 0");
    if (!std::isfinite(o.price) || o.price <= 0.0)
      refuse(kind::bad_request, at + ".price", "a price must be a finite number above 0");
    order_instrument.push_back(static_cast<std::uint32_t>(i));
  }

  whatif_result result;
  std::vector<held> positions;
  double collateral = 0.0;
  std::uint32_t tier = 0;
  const std::int64_t found = state.lookup->account(request.account);
  if (found >= 0) {
    if (request.tier || request.collateral)
      refuse(kind::bad_request, request.tier ? "tier" : "collateral",
             "account " + quote_input(request.account) +
                 " is in the book: a tier and collateral are only for a new account");
    const std::size_t a = static_cast<std::size_t>(found);
    for (std::uint64_t p = b.account_position_begin[a]; p < b.account_position_begin[a + 1]; ++p)
      positions.push_back(
          held{b.position_instrument[p], b.position_quantity[p], b.position_cost[p]});
    collateral = b.collateral[a];
    const std::vector<double>* change = state.collateral_change;
    if (change && a < change->size()) collateral += (*change)[a];
    tier = b.account_tier[a];
  } else {
    if (request.account.empty()) refuse(kind::bad_request, "account", "an account id is required");
    if (!request.tier)
      refuse(kind::unknown_account, "account",
             "unknown account " + quote_input(request.account) +
                 ": give its tier (and collateral) to ask for a new account");
    const int t = params.tier_index(*request.tier);
    if (t < 0) refuse(kind::bad_request, "tier", "unknown tier " + quote_input(*request.tier));
    tier = static_cast<std::uint32_t>(t);
    if (request.collateral) {
      if (!std::isfinite(*request.collateral))
        refuse(kind::bad_request, "collateral", "collateral must be a finite number");
      collateral = *request.collateral;
    }
    result.new_account = true;
  }

  result.before = account_numbers(state, positions, collateral, tier);

  // The orders, as the stream applies trades (book_edit's apply_trade): each on the account's
  // position in its instrument, opened where the book's order (underlying, then instrument) puts
  // it; a position traded to 0 stays, as in the stream's book.
  const instrument_table& ins = b.instruments;
  for (std::size_t k = 0; k < request.orders.size(); ++k) {
    const std::uint32_t i = order_instrument[k];
    auto before = [&](const held& h) {
      const std::uint32_t hu = ins.underlying[h.instrument], u = ins.underlying[i];
      return hu < u || (hu == u && h.instrument < i);
    };
    auto at = std::find_if_not(positions.begin(), positions.end(), before);
    if (at == positions.end() || at->instrument != i) at = positions.insert(at, held{i, 0.0, 0.0});
    const traded_position t = trade_position(ins.kind[i], ins.multiplier[i], at->quantity, at->cost,
                                             request.orders[k].quantity, request.orders[k].price);
    at->quantity = t.quantity;
    at->cost = t.cost;
    collateral += t.collateral_change;
  }

  result.after = account_numbers(state, positions, collateral, tier);
  result.incremental_margin = result.after.initial_margin - result.before.initial_margin;
  result.accept = result.after.equity >= result.after.initial_margin;
  return result;
}

const double* whatif_scenarios::shocked_spots(const market_state& now, std::uint32_t u,
                                              std::vector<double>& scratch) const {
  const std::size_t n = static_cast<std::size_t>(set_.count);
  const double* risk_row = set_.spot.data() + u * n;
  const double spot = now.spot[u], then = risk_spot_[u];
  if (spot == then) return risk_row;
  scratch.resize(n);
  for (std::size_t s = 0; s < n; ++s) scratch[s] = spot * (risk_row[s] / then);
  return scratch.data();
}

whatif_calculator::whatif_calculator() : own_rows_(std::make_unique<whatif_row_cache>()) {}

bool whatif_calculator::rows_ready(const whatif_state& state, const whatif_request& request) const {
  MSYNC_EXPECTS(state.positions && state.market && state.params && state.scenarios && state.lookup,
                "a whole what-if state");
  if (state.params->method != risk_method::full) return true;
  const whatif_row_cache& cache = state.rows ? *state.rows : *own_rows_;
  const book& b = *state.positions;
  const instrument_table& ins = b.instruments;
  const market_state& market = *state.market;
  auto ready = [&](std::uint32_t i) {
    const contract_terms c = ins.terms(i);
    const valuation_inputs x = instrument_input(
        ins, i, market, *state.params, instrument_years_to_expiry(ins, i, market.as_of_ns));
    return cache.find(i, scenario_row_key_of(state, i, c, x)) != nullptr;
  };
  const std::int64_t a = state.lookup->account(request.account);
  if (a >= 0) {
    const auto k = static_cast<std::size_t>(a);
    for (std::uint64_t p = b.account_position_begin[k]; p < b.account_position_begin[k + 1]; ++p)
      if (!ready(b.position_instrument[p])) return false;
  }
  for (const whatif_order& o : request.orders) {
    const std::int64_t i = state.lookup->instrument(o.instrument);
    if (i < 0 || !ready(static_cast<std::uint32_t>(i))) return false;
  }
  return true;
}

// The cost of a what-if is here: a row not in the cache (a tick made it stale, or no what-if or
// prewarm asked for it since) is priced in every scenario, then published for every thread.
const double* whatif_calculator::unit_pnl_row(const whatif_state& state, std::uint32_t instrument,
                                              const valuation_inputs& x, const contract_terms& c) {
  whatif_row_cache& cache = state.rows ? *state.rows : *own_rows_;
  const scenario_row_key key = scenario_row_key_of(state, instrument, c, x);
  std::shared_ptr<const scenario_row> found =
      cache.get(instrument, key, [&](std::vector<double>& pnl) {
        const whatif_scenarios& sc = *state.scenarios;
        const std::size_t n = static_cast<std::size_t>(sc.count());
        const std::uint32_t u = state.positions->instruments.underlying[instrument];
        pnl.resize(n);
        price_scenario_row(
            c, x, unit_value(c, x), unit_funding(c, x, 3.0 * state.params->horizon_days),
            sc.shocked_spots(*state.market, u, spot_row_), sc.set().vol_shock.data() + u * n,
            sc.set().vol_drift, state.params->horizon_years(), sc.set().term_scaled, n, pnl.data());
      });
  in_use_.push_back(std::move(found));
  return in_use_.back()->pnl.data();
}

// The account's numbers as the CPU backend computes them for an account of a book (cpu_backend's
// revalue and scenario_risk, for one account): the same functions in the same order.
whatif_numbers whatif_calculator::account_numbers(const whatif_state& state,
                                                  const std::vector<held>& positions,
                                                  double collateral, std::uint32_t tier_index) {
  const book& b = *state.positions;
  const instrument_table& ins = b.instruments;
  const market_state& market = *state.market;
  const risk_params& params = *state.params;
  const whatif_scenarios& sc = *state.scenarios;
  const std::size_t n = static_cast<std::size_t>(sc.set_.count);

  // The account's own layout: positions by underlying then instrument (as held), one exposure per
  // underlying, each instrument priced once at the current market.
  const std::size_t np = positions.size();
  std::vector<std::uint32_t> local(np), exposure_underlying;
  std::vector<std::uint64_t> exposure_begin;
  std::vector<double> quantity(np), cost(np);
  std::vector<contract_terms> terms(np);
  std::vector<valuation_inputs> inputs(np);
  std::vector<instrument_risk> unit(np);
  const double h = params.horizon_years(), funding_periods = 3.0 * params.horizon_days;
  for (std::size_t p = 0; p < np; ++p) {
    const std::uint32_t i = positions[p].instrument;
    local[p] = static_cast<std::uint32_t>(p);
    quantity[p] = positions[p].quantity;
    cost[p] = positions[p].cost;
    terms[p] = ins.terms(i);
    inputs[p] = instrument_input(ins, i, market, params,
                                 instrument_years_to_expiry(ins, i, market.as_of_ns));
    unit[p] = price_instrument(terms[p], inputs[p], h, funding_periods);
    const std::uint32_t u = ins.underlying[i];
    if (exposure_underlying.empty() || exposure_underlying.back() != u) {
      exposure_underlying.push_back(u);
      exposure_begin.push_back(p);
    }
  }
  exposure_begin.push_back(np);
  const std::size_t nx = exposure_underlying.size();
  std::vector<double> delta(nx), gamma(nx), vega(nx), theta(nx), decay(nx), vol_exposure(nx);
  const liquidity_table liquidity = make_liquidity_table(market.size(), params);
  const account_revaluation_view view{
      exposure_underlying.data(),
      exposure_begin.data(),
      local.data(),
      quantity.data(),
      cost.data(),
      terms.data(),
      inputs.data(),
      unit.data(),
      market.spot.data(),
      market.vol.data(),
      liquidity.coefficient.data(),
      params.liquidity_addon ? liquidity.daily_volume.data() : nullptr,
      delta.data(),
      gamma.data(),
      vega.data(),
      theta.data(),
      decay.data(),
      vol_exposure.data()};
  const tier& t = params.tiers[tier_index];
  const account_totals totals = revalue_account(view, 0, nx, collateral, t.credit_limit);

  // Losses in every scenario of the last risk run, moved to the current prices.
  loss_.resize(n);
  in_use_.clear();
  block_max_.resize((n + tail_block - 1) / tail_block);
  double* l = loss_.data();
  if (params.method == risk_method::full) {
    for (std::size_t p = 0; p < np; ++p)
      cpu::add_position_loss(l, unit_pnl_row(state, positions[p].instrument, inputs[p], terms[p]),
                             n, quantity[p], p == 0);
    if (np == 0) std::fill(l, l + n, 0.0);
    cpu::block_maxima(l, n, block_max_.data());
  } else {
    d_spot_.resize(nx * n);
    std::vector<cpu::exposure_term> exposure_terms;
    for (std::size_t x = 0; x < nx; ++x) {
      const std::uint32_t u = exposure_underlying[x];
      const double* s_spot = sc.shocked_spots(market, u, spot_row_);
      double* d = d_spot_.data() + x * n;
      for (std::size_t s = 0; s < n; ++s) d[s] = s_spot[s] - market.spot[u];
      exposure_terms.push_back(cpu::exposure_term{
          d, sc.rel_vol_.data() + u * n,
          make_exposure_sensitivity(delta[x], gamma[x], vol_exposure[x], decay[x])});
    }
    cpu::delta_gamma_losses(l, n, exposure_terms.data(), exposure_terms.size(), block_max_.data());
  }

  const std::int64_t k = tail_count(params.confidence, sc.set_.count);
  const tail_statistics tail =
      selector_.select(l, n, static_cast<std::size_t>(k), block_max_.data());
  const margin_levels m = account_margins(
      tail.var, tail.es, params.measure == margin_measure::es, totals.floor_notional,
      totals.liquidity_addon,
      margin_rule{params.min_margin_rate, params.maintenance_ratio, t.im_multiplier});
  whatif_numbers out;
  out.own_funds = totals.own_funds;
  out.equity = totals.equity;
  out.var = tail.var;
  out.es = tail.es;
  out.initial_margin = m.initial;
  out.maintenance_margin = m.maintenance;
  out.health = health_factor(out.equity, m.maintenance);
  out.breach_probability =
      static_cast<double>(cpu::count_breaches(l, n, out.equity, m.maintenance)) /
      static_cast<double>(n);
  out.status = margin_status(out.equity, m);
  out.preemptive = preemptive_flag(out.status, out.breach_probability, params.preemptive_threshold);
  return out;
}

}  // namespace msync
