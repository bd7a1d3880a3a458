#pragma once
// Each rank's part of the book in a run across ranks (docs/design.md 16.2). Rank 0, which writes
// the outputs, holds the whole book; every other rank holds only the accounts of its part of the
// bad-debt chunks (risk_share.hpp), as a book of their own (book_slice.hpp). From a snapshot each
// of those ranks reads its part itself (read_book_snapshot_part: the file's account-level arrays,
// then only its accounts' positions); a book directory is read by rank 0, which sends each rank
// its part as snapshot bytes.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "io/book_snapshot.hpp"
#include "io/load_inputs.hpp"
#include "marginsync/backend.hpp"
#include "marginsync/risk_share.hpp"
#include "mpi/rank_group.hpp"

namespace msync {

// How the ranks get their parts: decided by rank 0 from the book it is given, sent to the others
// before anything is read (so that every rank takes the same path, whatever it sees of the file).
enum class book_parts_from : std::uint8_t { snapshot = 0, first_rank = 1 };
book_parts_from agree_book_parts_source(rank_group& ranks, const book_location& where);

// The accounts part `part` of `parts` holds at N = `scenarios` (ascending indices of `whole`).
std::vector<std::uint32_t> accounts_of_rank(const book& whole, std::size_t scenarios, int part,
                                            int parts);
// The same for the book of the first `first_accounts` accounts of `whole` (book_prefix: bench's
// `full` on the CPU, docs/design.md 16.6), whose indices are the whole book's. Needs only the
// account-level arrays (a read_book_snapshot_part picker's book).
std::vector<std::uint32_t> accounts_of_rank_in_first(const book& whole, std::size_t first_accounts,
                                                     std::size_t scenarios, int part, int parts);

// What a rank knows of its part: the whole book's account count and, on ranks but 0, the whole
// book's index of each account it holds (rank 0 holds the whole book: none).
struct book_part {
  std::size_t book_accounts = 0;
  std::vector<std::uint32_t> whole_index;

  // set_risk_share's argument for rank `rank` of `ranks` at N = `scenarios`.
  risk_share share(int rank, int ranks, std::size_t scenarios) const;
};

// Rank 0: each other rank's part of `whole` at N = `scenarios`, sent to it in rank order as
// snapshot bytes (book_snapshot_bytes) with `texts` (none for a part without accounts), after the
// whole book's account count, N, and the part's account indices.
void send_book_parts(rank_group& ranks, const book_inputs& whole, const book_texts& texts,
                     std::size_t scenarios);
// A rank but 0: its part from rank 0, the bytes to read with read_book_snapshot_bytes (empty: the
// part has no accounts), and N.
std::string receive_book_part(rank_group& ranks, book_part& part, std::size_t& scenarios);

// Runs `work` on every rank, then agrees with the others on how it went: every rank returns
// normally when every rank's work did, and none continues otherwise (the caller's stage runner
// reports a failure on the rank that had it and throws rank_stopped on the others).
using rank_stage = std::function<void(const std::function<void()>& work)>;

// What a job loads on the ranks (load_book_on_ranks).
struct rank_book_request {
  book_location where;
  // Applied to the inputs a rank holds once their market and risk configuration are known (the
  // command line's overrides; a scenario file it may read once): returns N, the scenarios the
  // risk runs at, which the parts are cut by.
  std::function<std::size_t(book_inputs&)> prepare;
  std::string scenarios_source;  // what sets N, named when a rank's N is not rank 0's
  std::string program;           // "marginsync margin": names a failure while the book is sent
};

// This rank's book: rank 0 the whole book, every other rank its part (an empty book when the part
// has no accounts: `idle`).
struct rank_book {
  book_inputs inputs;
  book_part part;
  std::size_t scenarios = 0;
  bool idle = false;
};

// Loads this rank's book in agreed stages (docs/design.md 16.2, 16.3): first every rank learns
// whether the book is a snapshot; then rank 0 loads the whole book and every other rank its part
// of a snapshot; for a book directory, rank 0 then sends the parts and each rank reads its own in
// a stage of its own. Times `load` (and `load_scenarios`, `send_parts`) into `stages`; `log` gets
// a line saying what the rank holds. A failure while the parts are sent ends the whole job.
rank_book load_book_on_ranks(rank_group& ranks, const rank_stage& stage,
                             const rank_book_request& request, std::vector<stage_time>& stages,
                             const std::function<void(const std::string&)>& log);

}  // namespace msync
