#include "io/book_snapshot.hpp"

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <functional>
#include <memory>
#include <string_view>
#include <unordered_map>

#include "cpu/omp_guard.hpp"
#include "cpu/risk_order.hpp"
#include "io/id_rules.hpp"
#include "io/json_locator.hpp"
#include "io/mapped_file.hpp"
#include "io/number_parse.hpp"
#include "io/output_files.hpp"
#include "marginsync/book_slice.hpp"
#include "marginsync/errors.hpp"

namespace msync {

namespace {

constexpr char magic[8] = {'M', 'S', 'Y', 'N', 'C', 'B', 'K', '\x01'};
// 2: a marks.csv section after risk.json. 3: the header and every section on 64-byte boundaries,
// so that the arrays are used where they lie in the mapped file (docs/design.md 12.1).
constexpr std::uint32_t format_version = 3;
constexpr std::uint32_t byte_order_mark = 0x01020304u;
// The header and each section's length take one block; every section's bytes start on a block (a
// cache line, the width of an AVX-512 load) and are padded to a whole number of blocks.
constexpr std::size_t block = 64;

std::size_t whole_blocks(std::uint64_t bytes) {
  return static_cast<std::size_t>((bytes + block - 1) / block * block);
}

// ---- writing -------------------------------------------------------------------------------

class section_writer {
 public:
  using sink = std::function<void(const char*, std::size_t)>;
  explicit section_writer(sink out) : out_(std::move(out)) {}
  void raw(const void* data, std::size_t bytes) { out_(static_cast<const char*>(data), bytes); }
  void header() {
    char head[block] = {};
    std::memcpy(head, magic, sizeof magic);
    std::memcpy(head + 8, &format_version, 4);
    std::memcpy(head + 12, &byte_order_mark, 4);
    raw(head, sizeof head);
  }
  void section(const void* data, std::size_t bytes) {
    static const char zeros[block] = {};
    const std::uint64_t length = bytes;
    raw(&length, sizeof length);
    raw(zeros, block - sizeof length);
    if (bytes) raw(data, bytes);
    if (bytes % block) raw(zeros, block - bytes % block);
  }
  template <class Array>
  void array(const Array& v) {
    section(v.data(), v.size() * sizeof(typename Array::value_type));
  }
  void text(const std::string& s) { section(s.data(), s.size()); }
  // u64 count, u64 offsets[count + 1], then the characters.
  template <class List>
  void strings(const List& list) {
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
    for (std::string_view s : list) chars += s;
    std::vector<char> bytes(head.size() * sizeof(std::uint64_t) + chars.size());
    std::memcpy(bytes.data(), head.data(), head.size() * sizeof(std::uint64_t));
    std::memcpy(bytes.data() + head.size() * sizeof(std::uint64_t), chars.data(), chars.size());
    section(bytes.data(), bytes.size());
  }

 private:
  sink out_;
};

// ---- reading -------------------------------------------------------------------------------

using msync_os::mapped_file;

// The snapshot mapped (io/mapped_file.hpp), or input_error naming the file.
std::shared_ptr<const mapped_file> map_snapshot(const std::filesystem::path& file,
                                                bool populate = true) {
  int error = 0;
  std::shared_ptr<const mapped_file> mapped =
      mapped_file::map(file.string(), error, mapped_file::access::copy_on_write, populate);
  if (!mapped)
    throw input_error({input_problem{file.string(), 0, "",
                                     error == ENOENT ? "file not found" : "cannot be read"}});
  return mapped;
}

// A list of strings where it lies in the file: u64 count, u64 offsets[count + 1], characters.
struct string_table {
  std::size_t count = 0;
  const std::uint64_t* offsets = nullptr;
  const char* chars = nullptr;

