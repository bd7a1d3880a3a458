// The CUDA backend, part one (cuda_backend.cuh says which file holds which stage): construction,
// making the book resident (planning its chunks, uploading it), patching it, and device memory.
//
// A book larger than the device memory budget is processed in chunks of whole bad-debt groups
// (chunk_plan.hpp): each call uploads a chunk, runs it, and brings its results down before the
// next. Groups are a function of the account and scenario counts only, so a chunked run gives the
// same bytes as a resident one.
#include <cstring>
#include <type_traits>

#include "cuda_backend.cuh"
#include "marginsync/errors.hpp"
#include "marginsync/instrument_inputs.hpp"

namespace msync::cuda {

cuda_backend::cuda_backend(const cuda_backend_options& options) : options_(options) {
  MSYNC_CUDA_TRY(cudaSetDevice(options.device));
  cudaDeviceProp prop{};
  MSYNC_CUDA_TRY(cudaGetDeviceProperties(&prop, options.device));
  sm_count_ = static_cast<std::uint32_t>(prop.multiProcessorCount);
  description_ = std::string(prop.name) + " (sm_" + std::to_string(prop.major) +
                 std::to_string(prop.minor) + ")";
  // The stream-ordered allocator's pool keeps what is freed (no release threshold: the default, 0,
  // hands memory back to the device at every synchronize), so a buffer freed and allocated again
  // (a patch's or a gather's every cascade round, a re-planned run's) is not mapped again.
  // release_all, once per book, trims it.
  std::uint64_t keep = ~std::uint64_t{0};  // cuuint64_t: the pool attributes are 64-bit
  MSYNC_CUDA_TRY(cudaMemPoolSetAttribute(default_pool(options.device),
                                         cudaMemPoolAttrReleaseThreshold, &keep));
}

cuda_backend::~cuda_backend() {
  // What the pool kept goes back to the device when the backend goes (a destructor must not
  // throw: errors are dropped).
  (void)cudaStreamSynchronize(copy_stream_.get());  // no transfer into a buffer freed below
  dev_ = device_memory{};
  (void)cudaStreamSynchronize(s());
  cudaMemPool_t pool = nullptr;
  if (cudaDeviceGetDefaultMemPool(&pool, options_.device) == cudaSuccess)
    (void)cudaMemPoolTrimTo(pool, 0);
}

cudaMemPool_t cuda_backend::default_pool(int device) {
  cudaMemPool_t pool = nullptr;
  MSYNC_CUDA_TRY(cudaDeviceGetDefaultMemPool(&pool, device));
  return pool;
}

std::unique_ptr<backend> make_cuda_backend(const cuda_backend_options& options) {
  return std::make_unique<cuda_backend>(options);
}

void cuda_backend::plan(const run_shape& shape) {
  // A throw below leaves no chunks and nothing resident, so the next call plans again.
  residency_ = residency::none;
  chunks_.clear();
  planned_ = run_shape{};
  if (reval_at_ == held_at::device) reval_at_ = held_at::nowhere;
  if (risk_at_ == held_at::device) risk_at_ = held_at::nowhere;
  device_states_current_ = false;
  chunk_plan p = plan_chunks(*book_, shape, budget_, options_.max_chunk_accounts);
  // Every chunk-sized buffer is allocated anew for this plan: a buffer only grows, so a smaller
  // plan (a whole book going to chunks) would otherwise keep the larger one's memory.
  release_chunk_buffers();

  // Buffers sized for the largest chunk (chunk_buffer_bytes counts them); a book in chunks holds
  // its upload buffers twice (the spare set: the next chunk's upload overlaps this one's compute).
  const std::size_t max_acc = p.max_accounts(), max_exp = p.max_exposures(),
                    max_pos = p.max_positions();
  dev_.book.reserve(max_acc, max_exp, max_pos, s());
  if (p.chunks.size() > 1) {
    dev_.spare.reserve(max_acc, max_exp, max_pos, s());
    upload_staging_.reserve();  // cudaMallocHost is slow: once, not per call
  }
  for (device_buffer<double>* b :
       {&dev_.own_funds, &dev_.equity, &dev_.gross, &dev_.floor_notional, &dev_.liquidity_addon,
        &dev_.var, &dev_.es, &dev_.im, &dev_.mm, &dev_.breach, &dev_.health})
    b->reserve(max_acc, s());
  dev_.status.reserve(max_acc, s());
  dev_.preemptive.reserve(max_acc, s());
  dev_.not_ok.reserve(max_acc, s());
  dev_.not_ok_count.reserve(1, s());
  dev_.select_temp.reserve(select_not_ok_temp_bytes(static_cast<std::uint32_t>(max_acc)), s());
  for (device_buffer<double>* b : {&dev_.exp_delta, &dev_.exp_gamma, &dev_.exp_vega,
                                   &dev_.exp_theta, &dev_.exp_decay, &dev_.exp_vol_exposure})
    b->reserve(max_exp, s());

  residency_note_.clear();
  if (p.chunks.size() > 1) {
    residency_note_ = "CUDA: the book needs more than the " + gib(p.room) +
                      " of device memory left after the scenarios; processing its accounts in " +
                      std::to_string(p.chunks.size()) + " chunks (each uploaded on every call)";
  } else {
    upload_chunk(p.chunks.front(), dev_.book, staging_, s());
  }
  residency_ = p.chunks.size() > 1 ? residency::chunked : residency::whole;
  chunks_ = std::move(p.chunks);
  use_table_ = p.use_table;
  planned_ = shape;
}

void cuda_backend::release_chunk_buffers() {
  // Freed on stream_, after the copy stream's last write into them (every chunk loop ends with
  // copy_join).
  dev_.book = upload_set{};
  dev_.spare = upload_set{};
  for (device_buffer<double>* b :
       {&dev_.exp_delta, &dev_.exp_gamma, &dev_.exp_vega, &dev_.exp_theta, &dev_.exp_decay,
        &dev_.exp_vol_exposure, &dev_.own_funds, &dev_.equity, &dev_.gross, &dev_.floor_notional,
        &dev_.liquidity_addon, &dev_.var, &dev_.es, &dev_.im, &dev_.mm, &dev_.breach, &dev_.health,
        &dev_.collateral_change, &dev_.addon})
    *b = device_buffer<double>();
  for (device_buffer<std::uint8_t>* b :
       {&dev_.status, &dev_.preemptive, &dev_.stream_state, &dev_.changed})
    *b = device_buffer<std::uint8_t>();
  for (device_buffer<std::uint32_t>* b :
       {&dev_.not_ok, &dev_.not_ok_count, &dev_.changed_index, &dev_.changed_count})
    *b = device_buffer<std::uint32_t>();
  dev_.select_temp = device_buffer<unsigned char>();
  dev_.changes = device_buffer<state_change>();
}

void cuda_backend::load_book(book& b, const risk_params& params) {
  event_timeline timeline(s());
  MSYNC_EXPECTS(
      b.accounts() < (std::size_t{1} << 32) && b.instruments.size() < (std::size_t{1} << 32),
      "account and instrument indices fit in 32 bits");
  book_ = &b;
  params_ = params;
  credit_.resize(b.accounts());
  im_multiplier_.resize(b.accounts());
  for (std::size_t a = 0; a < b.accounts(); ++a) {
    credit_[a] = params.tiers[b.account_tier[a]].credit_limit;
    im_multiplier_[a] = params.tiers[b.account_tier[a]].im_multiplier;
  }
  // Everything of an earlier book goes first, so that the budget counts it as free.
  release_all();
  std::size_t free_bytes = 0, total_bytes = 0;
  MSYNC_CUDA_TRY(cudaMemGetInfo(&free_bytes, &total_bytes));
  budget_ = free_bytes / 10 * 9;  // room for the driver and other users of the device
  if (options_.max_device_bytes > 0) budget_ = std::min(budget_, options_.max_device_bytes);

  // Instruments, whole.
  const instrument_table& ins = book_->instruments;
  std::vector<contract_terms> terms(ins.size());
  for (std::size_t i = 0; i < ins.size(); ++i) terms[i] = ins.terms(i);
  dev_.terms = device_buffer<contract_terms>(ins.size(), s());
  dev_.terms.upload(terms, s());
  dev_.ins_underlying = device_buffer<std::uint32_t>(ins.size(), s());
  dev_.ins_underlying.upload(ins.underlying.data(), ins.underlying.size(), s());
  dev_.ins_inputs = device_buffer<valuation_inputs>(ins.size(), s());
  dev_.unit = device_buffer<instrument_risk>(ins.size(), s());
  dev_.base_value = device_buffer<double>(ins.size(), s());

  // The book's underlyings as far as it references them; the market may list more.
  std::size_t underlyings = 0;
  for (std::uint32_t u : ins.underlying) underlyings = std::max<std::size_t>(underlyings, u + 1);
  // The pinned blocks every revalue copies through, allocated now (cudaMallocHost is slow): the
  // staging slots, and the market's block for this book's underlyings (a market listing more
  // grows it at its first revalue).
  staging_.reserve();
  pinned_not_ok_count_.reserve(1);
  pinned_tail_.reserve(3);
  pinned_market_.reserve(ins.size() * sizeof(valuation_inputs) +
                         (5 * underlyings + underlyings * underlyings) * sizeof(double) + 6 * 64);
  plan(run_shape{params.scenarios, underlyings, params.method == risk_method::full, false,
                 sm_count_});
  timeline.mark("upload");
  warm_tick_path();  // kernels loaded, buffers sized: the first update is not the slowest
  stream_.synchronize();
  stages_ = timeline.collect();
  states_.assign(b.accounts(), 0);
  device_states_current_ = false;
}

void cuda_backend::patch_accounts(const account_patch& patch) {
  MSYNC_EXPECTS(book_ != nullptr, "load_book before patch_accounts");
  if (patch.size() == 0) return;
  apply_patch(*book_, patch);  // the host book's collateral too, what chunks upload
  if (residency_ != residency::whole)
    return;  // chunks are uploaded from the host copy on every call
  dev_.patch_accounts.reserve(patch.size(), s());
  dev_.patch_first.reserve(patch.first.size(), s());
  dev_.patch_collateral.reserve(patch.size(), s());
  dev_.patch_quantity.reserve(std::max<std::size_t>(1, patch.positions()), s());
  dev_.patch_cost.reserve(std::max<std::size_t>(1, patch.positions()), s());
  staging_.upload(dev_.patch_accounts, patch.accounts.data(), patch.accounts.size(), s());
  staging_.upload(dev_.patch_first, patch.first.data(), patch.first.size(), s());
  staging_.upload(dev_.patch_collateral, patch.collateral.data(), patch.collateral.size(), s());
  staging_.upload(dev_.patch_quantity, patch.quantity.data(), patch.quantity.size(), s());
  staging_.upload(dev_.patch_cost, patch.cost.data(), patch.cost.size(), s());
  launch_patch_accounts(
      account_patch_view{static_cast<std::uint32_t>(patch.size()), dev_.patch_accounts.data(),
                         dev_.patch_collateral.data(), dev_.patch_first.data(),
                         dev_.patch_quantity.data(), dev_.patch_cost.data()},
      dev_.book.account_position_begin.data(), dev_.book.position_quantity.data(),
      dev_.book.position_cost.data(), dev_.book.collateral.data(), s());
  // The sources are in pinned slots before the copies return; the kernel runs in stream order, and
  // the buffers are freed after it in stream order too, so no patch holds device memory that the
  // budget does not count.
  release_transfer_buffers();
}

void cuda_backend::release_all() {
  copy_stream_.synchronize();  // every chunk loop joined it into stream_ already: costs nothing
  dev_ = device_memory{};
  chunks_.clear();
  residency_ = residency::none;
  reval_at_ = risk_at_ = held_at::nowhere;
  device_states_current_ = false;
  planned_ = run_shape{};
  stream_.synchronize();
  // The pool keeps freed memory (its release threshold); here, once per book, it goes back to the
  // device, so that cudaMemGetInfo sees it when load_book sets the budget.
  MSYNC_CUDA_TRY(cudaMemPoolTrimTo(default_pool(options_.device), 0));
}
void cuda_backend::release_unused(const run_shape& shape) {
  if (shape.full) {
    dev_.d_spot = device_buffer<double>();
    dev_.d_vol = device_buffer<double>();
  }
  if (!shape.full || !use_table_) dev_.pnl_table = device_buffer<double>();
  if (!shape.from_file) {
    dev_.file_return = device_buffer<double>();
    dev_.file_change = device_buffer<double>();
  }
  if (shape.from_file || shape.underlyings <= max_local_underlyings)
    dev_.mc_scratch = device_buffer<double>();
  // Buffers sized by N are freed when N shrank, so they do not hold more than this run counts.
  const std::size_t cells = shape.underlyings * static_cast<std::size_t>(shape.n);
  for (auto* b : {&dev_.scen_spot, &dev_.scen_shock, &dev_.d_spot, &dev_.d_vol, &dev_.file_return,
                  &dev_.file_change})
    if (b->size() > cells) *b = device_buffer<double>();
  if (dev_.pnl_table.size() > book_->instruments.size() * static_cast<std::size_t>(shape.n))
    dev_.pnl_table = device_buffer<double>();
  const std::size_t rows =
      static_cast<std::size_t>(shape.n) * wave_groups(shape, book_->accounts(), budget_);
  for (auto* b : {&dev_.partial, &dev_.risk_scratch})
    if (b->size() > rows) *b = device_buffer<double>();
  if (!shape.full ||
      dev_.tile_scratch.size() >
          std::size_t{wave_groups(shape, book_->accounts(), budget_)} * full_tile_block_bytes)
    dev_.tile_scratch = device_buffer<unsigned char>();
}

void cuda_backend::release_transfer_buffers() {
  dev_.patch_accounts = device_buffer<std::uint32_t>();
  dev_.patch_first = device_buffer<std::uint64_t>();
  dev_.patch_collateral = device_buffer<double>();
  dev_.patch_quantity = device_buffer<double>();
  dev_.patch_cost = device_buffer<double>();
  dev_.gather_accounts = device_buffer<std::uint32_t>();
  dev_.gather_first = device_buffer<std::uint64_t>();
  dev_.gather_equity = device_buffer<double>();
  dev_.gather_own_funds = device_buffer<double>();
  dev_.gather_gross = device_buffer<double>();
  dev_.gather_delta = device_buffer<double>();
}

void cuda_backend::upload_chunk(const chunk_range& c, upload_set& into, pinned_staging& staging,
                                cudaStream_t stream) {
  // Through two pinned staging slots (pinned_staging.cuh): each upload returns once its source
  // is copied into a slot, so `offsets` may be rewritten, while the device copies the slot before.
  // Offsets rebased to the chunk; everything else is a contiguous slice of the host book.
  std::vector<std::uint64_t> offsets(c.accounts() + 1);
  for (std::size_t a = 0; a <= c.accounts(); ++a)
    offsets[a] = book_->account_position_begin[c.account_begin + a] - c.position_begin;
  staging.upload(into.account_position_begin, offsets.data(), offsets.size(), stream);
  for (std::size_t a = 0; a <= c.accounts(); ++a)
    offsets[a] = book_->account_exposure_begin[c.account_begin + a] - c.exposure_begin;
  staging.upload(into.account_exposure_begin, offsets.data(), offsets.size(), stream);
  offsets.resize(c.exposures() + 1);
  for (std::size_t x = 0; x <= c.exposures(); ++x)
    offsets[x] = book_->exposure_position_begin[c.exposure_begin + x] - c.position_begin;
  staging.upload(into.exposure_position_begin, offsets.data(), offsets.size(), stream);
  staging.upload(into.exposure_underlying, book_->exposure_underlying.data() + c.exposure_begin,
                 c.exposures(), stream);
  staging.upload(into.position_instrument, book_->position_instrument.data() + c.position_begin,
                 c.positions(), stream);
  staging.upload(into.position_quantity, book_->position_quantity.data() + c.position_begin,
                 c.positions(), stream);
  staging.upload(into.position_cost, book_->position_cost.data() + c.position_begin, c.positions(),
                 stream);
  staging.upload(into.collateral, book_->collateral.data() + c.account_begin, c.accounts(), stream);
  staging.upload(into.credit, credit_.data() + c.account_begin, c.accounts(), stream);
  staging.upload(into.im_multiplier, im_multiplier_.data() + c.account_begin, c.accounts(), stream);
  // The accounts a warp revalues (account_split.hpp), found from the same offsets as the kernel.
  const std::vector<std::uint32_t> split =
      split_accounts(book_->account_exposure_begin.data(), book_->exposure_position_begin.data(),
                     c.account_begin, c.account_end);
  into.split_count = static_cast<std::uint32_t>(split.size());  // into.split_account holds them
  staging.upload(into.split_account, split.data(), split.size(), stream);
}

void cuda_backend::upload_market(const market_state& market) {
  const std::size_t u = market.size();
  const liquidity_table liquidity = make_liquidity_table(u, params_);
  // Per instrument: its own market (vol, basis, settlement, funding, tenor scaling), taken on the
  // host by the one function the CPU backend calls too.
  const std::vector<valuation_inputs> inputs =
      instrument_inputs(book_->instruments, market, params_);
  dev_.spot.reserve(u, s());
  dev_.vol.reserve(u, s());
  dev_.cholesky.reserve(u * u, s());
  dev_.impact_coefficient.reserve(u, s());
  dev_.daily_volume.reserve(u, s());
  // Packed into one pinned block (each part at a 64-byte boundary) and copied from there
  // asynchronously; the block is rewritten only once the last market's copies are done (they are,
  // after that call's wait: this costs nothing).
  struct part {
    void* device;
    std::size_t capacity;  // bytes the device buffer holds
    const void* host;
    std::size_t bytes;
  };
  auto part_of = [](auto& device, const auto& host) {
    using T = typename std::decay_t<decltype(host)>::value_type;
    return part{device.data(), device.size() * sizeof(T), host.data(), host.size() * sizeof(T)};
  };
  const part parts[] = {part_of(dev_.spot, market.spot),
                        part_of(dev_.vol, market.vol),
                        part_of(dev_.cholesky, market.cholesky),
                        part_of(dev_.impact_coefficient, liquidity.coefficient),
                        part_of(dev_.daily_volume, liquidity.daily_volume),
                        part_of(dev_.ins_inputs, inputs)};
  auto aligned = [](std::size_t bytes) { return (bytes + 63) / 64 * 64; };
  std::size_t total = 0;
  for (const part& p : parts) {
    if (p.bytes > p.capacity)
      throw cuda_error("market copy of " + std::to_string(p.bytes) +
                       " bytes into a device buffer of " + std::to_string(p.capacity));
    total += aligned(p.bytes);
  }
  MSYNC_CUDA_TRY(cudaEventSynchronize(market_copied_.get()));
  pinned_market_.reserve(total);
  std::size_t offset = 0;
  for (const part& p : parts) {
    if (p.bytes == 0) continue;
    std::memcpy(pinned_market_.data() + offset, p.host, p.bytes);
    MSYNC_CUDA_TRY(cudaMemcpyAsync(p.device, pinned_market_.data() + offset, p.bytes,
                                   cudaMemcpyHostToDevice, s()));
    offset += aligned(p.bytes);
  }
  market_copied_.record(s());
}

chunk_view cuda_backend::chunk_device_view(const chunk_range& c) const {
  return chunk_view{static_cast<std::uint32_t>(c.accounts()),
                    dev_.book.account_position_begin.data(),
                    dev_.book.account_exposure_begin.data(),
                    dev_.book.exposure_underlying.data(),
                    dev_.book.exposure_position_begin.data(),
                    dev_.book.position_instrument.data(),
                    dev_.book.position_quantity.data(),
                    dev_.book.position_cost.data(),
                    dev_.book.collateral.data(),
                    dev_.book.credit.data(),
                    dev_.book.im_multiplier.data()};
}

revaluation_view cuda_backend::reval_device_view() {
  return revaluation_view{
      dev_.exp_delta.data(),      dev_.exp_gamma.data(),      dev_.exp_vega.data(),
      dev_.exp_theta.data(),      dev_.exp_decay.data(),      dev_.exp_vol_exposure.data(),
      dev_.own_funds.data(),      dev_.equity.data(),         dev_.gross.data(),
      dev_.floor_notional.data(), dev_.liquidity_addon.data()};
}

underlying_view cuda_backend::underlying_device_view() {
  return underlying_view{dev_.spot.data(), dev_.vol.data(), dev_.impact_coefficient.data(),
                         params_.liquidity_addon ? dev_.daily_volume.data() : nullptr};
}

risk_outputs cuda_backend::risk_device_view() {
  return risk_outputs{dev_.var.data(), dev_.es.data(), dev_.im.data(), dev_.mm.data(),
                      dev_.breach.data()};
}

}  // namespace msync::cuda
