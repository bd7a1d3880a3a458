#pragma once
// The tick stream of docs/design.md section 2, read one line at a time from a file or standard
// input: CSV with a header row (`timestamp,underlying,price[,vol]`, columns in any order) or JSON
// lines. A JSON line without "type" (or with "type":"price") is a price tick
// {"ts","underlying","price"[,"vol"]}; "type":"trade"
// {"ts","account","instrument","quantity","price"} and "type":"collateral"
// {"ts","account","amount"} change the book; "type":"mark"
// {"ts","instrument"[,"mark_price"][,"iv"]} sets an instrument's own mark (docs/design.md 2.8). The
// format is decided by the first non-empty line:
// '{' starts JSON lines, anything else is the CSV header.
//
// A stream must not die on one bad message: a malformed line is reported (FILE:LINE: column
// 'NAME': reason, as docs/design.md section 5 writes problems) and skipped, and counted. So is a
// line longer than max_tick_line_bytes (skipped without being held whole), a last line that has no
// newline (a feed that died mid-line: `...,BTC,910` meant as 91000 must not be applied), and, once
// check_time() has set a bound, an event stamped too far from stream time (docs/design.md 8.1).
#include <cstdint>
#include <filesystem>
#include <functional>
#include <istream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "marginsync/errors.hpp"

namespace msync {

enum class stream_event_kind { price, trade, collateral, mark };

// The longest line a stream may have, line end not counted: far beyond any event (a JSON trade
// with long ids is a few hundred bytes), small enough that a runaway line costs no memory.
constexpr std::size_t max_tick_line_bytes = 64 * 1024;

// How far an event's time may be from stream time (docs/design.md 8.1). Stream time is the latest
// timestamp applied so far; before the first event, the book's as_of. An event more than
// max_jump_ns before or after it is rejected like a malformed line, so that one tick stamped 2149
// cannot move the clock 123 years (expiring every option, accruing a century of funding). A feed
// that comes back after an outage longer than the bound would then be rejected for ever: a forward
// jump is accepted when `confirmations` consecutive events beyond the bound, at that many distinct
// increasing timestamps each within the bound of the one before, agree on it (a lone bad tick, or
// one update's ticks stamped by a bad clock, never do). 0 confirmations: never accepted.
struct tick_time_bound {
  std::int64_t max_jump_ns = 3600LL * 1000000000LL;  // --max-tick-jump, 1 hour
  int confirmations = 10;                            // --tick-jump-confirmations
};

struct stream_event {
  stream_event_kind kind = stream_event_kind::price;
  std::int64_t ts_ns = 0;  // nanoseconds since the epoch
  long line = 0;           // 1-based line of the stream it came from
  // price: the underlying's index in the market's symbols, its price (> 0) and, when given, vol
  // (> 0; NaN when absent).
  std::uint32_t underlying = 0;
  double price = 0.0;
  double vol = 0.0;
  // trade: account and instrument ids as written (the account may be new), signed quantity
  // (non-zero) and price (> 0, in `price`); collateral: account and signed amount.
  // mark: the instrument id as written, a future's mark price in `price` and an option's implied
  // vol in `vol` (each NaN when absent, at least one given); whether the instrument exists and is
  // of that kind is the book's to say (the stream engine refuses it otherwise).
  std::string account;
  std::string instrument;
  double quantity = 0.0;
  double amount = 0.0;
};

class tick_reader {
 public:
  // Reads `in` (not owned; it must outlive the reader). `name` labels problems ("-" reads as
  // "<stdin>"). `symbols` are the market's underlyings: a tick naming another is malformed.
  // `on_problem` receives each malformed line's problem; the reader then goes on.
  tick_reader(std::istream& in, std::string name, const std::vector<std::string>& symbols,
              std::function<void(const input_problem&)> on_problem);

  // The next well-formed event, or nullopt at the end of the input (or when reading fails, e.g.
  // interrupted by a signal).
  std::optional<stream_event> next();

