#pragma once
// Where a stream's lines go (docs/design.md 8.8): events.jsonl and ticks.csv in --out, or the
// events on standard output. A write that fails (a full disk, a file-size limit) stops the stream:
// the file is cut back to its last whole update, the error is said on stderr and in summary.json,
// and the run exits 1. A reader of standard output that goes away is not a failure: `reader_gone`
// is called (the stream stops like on SIGTERM).
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "io/output_files.hpp"
#include "journal/stream_journal.hpp"
#include "marginsync/backend.hpp"
#include "stream/stream_counts.hpp"
#include "stream/stream_engine.hpp"

namespace msync::cli {

class stream_outputs {
 public:
  stream_outputs(std::optional<output_directory>& dir, std::string command,
                 std::function<void()> reader_gone);

  // The update's event lines (append_event_lines) and its ticks.csv row. False once an output
  // cannot be written: the stream is to stop.
  bool write(const update_outcome& u, const std::vector<std::string>& event_lines);

  // The files on disk (fsync) before the summary names them.
  void sync();

  bool failed() const { return !error_.empty(); }
  const std::string& error() const { return error_; }
  std::int64_t updates_written() const { return updates_written_; }

 private:
  bool report(const std::string& why);

  std::string command_;
  std::function<void()> reader_gone_;
  bool reader_gone_said_ = false;
  std::optional<appending_file> events_, ticks_;
  std::int64_t updates_written_ = 0;
  std::string error_;
};

// What stream's and serve's summary.json share (docs/design.md 8.8): the version, inputs, backend,
// method, risk runs, latencies, staleness, transitions and the journal (null without one). Each
// command adds its own `stream` block and the rest.
nlohmann::json stream_summary_common(const margin_stream& stream, const backend& engine,
                                     const std::string& book, const std::string& ticks,
                                     const stream_counts& counts, const stream_latencies& latencies,
                                     const stream_journal* journal, std::int64_t replayed);

// summary.json with `provenance` first, and accounts.csv (the margins in force) once an update
// was applied.
void write_stream_results(output_directory& out, run_provenance provenance,
                          const nlohmann::json& summary, const margin_stream& stream,
                          std::int64_t updates);

}  // namespace msync::cli