  std::size_t size() const noexcept { return count; }
  std::string_view operator[](std::size_t i) const noexcept {
    return {chars + offsets[i], static_cast<std::size_t>(offsets[i + 1] - offsets[i])};
  }
  std::vector<std::string> to_strings() const;
};

// The first problem a serial loop over [0, n) would meet. `check(begin, end)` returns the first
// problem of its range (nullptr: none); ranges run on every core, and the problem of the lowest
// range that has one is the serial loop's. Small n runs as one range.
template <class Check>
const char* first_problem(std::size_t n, const Check& check) {
  const std::size_t ranges =
      n < (1u << 16) ? 1 : 8 * static_cast<std::size_t>(omp_get_max_threads());
  std::vector<const char*> found(ranges, nullptr);
  cpu::omp_guard guard;  // id_text_problem allocates its reason
#pragma omp parallel for schedule(dynamic, 1) if (ranges > 1)
  for (std::int64_t r = 0; r < static_cast<std::int64_t>(ranges); ++r)
    guard.run([&] { found[r] = check(n * r / ranges, n * (r + 1) / ranges); });
  guard.rethrow();
  for (const char* why : found)
    if (why) return why;
  return nullptr;
}

std::vector<std::string> string_table::to_strings() const {
  std::vector<std::string> out(count);
  cpu::omp_guard guard;  // an id longer than the small-string buffer allocates
#pragma omp parallel for schedule(static) if (count >= (1u << 16))
  for (std::int64_t i = 0; i < static_cast<std::int64_t>(count); ++i)
    guard.run([&] { out[i].assign((*this)[i]); });
  guard.rethrow();
  return out;
}

class section_reader {
 public:
  section_reader(std::shared_ptr<const mapped_file> file, std::string name)
      : file_(std::move(file)),
        bytes_(file_->data()),
        size_(file_->size()),
        name_(std::move(name)) {}

  [[noreturn]] void fail(const std::string& what) const {
    throw input_error(
        {input_problem{name_, 0, "", "not a valid marginsync book snapshot: " + what}});
  }
  void expect(bool ok, const std::string& what) const {
    if (!ok) fail(what);
  }
  void expect_none(const char* problem) const {
    if (problem) fail(problem);
  }

  void header() {
    expect(size_ >= 16 && std::memcmp(bytes_, magic, sizeof magic) == 0,
           "missing the MSYNCBK header");
    std::uint32_t version, order;
    std::memcpy(&version, bytes_ + 8, 4);
    std::memcpy(&order, bytes_ + 12, 4);
    expect(order == byte_order_mark, "written on a machine of the other byte order");
    expect(version == format_version,
           "format version " + std::to_string(version) + " (written by " +
               (version < format_version ? "an older" : "a newer") +
               " marginsync), this marginsync reads version " + std::to_string(format_version) +
               ": convert the book again from its directory");
    expect(size_ >= block, "truncated in the header");
    pos_ = block;
  }

  // The next section's bytes: a block holding its u64 length, then the bytes from the next block.
  std::pair<char*, std::size_t> section(const char* name) {
    expect(pos_ + block <= size_, std::string("truncated before section '") + name + "'");
    std::uint64_t length;
    std::memcpy(&length, bytes_ + pos_, 8);
    pos_ += block;
    expect(length <= size_ - pos_, std::string("truncated in section '") + name + "'");
    char* data = bytes_ + pos_;
    pos_ += whole_blocks(length);
    expect(pos_ <= size_, std::string("truncated padding after '") + name + "'");
    return {data, static_cast<std::size_t>(length)};
  }

  // The section's elements in place (every section starts on a block, so they are aligned).
  template <class T>
  column<T> array(const char* name, std::optional<std::size_t> count = std::nullopt) {
    auto [data, length] = section(name);
    expect(length % sizeof(T) == 0, std::string("section '") + name + "' has a partial element");
    const std::size_t n = length / sizeof(T);
    if (count)
      expect(n == *count, std::string("section '") + name + "' has " + std::to_string(n) +
                              " elements, expected " + std::to_string(*count));
    return column<T>::view(reinterpret_cast<T*>(data), n, file_);
  }

  std::string text(const char* name) {
    auto [data, length] = section(name);
    return std::string(data, length);
  }

  // Every offset is checked before any string is read: none may point past the characters.
  string_table strings(const char* name) {
    auto [data, length] = section(name);
    expect(length >= 16, std::string("section '") + name + "' is too short");
    std::uint64_t count;
    std::memcpy(&count, data, 8);
    expect(count <= (length - 16) / 8, std::string("section '") + name + "' has a bad count");
    string_table t;
    t.count = static_cast<std::size_t>(count);
    t.offsets = reinterpret_cast<const std::uint64_t*>(data + 8);
    t.chars = data + 8 * (t.count + 2);
    const std::size_t available = length - 8 * (t.count + 2);
    const std::uint64_t* offsets = t.offsets;
    const bool ordered = !first_problem(t.count, [&](std::size_t begin, std::size_t end) {
      for (std::size_t i = begin; i < end; ++i)
        if (offsets[i] > offsets[i + 1]) return "decreasing";
      return static_cast<const char*>(nullptr);
    });
    expect(offsets[0] == 0 && offsets[t.count] == available && ordered,
           std::string("section '") + name + "' has bad offsets");
    return t;
  }

