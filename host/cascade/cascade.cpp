#include "cascade/cascade.hpp"

#include <algorithm>
#include <cmath>

#include "marginsync/cascade_rules.hpp"
#include "marginsync/errors.hpp"
#include "marginsync/instrument_inputs.hpp"

namespace msync {

impact_params load_impact_params(const std::optional<std::filesystem::path>& depth_file,
                                 const market_state& market, const risk_params& risk) {
  risk_params with_depth = risk;
  if (depth_file) {
    problem_list problems;
    load_depth_file(*depth_file, market, with_depth, problems);  // io/load_depth.cpp
    problems.throw_if_any();
  }
  const liquidity_table t = make_liquidity_table(market.size(), with_depth);
  return impact_params{t.coefficient, t.daily_volume};
}

cascade_result run_cascade(const book_inputs& inputs, backend& engine, const impact_params& impact,
                           const cascade_options& options, const round_margins& margins_of_round,
                           const round_events& events) {
  // The book as loaded, which `engine` borrows: the close-outs below patch it (a closed account's
  // positions read 0 until the undo at the end puts it back), and no account is closed twice.
  const book& b = inputs.positions;
  const risk_params& risk = inputs.risk;
  market_state m = inputs.market;
  MSYNC_EXPECTS(options.shock.size() == m.size(), "a shock per underlying");
  // Instruments expired at as_of are settled at the prices before the shock (docs/design.md 3.2):
  // the shock moves the market, not a settlement already fixed.
  settle_expired(b.instruments, m);
  for (std::size_t u = 0; u < m.size(); ++u) m.spot[u] *= 1.0 + options.shock[u];

  cascade_result out;
  out.fund_start = risk.insurance_fund;
  double fund = risk.insurance_fund;
  std::vector<char> closed(b.accounts(), 0);  // an account is closed out once
  account_patch undo;                         // the closed accounts as loaded
  for (int round = 1;; ++round) {
    if (round > options.max_rounds) {
      out.round_limit_reached = true;
      break;
    }
    if (events.round_starts) events.round_starts(m.spot);
    // The revaluation stays on the backend (a GPU keeps it on the device for the scenario risk);
    // only the accounts closed out come back.
    engine.revalue(m, {});
    engine.scenario_risk(scenario_source{}, risk);
    // Read in place until the next round's.
    const risk_result& margins =
        margins_of_round ? margins_of_round(engine.held_risk()) : engine.held_risk();
    std::vector<std::uint32_t> due;
    std::int64_t in_error = 0;
    for (std::uint32_t a : margins.not_ok_accounts) {
      in_error += margins.status[a] == account_status::error;
      // An account with nothing to close is not liquidated.
      if (margins.status[a] == account_status::liquidate && !closed[a] && has_open_position(b, a))
        due.push_back(a);
    }
    const revalued_accounts numbers = engine.copy_revaluation_of(due);
    // The underlying of each returned exposure k of due[i] (exposures in the book's order).
    const auto underlying_of = [&](std::size_t i, std::uint64_t k) {
      return b.exposure_underlying[b.account_exposure_begin[due[i]] + (k - numbers.first[i])];
    };

    cascade_round r;
    r.round = round;
    r.spot = m.spot;
    r.in_error = in_error;
    r.not_ok = static_cast<std::int64_t>(margins.not_ok_accounts.size());
    out.accounts_in_error = std::max(out.accounts_in_error, in_error);
    // The round's close-outs trade away the closed accounts' deltas together (selling a long,
    // buying back a short): their net notional per underlying sets the round's impact move, and
    // every close-out of the round fills at the average price along it (docs/design.md 9.2).
    r.net_notional.assign(m.size(), 0.0);
    for (std::size_t i = 0; i < due.size(); ++i)
      for (std::uint64_t k = numbers.first[i]; k < numbers.first[i + 1]; ++k) {
        const std::uint32_t u = underlying_of(i, k);
        r.net_notional[u] -= numbers.exposure_delta[k] * m.spot[u];
      }
    std::vector<double> move(m.size(), 0.0);
    r.fill.assign(m.size(), 0.0);
    for (std::size_t u = 0; u < m.size(); ++u) {
      move[u] = square_root_impact(impact.coefficient[u], m.vol[u], r.net_notional[u],
                                   impact.daily_volume[u]);
      r.fill[u] = moved_price(m.spot[u], average_fill_move(move[u]));
    }
    account_patch close;
    std::vector<double> left;  // per account of `due`: its own funds after the close-out
    for (std::size_t i = 0; i < due.size(); ++i) {
      const std::uint32_t a = due[i];
      const double gross = numbers.gross_notional[i];
      double cost = 0.0;  // of filling at the round's fill prices instead of its start prices
      for (std::uint64_t k = numbers.first[i]; k < numbers.first[i + 1]; ++k) {
        const std::uint32_t u = underlying_of(i, k);
        cost += execution_cost(numbers.exposure_delta[k], m.spot[u], r.fill[u]);
      }
      const double own_funds = numbers.own_funds[i];
      const closeout c = close_out(own_funds - cost, gross, risk.liquidation_penalty);
      liquidation_record l;
      l.round = round;
      l.account = a;
      l.equity = numbers.equity[i];
      l.own_funds = own_funds;
      l.maintenance_margin = margins.maintenance_margin[a];
      l.gross_notional = gross;
      l.execution_cost = cost;
      l.penalty = c.penalty;
      l.bad_debt = c.bad_debt;
      out.liquidations.push_back(l);
      ++r.accounts;
      r.notional += gross;
      r.penalties += c.penalty;
      r.bad_debt += c.bad_debt;
      // What is left after the penalty stays the account's: own funds c.left with no positions
      // (collateral c.left; its credit line is the venue's and stays unused).
      closed[a] = 1;
      add_current(undo, b, a);
      add_closed(close, b, a, c.left);
      left.push_back(c.left);
    }
    engine.patch_accounts(close);
    if (events.closed_out) events.closed_out(due, left);
    fund += r.penalties;
    const double covered = std::min(fund, r.bad_debt);
    fund -= covered;
    r.uncovered = r.bad_debt - covered;
    r.fund = fund;
    out.rounds.push_back(r);
    if (r.accounts == 0) break;
    // After the round, each price has moved by the whole impact of the round's net notional.
    for (std::size_t u = 0; u < m.size(); ++u) m.spot[u] = moved_price(m.spot[u], move[u]);
  }
  engine.patch_accounts(undo);  // the book as loaded again, for the next shock
  if (events.finished) events.finished();
  out.final_spot = m.spot;
  return out;
}

}  // namespace msync
