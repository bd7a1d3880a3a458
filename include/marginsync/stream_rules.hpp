#pragma once
// What an account is on a stream's tick path (README "Streaming"): the margin rules of DESIGN 3
// against the margins in force (the last risk run's, widened by the staleness add-on), with
// liquidation held while an oracle the account depends on is stale. Host and device.
#include <cstdint>

#include "marginsync/hd.hpp"
#include "marginsync/risk_rules.hpp"

namespace msync {

enum class stream_state : std::uint8_t { ok, preemptive, margin_call, liquidate, liquidation_held };

MSYNC_HD inline stream_state account_stream_state(double equity, const margin_levels& in_force,
                                                  double breach_probability, double preemptive_threshold,
                                                  bool on_stale_oracle) {
  const account_status status = margin_status(equity, in_force);
  if (status == account_status::liquidate)
    return on_stale_oracle ? stream_state::liquidation_held : stream_state::liquidate;
  if (status == account_status::margin_call) return stream_state::margin_call;
  return preemptive_flag(status, breach_probability, preemptive_threshold) ? stream_state::preemptive
                                                                           : stream_state::ok;
}

}  // namespace msync
