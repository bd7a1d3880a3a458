// The CUDA backend, a stream's tick path (cuda_backend.cuh): with the book held whole and the
// revaluation and margins on the device, every account's add-on and state in a kernel over
// include/marginsync/stream_rules.hpp, a CUB select of the accounts whose state changed, and only
// those come back. Otherwise (a book in chunks) the same rule on the host copies.
#include "cpu/tick_path.hpp"
#include "cuda_backend.cuh"
#include "marginsync/errors.hpp"

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
  dev_.stream_state.reserve(accounts, s());
  dev_.changed.reserve(accounts, s());
  dev_.addon.reserve(accounts, s());
  dev_.changed_index.reserve(accounts, s());
  dev_.changed_count.reserve(1, s());
  if (!device_states_current_) {
    dev_.stream_state.upload(states_, s());
    device_states_current_ = true;
  }
  const std::size_t u = market_.size();
  std::vector<std::uint8_t> stale(u, 0);
  if (request.stale_underlying)
    for (std::size_t i = 0; i < u && i < request.stale_underlying->size(); ++i)
      stale[i] = (*request.stale_underlying)[i];
  dev_.stale.reserve(u, s());
  dev_.stale.upload(stale, s());
  const stream_tick_view view{accounts,
                              dev_.account_exposure_begin.data(),
                              dev_.exposure_underlying.data(),
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
  launch_stream_states(view, dev_.changed.data(), s());
  const std::size_t temp_bytes = select_not_ok_temp_bytes(accounts);
  dev_.select_temp.reserve(temp_bytes, s());
  // The changed flags select like the not-ok status bytes: non-zero is selected.
  select_not_ok(dev_.changed.data(), accounts, dev_.changed_index.data(), dev_.changed_count.data(),
                dev_.select_temp.data(), temp_bytes, s());
  std::uint32_t count = 0;
  dev_.changed_count.download(&count, 1, s());
  stream_.synchronize();
  if (count == 0) return {};
  dev_.changes.reserve(count, s());
  launch_gather_changes(dev_.changed_index.data(), count, view, dev_.changes.data(), s());
  std::vector<state_change> raw(count);
  dev_.changes.download(raw.data(), count, s());
  stream_.synchronize();
  std::vector<tick_change> changes;
  changes.reserve(count);
  for (const state_change& c : raw) {
    states_[c.account] = c.state;  // the host copy follows, so it stays equal to the device's
    changes.push_back(tick_change{c.account, c.state, c.equity, c.initial_margin,
                                  c.maintenance_margin, c.breach_probability});
  }
  return changes;
}

void cuda_backend::set_tick_states(const std::vector<std::uint8_t>& states) {
  MSYNC_EXPECTS(states.size() == book_->accounts(), "a state per account");
  states_ = states;
  device_states_current_ = false;
}

}  // namespace msync::cuda
