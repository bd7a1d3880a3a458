#pragma once
// The CUDA backend: the book in device memory, every stage a kernel over include/ math. The class
// is defined once here and implemented by stage:
//   cuda_backend.cu       construction, load_book (plan, upload), patch_accounts, memory
//   cuda_revalue.cu       revalue, copy_revaluation, copy_revaluation_of
//   cuda_scenario_risk.cu scenario_risk, copy_risk
//   cuda_tick_path.cu     tick_states, set_tick_states, revalue_tick
// What the backend holds is described by three enums: how the book is held (residency), and
// where the revaluation and the scenario risk of the last calls are (held_at). A book held whole
// keeps its results on the device until a copy brings them to the host; a book held in chunks
// brings each chunk's results to the host as it goes, so its results are held there.
#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "chunk_plan.hpp"
#include "cuda_check.cuh"
#include "cuda_entry.hpp"
#include "device_buffer.cuh"
#include "launchers.cuh"
#include "pinned_buffer.cuh"
#include "pinned_staging.cuh"

namespace msync::cuda {

// Events recorded at named points of the stream; after a synchronize, the time between each point
// and the one before it, summed per name (so chunks add up) in order of first appearance.
class event_timeline {
 public:
  explicit event_timeline(cudaStream_t s) : stream_(s) { record(""); }
  void mark(const char* name) { record(name); }
  std::vector<stage_time> collect() const {
    std::vector<stage_time> out;
    for (std::size_t i = 1; i < events_.size(); ++i) {
      float ms = 0.0f;
      MSYNC_CUDA_TRY(cudaEventElapsedTime(&ms, events_[i - 1]->get(), events_[i]->get()));
      auto it = std::find_if(out.begin(), out.end(),
                             [&](const stage_time& t) { return t.name == names_[i]; });
      if (it == out.end())
        out.push_back(stage_time{names_[i], ms / 1e3});
      else
        it->seconds += ms / 1e3;
    }
    return out;
  }

 private:
  void record(const char* name) {
    events_.push_back(std::make_unique<event>());
    events_.back()->record(stream_);
    names_.emplace_back(name);
  }
  cudaStream_t stream_;
  std::vector<std::unique_ptr<event>> events_;
  std::vector<std::string> names_;
};

// What a chunk uploads of the book on every call (chunk_plan.hpp's upload_bytes_per_*): held twice
// for a book in chunks, so that the next chunk's upload runs while this one computes.
struct upload_set {
  device_buffer<std::uint64_t> account_position_begin, account_exposure_begin,
      exposure_position_begin;
  device_buffer<std::uint32_t> exposure_underlying, position_instrument;
  device_buffer<std::uint32_t> split_account;  // chunk-local, ascending (split_accounts)
  device_buffer<double> position_quantity, position_cost, collateral, credit, im_multiplier;
  std::uint32_t split_count = 0;  // entries of split_account for the chunk uploaded into it
  // Every buffer for a chunk of at most these counts (split_account: one entry per account, at
  // least one), allocated on `stream`.
  void reserve(std::size_t accounts, std::size_t exposures, std::size_t positions,
               cudaStream_t stream) {
    account_position_begin.reserve(accounts + 1, stream);
    account_exposure_begin.reserve(accounts + 1, stream);
    exposure_position_begin.reserve(exposures + 1, stream);
    exposure_underlying.reserve(exposures, stream);
    position_instrument.reserve(positions, stream);
    split_account.reserve(std::max<std::size_t>(1, accounts), stream);
    position_quantity.reserve(positions, stream);
    position_cost.reserve(positions, stream);
    collateral.reserve(accounts, stream);
    credit.reserve(accounts, stream);
    im_multiplier.reserve(accounts, stream);
  }
};

// Makes `main` wait, in stream order, for everything enqueued on `copy` so far, when it goes (an
// exception included): whatever the main stream does next (a buffer freed, a chunk uploaded into
// the other set) comes after the copy stream's transfers. Errors are dropped (a destructor).
class copy_join {
 public:
  copy_join(cudaStream_t copy, cudaStream_t main, cudaEvent_t done)
      : copy_(copy), main_(main), done_(done) {}
  copy_join(const copy_join&) = delete;
  copy_join& operator=(const copy_join&) = delete;
  ~copy_join() {
    if (cudaEventRecord(done_, copy_) == cudaSuccess) (void)cudaStreamWaitEvent(main_, done_, 0);
  }