  // For a live feed: `wait` is called before a read that may block (nothing is buffered). It may
  // finish work in hand, wait for input, and returns false to end the stream there (a stop
  // request), true to read on.
  void set_before_blocking(std::function<bool()> wait) { before_blocking_ = std::move(wait); }

  // Checks every event's time against stream time (tick_time_bound), starting from the book's
  // `as_of_ns`. `on_jump` is told, as FILE:LINE text, of each forward jump the feed confirmed.
  void check_time(std::int64_t as_of_ns, tick_time_bound bound,
                  std::function<void(const std::string&)> on_jump = nullptr);

  long lines_read() const noexcept { return line_; }
  long rejected() const noexcept { return rejected_; }
  // Forward jumps of stream time beyond the bound that the feed confirmed (tick_time_bound).
  long time_jumps() const noexcept { return time_jumps_; }

 private:
  enum class line_end { newline, end_of_input, too_long };
  // The next physical line into `text` (at most max_tick_line_bytes of it), and how it ended, or
  // false at the end of the input.
  bool read_line(std::string& text, line_end& end);
  // Whether the event's time is within the bound of stream time (or confirms a jump); rejects it
  // otherwise.
  bool time_accepted(const stream_event& event);
  // The CSV header row: finds the columns, or records in header_problems_ why the stream cannot
  // be read.
  void read_header(const std::string& text);
  std::optional<stream_event> parse_csv(const std::string& text);
  std::optional<stream_event> parse_json(const std::string& text);
  void reject(const std::string& column, const std::string& reason);
  // The market index of `symbol`, or nullptr.
  const std::uint32_t* find_symbol(std::string_view symbol);

  std::istream& in_;
  std::string name_;
  std::unordered_map<std::string, std::uint32_t> symbol_index_;
  std::function<void(const input_problem&)> on_problem_;
  std::function<bool()> before_blocking_;
  enum class format { unknown, csv, json } format_ = format::unknown;
  // CSV: the header's column positions (-1 when absent) and count.
  int col_timestamp_ = -1, col_underlying_ = -1, col_price_ = -1, col_vol_ = -1;
  std::size_t header_size_ = 0;
  // A header that cannot be read makes the whole stream unreadable: next() throws these.
  std::vector<input_problem> header_problems_;
  long line_ = 0;
  long rejected_ = 0;
  bool at_end_ = false;  // the input has ended: never read again (a terminal would wait again)
  // check_time(): the bound, stream time as this reader has applied it, and the jump being
  // confirmed (its latest timestamp, the distinct timestamps seen, the line where it began).
  std::optional<tick_time_bound> time_bound_;
  std::function<void(const std::string&)> on_jump_;
  std::int64_t stream_ns_ = 0;
  bool started_ = false;
  std::int64_t jump_ns_ = 0;
  int jump_seen_ = 0;
  long jump_line_ = 0;
  long time_jumps_ = 0;
  // Buffers kept from line to line so that reading allocates nothing per line once they have
  // grown: the current line, its CSV fields (views into the line or into unescaped_, which holds
  // quoted fields with "" escapes), a symbol being looked up, a JSON line's top-level keys.
  std::string text_;
  std::vector<std::string_view> fields_;
  std::vector<char> unescaped_;
  std::string symbol_;
  std::vector<std::string> json_keys_;
};

// A tick stream file read whole and grouped into updates (consecutive events with one timestamp),
// so that a replay times the engine, not the parser. The same rules as a stream's, strictly:
// throws input_error listing every rejected line (malformed, too long, without its newline at the
// end, or beyond `bound` from stream time, which starts at `as_of_ns`), or on a bad header.
std::vector<std::vector<stream_event>> read_updates(const std::filesystem::path& ticks,
                                                    const std::vector<std::string>& symbols,
                                                    std::int64_t as_of_ns, tick_time_bound bound);

}  // namespace msync
