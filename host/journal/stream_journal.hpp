#pragma once
// The stream's journal (docs/design.md 8.11): every update the engine applies (the events of one
// timestamp, price ticks included) is appended to DIR/journal.msj and on disk (write, then
// fdatasync) before the engine applies it. The engine is deterministic, so applying the journal's
// updates again, in order and at their timestamps, rebuilds its whole state: prices, staleness,
// risk runs, funding, settlement, stream time and account states.
//
// File format, version 1: text, one record per line,
//   CRC LENGTH PAYLOAD\n
// CRC the CRC-32 (IEEE, as zlib's crc32) of PAYLOAD as 8 lowercase hex digits, LENGTH PAYLOAD's
// byte count in decimal, PAYLOAD one JSON object without a raw newline. The first record is the
// header, {"format": "marginsync-journal", "version": 1, "book": SHA256, "created": ISO 8601};
// every other record is one whole update, {"update": N (1, 2, ...), "ts": NS, "events": [...]}.
// A record is the unit of what survives a crash: an update is in the journal whole or not at all.
// A last record cut by a crash (no newline, a wrong length or CRC) is dropped with a warning and
// cut off the file; a damaged record with whole records after it is corruption, never skipped.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "io/load_inputs.hpp"
#include "io/tick_stream.hpp"

namespace msync {

constexpr int journal_format_version = 1;

// One update as the engine applied it.
struct journal_update {
  std::int64_t ts_ns = 0;
  std::vector<stream_event> events;
};

// What a journal may be replayed onto: the SHA-256 of the book's input files (each file's role and
// content hash: a book directory's CSV and JSON files, or a snapshot and the files replacing its
// parts, and the depth file) and of `engine_parameters` (what else shapes the engine's results:
// the risk parameters in force after command-line overrides). Throws std::runtime_error naming a
// file that cannot be read.
std::string book_identity(const book_location& where, const std::string& engine_parameters);

// What shapes the engine's results besides the book's files, for book_identity: the risk
// parameters after the command line's overrides (method, scenarios, seed, confidence).
std::string engine_parameters(const risk_params& risk);

// The CRC-32 of the journal's records (IEEE 802.3 polynomial, reflected; crc32("123456789") is
// cbf43926).
std::uint32_t crc32(const void* data, std::size_t n);

class stream_journal {
 public:
  // Opens DIR/journal.msj for `identity` (book_identity), creating DIR and the file (the header
  // written and synced, DIR synced) when there is none. An existing journal is read: its updates
  // are recorded() for replay, a torn last record is dropped (`warn` says so) and cut off the
  // file. The file is locked for this process (flock) until the journal is destroyed.
  // Throws input_error (exit status 2) for a journal of another book, another format version or a
  // damaged record before the last; std::runtime_error for a journal that cannot be created,
  // read, written or locked.
  stream_journal(const std::filesystem::path& dir, const std::string& identity,
                 const std::function<void(const std::string&)>& warn);
  ~stream_journal();
  stream_journal(const stream_journal&) = delete;
  stream_journal& operator=(const stream_journal&) = delete;

  // The updates found in the journal when it was opened, in order: to replay before new input.
  const std::vector<journal_update>& recorded() const noexcept { return recorded_; }
  void forget_recorded() { recorded_ = {}; }

  // Appends one update and returns once it is on disk (write, fdatasync). Throws
  // std::runtime_error when it cannot be written: the caller must not apply the update. After a
  // failed append the file is cut back to its last whole record.
  void append(std::int64_t ts_ns, const std::vector<stream_event>& events);

  const std::filesystem::path& file() const noexcept { return file_; }
  std::int64_t updates() const noexcept { return updates_; }

 private:
  void write_record(const std::string& payload);
  void read_existing(const std::string& identity,
                     const std::function<void(const std::string&)>& warn);

  std::filesystem::path file_;
  int fd_ = -1;
  std::uint64_t bytes_ = 0;   // the length of the file's whole records
  std::int64_t updates_ = 0;  // update records in the file
  std::vector<journal_update> recorded_;
};

}  // namespace msync
