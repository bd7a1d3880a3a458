// The tick stream reader (docs/design.md section 2 and 5). One std::getline per physical line and
// nothing read ahead, so a reader on a pipe hands out each event as soon as its line has arrived.
//
// Decisions written down here (docs/design.md leaves them open):
// - A CSV header that lacks a required column (or names a used column twice) makes the stream
//   unreadable as a whole: every data line would fail for the same reason, so next() throws
//   input_error with one problem per missing column instead of rejecting each line. Such a
//   header is not counted in rejected() and not passed to on_problem (the exception carries it).
// - A malformed line is reported with its first problem only: one line, one problem, one count.
// - JSON lines: keys the event type does not use are ignored, as extra CSV columns are (a feed may
//   add its own fields); a top-level key given twice is rejected (which value was meant would be
//   a guess). "vol" must be within (0, 10], the range market.json accepts.
// - A line over max_tick_line_bytes is one problem, whatever else is wrong with it; so is a last
//   line without its newline. A blank one of either is skipped like any blank line.
// - The time bound sees only well-formed events: a malformed line has no time to trust, and
//   neither confirms nor interrupts a jump being confirmed.
#include "io/tick_stream.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>

#include "io/id_rules.hpp"
#include "io/input_files.hpp"
#include "io/load_inputs.hpp"
#include "io/number_parse.hpp"
#include "marginsync/errors.hpp"