 private:
  cudaStream_t copy_, main_;
  cudaEvent_t done_;
};

class cuda_backend final : public backend {
 public:
  explicit cuda_backend(const cuda_backend_options& options);
  ~cuda_backend() override;
  cuda_backend(const cuda_backend&) = delete;
  cuda_backend& operator=(const cuda_backend&) = delete;

  std::string name() const override { return "cuda"; }
  std::string device() const override {
    return chunks_.size() > 1
               ? description_ + ", book in " + std::to_string(chunks_.size()) + " chunks"
               : description_;
  }
  std::string residency_note() const override { return residency_note_; }
  void set_progress(progress_callback callback) override { progress_ = std::move(callback); }
  std::vector<stage_time> last_stages() const override { return stages_; }

  void load_book(book& b, const risk_params& params) override;
  // Patches the host copy (what a chunked book uploads) and, when the book is resident, the
  // device's copy with a small upload and one kernel. The results held are not touched.
  void patch_accounts(const account_patch& patch) override;

  void revalue(const market_state& market, const std::vector<double>& collateral_change) override;
  void scenario_risk(const scenario_source& source, const risk_params& params) override;
  // On the device while the book is resident and its results are there; otherwise on the host
  // copies (cpu/tick_path.hpp).
  std::vector<tick_change> tick_states(const tick_request& request) override;
  void set_tick_states(const std::vector<std::uint8_t>& states) override;
  // With the book held whole and the margins on the device: funding on the host, then revalue and
  // tick_states enqueued back to back and one wait for both; otherwise backend's default.
  std::vector<tick_change> revalue_tick(const market_state& market,
                                        std::vector<double>& collateral_change,
                                        const funding_accrual& funding,
                                        const tick_request* states) override;

  // Held on the host (a chunked book): host_reval_ and host_risk_ themselves. Held on the device:
  // downloaded into them, which then mirror the device's copy; the device's stays the one the
  // next stages use (where the results are held does not change).
  const revaluation& held_revaluation() override;
  const risk_result& held_risk() override;
  revaluation copy_revaluation() override;
  revalued_accounts copy_revaluation_of(const std::vector<std::uint32_t>& accounts) override;
  risk_result copy_risk() override;

 private:
  enum class residency : std::uint8_t { none, whole, chunked };
  enum class held_at : std::uint8_t { nowhere, device, host };

  cudaStream_t s() const { return stream_.get(); }
  void report_progress(const char* stage, double fraction) const {
    if (progress_) progress_(stage, fraction);
  }
  // Plans the chunks for `shape` and uploads the book when it is held whole. Whatever was on the
  // device is void from here: a revaluation or risk held there must be brought to the host first.
  void plan(const run_shape& shape);
  // The chunk's book into `into` through `staging`, on `stream` (upload_set's buffers hold it).
  void upload_chunk(const chunk_range& c, upload_set& into, pinned_staging& staging,
                    cudaStream_t stream);
  // A book in chunks, chunk by chunk in order: compute(c) enqueues chunk c's work on the backend's
  // stream, finish(c) brings its results back. Chunk c + 1's book is uploaded into the spare set
  // on the copy stream between the two, so that its transfer runs while chunk c computes; the
  // backend's stream waits for it before chunk c + 1. Marks "upload" on the timeline after each
  // wait.
  template <class Compute, class Finish>
  void for_each_chunk(event_timeline& timeline, Compute&& compute, Finish&& finish) {
    const copy_join join(copy_stream_.get(), s(), copies_joined_.get());
    upload_chunk(chunks_.front(), dev_.book, staging_, s());  // nothing to overlap with yet
    for (std::size_t i = 0; i < chunks_.size(); ++i) {
      if (i > 0) {
        std::swap(dev_.book, dev_.spare);  // chunk i, uploaded on the copy stream
        MSYNC_CUDA_TRY(cudaStreamWaitEvent(s(), spare_uploaded_.get(), 0));
      }
      timeline.mark("upload");
      // Every use of the spare set (chunk i - 1's compute) is enqueued before this point.
      spare_free_.record(s());
      compute(chunks_[i]);
      if (i + 1 < chunks_.size()) {
        MSYNC_CUDA_TRY(cudaStreamWaitEvent(copy_stream_.get(), spare_free_.get(), 0));
        upload_chunk(chunks_[i + 1], dev_.spare, upload_staging_, copy_stream_.get());
        spare_uploaded_.record(copy_stream_.get());
      }
      finish(chunks_[i]);
    }
  }
  // Frees every buffer sized by a chunk (the book's arrays, its results, the tick path's).
  void release_chunk_buffers();
  // The chunk's part of the host revaluation into the device's revaluation buffers.
  void upload_chunk_revaluation(const chunk_range& c);
  // Frees every device buffer and returns the freed memory to the device, so cudaMemGetInfo
  // sees it.
  void release_all();
  // Frees the scenario buffers a run of `shape` does not use (kept from an earlier shape).
  void release_unused(const run_shape& shape);
  // Frees the buffers of a patch or gather (sized by the call, outside the budget).
  void release_transfer_buffers();
  // The market of a revalue: per underlying spot, vol, Cholesky and the liquidity table; per
  // instrument its valuation inputs (instrument_inputs.hpp, as the CPU backend takes them).
  void upload_market(const market_state& market);
  chunk_view chunk_device_view(const chunk_range& c) const;
  // The split accounts of the chunk in dev_.book: the revaluation's warps.
  split_account_view split_device_view() const;
  revaluation_view reval_device_view();
  underlying_view underlying_device_view();
  risk_outputs risk_device_view();
  // A revaluation of the book's size, and one chunk's part of the device's copied in
  // (asynchronously).
  revaluation sized_revaluation() const;
  void download_chunk_revaluation(const chunk_range& c, revaluation& r);
  // Per-account risk arrays of the book's size (the book's numbers left at zero).
  risk_result sized_risk() const;
  // One chunk's risk outputs from the device into `out` (asynchronously, then the not-ok list
  // synchronously, rebased to book indices).
  void download_chunk_risk(const chunk_range& c, risk_result& out);
  // The revaluation and risk held, on the host (downloaded when they are on the device).
  const revaluation& host_revaluation();
  const risk_result& host_risk();

