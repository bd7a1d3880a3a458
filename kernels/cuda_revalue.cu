// The CUDA backend, revaluation (cuda_backend.cuh): market inputs up (per instrument:
// instrument_inputs) -> instrument risk (value, greeks, horizon decay, vol exposure) -> account
// revaluation (exposures, own funds, equity, gross and floor notional, liquidity add-on) ->
// collateral changes added to own funds and equity (for a book held whole, only the accounts whose
// collateral moved, as a compact list through pinned memory). A book held whole keeps the result on
// the device; a book in chunks brings each chunk's part to the host.
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
  const std::uint32_t accounts = static_cast<std::uint32_t>(book_->accounts());
  if (residency_ == residency::whole) {
    enqueue_whole_revalue(market, collateral_change, timeline);
    stream_.synchronize();  // the events are complete before they are read
    reval_at_ = held_at::device;
  } else {
    enqueue_market(market, timeline);
    host_reval_ = sized_revaluation();
    for (const chunk_range& c : chunks_) {
      upload_chunk(c);
      timeline.mark("upload");
      launch_account_revalue(chunk_device_view(c), dev_.terms.data(), dev_.ins_inputs.data(),
                             dev_.unit.data(), underlying_device_view(), reval_device_view(), s());
      timeline.mark("revalue");
      download_chunk_revaluation(c, host_reval_);
      timeline.mark("download");
    }
    stream_.synchronize();
    // Added after the positions, as the device adds it for a book held whole.
    if (!collateral_change.empty())
      for (std::size_t a = 0; a < accounts; ++a) {
        host_reval_.account_own_funds[a] += collateral_change[a];
        host_reval_.account_equity[a] += collateral_change[a];
      }
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

void cuda_backend::enqueue_whole_revalue(const market_state& market,
                                         const std::vector<double>& collateral_change,
                                         event_timeline& timeline) {
  // Only the accounts whose collateral moved go up: an update moves a few (a stream's deposits,
  // withdrawals and trades; funding, the perpetual holders'). Adding +0.0 would change nothing but
  // a -0.0 own funds or equity to +0.0, equal as a number (the CPU backend adds it).
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
  enqueue_market(market, timeline);
  launch_account_revalue(chunk_device_view(chunks_.front()), dev_.terms.data(),
                         dev_.ins_inputs.data(), dev_.unit.data(), underlying_device_view(),
                         reval_device_view(), s());
  // In stream order after the revaluation, which wrote own funds and equity.
  launch_apply_collateral_changes(dev_.change_account.data(), dev_.collateral_change.data(), count,
                                  dev_.own_funds.data(), dev_.equity.data(), s());
  timeline.mark("revalue");
}

revaluation cuda_backend::copy_revaluation() {
  MSYNC_EXPECTS(reval_at_ != held_at::nowhere, "revalue first");
  if (reval_at_ == held_at::host) {
    stages_.clear();
    return host_reval_;
  }
  event_timeline timeline(s());
  revaluation r = sized_revaluation();
  download_chunk_revaluation(chunks_.front(), r);
  timeline.mark("download");
  stream_.synchronize();
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
  download_chunk_revaluation(chunks_.front(), host_reval_);
  timeline.mark("download");
  stream_.synchronize();
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
  dev_.gather_accounts.upload(accounts, s());
  dev_.gather_first.upload(out.first, s());
  launch_gather_accounts(
      account_gather_view{static_cast<std::uint32_t>(n), dev_.gather_accounts.data(),
                          dev_.gather_first.data(), dev_.gather_equity.data(),
                          dev_.gather_own_funds.data(), dev_.gather_gross.data(),
                          dev_.gather_delta.data()},
      dev_.account_exposure_begin.data(), reval_device_view(), s());
  dev_.gather_equity.download(out.equity.data(), n, s());
  dev_.gather_own_funds.download(out.own_funds.data(), n, s());
  dev_.gather_gross.download(out.gross_notional.data(), n, s());
  dev_.gather_delta.download(out.exposure_delta.data(), exposures, s());
  stream_.synchronize();
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
  dev_.exp_delta.download(r.exposure_delta.data() + x, nx, s());
  dev_.exp_gamma.download(r.exposure_gamma.data() + x, nx, s());
  dev_.exp_vega.download(r.exposure_vega.data() + x, nx, s());
  dev_.exp_theta.download(r.exposure_theta.data() + x, nx, s());
  dev_.exp_decay.download(r.exposure_decay.data() + x, nx, s());
  dev_.exp_vol_exposure.download(r.exposure_vol_exposure.data() + x, nx, s());
  dev_.own_funds.download(r.account_own_funds.data() + a, na, s());
  dev_.equity.download(r.account_equity.data() + a, na, s());
  dev_.gross.download(r.account_gross_notional.data() + a, na, s());
  dev_.floor_notional.download(r.account_floor_notional.data() + a, na, s());
  dev_.liquidity_addon.download(r.account_liquidity_addon.data() + a, na, s());
}

void cuda_backend::upload_chunk_revaluation(const chunk_range& c) {
  const revaluation& r = host_reval_;
  const std::size_t x = c.exposure_begin, nx = c.exposures(), a = c.account_begin,
                    na = c.accounts();
  dev_.exp_delta.upload(r.exposure_delta.data() + x, nx, s());
  dev_.exp_gamma.upload(r.exposure_gamma.data() + x, nx, s());
  dev_.exp_vega.upload(r.exposure_vega.data() + x, nx, s());
  dev_.exp_theta.upload(r.exposure_theta.data() + x, nx, s());
  dev_.exp_decay.upload(r.exposure_decay.data() + x, nx, s());
  dev_.exp_vol_exposure.upload(r.exposure_vol_exposure.data() + x, nx, s());
  dev_.own_funds.upload(r.account_own_funds.data() + a, na, s());
  dev_.equity.upload(r.account_equity.data() + a, na, s());
  dev_.gross.upload(r.account_gross_notional.data() + a, na, s());
  dev_.floor_notional.upload(r.account_floor_notional.data() + a, na, s());
  dev_.liquidity_addon.upload(r.account_liquidity_addon.data() + a, na, s());
}

}  // namespace msync::cuda
