#pragma once
// The backend interface: a fixed set of operations on what the backend holds, chosen at run time
// (--backend auto|cpu|cuda, backend_registry.hpp). Host types only, so the CPU-only build never
// sees a device type.
//
// A backend works on one book, borrowed from the caller, and holds the results of the last
// operation of each kind on it:
//   load_book       the book (the CUDA backend uploads it; a book larger than the device memory
//                   budget is held in chunks); discards every result held.
//   patch_accounts  new positions and collateral for some accounts, in place; results held
//                   describe the book as it was when they were computed.
//   revalue         the revaluation at a market state (per exposure: greeks; per account: equity,
//                   gross notional), with per-account collateral changes added to equity.
//   scenario_risk   the scenario risk of docs/design.md section 3 on the revaluation held, at its
//   market: per
//                   account VaR, ES, margins, health, status, breach probability; book bad debt.
//   tick_states     a stream's account states against the margins of the last scenario_risk
//                   widened by the staleness add-on; only the accounts whose state changed.
//   revalue_tick    a stream update's tick path in one call: funding, revalue and (unless the
//                   risk path runs in between) tick_states; the CPU backend does all three in one
//                   pass over the accounts.
// Results stay on the backend (in device memory for a GPU) until a caller asks for them: borrowed
// where they lie (held_revaluation, held_risk: no copy on the CPU), or as an explicit copy
// (copy_revaluation whole or gathered for some accounts, copy_risk).
//
// Every method may throw (std::logic_error for a call out of order, std::runtime_error for a
// device failure); a backend that threw must be given load_book again before further use.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "marginsync/account_patch.hpp"
#include "marginsync/book.hpp"
#include "marginsync/funding.hpp"
#include "marginsync/market.hpp"
#include "marginsync/risk_params.hpp"
#include "marginsync/risk_rules.hpp"
#include "marginsync/risk_share.hpp"
#include "marginsync/scenario_source.hpp"

namespace msync {

// Per exposure and per account results of revaluing the book at one market state (a host copy).
struct revaluation {
  std::vector<double> exposure_delta;  // units of the underlying (dV/dS)
  std::vector<double> exposure_gamma;  // per unit of underlying price (d2V/dS2)
  std::vector<double> exposure_vega;   // quote currency per 1.00 of vol (dV/dsigma)
  std::vector<double> exposure_theta;  // quote currency per year (dV/dt, calendar time)
  // Quote currency over the risk horizon: the value change at unchanged spot and vol (time decay,
  // futures' carry, perpetual funding paid), docs/design.md 3.4.
  std::vector<double> exposure_decay;
  // Quote currency per 1.00 of relative vol move: sum of q vega sigma g over the exposure's options
  // (sigma each option's own vol, g its tenor scaling), what delta_gamma's vega term multiplies.
  std::vector<double> exposure_vol_exposure;
  std::vector<double> account_own_funds;       // collateral + sum of position values (+ changes)
  std::vector<double> account_equity;          // own funds + credit limit
  std::vector<double> account_gross_notional;  // sum |q m S|, quote currency
  // sum |q m S| over the positions the notional floor applies to: not long options, not settled.
  std::vector<double> account_floor_notional;
  std::vector<double> account_liquidity_addon;  // quote currency, docs/design.md 3.5
};

// Some accounts' part of a revaluation (what closing them out needs): equity and gross notional
// of accounts[i], and the delta of each of its exposures in book order,
// exposure_delta[first[i], first[i + 1]).
struct revalued_accounts {
  std::vector<double> equity, own_funds, gross_notional;
  std::vector<std::uint64_t> first{0};
  std::vector<double> exposure_delta;
};

// Scenario risk of every account and of the book (a host copy). Money in quote currency.
struct risk_result {
  std::int64_t scenarios = 0;
  std::vector<double> var;
  std::vector<double> es;
  std::vector<double> initial_margin;
  std::vector<double> maintenance_margin;
  std::vector<double> health;
  std::vector<double> breach_probability;  // fraction of scenarios, [0, 1]
  std::vector<account_status> status;
  std::vector<std::uint8_t> preemptive;
  // Indices of the accounts whose status is not ok, ascending: what a venue acts on.
  std::vector<std::uint32_t> not_ok_accounts;
  // Book level: bad debt B_s = sum_a max(0, L_as - E_a); its mean, VaR and ES at `confidence`.
  double bad_debt_mean = 0.0;
  double bad_debt_var = 0.0;
  double bad_debt_es = 0.0;
  // Only after scenario_risk on part of a book split between ranks (set_risk_share with parts > 1,
  // docs/design.md 16): the accounts this part computed, as indices of the held book (the others
  // keep the defaults above), in the order the bad debt was added, and the bad-debt row of each of
  // its chunks, in chunk order (empty: no bad debt in that chunk). The book-level numbers above are
  // then not computed (NaN): they need every part's rows.
  std::vector<std::uint32_t> share_accounts;
  std::vector<std::vector<double>> share_bad_debt_rows;
};

// A stream's tick path (docs/design.md, "Streaming"): what tick_states needs besides what the
// backend holds.
struct tick_request {
  double z = 0.0;          // standard normal quantile at `confidence`
  double tau_years = 0.0;  // stream time since the last risk run, years (ACT/365)
  double preemptive_threshold = 0.0;
  // Relative band an account must clear a threshold by to move to a better state (risk.json
  // recovery_band; 0: the state follows the thresholds both ways).
  double recovery_band = 0.0;
  const std::vector<std::uint8_t>* stale_underlying = nullptr;  // per underlying: 1 when stale
};

// An account whose stream state changed on the tick path, with the numbers behind it (margins
// are those in force: the last risk run's plus the staleness add-on).
struct tick_change {
  std::uint32_t account = 0;
  std::uint8_t state = 0;  // stream_state (stream_rules.hpp)
  double equity = 0.0, initial_margin = 0.0, maintenance_margin = 0.0, breach_probability = 0.0;
};

// Progress of a long stage: its name and the fraction done, in [0, 1]. Called from one thread at a
// time (never concurrently), a few hundred times per stage at most.
using progress_callback = std::function<void(const char* stage, double fraction)>;

// How long one stage of the last call took, measured inside the backend (device events on the GPU,
// a steady clock on the CPU), for `marginsync bench`. Seconds.
struct stage_time {
  std::string name;
  double seconds;
};

class backend {
 public:
  virtual ~backend() = default;

