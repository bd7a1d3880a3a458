#pragma once
// The backend interface, chosen at run time (--backend auto|cpu|cuda). Host types only: the CUDA
// backend keeps its device types behind this interface, so the CPU-only build never sees them.
//
// Data flow: load_book once (the CUDA backend uploads it), then for each market state revalue,
// then scenario_risk on that revaluation; patch_accounts changes some accounts' positions in
// between. Results come back as host arrays.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "marginsync/account_patch.hpp"
#include "marginsync/book.hpp"
#include "marginsync/market.hpp"
#include "marginsync/risk_params.hpp"
#include "marginsync/risk_rules.hpp"
#include "marginsync/scenario_source.hpp"

namespace msync {

// Per exposure and per account results of revaluing the book at one market state.
struct revaluation {
  // Set by a backend that keeps its own copy of these numbers (the CUDA backend keeps them in
  // device memory): scenario_risk then uses that copy instead of uploading these vectors again.
  // 0 = no such copy. A caller that changes the vectors must reset it.
  std::uint64_t resident_tag = 0;
  std::vector<double> exposure_delta;  // units of the underlying (dV/dS)
  std::vector<double> exposure_gamma;  // per unit of underlying price
  std::vector<double> exposure_vega;   // per 1.00 of vol
  std::vector<double> exposure_theta;  // per year
  std::vector<double> account_equity;  // collateral + credit limit + sum of position values
  std::vector<double> account_gross_notional;  // sum |q m S|
};

// Scenario risk of every account and of the book.
struct risk_result {
  std::int64_t scenarios = 0;
  std::vector<double> var;
  std::vector<double> es;
  std::vector<double> initial_margin;
  std::vector<double> maintenance_margin;
  std::vector<double> health;
  std::vector<double> breach_probability;
  std::vector<account_status> status;
  std::vector<std::uint8_t> preemptive;
  // Indices of the accounts whose status is not ok, ascending: what a venue acts on.
  std::vector<std::uint32_t> not_ok_accounts;
  // Book level: bad debt B_s = sum_a max(0, L_as - E_a); its mean, VaR and ES at `confidence`.
  double bad_debt_mean = 0.0;
  double bad_debt_var = 0.0;
  double bad_debt_es = 0.0;
};

// A stream's tick path (README "Streaming"), what the backend needs besides the market.
struct tick_request {
  double z = 0.0;                     // standard normal quantile at `confidence`
  double tau_years = 0.0;             // stream time since the last risk run
  double preemptive_threshold = 0.0;
  const std::vector<std::uint8_t>* stale_underlying = nullptr;  // per underlying: 1 when stale
};

// An account whose stream state changed on the tick path, with the numbers behind it.
struct tick_change {
  std::uint32_t account = 0;
  std::uint8_t state = 0;  // stream_state (stream_rules.hpp)
  double equity = 0.0, initial_margin = 0.0, maintenance_margin = 0.0, breach_probability = 0.0;
};

// What closing some accounts out needs of the last stream_revalue, without the whole
// revaluation: each account's equity and gross notional, and the delta of each of its exposures
// (in book order), exposure_delta[first[i], first[i + 1]) for accounts[i].
struct revalued_accounts {
  std::vector<double> equity, gross_notional;
  std::vector<std::uint64_t> first{0};
  std::vector<double> exposure_delta;
};

// Progress of a long stage: its name and the fraction done, in [0, 1]. Called from one thread at a
// time (never concurrently), a few hundred times per stage at most.
using progress_callback = std::function<void(const char* stage, double fraction)>;

// How long one stage of the last call took, measured inside the backend (device events on the GPU,
// a steady clock on the CPU), for `marginsync bench`.
struct stage_time {
  std::string name;
  double seconds;
};

class backend {
 public:
  virtual ~backend() = default;
  void set_progress(progress_callback callback) { progress_ = std::move(callback); }

