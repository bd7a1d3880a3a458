#pragma once
// A stream's tick path and an account gather on host arrays: what the CPU backend runs, and what
// the CUDA backend runs for a book it holds in chunks (whose numbers are on the host).
#include <cstdint>
#include <vector>

#include "marginsync/backend.hpp"

namespace msync::cpu {

// Buffers of the tick path, sized on first use and reused from one update to the next, so that a
// tick allocates nothing but the changes it reports.
struct tick_buffers {
  std::vector<std::uint8_t> stale;  // per underlying of the market: 1 when its oracle is stale
  std::vector<std::uint8_t> next;   // per account: its state after this tick
};

// Per underlying of `market`: request.stale_underlying's flag, "fresh" past its end. In `buffers`.
const std::uint8_t* stale_flags(const market_state& market, const tick_request& request,
                                tick_buffers& buffers);

// Every account's stream state (stream_rules.hpp's account_tick_state) from `reval` at `market`,
// against `margins` widened by the add-on; `states` (one per account) moves to the new states and
// the accounts that changed come back, ascending. OpenMP over accounts with `threads` threads.
std::vector<tick_change> tick_states(const book& b, const revaluation& reval,
                                     const market_state& market, const risk_result& margins,
                                     const tick_request& request, std::vector<std::uint8_t>& states,
                                     int threads, tick_buffers& buffers);
// The same with buffers of its own.
std::vector<tick_change> tick_states(const book& b, const revaluation& reval,
                                     const market_state& market, const risk_result& margins,
                                     const tick_request& request, std::vector<std::uint8_t>& states,
                                     int threads);

// Once buffers.next holds every account's new state (tick_states, or a pass that computed them
// with the revaluation): moves `states` to them and returns the accounts that changed, ascending,
// with the numbers behind them. `stale` as stale_flags returned it.
std::vector<tick_change> tick_changes(const book& b, const revaluation& reval,
                                      const market_state& market, const risk_result& margins,
                                      const tick_request& request, const std::uint8_t* stale,
                                      std::vector<std::uint8_t>& states,
                                      const std::vector<std::uint8_t>& next);

// The part of `reval` of those accounts, in their order. Throws std::logic_error for an account
// the book does not have.
revalued_accounts gather_accounts(const book& b, const revaluation& reval,
                                  const std::vector<std::uint32_t>& accounts);

}  // namespace msync::cpu
