#include "server/metrics.hpp"

#include <algorithm>

#include "io/number_parse.hpp"

namespace msync::server {

namespace {
constexpr std::size_t recent_kept = 1000;
constexpr std::size_t history_kept = 300;  // seconds

// The p99 (nearest rank: the max below 100 updates) and the max of one second's tick paths.
void set_tick_figures(second_stats& s, const std::vector<double>& tick_seconds) {
  const latency_summary l = summarize_latency(tick_seconds);
  s.tick_p99_ms = l.p99_ms;
  s.tick_max_ms = l.max_ms;
}

}  // namespace

const std::vector<double>& latency_record::bounds() {
  static const std::vector<double> b{0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025,
                                     0.005,   0.01,   0.025,   0.05,   0.1,   0.25,
                                     0.5,     1.0,    2.5,     5.0,    10.0};
  return b;
}

void latency_record::observe(double seconds) {
  std::lock_guard<std::mutex> guard(mutex_);
  const std::vector<double>& b = bounds();
  // Cumulative buckets are summed when rendered: each observation lands in its first bucket.
  const auto at = std::lower_bound(b.begin(), b.end(), seconds);
  if (at != b.end()) ++buckets_[static_cast<std::size_t>(at - b.begin())];
  ++count_;
  sum_ += seconds;
  recent_.push_back(seconds);
  if (recent_.size() > recent_kept) recent_.pop_front();
}

void latency_record::render(std::string& out, const std::string& name,
                            const std::string& help) const {
  std::lock_guard<std::mutex> guard(mutex_);
  out += "# HELP " + name + ' ' + help + "\n# TYPE " + name + " histogram\n";
  std::int64_t cumulative = 0;
  const std::vector<double>& b = bounds();
  for (std::size_t i = 0; i < b.size(); ++i) {
    cumulative += buckets_[i];
    out +=
        name + "_bucket{le=\"" + format_number(b[i]) + "\"} " + std::to_string(cumulative) + '\n';
  }
  out += name + "_bucket{le=\"+Inf\"} " + std::to_string(count_) + '\n';
  out += name + "_sum " + format_number(sum_) + '\n';
  out += name + "_count " + std::to_string(count_) + '\n';
}

latency_summary latency_record::recent() const {
  std::lock_guard<std::mutex> guard(mutex_);
  return summarize_latency(std::vector<double>(recent_.begin(), recent_.end()));
}

std::int64_t latency_record::count() const {
  std::lock_guard<std::mutex> guard(mutex_);
  return count_;
}

void second_history::close_current() {
  if (current_.updates == 0) return;
  set_tick_figures(current_, current_ticks_);
  done_.push_back(current_);
  if (done_.size() > history_kept) done_.pop_front();
  current_ = second_stats{};
  current_ticks_.clear();
}

void second_history::record(std::int64_t unix_seconds, double tick_seconds, double risk_seconds,
                            double staleness_ms) {
  std::lock_guard<std::mutex> guard(mutex_);
  if (current_.updates > 0 && current_.unix_seconds != unix_seconds) close_current();
  current_.unix_seconds = unix_seconds;
  ++current_.updates;
  current_ticks_.push_back(tick_seconds);
  if (risk_seconds > 0) current_.risk_max_ms = std::max(current_.risk_max_ms, 1e3 * risk_seconds);
  current_.staleness_ms = staleness_ms;
}

std::vector<second_stats> second_history::last(std::int64_t now_unix_seconds,
                                               std::int64_t window_seconds) const {
  std::lock_guard<std::mutex> guard(mutex_);
  std::vector<second_stats> out;
  for (const second_stats& s : done_)
    if (s.unix_seconds > now_unix_seconds - window_seconds) out.push_back(s);
  if (current_.updates > 0) {
    // The second in progress, with its figures so far.
    second_stats s = current_;
    set_tick_figures(s, current_ticks_);
    out.push_back(s);
  }
  return out;
}

}  // namespace msync::server
