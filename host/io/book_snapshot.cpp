#include "io/book_snapshot.hpp"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <unordered_map>
#include <unordered_set>

#include "io/id_rules.hpp"
#include "io/json_locator.hpp"
#include "io/number_parse.hpp"
#include "io/output_files.hpp"
#include "marginsync/errors.hpp"

namespace msync {

namespace {

constexpr char magic[8] = {'M', 'S', 'Y', 'N', 'C', 'B', 'K', '\x01'};
// 2: a marks.csv section after risk.json (docs/design.md 12.1).
constexpr std::uint32_t format_version = 2;
constexpr std::uint32_t byte_order_mark = 0x01020304u;

// ---- writing -------------------------------------------------------------------------------

class section_writer {
 public:
  explicit section_writer(atomic_file& out) : out_(out) {}
  void raw(const void* data, std::size_t bytes) {
    out_.write(static_cast<const char*>(data), bytes);
  }
  void section(const void* data, std::size_t bytes) {
    const std::uint64_t length = bytes;
    raw(&length, sizeof length);
    if (bytes) raw(data, bytes);
    static const char zeros[8] = {};
    if (bytes % 8) raw(zeros, 8 - bytes % 8);
  }
  template <class Array>
  void array(const Array& v) {
    section(v.data(), v.size() * sizeof(typename Array::value_type));
  }
  void text(const std::string& s) { section(s.data(), s.size()); }
  // u64 count, u64 offsets[count + 1], then the characters.
  void strings(const std::vector<std::string>& list) {
    std::vector<std::uint64_t> head(list.size() + 2);
    head[0] = list.size();
    std::uint64_t total = 0;
    for (std::size_t i = 0; i < list.size(); ++i) {
      head[i + 1] = total;
      total += list[i].size();
    }
    head[list.size() + 1] = total;
    std::string chars;
    chars.reserve(total);
    for (const std::string& s : list) chars += s;
    std::vector<char> bytes(head.size() * sizeof(std::uint64_t) + chars.size());
    std::memcpy(bytes.data(), head.data(), head.size() * sizeof(std::uint64_t));
    std::memcpy(bytes.data() + head.size() * sizeof(std::uint64_t), chars.data(), chars.size());
    section(bytes.data(), bytes.size());
  }

 private:
  atomic_file& out_;
};

// ---- reading -------------------------------------------------------------------------------

class section_reader {
 public:
  section_reader(const std::vector<char>& bytes, std::string file)
      : bytes_(bytes), file_(std::move(file)) {}

  [[noreturn]] void fail(const std::string& what) const {
    throw input_error(
        {input_problem{file_, 0, "", "not a valid marginsync book snapshot: " + what}});
  }
  void expect(bool ok, const std::string& what) const {
    if (!ok) fail(what);
  }

  void header() {
    expect(bytes_.size() >= 16 && std::memcmp(bytes_.data(), magic, sizeof magic) == 0,
           "missing the MSYNCBK header");
    std::uint32_t version, order;
    std::memcpy(&version, bytes_.data() + 8, 4);
    std::memcpy(&order, bytes_.data() + 12, 4);
    expect(order == byte_order_mark, "written on a machine of the other byte order");
    expect(version == format_version,
           "format version " + std::to_string(version) + " (written by " +
               (version < format_version ? "an older" : "a newer") +
               " marginsync), this marginsync reads version " + std::to_string(format_version) +
               ": convert the book again from its directory");
    pos_ = 16;
  }

  // The next section's bytes.
  std::pair<const char*, std::size_t> section(const char* name) {
    expect(pos_ + 8 <= bytes_.size(), std::string("truncated before section '") + name + "'");
    std::uint64_t length;
    std::memcpy(&length, bytes_.data() + pos_, 8);
    pos_ += 8;
    expect(length <= bytes_.size() - pos_, std::string("truncated in section '") + name + "'");
    const char* data = bytes_.data() + pos_;
    pos_ += static_cast<std::size_t>((length + 7) / 8 * 8);
    expect(pos_ <= bytes_.size(), std::string("truncated padding after '") + name + "'");
    return {data, static_cast<std::size_t>(length)};
  }

