#include "stream/event_lines.hpp"

#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "io/number_parse.hpp"
#include "io/output_files.hpp"

namespace msync {

namespace {

void append_field(std::string& line, const char* key, double value) {
  line += ",\"";
  line += key;
  line += "\":";
  // JSON has no infinity: a health with no maintenance margin to measure against is null.
  if (std::isfinite(value))
    append_number(line, value);
  else
    line += "null";
}

std::string quoted(const std::string& id) {
  return nlohmann::json(id).dump(-1, ' ', false, json_replace);
}

std::string event_line(const account_transition& t, const book& b) {
  std::string line =
      "{\"ts\":\"" + format_timestamp(t.ts_ns) + "\",\"event\":\"" + t.event + "\",\"account\":";
  line += quoted(std::string(b.account_id[t.account]));
  line += ",\"from\":\"";
  line += stream_state_name(t.from);
  line += '"';
  append_field(line, "equity", t.equity);
  append_field(line, "initial_margin", t.initial_margin);
  append_field(line, "maintenance_margin", t.maintenance_margin);
  append_field(line, "health", t.health);
  append_field(line, "breach_probability", t.breach_probability);
  line += "}\n";
  return line;
}

std::string event_line(const oracle_transition& t, const market_state& m) {
  return "{\"ts\":\"" + format_timestamp(t.ts_ns) +
         "\",\"event\":\"stale_oracle\",\"underlying\":" + quoted(m.symbols[t.underlying]) +
         ",\"stale\":" + (t.stale ? "true" : "false") + "}\n";
}

std::string event_line(const instrument_settlement& t, const book& b) {
  std::string line =
      "{\"ts\":\"" + format_timestamp(t.ts_ns) +
      "\",\"event\":\"settled\",\"instrument\":" + quoted(b.instruments.id[t.instrument]);
  append_field(line, "price", t.price);
  line += "}\n";
  return line;
}

}  // namespace

void append_event_lines(const update_outcome& u, const book& b, const market_state& m,
                        std::vector<std::string>& lines) {
  for (const oracle_transition& t : u.oracles) lines.push_back(event_line(t, m));
  for (const instrument_settlement& t : u.settlements) lines.push_back(event_line(t, b));
  for (const account_transition& t : u.accounts) lines.push_back(event_line(t, b));
}

const char* const ticks_csv_header =
    "timestamp,ticks,out_of_order,paths,trigger,tick_ms,risk_ms,wall_ms,transitions,"
    "staleness_ms\n";

std::string ticks_csv_row(const update_outcome& u) {
  std::string row = format_timestamp(u.ts_ns) + ',' + std::to_string(u.ticks_applied) + ',' +
                    std::to_string(u.ticks_out_of_order) + ',' +
                    (u.trigger == risk_trigger::none ? "tick" : "tick+risk") + ',' +
                    risk_trigger_name(u.trigger);
  // Wall times are measurements: to the microsecond. Staleness is stream time: exact.
  char times[96];
  std::snprintf(times, sizeof times, ",%.3f,%.3f,%.3f,", 1e3 * u.tick_seconds, 1e3 * u.risk_seconds,
                1e3 * (u.tick_seconds + u.risk_seconds));
  row += times + std::to_string(u.accounts.size() + u.oracles.size()) + ',';
  append_number(row, u.staleness_years * 31536000.0 * 1e3);
  row += '\n';
  return row;
}

}  // namespace msync
