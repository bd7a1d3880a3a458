#include "journal/stream_journal.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>

#include "io/number_parse.hpp"
#include "io/output_files.hpp"
#include "io/sha256.hpp"
#include "marginsync/errors.hpp"

namespace msync {

namespace {

const char* const journal_name = "journal.msj";
const char* const format_name = "marginsync-journal";

std::string error_text(int error) {
  return std::strerror(error);
}

std::array<std::uint32_t, 256> crc_table() {
  std::array<std::uint32_t, 256> t{};
  for (std::uint32_t i = 0; i < 256; ++i) {
    std::uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1u) ? 0xedb88320u ^ (c >> 1) : c >> 1;
    t[i] = c;
  }
  return t;
}

// A double exactly (nlohmann writes the shortest text that reads back to the same double); NaN,
// the stream's "not given", as null.
nlohmann::json number_or_null(double v) {
  return std::isnan(v) ? nlohmann::json(nullptr) : nlohmann::json(v);
}

double number_from(const nlohmann::json& v) {
  return v.is_null() ? NAN : v.get<double>();
}

const char* kind_name(stream_event_kind k) {
  switch (k) {
    case stream_event_kind::price:
      return "price";
    case stream_event_kind::trade:
      return "trade";
    case stream_event_kind::collateral:
      return "collateral";
    case stream_event_kind::mark:
      return "mark";
  }
  return "?";
}

stream_event_kind kind_from(const std::string& name) {
  for (stream_event_kind k : {stream_event_kind::price, stream_event_kind::trade,
                              stream_event_kind::collateral, stream_event_kind::mark})
    if (name == kind_name(k)) return k;
  throw std::invalid_argument("unknown event kind '" + name + "'");
}

// The fields the engine reads for the event's kind (stream_event); the others keep the reader's
// defaults when read back, which the engine does not read.
nlohmann::json event_json(const stream_event& e) {
  nlohmann::json j = {{"kind", kind_name(e.kind)}, {"ts", e.ts_ns}, {"line", e.line}};
  switch (e.kind) {
    case stream_event_kind::price:
      j["underlying"] = e.underlying;
      j["price"] = number_or_null(e.price);
      j["vol"] = number_or_null(e.vol);
      break;
    case stream_event_kind::trade:
      j["account"] = e.account;
      j["instrument"] = e.instrument;
      j["quantity"] = number_or_null(e.quantity);
      j["price"] = number_or_null(e.price);
      break;
    case stream_event_kind::collateral:
      j["account"] = e.account;
      j["amount"] = number_or_null(e.amount);
      break;
    case stream_event_kind::mark:
      j["instrument"] = e.instrument;
      j["price"] = number_or_null(e.price);
      j["vol"] = number_or_null(e.vol);
      break;
  }
  return j;
}

stream_event event_from(const nlohmann::json& j) {
  stream_event e;
  e.kind = kind_from(j.at("kind").get<std::string>());
  e.ts_ns = j.at("ts").get<std::int64_t>();
  e.line = j.at("line").get<long>();
  const auto number = [&](const char* key, double& to) {
    if (j.contains(key)) to = number_from(j[key]);
  };
  if (j.contains("underlying")) e.underlying = j["underlying"].get<std::uint32_t>();
  number("price", e.price);
  number("vol", e.vol);
  number("quantity", e.quantity);
  number("amount", e.amount);
  if (j.contains("account")) e.account = j["account"].get<std::string>();
  if (j.contains("instrument")) e.instrument = j["instrument"].get<std::string>();
  return e;
}

std::string hex8(std::uint32_t v) {
  char s[9];
  std::snprintf(s, sizeof s, "%08x", v);
  return s;
}

// One record's payload, or nothing when the line is not a whole, intact record.
std::optional<std::string> record_payload(const std::string& line) {
  const std::size_t space1 = line.find(' ');
  if (space1 != 8) return std::nullopt;
  const std::size_t space2 = line.find(' ', space1 + 1);
  if (space2 == std::string::npos || space2 == space1 + 1 || space2 - space1 > 11)
    return std::nullopt;
  std::uint64_t length = 0;
  for (std::size_t i = space1 + 1; i < space2; ++i) {
    if (line[i] < '0' || line[i] > '9') return std::nullopt;
    length = length * 10 + static_cast<std::uint64_t>(line[i] - '0');
  }
  std::string payload = line.substr(space2 + 1);
  if (payload.size() != length) return std::nullopt;
  if (hex8(crc32(payload.data(), payload.size())) != line.substr(0, 8)) return std::nullopt;
  return payload;
}

void add_file(sha256& h, const std::string& role, const std::filesystem::path& path) {
  h.update(role);
  h.update(std::string_view("\n", 1));
  h.update(sha256_of_file(path.string()));
  h.update(std::string_view("\n", 1));
}

}  // namespace

