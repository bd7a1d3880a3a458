// The CPU backend: the same include/ functions as the CUDA backend, in OpenMP loops.
//
// Revaluation prices each instrument once (unit value and greeks), then every account sums its
// positions. Scenario risk builds the scenario set once per run and, for `full`, a table of each
// instrument's P&L per unit in every scenario (I x N), so a position's scenario P&L is q times a
// table row: exactly the full revaluation of docs/design.md section 3, with each option priced once
// per scenario rather than once per position holding it. With the table, `full` is blocked over
// scenarios (a group of accounts a tile of scenarios at a time, each account keeping only its tail
// candidates: run_blocked); otherwise each account's N losses live in a per-thread buffer and VaR
// and ES are selected there. Either way no accounts x scenarios matrix is ever stored.
//
// Determinism: per-account numbers do not depend on the thread count; book-level bad debt is
// summed per fixed chunk of accounts (chunk size a function of the account and scenario counts
// only) and the chunks are added in order, so a run repeats bit for bit with any --threads.
#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <functional>
#include <numeric>

#include "cpu/bad_debt_rows.hpp"
#include "cpu/book_bad_debt.hpp"
#include "cpu/delta_gamma_float.hpp"
#include "cpu/loss_kernels.hpp"
#include "cpu/omp_guard.hpp"
#include "cpu/revalue_pass.hpp"
#include "cpu/risk_order.hpp"
#include "cpu/scenario_set.hpp"
#include "cpu/streaming_tail.hpp"
#include "cpu/tail_select.hpp"
#include "cpu/tick_path.hpp"
#include "marginsync/account_revaluation.hpp"
#include "marginsync/backend_registry.hpp"
#include "marginsync/errors.hpp"
#include "marginsync/instrument_inputs.hpp"
#include "marginsync/scenario.hpp"
#include "marginsync/stopwatch.hpp"
#include "marginsync/valuation.hpp"

namespace msync {

namespace {

// Appends the time since construction, or since the last lap, to a backend's stage list.
class stage_stopwatch {
 public:
  explicit stage_stopwatch(std::vector<stage_time>& stages) : stages_(stages) { stages_.clear(); }
  void lap(const char* name) { stages_.push_back(stage_time{name, watch_.lap()}); }

 private:
  std::vector<stage_time>& stages_;
  stopwatch watch_;
};

// The blocked `full` loop's sizes (run_blocked in scenario_risk). A tile of 256 scenarios: one
// account's losses of a tile (2 KiB) stay in L1, and the tile of the table rows a group of
// accounts reads (a few hundred instruments, 2 KiB each) in L2. Smaller tiles cost more per
// account and tile than they save; larger ones leave L2. Clipped to the scenarios (a multiple of
// tail_block).
std::size_t full_tile(std::size_t scenarios) {
  return std::min<std::size_t>(256, (scenarios + tail_block - 1) / tail_block * tail_block);
}
// Accounts per group: the bad-debt chunk (at least 256 accounts, whose positions share table rows
// since the accounts are ordered by underlying), within 8 MiB of tail candidates per thread.
std::size_t full_group(std::size_t chunk, std::size_t kept_capacity) {
  const std::size_t budget = std::size_t{8} << 20;
  return std::clamp<std::size_t>(budget / (kept_capacity * sizeof(double)), 1, chunk);
}

class cpu_backend final : public backend {
 public:
  cpu_backend(int threads, std::size_t pnl_table_bytes)
      : threads_(threads > 0 ? threads : omp_get_max_threads()),
        pnl_table_bytes_(pnl_table_bytes) {}

  std::string name() const override { return "cpu"; }
  std::string device() const override {
    return "CPU, " + std::to_string(threads_) + " OpenMP thread" + (threads_ == 1 ? "" : "s");
  }
  std::string residency_note() const override { return {}; }
  void set_progress(progress_callback callback) override { progress_ = std::move(callback); }
  std::vector<stage_time> last_stages() const override { return stages_; }

  void load_book(book& b, const risk_params& params) override {
    stage_stopwatch watch(stages_);
    book_ = &b;  // borrowed, not copied: the book is the largest thing in memory
    // Scenario risk visits accounts grouped by the underlyings they trade, so consecutive accounts
    // read the same scenario rows while those are still in cache. Results are stored by account
    // index; only the bad-debt chunks follow this order, and it depends on the book alone.
    order_ = cpu::accounts_in_risk_order(b.account_exposure_begin, b.exposure_underlying);
    terms_.resize(b.instruments.size());
    for (std::size_t i = 0; i < terms_.size(); ++i) terms_[i] = b.instruments.terms(i);
    // Per tier, read through each account's tier index (a patch keeps the tier): two arrays per
    // account would hold 16 bytes per account for a handful of values.
    tier_credit_.resize(params.tiers.size());
    tier_im_multiplier_.resize(params.tiers.size());
    for (std::size_t t = 0; t < params.tiers.size(); ++t) {
      tier_credit_[t] = params.tiers[t].credit_limit;
      tier_im_multiplier_[t] = params.tiers[t].im_multiplier;
    }
    params_ = params;
    liquidity_ = liquidity_table{};  // of params: made again at the first revalue
    liquidity_ready_ = false;
    reval_held_ = risk_held_ = false;
    reval_ = revaluation{};
    risk_ = risk_result{};
    states_.assign(b.accounts(), 0);
    watch.lap("upload");  // the copy into the backend: what the CUDA backend's upload is
  }