  virtual std::string name() const = 0;    // "cpu" or "cuda"
  virtual std::string device() const = 0;  // human description: CPU threads, GPU name
  // After load_book: how the book is held when that is worth telling (e.g. in chunks), or empty.
  virtual std::string residency_note() const { return {}; }
  // Makes the book resident. The backend keeps its own copy; `b` may be discarded after.
  virtual void load_book(const book& b, const risk_params& params) = 0;
  // Writes `patch` into the loaded book in place (liquidations and undoing them) at a cost in the
  // accounts it touches, not the book. Any earlier revaluation no longer describes the book.
  virtual void patch_accounts(const account_patch& patch) = 0;
  virtual revaluation revalue(const market_state& market) = 0;
  virtual risk_result scenario_risk(const market_state& market, const scenario_source& scenarios,
                                    const risk_params& params, const revaluation& reval) = 0;
  // The tick path of a stream, in two calls so that a risk run can come between them:
  // stream_revalue revalues at `market` and adds `collateral_change` (per account; empty for
  // none) to equity. A backend that keeps the book elsewhere (a GPU) keeps the numbers there and
  // returns only their resident_tag, which scenario_risk accepts; stream_revaluation() brings
  // them back whole. stream_states then takes every account's state (stream_rules.hpp) against
  // `margins` widened by the staleness add-on and returns only the accounts whose state changed
  // since the last call. States start ok at load_book; set_stream_states restores them after a
  // book is loaded again. The host implementations below serve the CPU backend.
  // The result stays valid until the next call.
  virtual const revaluation& stream_revalue(const market_state& market, const std::vector<double>& collateral_change);
  virtual std::vector<tick_change> stream_states(const risk_result& margins, const tick_request& request);
  virtual void set_stream_states(const std::vector<std::uint8_t>& states);
  virtual revaluation stream_revaluation() { return stream_reval_; }
  // The numbers of `accounts` from the last stream_revalue (a GPU gathers them on the device and
  // brings back only those). A patch_accounts since does not change them; call it before any
  // other revalue or scenario_risk on a caller's revaluation (a GPU refuses after one).
  virtual revalued_accounts stream_accounts(const std::vector<std::uint32_t>& accounts);

  // The stages of the last load_book, revalue or scenario_risk call, in order, with their times.
  const std::vector<stage_time>& last_stages() const { return stages_; }

 protected:
  void report_progress(const char* stage, double fraction) const {
    if (progress_) progress_(stage, fraction);
  }
  bool has_progress() const { return static_cast<bool>(progress_); }
  std::vector<stage_time> stages_;
  // Every backend calls this at the end of load_book with its own copy of the book.
  void book_loaded(const book& b) {
    stream_book_ = &b;
    stream_state_.assign(b.accounts(), 0);
  }
  // The host tick path's state: the book's layout and market of the last stream_revalue, the
  // revaluation and every account's stream state.
  const book* stream_book_ = nullptr;
  int stream_threads_ = 0;  // OpenMP threads of the host tick path (0: all)
  market_state stream_market_;
  revaluation stream_reval_;
  std::vector<std::uint8_t> stream_state_;

 private:
  progress_callback progress_;
};

enum class backend_choice : std::uint8_t { automatic, cpu, cuda };

// The CPU backend with `threads` OpenMP threads (0: all available). `full` scenario risk keeps a
// table of every instrument's P&L per scenario while it fits in `pnl_table_bytes`; beyond that it
// prices each position's scenarios on the fly (same numbers, slower).
constexpr std::size_t default_pnl_table_bytes = std::size_t{2} << 30;
std::unique_ptr<backend> make_cpu_backend(int threads,
                                          std::size_t pnl_table_bytes = default_pnl_table_bytes);

struct backend_selection {
  std::unique_ptr<backend> instance;
  std::string note;  // what was chosen and why, for stderr
};

// auto: CUDA when built with it and a device is usable, else the CPU (the note says why).
// cuda: throws backend_unavailable with the reason when it cannot be used. `max_device_bytes`
// caps the CUDA backend's device memory (0: 90% of what is free); a book that does not fit is
// processed in chunks.
backend_selection select_backend(backend_choice choice, int cpu_threads, std::size_t max_device_bytes = 0);

}  // namespace msync
