// instruments.csv, accounts.csv and positions.csv (docs/design.md section 2) into the
// structure-of-arrays book. Ids are mapped to dense indices through hash maps keyed by views into
// the file buffers, so the hot loop over position rows parses with std::from_chars and allocates
// nothing per field.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <unordered_map>

#include "io/book_snapshot.hpp"
#include "io/csv_reader.hpp"
#include "io/id_rules.hpp"
#include "io/load_inputs.hpp"
#include "io/number_parse.hpp"
#include "marginsync/errors.hpp"

namespace msync {

namespace {

using id_map = std::unordered_map<std::string_view, std::uint32_t>;

struct row_context {
  const csv_reader& csv;
  problem_list& problems;
  void fail(std::string_view column, std::string reason) const {
    problems.add(csv.file_name(), csv.line(), std::string(column), std::move(reason));
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
bool number_cell(const row_context& row, int column, std::string_view name, double& out) {
  std::string why = parse_number(row.csv.field(column), out);
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
  const row_context row{csv, problems};
  while (csv.next(problems)) {
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
    else if (!ids.emplace(id, static_cast<std::uint32_t>(t.size())).second)
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
    if (!csv.field(c_mult).empty() && number_cell(row, c_mult, "multiplier", multiplier) &&
        !(multiplier > 0.0))
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
      else if (number_cell(row, c_strike, "strike", strike) &&
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

    t.id.emplace_back(id);
    t.kind.push_back(kind);
    t.is_call.push_back(is_call ? 1 : 0);
    t.underlying.push_back(u);
    t.strike.push_back(strike);
    t.multiplier.push_back(multiplier);
    t.expiry_ns.push_back(expiry);
  }
  return true;
}

bool read_accounts(csv_reader& csv, const risk_params& risk, book& b, id_map& ids,
                   problem_list& problems) {
  const int c_id = csv.require("account_id", problems);
  const int c_collateral = csv.require("collateral", problems);
  const int c_tier = csv.column("tier");
  if (c_id < 0 || c_collateral < 0) return false;
  const int standard = risk.tier_index("standard");
  const row_context row{csv, problems};
  while (csv.next(problems)) {
    const std::string_view id = csv.field(c_id);
    if (id.empty())
      row.fail("account_id", "empty id");
    else if (!id_cell(row, "account_id", id))
      ;  // reported
    else if (!ids.emplace(id, static_cast<std::uint32_t>(b.account_id.size())).second)
      row.fail("account_id", "duplicate id " + quote_input(id));
    double collateral = 0.0;
    if (number_cell(row, c_collateral, "collateral", collateral) &&
        std::fabs(collateral) > max_money)
      row.fail("collateral",
               "must be within [-1e15, 1e15], got " + std::string(csv.field(c_collateral)));
    const std::string_view tier_text = csv.field(c_tier);
    int tier = standard;
    if (!tier_text.empty()) tier = risk.tier_index(std::string(tier_text));
    if (tier < 0 && id_cell(row, "tier", tier_text))
      row.fail("tier", tier_text.empty()
                           ? std::string("empty, and risk.json defines no 'standard' tier")
                           : quote_input(tier_text) + " is not a tier in risk.json");
    b.account_id.emplace_back(id);
    b.collateral.push_back(collateral);
    b.account_tier.push_back(static_cast<std::uint32_t>(tier < 0 ? 0 : tier));
  }
  // Nothing to margin is a mistake (an empty export, the wrong file), not a result to report.
  if (b.account_id.empty()) problems.add(csv.file_name(), 0, "", "no accounts");
  return true;
}

struct position_rows {
  std::vector<std::uint32_t> account, instrument;
  std::vector<double> quantity, entry;
};

// `accounts_known` / `instruments_known`: whether those files were readable; when one was not, its
// problem is already reported and references to it are not reported again row by row.
void read_positions(csv_reader& csv, const book& b, const id_map& accounts, bool accounts_known,
                    const id_map& instruments, bool instruments_known, position_rows& rows,
                    problem_list& problems) {
  const int c_account = csv.require("account_id", problems);
  const int c_instrument = csv.require("instrument_id", problems);
  const int c_quantity = csv.require("quantity", problems);
  const int c_entry = csv.column("entry_price");
  if (c_account < 0 || c_instrument < 0 || c_quantity < 0) return;
  const row_context row{csv, problems};
  while (csv.next(problems)) {
    const std::string_view account = csv.field(c_account);
    const std::string_view instrument = csv.field(c_instrument);
    std::uint32_t a = 0, i = 0;
    bool ok = true;
    if (auto it = accounts.find(account); it != accounts.end())
      a = it->second;
    else {
      ok = false;
      if (accounts_known && id_cell(row, "account_id", account))
        row.fail("account_id", quote_input(account) + " is not an account in accounts.csv");
    }
    if (auto it = instruments.find(instrument); it != instruments.end())
      i = it->second;
    else {
      ok = false;
      if (instruments_known && id_cell(row, "instrument_id", instrument))
        row.fail("instrument_id",
                 quote_input(instrument) + " is not an instrument in instruments.csv");
    }
    double quantity = 0.0, entry = 0.0;
    const bool quantity_read = number_cell(row, c_quantity, "quantity", quantity);
    if (quantity_read && std::fabs(quantity) > max_quantity)
      row.fail("quantity",
               "must be within [-1e12, 1e12], got " + std::string(csv.field(c_quantity)));
    ok = ok && quantity_read && std::fabs(quantity) <= max_quantity;
    if (ok) {
      const instrument_kind k = b.instruments.kind[i];
      if (k == instrument_kind::perpetual || k == instrument_kind::future) {
        if (csv.field(c_entry).empty()) {
          row.fail("entry_price", "required for perpetuals and futures");
          ok = false;
        } else if (number_cell(row, c_entry, "entry_price", entry) &&
                   !(entry > 0.0 && entry <= max_price)) {
          row.fail("entry_price",
                   "must be > 0 and at most 1e12, got " + std::string(csv.field(c_entry)));
          ok = false;
        }
      }
    }
    if (!ok) continue;
    rows.account.push_back(a);
    rows.instrument.push_back(i);
    rows.quantity.push_back(quantity);
    rows.entry.push_back(entry);
  }
}

// Sorts rows by (account, underlying, instrument), merges rows of the same (account, instrument)
// and builds the CSR offsets. Rows of one position are summed in file order.
void build_layout(const position_rows& rows, book& b) {
  const instrument_table& t = b.instruments;
  // rank: instruments ordered by (underlying, input order), so one 64-bit key sorts everything.
  std::vector<std::uint32_t> by_rank(t.size());
  std::iota(by_rank.begin(), by_rank.end(), 0u);
  std::stable_sort(by_rank.begin(), by_rank.end(), [&](std::uint32_t x, std::uint32_t y) {
    return t.underlying[x] < t.underlying[y];
  });
  std::vector<std::uint32_t> rank(t.size());
  for (std::uint32_t r = 0; r < by_rank.size(); ++r) rank[by_rank[r]] = r;

  const std::size_t n = rows.account.size();
  std::vector<std::pair<std::uint64_t, std::uint32_t>> order(n);
  for (std::size_t r = 0; r < n; ++r)
    order[r] = {(static_cast<std::uint64_t>(rows.account[r]) << 32) | rank[rows.instrument[r]],
                static_cast<std::uint32_t>(r)};
  std::sort(order.begin(), order.end());  // ties broken by row index: file order

  const std::size_t accounts = b.accounts();
  b.account_position_begin.assign(accounts + 1, 0);
  b.account_exposure_begin.assign(accounts + 1, 0);
  b.position_instrument.clear();
  b.position_quantity.clear();
  b.position_cost.clear();
  b.exposure_underlying.clear();
  b.exposure_position_begin.clear();

  std::size_t r = 0;
  for (std::size_t a = 0; a < accounts; ++a) {
    b.account_position_begin[a] = b.positions();
    b.account_exposure_begin[a] = b.exposures();
    while (r < n && (order[r].first >> 32) == a) {
      const std::uint32_t instrument = by_rank[static_cast<std::uint32_t>(order[r].first)];
      const std::uint32_t underlying = t.underlying[instrument];
      if (b.exposures() == b.account_exposure_begin[a] ||
          b.exposure_underlying.back() != underlying) {
        b.exposure_underlying.push_back(underlying);
        b.exposure_position_begin.push_back(b.positions());
      }
      const bool marked_to_entry = t.kind[instrument] == instrument_kind::perpetual ||
                                   t.kind[instrument] == instrument_kind::future;
      double quantity = 0.0, cost = 0.0;
      const std::uint64_t key = order[r].first;
      for (; r < n && order[r].first == key; ++r) {
        const std::uint32_t row = order[r].second;
        quantity += rows.quantity[row];
        if (marked_to_entry) cost += rows.quantity[row] * rows.entry[row];
      }
      b.position_instrument.push_back(instrument);
      b.position_quantity.push_back(quantity);
      b.position_cost.push_back(cost);
    }
  }
  b.account_position_begin[accounts] = b.positions();
  b.account_exposure_begin[accounts] = b.exposures();
  b.exposure_position_begin.push_back(b.positions());
  b.position_rows = n;
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
               problem_list& problems) {
  book b;
  // The readers own the file buffers that the id maps point into: they live to the end.
  csv_reader instruments_csv, accounts_csv, positions_csv;
  id_map instrument_ids, account_ids;
  const bool instruments_known =
      instruments_csv.open(paths.instruments, problems) &&
      read_instruments(instruments_csv, market, b, instrument_ids, problems);
  const bool accounts_known = accounts_csv.open(paths.accounts, problems) &&
                              read_accounts(accounts_csv, risk, b, account_ids, problems);
  position_rows rows;
  if (positions_csv.open(paths.positions, problems))
    read_positions(positions_csv, b, account_ids, accounts_known, instrument_ids, instruments_known,
                   rows, problems);
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
book_inputs load_book_or_snapshot(const book_location& location) {
  const std::string name = location.book.string();
  if (std::filesystem::is_directory(location.book))
    return load_book_inputs(location.directory_paths());
  if (!std::filesystem::exists(location.book))
    throw input_error({input_problem{name, 0, "", "no such book directory or snapshot file"}});
  if (!is_book_snapshot(location.book))
    throw input_error(
        {input_problem{name, 0, "", "neither a book directory nor a marginsync snapshot"}});
  if (location.instruments || location.accounts || location.positions)
    throw input_error({input_problem{name, 0, "",
                                     "a snapshot's instruments, accounts and positions "
                                     "cannot be replaced: convert the changed book again"}});
  return read_book_snapshot(location.book, location.market, location.risk, location.marks);
}
}  // namespace

book_inputs load_book_at(const book_location& location) {
  book_inputs in = load_book_or_snapshot(location);
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
