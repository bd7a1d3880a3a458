#pragma once
// Account risk rules of docs/design.md section 3: which order statistic is VaR, initial and
// maintenance margin, health, status, the pre-emptive flag. Plain functions of plain numbers, host
// and device.
#include <cstdint>

#include "marginsync/hd.hpp"

namespace msync {

// k = max(1, ceil((1 - confidence) N - 1e-9)): VaR is the k-th largest loss, ES the mean of the k
// largest. The 1e-9 keeps exact products such as 0.05 * 200 = 10.000000000000002 at 10.
MSYNC_HD inline std::int64_t tail_count(double confidence, std::int64_t scenarios) {
  const double x = (1.0 - confidence) * static_cast<double>(scenarios) - 1e-9;
  std::int64_t k = static_cast<std::int64_t>(x);
  if (static_cast<double>(k) < x) ++k;  // ceil without a library call
  if (k < 1) k = 1;
  if (k > scenarios) k = scenarios;
  return k;
}

// `error`: a number the decision rests on (equity, VaR, ES, IM, MM) is NaN or infinite, so no
// decision can be made (docs/design.md section 3.8). Never `ok`: fail closed.
enum class account_status : std::uint8_t { ok = 0, margin_call = 1, liquidate = 2, error = 3 };

// True for a finite double: x - x is 0 for every finite x and NaN for NaN and +-inf. The same on
// host and device, without relying on a library isfinite in device code.
MSYNC_HD inline bool is_finite(double x) {
  return x - x == 0.0;
}

struct margin_rule {
  double min_margin_rate;    // fraction of gross notional
  double maintenance_ratio;  // MM / IM
  double im_multiplier;      // of the account's tier
};

struct margin_levels {
  double initial;
  double maintenance;
};

// IM = max(M, min_margin_rate * G_floor, 0) * im_multiplier + liquidity add-on; MM =
// maintenance_ratio * IM. M is the account's VaR or ES (quote currency, positive = loss), G_floor
// the gross notional of its positions in the floor (not long options, not settled). A NaN M, G or
// add-on gives NaN margins (never a silently dropped term), so margin_status says `error`.
MSYNC_HD inline margin_levels margin_requirement(double measure, double floor_notional,
                                                 double liquidity_addon, const margin_rule& rule) {
  double base = rule.min_margin_rate * floor_notional;
  if (measure > base || measure != measure) base = measure;  // a NaN measure is taken, not dropped
  if (base < 0.0) base = 0.0;
  const double im = base * rule.im_multiplier + liquidity_addon;
  return margin_levels{im, rule.maintenance_ratio * im};
}

// The margins of an account from its tail: IM on VaR or ES as the risk configuration says. When
// either tail number is not finite (a NaN or infinite loss in the scenarios), the margins are NaN:
// the account's risk is unknown, and every status taken against these margins (margin, stream,
// cascade, replay) is `error`, whichever measure the margin is on.
MSYNC_HD inline margin_levels account_margins(double var, double es, bool margin_on_es,
                                              double floor_notional, double liquidity_addon,
                                              const margin_rule& rule) {
  if (!is_finite(var) || !is_finite(es)) return margin_levels{NAN, NAN};
  return margin_requirement(margin_on_es ? es : var, floor_notional, liquidity_addon, rule);
}

// H = E / MM; +inf when MM = 0 and E >= 0, 0 when MM = 0 and E < 0; NaN when E is NaN (an
// account in `error` shows no health it does not have).
MSYNC_HD inline double health_factor(double equity, double maintenance) {
  if (maintenance == 0.0) return equity >= 0.0 ? HUGE_VAL : equity < 0.0 ? 0.0 : equity;
  return equity / maintenance;
}

// `error` unless equity and both margins are finite; then liquidate below MM, margin_call below IM.
MSYNC_HD inline account_status margin_status(double equity, const margin_levels& m) {
  if (!is_finite(equity) || !is_finite(m.initial) || !is_finite(m.maintenance))
    return account_status::error;
  if (equity < m.maintenance) return account_status::liquidate;
  if (equity < m.initial) return account_status::margin_call;
  return account_status::ok;
}

// A scenario breaches when the account would end the horizon below maintenance: E - L < MM.
MSYNC_HD inline bool breaches_maintenance(double equity, double loss, double maintenance) {
  return equity - loss < maintenance;
}

MSYNC_HD inline bool preemptive_flag(account_status status, double breach_probability,
                                     double threshold) {
  return status == account_status::ok && breach_probability >= threshold;
}

// What the venue's insurance fund covers if the account is closed out in a scenario: the loss
// beyond the account's own funds (its credit line is the venue's money, not the client's).
MSYNC_HD inline double bad_debt(double loss, double own_funds) {
  const double shortfall = loss - own_funds;
  return shortfall > 0.0 ? shortfall : 0.0;
}

inline const char* status_name(account_status s) {
  switch (s) {
    case account_status::ok:
      return "ok";
    case account_status::margin_call:
      return "margin_call";
    case account_status::liquidate:
      return "liquidate";
    case account_status::error:
      return "error";
  }
  return "?";
}

}  // namespace msync