  bool at_end() const { return pos_ >= size_; }
  // A checked string table's ids where they lie, kept alive by the mapping.
  string_column ids_in_place(const string_table& t) const {
    return string_column::view(const_cast<std::uint64_t*>(t.offsets), const_cast<char*>(t.chars),
                               t.count, file_);
  }

 private:
  std::shared_ptr<const mapped_file> file_;
  char* bytes_;
  std::size_t size_;
  std::string name_;
  std::size_t pos_ = 0;
};

// Every value finite and within +-limit.
const char* unbounded(const column<double>& v, double limit, const char* problem) {
  return first_problem(v.size(), [&](std::size_t begin, std::size_t end) -> const char* {
    bool ok = true;
    for (std::size_t i = begin; i < end; ++i) ok &= std::fabs(v[i]) <= limit;  // NaN: false
    return ok ? nullptr : problem;
  });
}

// Whether the ids are pairwise different, in O(n) with no allocation per id. Each id's 64-bit hash
// goes, by its top bits, into one of many parts small enough for the cache; each part is checked on
// its own with an open-addressing table (linear probing, at most half full) of positions in the
// part, and only ids of equal hash are compared. Parts are independent, so they run on every core.
// Hand-written: std::unordered_set allocates a node per id and one table for a million ids misses
// the cache on every insert; a well-kept flat table (abseil, not a dependency here) does the same.
bool unique(const string_table& ids) {
  const std::size_t n = ids.size();
  if (n < 2) return true;
  int part_bits = 0;  // about 4,096 ids a part
  while (part_bits < 16 && (n >> part_bits) > 4096) ++part_bits;
  const std::size_t parts = std::size_t{1} << part_bits;
  const auto part_of = [&](std::uint64_t h) {
    return part_bits ? static_cast<std::size_t>(h >> (64 - part_bits)) : 0;
  };
  std::vector<std::uint64_t> hash(n);
  first_problem(n, [&](std::size_t begin, std::size_t end) {  // as a parallel loop: no problem
    const std::hash<std::string_view> h;
    for (std::size_t i = begin; i < end; ++i) hash[i] = h(ids[i]);
    return static_cast<const char*>(nullptr);
  });
  // Counting sort by part: each part's hashes and indices contiguous.
  std::vector<std::size_t> first(parts + 1, 0);
  for (std::uint64_t h : hash) ++first[part_of(h) + 1];
  for (std::size_t k = 0; k < parts; ++k) first[k + 1] += first[k];
  std::vector<std::uint64_t> part_hash(n);
  std::vector<std::uint32_t> part_index(n);
  {
    std::vector<std::size_t> next(first.begin(), first.end() - 1);
    for (std::size_t i = 0; i < n; ++i) {
      const std::size_t at = next[part_of(hash[i])]++;
      part_hash[at] = hash[i];
      part_index[at] = static_cast<std::uint32_t>(i);
    }
  }
  std::atomic<bool> repeated{false};
  cpu::omp_guard guard;  // each thread's table
#pragma omp parallel if (n >= (1u << 16))
  {
    std::vector<std::uint32_t> table;  // 0: empty, else a position in the part + 1
    guard.run([&] { table.reserve(4 * 4096); });
#pragma omp for schedule(dynamic, 16)
    for (std::int64_t k = 0; k < static_cast<std::int64_t>(parts); ++k)
      guard.run([&] {
        const std::size_t begin = first[k], count = first[k + 1] - begin;
        std::size_t slots = 2;
        while (slots < 2 * count) slots *= 2;
        table.assign(slots, 0);
        for (std::size_t j = 0; j < count && !repeated.load(std::memory_order_relaxed); ++j) {
          const std::uint64_t h = part_hash[begin + j];
          for (std::size_t s = h & (slots - 1);; s = (s + 1) & (slots - 1)) {
            const std::uint32_t held = table[s];
            if (held == 0) {
              table[s] = static_cast<std::uint32_t>(j + 1);
              break;
            }
            if (part_hash[begin + held - 1] == h &&
                ids[part_index[begin + held - 1]] == ids[part_index[begin + j]]) {
              repeated.store(true, std::memory_order_relaxed);
              break;
            }
          }
        }
      });
  }
  guard.rethrow();
  return !repeated.load();
}

// Every id non-empty and text by the rule of every reader (io/id_rules.hpp). When every byte of the
// table is printable ASCII, each id is text; otherwise every id is checked on its own (a UTF-8
// sequence must not be read across two ids).
bool ids_are_text(const string_table& ids) {
  const char* problem = "no";
  const std::size_t chars = ids.size() ? ids.offsets[ids.size()] : 0;
  const bool ascii = !first_problem(chars, [&](std::size_t begin, std::size_t end) -> const char* {
    bool printable = true;
    for (std::size_t i = begin; i < end; ++i) {
      const auto c = static_cast<unsigned char>(ids.chars[i]);
      printable &= c >= 0x20 && c < 0x7f;
    }
    return printable ? nullptr : problem;
  });
  return !first_problem(ids.size(), [&](std::size_t begin, std::size_t end) -> const char* {
    for (std::size_t i = begin; i < end; ++i)
      if (ids[i].empty() || (!ascii && !id_text_problem(ids[i]).empty())) return problem;
    return nullptr;
  });
}

// Offsets must start at 0, never decrease and end at `total`.
const char* offsets_problem(const column<std::uint64_t>& v, std::uint64_t total,
                            const char* problem) {
  if (v.empty() || v.front() != 0 || v.back() != total) return problem;
  return first_problem(v.size() - 1, [&](std::size_t begin, std::size_t end) -> const char* {
    for (std::size_t i = begin; i < end; ++i)
      if (v[i + 1] < v[i]) return problem;
    return nullptr;
  });
}

// Whether map[k] == k for every k (then nothing needs renumbering).
bool identity(const std::vector<std::uint32_t>& map) {
  for (std::size_t k = 0; k < map.size(); ++k)
    if (map[k] != k) return false;
  return true;
}

// The snapshot's bytes, in order, into `sink`.
void write_sections(const book_inputs& in, const std::string& market_json,
                    const std::string& risk_json, const std::string& marks_csv,
                    section_writer::sink sink) {
  const book& b = in.positions;
  std::vector<std::string> tiers;
  for (const tier& t : in.risk.tiers) tiers.push_back(t.name);
  std::vector<std::uint8_t> kinds(b.instruments.size());
  for (std::size_t i = 0; i < kinds.size(); ++i)
    kinds[i] = static_cast<std::uint8_t>(b.instruments.kind[i]);

  {
    section_writer w(std::move(sink));
    w.header();
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
}

}  // namespace

void write_book_snapshot(const book_inputs& in, const std::string& market_json,
                         const std::string& risk_json, const std::filesystem::path& file,
                         const std::string& marks_csv) {
  atomic_file out(file);  // complete or absent: written under a temporary name, then renamed
  write_sections(in, market_json, risk_json, marks_csv,
                 [&](const char* data, std::size_t n) { out.write(data, n); });
  out.commit();
}

std::string book_snapshot_bytes(const book_inputs& in, const std::string& market_json,
                                const std::string& risk_json, const std::string& marks_csv) {
  std::string bytes;
  write_sections(in, market_json, risk_json, marks_csv,
                 [&](const char* data, std::size_t n) { bytes.append(data, n); });
  return bytes;
}

book_texts read_book_texts(const book_paths& paths) {
  problem_list problems;
  const auto market = read_text_file(paths.market, problems);
  const auto risk = read_text_file(paths.risk, problems);
  std::optional<std::string> marks = std::string();  // none: an empty section
  if (paths.marks) marks = read_text_file(*paths.marks, problems);
  problems.throw_if_any();
  return {*market, *risk, *marks};
}

book_inputs convert_book_directory(const book_paths& paths, const std::filesystem::path& file,
                                   account_order order) {
  book_inputs in = load_book_inputs(paths);
  if (order == account_order::risk) {
    const std::uint64_t rows = in.positions.position_rows;
    in.positions = gather_accounts(in.positions,
                                   cpu::accounts_in_risk_order(in.positions.account_exposure_begin,
                                                               in.positions.exposure_underlying));
    in.positions.position_rows = rows;  // the same rows, whatever the accounts' order
  }
  const book_texts texts = read_book_texts(paths);
  write_book_snapshot(in, texts.market, texts.risk, file, texts.marks);
  return in;
}

bool is_book_snapshot(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  char head[sizeof magic] = {};
  return in.read(head, sizeof head) && std::memcmp(head, magic, sizeof magic) == 0;
}

namespace {
// The reading of a mapped snapshot named `name` in problems (read_book_snapshot_part).
book_inputs read_mapped_snapshot(std::shared_ptr<const mapped_file> mapped, const std::string& name,
                                 const std::optional<std::filesystem::path>& market_file,
                                 const std::optional<std::filesystem::path>& risk_file,
                                 const std::optional<std::filesystem::path>& marks_file,
                                 const book_part_picker& pick);
}  // namespace

book_inputs read_book_snapshot(const std::filesystem::path& file,
                               const std::optional<std::filesystem::path>& market_file,
                               const std::optional<std::filesystem::path>& risk_file,
                               const std::optional<std::filesystem::path>& marks_file) {
  return read_book_snapshot_part(file, market_file, risk_file, marks_file, {});
}

book_inputs read_book_snapshot_part(const std::filesystem::path& file,
                                    const std::optional<std::filesystem::path>& market_file,
                                    const std::optional<std::filesystem::path>& risk_file,
                                    const std::optional<std::filesystem::path>& marks_file,
                                    const book_part_picker& pick) {
  // A part is read where it lies: pages mapped as they are first read.
  return read_mapped_snapshot(map_snapshot(file, !pick), file.string(), market_file, risk_file,
                              marks_file, pick);
}

book_inputs read_book_snapshot_bytes(const std::string& bytes, const std::string& name) {
  int error = 0;
  std::shared_ptr<const mapped_file> mapped = mapped_file::of_bytes(bytes, error);
  if (!mapped) throw std::runtime_error(name + ": cannot hold the book: " + std::strerror(error));
  return read_mapped_snapshot(std::move(mapped), name, std::nullopt, std::nullopt, std::nullopt,
                              {});
}

namespace {

book_inputs read_mapped_snapshot(std::shared_ptr<const mapped_file> mapped, const std::string& name,
                                 const std::optional<std::filesystem::path>& market_file,
                                 const std::optional<std::filesystem::path>& risk_file,
                                 const std::optional<std::filesystem::path>& marks_file,
                                 const book_part_picker& pick) {
  section_reader r(std::move(mapped), name);
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

  // The arrays stay where they lie in the mapped file (views); only the ids are copied out, after
  // every check.
  const string_table symbol_table = r.strings("symbols");
  const string_table tier_table = r.strings("tiers");
  book& b = in.positions;
  instrument_table& t = b.instruments;
  const string_table instrument_ids = r.strings("instrument ids");
  const std::size_t n_ins = instrument_ids.size();
  const column<std::uint8_t> kinds = r.array<std::uint8_t>("instrument kinds", n_ins);
  t.is_call = r.array<std::uint8_t>("option types", n_ins);
  t.underlying = r.array<std::uint32_t>("instrument underlyings", n_ins);
  t.strike = r.array<double>("strikes", n_ins);
  t.multiplier = r.array<double>("multipliers", n_ins);
  t.expiry_ns = r.array<std::int64_t>("expiries", n_ins);
  const string_table account_ids = r.strings("account ids");
  const std::size_t n_acc = account_ids.size();
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

  // Structure: the invariants every backend relies on. Each check over accounts or positions runs
  // on every core and reports what a serial loop would report first (first_problem).
  r.expect_none(offsets_problem(b.account_position_begin, n_pos,
                                "account position offsets are inconsistent"));
  r.expect_none(offsets_problem(b.account_exposure_begin, n_exp,
                                "account exposure offsets are inconsistent"));
  r.expect_none(offsets_problem(b.exposure_position_begin, n_pos,
                                "exposure position offsets are inconsistent"));
  r.expect_none(first_problem(n_acc, [&](std::size_t begin, std::size_t end) -> const char* {
    for (std::size_t a = begin; a < end; ++a) {
      const std::uint64_t x0 = b.account_exposure_begin[a], x1 = b.account_exposure_begin[a + 1];
      if (b.exposure_position_begin[x0] != b.account_position_begin[a] ||
          b.exposure_position_begin[x1] != b.account_position_begin[a + 1])
        return "exposures do not tile their account's positions";
    }
    return nullptr;
  }));
  // Values: the limits the CSV loader enforces (merged positions may sum many rows).
  for (std::size_t i = 0; i < n_ins; ++i) {
    r.expect(kinds[i] <= static_cast<std::uint8_t>(instrument_kind::option),
             "an instrument kind is unknown");
    r.expect(t.is_call[i] <= 1, "an option type is neither call nor put");
    r.expect(t.underlying[i] < symbol_table.size(),
             "an instrument's underlying index is out of range");
    r.expect(t.multiplier[i] > 0.0 && t.multiplier[i] <= max_multiplier,
             "a multiplier is out of range");
    if (kinds[i] == static_cast<std::uint8_t>(instrument_kind::option))
      r.expect(t.strike[i] > 0.0 && t.strike[i] <= max_price, "an option strike is out of range");
    if (kinds[i] >= static_cast<std::uint8_t>(instrument_kind::future))
      r.expect(t.expiry_ns[i] >= earliest_timestamp_ms * 1'000'000 &&
                   t.expiry_ns[i] < latest_timestamp_ms * 1'000'000,
               "an expiry is outside the supported years 1900 to 2149");
  }
  r.expect_none(unbounded(b.collateral, max_money, "a collateral is out of range"));
  // Merged positions sum rows, so their bounds are wider than one row's (any real book is far
  // inside; every product stays finite).
  const char* const wide = "a quantity or entry cost is out of range";
  const auto check_position_values = [&] {
    r.expect_none(unbounded(b.position_quantity, 1e6 * max_quantity, wide));
    r.expect_none(unbounded(b.position_cost, 1e6 * max_quantity * max_price, wide));
  };
  if (!pick) check_position_values();  // a part's, once it is read
  r.expect(ids_are_text(instrument_ids) && ids_are_text(account_ids) &&
               ids_are_text(symbol_table) && ids_are_text(tier_table),
           "an id is empty, not valid UTF-8 or holds a control character");
  r.expect(unique(instrument_ids), "an instrument id appears twice");
  r.expect(unique(account_ids), "an account id appears twice");
  // The CSV loader counts every row it merges.
  r.expect(b.position_rows >= n_pos, "fewer position rows than positions");
  t.kind.resize(n_ins);
  for (std::size_t i = 0; i < n_ins; ++i) t.kind[i] = static_cast<instrument_kind>(kinds[i]);
  const std::vector<std::string> symbols = symbol_table.to_strings();
  const std::vector<std::string> tiers = tier_table.to_strings();

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
  // Renumbered only when the market in force numbers them otherwise: a write to a view copies its
  // pages.
  const bool same_underlyings = identity(to_market);
  if (!same_underlyings)
    for (std::uint32_t& u : t.underlying) u = to_market[u];
  r.expect_none(first_problem(n_exp, [&](std::size_t begin, std::size_t end) -> const char* {
    for (std::size_t x = begin; x < end; ++x)
      if (b.exposure_underlying[x] >= symbols.size())
        return "an exposure's underlying index is out of range";
    return nullptr;
  }));
  if (!same_underlyings)
    for (std::uint32_t& u : b.exposure_underlying) u = to_market[u];
  // Layout: within an account, exposures non-empty and in increasing underlying order (one per
  // underlying); within an exposure, positions of that underlying in increasing instrument order
  // (one per instrument), as the CSV loader builds them. layout_problem is the rule, account by
  // account; layout_holds checks the same without a branch per exposure or position (exposures
  // hold one or two positions, so the nested loops' branches are mostly mispredicted), and only a
  // range it finds broken goes through layout_problem for the reason.
  std::vector<std::uint8_t> may_cost(n_ins);  // whether instrument i's positions carry a cost
  for (std::size_t i = 0; i < n_ins; ++i)
    may_cost[i] = t.kind[i] == instrument_kind::perpetual || t.kind[i] == instrument_kind::future;
  const auto layout_problem = [&](std::size_t begin, std::size_t end) -> const char* {
    for (std::size_t a = begin; a < end; ++a)
      for (std::uint64_t x = b.account_exposure_begin[a]; x < b.account_exposure_begin[a + 1];
           ++x) {
        if (b.exposure_position_begin[x] >= b.exposure_position_begin[x + 1])
          return "an exposure holds no position";
        if (x != b.account_exposure_begin[a] &&
            b.exposure_underlying[x - 1] >= b.exposure_underlying[x])
          return "an account's exposures are not in increasing underlying order";
        for (std::uint64_t p = b.exposure_position_begin[x]; p < b.exposure_position_begin[x + 1];
             ++p) {
          const std::uint32_t i = b.position_instrument[p];
          if (i >= n_ins) return "a position's instrument index is out of range";
          if (t.underlying[i] != b.exposure_underlying[x])
            return "a position is filed under another underlying's exposure";
          if (p != b.exposure_position_begin[x] && b.position_instrument[p - 1] >= i)
            return "an exposure's positions are not in increasing instrument order";
          if (b.position_cost[p] != 0.0 && !may_cost[i])
            return "a spot or option position carries an entry cost";
        }
      }
    return nullptr;
  };
  // The same rule over accounts [begin, end), flat: an exposure is the first of its account, and a
  // position the first of its exposure, exactly where an offset says so (the offsets were checked
  // above), and a position that is not the first of its exposure has its predecessor's underlying,
  // so every position has the first one's, which must be the exposure's.
  const auto layout_holds = [&](std::size_t begin, std::size_t end) {
    const std::uint64_t x0 = b.account_exposure_begin[begin], x1 = b.account_exposure_begin[end];
    const std::uint64_t p0 = b.account_position_begin[begin], p1 = b.account_position_begin[end];
    std::vector<std::uint8_t> first_exposure(x1 - x0, 0), first_position(p1 - p0, 0);
    for (std::size_t a = begin; a < end; ++a)
      if (b.account_exposure_begin[a] < x1) first_exposure[b.account_exposure_begin[a] - x0] = 1;
    bool broken = false;
    for (std::uint64_t x = x0; x < x1; ++x) {
      const std::uint64_t from = b.exposure_position_begin[x],
                          to = b.exposure_position_begin[x + 1];
      broken |= from >= to;
      if (from < p1) first_position[from - p0] = 1;
      if (x > x0)
        broken |= (first_exposure[x - x0] == 0) &
                  (b.exposure_underlying[x - 1] >= b.exposure_underlying[x]);
    }
    if (broken) return false;
    if (n_ins == 0) return p1 == p0;  // any position's instrument is out of range
    for (std::uint64_t x = x0; x < x1; ++x) {
      const std::uint32_t i = b.position_instrument[b.exposure_position_begin[x]];
      broken |= i >= n_ins || t.underlying[i] != b.exposure_underlying[x];
    }
    for (std::uint64_t p = p0; p < p1; ++p) {
      const std::uint32_t raw = b.position_instrument[p];
      const std::uint32_t i = raw < n_ins ? raw : 0;
      broken |= (raw >= n_ins) | ((b.position_cost[p] != 0.0) & !may_cost[i]);
      if (p > p0) {
        const std::uint32_t before = b.position_instrument[p - 1];
        const std::uint32_t h = before < n_ins ? before : 0;
        broken |= (first_position[p - p0] == 0) &
                  ((before >= raw) | (t.underlying[h] != t.underlying[i]));
      }
    }
    return !broken;
  };
  const auto check_layout = [&] {
    const std::size_t accounts = pick ? b.accounts() : n_acc;  // a part's ids are in place by then
    if (first_problem(accounts, [&](std::size_t begin, std::size_t end) {
          return layout_holds(begin, end) ? nullptr : "broken";
        }))
      r.expect_none(first_problem(accounts, layout_problem));
  };
  if (!pick) check_layout();

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
  r.expect_none(first_problem(n_acc, [&](std::size_t begin, std::size_t end) -> const char* {
    for (std::size_t a = begin; a < end; ++a)
      if (b.account_tier[a] >= tiers.size()) return "an account's tier index is out of range";
    return nullptr;
  }));
  if (!identity(to_tier))
    for (std::uint32_t& k : b.account_tier) k = to_tier[k];

  // A part: its accounts copied out (the offsets and underlyings they are cut by are checked
  // above), then their positions checked as the whole book's are.
  if (pick) {
    b.account_id = r.ids_in_place(account_ids);
    b = slice_accounts(b, pick(in));
    check_position_values();
    check_layout();
  }

  // Marks by instrument id, from --marks-file or the snapshot's copy.
  t.id = instrument_ids.to_strings();
  if (marks_file)
    load_marks(*marks_file, t, in.market, problems);
  else if (!marks_text.empty())
    load_marks_text(std::move(marks_text), name + ":marks.csv", t, in.market, problems);
  problems.throw_if_any();
  if (!pick)
    b.account_id = r.ids_in_place(account_ids);  // no copy: a string per id would cost 32 bytes
  return in;
}

}  // namespace

}  // namespace msync
