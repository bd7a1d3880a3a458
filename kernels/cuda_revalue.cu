// The CUDA backend, revaluation (cuda_backend.cuh): market inputs up (per instrument:
// instrument_inputs, through pinned memory) -> instrument risk (value, greeks, horizon decay, vol
// exposure) -> account revaluation (exposures, own funds, equity, gross and floor notional,
// liquidity add-on; large accounts split across a warp), which adds the collateral that moved to
// own funds and equity (only the accounts whose collateral moved come up, as a compact list
// through pinned memory). A book held whole keeps the result on the device; a book in chunks
// brings each chunk's part to the host, its transfers through pinned_staging.cuh.
#include "cpu/tick_path.hpp"
#include "cuda_backend.cuh"
#include "marginsync/errors.hpp"

namespace msync::cuda {

void cuda_backend::revalue(const market_state& market,
                           const std::vector<double>& collateral_change) {
  MSYNC_EXPECTS(residency_ != residency::none, "load_book first");
  MSYNC_EXPECTS(collateral_change.empty() || collateral_change.size() == book_->accounts(),
                "a collateral change per account");
  reval_at_ = held_at::nowhere;  // until the new one is complete
  event_timeline timeline(s());
  if (residency_ == residency::whole) {
    enqueue_whole_revalue(market, collateral_change, timeline);
    stream_.synchronize();  // the events are complete before they are read
    reval_at_ = held_at::device;
  } else {
    const collateral_change_view changes = enqueue_collateral_changes(collateral_change);
    enqueue_market(market, timeline);
    host_reval_ = sized_revaluation();
    const pinned_staging::scope downloads(staging_);
    // Chunk c + 1's book goes up on the copy stream while chunk c revalues (for_each_chunk); the
    // results come back through staging_ on the backend's stream, landing in host_reval_ at
    // staging_.finish.
    for_each_chunk(
        timeline,
        [&](const chunk_range& c) {
          collateral_change_view chunk_changes = changes;
          chunk_changes.account_offset = static_cast<std::uint32_t>(c.account_begin);
          launch_account_revalue(chunk_device_view(c), dev_.terms.data(), dev_.ins_inputs.data(),
                                 dev_.unit.data(), underlying_device_view(), reval_device_view(),
                                 split_device_view(), chunk_changes, s());
          timeline.mark("revalue");
        },
        [&](const chunk_range& c) {
          download_chunk_revaluation(c, host_reval_);
          timeline.mark("download");
        });
    stream_.synchronize();
    staging_.finish();
    reval_at_ = held_at::host;
  }
  stages_ = timeline.collect();
}

void cuda_backend::enqueue_market(const market_state& market, event_timeline& timeline) {
  upload_market(market);
  market_ = market;
  timeline.mark("upload market");
  launch_instrument_risk(dev_.terms.data(), dev_.ins_inputs.data(), dev_.unit.data(),
                         dev_.base_value.data(),
                         static_cast<std::uint32_t>(book_->instruments.size()),
                         params_.horizon_years(), 3.0 * params_.horizon_days, s());
}

collateral_change_view cuda_backend::enqueue_collateral_changes(
    const std::vector<double>& collateral_change) {
  // Only the accounts whose collateral moved go up: an update moves a few (a stream's deposits,
  // withdrawals and trades; funding, the perpetual holders'). The revaluation kernel adds each to
  // its account's own funds and equity; an account not listed keeps its bits (a -0.0 stays -0.0,
  // where the CPU backend adds +0.0: equal as a number).
  std::uint32_t count = 0;
  if (!collateral_change.empty()) {
    const std::size_t accounts = book_->accounts();
    // The last list's copy is done (it was followed by a wait): this costs nothing.
    MSYNC_CUDA_TRY(cudaEventSynchronize(collateral_copied_.get()));
    pinned_change_account_.reserve(accounts);
    pinned_change_.reserve(accounts);
    for (std::size_t a = 0; a < accounts; ++a)
      if (collateral_change[a] != 0.0) {  // a NaN is listed, as the CPU adds it
        pinned_change_account_.data()[count] = static_cast<std::uint32_t>(a);
        pinned_change_.data()[count] = collateral_change[a];
        ++count;
      }
    if (count > 0) {
      dev_.change_account.reserve(count, s());
      dev_.collateral_change.reserve(count, s());
      MSYNC_CUDA_TRY(cudaMemcpyAsync(dev_.change_account.data(), pinned_change_account_.data(),
                                     count * sizeof(std::uint32_t), cudaMemcpyHostToDevice, s()));
      MSYNC_CUDA_TRY(cudaMemcpyAsync(dev_.collateral_change.data(), pinned_change_.data(),
                                     count * sizeof(double), cudaMemcpyHostToDevice, s()));
      collateral_copied_.record(s());
    }
  }
  return collateral_change_view{count, dev_.change_account.data(), dev_.collateral_change.data(),
                                0};
}

void cuda_backend::enqueue_whole_revalue(const market_state& market,
                                         const std::vector<double>& collateral_change,
                                         event_timeline& timeline) {
  const collateral_change_view changes = enqueue_collateral_changes(collateral_change);
  enqueue_market(market, timeline);
  // One kernel: the accounts (large ones a warp each) with the collateral moved added.
  launch_account_revalue(chunk_device_view(chunks_.front()), dev_.terms.data(),
                         dev_.ins_inputs.data(), dev_.unit.data(), underlying_device_view(),
                         reval_device_view(), split_device_view(), changes, s());
  timeline.mark("revalue");
}

split_account_view cuda_backend::split_device_view() const {
  return split_account_view{dev_.book.split_count, dev_.book.split_account.data()};
}

revaluation cuda_backend::copy_revaluation() {
  MSYNC_EXPECTS(reval_at_ != held_at::nowhere, "revalue first");
  if (reval_at_ == held_at::host) {
    stages_.clear();
    return host_reval_;
  }
  event_timeline timeline(s());
  revaluation r = sized_revaluation();
  const pinned_staging::scope downloads(staging_);
  download_chunk_revaluation(chunks_.front(), r);
  timeline.mark("download");
  stream_.synchronize();
  staging_.finish();  // the last pieces into r
  stages_ = timeline.collect();
  return r;
}

const revaluation& cuda_backend::held_revaluation() {
  MSYNC_EXPECTS(reval_at_ != held_at::nowhere, "revalue first");
  if (reval_at_ == held_at::host) {
    stages_.clear();
    return host_reval_;
  }
  event_timeline timeline(s());
  if (host_reval_.exposure_delta.size() != book_->exposures() ||
      host_reval_.account_equity.size() != book_->accounts())
    host_reval_ = sized_revaluation();
  const pinned_staging::scope downloads(staging_);
  download_chunk_revaluation(chunks_.front(), host_reval_);
  timeline.mark("download");
  stream_.synchronize();
  staging_.finish();  // the last pieces into host_reval_
  stages_ = timeline.collect();
  return host_reval_;
}

revalued_accounts cuda_backend::copy_revaluation_of(const std::vector<std::uint32_t>& accounts) {
  MSYNC_EXPECTS(reval_at_ != held_at::nowhere, "revalue first");
  stages_.clear();
  if (reval_at_ == held_at::host) return cpu::gather_accounts(*book_, host_reval_, accounts);
  revalued_accounts out;
  for (std::uint32_t a : accounts) {
    MSYNC_EXPECTS(a < book_->accounts(), "accounts of this book");
    out.first.push_back(out.first.back() + book_->account_exposure_begin[a + 1] -
                        book_->account_exposure_begin[a]);
  }
  const std::size_t n = accounts.size(), exposures = out.first.back();
  out.equity.resize(n);
  out.own_funds.resize(n);
  out.gross_notional.resize(n);
  out.exposure_delta.resize(exposures);
  if (n == 0) return out;
  dev_.gather_accounts.reserve(n, s());
  dev_.gather_first.reserve(n + 1, s());
  dev_.gather_equity.reserve(n, s());
  dev_.gather_own_funds.reserve(n, s());
  dev_.gather_gross.reserve(n, s());
  dev_.gather_delta.reserve(std::max<std::size_t>(1, exposures), s());
  staging_.upload(dev_.gather_accounts, accounts.data(), n, s());
  staging_.upload(dev_.gather_first, out.first.data(), n + 1, s());
  launch_gather_accounts(
      account_gather_view{static_cast<std::uint32_t>(n), dev_.gather_accounts.data(),
                          dev_.gather_first.data(), dev_.gather_equity.data(),
                          dev_.gather_own_funds.data(), dev_.gather_gross.data(),
                          dev_.gather_delta.data()},
      dev_.book.account_exposure_begin.data(), reval_device_view(), s());
  const pinned_staging::scope downloads(staging_);
  staging_.download(out.equity.data(), dev_.gather_equity, n, s());
  staging_.download(out.own_funds.data(), dev_.gather_own_funds, n, s());
  staging_.download(out.gross_notional.data(), dev_.gather_gross, n, s());
  staging_.download(out.exposure_delta.data(), dev_.gather_delta, exposures, s());
  stream_.synchronize();
  staging_.finish();
  release_transfer_buffers();
  return out;
}

const revaluation& cuda_backend::host_revaluation() {
  MSYNC_EXPECTS(reval_at_ != held_at::nowhere, "revalue first");
  if (reval_at_ == held_at::device) {
    host_reval_ = copy_revaluation();
    reval_at_ = held_at::host;
  }
  return host_reval_;
}

revaluation cuda_backend::sized_revaluation() const {
  revaluation r;
  for (std::vector<double>* v : {&r.exposure_delta, &r.exposure_gamma, &r.exposure_vega,
                                 &r.exposure_theta, &r.exposure_decay, &r.exposure_vol_exposure})
    v->resize(book_->exposures());
  for (std::vector<double>* v : {&r.account_own_funds, &r.account_equity, &r.account_gross_notional,
                                 &r.account_floor_notional, &r.account_liquidity_addon})
    v->resize(book_->accounts());
  return r;
}

void cuda_backend::download_chunk_revaluation(const chunk_range& c, revaluation& r) {
  const std::size_t x = c.exposure_begin, nx = c.exposures(), a = c.account_begin,
                    na = c.accounts();
  staging_.download(r.exposure_delta.data() + x, dev_.exp_delta, nx, s());
  staging_.download(r.exposure_gamma.data() + x, dev_.exp_gamma, nx, s());
  staging_.download(r.exposure_vega.data() + x, dev_.exp_vega, nx, s());
  staging_.download(r.exposure_theta.data() + x, dev_.exp_theta, nx, s());
  staging_.download(r.exposure_decay.data() + x, dev_.exp_decay, nx, s());
  staging_.download(r.exposure_vol_exposure.data() + x, dev_.exp_vol_exposure, nx, s());
  staging_.download(r.account_own_funds.data() + a, dev_.own_funds, na, s());
  staging_.download(r.account_equity.data() + a, dev_.equity, na, s());
  staging_.download(r.account_gross_notional.data() + a, dev_.gross, na, s());
  staging_.download(r.account_floor_notional.data() + a, dev_.floor_notional, na, s());
  staging_.download(r.account_liquidity_addon.data() + a, dev_.liquidity_addon, na, s());
}

void cuda_backend::upload_chunk_revaluation(const chunk_range& c) {
  const revaluation& r = host_reval_;
  const std::size_t x = c.exposure_begin, nx = c.exposures(), a = c.account_begin,
                    na = c.accounts();
  staging_.upload(dev_.exp_delta, r.exposure_delta.data() + x, nx, s());
  staging_.upload(dev_.exp_gamma, r.exposure_gamma.data() + x, nx, s());
  staging_.upload(dev_.exp_vega, r.exposure_vega.data() + x, nx, s());
  staging_.upload(dev_.exp_theta, r.exposure_theta.data() + x, nx, s());
  staging_.upload(dev_.exp_decay, r.exposure_decay.data() + x, nx, s());
  staging_.upload(dev_.exp_vol_exposure, r.exposure_vol_exposure.data() + x, nx, s());
  staging_.upload(dev_.own_funds, r.account_own_funds.data() + a, na, s());
  staging_.upload(dev_.equity, r.account_equity.data() + a, na, s());
  staging_.upload(dev_.gross, r.account_gross_notional.data() + a, na, s());
  staging_.upload(dev_.floor_notional, r.account_floor_notional.data() + a, na, s());
  staging_.upload(dev_.liquidity_addon, r.account_liquidity_addon.data() + a, na, s());
}

}  // namespace msync::cuda