  template <class T>
  std::vector<T> array(const char* name, std::optional<std::size_t> count = std::nullopt) {
    auto [data, length] = section(name);
    expect(length % sizeof(T) == 0, std::string("section '") + name + "' has a partial element");
    std::vector<T> v(length / sizeof(T));
    if (length) std::memcpy(v.data(), data, length);
    if (count)
      expect(v.size() == *count, std::string("section '") + name + "' has " +
                                     std::to_string(v.size()) + " elements, expected " +
                                     std::to_string(*count));
    return v;
  }

  std::string text(const char* name) {
    auto [data, length] = section(name);
    return std::string(data, length);
  }

  std::vector<std::string> strings(const char* name) {
    auto [data, length] = section(name);
    expect(length >= 16, std::string("section '") + name + "' is too short");
    std::uint64_t count;
    std::memcpy(&count, data, 8);
    expect(count <= (length - 16) / 8, std::string("section '") + name + "' has a bad count");
    const std::size_t n = static_cast<std::size_t>(count);
    std::vector<std::uint64_t> offsets(n + 1);
    std::memcpy(offsets.data(), data + 8, (n + 1) * 8);
    const char* chars = data + 8 * (n + 2);
    const std::size_t available = length - 8 * (n + 2);
    // Every offset checked before any string is built: none may point past the characters.
    expect(offsets[0] == 0 && offsets[n] == available,
           std::string("section '") + name + "' has bad offsets");
    for (std::size_t i = 0; i < n; ++i)
      expect(offsets[i] <= offsets[i + 1], std::string("section '") + name + "' has bad offsets");
    std::vector<std::string> out;
    out.reserve(n);
    for (std::size_t i = 0; i < n; ++i)
      out.emplace_back(chars + offsets[i], offsets[i + 1] - offsets[i]);
    return out;
  }

  bool at_end() const { return pos_ >= bytes_.size(); }

