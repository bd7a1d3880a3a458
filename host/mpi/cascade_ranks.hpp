#pragma once
// A cascade across ranks (docs/design.md 16.4): every rank holds the whole book and revalues it
// each round, computes the scenario risk of its part, and the round's margins are put together on
// every rank, so that every rank closes out the same accounts, computes the same net notional per
// underlying (summed over the whole round's close-outs in account order, as one process sums it)
// and applies the same impact.
#include "cascade/cascade.hpp"
#include "mpi/rank_group.hpp"

namespace msync {

// The round_margins of run_cascade across `ranks`: each rank's accounts not ok (with their status
// and maintenance margin) gathered on rank 0 in rank order, merged in account order and sent back
// to every rank, which reads them from `merged` (kept by the caller for the whole cascade).
round_margins margins_across_ranks(rank_group& ranks, risk_result& merged);

}  // namespace msync
