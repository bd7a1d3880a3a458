#include "chunk_plan.hpp"

#include <algorithm>
#include <cstdio>
#include <stdexcept>
#include <string>

#include "marginsync/account_split.hpp"

namespace msync::cuda {

std::string gib(std::size_t bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.2f GiB",
                static_cast<double>(bytes) / static_cast<double>(1ull << 30));
  return text;
}

std::vector<std::uint32_t> split_accounts(const std::uint64_t* account_exposure_begin,
                                          const std::uint64_t* exposure_position_begin,
                                          std::size_t a_begin, std::size_t a_end) {
  std::vector<std::uint32_t> out;
  for (std::size_t a = a_begin; a < a_end; ++a)
    if (revalued_by_warp(account_positions(account_exposure_begin, exposure_position_begin, a)))
      out.push_back(static_cast<std::uint32_t>(a - a_begin));
  return out;
}

std::uint32_t accounts_per_group(std::size_t accounts) {
  const std::size_t per = (std::max<std::size_t>(accounts, 1) + max_groups - 1) / max_groups;
  return static_cast<std::uint32_t>(std::max<std::size_t>(per, 1));
}

std::uint32_t group_count(std::size_t accounts) {
  const std::uint32_t per = accounts_per_group(accounts);
  return std::max<std::uint32_t>(1, static_cast<std::uint32_t>((accounts + per - 1) / per));
}

std::size_t wave_row_bytes(std::int64_t scenarios) {
  return 2 * static_cast<std::size_t>(std::max<std::int64_t>(scenarios, 1)) * sizeof(double);
}

std::uint32_t full_tile_scenarios(std::size_t instruments, std::size_t l2_bytes, std::int64_t n) {
  const std::size_t block = full_tile_threads;
  const std::size_t slice = std::max<std::size_t>(instruments, 1) * sizeof(double) * block;
  const std::size_t by_cache = l2_bytes / 4 / slice * block;
  const std::size_t by_n =
      (static_cast<std::size_t>(std::max<std::int64_t>(n, 1)) + block - 1) / block * block;
  return static_cast<std::uint32_t>(
      std::clamp<std::size_t>(std::min(by_cache, by_n), block, max_tile_scenarios));
}

std::size_t wave_block_bytes(const run_shape& shape) {
  return wave_row_bytes(shape.n) + (shape.full ? full_tile_block_bytes : 0);
}

std::uint32_t wave_groups(const run_shape& shape, std::size_t accounts, std::size_t budget) {
  const std::size_t fill =
      std::size_t{risk_blocks_per_sm} * std::max<std::uint32_t>(shape.sm_count, 1);
  const std::size_t by_memory = budget / 2 / wave_block_bytes(shape);
  const std::size_t groups = group_count(accounts);
  return static_cast<std::uint32_t>(std::max<std::size_t>(1, std::min({fill, by_memory, groups})));
}

std::size_t book_bytes(std::size_t accounts, std::size_t exposures, std::size_t positions) {
  return accounts * bytes_per_account + exposures * bytes_per_exposure +
         positions * bytes_per_position;
}

std::size_t book_bytes(const book& b) {
  return book_bytes(b.accounts(), b.exposures(), b.positions());
}

std::size_t upload_set_bytes(std::size_t accounts, std::size_t exposures, std::size_t positions) {
  return accounts * upload_bytes_per_account + exposures * upload_bytes_per_exposure +
         positions * upload_bytes_per_position;
}

std::size_t chunk_plan::max_accounts() const {
  std::size_t m = 0;
  for (const chunk_range& c : chunks) m = std::max(m, c.accounts());
  return m;
}
std::size_t chunk_plan::max_exposures() const {
  std::size_t m = 0;
  for (const chunk_range& c : chunks) m = std::max(m, c.exposures());
  return m;
}
std::size_t chunk_plan::max_positions() const {
  std::size_t m = 0;
  for (const chunk_range& c : chunks) m = std::max(m, c.positions());
  return m;
}

namespace {
// Device bytes of chunk buffers sized for these counts, twice the upload part when chunked.
std::size_t sized_chunk_bytes(std::size_t accounts, std::size_t exposures, std::size_t positions,
                              bool chunked) {
  return book_bytes(accounts, exposures, positions) +
         (chunked ? upload_set_bytes(accounts, exposures, positions) : 0);
}
}  // namespace

std::size_t chunk_buffer_bytes(const chunk_plan& plan) {
  return sized_chunk_bytes(plan.max_accounts(), plan.max_exposures(), plan.max_positions(),
                           plan.chunks.size() > 1);
}