 private:
  const std::vector<char>& bytes_;
  std::string file_;
  std::size_t pos_ = 0;
};

// Every value finite and within +-limit.
bool bounded(const column<double>& v, double limit) {
  for (double x : v)
    if (!(std::fabs(x) <= limit)) return false;
  return true;
}

bool unique(const std::vector<std::string>& ids) {
  std::unordered_set<std::string_view> seen;
  seen.reserve(ids.size());
  for (const std::string& id : ids)
    if (!seen.insert(id).second) return false;
  return true;
}

// Every id non-empty and text by the rule of every reader (io/id_rules.hpp).
bool ids_are_text(const std::vector<std::string>& ids) {
  for (const std::string& id : ids)
    if (id.empty() || !id_text_problem(id).empty()) return false;
  return true;
}

// Offsets must start at 0, never decrease and end at `total`.
bool valid_offsets(const column<std::uint64_t>& v, std::uint64_t total) {
  if (v.empty() || v.front() != 0 || v.back() != total) return false;
  for (std::size_t i = 1; i < v.size(); ++i)
    if (v[i] < v[i - 1]) return false;
  return true;
}

}  // namespace

void write_book_snapshot(const book_inputs& in, const std::string& market_json,
                         const std::string& risk_json, const std::filesystem::path& file,
                         const std::string& marks_csv) {
  const book& b = in.positions;
  std::vector<std::string> tiers;
  for (const tier& t : in.risk.tiers) tiers.push_back(t.name);
  std::vector<std::uint8_t> kinds(b.instruments.size());
  for (std::size_t i = 0; i < kinds.size(); ++i)
    kinds[i] = static_cast<std::uint8_t>(b.instruments.kind[i]);

  atomic_file out(file);  // complete or absent: written under a temporary name, then renamed
  {
    section_writer w(out);
    w.raw(magic, sizeof magic);
    w.raw(&format_version, 4);
    w.raw(&byte_order_mark, 4);
    w.text(market_json);
    w.text(risk_json);
    w.text(marks_csv);
    w.strings(in.market.symbols);
    w.strings(tiers);
    w.strings(b.instruments.id);
    w.array(kinds);
    w.array(b.instruments.is_call);
    w.array(b.instruments.underlying);
    w.array(b.instruments.strike);
    w.array(b.instruments.multiplier);
    w.array(b.instruments.expiry_ns);
    w.strings(b.account_id);
    w.array(b.collateral);
    w.array(b.account_tier);
    w.array(b.position_instrument);
    w.array(b.position_quantity);
    w.array(b.position_cost);
    w.array(b.account_position_begin);
    w.array(b.account_exposure_begin);
    w.array(b.exposure_underlying);
    w.array(b.exposure_position_begin);
    w.array(std::vector<std::uint64_t>{b.position_rows});
  }
  out.commit();
}

book_inputs convert_book_directory(const book_paths& paths, const std::filesystem::path& file) {
  book_inputs in = load_book_inputs(paths);
  problem_list problems;
  const auto market = read_text_file(paths.market, problems);
  const auto risk = read_text_file(paths.risk, problems);
  std::optional<std::string> marks = std::string();  // none: an empty section
  if (paths.marks) marks = read_text_file(*paths.marks, problems);
  problems.throw_if_any();
  write_book_snapshot(in, *market, *risk, file, *marks);
  return in;
}

bool is_book_snapshot(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  char head[sizeof magic] = {};
  return in.read(head, sizeof head) && std::memcmp(head, magic, sizeof magic) == 0;
}

book_inputs read_book_snapshot(const std::filesystem::path& file,
                               const std::optional<std::filesystem::path>& market_file,
                               const std::optional<std::filesystem::path>& risk_file,
                               const std::optional<std::filesystem::path>& marks_file) {
  const std::string name = file.string();
  std::vector<char> bytes;
  {
    std::ifstream in(file, std::ios::binary | std::ios::ate);
    if (!in)
      throw input_error({input_problem{
          name, 0, "", std::filesystem::exists(file) ? "cannot be read" : "file not found"}});
    bytes.resize(static_cast<std::size_t>(in.tellg()));
    in.seekg(0);
    in.read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!in) throw input_error({input_problem{name, 0, "", "cannot be read"}});
  }
  section_reader r(bytes, name);
  r.header();

  // Market and risk: the snapshot's copies unless the command line names files.
  problem_list problems;
  book_inputs in;
  const std::string market_text = r.text("market.json");
  const std::string risk_text = r.text("risk.json");
  std::string marks_text = r.text("marks.csv");  // empty: the book had no marks.csv
  in.market = market_file ? load_market(*market_file, problems)
                          : load_market_text(market_text, name + ":market.json", problems);
  in.risk = risk_file ? load_risk(*risk_file, problems)
                      : load_risk_text(risk_text, name + ":risk.json", problems);
  if (problems.empty())
    if (std::string why = scenario_cells_problem(in.market.size(), in.risk.scenarios); !why.empty())
      problems.add(risk_file ? risk_file->string() : name + ":risk.json", 0, "scenarios", why);
  problems.throw_if_any();

