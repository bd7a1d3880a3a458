#pragma once
// One account's revaluation split across the 32 lanes of a warp (docs/design.md 1.3.1), with the
// bits of account_revaluation.hpp's revalue_account, and which accounts take it.
//
// revalue_account keeps ten running sums over an account's positions in book order: own funds
// (from the collateral), gross and floor notional, the collateral change less funding, and the
// current exposure's delta, gamma, vega, theta, decay and vol exposure. Own funds and the notionals
// run over the whole account (not exposure by exposure), so the account's sums cannot be formed
// from per-exposure subtotals without changing their bits. The split keeps each sum's order
// instead: the positions go through in rounds of 32, lane l computing position (round + l)'s term
// of every sum (the loads and products, the slow part), and each sum is kept by one lane, which
// adds the round's 32 terms in position order (one addition each). The greek lanes write an
// exposure's sum out and start again at its last position, the delta lane adding its liquidity
// add-on, as finish_exposure does. Every sum is then the same sequence of roundings as the CPU's.
//
// The kernel runs these steps on a warp (the terms through shared memory); revalue_account_split
// below runs them one lane after another, so the CPU tests check the steps to the bit.
#include <cstdint>

#include "marginsync/account_revaluation.hpp"

namespace msync {

// Accounts with at least this many positions are revalued by a warp; the rest one thread each. A
// warp's account costs about one dependent addition per position in each sum, against a thread's
// dependent loads per position, and a thread's long account holds up its warp's 31 other lanes.
// Not yet tuned on a GPU: 128 is four rounds, well above a typical account (B1M: 10 positions).
constexpr std::uint64_t split_min_positions = 128;

// An account's positions from its exposures' ranges (the CSR arrays of book.hpp, possibly rebased
// to a chunk): what the kernel and the host's list of split accounts both decide on.
MSYNC_HD inline std::uint64_t account_positions(const std::uint64_t* account_exposure_begin,
                                                const std::uint64_t* exposure_position_begin,
                                                std::uint64_t a) {
  return exposure_position_begin[account_exposure_begin[a + 1]] -
         exposure_position_begin[account_exposure_begin[a]];
}
MSYNC_HD inline bool revalued_by_warp(std::uint64_t positions) {
  return positions >= split_min_positions;
}

constexpr unsigned split_lanes = 32;  // positions per round: a warp's lanes

// The sums, one per lane 0 .. split_sums - 1.
enum split_sum : unsigned {
  sum_own = 0,
  sum_gross,
  sum_floor,
  sum_change,  // subtracted: the funding paid
  sum_delta,   // the first of the six exposure sums, in exposure_greeks order
  sum_gamma,
  sum_vega,
  sum_theta,
  sum_decay,
  sum_vol_exposure,
  split_sums
};

// The exposure of position p: from x, the first exposure that ends after p (exposures are
// consecutive ranges of positions; empty ones are passed over). x only grows along an account.
MSYNC_HD inline std::uint64_t exposure_of_position(const std::uint64_t* exposure_position_begin,
                                                   std::uint64_t x, std::uint64_t p) {
  while (exposure_position_begin[x + 1] <= p) ++x;
  return x;
}

// The term in each sum of position p of exposure x, with instrument i, quantity q and entry cost
// `cost` (loaded by the caller, so that the kernel can load the next round's while it adds), into
// term[k * stride] for sum k: add_position's value, notional and floor notional, pay_funding's
// funding, and q times each unit greek, the same expressions.
template <class Source>
MSYNC_HD inline void position_terms_of(const account_revaluation_view& v, const Source& source,
                                       std::uint64_t x, std::uint32_t i, double q, double cost,
                                       double* term, unsigned stride) {
  const std::uint32_t u = v.exposure_underlying[x];
  const double spot = v.spot[u];
  const exposure_funding fu = exposure_funding_of(v, u);
  position_terms k;
  std::uint8_t f;
  source(i, k, f);
  term[sum_own * stride] = position_value(k, f, q, cost);
  const double notional = fabs(q * k.multiplier * spot);
  term[sum_gross * stride] = notional;
  term[sum_floor * stride] = kept_or_zero(in_notional_floor(f, q), notional);
  term[sum_change * stride] =
      kept_or_zero(fu.pays && (f & pays_funding) != 0,
                   position_funding(q, k.multiplier, fu.spot, fu.rate, fu.periods));
  term[sum_delta * stride] = q * k.delta;
  term[sum_gamma * stride] = q * k.gamma;
  term[sum_vega * stride] = q * k.vega;
  term[sum_theta * stride] = q * k.theta;
  term[sum_decay * stride] = q * k.decay;
  term[sum_vol_exposure * stride] = q * k.vol_exposure;
}

// The exposure array the lane of `sum` writes (sum_delta .. sum_vol_exposure).
MSYNC_HD inline double* exposure_sum_out(const account_revaluation_view& v, unsigned sum) {
  switch (sum) {
    case sum_delta:
      return v.exposure_delta;
    case sum_gamma:
      return v.exposure_gamma;
    case sum_vega:
      return v.exposure_vega;
    case sum_theta:
      return v.exposure_theta;
    case sum_decay:
      return v.exposure_decay;
    default:
      return v.exposure_vol_exposure;
  }
}

// The lane that keeps one sum. Its terms arrive in position order with their exposures.
struct split_lane {
  unsigned sum;       // split_sum
  double s;           // the running sum
  double addon;       // the delta lane's: the account's liquidity add-on so far
  std::uint64_t x;    // the exposure of the last term added (the account's first before any)
  std::uint64_t end;  // the account's exposure end