  virtual std::string name() const = 0;    // "cpu" or "cuda"
  virtual std::string device() const = 0;  // human description: CPU threads, GPU name
  // After load_book: how the book is held when that is worth telling (e.g. in chunks), or empty.
  virtual std::string residency_note() const = 0;
  virtual void set_progress(progress_callback callback) = 0;
  // The stages of the last load_book, revalue, scenario_risk or copy, in order, with their times.
  virtual std::vector<stage_time> last_stages() const = 0;

  // The book. The backend borrows `b` rather than copying it (the book is the largest thing a run
  // holds: a copy would cost its size again): `b` must stay alive and in place until the next
  // load_book or the backend's end, and the caller changes it only through patch_accounts or by
  // calling load_book again (a GPU backend keeps a device copy of what it uploaded). Every
  // account's tick state starts ok.
  virtual void load_book(book& b, const risk_params& params) = 0;
  // Writes `patch` into the loaded book in place (liquidations and undoing them) at a cost in the
  // accounts it touches, not the book: into `b` itself, so the caller sees the patched book (a
  // patch the caller already applied to `b` is applied again, which writes the same values).
  // Checked first (apply_patch's rules): a patch that does not fit throws std::logic_error and
  // changes nothing.
  virtual void patch_accounts(const account_patch& patch) = 0;

  // Revalues the book at `market` and holds the result, with collateral_change[a] (quote
  // currency; empty for none) added to account a's equity.
  virtual void revalue(const market_state& market,
                       const std::vector<double>& collateral_change) = 0;
  // Scenario risk of the revaluation held, at its market; holds the result.
  virtual void scenario_risk(const scenario_source& scenarios, const risk_params& params) = 0;
  // Every account's stream state (stream_rules.hpp) from the revaluation held, against the margins
  // of the last scenario_risk widened by the staleness add-on; returns the accounts whose state
  // changed since the last call, ascending.
  virtual std::vector<tick_change> tick_states(const tick_request& request) = 0;
  // Restores the tick states (one stream_state per account), e.g. after the book is loaded again.
  virtual void set_tick_states(const std::vector<std::uint8_t>& states) = 0;

  // A stream update's tick path (docs/design.md 8.2): first `funding` (of the loaded book's
  // perpetual positions; none when !funding.any()) is subtracted from `collateral_change`, one
  // entry per account, which is left holding the collateral moved including it; then revalue at
  // `market` with those changes; then, when `states` is given, tick_states(*states), whose
  // changes come back (none without `states`: the caller runs scenario_risk, then tick_states).
  // The same numbers, bit for bit, as accrue_funding (funding.hpp), revalue and tick_states one
  // after the other, which is what this default does; the CPU backend overrides it with one pass
  // over the accounts, without allocating once its buffers are sized.
  virtual std::vector<tick_change> revalue_tick(const market_state& market,
                                                std::vector<double>& collateral_change,
                                                const funding_accrual& funding,
                                                const tick_request* states) {
    accrue_funding(funding, collateral_change);
    revalue(market, collateral_change);
    if (!states) return {};
    return tick_states(*states);
  }

  // The results held, read on the host where the backend keeps them, without a copy of the
  // caller's own: the CPU backend's own arrays; a GPU backend downloads them (on each call) into
  // host memory it keeps. A run that reads its results once holds them once (a revaluation is
  // about 12 bytes per position). The reference stays valid, and what it reads unchanged, until
  // the next load_book, revalue or revalue_tick (the revaluation) or load_book or scenario_risk
  // (the risk) and while the backend lives; a caller that keeps them longer copies them.
  virtual const revaluation& held_revaluation() = 0;
  virtual const risk_result& held_risk() = 0;

  // Scenario risk for part `share.part` of `share.parts` of the whole book's fixed bad-debt chunks
  // (risk_share.hpp), contiguous in account order, for a run across ranks (docs/design.md 16); the
  // held book is the whole book's accounts from `share.offset` on, and holds the part's accounts.
  // The default share is one process with the whole book. Takes effect at the next scenario_risk.
  // Returns false, and changes nothing, where the backend cannot split its scenario risk this way
  // (the CUDA backend today).
  virtual bool set_risk_share(const risk_share& share) {
    return share.part == 0 && share.parts == 1 && share.offset == 0;
  }

  // Explicit copies to the host of the results held.
  virtual revaluation copy_revaluation() = 0;
  // Those accounts' part of the revaluation held (a GPU gathers them on the device).
  virtual revalued_accounts copy_revaluation_of(const std::vector<std::uint32_t>& accounts) = 0;
  virtual risk_result copy_risk() = 0;
};

}  // namespace msync
