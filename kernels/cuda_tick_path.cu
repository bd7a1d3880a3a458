// The CUDA backend, a stream's tick path (cuda_backend.cuh): with the book held whole and the
// revaluation and margins on the device, every account's add-on and state in a kernel over
// include/marginsync/stream_rules.hpp, a CUB select of the accounts whose state changed, and only
// those come back, with their count, in one copy after one wait (a second round only when more
// changed than were brought back). revalue_tick enqueues the revaluation in front of it, so that a
// tick waits once. Otherwise (a book in chunks) the same rule on the host copies.
#include "cpu/tick_path.hpp"
#include "cuda_backend.cuh"
#include "marginsync/errors.hpp"
#include "marginsync/funding.hpp"

namespace msync::cuda {

std::vector<tick_change> cuda_backend::tick_states(const tick_request& request) {
  MSYNC_EXPECTS(reval_at_ != held_at::nowhere && risk_at_ != held_at::nowhere,
                "revalue and scenario_risk before tick_states");
  stages_.clear();
  if (residency_ != residency::whole || reval_at_ != held_at::device ||
      risk_at_ != held_at::device) {
    device_states_current_ = false;  // the host path moves the states on without the device
    const revaluation& reval = host_revaluation();
    return cpu::tick_states(*book_, reval, market_, host_risk(), request, states_, 0);
  }
  const std::uint32_t accounts = static_cast<std::uint32_t>(book_->accounts());
  if (accounts == 0) return {};
  enqueue_tick_states(request, accounts);
  return finish_tick_states(request, accounts);
}

std::vector<tick_change> cuda_backend::revalue_tick(const market_state& market,
                                                    std::vector<double>& collateral_change,
                                                    const funding_accrual& funding,
                                                    const tick_request* states) {
  if (!states || residency_ != residency::whole || risk_at_ != held_at::device ||
      book_->accounts() == 0)
    return backend::revalue_tick(market, collateral_change, funding, states);
  MSYNC_EXPECTS(collateral_change.empty() || collateral_change.size() == book_->accounts(),
                "a collateral change per account");
  accrue_funding(funding, collateral_change);
  reval_at_ = held_at::nowhere;  // until the new one is complete
  event_timeline timeline(s());
  enqueue_whole_revalue(market, collateral_change, timeline);
  const std::uint32_t accounts = static_cast<std::uint32_t>(book_->accounts());
  enqueue_tick_states(*states, accounts);
  timeline.mark("tick states");
  std::vector<tick_change> changes = finish_tick_states(*states, accounts);  // the one wait
  reval_at_ = held_at::device;
  stages_ = timeline.collect();
  return changes;
}

stream_tick_view cuda_backend::tick_view(const tick_request& request, std::uint32_t accounts) {
  return stream_tick_view{accounts,
                          dev_.book.account_exposure_begin.data(),
                          dev_.book.exposure_underlying.data(),
                          dev_.exp_delta.data(),
                          dev_.equity.data(),
                          dev_.spot.data(),
                          dev_.vol.data(),
                          dev_.stale.data(),
                          dev_.im.data(),
                          dev_.mm.data(),
                          dev_.breach.data(),
                          request.z,
                          request.tau_years,
                          request.preemptive_threshold,
                          request.recovery_band,
                          dev_.stream_state.data(),
                          dev_.addon.data()};
}

void cuda_backend::enqueue_tick_states(const tick_request& request, std::uint32_t accounts) {
  dev_.stream_state.reserve(accounts, s());
  dev_.changed.reserve(accounts, s());
  dev_.addon.reserve(accounts, s());
  dev_.changed_index.reserve(accounts, s());
  dev_.changed_count.reserve(1, s());
  if (!device_states_current_) {
    dev_.stream_state.upload(states_, s());  // after a load or set_tick_states only
    device_states_current_ = true;
  }
  // The stale flags through pinned memory, once the last tick's copies from and to it are done
  // (they are, after that tick's wait: this costs nothing).
  const std::size_t u = market_.size();
  MSYNC_CUDA_TRY(cudaEventSynchronize(tick_copied_.get()));
  pinned_stale_.reserve(u);
  for (std::size_t i = 0; i < u; ++i)
    pinned_stale_.data()[i] = request.stale_underlying && i < request.stale_underlying->size()
                                  ? (*request.stale_underlying)[i]
                                  : std::uint8_t{0};
  dev_.stale.reserve(u, s());
  if (u > 0)
    MSYNC_CUDA_TRY(
        cudaMemcpyAsync(dev_.stale.data(), pinned_stale_.data(), u, cudaMemcpyHostToDevice, s()));
  const stream_tick_view view = tick_view(request, accounts);
  launch_stream_states(view, dev_.changed.data(), s());
  const std::size_t temp_bytes = select_not_ok_temp_bytes(accounts);
  dev_.select_temp.reserve(temp_bytes, s());
  // The changed flags select like the not-ok status bytes: non-zero is selected.
  select_not_ok(dev_.changed.data(), accounts, dev_.changed_index.data(), dev_.changed_count.data(),
                dev_.select_temp.data(), temp_bytes, s());
  // The count and the first tick_capacity_ changes, in one copy each, into pinned memory.
  dev_.changes.reserve(tick_capacity_, s());
  pinned_changes_.reserve(tick_capacity_);
  pinned_changed_count_.reserve(1);
  launch_gather_changes_upto(dev_.changed_index.data(), dev_.changed_count.data(), tick_capacity_,
                             view, dev_.changes.data(), s());
  MSYNC_CUDA_TRY(cudaMemcpyAsync(pinned_changed_count_.data(), dev_.changed_count.data(),
                                 sizeof(std::uint32_t), cudaMemcpyDeviceToHost, s()));
  MSYNC_CUDA_TRY(cudaMemcpyAsync(pinned_changes_.data(), dev_.changes.data(),
                                 std::size_t{tick_capacity_} * sizeof(state_change),
                                 cudaMemcpyDeviceToHost, s()));
  tick_copied_.record(s());
}

std::vector<tick_change> cuda_backend::finish_tick_states(const tick_request& request,
                                                          std::uint32_t accounts) {
  stream_.synchronize();
  const std::uint32_t count = pinned_changed_count_.data()[0];
  if (count > tick_capacity_) {
    // More changed than came back: all of them, in a second round (the states and add-ons are on
    // the device already); the next ticks bring back more in the first copy, up to a bound (a
    // burst of changes must not make every later tick copy that many).
    tick_capacity_ = std::min(count, max_tick_capacity);
    dev_.changes.reserve(count, s());
    pinned_changes_.reserve(count);
    launch_gather_changes(dev_.changed_index.data(), count, tick_view(request, accounts),
                          dev_.changes.data(), s());
    MSYNC_CUDA_TRY(cudaMemcpyAsync(pinned_changes_.data(), dev_.changes.data(),
                                   std::size_t{count} * sizeof(state_change),
                                   cudaMemcpyDeviceToHost, s()));
    tick_copied_.record(s());
    stream_.synchronize();
  }
  std::vector<tick_change> changes;
  changes.reserve(count);
  for (std::uint32_t i = 0; i < count; ++i) {
    const state_change& c = pinned_changes_.data()[i];
    states_[c.account] = c.state;  // the host copy follows, so it stays equal to the device's
    changes.push_back(tick_change{c.account, c.state, c.equity, c.initial_margin,
                                  c.maintenance_margin, c.breach_probability});
  }
  return changes;
}

void cuda_backend::warm_tick_path() {
  load_revalue_kernels();
  load_stream_kernels();
  const std::uint32_t accounts = static_cast<std::uint32_t>(book_->accounts());
  if (residency_ != residency::whole || accounts == 0) return;
  // What every update uses, sized now: the compact collateral list (pinned: every account at
  // most), the tick path's device buffers, and the first copy of changes back.
  pinned_change_account_.reserve(accounts);
  pinned_change_.reserve(accounts);
  pinned_changed_count_.reserve(1);
  pinned_changes_.reserve(tick_capacity_);
  dev_.stream_state.reserve(accounts, s());
  dev_.changed.reserve(accounts, s());
  dev_.addon.reserve(accounts, s());
  dev_.changed_index.reserve(accounts, s());
  dev_.changed_count.reserve(1, s());
  dev_.changes.reserve(tick_capacity_, s());
  const std::size_t temp_bytes = select_not_ok_temp_bytes(accounts);
  dev_.select_temp.reserve(temp_bytes, s());
  // A select over flags all zero (nothing selected) loads CUB's kernels: a dummy launch.
  MSYNC_CUDA_TRY(cudaMemsetAsync(dev_.changed.data(), 0, accounts, s()));
  select_not_ok(dev_.changed.data(), accounts, dev_.changed_index.data(), dev_.changed_count.data(),
                dev_.select_temp.data(), temp_bytes, s());
}

void cuda_backend::set_tick_states(const std::vector<std::uint8_t>& states) {
  MSYNC_EXPECTS(states.size() == book_->accounts(), "a state per account");
  states_ = states;
  device_states_current_ = false;
}

}  // namespace msync::cuda
