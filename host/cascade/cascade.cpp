#include "cascade/cascade.hpp"

#include <algorithm>
#include <cmath>

#include "marginsync/cascade_rules.hpp"
#include "marginsync/errors.hpp"

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
                           const cascade_options& options) {
  const book& b = inputs.positions;  // the book as loaded: never changed here
  const risk_params& risk = inputs.risk;
  market_state m = inputs.market;
  MSYNC_EXPECTS(options.shock.size() == m.size(), "a shock per underlying");
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
    // The revaluation stays on the backend (a GPU keeps it on the device for the scenario risk);
    // only the accounts closed out come back.
    engine.revalue(m, {});
    engine.scenario_risk(scenario_source{}, risk);
    const risk_result margins = engine.copy_risk();
    std::vector<std::uint32_t> due;
    std::int64_t in_error = 0;
    for (std::uint32_t a : margins.not_ok_accounts) {
      in_error += margins.status[a] == account_status::error;
      // An account with nothing to close is not liquidated.
      if (margins.status[a] == account_status::liquidate && !closed[a] && has_open_position(b, a))
        due.push_back(a);
    }
    const revalued_accounts numbers = engine.copy_revaluation_of(due);

    cascade_round r;
    r.round = round;
    r.spot = m.spot;
    r.net_notional.assign(m.size(), 0.0);
    r.in_error = in_error;
    out.accounts_in_error = std::max(out.accounts_in_error, in_error);
    account_patch close;
    for (std::size_t i = 0; i < due.size(); ++i) {
      const std::uint32_t a = due[i];
      const double equity = numbers.equity[i];
      const double gross = numbers.gross_notional[i];
      const closeout c = close_out(numbers.own_funds[i], gross, risk.liquidation_penalty);
      out.liquidations.push_back(liquidation_record{round, a, equity, margins.maintenance_margin[a],
                                                    gross, c.penalty, c.bad_debt});
      ++r.accounts;
      r.notional += gross;
      r.penalties += c.penalty;
      r.bad_debt += c.bad_debt;
      // Closing the positions trades away the account's delta: selling a long, buying a short.
      const std::uint64_t x0 = b.account_exposure_begin[a];
      for (std::uint64_t k = numbers.first[i]; k < numbers.first[i + 1]; ++k) {
        const std::uint32_t u = b.exposure_underlying[x0 + (k - numbers.first[i])];
        r.net_notional[u] -= numbers.exposure_delta[k] * m.spot[u];
      }
      // What is left after the penalty stays the account's: own funds c.left with no positions
      // (collateral c.left; its credit line is the venue's and stays unused).
      closed[a] = 1;
      add_current(undo, b, a);
      add_closed(close, b, a, c.left);
    }
    engine.patch_accounts(close);
    fund += r.penalties;
    const double covered = std::min(fund, r.bad_debt);
    fund -= covered;
    r.uncovered = r.bad_debt - covered;
    r.fund = fund;
    out.rounds.push_back(r);
    if (r.accounts == 0) break;
    // The close-outs' trades move each price by the square-root impact of their net notional (a
    // move below -100% is held at the price's 1e-6, which no real book reaches).
    for (std::size_t u = 0; u < m.size(); ++u) {
      const double move = square_root_impact(impact.coefficient[u], m.vol[u], r.net_notional[u],
                                             impact.daily_volume[u]);
      m.spot[u] *= std::max(1.0 + move, 1e-6);
    }
  }
  engine.patch_accounts(undo);  // the book as loaded again, for the next shock
  out.final_spot = m.spot;
  return out;
}

}  // namespace msync
