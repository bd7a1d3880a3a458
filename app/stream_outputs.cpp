#include "stream_outputs.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "cli_common.hpp"
#include "margin/margin_outputs.hpp"
#include "stream/event_lines.hpp"
#include "stream/latency.hpp"

namespace msync::cli {

stream_outputs::stream_outputs(std::optional<output_directory>& dir, std::string command,
                               std::function<void()> reader_gone)
    : command_(std::move(command)), reader_gone_(std::move(reader_gone)) {
  if (!dir) return;
  events_.emplace(dir->file("events.jsonl"));
  ticks_.emplace(dir->file("ticks.csv"));
  if (!ticks_->append(ticks_csv_header)) report(ticks_->error());
}

bool stream_outputs::write(const update_outcome& u, const std::vector<std::string>& event_lines) {
  if (failed()) return false;
  std::string lines;
  for (const std::string& line : event_lines) lines += line;
  if (events_) {
    // Each update's lines in one unbuffered write: a consumer tailing the files sees each update
    // whole, as soon as it is done. Events first: ticks.csv never runs ahead of them.
    const std::uint64_t events_before = events_->bytes();
    if (!events_->append(lines)) return report(events_->error());
    if (!ticks_->append(ticks_csv_row(u))) {  // the update's events go too: both end at one update
      events_->take_back_to(events_before, ticks_->error());
      return report(ticks_->error());
    }
    ++updates_written_;
  } else if (!lines.empty()) {
    errno = 0;
    if (std::fputs(lines.c_str(), stdout) == EOF || std::fflush(stdout) != 0) {
      if (errno != EPIPE)
        return report("cannot write standard output: " +
                      std::string(std::strerror(errno ? errno : EIO)));
      if (!reader_gone_said_) {
        reader_gone_said_ = true;
        std::fprintf(stderr, "%s: standard output closed; stopping\n", command_.c_str());
        if (reader_gone_) reader_gone_();
      }
    }
  }
  return true;
}

void stream_outputs::sync() {
  if (failed() || !events_) return;
  if (!events_->sync()) report(events_->error());
  if (!failed() && !ticks_->sync()) report(ticks_->error());
}

bool stream_outputs::report(const std::string& why) {
  if (error_.empty()) {
    error_ = why;
    std::fprintf(stderr, "%s: %s; stopping after %lld updates written whole\n", command_.c_str(),
                 why.c_str(), static_cast<long long>(updates_written_));
  }
  return false;
}

nlohmann::json stream_summary_common(const margin_stream& stream, const backend& engine,
                                     const std::string& book, const std::string& ticks,
                                     const stream_counts& counts, const stream_latencies& latencies,
                                     const stream_journal* journal, std::int64_t replayed) {
  const book_inputs& in = stream.inputs();
  nlohmann::json j;
  j["marginsync_version"] = MSYNC_VERSION;
  j["inputs"] = {{"book", book},
                 {"ticks", ticks},
                 {"accounts", in.positions.accounts()},
                 {"positions", in.positions.positions()},
                 {"underlyings", in.market.size()}};
  j["backend"] = engine.name();
  j["device"] = engine.device();
  j["method"] = method_name(in.risk.method);
  j["scenarios"] = in.risk.scenarios;
  j["journal"] = journal ? nlohmann::json{{"file", journal->file().string()},
                                          {"replayed_updates", replayed},
                                          {"updates", journal->updates()}}
                         : nlohmann::json(nullptr);
  nlohmann::json runs = nlohmann::json::object();
  for (risk_trigger t : {risk_trigger::start, risk_trigger::deviation, risk_trigger::heartbeat,
                         risk_trigger::book_change, risk_trigger::mark, risk_trigger::settlement})
    runs[risk_trigger_name(t)] = stream.risk_runs(t);
  j["risk_runs"] = runs;
  j["latency"] = {{"tick_path", latency_json(summarize_latency(latencies.tick))},
                  {"risk_path", latency_json(summarize_latency(latencies.risk))},
                  {"book_update", latency_json(summarize_latency(latencies.book))}};
  j["mean_margin_staleness_ms"] = 1e3 * stream.mean_staleness_seconds();
  j["transitions"] = counts.transitions;
  return j;
}

void write_stream_results(output_directory& out, run_provenance provenance,
                          const nlohmann::json& summary, const margin_stream& stream,
                          std::int64_t updates) {
  describe_risk(provenance, stream.inputs().risk);
  out.write("summary.json", summary_document(provenance, summary));
  if (updates > 0)
    out.write("accounts.csv", accounts_csv(stream.inputs().positions, stream.current_revaluation(),
                                           stream.margins_in_force()));
}

}  // namespace msync::cli