  void patch_accounts(const account_patch& patch) override {
    MSYNC_EXPECTS(book_ != nullptr, "load_book before patch_accounts");
    apply_patch(*book_, patch);
  }

  void revalue(const market_state& market, const std::vector<double>& collateral_change) override {
    MSYNC_EXPECTS(book_ != nullptr, "load_book before revalue");
    MSYNC_EXPECTS(collateral_change.empty() || collateral_change.size() == book_->accounts(),
                  "a collateral change per account");
    revalue_pass(market, collateral_change.empty() ? nullptr : collateral_change.data(), nullptr,
                 funding_accrual{}, nullptr);
  }
  std::vector<tick_change> revalue_tick(const market_state& market,
                                        std::vector<double>& collateral_change,
                                        const funding_accrual& funding,
                                        const tick_request* states) override {
    MSYNC_EXPECTS(book_ != nullptr, "load_book before revalue");
    MSYNC_EXPECTS(collateral_change.empty() || collateral_change.size() == book_->accounts(),
                  "a collateral change per account");
    MSYNC_EXPECTS(!funding.any() || (funding.positions == book_ && !collateral_change.empty()),
                  "funding of the loaded book, into a collateral change per account");
    MSYNC_EXPECTS(!states || risk_held_, "scenario_risk before the tick states");
    double* change = collateral_change.empty() ? nullptr : collateral_change.data();
    revalue_pass(market, change, funding.any() ? change : nullptr, funding, states);
    if (!states) return {};
    return cpu::tick_changes(*book_, reval_, market_, risk_, *states, tick_buffers_.stale.data(),
                             states_, tick_buffers_.next);
  }
  void scenario_risk(const scenario_source& source, const risk_params& params) override;
  bool set_risk_share(const risk_share& share) override {
    if (share.parts < 1 || share.part < 0 || share.part >= share.parts) return false;
    share_ = share;
    return true;
  }

  std::vector<tick_change> tick_states(const tick_request& request) override {
    MSYNC_EXPECTS(reval_held_ && risk_held_, "revalue and scenario_risk before tick_states");
    return cpu::tick_states(*book_, reval_, market_, risk_, request, states_, threads_,
                            tick_buffers_);
  }
  void set_tick_states(const std::vector<std::uint8_t>& states) override {
    MSYNC_EXPECTS(states.size() == book_->accounts(), "a state per account");
    states_ = states;
  }

  const revaluation& held_revaluation() override {
    MSYNC_EXPECTS(reval_held_, "revalue first");
    stages_.clear();  // read in place: no stage
    return reval_;
  }
  const risk_result& held_risk() override {
    MSYNC_EXPECTS(risk_held_, "scenario_risk first");
    stages_.clear();
    return risk_;
  }
  revaluation copy_revaluation() override {
    MSYNC_EXPECTS(reval_held_, "revalue first");
    stages_.clear();  // a copy in host memory: no stage worth timing
    return reval_;
  }
  revalued_accounts copy_revaluation_of(const std::vector<std::uint32_t>& accounts) override {
    MSYNC_EXPECTS(reval_held_, "revalue first");
    stages_.clear();
    return cpu::gather_accounts(*book_, reval_, accounts);
  }
  risk_result copy_risk() override {
    MSYNC_EXPECTS(risk_held_, "scenario_risk first");
    stages_.clear();
    return risk_;
  }

 private:
  void report_progress(const char* stage, double fraction) const {
    if (progress_) progress_(stage, fraction);
  }
  // revalue and revalue_tick: funding (when given) and the tick states (when asked for) in the
  // revaluation's pass over the accounts. `change` per account or null; with funding,
  // `change_out` (per account) receives the change less the funding.
  void revalue_pass(const market_state& market, const double* change, double* change_out,
                    const funding_accrual& funding, const tick_request* states);

