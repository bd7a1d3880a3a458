#pragma once
// A synthetic but realistic book, written as the five files of a book directory (docs/design.md
// section 2).
#include <cstdint>
#include <filesystem>

namespace msync {

struct generate_options {
  std::int64_t accounts = 1000;
  int underlyings = 5;
  int positions_per_account = 5;
  std::uint64_t seed = 1;
};

struct generate_report {
  std::int64_t instruments = 0;
  std::int64_t accounts = 0;
  std::int64_t positions = 0;
};

// Writes instruments.csv, accounts.csv, positions.csv, market.json and risk.json into `out_dir`
// (created if missing). Deterministic for a seed: the same options give the same bytes.
// Throws std::runtime_error when a file cannot be written.
generate_report generate_book(const generate_options& options,
                              const std::filesystem::path& out_dir);

// The same book as one binary snapshot `file`: generated into a CSV directory beside it, which is
// loaded and validated like any book, converted, and removed (also on failure). Throws as
// generate_book and convert_book_directory do.
generate_report generate_book_snapshot(const generate_options& options,
                                       const std::filesystem::path& file);

}  // namespace msync