  // The device's default memory pool (the stream-ordered allocator's).
  static cudaMemPool_t default_pool(int device);

  // ---- The tick path (cuda_revalue.cu, cuda_tick_path.cu) ----
  // The market up and every instrument priced (unit risk, base values); enqueued.
  void enqueue_market(const market_state& market, event_timeline& timeline);
  // The collateral that moved up as a compact list through pinned memory (only the accounts whose
  // change is not zero), for the revaluation kernel to add; enqueued. Count 0: none moved.
  collateral_change_view enqueue_collateral_changes(const std::vector<double>& collateral_change);
  // A book held whole: the market up, and the revaluation with the collateral that moved added to
  // own funds and equity in the same kernel; enqueued, not waited for.
  void enqueue_whole_revalue(const market_state& market,
                             const std::vector<double>& collateral_change,
                             event_timeline& timeline);
  // The states kernel, the select of the changed accounts, and the first tick_capacity_ of them
  // with their count into pinned memory; enqueued, not waited for.
  void enqueue_tick_states(const tick_request& request, std::uint32_t accounts);
  // After one wait: the changes (a second round only when more than tick_capacity_ changed).
  std::vector<tick_change> finish_tick_states(const tick_request& request, std::uint32_t accounts);
  // The tick path's view of the device's buffers.
  stream_tick_view tick_view(const tick_request& request, std::uint32_t accounts);
  // At load_book: the kernels loaded, and the tick path's device and pinned buffers sized, with a
  // select over nothing, so that the first update allocates and loads nothing.
  void warm_tick_path();

  cuda_backend_options options_;
  std::string description_;
  std::uint32_t sm_count_ = 1;
  std::string residency_note_;
  progress_callback progress_;
  std::vector<stage_time> stages_;
  stream stream_;  // declared before every buffer: they are freed on it
  // A book in chunks: the next chunk's upload, while this one computes (for_each_chunk). Every
  // device buffer is allocated and freed on stream_; the copy stream only writes the spare set,
  // after an event of stream_ says its last reader is done.
  stream copy_stream_;
  event spare_free_;      // on stream_: the spare set's last reader enqueued before it
  event spare_uploaded_;  // on copy_stream_: the next chunk is in the spare set
  event copies_joined_;   // on copy_stream_: for copy_join

  // The caller's book (borrowed, load_book), for chunked uploads and patches (collateral
  // included).
  book* book_ = nullptr;
  // Of each account's tier: credit limit and IM multiplier (a patch keeps the tier).
  std::vector<double> credit_, im_multiplier_;
  risk_params params_;      // of load_book: horizon, vol term scaling, liquidity (as the CPU's)
  std::size_t budget_ = 0;  // device bytes this backend may use, fixed at load_book
  std::vector<chunk_range> chunks_;
  run_shape planned_{};
  bool use_table_ = false;