  const std::vector<std::string> symbols = r.strings("symbols");
  const std::vector<std::string> tiers = r.strings("tiers");
  book& b = in.positions;
  instrument_table& t = b.instruments;
  t.id = r.strings("instrument ids");
  const std::size_t n_ins = t.id.size();
  const std::vector<std::uint8_t> kinds = r.array<std::uint8_t>("instrument kinds", n_ins);
  t.is_call = r.array<std::uint8_t>("option types", n_ins);
  t.underlying = r.array<std::uint32_t>("instrument underlyings", n_ins);
  t.strike = r.array<double>("strikes", n_ins);
  t.multiplier = r.array<double>("multipliers", n_ins);
  t.expiry_ns = r.array<std::int64_t>("expiries", n_ins);
  b.account_id = r.strings("account ids");
  const std::size_t n_acc = b.account_id.size();
  if (n_acc == 0) throw input_error({input_problem{name, 0, "", "no accounts"}});
  b.collateral = r.array<double>("collateral", n_acc);
  b.account_tier = r.array<std::uint32_t>("account tiers", n_acc);
  b.position_instrument = r.array<std::uint32_t>("position instruments");
  const std::size_t n_pos = b.position_instrument.size();
  b.position_quantity = r.array<double>("quantities", n_pos);
  b.position_cost = r.array<double>("costs", n_pos);
  b.account_position_begin = r.array<std::uint64_t>("account position offsets", n_acc + 1);
  b.account_exposure_begin = r.array<std::uint64_t>("account exposure offsets", n_acc + 1);
  b.exposure_underlying = r.array<std::uint32_t>("exposure underlyings");
  const std::size_t n_exp = b.exposure_underlying.size();
  b.exposure_position_begin = r.array<std::uint64_t>("exposure position offsets", n_exp + 1);
  b.position_rows = r.array<std::uint64_t>("position rows", 1)[0];
  r.expect(r.at_end(), "unexpected bytes after the last section");

  // Structure: the invariants every backend relies on.
  r.expect(valid_offsets(b.account_position_begin, n_pos),
           "account position offsets are inconsistent");
  r.expect(valid_offsets(b.account_exposure_begin, n_exp),
           "account exposure offsets are inconsistent");
  r.expect(valid_offsets(b.exposure_position_begin, n_pos),
           "exposure position offsets are inconsistent");
  for (std::size_t a = 0; a < n_acc; ++a) {
    const std::uint64_t x0 = b.account_exposure_begin[a], x1 = b.account_exposure_begin[a + 1];
    r.expect(b.exposure_position_begin[x0] == b.account_position_begin[a] &&
                 b.exposure_position_begin[x1] == b.account_position_begin[a + 1],
             "exposures do not tile their account's positions");
  }
  // Values: the limits the CSV loader enforces (merged positions may sum many rows).
  for (std::size_t i = 0; i < n_ins; ++i) {
    r.expect(kinds[i] <= static_cast<std::uint8_t>(instrument_kind::option),
             "an instrument kind is unknown");
    r.expect(t.is_call[i] <= 1, "an option type is neither call nor put");
    r.expect(t.underlying[i] < symbols.size(), "an instrument's underlying index is out of range");
    r.expect(t.multiplier[i] > 0.0 && t.multiplier[i] <= max_multiplier,
             "a multiplier is out of range");
    if (kinds[i] == static_cast<std::uint8_t>(instrument_kind::option))
      r.expect(t.strike[i] > 0.0 && t.strike[i] <= max_price, "an option strike is out of range");
    if (kinds[i] >= static_cast<std::uint8_t>(instrument_kind::future))
      r.expect(t.expiry_ns[i] >= earliest_timestamp_ms * 1'000'000 &&
                   t.expiry_ns[i] < latest_timestamp_ms * 1'000'000,
               "an expiry is outside the supported years 1900 to 2149");
  }
  r.expect(bounded(b.collateral, max_money), "a collateral is out of range");
  // Merged positions sum rows, so their bounds are wider than one row's (any real book is far
  // inside; every product stays finite).
  r.expect(bounded(b.position_quantity, 1e6 * max_quantity) &&
               bounded(b.position_cost, 1e6 * max_quantity * max_price),
           "a quantity or entry cost is out of range");
  r.expect(ids_are_text(t.id) && ids_are_text(b.account_id) && ids_are_text(symbols) &&
               ids_are_text(tiers),
           "an id is empty, not valid UTF-8 or holds a control character");
  r.expect(unique(t.id), "an instrument id appears twice");
  r.expect(unique(b.account_id), "an account id appears twice");
  // The CSV loader counts every row it merges.
  r.expect(b.position_rows >= n_pos, "fewer position rows than positions");
  t.kind.resize(n_ins);
  for (std::size_t i = 0; i < n_ins; ++i) t.kind[i] = static_cast<instrument_kind>(kinds[i]);

