#pragma once
// The binary book snapshot: one file with the compiled structure-of-arrays book and the texts of
// market.json, risk.json and marks.csv, memory-mapped on reading so that its arrays are used in
// place (the CSV directory stays the readable form). `marginsync convert` writes it; `--book FILE`
// reads it.
//
// Layout (little-endian, docs/design.md 12.1): "MSYNCBK\x01" | u32 format version (3) | u32
// byte-order mark 0x01020304 | zero padding to 64 bytes | sections in a fixed order, each a 64-byte
// block holding its u64 byte length, then its bytes and zero padding to a multiple of 64 bytes, so
// that every array starts on a cache line of the mapped file.
// Sections: market.json text, risk.json text, marks.csv text (empty: none), the underlying symbols
// and tier names the indices refer to, instrument ids and arrays, account ids, collateral and
// tiers, position arrays, the CSR offsets, the count of CSV rows the positions came from.
// Underlyings and tiers are stored by name and mapped to the market and risk configuration in force
// when the snapshot is read, so a newer market.json can be used with an older snapshot.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "io/load_inputs.hpp"

namespace msync {

// Writes `in` with the given market.json, risk.json and marks.csv texts (marks empty: the book has
// none) under a temporary name, then renamed. Throws std::runtime_error when the file cannot be
// written.
void write_book_snapshot(const book_inputs& in, const std::string& market_json,
                         const std::string& risk_json, const std::filesystem::path& file,
                         const std::string& marks_csv = "");

// The texts of market.json, risk.json and marks.csv (empty: none) a snapshot holds, read from a
// book directory's files. Throws input_error.
struct book_texts {
  std::string market, risk, marks;
};
book_texts read_book_texts(const book_paths& paths);

// The bytes write_book_snapshot writes (a rank's part of a CSV book, sent by rank 0: docs/design.md
// 16.2).
std::string book_snapshot_bytes(const book_inputs& in, const std::string& market_json,
                                const std::string& risk_json, const std::string& marks_csv);

// Reads a snapshot's bytes (book_snapshot_bytes) as read_book_snapshot reads a file, its problems
// named `name`; throws input_error, or std::runtime_error when the memory cannot be had.
book_inputs read_book_snapshot_bytes(const std::string& bytes, const std::string& name);

// The order a snapshot stores the accounts in: as the book directory lists them, or in the order
// the CPU backend's scenario risk visits them (host/cpu/risk_order.hpp), so that each rank's part
// of a run across ranks is one contiguous range of the file (docs/design.md 12.1, 16.2).
enum class account_order { input, risk };

// Loads and validates the book directory at `paths` and writes it, with its market.json, risk.json
// and marks.csv texts as given, to `file`, its accounts in `order`. Returns what was written.
// Throws input_error.
book_inputs convert_book_directory(const book_paths& paths, const std::filesystem::path& file,
                                   account_order order = account_order::input);

// Whether `file` starts with the snapshot's magic bytes.
bool is_book_snapshot(const std::filesystem::path& file);

// Reads a snapshot. `market`, `risk` and `marks`, when given, replace the snapshot's copies. Every
// check of a malformed file throws input_error naming the file and what is wrong. The book's
// numeric arrays view the file's mapping (private: a write copies a page, never touching the
// file), which lives as long as any of them; its ids are owned strings.
book_inputs read_book_snapshot(const std::filesystem::path& file,
                               const std::optional<std::filesystem::path>& market,
                               const std::optional<std::filesystem::path>& risk,
                               const std::optional<std::filesystem::path>& marks = std::nullopt);

// Reads only some accounts of a snapshot (docs/design.md 16.2: a rank's part): the whole file's
// header, texts, instruments and account-level arrays, checked as read_book_snapshot checks them;
// then the accounts `pick` (io/load_inputs.hpp) returns, given the book with those read (its
// positions not yet read; it may throw input_error, reading a scenario file say), with their
// positions copied out of the file (book_slice.hpp), and only those positions checked. The file is
// mapped without reading it up front, so that the pages of the other accounts' positions are never
// read. Throws input_error as read_book_snapshot.
book_inputs read_book_snapshot_part(const std::filesystem::path& file,
                                    const std::optional<std::filesystem::path>& market,
                                    const std::optional<std::filesystem::path>& risk,
                                    const std::optional<std::filesystem::path>& marks,
                                    const book_part_picker& pick);

}  // namespace msync
