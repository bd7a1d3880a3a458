#pragma once
// What an account is on a stream's tick path (README "Streaming"): the margin rules of
// docs/design.md section 3 against the margins in force (the last risk run's, widened by the
// staleness add-on), with liquidation held while an oracle the account depends on is stale. Host
// and device.
#include <cstdint>

#include "marginsync/hd.hpp"
#include "marginsync/risk_rules.hpp"
#include "marginsync/staleness.hpp"

namespace msync {

// `error`: the account's equity or margins in force are not finite (risk_rules.hpp); appended last
// so the other values keep their numbers.
enum class stream_state : std::uint8_t {
  ok,
  preemptive,
  margin_call,
  liquidate,
  liquidation_held,
  error
};

// How bad a state is, for the calm-state rule below: ok < preemptive < margin_call < liquidate
// (liquidation_held is liquidate on a stale oracle: the same rank). `error` has no rank (-1): it
// is entered and left at once.
MSYNC_HD inline int stream_state_rank(stream_state s) {
  switch (s) {
    case stream_state::ok:
      return 0;
    case stream_state::preemptive:
      return 1;
    case stream_state::margin_call:
      return 2;
    case stream_state::liquidate:
    case stream_state::liquidation_held:
      return 3;
    case stream_state::error:
      break;
  }
  return -1;
}

// An account's stream state (docs/design.md 8.2) from its equity and the margins in force, given
// the state it was in (`previous`). A worse state is entered at once; a better one only when the
// account clears, by the relative `recovery_band` (risk.json, e.g. 0.02), every threshold it
// crosses on the way: it leaves liquidate when E >= MM (1 + band), margin_call when
// E >= IM (1 + band), preemptive when P < preemptive_threshold (1 - band) (the flag is
// P >= threshold, so band 0 is the rule without memory). Only the thresholds the account was
// already past are widened: an account in margin_call that clears IM by the band but whose P is
// just under the threshold goes to preemptive, not ok. `error` (equity or margins not finite) is
// entered and left at once.
MSYNC_HD inline stream_state account_stream_state(double equity, const margin_levels& in_force,
                                                  double breach_probability,
                                                  double preemptive_threshold, bool on_stale_oracle,
                                                  stream_state previous, double recovery_band) {
  const int was = stream_state_rank(previous);
  const double widen = 1.0 + recovery_band, narrow = 1.0 - recovery_band;
  const margin_levels held{in_force.initial * (was >= 2 ? widen : 1.0),
                           in_force.maintenance * (was >= 3 ? widen : 1.0)};
  const account_status status = margin_status(equity, held);
  if (status == account_status::error) return stream_state::error;
  if (status == account_status::liquidate)
    return on_stale_oracle ? stream_state::liquidation_held : stream_state::liquidate;
  if (status == account_status::margin_call) return stream_state::margin_call;
  const double threshold = preemptive_threshold * (was >= 1 ? narrow : 1.0);
  return preemptive_flag(status, breach_probability, threshold) ? stream_state::preemptive
                                                                : stream_state::ok;
}

// One account on the tick path: its staleness add-on over its exposures [x_begin, x_end) and its
// state against the last risk run's margins widened by it. The one rule of the CPU loop, the
// device kernel and the CUDA backend's host path for a book in chunks. `previous`: the account's
// state after the last tick (the calm-state rule above).
struct account_tick {
  stream_state state;
  double addon;  // quote currency, added to IM and MM
};
MSYNC_HD inline account_tick account_tick_state(
    std::uint64_t x_begin, std::uint64_t x_end, const std::uint32_t* exposure_underlying,
    const double* exposure_delta, const double* spot, const double* vol, const std::uint8_t* stale,
    double z, double tau_years, double equity, double initial_margin, double maintenance_margin,
    double breach_probability, double preemptive_threshold, stream_state previous,
    double recovery_band) {
  bool on_stale = false;
  const double addon = account_staleness_addon(x_begin, x_end, exposure_underlying, exposure_delta,
                                               spot, vol, stale, z, tau_years, on_stale);
  const margin_levels in_force{initial_margin + addon, maintenance_margin + addon};
  return account_tick{account_stream_state(equity, in_force, breach_probability,
                                           preemptive_threshold, on_stale, previous, recovery_band),
                      addon};
}

}  // namespace msync
