#pragma once
// The margin job across ranks (docs/design.md 16): rank 0 loads the whole book, every other rank
// its part of the book's bad-debt chunks (book_parts.hpp); each revalues what it holds and
// computes the scenario risk of its part; rank 0 puts the parts together into the run a single
// process makes, byte for byte, and writes the outputs.
#include <functional>
#include <string>

#include "margin/margin_job.hpp"
#include "mpi/book_parts.hpp"
#include "mpi/rank_group.hpp"

namespace msync {

// run_margin's job across `ranks`, a stage (agreed) after loading and after computing. On rank 0
// the run is the whole book's, as run_margin returns it; on the other ranks `risk` is null (their
// part went to rank 0). `log` is called on every rank.
margin_run run_margin_on_ranks(const margin_request& request, rank_group& ranks,
                               const rank_stage& stage,
                               const std::function<void(const std::string&)>& log);

// The ranks' scenario-risk parts (each rank's `part`, computed with backend::set_risk_share) put
// together on rank 0 into the whole book's result, as one process computes it: the bad-debt sum
// passed in rank order, then every other rank's per-account numbers. `whole_index`: the whole
// book's index of each account of the rank's book (empty: the rank holds the whole book). The
// other ranks send theirs and get an empty result. Every rank calls it; only transfers
// (docs/design.md 16.2).
risk_result combine_risk_on_ranks(rank_group& ranks, const risk_result& part,
                                  const risk_params& risk,
                                  const std::vector<std::uint32_t>& whole_index = {});

// CPU threads for one of `local_ranks` ranks on this machine when --threads is 0: the cores this
// process may run on, shared evenly when the launcher did not bind it to some of them.
int cpu_threads_per_rank(int local_ranks);

}  // namespace msync