  int threads_;
  std::size_t pnl_table_bytes_;
  risk_share share_;  // set_risk_share: the held book's place in the whole, and this part
  progress_callback progress_;
  std::vector<stage_time> stages_;
  book* book_ = nullptr;                    // the caller's (load_book), patched in place
  std::vector<std::uint32_t> order_;        // accounts in scenario-risk processing order
  std::vector<contract_terms> terms_;       // per instrument, dense
  std::vector<double> tier_credit_;         // credit limit of each tier (book.account_tier)
  std::vector<double> tier_im_multiplier_;  // IM multiplier of each tier
  risk_params params_;                      // of load_book: horizon, vol term scaling, liquidity
  // Of the last revalue: each instrument's market and per-unit risk (value, greeks, decay).
  std::vector<valuation_inputs> inputs_;
  std::vector<instrument_risk> unit_;
  // Of the last revalue, per instrument: unit_ and terms_ as its positions read them.
  std::vector<position_terms> position_table_;
  std::vector<std::uint8_t> position_flags_;
  std::vector<double> impact_scale_;  // per underlying, of the last revalue (cascade_rules.hpp)
  liquidity_table liquidity_;         // of params_ and the market's underlyings, made once
  bool liquidity_ready_ = false;
  cpu::tick_buffers tick_buffers_;  // stale flags and new states, reused tick after tick
  // What the backend holds: the revaluation of the last revalue (at market_), the scenario risk of
  // the last scenario_risk (which a later revalue keeps: the tick path's margins), and every
  // account's tick state.
  bool reval_held_ = false, risk_held_ = false;
  market_state market_;
  revaluation reval_;
  risk_result risk_;
  std::vector<std::uint8_t> states_;
};

void cpu_backend::revalue_pass(const market_state& market, const double* change, double* change_out,
                               const funding_accrual& funding, const tick_request* states) {
  stage_stopwatch watch(stages_);
  reval_held_ = false;  // until the new revaluation is complete
  // Every buffer below keeps its size from one call to the next: a stream's tick allocates
  // nothing here (copying the market reuses market_'s storage too).
  market_ = market;
  const instrument_table& ins = book_->instruments;
  instrument_inputs(ins, market_, params_, inputs_);
  const double h = params_.horizon_years(), funding_periods = 3.0 * params_.horizon_days;
  const std::int64_t n_ins = static_cast<std::int64_t>(ins.size());
  unit_.resize(ins.size());
  position_table_.resize(ins.size());
  position_flags_.resize(ins.size());
#pragma omp parallel for num_threads(threads_) schedule(static)
  for (std::int64_t i = 0; i < n_ins; ++i) {
    unit_[i] = price_instrument(terms_[i], inputs_[i], h, funding_periods);
    // What each of its positions reads, in one cache line (account_revaluation.hpp).
    position_table_[i] = make_position_terms(unit_[i], terms_[i]);
    position_flags_[i] = position_flags(terms_[i], inputs_[i]);
  }

  // The pass writes every entry: sized, never cleared.
  revaluation& r = reval_;
  const std::size_t n_exp = book_->exposures();
  for (std::vector<double>* v : {&r.exposure_delta, &r.exposure_gamma, &r.exposure_vega,
                                 &r.exposure_theta, &r.exposure_decay, &r.exposure_vol_exposure})
    v->resize(n_exp);
  for (std::vector<double>* v : {&r.account_own_funds, &r.account_equity, &r.account_gross_notional,
                                 &r.account_floor_notional, &r.account_liquidity_addon})
    v->resize(book_->accounts());
  if (!liquidity_ready_ || liquidity_.coefficient.size() != market_.size()) {
    liquidity_ = make_liquidity_table(market_.size(), params_);
    liquidity_ready_ = true;
  }
  // Y sigma_daily per underlying at this market's vols: once here, not once per exposure.
  impact_scale_.resize(market_.size());
  for (std::size_t u = 0; u < market_.size(); ++u)
    impact_scale_[u] = impact_scale(liquidity_.coefficient[u], market_.vol[u]);
  cpu::revalue_pass pass{
      book_,
      account_revaluation_view{book_->exposure_underlying.data(),
                               book_->exposure_position_begin.data(),
                               book_->position_instrument.data(),
                               book_->position_quantity.data(),
                               book_->position_cost.data(),
                               terms_.data(),
                               inputs_.data(),
                               unit_.data(),
                               market_.spot.data(),
                               market_.vol.data(),
                               liquidity_.coefficient.data(),
                               params_.liquidity_addon ? liquidity_.daily_volume.data() : nullptr,
                               r.exposure_delta.data(),
                               r.exposure_gamma.data(),
                               r.exposure_vega.data(),
                               r.exposure_theta.data(),
                               r.exposure_decay.data(),
                               r.exposure_vol_exposure.data(),
                               position_table_.data(),
                               position_flags_.data(),
                               impact_scale_.data()},
      tier_credit_.data(),
      change,
      change_out,
      funding,
      cpu::account_outputs{r.account_own_funds.data(), r.account_equity.data(),
                           r.account_gross_notional.data(), r.account_floor_notional.data(),
                           r.account_liquidity_addon.data()},
      nullptr};
  cpu::tick_state_inputs tick{};
  if (states) {
    tick_buffers_.next.resize(book_->accounts());
    tick = cpu::tick_state_inputs{risk_.initial_margin.data(),
                                  risk_.maintenance_margin.data(),
                                  risk_.breach_probability.data(),
                                  cpu::stale_flags(market_, *states, tick_buffers_),
                                  states_.data(),
                                  tick_buffers_.next.data(),
                                  states->z,
                                  states->tau_years,
                                  states->preemptive_threshold,
                                  states->recovery_band};
    pass.states = &tick;
  }
  cpu::run_revalue_pass(pass, threads_);
  reval_held_ = true;
  watch.lap(states ? "tick path" : "revalue");  // short names: no allocation
}

void cpu_backend::scenario_risk(const scenario_source& source, const risk_params& params) {
  MSYNC_EXPECTS(reval_held_, "revalue before scenario_risk");
  stage_stopwatch watch(stages_);
  const market_state& market = market_;
  const revaluation& reval = reval_;
  const scenario_set set = build_scenario_set(market, source, params, threads_);
  const std::int64_t n = set.count;
  const std::size_t un = static_cast<std::size_t>(n);
  const double h = params.horizon_years();
  const instrument_table& ins = book_->instruments;

  // Per-unit scenario P&L of instrument i in every scenario: full revaluation at S', its own vol
  // shocked, T - h, plus the funding a perpetual pays over the horizon.
  const double funding_periods = 3.0 * params.horizon_days;
  auto instrument_pnl = [&](std::size_t i, double* row) {
    const contract_terms c = terms_[i];
    const valuation_inputs& x = inputs_[i];
    const std::uint32_t u = ins.underlying[i];
    const double base = unit_value(c, x), funding = unit_funding(c, x, funding_periods);
    for (std::size_t s = 0; s < un; ++s)
      row[s] = scenario_unit_pnl(c, x, base, funding, set.spot[u * un + s],
                                 set.vol_shock[u * un + s], set.vol_drift, h, set.term_scaled);
  };
  // The table of all instruments' rows is the fast path; a book whose table would not fit in
  // pnl_table_bytes_ prices each position's row on the fly instead (same numbers, slower).
  const bool full = params.method == risk_method::full;
  const bool use_table = full && ins.size() * un * sizeof(double) <= pnl_table_bytes_;
  std::vector<double> pnl;  // [i * N + s]
  // delta_gamma's moves dS and d [u * N + s], in double and rounded to float (the float loop,
  // delta_gamma_float.hpp), and each underlying's largest |dS| and |d| (for the float error bound).
  std::vector<double> d_spot, d_vol;
  std::vector<float> d_spot_f, d_vol_f;
  std::vector<double> max_d_spot(set.underlyings, 0.0), max_d_vol(set.underlyings, 0.0);
  if (!full) {
    d_spot.resize(set.spot.size());
    d_vol.resize(set.spot.size());
    d_spot_f.resize(set.spot.size());
    d_vol_f.resize(set.spot.size());
    for (std::size_t u = 0; u < set.underlyings; ++u)
      for (std::size_t s = 0; s < un; ++s) {
        const double ds = set.spot[u * un + s] - market.spot[u];
        const double dv = relative_vol_move(set.vol_shock[u * un + s], set.vol_drift);
        d_spot[u * un + s] = ds;
        d_vol[u * un + s] = dv;
        d_spot_f[u * un + s] = static_cast<float>(ds);
        d_vol_f[u * un + s] = static_cast<float>(dv);
        // NaN makes the maximum NaN, and the bound then sends every account on u to double.
        max_d_spot[u] = std::fabs(ds) > max_d_spot[u] || ds != ds ? std::fabs(ds) : max_d_spot[u];
        max_d_vol[u] = std::fabs(dv) > max_d_vol[u] || dv != dv ? std::fabs(dv) : max_d_vol[u];
      }
  }
  watch.lap("scenario generation");
  if (use_table) {
    pnl.resize(ins.size() * un);
    const std::int64_t n_ins = static_cast<std::int64_t>(ins.size());
#pragma omp parallel for num_threads(threads_) schedule(dynamic, 1)
    for (std::int64_t i = 0; i < n_ins; ++i)
      instrument_pnl(static_cast<std::size_t>(i), pnl.data() + i * n);
    watch.lap("scenario pricing");
  }

  const std::size_t n_acc = book_->accounts();
  risk_result& out = risk_;
  out = risk_result{};
  risk_held_ = false;  // until the new risk is complete
  out.scenarios = n;
  out.var.assign(n_acc, 0.0);
  out.es.assign(n_acc, 0.0);
  out.initial_margin.assign(n_acc, 0.0);
  out.maintenance_margin.assign(n_acc, 0.0);
  out.health.assign(n_acc, 0.0);
  out.breach_probability.assign(n_acc, 0.0);
  out.status.assign(n_acc, account_status::ok);
  out.preemptive.assign(n_acc, 0);

  const std::int64_t k = tail_count(params.confidence, n);
  // Fixed chunks of accounts, consecutive in processing order, for the bad-debt partial sums
  // (risk_share.hpp): a function of the whole book's account count and N only, never of the thread
  // count. The held book is the whole book's accounts from processing position share_.offset on (a
  // chunk boundary; 0 in one process), in the same order.
  const std::size_t whole_acc = share_.book_accounts ? share_.book_accounts : n_acc;
  const std::size_t offset = share_.offset;
  const std::size_t chunk = bad_debt_chunk_accounts(whole_acc, un);
  const std::int64_t n_chunks = static_cast<std::int64_t>((whole_acc + chunk - 1) / chunk);
  // A share of the book (set_risk_share): the chunks [first_chunk, end_chunk), contiguous, as many
  // per part as can be; their rows are kept for the caller to add after the earlier parts' sum.
  const bool shared = share_.parts > 1;
  const account_range part = share_of_accounts(whole_acc, un, share_.part, share_.parts);
  MSYNC_EXPECTS(offset % chunk == 0 && offset <= part.begin && part.end <= offset + n_acc &&
                    offset + n_acc <= whole_acc,
                "the held book holds its part's accounts, from a chunk boundary");
  const std::int64_t first_chunk = static_cast<std::int64_t>(part.begin / chunk);
  const std::int64_t end_chunk = static_cast<std::int64_t>((part.end + chunk - 1) / chunk);
  cpu::bad_debt_rows partial(static_cast<std::size_t>(n_chunks), un, !shared);
  std::atomic<std::int64_t> chunks_done{0};

  // Per-thread buffers, the selector's scratch and the progress callback allocate: an exception
  // on any thread is kept and thrown after the region (a bad_alloc becomes "out of memory").
  cpu::omp_guard guard;
#pragma omp parallel num_threads(threads_)
  {
    std::vector<double> loss, block_max, row_buffer;
    std::vector<float> loss_f, block_max_f;  // delta_gamma in float: the losses and block maxima
    // `full` works in tiles of scenarios small enough that the loss tile stays in L1 while every
    // position adds to it; the table rows stream from L2. (On-the-fly pricing works on whole
    // rows: one tile.) delta_gamma needs no tiles: it writes each loss once.
    const std::size_t tile = use_table ? 1024 : un;  // a multiple of tail_block
    std::vector<cpu::exposure_term> terms;
    // The blocked `full` loop's (run_blocked): per account of a group, its positions' rows and
    // quantities, its largest loss, its tail candidates and its numbers.
    const std::size_t block_tile = use_table ? full_tile(un) : 0;
    const std::size_t kept_capacity =
        cpu::streaming_tail::capacity(static_cast<std::size_t>(k), block_tile);
    const std::size_t group = use_table ? full_group(chunk, kept_capacity) : 0;
    std::vector<const double*> g_rows;
    std::vector<double> g_q, g_top, g_kept, g_own_funds;
    tail_selector compact_scratch;
    std::vector<std::size_t> g_begin, g_pass_b;
    std::vector<cpu::streaming_tail> g_tail;
    std::vector<tail_statistics> g_stats;
    std::vector<margin_levels> g_margins;
    std::vector<std::int64_t> g_breaches;
    std::vector<cpu::exposure_term_f> terms_f;
    tail_selector selector;
    tail_selector_f selector_f;
    guard.run([&] {
      loss.resize(un);
      block_max.resize((un + tail_block - 1) / tail_block);
      row_buffer.resize(use_table || !full ? 0 : un);
      loss_f.resize(full ? 0 : un);
      block_max_f.resize(full ? 0 : block_max.size());
      g_kept.resize(group * kept_capacity);
      g_tail.resize(group);
      g_stats.resize(group);
      g_margins.resize(group);
      g_breaches.resize(group);
    });
    auto write_account = [&](std::size_t a, const tail_statistics& tail, const margin_levels& m,
                             std::int64_t breaches) {
      const double equity = reval.account_equity[a];
      out.var[a] = tail.var;
      out.es[a] = tail.es;
      out.initial_margin[a] = m.initial;
      out.maintenance_margin[a] = m.maintenance;
      out.health[a] = health_factor(equity, m.maintenance);
      out.breach_probability[a] = static_cast<double>(breaches) / static_cast<double>(n);
      out.status[a] = margin_status(equity, m);
      out.preemptive[a] =
          preemptive_flag(out.status[a], out.breach_probability[a], params.preemptive_threshold);
    };
    // Account a's margin rule (its tier's IM multiplier), and its margin levels from its tail.
    auto rule_of = [&](std::size_t a) {
      return margin_rule{params.min_margin_rate, params.maintenance_ratio,
                         tier_im_multiplier_[book_->account_tier[a]]};
    };
    auto margins_of = [&](std::size_t a, const tail_statistics& tail) {
      return account_margins(tail.var, tail.es, params.measure == margin_measure::es,
                             reval.account_floor_notional[a], reval.account_liquidity_addon[a],
                             rule_of(a));
    };
    // Account a's numbers from its double losses l (largest: the largest of them; block_max
    // filled). Bad debt goes to the row of the account's chunk, `chunk_row`.
    auto settle = [&](std::size_t a, const double* l, double largest, std::size_t chunk_row) {
      const double equity = reval.account_equity[a];
      const double own_funds = reval.account_own_funds[a];
      const tail_statistics tail =
          selector.select(l, un, static_cast<std::size_t>(k), block_max.data());
      const margin_levels m = margins_of(a, tail);
      // Breaching is monotone in the loss. When the k-th largest loss does not breach, only
      // larger losses can, and those are all among the k the selector kept.
      const std::int64_t breaches =
          breaches_maintenance(equity, tail.var, m.maintenance)
              ? cpu::count_breaches(l, un, equity, m.maintenance)
              : cpu::count_breaches(selector.largest(), static_cast<std::size_t>(k), equity,
                                    m.maintenance);
      // Bad debt is max(0, L - own funds): zero in every scenario unless the largest loss
      // exceeds the own funds, which is rare, so most accounts never touch their chunk's row.
      if (largest > own_funds) cpu::add_bad_debt(l, un, own_funds, partial.row(chunk_row));
      write_account(a, tail, m, breaches);
    };
    // The same from float losses lf (block maxima block_max_f, each loss within loss_bound of
    // double's), kept only where they decide the account as double's would (delta_gamma_float.hpp);
    // otherwise nothing is written and the result is false. Losses, block maxima and candidates
    // stay float: every comparison is made on them through float thresholds.
    auto settle_float = [&](std::size_t a, const float* lf, double largest, double loss_bound,
                            std::size_t chunk_row) {
      const double equity = reval.account_equity[a];
      const double own_funds = reval.account_own_funds[a];
      const tail_statistics tail =
          selector_f.select(lf, un, static_cast<std::size_t>(k), block_max_f.data());
      const margin_rule rule = rule_of(a);
      const margin_levels m = margins_of(a, tail);
      const cpu::float_bounds bounds = cpu::margin_bounds(loss_bound, m, rule);
      if (!cpu::float_margins_decide(tail.var, tail.es, equity, m, bounds)) return false;
      // Which float losses breach, and which lie too near the threshold to decide: each a range
      // of losses from a float threshold up. Every loss at or above the selector's candidate floor
      // is among its candidates, so a threshold at or above that floor needs only them (the usual
      // case); a lower one needs every loss.
      const cpu::float_breach_thresholds t =
          cpu::breach_thresholds(equity, m.maintenance, cpu::breach_band(equity, m, bounds));
      const float lowest = std::fmin(t.breach_from, t.near_low);  // NaN only when both are
      const bool few = !(lowest < selector_f.candidate_floor());
      const cpu::breach_tally tally =
          few ? cpu::breach_scan(selector_f.candidates(), selector_f.candidate_count(),
                                 t.breach_from, t.near_low, t.near_high)
              : cpu::breach_scan(lf, un, t.breach_from, t.near_low, t.near_high);
      if (tally.near) return false;
      // Float losses near or above the own funds are taken in double (delta_gamma_float.hpp).
      const double cutoff = cpu::bad_debt_cutoff(own_funds, loss_bound);
      if (largest > cutoff)
        cpu::add_bad_debt_of_blocks(lf, un, block_max_f.data(), cutoff, own_funds, terms.data(),
                                    terms.size(), partial.row(chunk_row));
      write_account(a, tail, m, tally.count);
      return true;
    };
    // `full` with the P&L table, blocked over scenarios (docs/design.md 3.7): a group of accounts
    // at a time, tile by tile of scenarios, so that the table rows of the tile stay in cache
    // while every position of the group reads them, and each account's losses of a tile stay in
    // L1 (`loss`). Each account keeps only its candidates for the k largest (streaming_tail) and
    // adds its bad debt of the tile to the chunk's row as it goes (own funds are known before:
    // for each scenario the accounts add in chunk order, as account_by_account adds them). An
    // account whose k-th largest loss breaches counts its breaches in a second blocked pass over
    // the accounts that need it; the others count them among their k largest, as settle does.
    // False (the chunk to be done again account by account) when a loss is NaN.
    auto run_blocked = [&](std::size_t i_begin, std::size_t i_end, std::size_t chunk_row) {
      const std::size_t ku = static_cast<std::size_t>(k);
      for (std::size_t g0 = i_begin; g0 < i_end; g0 += group) {
        const std::size_t g1 = std::min(i_end, g0 + group), accounts = g1 - g0;
        // The group's positions: row and quantity, account by account.
        g_rows.clear();
        g_q.clear();
        g_begin.assign(1, 0);
        for (std::size_t i = g0; i < g1; ++i) {
          const std::size_t a = order_[i];
          for (std::uint64_t p = book_->account_position_begin[a];
               p < book_->account_position_begin[a + 1]; ++p) {
            g_rows.push_back(pnl.data() + std::size_t{book_->position_instrument[p]} * un);
            g_q.push_back(book_->position_quantity[p]);
          }
          g_begin.push_back(g_rows.size());
        }
        g_top.assign(accounts, -INFINITY);
        g_own_funds.resize(accounts);  // read every tile: next to each other, not by account index
        for (std::size_t j = 0; j < accounts; ++j)
          g_own_funds[j] = reval.account_own_funds[order_[g0 + j]];
        for (std::size_t j = 0; j < accounts; ++j)
          g_tail[j].reset(g_kept.data() + j * kept_capacity, ku);
        auto losses_of = [&](std::size_t j, std::size_t t0, std::size_t len) {
          return cpu::position_losses(loss.data(), len, g_rows.data() + g_begin[j], t0,
                                      g_q.data() + g_begin[j], g_begin[j + 1] - g_begin[j]);
        };
        for (std::size_t t0 = 0; t0 < un; t0 += block_tile) {
          const std::size_t len = std::min(block_tile, un - t0);
          for (std::size_t j = 0; j < accounts; ++j) {
            const double top = losses_of(j, t0, len);
            g_top[j] = tail_selector::nan_max(g_top[j], top);
            if (top > g_own_funds[j])
              cpu::add_bad_debt(loss.data(), len, g_own_funds[j], partial.row(chunk_row) + t0);
            g_tail[j].add(loss.data(), len, top, compact_scratch);
          }
        }
        // Tails, margins, and which accounts count their breaches over every scenario.
        g_pass_b.clear();
        for (std::size_t j = 0; j < accounts; ++j) {
          if (g_top[j] != g_top[j]) return false;  // a NaN loss
          const std::size_t a = order_[g0 + j];
          const double equity = reval.account_equity[a];
          g_stats[j] = selector.select(g_tail[j].kept(), g_tail[j].count(), ku);
          g_margins[j] = margins_of(a, g_stats[j]);
          const double maintenance = g_margins[j].maintenance;
          if (breaches_maintenance(equity, g_stats[j].var, maintenance)) {
            g_breaches[j] = 0;
            g_pass_b.push_back(j);
          } else {
            g_breaches[j] = cpu::count_breaches(selector.largest(), ku, equity, maintenance);
          }
        }
        for (std::size_t t0 = 0; t0 < un && !g_pass_b.empty(); t0 += block_tile) {
          const std::size_t len = std::min(block_tile, un - t0);
          for (std::size_t j : g_pass_b) {
            losses_of(j, t0, len);
            g_breaches[j] += cpu::count_breaches(
                loss.data(), len, reval.account_equity[order_[g0 + j]], g_margins[j].maintenance);
          }
        }
        for (std::size_t j = 0; j < accounts; ++j)
          write_account(order_[g0 + j], g_stats[j], g_margins[j], g_breaches[j]);
      }
      return true;
    };
    // The accounts order_[i_begin .. i_end) one by one, each with its N losses in `loss`: the
    // straightforward loop (delta_gamma, `full` priced on the fly, and a `full` chunk with a NaN
    // loss, whose bad debt must follow the rules of settle as they are).
    auto account_by_account = [&](std::size_t i_begin, std::size_t i_end, std::size_t bad) {
      for (std::size_t i = i_begin; i < i_end; ++i) {
        const std::size_t a = order_[i];
        double* l = loss.data();
        double largest = 0.0;
        if (full) {
          for (std::size_t t0 = 0; t0 < un; t0 += tile) {
            const std::size_t len = std::min(tile, un - t0);
            double* lt = l + t0;
            bool first = true;
            for (std::uint64_t p = book_->account_position_begin[a];
                 p < book_->account_position_begin[a + 1]; ++p) {
              const std::uint32_t ins_index = book_->position_instrument[p];
              const double* row = row_buffer.data();
              if (use_table)
                row = pnl.data() + ins_index * un + t0;
              else
                instrument_pnl(ins_index, row_buffer.data());
              cpu::add_position_loss(lt, row, len, book_->position_quantity[p], first);
              first = false;
            }
            if (first) std::fill(lt, lt + len, 0.0);  // no positions: no loss
            const double tile_top = cpu::block_maxima(lt, len, block_max.data() + t0 / tail_block);
            largest = t0 == 0 ? tile_top : std::max(largest, tile_top);
          }
        } else {
          // Accounts come in underlying order, not index order: their numbers are scattered
          // reads, fetched ahead (a few accounts' arithmetic hides the memory latency).
          if (i + 4 < i_end)
            __builtin_prefetch(book_->account_exposure_begin.data() + order_[i + 4]);
          if (i + 2 < i_end) {
            const std::size_t ahead = order_[i + 2];
            const std::uint64_t x0 = book_->account_exposure_begin[ahead];
            for (const double* v :
                 {reval.exposure_delta.data(), reval.exposure_gamma.data(),
                  reval.exposure_vol_exposure.data(), reval.exposure_decay.data()})
              __builtin_prefetch(v + x0);
            __builtin_prefetch(book_->exposure_underlying.data() + x0);
            for (const double* v :
                 {reval.account_equity.data(), reval.account_own_funds.data(),
                  reval.account_floor_notional.data(), reval.account_liquidity_addon.data()})
              __builtin_prefetch(v + ahead);
            __builtin_prefetch(book_->account_tier.data() + ahead);
          }
          // The account's terms in double and in float, and the float losses' error bound.
          terms.clear();
          terms_f.clear();
          double magnitude = 0.0, sensitivity_sum = 0.0, reach_spot = 0.0, reach_vol = 0.0;
          for (std::uint64_t x = book_->account_exposure_begin[a];
               x < book_->account_exposure_begin[a + 1]; ++x) {
            const std::size_t u = book_->exposure_underlying[x];
            const exposure_sensitivity e =
                make_exposure_sensitivity(reval.exposure_delta[x], reval.exposure_gamma[x],
                                          reval.exposure_vol_exposure[x], reval.exposure_decay[x]);
            terms.push_back(cpu::exposure_term{d_spot.data() + u * un, d_vol.data() + u * un, e});
            terms_f.push_back(cpu::exposure_term_f{d_spot_f.data() + u * un,
                                                   d_vol_f.data() + u * un, round_to_float(e)});
            magnitude += delta_gamma_term_magnitude(e, max_d_spot[u], max_d_vol[u]);
            sensitivity_sum += std::fabs(e.delta) + std::fabs(e.half_gamma) +
                               std::fabs(e.vol_exposure) + std::fabs(e.decay);
            reach_spot = std::max(reach_spot, max_d_spot[u]);  // NaN-free: magnitude has it
            reach_vol = std::max(reach_vol, max_d_vol[u]);
          }
          const double loss_bound =
              delta_gamma_float_error_bound(magnitude, sensitivity_sum, reach_spot, reach_vol,
                                            static_cast<unsigned>(terms.size()));
          if (std::isfinite(loss_bound)) {
            const double top = cpu::delta_gamma_losses_float(loss_f.data(), un, terms_f.data(),
                                                             terms_f.size(), block_max_f.data());
            if (settle_float(a, loss_f.data(), top, loss_bound, bad)) continue;
          }
          // The float losses do not decide this account, or cannot be trusted
          // (delta_gamma_float.hpp): in double.
          largest = cpu::delta_gamma_losses(l, un, terms.data(), terms.size(), block_max.data());
        }
        settle(a, l, largest, bad);
      }
    };
#pragma omp for schedule(dynamic, 1)
    for (std::int64_t c = first_chunk; c < end_chunk; ++c)
      guard.run([&] {
        const std::size_t bad = static_cast<std::size_t>(c);  // the chunk's bad-debt row
        // The chunk's accounts, as positions in the held book's processing order.
        const std::size_t i_begin = static_cast<std::size_t>(c) * chunk - offset;
        const std::size_t i_end =
            std::min(whole_acc, static_cast<std::size_t>(c + 1) * chunk) - offset;
        if (!use_table || !run_blocked(i_begin, i_end, bad)) {
          partial.clear_row(bad);  // a blocked attempt may have added to it
          account_by_account(i_begin, i_end, bad);
        }
        partial.done(static_cast<std::size_t>(c));
        const std::int64_t done = ++chunks_done;
        // Only the first thread reports, so the callback is never called concurrently.
        if (omp_get_thread_num() == 0)
          report_progress("scenario risk",
                          static_cast<double>(done) / static_cast<double>(end_chunk - first_chunk));
      });
  }
  guard.rethrow();

  report_progress("scenario risk", 1.0);

  if (shared) {
    // The book-level numbers need every part's rows: the caller adds them (docs/design.md 16).
    out.share_accounts.assign(order_.begin() + static_cast<std::ptrdiff_t>(part.begin - offset),
                              order_.begin() + static_cast<std::ptrdiff_t>(part.end - offset));
    out.share_bad_debt_rows = partial.take_rows(static_cast<std::size_t>(first_chunk),
                                                static_cast<std::size_t>(end_chunk));
    out.bad_debt_mean = out.bad_debt_var = out.bad_debt_es = std::nan("");
  } else {
    const book_bad_debt bad = book_bad_debt_of(partial.sum(), static_cast<std::size_t>(k));
    out.bad_debt_mean = bad.mean;
    out.bad_debt_var = bad.var;
    out.bad_debt_es = bad.es;
  }
  out.not_ok_accounts.reserve(static_cast<std::size_t>(
      std::count_if(out.status.begin(), out.status.end(),
                    [](account_status s) { return s != account_status::ok; })));
  for (std::size_t a = 0; a < n_acc; ++a)
    if (out.status[a] != account_status::ok)
      out.not_ok_accounts.push_back(static_cast<std::uint32_t>(a));
  risk_held_ = true;
  watch.lap("scenario risk");  // losses, VaR/ES, breaches, health and status, bad debt
}

}  // namespace

std::unique_ptr<backend> make_cpu_backend(int threads, std::size_t pnl_table_bytes) {
  return std::make_unique<cpu_backend>(threads, pnl_table_bytes);
}

}  // namespace msync
