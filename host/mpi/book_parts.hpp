#pragma once
// Each rank's part of the book in a run across ranks (docs/design.md 16.2). Rank 0, which writes
// the outputs, holds the whole book; every other rank holds only the accounts of its part of the
// bad-debt chunks (risk_share.hpp), as a book of their own (book_slice.hpp). From a snapshot each
// of those ranks reads its part itself (read_book_snapshot_part: the file's account-level arrays,
// then only its accounts' positions); a book directory is read by rank 0, which sends each rank
// its part as snapshot bytes.
#include <cstdint>
#include <string>
#include <vector>

#include "io/load_inputs.hpp"
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

// The texts of market.json, risk.json and marks.csv (empty: none) of a book directory, as a
// snapshot holds them. Throws input_error.
struct book_texts {
  std::string market, risk, marks;
};
book_texts read_book_texts(const book_location& where);

// Rank 0: each other rank's part of `whole` at N = `scenarios`, sent to it in rank order as
// snapshot bytes (book_snapshot_bytes) with `texts` (none for a part without accounts), after the
// whole book's account count, N, and the part's account indices.
void send_book_parts(rank_group& ranks, const book_inputs& whole, const book_texts& texts,
                     std::size_t scenarios);
// A rank but 0: its part from rank 0, the bytes to read with read_book_snapshot_bytes (empty: the
// part has no accounts), and N.
std::string receive_book_part(rank_group& ranks, book_part& part, std::size_t& scenarios);

}  // namespace msync