namespace msync {

namespace {

using json = nlohmann::json;

constexpr const char* blanks = " \t\r\f\v";
constexpr double max_vol = 10.0;  // as in market.json

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Splits one CSV line into `fields`: views into `line`, or into `unescaped` for a quoted field
// with "" escapes. RFC 4180 quoting within the line (a quoted field may hold commas and ""; a
// stream read line by line cannot continue a field on the next line). Unquoted fields are trimmed
// of blanks, as the book's CSV reader does. Returns the reason when the line cannot be split.
std::string split_fields(std::string_view line, std::vector<std::string_view>& fields,
                         std::vector<char>& unescaped) {
  fields.clear();
  unescaped.clear();
  // An unescaped field is shorter than the line, so the vector never reallocates below and the
  // views into it stay valid (a vector guarantees that after reserve; a string does not).
  unescaped.reserve(line.size());
  const std::size_t n = line.size();
  std::size_t p = 0;
  for (;;) {
    std::size_t q = p;
    while (q < n && (line[q] == ' ' || line[q] == '\t')) ++q;
    if (q < n && line[q] == '"') {
      const std::size_t start = unescaped.size();
      bool escaped = false;
      std::size_t copied = q + 1;  // start of the text not yet copied into `unescaped`
      std::size_t r = q + 1;
      for (;; ++r) {
        if (r >= n) return "quoted field is not closed";
        if (line[r] != '"') continue;
        if (r + 1 < n && line[r + 1] == '"') {  // "" is one quote: copy up to and with the first
          unescaped.insert(unescaped.end(), line.begin() + copied, line.begin() + r + 1);
          escaped = true;
          copied = ++r + 1;
          continue;
        }
        break;
      }
      if (escaped) {
        unescaped.insert(unescaped.end(), line.begin() + copied, line.begin() + r);
        fields.emplace_back(unescaped.data() + start, unescaped.size() - start);
      } else {
        fields.push_back(line.substr(q + 1, r - q - 1));
      }
      p = r + 1;
      while (p < n && (line[p] == ' ' || line[p] == '\t')) ++p;
      if (p < n && line[p] != ',') return "unexpected text after a closing quote";
    } else {
      const std::size_t r = std::min(line.find(',', p), n);
      fields.push_back(trim(line.substr(p, r - p)));
      p = r;
    }
    if (p >= n) return {};
    ++p;  // the comma
  }
}

std::string price_range_problem(double price, std::string_view text) {
  if (price > 0.0 && price <= max_price) return {};
  return "must be > 0 and at most 1e12, got " + std::string(text);
}

std::string vol_range_problem(double vol, std::string_view text) {
  if (vol > 0.0 && vol <= max_vol) return {};
  return "must be within (0, 10] (annualised, 10 = 1000%), got " + std::string(text);
}

// Why a JSON line is not JSON. Only called for a line that failed: the fast path parses without
// exceptions, and this parses once more with them for nlohmann's description of the error.
std::string json_syntax_problem(const std::string& text) {
  try {
    const json again = json::parse(text);  // throws: the line was not JSON the first time
  } catch (const json::parse_error& e) {
    const std::string what = e.what();
    // "[json.exception.parse_error.101] parse error at line 1, column 5: syntax error ...": the
    // line and column of a one-line document say less than the byte.
    const std::size_t colon = what.find(": ", what.find("parse error"));
    return "invalid JSON at character " + std::to_string(e.byte) + ": " +
           (colon == std::string::npos ? what : what.substr(colon + 2));
  } catch (const json::exception& e) {
    // A number too large for a double: "[json.exception.out_of_range.406] number overflow ...".
    const std::string what = e.what();
    const std::size_t bracket = what.find("] ");
    return "invalid JSON: " + (bracket == std::string::npos ? what : what.substr(bracket + 2));
  }
  return "invalid JSON";
}

// The first thing wrong with a JSON message: the key and why.
struct fault {
  std::string column;
  std::string reason;
};

// The value of a key that must be present, or nullptr with a fault.
const json* required(const json& message, const char* key, fault& f) {
  auto it = message.find(key);
  if (it != message.end()) return &*it;
  f = {key, "missing"};
  return nullptr;
}

bool finite_number(const json& value, const char* key, double& out, fault& f) {
  if (!value.is_number()) {
    f = {key, "expected a number, got " + value.dump()};
    return false;
  }
  out = value.get<double>();
  if (std::isfinite(out)) return true;
  f = {key, "must be finite"};  // not from text (nlohmann rejects "1e400"), but cheap to be sure
  return false;
}

bool required_number(const json& message, const char* key, double& out, fault& f) {
  const json* value = required(message, key, f);
  return value && finite_number(*value, key, out, f);
}

// An id: a non-empty string, kept as written.
bool required_id(const json& message, const char* key, std::string& out, fault& f) {
  const json* value = required(message, key, f);
  if (!value) return false;
  if (!value->is_string()) {
    f = {key, "expected a string, got " + value->dump()};
    return false;
  }
  out = value->get<std::string>();
  if (out.empty()) {
    f = {key, "empty id"};
    return false;
  }
  if (std::string why = id_text_problem(out); !why.empty()) {  // the rule of every reader
    f = {key, std::move(why)};
    return false;
  }
  return true;
}

// "ts": integer epoch milliseconds (a number), or a string as a CSV timestamp cell.
bool timestamp(const json& message, std::int64_t& ns, fault& f) {
  const json* value = required(message, "ts", f);
  if (!value) return false;
  std::string why;
  if (value->is_string()) {
    why = parse_timestamp(value->get_ref<const std::string&>(), ns);
  } else if (value->is_number_integer()) {
    why = parse_timestamp(value->dump(), ns);  // digits: parse_timestamp checks the range
  } else if (value->is_number_float() && std::isfinite(value->get<double>()) &&
             value->get<double>() == std::floor(value->get<double>()) &&
             std::fabs(value->get<double>()) < 9.0e15) {
    // 1.7955072e12 is a whole number of milliseconds written with an exponent.
    why = parse_timestamp(std::to_string(static_cast<long long>(value->get<double>())), ns);
  } else {
    why = "expected whole epoch milliseconds or an ISO 8601 UTC string, got " + value->dump();
  }
  if (why.empty()) return true;
  f = {"ts", std::move(why)};
  return false;
}

bool read_trade(const json& message, stream_event& event, fault& f) {
  if (!required_id(message, "account", event.account, f) ||
      !required_id(message, "instrument", event.instrument, f) ||
      !required_number(message, "quantity", event.quantity, f))
    return false;
  if (event.quantity == 0.0) {
    f = {"quantity", "must not be 0"};
    return false;
  }
  if (std::fabs(event.quantity) > max_quantity) {
    f = {"quantity", "must be within [-1e12, 1e12], got " + format_number(event.quantity)};
    return false;
  }
  if (!required_number(message, "price", event.price, f)) return false;
  f = {"price", price_range_problem(event.price, format_number(event.price))};
  return f.reason.empty();
}

bool read_collateral(const json& message, stream_event& event, fault& f) {
  if (!required_id(message, "account", event.account, f) ||
      !required_number(message, "amount", event.amount, f))
    return false;
  if (std::fabs(event.amount) <= max_money) return true;
  f = {"amount", "must be within [-1e15, 1e15], got " + format_number(event.amount)};
  return false;
}

// A mark: the instrument and at least one of mark_price (a future's, in (0, 1e12]) and iv (an
// option's, in (0, 10]); absent ones are NaN.
bool read_mark(const json& message, stream_event& event, fault& f) {
  if (!required_id(message, "instrument", event.instrument, f)) return false;
  event.price = std::numeric_limits<double>::quiet_NaN();
  event.vol = std::numeric_limits<double>::quiet_NaN();
  if (auto it = message.find("mark_price"); it != message.end()) {
    if (!finite_number(*it, "mark_price", event.price, f)) return false;
    f = {"mark_price", price_range_problem(event.price, format_number(event.price))};
    if (!f.reason.empty()) return false;
  }
  if (auto it = message.find("iv"); it != message.end()) {
    if (!finite_number(*it, "iv", event.vol, f)) return false;
    f = {"iv", vol_range_problem(event.vol, format_number(event.vol))};
    if (!f.reason.empty()) return false;
  }
  if (event.price == event.price || event.vol == event.vol) return true;
  f = {"mark_price", "missing: a mark gives mark_price (a future's) or iv (an option's)"};
  return false;
}

// A span of stream time in seconds, to the millisecond: "7200 s", "0.25 s".
std::string seconds_text(std::int64_t ns) {
  const std::int64_t ms = (ns < 0 ? -ns : ns) / 1000000;  // within 250 years: no overflow
  return format_number(static_cast<double>(ms) / 1e3) + " s";
}

}  // namespace

tick_reader::tick_reader(std::istream& in, std::string name,
                         const std::vector<std::string>& symbols,
                         std::function<void(const input_problem&)> on_problem)
    : in_(in),
      name_(name == "-" ? "<stdin>" : std::move(name)),
      on_problem_(std::move(on_problem)) {
  for (std::uint32_t u = 0; u < symbols.size(); ++u) symbol_index_.emplace(symbols[u], u);
}

void tick_reader::check_time(std::int64_t as_of_ns, tick_time_bound bound,
                             std::function<void(const std::string&)> on_jump) {
  time_bound_ = bound;
  on_jump_ = std::move(on_jump);
  stream_ns_ = as_of_ns;
  started_ = false;
  jump_seen_ = 0;
}

std::optional<stream_event> tick_reader::next() {
  if (!header_problems_.empty()) throw input_error(header_problems_);
  line_end end = line_end::newline;
  while (read_line(text_, end)) {
    if (end == line_end::too_long) {
      reject("", "line longer than " + std::to_string(max_tick_line_bytes) +
                     " bytes: skipped (not read past that)");
      continue;
    }
    const std::size_t first = text_.find_first_not_of(blanks);
    if (first == std::string::npos) continue;  // empty lines are skipped, not rejected
    if (end == line_end::end_of_input) {
      // A feed that died mid-line: "...,BTC,910" may have been meant as 91000.
      reject("", "incomplete last line (no newline at end of input): not applied");
      continue;
    }
    if (format_ == format::unknown) {
      if (text_[first] == '{') {
        format_ = format::json;  // and this line is the first event
      } else {
        read_header(text_);
        if (!header_problems_.empty()) throw input_error(header_problems_);
        format_ = format::csv;
        continue;
      }
    }
    std::optional<stream_event> event =
        format_ == format::csv ? parse_csv(text_) : parse_json(text_);
    if (event && time_accepted(*event)) return event;
  }
  return std::nullopt;
}

bool tick_reader::read_line(std::string& text, line_end& end) {
  if (at_end_) return false;
  std::streambuf& buffer = *in_.rdbuf();
  // Nothing buffered: the next read may block on a live feed. The caller decides first.
  if (before_blocking_ && buffer.in_avail() <= 0 && !before_blocking_()) return false;
  // Byte by byte from the buffer (no read past the newline, so a pipe's next line is not waited
  // for), keeping at most max_tick_line_bytes: the rest of a longer line is read and dropped.
  using traits = std::streambuf::traits_type;
  text.clear();
  std::size_t length = 0;  // of the line, its newline not counted
  for (;;) {
    const traits::int_type c = buffer.sbumpc();
    if (traits::eq_int_type(c, traits::eof())) {
      at_end_ = true;
      if (length == 0) return false;
      end = line_end::end_of_input;
      break;
    }
    if (c == '\n') {
      end = line_end::newline;
      break;
    }
    if (++length <= max_tick_line_bytes) text.push_back(traits::to_char_type(c));
  }
  if (length > max_tick_line_bytes) end = line_end::too_long;
  ++line_;
  if (!text.empty() && text.back() == '\r') text.pop_back();
  if (line_ == 1 && text.compare(0, 3, "\xEF\xBB\xBF") == 0) text.erase(0, 3);  // UTF-8 BOM
  return true;
}

bool tick_reader::time_accepted(const stream_event& event) {
  if (!time_bound_) return true;
  const std::int64_t bound = time_bound_->max_jump_ns;
  // Both times are within the supported years (2.10), so the difference fits in 64 bits.
  const std::int64_t gap = event.ts_ns - stream_ns_;
  if (gap >= -bound && gap <= bound) {
    stream_ns_ = started_ ? std::max(stream_ns_, event.ts_ns) : event.ts_ns;
    started_ = true;
    jump_seen_ = 0;  // the feed agrees with stream time: whatever was ahead was not a new clock
    return true;
  }
  const std::string from =
      (started_ ? "stream time " : "the book's as_of ") + format_timestamp(stream_ns_);
  const std::string bound_text = seconds_text(bound);
  if (gap > 0 && time_bound_->confirmations > 0) {
    // A forward jump: confirmed by consecutive events beyond the bound, each at or after the one
    // before and within the bound of it, at `confirmations` distinct timestamps.
    const bool continues =
        jump_seen_ > 0 && event.ts_ns >= jump_ns_ && event.ts_ns - jump_ns_ <= bound;
    if (!continues) {
      jump_seen_ = 0;
      jump_line_ = line_;
    }
    if (!continues || event.ts_ns > jump_ns_) ++jump_seen_;
    jump_ns_ = event.ts_ns;
    if (jump_seen_ >= time_bound_->confirmations) {
      ++time_jumps_;
      if (on_jump_)
        on_jump_(name_ + ":" + std::to_string(line_) + ": stream time jumps " + seconds_text(gap) +
                 " forward from " + from + " to " + format_timestamp(event.ts_ns) +
                 ", beyond --max-tick-jump " + bound_text + ": confirmed by " +
                 std::to_string(jump_seen_) + " events at distinct times from line " +
                 std::to_string(jump_line_) + " on (those before this line were rejected)");
      stream_ns_ = event.ts_ns;
      started_ = true;
      jump_seen_ = 0;
      return true;
    }
  } else {
    jump_seen_ = 0;
  }
  reject(format_ == format::csv ? "timestamp" : "ts",
         format_timestamp(event.ts_ns) + " is " + seconds_text(gap) +
             (gap < 0 ? " before " : " after ") + from + ", more than --max-tick-jump " +
             bound_text + ": not applied");
  return false;
}

void tick_reader::read_header(const std::string& text) {
  if (std::string why = split_fields(text, fields_, unescaped_); !why.empty()) {
    header_problems_.push_back({name_, line_, "", "header row: " + why});
    return;
  }
  header_size_ = fields_.size();
  struct wanted {
    const char* name;
    int* column;
    bool required;
  };
  const wanted columns[] = {{"timestamp", &col_timestamp_, true},
                            {"underlying", &col_underlying_, true},
                            {"price", &col_price_, true},
                            {"vol", &col_vol_, false}};
  for (const wanted& w : columns) {
    for (std::size_t i = 0; i < fields_.size(); ++i) {
      if (trim(fields_[i]) != w.name) continue;
      if (*w.column >= 0) {
        header_problems_.push_back({name_, line_, w.name, "column appears twice in the header"});
        break;
      }
      *w.column = static_cast<int>(i);
    }
    if (w.required && *w.column < 0)
      header_problems_.push_back({name_, line_, w.name, "missing required column"});
  }
}

const std::uint32_t* tick_reader::find_symbol(std::string_view symbol) {
  symbol_.assign(symbol.data(), symbol.size());  // reused: no allocation per line
  auto it = symbol_index_.find(symbol_);
  return it == symbol_index_.end() ? nullptr : &it->second;
}

std::optional<stream_event> tick_reader::parse_csv(const std::string& text) {
  if (std::string why = split_fields(text, fields_, unescaped_); !why.empty()) {
    reject("", why);
    return std::nullopt;
  }
  if (fields_.size() != header_size_) {
    reject("", "expected " + std::to_string(header_size_) + " fields (as the header has), found " +
                   std::to_string(fields_.size()));
    return std::nullopt;
  }
  stream_event event;
  event.kind = stream_event_kind::price;
  event.line = line_;
  const std::string_view ts = fields_[static_cast<std::size_t>(col_timestamp_)];
  if (std::string why = parse_timestamp(ts, event.ts_ns); !why.empty()) {
    reject("timestamp", why);
    return std::nullopt;
  }
  const std::string_view symbol = fields_[static_cast<std::size_t>(col_underlying_)];
  const std::uint32_t* u = find_symbol(symbol);
  if (!u) {
    reject("underlying", "unknown underlying " + quote_input(symbol));
    return std::nullopt;
  }
  event.underlying = *u;
  const std::string_view price = fields_[static_cast<std::size_t>(col_price_)];
  std::string why = parse_number(price, event.price);
  if (why.empty()) why = price_range_problem(event.price, price);
  if (!why.empty()) {
    reject("price", why);
    return std::nullopt;
  }
  event.vol = std::numeric_limits<double>::quiet_NaN();
  const std::string_view vol =
      col_vol_ < 0 ? std::string_view{} : fields_[static_cast<std::size_t>(col_vol_)];
  if (!vol.empty()) {  // an empty cell: no vol in this tick
    why = parse_number(vol, event.vol);
    if (why.empty()) why = vol_range_problem(event.vol, vol);
    if (!why.empty()) {
      reject("vol", why);
      return std::nullopt;
    }
  }
  return event;
}

std::optional<stream_event> tick_reader::parse_json(const std::string& text) {
  // The callback notes the top-level keys: nlohmann keeps only the last of a repeated key.
  json_keys_.clear();
  std::string repeated;
  const json::parser_callback_t note_keys = [this, &repeated](int depth, json::parse_event_t event,
                                                              json& parsed) {
    if (depth == 1 && event == json::parse_event_t::key && parsed.is_string()) {
      const std::string& key = parsed.get_ref<const std::string&>();
      if (std::find(json_keys_.begin(), json_keys_.end(), key) == json_keys_.end())
        json_keys_.push_back(key);
      else if (repeated.empty())
        repeated = key;
    }
    return true;
  };
  const json message = json::parse(text, note_keys, /*allow_exceptions=*/false);
  if (message.is_discarded()) {
    reject("", json_syntax_problem(text));
    return std::nullopt;
  }
  if (!message.is_object()) {
    reject("", "not a JSON object");
    return std::nullopt;
  }
  if (!repeated.empty()) {
    reject(repeated, "key appears more than once in the message");
    return std::nullopt;
  }

  stream_event event;
  event.line = line_;
  fault f;
  auto failed = [&] {
    reject(f.column, f.reason);
    return std::nullopt;
  };
  std::string kind = "price";
  if (auto it = message.find("type"); it != message.end()) {
    if (!it->is_string()) {
      f = {"type", "expected a string, got " + it->dump()};
      return failed();
    }
    kind = it->get<std::string>();
  }
  if (kind == "price") {
    event.kind = stream_event_kind::price;
  } else if (kind == "trade") {
    event.kind = stream_event_kind::trade;
  } else if (kind == "collateral") {
    event.kind = stream_event_kind::collateral;
  } else if (kind == "mark") {
    event.kind = stream_event_kind::mark;
  } else {
    f = {"type",
         "unknown type " + quote_input(kind) + " (expected price, trade, collateral or mark)"};
    return failed();
  }
  if (!timestamp(message, event.ts_ns, f)) return failed();
  if (event.kind == stream_event_kind::trade) {
    if (!read_trade(message, event, f)) return failed();
    return event;
  }
  if (event.kind == stream_event_kind::collateral) {
    if (!read_collateral(message, event, f)) return failed();
    return event;
  }
  if (event.kind == stream_event_kind::mark) {
    if (!read_mark(message, event, f)) return failed();
    return event;
  }

  const json* symbol = required(message, "underlying", f);
  if (!symbol) return failed();
  if (!symbol->is_string()) {
    f = {"underlying", "expected a string, got " + symbol->dump()};
    return failed();
  }
  const std::uint32_t* u = find_symbol(symbol->get_ref<const std::string&>());
  if (!u) {
    f = {"underlying", "unknown underlying " + quote_input(symbol->get<std::string>())};
    return failed();
  }
  event.underlying = *u;
  if (!required_number(message, "price", event.price, f)) return failed();
  if (std::string why = price_range_problem(event.price, format_number(event.price));
      !why.empty()) {
    f = {"price", std::move(why)};
    return failed();
  }
  event.vol = std::numeric_limits<double>::quiet_NaN();
  if (auto it = message.find("vol"); it != message.end()) {
    if (!finite_number(*it, "vol", event.vol, f)) return failed();
    if (std::string why = vol_range_problem(event.vol, format_number(event.vol)); !why.empty()) {
      f = {"vol", std::move(why)};
      return failed();
    }
  }
  return event;
}

void tick_reader::reject(const std::string& column, const std::string& reason) {
  ++rejected_;
  if (on_problem_) on_problem_(input_problem{name_, line_, column, reason});
}

std::vector<std::vector<stream_event>> read_updates(const std::filesystem::path& ticks,
                                                    const std::vector<std::string>& symbols,
                                                    std::int64_t as_of_ns, tick_time_bound bound) {
  if (std::string why = input_file_problem(ticks); !why.empty())
    throw input_error({input_problem{ticks.string(), 0, "", std::move(why)}});
  std::ifstream in(ticks);
  if (!in) throw input_error({input_problem{ticks.string(), 0, "", "cannot be read"}});
  problem_list problems;
  tick_reader reader(in, ticks.string(), symbols, [&](const input_problem& p) {
    problems.add(p.file, p.line, p.column, p.reason);
  });
  reader.check_time(as_of_ns, bound);
  std::vector<std::vector<stream_event>> updates;
  for (std::optional<stream_event> e = reader.next(); e; e = reader.next()) {
    if (updates.empty() || updates.back().front().ts_ns != e->ts_ns) updates.emplace_back();
    updates.back().push_back(std::move(*e));
  }
  problems.throw_if_any();
  return updates;
}

}  // namespace msync