std::string engine_parameters(const risk_params& risk) {
  char text[160];
  std::snprintf(text, sizeof text, "method=%s scenarios=%lld seed=%llu confidence=%.17g\n",
                method_name(risk.method), static_cast<long long>(risk.scenarios),
                static_cast<unsigned long long>(risk.seed), risk.confidence);
  return text;
}

std::uint32_t crc32(const void* data, std::size_t n) {
  static const std::array<std::uint32_t, 256> table = crc_table();
  const auto* p = static_cast<const unsigned char*>(data);
  std::uint32_t c = 0xffffffffu;
  for (std::size_t i = 0; i < n; ++i) c = table[(c ^ p[i]) & 0xffu] ^ (c >> 8);
  return c ^ 0xffffffffu;
}

std::string book_identity(const book_location& where, const std::string& engine_parameters) {
  sha256 h;
  h.update(std::string(format_name) + " book identity 1\n");
  std::error_code ec;
  if (std::filesystem::is_directory(where.book, ec)) {
    const book_paths p = where.directory_paths();
    add_file(h, "instruments", p.instruments);
    add_file(h, "accounts", p.accounts);
    add_file(h, "positions", p.positions);
    add_file(h, "market", p.market);
    add_file(h, "risk", p.risk);
    if (p.marks) add_file(h, "marks", *p.marks);
  } else {
    add_file(h, "snapshot", where.book);
    if (where.market) add_file(h, "market", *where.market);
    if (where.risk) add_file(h, "risk", *where.risk);
    if (where.marks) add_file(h, "marks", *where.marks);
  }
  if (where.depth) add_file(h, "depth", *where.depth);
  h.update(engine_parameters);
  return h.hex_digest();
}

stream_journal::stream_journal(const std::filesystem::path& dir, const std::string& identity,
                               const std::function<void(const std::string&)>& warn)
    : file_(dir / journal_name) {
  std::error_code ec;
  const bool dir_existed = std::filesystem::exists(dir, ec);
  if (!dir_existed && !std::filesystem::create_directories(dir, ec))
    throw std::runtime_error("cannot create journal directory " + dir.string() + ": " +
                             ec.message());
  if (!dir_existed) sync_directory(std::filesystem::absolute(dir).parent_path());
  fd_ = ::open(file_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd_ < 0) throw std::runtime_error("cannot open " + file_.string() + ": " + error_text(errno));
  // Two processes appending to one journal would interleave two streams' updates.
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    const int error = errno;
    ::close(fd_);
    throw std::runtime_error(file_.string() + " is in use by another process (" +
                             error_text(error) + ")");
  }
  try {
    read_existing(identity, warn);
    if (bytes_ == 0) {
      // A new journal (or one whose header a crash cut): the header first, then the file's name
      // in its directory on disk, so that a journal that says it holds an update does.
      const auto now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count();
      write_record(nlohmann::json{{"format", format_name},
                                  {"version", journal_format_version},
                                  {"book", identity},
                                  {"created", format_timestamp(now)}}
                       .dump());
      sync_directory(dir);
    }
  } catch (...) {
    ::close(fd_);
    throw;
  }
}

stream_journal::~stream_journal() {
  if (fd_ >= 0) ::close(fd_);  // the lock goes with it
}