std::size_t fixed_bytes(const run_shape& shape, std::size_t instruments, std::size_t accounts,
                        bool with_table, std::size_t budget) {
  const std::size_t un = static_cast<std::size_t>(std::max<std::int64_t>(shape.n, 0));
  const std::size_t u = shape.underlyings;
  // Per instrument: terms, underlying, valuation inputs, unit risk and base value.
  std::size_t bytes = instruments * (sizeof(contract_terms) + 4 + sizeof(valuation_inputs) +
                                     sizeof(instrument_risk) + 8);
  bytes += u * 5 * 8 + u * u * 8;            // spot, vol, impact, daily volume, stale; Cholesky
  bytes += 2 * u * un * 8;                   // S', vol shock x
  if (!shape.full) bytes += 2 * u * un * 8;  // their moves
  if (shape.from_file)
    bytes += 2 * u * un * 8;  // the file's returns
  else if (u > max_local_underlyings)
    bytes += 2 * u * un * 8;  // normals scratch
  if (shape.full && with_table) bytes += instruments * un * sizeof(double);
  // One wave's partial rows, loss scratch and (full) tiled scratch.
  bytes += std::size_t{wave_groups(shape, accounts, budget)} * wave_block_bytes(shape);
  bytes += 3 * un * 8 + 64;       // the book's bad debt and the bundles' two carry rows
  bytes += std::size_t{4} << 20;  // CUB's select temporaries, allocation rounding
  return bytes;
}

bool stays_resident(const book& b, const run_shape& shape, std::size_t budget) {
  return fixed_bytes(shape, b.instruments.size(), b.accounts(), false, budget) + book_bytes(b) <=
         budget;
}

chunk_plan plan_chunks(const book& b, const run_shape& shape, std::size_t budget,
                       std::size_t max_chunk_accounts) {
  chunk_plan plan;
  const std::size_t ins = b.instruments.size(), n_acc = b.accounts();
  const std::size_t with_table = fixed_bytes(shape, ins, n_acc, true, budget);
  plan.use_table = shape.full && (with_table + book_bytes(b) <= budget || with_table <= budget / 2);
  const std::size_t fixed = fixed_bytes(shape, ins, n_acc, plan.use_table, budget);
  if (fixed >= budget)
    throw std::runtime_error("CUDA backend: " + std::to_string(shape.n) + " scenarios need " +
                             gib(fixed) + " of device memory before any account, more than the " +
                             gib(budget) + " available; use fewer scenarios or the CPU backend");
  plan.room = budget - fixed;
  const std::uint32_t per = accounts_per_group(n_acc);
  const std::uint32_t groups = group_count(n_acc);
  auto range_of = [&](std::uint32_t g0, std::uint32_t g1) {
    chunk_range c{};
    c.group_begin = g0;
    c.group_end = g1;
    c.account_begin = std::min<std::size_t>(n_acc, std::size_t{g0} * per);
    c.account_end = std::min<std::size_t>(n_acc, std::size_t{g1} * per);
    c.exposure_begin = b.account_exposure_begin[c.account_begin];
    c.exposure_end = b.account_exposure_begin[c.account_end];
    c.position_begin = b.account_position_begin[c.account_begin];
    c.position_end = b.account_position_begin[c.account_end];
    return c;
  };
  // The whole book as one chunk where it fits (held whole: one set of buffers, uploaded once).
  const chunk_range whole = range_of(0, groups);
  if (book_bytes(whole.accounts(), whole.exposures(), whole.positions()) <= plan.room &&
      (max_chunk_accounts == 0 || whole.accounts() <= max_chunk_accounts)) {
    plan.chunks.push_back(whole);
    return plan;
  }
  // In chunks: every chunk buffer is sized by the largest chunk's accounts, exposures and
  // positions (each its own maximum) and the upload buffers are held twice, so a chunk fits when
  // those maxima, this chunk's included, do.
  std::size_t max_acc = 0, max_exp = 0, max_pos = 0;
  auto bytes_with = [&](const chunk_range& c) {
    return sized_chunk_bytes(std::max(max_acc, c.accounts()), std::max(max_exp, c.exposures()),
                             std::max(max_pos, c.positions()), true);
  };
  auto fits = [&](const chunk_range& c) {
    return bytes_with(c) <= plan.room &&
           (max_chunk_accounts == 0 || c.accounts() <= max_chunk_accounts);
  };
  std::uint32_t g = 0;
  do {
    std::uint32_t end = g + 1;
    const chunk_range one = range_of(g, end);
    if (bytes_with(one) > plan.room)
      throw std::runtime_error("CUDA backend: accounts " + std::to_string(std::size_t{g} * per) +
                               " onwards need more device memory than the " + gib(plan.room) +
                               " left after the scenarios; use fewer scenarios or the CPU backend");
    // Grow the chunk by doubling, then back off: a handful of size checks per chunk.
    std::uint32_t step = 1;
    while (end < groups) {
      const std::uint32_t next = std::min(groups, end + step);
      if (!fits(range_of(g, next))) {
        if (step == 1) break;
        step = 1;
        continue;
      }
      end = next;
      step *= 2;
    }
    const chunk_range c = range_of(g, end);
    max_acc = std::max(max_acc, c.accounts());
    max_exp = std::max(max_exp, c.exposures());
    max_pos = std::max(max_pos, c.positions());
    plan.chunks.push_back(c);
    g = end;
  } while (g < groups);
  return plan;
}

}  // namespace msync::cuda