  MSYNC_HD static split_lane start(unsigned sum, std::uint64_t x_begin, std::uint64_t x_end,
                                   double collateral, double change) {
    const double first = sum == sum_own ? collateral : sum == sum_change ? change : 0.0;
    return split_lane{sum, first, 0.0, x_begin, x_end};
  }
  // Exposure x is complete: its sum written (greek lanes), its add-on added (the delta lane), as
  // finish_exposure does, and the next exposure's sum starts at 0.
  MSYNC_HD void finish_exposure(const account_revaluation_view& v) {
    if (sum < sum_delta) return;
    exposure_sum_out(v, sum)[x] = s;
    if (sum == sum_delta && v.daily_volume) {
      const std::uint32_t u = v.exposure_underlying[x];
      addon += exposure_liquidity_cost(v, u, v.spot[u], s);
    }
    s = 0.0;
  }
  // The term of a position of exposure `xp` (xp >= x): the exposures before it are complete.
  MSYNC_HD void add(const account_revaluation_view& v, std::uint64_t xp, double term) {
    while (x < xp) {
      finish_exposure(v);
      ++x;
    }
    s = sum == sum_change ? s - term : s + term;
  }
  // After the account's last position: the remaining exposures (the last, and any empty ones after
  // it) complete.
  MSYNC_HD void finish(const account_revaluation_view& v) {
    while (x < end) {
      finish_exposure(v);
      ++x;
    }
  }
};

// revalue_account's steps as the warp takes them, one lane after another: per round, lane l's
// terms of position round + l, then each sum's lane adds the round's terms in order. The same
// totals and exposure arrays as revalue_account, bit for bit (tests/cpu/test_account_split.cpp).
template <class Source>
MSYNC_HD inline account_totals revalue_account_split(const account_revaluation_view& v,
                                                     const Source& source, std::uint64_t x_begin,
                                                     std::uint64_t x_end, double collateral,
                                                     double credit_limit, double& change) {
  split_lane lanes[split_sums];
  for (unsigned k = 0; k < split_sums; ++k)
    lanes[k] = split_lane::start(k, x_begin, x_end, collateral, change);
  const std::uint64_t p_begin = v.exposure_position_begin[x_begin];
  const std::uint64_t p_end = v.exposure_position_begin[x_end];
  std::uint64_t cursor[split_lanes];  // each producing lane's exposure
  for (unsigned l = 0; l < split_lanes; ++l) cursor[l] = x_begin;
  double terms[split_sums][split_lanes];
  std::uint64_t exposure[split_lanes];
  for (std::uint64_t round = p_begin; round < p_end; round += split_lanes) {
    const unsigned n = static_cast<unsigned>(
        p_end - round < split_lanes ? p_end - round : std::uint64_t{split_lanes});
    for (unsigned l = 0; l < n; ++l) {
      const std::uint64_t p = round + l;
      cursor[l] = exposure_of_position(v.exposure_position_begin, cursor[l], p);
      position_terms_of(v, source, cursor[l], v.position_instrument[p], v.position_quantity[p],
                        v.position_cost[p], &terms[0][l], split_lanes);
      exposure[l] = cursor[l];
    }
    for (unsigned k = 0; k < split_sums; ++k)
      for (unsigned j = 0; j < n; ++j) lanes[k].add(v, exposure[j], terms[k][j]);
  }
  for (unsigned k = 0; k < split_sums; ++k) lanes[k].finish(v);
  change = lanes[sum_change].s;
  const double own = lanes[sum_own].s;
  return account_totals{own, own + credit_limit, lanes[sum_gross].s, lanes[sum_floor].s,
                        lanes[sum_delta].addon};
}

// The same over the view's position table or its per-instrument structs, as revalue_account.
MSYNC_HD inline account_totals revalue_account_split(const account_revaluation_view& v,
                                                     std::uint64_t x_begin, std::uint64_t x_end,
                                                     double collateral, double credit_limit,
                                                     double& change) {
  if (v.position_table)
    return revalue_account_split(
        v, detail::position_table_source{v.position_table, v.position_table_flags}, x_begin, x_end,
        collateral, credit_limit, change);
  return revalue_account_split(v, detail::position_struct_source{v.terms, v.inputs, v.unit},
                               x_begin, x_end, collateral, credit_limit, change);
}

// The collateral moved of account a from a compact list (accounts ascending, each at most once:
// the accounts whose change is not zero, NaN included), and a sum with it added. An account not
// listed gets 0.0, which plus_change does not add: the sum keeps its bits (a -0.0 own funds
// stays -0.0, where the CPU backend, adding every account's +0.0, gives +0.0: equal as numbers).
MSYNC_HD inline std::uint32_t lower_bound_account(const std::uint32_t* account, std::uint32_t count,
                                                  std::uint32_t a) {
  std::uint32_t lo = 0, hi = count;
  while (lo < hi) {
    const std::uint32_t mid = lo + (hi - lo) / 2;
    if (account[mid] < a)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}
MSYNC_HD inline double listed_change(const std::uint32_t* account, const double* change,
                                     std::uint32_t count, std::uint32_t a) {
  const std::uint32_t i = lower_bound_account(account, count, a);
  return i < count && account[i] == a ? change[i] : 0.0;
}
MSYNC_HD inline double plus_change(double sum, double change) {
  return change != 0.0 ? sum + change : sum;
}

}  // namespace msync