void stream_journal::read_existing(const std::string& identity,
                                   const std::function<void(const std::string&)>& warn) {
  std::string text;
  char buf[1 << 16];
  for (;;) {
    const ssize_t n = ::pread(fd_, buf, sizeof buf, static_cast<off_t>(text.size()));
    if (n < 0) {
      if (errno == EINTR) continue;
      throw std::runtime_error("cannot read " + file_.string() + ": " + error_text(errno));
    }
    if (n == 0) break;
    text.append(buf, static_cast<std::size_t>(n));
  }
  const std::string name = file_.string();
  // Whole, intact records from the start; the first that is not ends what can be trusted.
  std::vector<std::string> payloads;
  std::size_t at = 0;
  while (at < text.size()) {
    const std::size_t end = text.find('\n', at);
    if (end == std::string::npos) break;
    std::optional<std::string> payload = record_payload(text.substr(at, end - at));
    if (!payload) break;
    payloads.push_back(std::move(*payload));
    at = end + 1;
  }
  if (at < text.size()) {
    // A crash cuts only the last record: an intact record after a damaged one means the file was
    // damaged otherwise, and replaying around the damage would apply a stream with a hole in it.
    std::size_t next = text.find('\n', at);
    while (next != std::string::npos && next + 1 < text.size()) {
      const std::size_t end = text.find('\n', next + 1);
      if (end == std::string::npos) break;
      if (record_payload(text.substr(next + 1, end - next - 1)))
        throw input_error({input_problem{name, static_cast<long>(payloads.size() + 1), "",
                                         "damaged journal record with whole records after it: "
                                         "the journal is corrupt, not replayed"}});
      next = end;
    }
    warn(name + ":" + std::to_string(payloads.size() + 1) + ": the last record is incomplete (" +
         std::to_string(text.size() - at) +
         " bytes: a write cut by a crash): dropped, its update was never applied");
    if (::ftruncate(fd_, static_cast<off_t>(at)) != 0 || ::fdatasync(fd_) != 0)
      throw std::runtime_error("cannot cut the incomplete record off " + name + ": " +
                               error_text(errno));
  }
  bytes_ = at;
  if (payloads.empty()) return;

  nlohmann::json header;
  try {
    header = nlohmann::json::parse(payloads[0]);
  } catch (const std::exception&) {
  }
  if (!header.is_object() || header.value("format", "") != format_name)
    throw input_error({input_problem{name, 1, "format", "not a marginsync journal"}});
  if (!header.contains("version") || !header["version"].is_number_integer() ||
      header["version"].get<int>() != journal_format_version)
    throw input_error({input_problem{
        name, 1, "version",
        "journal format version " + header.value("version", nlohmann::json()).dump() +
            ", this marginsync reads version " + std::to_string(journal_format_version)}});
  const std::string book = header.value("book", "");
  if (book != identity)
    throw input_error(
        {input_problem{name, 1, "book",
                       "the journal was written for another book or other risk parameters (book " +
                           book + "), not this one (" + identity + "): not replayed"}});
  for (std::size_t r = 1; r < payloads.size(); ++r) {
    const long record = static_cast<long>(r + 1);
    try {
      const nlohmann::json j = nlohmann::json::parse(payloads[r]);
      if (j.at("update").get<std::int64_t>() != static_cast<std::int64_t>(r))
        throw std::invalid_argument("update " + j.at("update").dump() + " where update " +
                                    std::to_string(r) + " belongs");
      journal_update u;
      u.ts_ns = j.at("ts").get<std::int64_t>();
      for (const nlohmann::json& e : j.at("events")) u.events.push_back(event_from(e));
      recorded_.push_back(std::move(u));
    } catch (const std::exception& e) {
      // Intact (its CRC holds) but not what this version writes: never guessed at.
      throw input_error({input_problem{
          name, record, "", std::string("bad journal record: ") + e.what() + ": not replayed"}});
    }
  }
  updates_ = static_cast<std::int64_t>(recorded_.size());
}

void stream_journal::write_record(const std::string& payload) {
  const std::string record = hex8(crc32(payload.data(), payload.size())) + ' ' +
                             std::to_string(payload.size()) + ' ' + payload + '\n';
  std::size_t done = 0;
  while (done < record.size()) {
    const ssize_t n = ::pwrite(fd_, record.data() + done, record.size() - done,
                               static_cast<off_t>(bytes_ + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int error = n < 0 ? errno : EIO;
      // Nothing half written stays: the next append starts after the last whole record.
      if (::ftruncate(fd_, static_cast<off_t>(bytes_)) != 0) {
      }
      throw std::runtime_error("cannot write " + file_.string() + ": " + error_text(error));
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fdatasync(fd_) != 0) {
    const int error = errno;
    if (::ftruncate(fd_, static_cast<off_t>(bytes_)) != 0) {
    }
    throw std::runtime_error("cannot sync " + file_.string() + ": " + error_text(error));
  }
  bytes_ += record.size();
}

void stream_journal::append(std::int64_t ts_ns, const std::vector<stream_event>& events) {
  nlohmann::json list = nlohmann::json::array();
  for (const stream_event& e : events) list.push_back(event_json(e));
  // A strict dump: the reader admits only valid UTF-8 ids (id_rules), and an id replaced by
  // another would replay onto another account.
  write_record(
      nlohmann::json{{"update", updates_ + 1}, {"ts", ts_ns}, {"events", std::move(list)}}.dump());
  ++updates_;
}

}  // namespace msync
