#pragma once
// Liquidation cascades (marginsync cascade): what closing an account out costs and how the closing
// trades move the price. Plain functions of plain numbers, host and device.
#include "marginsync/hd.hpp"

namespace msync {

// Square-root market impact: trading `notional` (quote currency, signed: > 0 buys) moves the price
// by the fraction Y sigma_daily sqrt(|notional| / daily_volume), up for buys and down for sells;
// sigma_daily = sigma / sqrt(365) (calendar days, as the horizon of docs/design.md section 3).
// Y sigma_daily: the part of the move that depends on the underlying only (the same for all its
// exposures, so a revaluation may make it once per underlying).
MSYNC_HD inline double impact_scale(double coefficient, double annual_vol) {
  return coefficient * (annual_vol / sqrt(365.0));
}
// The move from Y sigma_daily (impact_scale): the same bits as square_root_impact.
MSYNC_HD inline double square_root_impact_scaled(double scale, double notional,
                                                 double daily_volume) {
  const double size = notional < 0.0 ? -notional : notional;
  const double move = scale * sqrt(size / daily_volume);
  return notional < 0.0 ? -move : move;
}
MSYNC_HD inline double square_root_impact(double coefficient, double annual_vol, double notional,
                                          double daily_volume) {
  return square_root_impact_scaled(impact_scale(coefficient, annual_vol), notional, daily_volume);
}

// The price `spot` moved by the fraction `move`; a move below -100% is held at 1e-6 of the price
// (docs/design.md 9.2), which no real book reaches.
MSYNC_HD inline double moved_price(double spot, double move) {
  return spot * (1.0 + move < 1e-6 ? 1e-6 : 1.0 + move);
}

// The average price fill of a trade that moves the price by the fraction `move` along the
// square-root law, as a fraction: the price impact of the part already traded grows with
// sqrt(traded), so the average over the trade is (2/3) of the whole move (the integral of sqrt(x)
// over [0, 1] is 2/3). docs/design.md 9.2.
MSYNC_HD inline double average_fill_move(double move) {
  return (2.0 / 3.0) * move;
}

// What a close-out's own fill costs the account, in quote currency: it trades away its delta
// `delta` (units of the underlying: the sum of q m dV/dS over its positions in it) at the average
// fill price `fill` instead of the price `spot` it was valued at (both quote currency per unit of
// the underlying), so its own funds fall by delta (spot - fill). A long sold into a falling market
// (fill < spot) pays; a short bought back at the same fill gains (a negative cost).
// docs/design.md 9.2.
MSYNC_HD inline double execution_cost(double delta, double spot, double fill) {
  return delta * (spot - fill);
}

// The liquidity add-on of one exposure (docs/design.md 3.5): the cost of closing a notional N =
// |delta S| (quote currency) at the average fill of its own square-root impact,
// (2/3) Y sigma_daily sqrt(N / V) N. The first form takes Y sigma_daily (impact_scale).
MSYNC_HD inline double liquidity_cost_scaled(double notional, double scale, double daily_volume) {
  return average_fill_move(square_root_impact_scaled(scale, notional, daily_volume)) * notional;
}
MSYNC_HD inline double liquidity_cost(double notional, double coefficient, double annual_vol,
                                      double daily_volume) {
  return liquidity_cost_scaled(notional, impact_scale(coefficient, annual_vol), daily_volume);
}

// Closing an account out: `own_funds` is what the account owns after its positions are closed
// (at their fill prices), its credit line left out: the venue's money is not the client's. The
// penalty (a fraction of its gross notional) goes to the insurance fund as far as positive own
// funds cover it; own funds below zero are bad debt, which the fund covers as far as it can.
struct closeout {
  double penalty;   // paid to the fund
  double bad_debt;  // max(0, -own_funds)
  double left;      // own funds left to the account after the penalty
};

MSYNC_HD inline closeout close_out(double own_funds, double gross_notional, double penalty_rate) {
  const double penalty = penalty_rate * gross_notional;
  const double paid = own_funds <= 0.0 ? 0.0 : (own_funds < penalty ? own_funds : penalty);
  return closeout{paid, own_funds < 0.0 ? -own_funds : 0.0,
                  own_funds > 0.0 ? own_funds - paid : 0.0};
}

}  // namespace msync
