// The CUDA backend, scenario risk (cuda_backend.cuh): scenarios generated on the device ->
// (full) the instrument P&L table -> fused account risk per bad-debt group -> health and status
// -> the not-ok accounts compacted; bad debt added to the book's row wave by wave, in the fixed
// order of marginsync/bad_debt_order.hpp, then its tail. `full` with the table is tiled over
// scenarios (risk_kernels.cu). A book held whole keeps the per-account results on the device until
// copy_risk; a book in chunks brings each chunk's down as it goes.
#include "cuda_backend.cuh"
#include "marginsync/errors.hpp"

namespace msync::cuda {

void cuda_backend::scenario_risk(const scenario_source& source, const risk_params& params) {
  MSYNC_EXPECTS(reval_at_ != held_at::nowhere, "revalue before scenario_risk");
  const scenario_file_data* file = source.file;
  const std::int64_t n = file ? static_cast<std::int64_t>(file->count()) : params.scenarios;
  const run_shape shape{n, market_.size(), params.method == risk_method::full, file != nullptr,
                        sm_count_};
  risk_at_ = held_at::nowhere;   // until the new one is complete
  event_timeline timeline(s());  // first: a re-plan's upload counts as upload
  const std::uint32_t per_group = accounts_per_group(book_->accounts());
  const std::uint32_t groups = group_count(book_->accounts());
  // A book held whole stays so when this run's scenarios fit beside it; otherwise (or when a
  // chunked book meets a new shape) the chunks are planned again for this run's groups, and a
  // revaluation held on the device comes to the host first (planning voids the device's copy).
  if (!(shape == planned_)) {
    if (residency_ == residency::whole && stays_resident(*book_, shape, budget_)) {
      planned_ = shape;
      use_table_ = shape.full &&
                   fixed_bytes(shape, book_->instruments.size(), book_->accounts(), true, budget_) +
                           book_bytes(*book_) <=
                       budget_;
      chunks_.front().group_begin = 0;
      chunks_.front().group_end = groups;
    } else {
      host_revaluation();
      release_unused(
          shape);  // first, so the old shape's scenario buffers do not sit beside the new chunks
      plan(shape);
      timeline.mark("upload");
    }
  }
  release_unused(shape);
  const std::size_t u = market_.size();
  const std::size_t cells = u * static_cast<std::size_t>(n);
  dev_.scen_spot.reserve(cells, s());
  dev_.scen_shock.reserve(cells, s());
  // The market of the revaluation held is on the device since revalue (spot, vol, Cholesky,
  // per-instrument inputs and base values).
  if (file) {
    dev_.file_return.reserve(cells, s());
    dev_.file_change.reserve(cells, s());
    // Through the pinned staging slots, asynchronously (the file's vectors may go once this
    // returns: what they held is in a slot or on the device).
    staging_.upload(dev_.file_return, file->spot_return.data(), file->spot_return.size(), s());
    staging_.upload(dev_.file_change, file->vol_change.data(), file->vol_change.size(), s());
    timeline.mark("upload market");
    launch_given_scenarios(dev_.spot.data(), dev_.file_return.data(), dev_.file_change.data(), n,
                           static_cast<std::uint32_t>(u), dev_.scen_spot.data(),
                           dev_.scen_shock.data(), s());
  } else {
    if (u > max_local_underlyings) dev_.mc_scratch.reserve(2 * cells, s());
    const monte_carlo_inputs in{
        dev_.spot.data(),
        dev_.vol.data(),
        dev_.cholesky.data(),
        static_cast<std::uint32_t>(u),
        params.horizon_years(),
        params.vol_of_vol,
        params.spot_vol_correlation,
        scenario_draw_params{params.seed, params.distribution, params.degrees_of_freedom}};
    launch_monte_carlo(in, n, dev_.scen_spot.data(), dev_.scen_shock.data(), dev_.mc_scratch.data(),
                       s());
  }
  // A file's vol moves are taken as given (no drift, no tenor scaling); Monte Carlo's drift keeps
  // E[sigma'] = sigma and its shocks scale with tenor (host/cpu/scenario_set.cpp).
  scenario_view set{n,
                    static_cast<std::uint32_t>(u),
                    dev_.scen_spot.data(),
                    dev_.scen_shock.data(),
                    file ? 0.0 : vol_shock_drift(params.vol_of_vol, params.horizon_years()),
                    file == nullptr,
                    nullptr,
                    nullptr};
  if (!shape.full) {
    dev_.d_spot.reserve(cells, s());
    dev_.d_vol.reserve(cells, s());
    launch_scenario_moves(dev_.spot.data(), set, dev_.d_spot.data(), dev_.d_vol.data(), s());
    set.d_spot = dev_.d_spot.data();
    set.d_vol = dev_.d_vol.data();
  }
  timeline.mark("scenario generation");

  // The instrument P&L table, when it is used; its base is revalue's unit values.
  const instrument_view ins{dev_.terms.data(), dev_.ins_underlying.data(),
                            static_cast<std::uint32_t>(book_->instruments.size())};
  pricing_view pricing{nullptr, dev_.ins_inputs.data(), dev_.base_value.data(),
                       params.horizon_years(), 3.0 * params.horizon_days};
  if (shape.full && use_table_) {
    dev_.pnl_table.reserve(book_->instruments.size() * static_cast<std::size_t>(n), s());
    launch_pnl_table(ins, pricing, set, dev_.pnl_table.data(), s());
    pricing.pnl_table = dev_.pnl_table.data();
    timeline.mark("scenario pricing");
  }

  int device = 0;
  MSYNC_CUDA_TRY(cudaGetDevice(&device));
  const std::int64_t k = tail_count(params.confidence, n);
  // `full` with the table runs tiled over scenarios where the one-slot filter takes its tail;
  // otherwise account by account, the losses on chip where they fit.
  const bool tiled = shape.full && full_tiles_apply(n, k, pricing.pnl_table != nullptr);
  const risk_memory_plan memory = tiled ? risk_memory_plan{} : plan_risk_memory(n, k, device);
  int l2_bytes = 0;
  MSYNC_CUDA_TRY(cudaDeviceGetAttribute(&l2_bytes, cudaDevAttrL2CacheSize, device));
  // One wave's rows (the grid of the risk kernel), reused wave after wave.
  const std::uint32_t wave = wave_groups(shape, book_->accounts(), budget_);
  const std::size_t wave_rows = std::size_t{wave} * static_cast<std::size_t>(n);
  dev_.partial.reserve(wave_rows, s());
  if (tiled || !memory.losses_on_chip) dev_.risk_scratch.reserve(wave_rows, s());
  if (tiled) dev_.tile_scratch.reserve(std::size_t{wave} * full_tile_block_bytes, s());
  dev_.book_bad.reserve(static_cast<std::size_t>(std::max<std::int64_t>(n, 1)), s());
  // Two carry rows, taking turns wave after wave (marginsync/bad_debt_order.hpp).
  const std::size_t carry_row = static_cast<std::size_t>(std::max<std::int64_t>(n, 1));
  dev_.bad_carry.reserve(2 * carry_row, s());
  std::uint32_t waves_done = 0;
  dev_.book_tail.reserve(3, s());
  // The book's row starts at +0.0 (all bits zero); each wave adds its rows to it in bundle order.
  MSYNC_CUDA_TRY(
      cudaMemsetAsync(dev_.book_bad.data(), 0, dev_.book_bad.size() * sizeof(double), s()));

  // The book's numbers are always held on the host; the accounts' there only for a chunked book.
  const bool whole = residency_ == residency::whole;
  host_risk_ = whole ? risk_result{} : sized_risk();
  host_risk_.scenarios = n;
  const risk_rule_view rules{k, shape.full, params.measure == margin_measure::es,
                             params.min_margin_rate, params.maintenance_ratio};
  std::uint32_t groups_done = 0;
  // Chunk c's scenario risk, enqueued on the backend's stream: its revaluation up when it is held
  // on the host, its groups in waves, health and the not-ok accounts.
  auto compute = [&](const chunk_range& c) {
    if (reval_at_ == held_at::host) {
      upload_chunk_revaluation(c);
      timeline.mark("upload");
    }
    const risk_launch launch{chunk_device_view(c),
                             ins,
                             reval_device_view(),
                             set,
                             pricing,
                             rules,
                             risk_device_view(),
                             per_group,
                             dev_.partial.data(),
                             tiled || !memory.losses_on_chip ? dev_.risk_scratch.data() : nullptr,
                             memory.shared_bytes,
                             memory.slots,
                             memory.slot_capacity,
                             tiled ? full_tile_scenarios(book_->instruments.size(),
                                                         static_cast<std::size_t>(l2_bytes), n)
                                   : 0u,
                             tiled ? dev_.tile_scratch.data() : nullptr};
    // The chunk's groups in waves, each wave's rows added to the book's before the next wave
    // reuses them (stream order); a bundle of groups a wave leaves unfinished waits in the carry
    // row for the next wave, in this chunk or the next. With a progress callback, a book held
    // whole waits and reports about every twentieth of the groups; a book in chunks reports at
    // each chunk's end, after its download's wait, so that no wait holds back the next chunk's
    // upload.
    std::uint32_t reported = groups_done;
    for (std::uint32_t g = 0; g < c.groups(); g += wave) {
      const std::uint32_t end = std::min(c.groups(), g + wave);
      launch_account_risk(launch, g, end, s());
      double* carry_in = dev_.bad_carry.data() + (waves_done % 2) * carry_row;
      double* carry_out = dev_.bad_carry.data() + ((waves_done + 1) % 2) * carry_row;
      launch_add_bad_debt_rows(dev_.partial.data(), c.group_begin + g, end - g, groups, n, carry_in,
                               carry_out, dev_.book_bad.data(), s());
      ++waves_done;
      groups_done += end - g;
      if (whole && progress_ &&
          (groups_done - reported >= std::max<std::uint32_t>(1, groups / 20) ||
           end == c.groups())) {
        stream_.synchronize();
        reported = groups_done;
        report_progress("scenario risk", static_cast<double>(groups_done) / groups);
      }
    }
    timeline.mark("scenario risk");
    const auto accounts = static_cast<std::uint32_t>(c.accounts());
    launch_health(accounts, dev_.equity.data(), risk_device_view(), params.preemptive_threshold,
                  dev_.health.data(), dev_.status.data(), dev_.preemptive.data(), s());
    if (accounts > 0)
      select_not_ok(dev_.status.data(), accounts, dev_.not_ok.data(), dev_.not_ok_count.data(),
                    dev_.select_temp.data(), dev_.select_temp.size(), s());
    timeline.mark("health");
  };
  if (whole) {
    compute(chunks_.front());
  } else {
    // Chunk c + 1's book goes up on the copy stream while chunk c computes; chunk c's results come
    // down (through pinned memory) after that upload is enqueued.
    for_each_chunk(timeline, compute, [&](const chunk_range& c) {
      download_chunk_risk(c, host_risk_);
      timeline.mark("download");
      report_progress("scenario risk", static_cast<double>(groups_done) / groups);
    });
  }
  // A revaluation uploaded from the host to a book held whole is now on the device as well.
  if (whole) reval_at_ = held_at::device;
  // The book: B_s (summed wave by wave above), its mean and tail.
  launch_book_tail(dev_.book_bad.data(), n, rules.tail_k, dev_.book_tail.data(), s());
  timeline.mark("scenario risk");
  // Through pinned memory (asynchronous), read after the wait; nothing else copies into it.
  MSYNC_CUDA_TRY(cudaMemcpyAsync(pinned_tail_.data(), dev_.book_tail.data(), 3 * sizeof(double),
                                 cudaMemcpyDeviceToHost, s()));
  stream_.synchronize();
  host_risk_.bad_debt_mean = pinned_tail_.data()[0];
  host_risk_.bad_debt_var = pinned_tail_.data()[1];
  host_risk_.bad_debt_es = pinned_tail_.data()[2];
  if (progress_) report_progress("scenario risk", 1.0);
  stages_ = timeline.collect();
  risk_at_ = whole ? held_at::device : held_at::host;
}

void cuda_backend::download_chunk_risk(const chunk_range& c, risk_result& out) {
  // Through the pinned staging slots, asynchronously on the backend's stream; they land in `out`
  // at staging_.finish, after the one wait that the not-ok count needs anyway.
  const std::size_t a = c.account_begin, na = c.accounts();
  const pinned_staging::scope downloads(staging_);
  staging_.download(out.var.data() + a, dev_.var, na, s());
  staging_.download(out.es.data() + a, dev_.es, na, s());
  staging_.download(out.initial_margin.data() + a, dev_.im, na, s());
  staging_.download(out.maintenance_margin.data() + a, dev_.mm, na, s());
  staging_.download(out.health.data() + a, dev_.health, na, s());
  staging_.download(out.breach_probability.data() + a, dev_.breach, na, s());
  static_assert(sizeof(account_status) == 1, "status bytes copy as they are");
  staging_.download(reinterpret_cast<std::uint8_t*>(out.status.data() + a), dev_.status, na, s());
  staging_.download(out.preemptive.data() + a, dev_.preemptive, na, s());
  if (na > 0)
    MSYNC_CUDA_TRY(cudaMemcpyAsync(pinned_not_ok_count_.data(), dev_.not_ok_count.data(),
                                   sizeof(std::uint32_t), cudaMemcpyDeviceToHost, s()));
  stream_.synchronize();  // the count is needed on the host now
  staging_.finish();      // the arrays above in `out`, before its not-ok list may grow
  const std::uint32_t count = na > 0 ? pinned_not_ok_count_.data()[0] : 0;
  const std::size_t before = out.not_ok_accounts.size();
  out.not_ok_accounts.resize(before + count);
  staging_.download(out.not_ok_accounts.data() + before, dev_.not_ok, count, s());
  stream_.synchronize();
  staging_.finish();  // before the indices are rebased (and the vector may grow again)
  for (std::size_t i = before; i < out.not_ok_accounts.size(); ++i)
    out.not_ok_accounts[i] += static_cast<std::uint32_t>(c.account_begin);
}

risk_result cuda_backend::copy_risk() {
  MSYNC_EXPECTS(risk_at_ != held_at::nowhere, "scenario_risk first");
  if (risk_at_ == held_at::host) {
    stages_.clear();
    return host_risk_;
  }
  event_timeline timeline(s());
  risk_result out = sized_risk();
  out.scenarios = host_risk_.scenarios;
  download_chunk_risk(chunks_.front(), out);
  out.bad_debt_mean = host_risk_.bad_debt_mean;
  out.bad_debt_var = host_risk_.bad_debt_var;
  out.bad_debt_es = host_risk_.bad_debt_es;
  timeline.mark("download");
  stream_.synchronize();
  stages_ = timeline.collect();
  return out;
}

const risk_result& cuda_backend::held_risk() {
  MSYNC_EXPECTS(risk_at_ != held_at::nowhere, "scenario_risk first");
  if (risk_at_ == held_at::host) {
    stages_.clear();
    return host_risk_;
  }
  event_timeline timeline(s());
  if (host_risk_.var.size() != book_->accounts()) {
    risk_result sized = sized_risk();
    sized.scenarios = host_risk_.scenarios;  // the book's numbers are on the host already
    sized.bad_debt_mean = host_risk_.bad_debt_mean;
    sized.bad_debt_var = host_risk_.bad_debt_var;
    sized.bad_debt_es = host_risk_.bad_debt_es;
    host_risk_ = std::move(sized);
  }
  host_risk_.not_ok_accounts.clear();  // the download appends them
  download_chunk_risk(chunks_.front(), host_risk_);
  timeline.mark("download");
  stream_.synchronize();
  stages_ = timeline.collect();
  return host_risk_;
}

risk_result cuda_backend::sized_risk() const {
  const std::size_t n_acc = book_->accounts();
  risk_result r;
  r.var.resize(n_acc);
  r.es.resize(n_acc);
  r.initial_margin.resize(n_acc);
  r.maintenance_margin.resize(n_acc);
  r.health.resize(n_acc);
  r.breach_probability.resize(n_acc);
  r.status.resize(n_acc);
  r.preemptive.resize(n_acc);
  return r;
}

const risk_result& cuda_backend::host_risk() {
  MSYNC_EXPECTS(risk_at_ != held_at::nowhere, "scenario_risk first");
  if (risk_at_ == held_at::device) {
    host_risk_ = copy_risk();
    risk_at_ = held_at::host;
  }
  return host_risk_;
}

}  // namespace msync::cuda
