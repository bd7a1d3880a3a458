#pragma once
// A stream's tick path and an account gather on host arrays: what the CPU backend runs, and what
// the CUDA backend runs for a book it holds in chunks (whose numbers are on the host).
#include <cstdint>
#include <vector>

#include "marginsync/backend.hpp"

namespace msync::cpu {

// Every account's stream state (stream_rules.hpp's account_tick_state) from `reval` at `market`,
// against `margins` widened by the add-on; `states` (one per account) moves to the new states and
// the accounts that changed come back, ascending. OpenMP over accounts with `threads` threads.
std::vector<tick_change> tick_states(const book& b, const revaluation& reval,
                                     const market_state& market, const risk_result& margins,
                                     const tick_request& request, std::vector<std::uint8_t>& states,
                                     int threads);

// The part of `reval` of those accounts, in their order. Throws std::logic_error for an account
// the book does not have.
revalued_accounts gather_accounts(const book& b, const revaluation& reval,
                                  const std::vector<std::uint32_t>& accounts);

}  // namespace msync::cpu