  // Underlyings by name into the market in force. Positions are sorted by underlying index, so the
  // mapping must keep the snapshot's order (new underlyings may be added anywhere).
  std::unordered_map<std::string, std::uint32_t> market_index;
  for (std::size_t u = 0; u < in.market.size(); ++u)
    market_index.emplace(in.market.symbols[u], static_cast<std::uint32_t>(u));
  std::vector<std::uint32_t> to_market(symbols.size());
  for (std::size_t u = 0; u < symbols.size(); ++u) {
    auto it = market_index.find(symbols[u]);
    if (it == market_index.end())
      problems.add(name, 0, "",
                   "underlying '" + symbols[u] + "' of the snapshot is not in the market data");
    else
      to_market[u] = it->second;
    if (u > 0 && it != market_index.end() && to_market[u] < to_market[u - 1])
      problems.add(name, 0, "",
                   "the market data lists the snapshot's underlyings in another order ('" +
                       symbols[u] + "' before '" + symbols[u - 1] + "'): convert the book again");
  }
  problems.throw_if_any();
  for (std::uint32_t& u : t.underlying) u = to_market[u];
  for (std::size_t x = 0; x < n_exp; ++x) {
    r.expect(b.exposure_underlying[x] < symbols.size(),
             "an exposure's underlying index is out of range");
    b.exposure_underlying[x] = to_market[b.exposure_underlying[x]];
  }
  // Layout: within an account, exposures non-empty and in increasing underlying order (one per
  // underlying); within an exposure, positions of that underlying in increasing instrument order
  // (one per instrument), as the CSV loader builds them.
  for (std::size_t a = 0; a < n_acc; ++a)
    for (std::uint64_t x = b.account_exposure_begin[a]; x < b.account_exposure_begin[a + 1]; ++x) {
      r.expect(b.exposure_position_begin[x] < b.exposure_position_begin[x + 1],
               "an exposure holds no position");
      r.expect(x == b.account_exposure_begin[a] ||
                   b.exposure_underlying[x - 1] < b.exposure_underlying[x],
               "an account's exposures are not in increasing underlying order");
      for (std::uint64_t p = b.exposure_position_begin[x]; p < b.exposure_position_begin[x + 1];
           ++p) {
        r.expect(b.position_instrument[p] < n_ins, "a position's instrument index is out of range");
        r.expect(t.underlying[b.position_instrument[p]] == b.exposure_underlying[x],
                 "a position is filed under another underlying's exposure");
        r.expect(p == b.exposure_position_begin[x] ||
                     b.position_instrument[p - 1] < b.position_instrument[p],
                 "an exposure's positions are not in increasing instrument order");
        const instrument_kind kind = t.kind[b.position_instrument[p]];
        r.expect(b.position_cost[p] == 0.0 || kind == instrument_kind::perpetual ||
                     kind == instrument_kind::future,
                 "a spot or option position carries an entry cost");
      }
    }

  // Tiers by name into the risk configuration in force.
  std::vector<std::uint32_t> to_tier(tiers.size());
  for (std::size_t k = 0; k < tiers.size(); ++k) {
    const int index = in.risk.tier_index(tiers[k]);
    if (index < 0)
      problems.add(name, 0, "",
                   "tier '" + tiers[k] + "' of the snapshot is not in the risk configuration");
    to_tier[k] = static_cast<std::uint32_t>(index < 0 ? 0 : index);
  }
  problems.throw_if_any();
  for (std::uint32_t& k : b.account_tier) {
    r.expect(k < tiers.size(), "an account's tier index is out of range");
    k = to_tier[k];
  }

  // Marks by instrument id, from --marks-file or the snapshot's copy.
  if (marks_file)
    load_marks(*marks_file, t, in.market, problems);
  else if (!marks_text.empty())
    load_marks_text(std::move(marks_text), name + ":marks.csv", t, in.market, problems);
  problems.throw_if_any();
  return in;
}

}  // namespace msync
