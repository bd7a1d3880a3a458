// A tick stream (docs/design.md section 2.8), CSV or JSON lines, for data/sample's market: a
// malformed line is reported and skipped, an unreadable header throws input_error; every event
// handed out is within the bounds of section 2.10.
#include <cmath>
#include <sstream>

#include "fuzz_support.hpp"
#include "fuzz_targets.hpp"
#include "io/number_parse.hpp"
#include "io/tick_stream.hpp"

namespace msync::fuzz {

void tick_lines(std::string_view input) {
  const market_state& m = sample_market();
  std::istringstream in{std::string(input)};
  long problems = 0;
  tick_reader reader(in, "ticks", m.symbols, [&](const input_problem& p) {
    check(p.line >= 1, "ticks: a problem without a line");
    ++problems;
  });
  long events = 0, last_line = 0;
  try {
    while (auto e = reader.next()) {
      ++events;
      check(e->line > last_line, "ticks: line numbers do not grow");
      last_line = e->line;
      check(e->ts_ns >= earliest_timestamp_ms * 1'000'000 &&
                e->ts_ns < latest_timestamp_ms * 1'000'000,
            "ticks: timestamp outside 1900-2149");
      switch (e->kind) {
        case stream_event_kind::price:
          check(e->underlying < m.size(), "ticks: underlying index out of range");
          check(e->price > 0.0 && e->price <= max_price, "ticks: price outside (0, 1e12]");
          check(std::isnan(e->vol) || (e->vol > 0.0 && e->vol <= 10.0),
                "ticks: vol outside (0, 10]");
          break;
        case stream_event_kind::trade:
          check(!e->account.empty() && !e->instrument.empty(), "ticks: a trade with an empty id");
          check(e->quantity != 0.0 && std::fabs(e->quantity) <= max_quantity,
                "ticks: trade quantity zero or outside +-1e12");
          check(e->price > 0.0 && e->price <= max_price, "ticks: trade price outside (0, 1e12]");
          break;
        case stream_event_kind::collateral:
          check(!e->account.empty(), "ticks: a collateral event with an empty id");
          check(std::fabs(e->amount) <= max_money, "ticks: collateral amount outside +-1e15");
          break;
        default:
          check(false, "ticks: unknown event kind");
      }
    }
  } catch (const input_error&) {
    return;  // an unreadable CSV header
  }
  check(problems == reader.rejected(), "ticks: rejected count differs from problems reported");
  check(events + reader.rejected() <= reader.lines_read(), "ticks: more events than lines");
}

}  // namespace msync::fuzz
