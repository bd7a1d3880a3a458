// instruments.csv, accounts.csv and positions.csv (docs/design.md section 2) into the
// structure-of-arrays book. Ids are mapped to dense indices through hash maps keyed by views into
// the file buffers, so the hot loop over position rows parses with std::from_chars and allocates
// nothing per field. accounts.csv and positions.csv are read in parts on every thread
// (io/csv_parts.hpp), with the problems in file order as a reading from start to end finds them;
// then the rows are grouped by account (a counting sort: accounts are dense indices) and each
// account's positions built on its own.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <unordered_map>

#include "cpu/omp_guard.hpp"
#include "io/book_snapshot.hpp"
#include "io/csv_parts.hpp"
#include "io/csv_reader.hpp"
#include "io/id_index.hpp"
#include "io/id_rules.hpp"
#include "io/load_inputs.hpp"
#include "io/number_parse.hpp"
#include "marginsync/book_slice.hpp"
#include "marginsync/errors.hpp"
#include "marginsync/uninitialized_vector.hpp"

namespace msync {

namespace {

using id_map = id_index;

// The record being read, for its problems.
struct row_context {
  const std::string& file;
  long line;
  problem_list& problems;
  void fail(std::string_view column, std::string reason) const {
    problems.add(file, line, std::string(column), std::move(reason));
  }
};

// The id rule (io/id_rules.hpp) on an id cell, a definition or a reference: false, reported, when
// the cell is not UTF-8 text (a reference is then not looked up, so the message names the cause).
bool id_cell(const row_context& row, std::string_view column, std::string_view id) {
  std::string why = id_text_problem(id);
  if (why.empty()) return true;
  row.fail(column, std::move(why));
  return false;
}

// Parses a required numeric cell; reports and returns false when it is empty or malformed.
bool number_cell(const row_context& row, std::string_view text, std::string_view name,
                 double& out) {
  std::string why = parse_number(text, out);
  if (why.empty()) return true;
  row.fail(name, std::move(why));
  return false;
}

// Each reader returns whether the file could be read at all (required columns present), so that
// the files referring to it do not report every reference as unknown.
bool read_instruments(csv_reader& csv, const market_state& market, book& b, id_map& ids,
                      problem_list& problems) {
  const int c_id = csv.require("instrument_id", problems);
  const int c_kind = csv.require("kind", problems);
  const int c_under = csv.require("underlying", problems);
  const int c_strike = csv.column("strike");
  const int c_expiry = csv.column("expiry");
  const int c_type = csv.column("option_type");
  const int c_mult = csv.column("multiplier");
  if (c_id < 0 || c_kind < 0 || c_under < 0) return false;

  std::unordered_map<std::string_view, std::uint32_t> symbols;
  for (std::size_t u = 0; u < market.size(); ++u)
    symbols.emplace(market.symbols[u], static_cast<std::uint32_t>(u));

  instrument_table& t = b.instruments;
  while (csv.next(problems)) {
    const row_context row{csv.file_name(), csv.line(), problems};
    const std::string_view id = csv.field(c_id);
    const std::string_view kind_text = csv.field(c_kind);
    const std::string_view under = csv.field(c_under);
    const std::string_view strike_text = csv.field(c_strike);
    const std::string_view expiry_text = csv.field(c_expiry);
    const std::string_view type_text = csv.field(c_type);

    if (id.empty())
      row.fail("instrument_id", "empty id");
    else if (!id_cell(row, "instrument_id", id))
      ;  // reported
    else if (!ids.insert(id, static_cast<std::uint32_t>(t.size())))
      row.fail("instrument_id", "duplicate id " + quote_input(id));

    instrument_kind kind = instrument_kind::spot;
    bool kind_ok = true;
    if (kind_text == "spot")
      kind = instrument_kind::spot;
    else if (kind_text == "perpetual")
      kind = instrument_kind::perpetual;
    else if (kind_text == "future")
      kind = instrument_kind::future;
    else if (kind_text == "option")
      kind = instrument_kind::option;
    else {
      kind_ok = false;
      row.fail("kind", quote_input(kind_text) + " is not one of spot, perpetual, future, option");
    }

    std::uint32_t u = 0;
    if (auto it = symbols.find(under); it != symbols.end())
      u = it->second;
    else if (id_cell(row, "underlying", under))
      row.fail("underlying", quote_input(under) + " is not an underlying in market.json");

    double multiplier = 1.0;
    if (!csv.field(c_mult).empty() &&
        number_cell(row, csv.field(c_mult), "multiplier", multiplier) && !(multiplier > 0.0))
      row.fail("multiplier", "must be > 0, got " + std::string(csv.field(c_mult)));
    else if (multiplier > max_multiplier)
      row.fail("multiplier", "must be at most 1e9, got " + std::string(csv.field(c_mult)));

    double strike = 0.0;
    std::int64_t expiry = 0;
    bool is_call = false;
    const bool dated = kind == instrument_kind::future || kind == instrument_kind::option;
    if (kind_ok && kind == instrument_kind::option) {
      if (strike_text.empty())
        row.fail("strike", "required for options");
      else if (number_cell(row, strike_text, "strike", strike) &&
               !(strike > 0.0 && strike <= max_price))
        row.fail("strike", "must be > 0 and at most 1e12, got " + std::string(strike_text));
      if (type_text == "call")
        is_call = true;
      else if (type_text != "put")
        row.fail("option_type", type_text.empty()
                                    ? std::string("required for options (call or put)")
                                    : quote_input(type_text) + " is not call or put");
    } else if (kind_ok) {
      if (!strike_text.empty())
        row.fail("strike", "must be empty for kind " + quote_input(kind_text));
      if (!type_text.empty())
        row.fail("option_type", "must be empty for kind " + quote_input(kind_text));
    }
    if (kind_ok && dated) {
      if (expiry_text.empty())
        row.fail("expiry", "required for futures and options");
      else if (std::string why = parse_timestamp(expiry_text, expiry); !why.empty())
        row.fail("expiry", why);
    } else if (kind_ok && !expiry_text.empty()) {
      row.fail("expiry", "must be empty for kind " + quote_input(kind_text));
    }

    t.id.push_back(std::string(id));
    t.kind.push_back(kind);
    t.is_call.push_back(is_call ? 1 : 0);
    t.underlying.push_back(u);
    t.strike.push_back(strike);
    t.multiplier.push_back(multiplier);
    t.expiry_ns.push_back(expiry);
  }
  return true;
}

// One part of accounts.csv as read by one thread; the book's account columns are the parts'
// rows in order.
struct account_part {
  std::vector<std::string_view> id;
  std::vector<std::uint8_t> id_checked;  // non-empty text: an account id to index (else reported)
  std::vector<long> line;
  std::vector<double> collateral;
  std::vector<std::uint32_t> tier;
};

struct account_columns {
  int id, collateral, tier;
};

// Reads one part of accounts.csv. Whether an id repeats an earlier one is known only once every
// part is read: `duplicate_lines` (sorted) holds the lines of the rows found to repeat one, empty
// on the first reading.
void read_account_part(csv_records& rows, const account_columns& c, const risk_params& risk,
                       const std::vector<long>& duplicate_lines, account_part& out,
                       problem_list& problems) {
  out = account_part{};
  out.id.reserve(rows.lines());
  out.id_checked.reserve(rows.lines());
  out.line.reserve(rows.lines());
  out.collateral.reserve(rows.lines());
  out.tier.reserve(rows.lines());
  const int standard = risk.tier_index("standard");
  while (rows.next(problems)) {
    const row_context row{rows.file_name(), rows.line(), problems};
    const std::string_view id = rows.field(c.id);
    bool checked = false;
    if (id.empty())
      row.fail("account_id", "empty id");
    else if (!id_cell(row, "account_id", id))
      ;  // reported
    else
      checked = true;
    if (checked && std::binary_search(duplicate_lines.begin(), duplicate_lines.end(), row.line))
      row.fail("account_id", "duplicate id " + quote_input(id));
    double collateral = 0.0;
    const std::string_view collateral_text = rows.field(c.collateral);
    if (number_cell(row, collateral_text, "collateral", collateral) &&
        std::fabs(collateral) > max_money)
      row.fail("collateral", "must be within [-1e15, 1e15], got " + std::string(collateral_text));
    const std::string_view tier_text = rows.field(c.tier);
    int tier = standard;
    if (!tier_text.empty()) tier = risk.tier_index(std::string(tier_text));
    if (tier < 0 && id_cell(row, "tier", tier_text))
      row.fail("tier", tier_text.empty()
                           ? std::string("empty, and risk.json defines no 'standard' tier")
                           : quote_input(tier_text) + " is not a tier in risk.json");
    out.id.push_back(id);
    out.id_checked.push_back(checked ? 1 : 0);
    out.line.push_back(row.line);
    out.collateral.push_back(collateral);
    out.tier.push_back(static_cast<std::uint32_t>(tier < 0 ? 0 : tier));
  }
}

// Maps each account id to its row, in file order; returns the lines of the rows whose id an
// earlier row already has (in file order, so sorted).
std::vector<long> index_account_ids(const std::vector<account_part>& parts, id_map& ids) {
  std::size_t rows = 0;
  for (const account_part& p : parts) rows += p.id.size();
  ids = id_index{};
  ids.reserve(rows);
  std::vector<long> duplicate_lines;
  std::uint32_t row = 0;
  for (const account_part& p : parts)
    for (std::size_t r = 0; r < p.id.size(); ++r, ++row)
      if (p.id_checked[r] && !ids.insert(p.id[r], row)) duplicate_lines.push_back(p.line[r]);
  return duplicate_lines;
}

bool read_accounts(csv_reader& csv, const risk_params& risk, std::size_t part_count, book& b,
                   id_map& ids, std::vector<csv_records>& cursors, problem_list& problems) {
  const account_columns c{csv.require("account_id", problems), csv.require("collateral", problems),
                          csv.column("tier")};
  if (c.id < 0 || c.collateral < 0) return false;

  std::vector<account_part> parts(part_count);
  std::vector<long> duplicate_lines;
  problem_list found;
  const auto read_all = [&] {
    found = problem_list{};
    cursors = read_csv_in_parts(
        csv, part_count,
        [&](csv_records& rows, std::size_t k, problem_list& part_problems) {
          read_account_part(rows, c, risk, duplicate_lines, parts[k], part_problems);
        },
        found);
  };
  read_all();
  // Duplicates are found across parts; rare, so the file is then read again to report each in
  // its place among the row's problems. The ids are indexed again: the map views the new cursors.
  duplicate_lines = index_account_ids(parts, ids);
  if (!duplicate_lines.empty()) {
    read_all();
    index_account_ids(parts, ids);
  }
  problems.append(std::move(found));

  std::size_t accounts = 0, characters = 0;
  for (const account_part& p : parts) {
    accounts += p.id.size();
    for (std::string_view id : p.id) characters += id.size();
  }
  b.account_id.reserve(accounts, characters);
  b.collateral.resize(accounts);
  b.account_tier.resize(accounts);
  std::size_t at = 0;
  for (const account_part& p : parts) {
    for (std::string_view id : p.id) b.account_id.push_back(id);
    std::copy(p.collateral.begin(), p.collateral.end(), b.collateral.data() + at);
    std::copy(p.tier.begin(), p.tier.end(), b.account_tier.data() + at);
    at += p.id.size();
  }
  // Nothing to margin is a mistake (an empty export, the wrong file), not a result to report.
  if (b.account_id.empty()) problems.add(csv.file_name(), 0, "", "no accounts");
  return true;
}

// The rows of one part of positions.csv that passed every check, in file order.
struct position_part {
  std::vector<std::uint32_t> account, instrument;
  std::vector<double> quantity, entry;
};

struct position_columns {
  int account, instrument, quantity, entry;
};

// What position rows are checked against. `accounts_known` / `instruments_known`: whether those
// files were readable; when one was not, its problem is already reported and references to it are
// not reported again row by row.
struct position_references {
  const book& b;
  const id_map& accounts;
  bool accounts_known;
  const id_map& instruments;
  bool instruments_known;
};

void read_position_part(csv_records& rows, const position_columns& c,
                        const position_references& refs, position_part& out,
                        problem_list& problems) {
  out = position_part{};
  out.account.reserve(rows.lines());
  out.instrument.reserve(rows.lines());
  out.quantity.reserve(rows.lines());
  out.entry.reserve(rows.lines());
  // Rows of one account usually follow each other, and accounts come in the order of
  // accounts.csv: each lookup starts from the last account found.
  std::size_t near_account = 0;
  while (rows.next(problems)) {
    const row_context row{rows.file_name(), rows.line(), problems};
    const std::string_view account = rows.field(c.account);
    const std::string_view instrument = rows.field(c.instrument);
    std::uint32_t a = 0, i = 0;
    bool ok = true;
    if (const std::uint32_t* found = refs.accounts.find_from(account, near_account)) {
      a = *found;
    } else {
      ok = false;
      if (refs.accounts_known && id_cell(row, "account_id", account))
        row.fail("account_id", quote_input(account) + " is not an account in accounts.csv");
    }
    if (const std::uint32_t* found = refs.instruments.find(instrument))
      i = *found;
    else {
      ok = false;
      if (refs.instruments_known && id_cell(row, "instrument_id", instrument))
        row.fail("instrument_id",
                 quote_input(instrument) + " is not an instrument in instruments.csv");
    }
    double quantity = 0.0, entry = 0.0;
    const std::string_view quantity_text = rows.field(c.quantity);
    const bool quantity_read = number_cell(row, quantity_text, "quantity", quantity);
    if (quantity_read && std::fabs(quantity) > max_quantity)
      row.fail("quantity", "must be within [-1e12, 1e12], got " + std::string(quantity_text));
    ok = ok && quantity_read && std::fabs(quantity) <= max_quantity;
    if (ok) {
      const instrument_kind k = refs.b.instruments.kind[i];
      if (k == instrument_kind::perpetual || k == instrument_kind::future) {
        const std::string_view entry_text = rows.field(c.entry);
        if (entry_text.empty()) {
          row.fail("entry_price", "required for perpetuals and futures");
          ok = false;
        } else if (number_cell(row, entry_text, "entry_price", entry) &&
                   !(entry > 0.0 && entry <= max_price)) {
          row.fail("entry_price", "must be > 0 and at most 1e12, got " + std::string(entry_text));
          ok = false;
        }
      }
    }
    if (!ok) continue;
    out.account.push_back(a);
    out.instrument.push_back(i);
    out.quantity.push_back(quantity);
    out.entry.push_back(entry);
  }
}

std::vector<position_part> read_positions(csv_reader& csv, const position_references& refs,
                                          std::size_t part_count, std::vector<csv_records>& cursors,
                                          problem_list& problems) {
  const position_columns c{csv.require("account_id", problems),
                           csv.require("instrument_id", problems),
                           csv.require("quantity", problems), csv.column("entry_price")};
  if (c.account < 0 || c.instrument < 0 || c.quantity < 0) return {};
  std::vector<position_part> parts(part_count);
  cursors = read_csv_in_parts(
      csv, part_count,
      [&](csv_records& rows, std::size_t k, problem_list& part_problems) {
        read_position_part(rows, c, refs, parts[k], part_problems);
      },
      problems);
  return parts;
}

// The position rows grouped by account, each account's sorted by instrument rank (below), file
// order kept among equal ranks; and each account's numbers of positions (distinct ranks) and
// exposures (distinct underlyings).
struct rows_by_account {
  std::vector<std::uint64_t> begin;  // account a's rows: [begin[a], begin[a + 1])
  // Written whole by the grouping threads: not zeroed first (uninitialized_vector.hpp).
  uninitialized_vector<std::uint32_t> rank;
  uninitialized_vector<double> quantity, entry;
  std::vector<std::uint64_t> positions, exposures;  // of account a at a + 1; [0] = 0
};

// Sorts one account's rows [first, first + count) by rank, stably (the row's place breaks ties),
// and counts its positions and exposures. `keys`, `quantity`, `entry`: the thread's scratch.
void sort_account(rows_by_account& g, std::size_t a,
                  const std::vector<std::uint32_t>& rank_underlying,
                  std::vector<std::uint64_t>& keys, std::vector<double>& quantity,
                  std::vector<double>& entry) {
  const std::uint64_t first = g.begin[a], count = g.begin[a + 1] - first;
  MSYNC_EXPECTS(count < (std::uint64_t{1} << 32), "an account with 2^32 position rows");
  bool sorted = true;
  for (std::uint64_t r = 1; r < count && sorted; ++r)
    sorted = g.rank[first + r - 1] <= g.rank[first + r];
  if (!sorted) {
    keys.resize(count);
    for (std::uint64_t r = 0; r < count; ++r)
      keys[r] = (std::uint64_t{g.rank[first + r]} << 32) | r;
    std::sort(keys.begin(), keys.end());
    quantity.assign(g.quantity.begin() + first, g.quantity.begin() + first + count);
    entry.assign(g.entry.begin() + first, g.entry.begin() + first + count);
    for (std::uint64_t r = 0; r < count; ++r) {
      const auto from = static_cast<std::uint32_t>(keys[r]);
      g.rank[first + r] = static_cast<std::uint32_t>(keys[r] >> 32);
      g.quantity[first + r] = quantity[from];
      g.entry[first + r] = entry[from];
    }
  }
  std::uint64_t positions = 0, exposures = 0;
  for (std::uint64_t r = first; r < first + count; ++r) {
    if (r == first || g.rank[r] != g.rank[r - 1]) ++positions;
    if (r == first || rank_underlying[g.rank[r]] != rank_underlying[g.rank[r - 1]]) ++exposures;
  }
  g.positions[a + 1] = positions;
  g.exposures[a + 1] = exposures;
}

// A stable counting sort of the rows by account (accounts are dense indices), then each account
// sorted on its own. Each thread takes a range of accounts: it reads every row's account but
// counts, moves and sorts only the rows of its own.
rows_by_account group_by_account(std::vector<position_part>& parts, std::size_t accounts,
                                 const std::vector<std::uint32_t>& rank,
                                 const std::vector<std::uint32_t>& rank_underlying) {
  rows_by_account g;
  g.begin.assign(accounts + 1, 0);
  g.positions.assign(accounts + 1, 0);
  g.exposures.assign(accounts + 1, 0);
  std::vector<std::uint64_t> range_base;
  cpu::omp_guard guard;
#pragma omp parallel
  {
    const auto threads = static_cast<std::size_t>(omp_get_num_threads());
    const auto t = static_cast<std::size_t>(omp_get_thread_num());
    const std::size_t lo = accounts * t / threads, hi = accounts * (t + 1) / threads;
    const auto mine = [&](std::uint32_t a) { return a >= lo && a < hi; };
    // Rows per account of the range, then their running sum from 0 at the range's start.
    for (const position_part& p : parts)
      for (std::uint32_t a : p.account)
        if (mine(a)) ++g.begin[a + 1];
    for (std::size_t a = lo + 1; a < hi; ++a) g.begin[a + 1] += g.begin[a];
#pragma omp barrier
#pragma omp single
    guard.run([&] {
      range_base.assign(threads + 1, 0);
      for (std::size_t k = 0; k < threads; ++k) {
        const std::size_t k_hi = accounts * (k + 1) / threads, k_lo = accounts * k / threads;
        range_base[k + 1] = range_base[k] + (k_hi > k_lo ? g.begin[k_hi] : 0);
      }
      g.rank.resize(range_base[threads]);
      g.quantity.resize(range_base[threads]);
      g.entry.resize(range_base[threads]);
    });
    // (the end of `single` waits for every thread)
    if (!guard.failed()) {
      for (std::size_t a = lo; a < hi; ++a) g.begin[a + 1] += range_base[t];
    }
#pragma omp barrier
    std::vector<std::uint64_t> keys;
    std::vector<double> quantity, entry;
    guard.run([&] {
      std::vector<std::uint64_t> next(g.begin.begin() + static_cast<std::ptrdiff_t>(lo),
                                      g.begin.begin() + static_cast<std::ptrdiff_t>(hi));
      for (const position_part& p : parts)
        for (std::size_t r = 0; r < p.account.size(); ++r) {
          const std::uint32_t a = p.account[r];
          if (!mine(a)) continue;
          const std::uint64_t to = next[a - lo]++;
          g.rank[to] = rank[p.instrument[r]];
          g.quantity[to] = p.quantity[r];
          g.entry[to] = p.entry[r];
        }
      for (std::size_t a = lo; a < hi; ++a)
        sort_account(g, a, rank_underlying, keys, quantity, entry);
    });
  }
  guard.rethrow();
  std::partial_sum(g.positions.begin(), g.positions.end(), g.positions.begin());
  std::partial_sum(g.exposures.begin(), g.exposures.end(), g.exposures.begin());
  return g;
}

// Sorts the position rows by (account, underlying, instrument), merges rows of the same (account,
// instrument) and builds the CSR offsets. Rows of one position are summed in file order. Accounts
// are independent: each is sorted and counted on its own (group_by_account), then all write their
// positions and exposures at their offsets, on every thread.
void build_layout(std::vector<position_part>& parts, book& b) {
  const instrument_table& t = b.instruments;
  // rank: instruments ordered by (underlying, input order), so one number sorts an account's rows.
  std::vector<std::uint32_t> by_rank(t.size());
  std::iota(by_rank.begin(), by_rank.end(), 0u);
  std::stable_sort(by_rank.begin(), by_rank.end(), [&](std::uint32_t x, std::uint32_t y) {
    return t.underlying[x] < t.underlying[y];
  });
  std::vector<std::uint32_t> rank(t.size()), rank_underlying(t.size());
  for (std::uint32_t r = 0; r < by_rank.size(); ++r) {
    rank[by_rank[r]] = r;
    rank_underlying[r] = t.underlying[by_rank[r]];
  }

  const std::size_t accounts = b.accounts();
  rows_by_account g = group_by_account(parts, accounts, rank, rank_underlying);
  parts.clear();  // the rows are all in g now
  const auto n = static_cast<std::int64_t>(accounts);
  const std::vector<std::uint64_t>& positions = g.positions;
  const std::vector<std::uint64_t>& exposures = g.exposures;

  // Pass 2: every account's positions and exposures at its offsets. The arrays are not zeroed
  // first: every element is written below (one position, one exposure at a time).
  b.account_position_begin.resize(accounts + 1);
  b.account_exposure_begin.resize(accounts + 1);
  std::copy(positions.begin(), positions.end(), b.account_position_begin.data());
  std::copy(exposures.begin(), exposures.end(), b.account_exposure_begin.data());
  b.position_instrument.resize_for_overwrite(positions[accounts]);
  b.position_quantity.resize_for_overwrite(positions[accounts]);
  b.position_cost.resize_for_overwrite(positions[accounts]);
  b.exposure_underlying.resize_for_overwrite(exposures[accounts]);
  b.exposure_position_begin.resize_for_overwrite(exposures[accounts] + 1);
  std::uint32_t* const instrument_out = b.position_instrument.data();
  double* const quantity_out = b.position_quantity.data();
  double* const cost_out = b.position_cost.data();
  std::uint32_t* const underlying_out = b.exposure_underlying.data();
  std::uint64_t* const exposure_begin_out = b.exposure_position_begin.data();
#pragma omp parallel for schedule(dynamic, 4096)
  for (std::int64_t a = 0; a < n; ++a) {
    std::uint64_t p = positions[a], x = exposures[a];
    const std::uint64_t last = g.begin[a + 1];
    for (std::uint64_t r = g.begin[a]; r < last;) {
      const std::uint32_t instrument = by_rank[g.rank[r]];
      const std::uint32_t underlying = t.underlying[instrument];
      if (x == exposures[a] || underlying_out[x - 1] != underlying) {
        underlying_out[x] = underlying;
        exposure_begin_out[x] = p;
        ++x;
      }
      const bool marked_to_entry = t.kind[instrument] == instrument_kind::perpetual ||
                                   t.kind[instrument] == instrument_kind::future;
      double quantity = 0.0, cost = 0.0;
      const std::uint32_t key = g.rank[r];
      for (; r < last && g.rank[r] == key; ++r) {
        quantity += g.quantity[r];
        if (marked_to_entry) cost += g.quantity[r] * g.entry[r];
      }
      instrument_out[p] = instrument;
      quantity_out[p] = quantity;
      cost_out[p] = cost;
      ++p;
    }
  }
  exposure_begin_out[exposures[accounts]] = positions[accounts];
  b.position_rows = g.begin[accounts];
}

}  // namespace

book_paths book_paths::in_directory(const std::filesystem::path& dir) {
  book_paths p{dir / "instruments.csv", dir / "accounts.csv", dir / "positions.csv",
               dir / "market.json", dir / "risk.json"};
  // marks.csv is optional: read when the directory has an entry of that name (a directory or a
  // broken link there is then reported like any unreadable input, never skipped).
  std::error_code ec;
  if (std::filesystem::symlink_status(dir / "marks.csv", ec).type() !=
      std::filesystem::file_type::not_found)
    p.marks = dir / "marks.csv";
  return p;
}

book load_book(const book_paths& paths, const market_state& market, const risk_params& risk,
               problem_list& problems, std::size_t parts) {
  if (parts == 0) parts = default_csv_parts();
  book b;
  // The readers and cursors own the text that the id maps point into: they live to the end.
  csv_reader instruments_csv, accounts_csv, positions_csv;
  std::vector<csv_records> account_rows, position_rows;
  id_map instrument_ids, account_ids;
  const bool instruments_known =
      instruments_csv.open(paths.instruments, problems) &&
      read_instruments(instruments_csv, market, b, instrument_ids, problems);
  const bool accounts_known =
      accounts_csv.open(paths.accounts, problems) &&
      read_accounts(accounts_csv, risk, parts, b, account_ids, account_rows, problems);
  std::vector<position_part> rows;
  if (positions_csv.open(paths.positions, problems))
    rows = read_positions(positions_csv,
                          {b, account_ids, accounts_known, instrument_ids, instruments_known},
                          parts, position_rows, problems);
  if (problems.empty()) build_layout(rows, b);
  return b;
}

book_paths book_location::directory_paths() const {
  book_paths p = book_paths::in_directory(book);
  if (instruments) p.instruments = *instruments;
  if (accounts) p.accounts = *accounts;
  if (positions) p.positions = *positions;
  if (market) p.market = *market;
  if (risk) p.risk = *risk;
  if (marks) p.marks = *marks;
  return p;
}

namespace {
book_inputs load_book_or_snapshot(const book_location& location, const book_part_picker& pick) {
  const std::string name = location.book.string();
  if (std::filesystem::is_directory(location.book)) {
    book_inputs in = load_book_inputs(location.directory_paths());
    if (pick) in.positions = slice_accounts(in.positions, pick(in));
    return in;
  }
  if (!std::filesystem::exists(location.book))
    throw input_error({input_problem{name, 0, "", "no such book directory or snapshot file"}});
  if (!is_book_snapshot(location.book))
    throw input_error(
        {input_problem{name, 0, "", "neither a book directory nor a marginsync snapshot"}});
  if (location.instruments || location.accounts || location.positions)
    throw input_error({input_problem{name, 0, "",
                                     "a snapshot's instruments, accounts and positions "
                                     "cannot be replaced: convert the changed book again"}});
  return read_book_snapshot_part(location.book, location.market, location.risk, location.marks,
                                 pick);
}
}  // namespace

book_inputs load_book_at(const book_location& location, const book_part_picker& pick) {
  book_inputs in = load_book_or_snapshot(location, pick);
  if (location.depth) {
    problem_list problems;
    load_depth_file(*location.depth, in.market, in.risk, problems);
    problems.throw_if_any();
  }
  return in;
}

book_inputs load_book_inputs(const book_paths& paths) {
  problem_list problems;
  book_inputs in;
  in.market = load_market(paths.market, problems);
  in.risk = load_risk(paths.risk, problems);
  if (problems.empty())
    if (std::string why = scenario_cells_problem(in.market.size(), in.risk.scenarios); !why.empty())
      problems.add(paths.risk.string(), 0, "scenarios", why);
  // Instruments and accounts are checked against market and risk; with those broken, their
  // messages would only repeat the same cause.
  problems.throw_if_any();
  in.positions = load_book(paths, in.market, in.risk, problems);
  // marks.csv refers to the instruments: with the book's files broken its messages would only
  // repeat the same cause.
  problems.throw_if_any();
  if (paths.marks) load_marks(*paths.marks, in.positions.instruments, in.market, problems);
  problems.throw_if_any();
  return in;
}

}  // namespace msync
