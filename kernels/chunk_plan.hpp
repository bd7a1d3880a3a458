#pragma once
// How the CUDA backend holds a book in device memory: whole ("resident") when it fits beside a
// run's scenarios, else in chunks of whole bad-debt groups, each uploaded on every call. Plain C++
// (no CUDA), so the plan is tested on any machine.
//
// Bad-debt groups: the accounts are split into consecutive groups whose per-scenario bad debt is
// summed on its own row, and the rows are added to the book's row one after another in group
// order, so the book's sum does not depend on the launch. The group size is a function of the
// account count only, so a chunked run gives the bytes of a resident one.
//
// Scenario risk runs the groups in waves (its grid): a block per group, each with a partial row
// (and a loss row when N does not fit in shared memory) of its own; after each wave its rows are
// added to the book's row in group order. The book's sum is then the same sequence of additions,
// 0 + row 0 + row 1 + ..., whatever the wave size, so the wave is sized by the device (its SM count
// and memory) and not by N.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "marginsync/black_scholes.hpp"
#include "marginsync/book.hpp"
#include "marginsync/valuation.hpp"

namespace msync::cuda {

// Device bytes of each account, exposure and position of a resident chunk (offsets; collateral,
// credit limit and IM multiplier; revaluation: own funds, equity, gross and floor notional,
// liquidity add-on; risk outputs; and a stream's tick path: collateral change, add-on, state,
// changed flag and index, and a changed record), as the backend allocates them; and at most one
// entry each in the lists of collateral changes (account index) and of accounts split across a warp
// (account_split.hpp).
constexpr std::size_t bytes_per_account =
    2 * 8 + 3 * 8 + 5 * 8 + 6 * 8 + 2 + 4 + (8 + 8 + 1 + 1 + 4 + 40) + 4 + 4;
// Underlying, position offset, and the revaluation's delta, gamma, vega, theta, decay and vol
// exposure.
constexpr std::size_t bytes_per_exposure = 4 + 8 + 6 * 8;
constexpr std::size_t bytes_per_position = 4 + 8 + 8;
// Of those, what a chunked run uploads on every call and so holds twice (double buffering: the
// next chunk's upload, on a copy stream, runs while this one computes): per account its two
// offsets, collateral, credit limit, IM multiplier and split-list entry; per exposure its
// underlying and position offset; per position its instrument, quantity and cost.
constexpr std::size_t upload_bytes_per_account = 2 * 8 + 3 * 8 + 4;
constexpr std::size_t upload_bytes_per_exposure = 4 + 8;
constexpr std::size_t upload_bytes_per_position = 4 + 8 + 8;
// The Monte Carlo kernel keeps this many underlyings' normals in registers; beyond, in scratch.
constexpr std::uint32_t max_local_underlyings = 64;

// The accounts [a_begin, a_end) of a book (its CSR offsets) that a warp revalues
// (account_split.hpp's revalued_by_warp), as indices from a_begin, ascending: the revaluation
// kernel's list of split accounts for the chunk that starts at a_begin.
std::vector<std::uint32_t> split_accounts(const std::uint64_t* account_exposure_begin,
                                          const std::uint64_t* exposure_position_begin,
                                          std::size_t a_begin, std::size_t a_end);

// Accounts per bad-debt group: at most max_groups groups (enough to fill any current GPU many
// times over), whatever the scenario count.
constexpr std::uint32_t max_groups = 4096;
std::uint32_t accounts_per_group(std::size_t accounts);
// Groups of a book (at least one, so an empty book still has a row).
std::uint32_t group_count(std::size_t accounts);

// Blocks per SM a wave of scenario risk aims at: the risk kernels take 64 registers a thread
// (__launch_bounds__(512, 2)), so two 512-thread blocks fill an SM's 65,536 registers; a wave of
// more would run as rounds of two per SM, its extra rows and tile scratch idle in each round.
constexpr std::uint32_t risk_blocks_per_sm = 2;

// What a run needs besides the book: scenarios, underlyings, method and source.
struct run_shape {
  std::int64_t n = -1;
  std::size_t underlyings = 0;
  bool full = false;
  bool from_file = false;
  std::uint32_t sm_count = 1;  // the device's multiprocessors: the scenario risk wave's target
  bool operator==(const run_shape& o) const {
    return n == o.n && underlyings == o.underlyings && full == o.full && from_file == o.from_file &&
           sm_count == o.sm_count;
  }
};

// Bytes of one group's rows in a wave: its partial bad-debt row and its loss row, N doubles each
// (the loss row is counted even where the losses fit in shared memory, which the planner cannot
// know).
std::size_t wave_row_bytes(std::int64_t scenarios);

// `full` with the P&L table, tiled over scenarios (risk_kernels.cu): a block takes its group's
// accounts in batches of full_tile_batch, and for each batch sweeps the scenarios a tile at a time
// (every account of the batch, then the next tile), so that the blocks of a wave, which start
// together and carry like work, read the same tile of the table at about the same time and it
// stays in L2. Between the sweeps each account of the batch keeps, in global scratch, its 512
// thread maxima (8 bytes each), up to full_tile_capacity candidates (a loss and its scenario, 12
// bytes) and their count.
constexpr std::uint32_t full_tile_threads = 512;  // the risk kernel's block (risk_block_threads)
constexpr std::uint32_t full_tile_batch = 64;
constexpr std::uint32_t full_tile_capacity = 1024;
constexpr std::uint32_t max_tile_scenarios = 2048;  // 4 losses per thread and tile, in registers
// Global scratch of one block of the tiled kernel.
constexpr std::size_t full_tile_block_bytes =
    std::size_t{full_tile_batch} *
    (std::size_t{full_tile_threads} * 8 + full_tile_capacity * 12 + 8);
// Scenarios per tile: a multiple of 512 from 512 to max_tile_scenarios, the largest whose slice of
// the table (8 I T bytes) takes at most a quarter of the device's L2 (the rest holds the tiles of
// blocks a little ahead or behind, and the scratch passing through), and no more than N rounded
// up to 512.
std::uint32_t full_tile_scenarios(std::size_t instruments, std::size_t l2_bytes, std::int64_t n);
// Device bytes of one block of a wave: wave_row_bytes, and for `full` the tiled kernel's scratch.
std::size_t wave_block_bytes(const run_shape& shape);
// Groups per wave of scenario risk (its grid, and the rows allocated): risk_blocks_per_sm per SM,
// at most the book's groups, and their rows within half of `budget`; at least one.
std::uint32_t wave_groups(const run_shape& shape, std::size_t accounts, std::size_t budget);

struct chunk_range {
  std::size_t account_begin, account_end;
  std::size_t exposure_begin, exposure_end;
  std::size_t position_begin, position_end;
  std::uint32_t group_begin, group_end;  // global bad-debt groups
  std::size_t accounts() const { return account_end - account_begin; }
  std::size_t exposures() const { return exposure_end - exposure_begin; }
  std::size_t positions() const { return position_end - position_begin; }
  std::uint32_t groups() const { return group_end - group_begin; }
};

// `bytes` as "1.25 GiB", for messages.
std::string gib(std::size_t bytes);

// Device bytes of a range of the book.
std::size_t book_bytes(std::size_t accounts, std::size_t exposures, std::size_t positions);
std::size_t book_bytes(const book& b);
// Device bytes of the second set of upload buffers a chunked run holds for a chunk of this size.
std::size_t upload_set_bytes(std::size_t accounts, std::size_t exposures, std::size_t positions);
// Device bytes that do not scale with the accounts: instruments, market, scenario set, the
// instrument P&L table (with_table), one wave's partial bad-debt rows, loss scratch and tiled
// scratch (wave_groups with `budget`), the bad-debt carry rows, CUB temporaries.
std::size_t fixed_bytes(const run_shape& shape, std::size_t instruments, std::size_t accounts,
                        bool with_table, std::size_t budget);

// Whether a book held whole can stay so for a run of `shape` within `budget` bytes.
bool stays_resident(const book& b, const run_shape& shape, std::size_t budget);

struct chunk_plan {
  std::vector<chunk_range> chunks;  // consecutive, covering every account, whole groups
  bool use_table = false;           // `full` keeps the instrument P&L table
  std::size_t room = 0;             // bytes left for the chunks after the fixed part
  bool resident() const { return chunks.size() == 1; }
  // The largest chunk's accounts, exposures and positions (each its own maximum, possibly of
  // different chunks): the backend sizes every chunk buffer by these.
  std::size_t max_accounts() const;
  std::size_t max_exposures() const;
  std::size_t max_positions() const;
};

// Device bytes the backend allocates for the plan's chunks: book_bytes of the maxima, and for a
// book in chunks a second set of upload buffers (upload_set_bytes of the maxima). At most
// plan.room for every plan plan_chunks returns.
std::size_t chunk_buffer_bytes(const chunk_plan& plan);

// Splits `b` into chunks of whole bad-debt groups that fit `budget` bytes with `shape`, at most
// `max_chunk_accounts` accounts each (0: no limit): the whole book as one chunk where it fits;
// otherwise chunks whose buffers, sized by the largest chunk's counts and held twice where a chunk
// uploads them (chunk_buffer_bytes), fit the room the fixed part leaves. `full` keeps the
// instrument P&L table when the whole book fits beside it, or when the table takes at most half the
// budget. Throws std::runtime_error (saying what to change) when the scenarios alone, or one group,
// do not fit.
chunk_plan plan_chunks(const book& b, const run_shape& shape, std::size_t budget,
                       std::size_t max_chunk_accounts);

}  // namespace msync::cuda
