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

MSYNC_HD inline stream_state account_stream_state(double equity, const margin_levels& in_force,
                                                  double breach_probability,
                                                  double preemptive_threshold,
                                                  bool on_stale_oracle) {
  const account_status status = margin_status(equity, in_force);
  if (status == account_status::error) return stream_state::error;
  if (status == account_status::liquidate)
    return on_stale_oracle ? stream_state::liquidation_held : stream_state::liquidate;
  if (status == account_status::margin_call) return stream_state::margin_call;
  return preemptive_flag(status, breach_probability, preemptive_threshold)
             ? stream_state::preemptive
             : stream_state::ok;
}

// One account on the tick path: its staleness add-on over its exposures [x_begin, x_end) and its
// state against the last risk run's margins widened by it. The one rule of the CPU loop, the
// device kernel and the CUDA backend's host path for a book in chunks.
struct account_tick {
  stream_state state;
  double addon;  // quote currency, added to IM and MM
};
MSYNC_HD inline account_tick account_tick_state(
    std::uint64_t x_begin, std::uint64_t x_end, const std::uint32_t* exposure_underlying,
    const double* exposure_delta, const double* spot, const double* vol, const std::uint8_t* stale,
    double z, double tau_years, double equity, double initial_margin, double maintenance_margin,
    double breach_probability, double preemptive_threshold) {
  bool on_stale = false;
  const double addon = account_staleness_addon(x_begin, x_end, exposure_underlying, exposure_delta,
                                               spot, vol, stale, z, tau_years, on_stale);
  const margin_levels in_force{initial_margin + addon, maintenance_margin + addon};
  return account_tick{
      account_stream_state(equity, in_force, breach_probability, preemptive_threshold, on_stale),
      addon};
}

}  // namespace msync
