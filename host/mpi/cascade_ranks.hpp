#pragma once
// A cascade across ranks (docs/design.md 16.4): rank 0 holds the whole book and runs every round
// as one process does; every other rank holds its part of the book (book_parts.hpp) and, each
// round, revalues it at the round's prices, computes the scenario risk of its part and sends rank 0
// its accounts not ok. Rank 0 closes out the round's accounts in account order, sums their net
// notional per underlying in that order and moves the prices, as one process does, and tells each
// rank which of its accounts it closed out and the next round's prices.
#include <cstdint>
#include <vector>

#include "cascade/cascade.hpp"
#include "mpi/book_parts.hpp"
#include "mpi/rank_group.hpp"

namespace msync {

// Rank 0: the round_margins of run_cascade, its own accounts not ok with every other rank's
// (received in rank order) in account order, as one process's not_ok_accounts, in `merged`
// (kept by the caller for the whole cascade).
round_margins margins_from_ranks(rank_group& ranks, risk_result& merged);

// Rank 0: the round_events that drive the other ranks; `owner[a]` is the rank holding account a.
round_events events_to_ranks(rank_group& ranks, const std::vector<std::uint16_t>& owner);
// Rank 0, after the last shock: the other ranks stop following.
void end_cascades_on_ranks(rank_group& ranks);
// Rank 0: the rank that holds each account of `whole` (accounts_of_rank at N = `scenarios`).
std::vector<std::uint16_t> account_owners(rank_group& ranks, const book& whole,
                                          std::size_t scenarios);

// A rank but 0: follows rank 0's cascades, shock after shock, on its part `held` with `engine`
// (which holds held.inputs.positions; null for a part without accounts), until rank 0 ends them.
// Each shock's close-outs are undone at its end, as rank 0 undoes them.
void follow_cascades(rank_group& ranks, const rank_book& held, backend* engine);

}  // namespace msync
