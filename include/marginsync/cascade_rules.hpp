#pragma once
// Liquidation cascades (marginsync cascade): what closing an account out costs and how the closing
// trades move the price. Plain functions of plain numbers, host and device.
#include "marginsync/hd.hpp"

namespace msync {

// Square-root market impact: trading `notional` (quote currency, signed: > 0 buys) moves the price
// by the fraction Y sigma_daily sqrt(|notional| / daily_volume), up for buys and down for sells;
// sigma_daily = sigma / sqrt(365) (calendar days, as the horizon of docs/design.md section 3).
MSYNC_HD inline double square_root_impact(double coefficient, double annual_vol, double notional,
                                          double daily_volume) {
  const double size = notional < 0.0 ? -notional : notional;
  const double move = coefficient * (annual_vol / sqrt(365.0)) * sqrt(size / daily_volume);
  return notional < 0.0 ? -move : move;
}

// Closing an account out at the current prices: the penalty (a fraction of its gross notional)
// goes to the insurance fund as far as the account's equity covers it; equity below zero is bad
// debt, which the fund covers as far as it can.
struct closeout {
  double penalty;   // paid to the fund
  double bad_debt;  // max(0, -equity)
  double left;      // equity left to the account after the penalty
};

MSYNC_HD inline closeout close_out(double equity, double gross_notional, double penalty_rate) {
  const double penalty = penalty_rate * gross_notional;
  const double paid = equity <= 0.0 ? 0.0 : (equity < penalty ? equity : penalty);
  return closeout{paid, equity < 0.0 ? -equity : 0.0, equity > 0.0 ? equity - paid : 0.0};
}

}  // namespace msync
