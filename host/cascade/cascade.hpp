#pragma once
// Liquidation cascades (marginsync cascade): an initial price shock, then rounds of liquidating
// every account in `liquidate` (filled at the average price along the square-root impact of the
// round's net close-out notional; a penalty from own funds to the insurance fund, bad debt drawn
// from it), moving each underlying by that whole impact, and re-margining the whole book, until a
// round liquidates nobody or the round limit is reached.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <vector>

#include "io/load_inputs.hpp"
#include "marginsync/backend.hpp"

namespace msync {

// Square-root impact parameters per underlying (market order): risk's per-underlying values
// (risk_params::impact_coefficient_of / daily_volume_of, which a --depth file set at load),
// replaced per underlying by `depth_file` when given (io/load_depth.cpp, docs/design.md 2.9).
struct impact_params {
  std::vector<double> coefficient;
  std::vector<double> daily_volume;
};
impact_params load_impact_params(const std::optional<std::filesystem::path>& depth_file,
                                 const market_state& market,
                                 const risk_params& risk);  // throws input_error

struct cascade_options {
  std::vector<double> shock;  // per underlying: relative price move applied first (0: none)
  int max_rounds = 50;
};

struct cascade_round {
  int round = 0;             // 1, 2, ...
  std::vector<double> spot;  // per underlying: the prices at the round's start (its margins)
  std::vector<double> fill;  // per underlying: the average price the round's close-outs fill at
  std::int64_t accounts = 0;
  double notional = 0.0;             // gross notional closed
  double penalties = 0.0;            // paid to the fund
  double bad_debt = 0.0;             // negative own funds of the accounts closed, after the fill
  double uncovered = 0.0;            // bad debt the fund could not cover
  double fund = 0.0;                 // after the round
  std::vector<double> net_notional;  // per underlying, traded by the close-outs (> 0 bought)
  std::int64_t in_error = 0;  // accounts in status error (numbers not finite): never closed out
  std::int64_t not_ok = 0;    // accounts not ok at the round's start (closed ones included)
};

struct liquidation_record {
  int round = 0;
  std::uint32_t account = 0;
  double equity = 0.0;     // E at the round's start prices
  double own_funds = 0.0;  // F at the round's start prices, before the fill
  double maintenance_margin = 0.0;
  double gross_notional = 0.0;  // at the round's start prices
  double execution_cost = 0.0;  // F minus F after filling at the round's fill prices
  double penalty = 0.0;         // paid to the fund from positive own funds after the fill
  double bad_debt = 0.0;        // max(0, -F after the fill)
};

struct cascade_result {
  std::vector<cascade_round> rounds;
  std::vector<liquidation_record> liquidations;
  std::vector<double> final_spot;
  double fund_start = 0.0;
  bool round_limit_reached = false;
  std::int64_t accounts_in_error = 0;  // the most of any round (docs/design.md 9.1)
};

// Runs the cascade on `engine`, which must hold inputs.positions (load_book) and holds it again on
// return: each round's close-outs are patched into the loaded book and undone at the end, so the
// points of a grid run back to back on one upload. After an exception the engine's book, which is
// inputs.positions itself (the engine borrows it), is unspecified (load it again).
//
// `round_margins`, when given, is called with the backend's risk after each round's scenario risk
// and returns the margins the round closes out by: a run across ranks (host/mpi/cascade_ranks.hpp)
// puts every rank's part together there on rank 0, which holds the whole book. Only
// not_ok_accounts and, for those accounts, status and maintenance_margin are read from it.
using round_margins = std::function<const risk_result&(const risk_result& backend_risk)>;

// What rank 0 tells the other ranks of a run across ranks, which hold parts of the book
// (host/mpi/cascade_ranks.hpp): each round's prices before it is revalued, the accounts the round
// closed out (ascending, with the own funds left to each, its new collateral) after it, and the end
// of the shock's cascade. Each may be empty.
struct round_events {
  std::function<void(const std::vector<double>& spot)> round_starts;
  std::function<void(const std::vector<std::uint32_t>& accounts, const std::vector<double>& left)>
      closed_out;
  std::function<void()> finished;
};

cascade_result run_cascade(const book_inputs& inputs, backend& engine, const impact_params& impact,
                           const cascade_options& options,
                           const round_margins& margins_of_round = {},
                           const round_events& events = {});

}  // namespace msync