  residency residency_ = residency::none;
  held_at reval_at_ = held_at::nowhere;  // the revaluation of the last revalue
  held_at risk_at_ = held_at::nowhere;   // the scenario risk of the last scenario_risk
  market_state market_;                  // of the last revalue
  revaluation host_reval_;               // valid when reval_at_ == host (or just held_revaluation)
  risk_result host_risk_;                // whole when risk_at_ == host; the book's numbers always
  std::vector<std::uint8_t> states_;     // tick states, one per account
  bool device_states_current_ = false;   // dev_.stream_state equals states_

  // Every device buffer, so that releasing them all is one assignment.
  struct device_memory {
    // Instruments and market (whole).
    device_buffer<contract_terms> terms;
    device_buffer<std::uint32_t> ins_underlying;
    device_buffer<valuation_inputs> ins_inputs;
    device_buffer<instrument_risk> unit;
    device_buffer<double> base_value;
    device_buffer<double> spot, vol, cholesky, impact_coefficient, daily_volume;
    // One chunk's book (capacity of the largest chunk), and for a book in chunks the next chunk's,
    // uploaded on the copy stream while this one computes; the two swap chunk after chunk.
    upload_set book, spare;
    // One chunk's revaluation and risk outputs (capacity of the largest chunk).
    device_buffer<double> exp_delta, exp_gamma, exp_vega, exp_theta, exp_decay, exp_vol_exposure;
    device_buffer<double> own_funds, equity, gross, floor_notional, liquidity_addon;
    device_buffer<double> var, es, im, mm, breach, health;
    device_buffer<std::uint8_t> status, preemptive;
    device_buffer<std::uint32_t> not_ok, not_ok_count;
    device_buffer<unsigned char> select_temp;
    // Scenarios.
    device_buffer<double> scen_spot, scen_shock, d_spot, d_vol, pnl_table, mc_scratch;
    device_buffer<double> file_return, file_change;
    device_buffer<double> partial, risk_scratch, book_bad, book_tail, bad_carry;
    device_buffer<unsigned char> tile_scratch;  // `full` tiled over scenarios
    // Stream tick path.
    device_buffer<double> collateral_change, addon;
    device_buffer<std::uint32_t> change_account;  // with collateral_change: the compact list
    device_buffer<std::uint8_t> stream_state, changed, stale;
    device_buffer<std::uint32_t> changed_index, changed_count;
    device_buffer<state_change> changes;
    // Account patches.
    device_buffer<std::uint32_t> patch_accounts;
    device_buffer<std::uint64_t> patch_first;
    device_buffer<double> patch_collateral, patch_quantity, patch_cost;
    // Account gathers.
    device_buffer<std::uint32_t> gather_accounts;
    device_buffer<std::uint64_t> gather_first;
    device_buffer<double> gather_equity, gather_own_funds, gather_gross, gather_delta;
  };
  device_memory dev_;

  // Host side of what crosses PCIe on every call, page-locked (pinned_buffer.cuh): the market of a
  // revalue (packed into one block), the collateral that moved (accounts and changes), the stale
  // flags, and the changed accounts' count and records coming back; and two staging slots for the
  // rest (a chunk's book and results, a result copied on request, patches and gathers).
  pinned_buffer<unsigned char> pinned_market_;
  event market_copied_;  // recorded after the market's copies out of pinned_market_
  pinned_staging staging_;
  pinned_staging upload_staging_;  // a book in chunks: the next chunk's, on the copy stream
  // The not-ok count of a chunk's risk and the book's bad-debt mean, VaR and ES, brought back
  // through pinned memory and read after a wait.
  pinned_buffer<std::uint32_t> pinned_not_ok_count_;
  pinned_buffer<double> pinned_tail_;
  pinned_buffer<std::uint32_t> pinned_change_account_;
  pinned_buffer<double> pinned_change_;
  pinned_buffer<std::uint8_t> pinned_stale_;
  pinned_buffer<std::uint32_t> pinned_changed_count_;
  pinned_buffer<state_change> pinned_changes_;
  // Recorded after the last copies out of or into those buffers (the collateral list's; the stale
  // flags' and changes'): they are rewritten only once these have completed.
  event collateral_copied_, tick_copied_;
  // Changed accounts brought back with their count in one copy; grows with the most seen, to
  // max_tick_capacity (40 bytes each).
  static constexpr std::uint32_t max_tick_capacity = 4096;
  std::uint32_t tick_capacity_ = 256;
};

}  // namespace msync::cuda
