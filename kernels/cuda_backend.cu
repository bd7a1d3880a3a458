// The CUDA backend: the book resident in device memory, every stage a kernel over include/ math.
//
// Data flow of a run (one stream, in order):
//   load_book      plan chunks; upload the instruments and, when the book fits, the whole book
//   revalue        market inputs up (per instrument: spot, vol, rate, carry, T) -> instrument
//                  greeks -> account revaluation (exposures, equity, gross) -> results down
//   scenario_risk  scenarios generated on the device -> (full) the instrument P&L table ->
//                  fused account risk per bad-debt group -> health and status -> the not-ok
//                  accounts compacted -> results down; bad debt summed over groups, its tail
//
// A book larger than the device memory budget is processed in chunks of whole bad-debt groups:
// each call uploads a chunk, runs it, and brings its results down before the next. Groups are a
// function of the account and scenario counts only, so a chunked run gives the same bytes as a
// resident one.
#include <algorithm>
#include <cmath>
#include <memory>
#include <string>

#include "cuda_check.cuh"
#include "cuda_entry.hpp"
#include "device_buffer.cuh"
#include "launchers.cuh"
#include "marginsync/errors.hpp"

namespace msync::cuda {

namespace {

// Device bytes of each account, exposure and position of a resident chunk (inputs, revaluation
// and risk outputs, and a stream's tick path: collateral change, add-on, state, changed flag and
// index, and a changed record), as allocated below.
constexpr std::size_t bytes_per_account = 2 * 8 + 2 * 8 + 2 * 8 + 6 * 8 + 2 + 4 + (8 + 8 + 1 + 1 + 4 + 40);
constexpr std::size_t bytes_per_exposure = 4 + 8 + 4 * 8;
constexpr std::size_t bytes_per_position = 4 + 8 + 8;

// Partial bad-debt rows: at most 4096 groups (enough blocks to fill any current GPU many times
// over) and at most 256 MiB of rows. A function of the account and scenario counts only.
std::uint32_t accounts_per_group(std::size_t accounts, std::int64_t n) {
  const std::size_t row = static_cast<std::size_t>(std::max<std::int64_t>(n, 1)) * sizeof(double);
  const std::size_t max_groups = std::clamp<std::size_t>((std::size_t{256} << 20) / row, 1, 4096);
  const std::size_t per = (std::max<std::size_t>(accounts, 1) + max_groups - 1) / max_groups;
  return static_cast<std::uint32_t>(std::max<std::size_t>(per, 1));
}

std::string gib(std::size_t bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.2f GiB", static_cast<double>(bytes) / static_cast<double>(1ull << 30));
  return text;
}

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
      auto it = std::find_if(out.begin(), out.end(), [&](const stage_time& t) { return t.name == names_[i]; });
      if (it == out.end()) out.push_back(stage_time{names_[i], ms / 1e3});
      else it->seconds += ms / 1e3;
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

struct chunk_range {
  std::size_t account_begin, account_end;
  std::size_t exposure_begin, exposure_end;
  std::size_t position_begin, position_end;
  std::uint32_t group_begin, group_end;  // global bad-debt groups
  std::size_t accounts() const { return account_end - account_begin; }
  std::size_t exposures() const { return exposure_end - exposure_begin; }
  std::size_t positions() const { return position_end - position_begin; }
  std::uint32_t groups() const { return group_end - group_begin; }
};

class cuda_backend final : public backend {
 public:
  explicit cuda_backend(const cuda_backend_options& options) : options_(options) {
    MSYNC_CUDA_TRY(cudaSetDevice(options.device));
    cudaDeviceProp prop{};
    MSYNC_CUDA_TRY(cudaGetDeviceProperties(&prop, options.device));
    sm_count_ = static_cast<std::uint32_t>(prop.multiProcessorCount);
    description_ = std::string(prop.name) + " (sm_" + std::to_string(prop.major) + std::to_string(prop.minor) + ")";
  }

  std::string name() const override { return "cuda"; }
  std::string device() const override {
    return chunks_.size() > 1 ? description_ + ", book in " + std::to_string(chunks_.size()) + " chunks"
                              : description_;
  }
  std::string residency_note() const override { return residency_note_; }

  void load_book(const book& b, const risk_params& params) override;
  // Patches the host copy (what a chunked book uploads) and, when the book is resident, the
  // device's copy with a small upload and one kernel.
  void patch_accounts(const account_patch& patch) override;
  revaluation revalue(const market_state& market) override;
  risk_result scenario_risk(const market_state& market, const scenario_source& source,
                            const risk_params& params, const revaluation& reval) override;
  // The tick path stays on the device while the book is resident; a chunked book takes the host
  // path (a revalue with downloads).
  const revaluation& stream_revalue(const market_state& market, const std::vector<double>& collateral_change) override;
  std::vector<tick_change> stream_states(const risk_result& margins, const tick_request& request) override;
  void set_stream_states(const std::vector<std::uint8_t>& states) override;
  revaluation stream_revaluation() override;
  revalued_accounts stream_accounts(const std::vector<std::uint32_t>& accounts) override;

 private:
  // The resident book's revaluation now on the device, whole (the book must be resident).
  revaluation download_revaluation();
  // A revaluation of the book's size, and one chunk's part of it copied in (asynchronously).
  revaluation sized_revaluation() const;
  void download_chunk_revaluation(const chunk_range& c, revaluation& r);
  // What a run with n scenarios needs besides the chunks.
  struct run_shape {
    std::int64_t n;
    std::size_t underlyings;
    bool full;
    bool from_file;
    bool operator==(const run_shape& o) const {
      return n == o.n && underlyings == o.underlyings && full == o.full && from_file == o.from_file;
    }
  };

  cudaStream_t s() const { return stream_.get(); }
  // Bytes that do not scale with the accounts: instruments, market, scenario set, table, partial
  // bad-debt rows and loss scratch.
  std::size_t fixed_bytes(const run_shape& shape, bool with_table) const;
  std::size_t pnl_table_bytes(std::int64_t n) const {
    return book_.instruments.size() * static_cast<std::size_t>(n) * sizeof(double);
  }
  static std::size_t resident_bytes(std::size_t accounts, std::size_t exposures, std::size_t positions) {
    return accounts * bytes_per_account + exposures * bytes_per_exposure + positions * bytes_per_position;
  }
  std::size_t book_bytes() const {
    return resident_bytes(book_.accounts(), book_.exposures(), book_.positions());
  }
  std::size_t chunk_bytes(const chunk_range& c) const {
    return resident_bytes(c.accounts(), c.exposures(), c.positions());
  }
  // Bad-debt groups of a run with n scenarios (at least one, so an empty book still has a row).
  std::uint32_t group_count(std::int64_t n) const {
    const std::uint32_t per = accounts_per_group(book_.accounts(), n);
    return std::max<std::uint32_t>(1, static_cast<std::uint32_t>((book_.accounts() + per - 1) / per));
  }
  // Splits the book into chunks of whole bad-debt groups that fit the budget with `shape`.
  void plan_chunks(const run_shape& shape);
  void upload_chunk(const chunk_range& c);
  // Frees every device buffer and returns the freed memory to the device, so cudaMemGetInfo
  // sees it.
  void release_all();
  // Frees the scenario buffers a run of `shape` does not use (kept from an earlier shape).
  void release_unused(const run_shape& shape);
  // Frees the buffers of a patch or gather (sized by the call, outside the budget).
  void release_transfer_buffers();
  void upload_market(const market_state& market);
  chunk_view chunk_device_view(const chunk_range& c) const;
  revaluation_view reval_device_view();
  risk_outputs risk_device_view();

  cuda_backend_options options_;
  std::string description_;
  std::uint32_t sm_count_ = 1;
  std::string residency_note_;
  stream stream_;  // declared before every buffer: they are freed on it

  book book_;  // host copy, for chunked uploads
  std::vector<double> base_equity_, im_multiplier_;
  std::vector<double> tier_credit_;  // credit limit of each tier, for patched base equity
  std::vector<chunk_range> chunks_;
  std::size_t budget_ = 0;  // device bytes this backend may use, fixed at load_book
  run_shape planned_{};
  bool use_table_ = false;
  bool resident_ = false;       // the single chunk is on the device already
  bool host_tick_ = false;      // the last stream_revalue took the host path
  std::size_t stream_underlyings_ = 0;  // of the last stream_revalue's market
  revaluation tag_only_;                // what the last device stream_revalue returned
  bool device_states_valid_ = false;  // dev_.stream_state holds the host's stream_state_
  std::uint64_t reval_tag_ = 0; // resident_tag of the revaluation now in the device buffers
  // The tag of the last device stream_revalue while its numbers are still in the device buffers
  // (a patch changes the book, not them), for stream_accounts; 0 once anything overwrote them.
  std::uint64_t stream_tag_ = 0;
  std::uint64_t next_tag_ = 0;

  // Every device buffer, so that releasing them all is one assignment.
  struct device_memory {
    // Instruments and market (whole).
    device_buffer<contract_terms> terms;
    device_buffer<std::uint32_t> ins_underlying;
    device_buffer<valuation_inputs> ins_inputs;
    device_buffer<option_greeks> unit;
    device_buffer<double> base_value, years;
    device_buffer<double> spot, vol, carry, cholesky;
    // One chunk's book, revaluation and risk outputs (capacity of the largest chunk).
    device_buffer<std::uint64_t> account_position_begin, account_exposure_begin, exposure_position_begin;
    device_buffer<std::uint32_t> exposure_underlying, position_instrument;
    device_buffer<double> position_quantity, position_cost, base_equity, im_multiplier;
    device_buffer<double> exp_delta, exp_gamma, exp_vega, exp_theta, equity, gross;
    device_buffer<double> var, es, im, mm, breach, health;
    device_buffer<std::uint8_t> status, preemptive;
    device_buffer<std::uint32_t> not_ok, not_ok_count;
    device_buffer<unsigned char> select_temp;
    // Scenarios.
    device_buffer<double> scen_spot, scen_vol, d_spot, d_vol, pnl_table, mc_scratch;
    device_buffer<double> file_return, file_change;
    device_buffer<double> partial, risk_scratch, book_bad, book_tail;
    // Stream tick path.
    device_buffer<double> collateral_change, addon;
    device_buffer<std::uint8_t> stream_state, changed, stale;
    device_buffer<std::uint32_t> changed_index, changed_count;
    device_buffer<state_change> changes;
    // Account patches.
    device_buffer<std::uint32_t> patch_accounts;
    device_buffer<std::uint64_t> patch_first;
    device_buffer<double> patch_base_equity, patch_quantity, patch_cost;
    // Account gathers.
    device_buffer<std::uint32_t> gather_accounts;
    device_buffer<std::uint64_t> gather_first;
    device_buffer<double> gather_equity, gather_gross, gather_delta;
  };
  device_memory dev_;
};

std::size_t cuda_backend::fixed_bytes(const run_shape& shape, bool with_table) const {
  const std::size_t un = static_cast<std::size_t>(shape.n);
  const std::size_t u = shape.underlyings;
  const std::size_t ins = book_.instruments.size();
  std::size_t bytes = ins * (sizeof(contract_terms) + 4 + sizeof(valuation_inputs) + sizeof(option_greeks) + 16);
  bytes += u * 4 * 8 + u * u * 8;
  bytes += 2 * u * un * 8;                                     // S', sigma'
  if (!shape.full) bytes += 2 * u * un * 8;                    // their moves
  if (shape.from_file) bytes += 2 * u * un * 8;                // the file's returns
  else if (u > max_local_underlyings) bytes += 2 * u * un * 8; // normals scratch
  if (shape.full && with_table) bytes += pnl_table_bytes(shape.n);
  bytes += 2 * std::size_t{group_count(shape.n)} * un * 8;  // partial rows, and loss scratch when N is too large for shared memory
  bytes += un * 8 + 64;          // the book's bad debt
  bytes += std::size_t{4} << 20;  // CUB's select temporaries, allocation rounding
  return bytes;
}

void cuda_backend::plan_chunks(const run_shape& shape) {
  // Whatever was resident is void from here; a throw below leaves no chunks and nothing resident,
  // so the next call plans again.
  resident_ = false;
  reval_tag_ = stream_tag_ = 0;
  chunks_.clear();
  planned_ = run_shape{-1, 0, false, false};
  const std::uint32_t per = accounts_per_group(book_.accounts(), shape.n);
  // `full` keeps the instrument P&L table when the whole book fits beside it, or when it takes at
  // most half the budget (leaving the rest to chunks); otherwise it prices on the fly.
  const std::size_t with_table = fixed_bytes(shape, true);
  use_table_ = shape.full && (with_table + book_bytes() <= budget_ || with_table <= budget_ / 2);
  const std::size_t fixed = fixed_bytes(shape, use_table_);
  if (fixed >= budget_)
    throw std::runtime_error("CUDA backend: " + std::to_string(shape.n) + " scenarios need " + gib(fixed) +
                             " of device memory before any account, more than the " + gib(budget_) +
                             " available; use fewer scenarios or the CPU backend");
  const std::size_t room = budget_ - fixed;
  const std::size_t n_acc = book_.accounts();
  const std::uint32_t groups = group_count(shape.n);
  std::vector<chunk_range> plan;
  auto range_of = [&](std::uint32_t g0, std::uint32_t g1) {
    chunk_range c{};
    c.group_begin = g0;
    c.group_end = g1;
    c.account_begin = std::min<std::size_t>(n_acc, std::size_t{g0} * per);
    c.account_end = std::min<std::size_t>(n_acc, std::size_t{g1} * per);
    c.exposure_begin = book_.account_exposure_begin[c.account_begin];
    c.exposure_end = book_.account_exposure_begin[c.account_end];
    c.position_begin = book_.account_position_begin[c.account_begin];
    c.position_end = book_.account_position_begin[c.account_end];
    return c;
  };
  std::uint32_t g = 0;
  do {
    std::uint32_t end = g + 1;
    if (chunk_bytes(range_of(g, end)) > room)
      throw std::runtime_error("CUDA backend: accounts " + std::to_string(std::size_t{g} * per) +
                               " onwards need more device memory than the " + gib(room) +
                               " left after the scenarios; use fewer scenarios or the CPU backend");
    // Grow the chunk by doubling, then back off: a handful of size checks per chunk.
    std::uint32_t step = 1;
    auto fits = [&](std::uint32_t last) {
      const chunk_range c = range_of(g, last);
      return chunk_bytes(c) <= room &&
             (options_.max_chunk_accounts == 0 || c.accounts() <= options_.max_chunk_accounts);
    };
    while (end < groups) {
      const std::uint32_t next = std::min(groups, end + step);
      if (!fits(next)) {
        if (step == 1) break;
        step = 1;
        continue;
      }
      end = next;
      step *= 2;
    }
    plan.push_back(range_of(g, end));
    g = end;
  } while (g < groups);
  chunks_ = std::move(plan);
  planned_ = shape;

  // Buffers sized for the largest chunk.
  std::size_t max_acc = 0, max_exp = 0, max_pos = 0;
  for (const chunk_range& c : chunks_) {
    max_acc = std::max(max_acc, c.accounts());
    max_exp = std::max(max_exp, c.exposures());
    max_pos = std::max(max_pos, c.positions());
  }
  dev_.account_position_begin.reserve(max_acc + 1, s());
  dev_.account_exposure_begin.reserve(max_acc + 1, s());
  dev_.base_equity.reserve(max_acc, s());
  dev_.im_multiplier.reserve(max_acc, s());
  for (device_buffer<double>* b : {&dev_.equity, &dev_.gross, &dev_.var, &dev_.es, &dev_.im, &dev_.mm, &dev_.breach, &dev_.health})
    b->reserve(max_acc, s());
  dev_.status.reserve(max_acc, s());
  dev_.preemptive.reserve(max_acc, s());
  dev_.not_ok.reserve(max_acc, s());
  dev_.not_ok_count.reserve(1, s());
  dev_.select_temp.reserve(select_not_ok_temp_bytes(static_cast<std::uint32_t>(max_acc)), s());
  dev_.exposure_underlying.reserve(max_exp, s());
  dev_.exposure_position_begin.reserve(max_exp + 1, s());
  for (device_buffer<double>* b : {&dev_.exp_delta, &dev_.exp_gamma, &dev_.exp_vega, &dev_.exp_theta}) b->reserve(max_exp, s());
  dev_.position_instrument.reserve(max_pos, s());
  dev_.position_quantity.reserve(max_pos, s());
  dev_.position_cost.reserve(max_pos, s());

  residency_note_.clear();
  if (chunks_.size() > 1)
    residency_note_ = "CUDA: the book needs more than the " + gib(room) +
                      " of device memory left after the scenarios; processing its accounts in " +
                      std::to_string(chunks_.size()) + " chunks (each uploaded on every call)";
}

void cuda_backend::load_book(const book& b, const risk_params& params) {
  event_timeline timeline(s());
  book_ = b;
  MSYNC_EXPECTS(b.accounts() < (std::size_t{1} << 32) && b.instruments.size() < (std::size_t{1} << 32),
                "account and instrument indices fit in 32 bits");
  tier_credit_.clear();
  for (const tier& t : params.tiers) tier_credit_.push_back(t.credit_limit);
  base_equity_.resize(b.accounts());
  im_multiplier_.resize(b.accounts());
  for (std::size_t a = 0; a < b.accounts(); ++a) {
    base_equity_[a] = b.collateral[a] + tier_credit_[b.account_tier[a]];
    im_multiplier_[a] = params.tiers[b.account_tier[a]].im_multiplier;
  }
  // Everything of an earlier book goes first, so that the budget counts it as free.
  release_all();
  std::size_t free_bytes = 0, total_bytes = 0;
  MSYNC_CUDA_TRY(cudaMemGetInfo(&free_bytes, &total_bytes));
  budget_ = free_bytes / 10 * 9;  // room for the driver and other users of the device
  if (options_.max_device_bytes > 0) budget_ = std::min(budget_, options_.max_device_bytes);

  // Instruments, whole.
  const instrument_table& ins = book_.instruments;
  std::vector<contract_terms> terms(ins.size());
  for (std::size_t i = 0; i < ins.size(); ++i) terms[i] = ins.terms(i);
  dev_.terms = device_buffer<contract_terms>(ins.size(), s());
  dev_.terms.upload(terms, s());
  dev_.ins_underlying = device_buffer<std::uint32_t>(ins.size(), s());
  dev_.ins_underlying.upload(ins.underlying, s());
  dev_.ins_inputs = device_buffer<valuation_inputs>(ins.size(), s());
  dev_.unit = device_buffer<option_greeks>(ins.size(), s());
  dev_.base_value = device_buffer<double>(ins.size(), s());
  dev_.years = device_buffer<double>(ins.size(), s());

  // The book's underlyings as far as it references them; the market may list more.
  std::size_t underlyings = 0;
  for (std::uint32_t u : ins.underlying) underlyings = std::max<std::size_t>(underlyings, u + 1);
  plan_chunks(run_shape{params.scenarios, underlyings, params.method == risk_method::full, false});
  if (chunks_.size() == 1) {
    upload_chunk(chunks_.front());
    resident_ = true;
  }
  timeline.mark("upload");
  stream_.synchronize();
  stages_ = timeline.collect();
  book_loaded(book_);
  device_states_valid_ = false;
}

void cuda_backend::patch_accounts(const account_patch& patch) {
  if (patch.size() == 0) return;
  apply_patch(book_, patch);
  reval_tag_ = 0;  // the device's revaluation is of the book before the patch (stream_accounts may still read it)
  std::vector<double> base(patch.size());
  for (std::size_t i = 0; i < patch.size(); ++i) {
    const std::uint32_t a = patch.accounts[i];
    base[i] = base_equity_[a] = book_.collateral[a] + tier_credit_[book_.account_tier[a]];
  }
  if (!resident_) return;  // chunks are uploaded from the host copy on every call
  dev_.patch_accounts.reserve(patch.size(), s());
  dev_.patch_first.reserve(patch.first.size(), s());
  dev_.patch_base_equity.reserve(patch.size(), s());
  dev_.patch_quantity.reserve(std::max<std::size_t>(1, patch.positions()), s());
  dev_.patch_cost.reserve(std::max<std::size_t>(1, patch.positions()), s());
  dev_.patch_accounts.upload(patch.accounts, s());
  dev_.patch_first.upload(patch.first, s());
  dev_.patch_base_equity.upload(base, s());
  dev_.patch_quantity.upload(patch.quantity, s());
  dev_.patch_cost.upload(patch.cost, s());
  launch_patch_accounts(account_patch_view{static_cast<std::uint32_t>(patch.size()), dev_.patch_accounts.data(),
                                           dev_.patch_base_equity.data(), dev_.patch_first.data(),
                                           dev_.patch_quantity.data(), dev_.patch_cost.data()},
                        dev_.account_position_begin.data(), dev_.position_quantity.data(),
                        dev_.position_cost.data(), dev_.base_equity.data(), s());
  // Pageable sources are staged before the copies return; the kernel runs in stream order, and
  // the buffers are freed after it in stream order too, so no patch holds device memory that the
  // budget does not count.
  release_transfer_buffers();
}

void cuda_backend::release_all() {
  dev_ = device_memory{};
  chunks_.clear();
  resident_ = false;
  reval_tag_ = stream_tag_ = 0;
  device_states_valid_ = false;
  planned_ = run_shape{-1, 0, false, false};
  stream_.synchronize();
  // The stream-ordered allocator keeps freed memory in its pool; hand it back to the device.
  cudaMemPool_t pool = nullptr;
  int device = 0;
  MSYNC_CUDA_TRY(cudaGetDevice(&device));
  MSYNC_CUDA_TRY(cudaDeviceGetDefaultMemPool(&pool, device));
  MSYNC_CUDA_TRY(cudaMemPoolTrimTo(pool, 0));
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
  if (shape.from_file || shape.underlyings <= max_local_underlyings) dev_.mc_scratch = device_buffer<double>();
  // Buffers sized by N are freed when N shrank, so they do not hold more than this run counts.
  const std::size_t cells = shape.underlyings * static_cast<std::size_t>(shape.n);
  for (auto* b : {&dev_.scen_spot, &dev_.scen_vol, &dev_.d_spot, &dev_.d_vol, &dev_.file_return, &dev_.file_change})
    if (b->size() > cells) *b = device_buffer<double>();
  if (dev_.pnl_table.size() > pnl_table_bytes(shape.n) / sizeof(double)) dev_.pnl_table = device_buffer<double>();
  const std::size_t rows = static_cast<std::size_t>(shape.n) * group_count(shape.n);
  for (auto* b : {&dev_.partial, &dev_.risk_scratch})
    if (b->size() > rows) *b = device_buffer<double>();
}

void cuda_backend::release_transfer_buffers() {
  dev_.patch_accounts = device_buffer<std::uint32_t>();
  dev_.patch_first = device_buffer<std::uint64_t>();
  dev_.patch_base_equity = device_buffer<double>();
  dev_.patch_quantity = device_buffer<double>();
  dev_.patch_cost = device_buffer<double>();
  dev_.gather_accounts = device_buffer<std::uint32_t>();
  dev_.gather_first = device_buffer<std::uint64_t>();
  dev_.gather_equity = device_buffer<double>();
  dev_.gather_gross = device_buffer<double>();
  dev_.gather_delta = device_buffer<double>();
}

void cuda_backend::upload_chunk(const chunk_range& c) {
  // Offsets rebased to the chunk; everything else is a contiguous slice of the host book.
  std::vector<std::uint64_t> offsets(c.accounts() + 1);
  for (std::size_t a = 0; a <= c.accounts(); ++a)
    offsets[a] = book_.account_position_begin[c.account_begin + a] - c.position_begin;
  dev_.account_position_begin.upload(offsets.data(), offsets.size(), s());
  for (std::size_t a = 0; a <= c.accounts(); ++a)
    offsets[a] = book_.account_exposure_begin[c.account_begin + a] - c.exposure_begin;
  dev_.account_exposure_begin.upload(offsets.data(), offsets.size(), s());
  offsets.resize(c.exposures() + 1);
  for (std::size_t x = 0; x <= c.exposures(); ++x)
    offsets[x] = book_.exposure_position_begin[c.exposure_begin + x] - c.position_begin;
  dev_.exposure_position_begin.upload(offsets.data(), offsets.size(), s());
  dev_.exposure_underlying.upload(book_.exposure_underlying.data() + c.exposure_begin, c.exposures(), s());
  dev_.position_instrument.upload(book_.position_instrument.data() + c.position_begin, c.positions(), s());
  dev_.position_quantity.upload(book_.position_quantity.data() + c.position_begin, c.positions(), s());
  dev_.position_cost.upload(book_.position_cost.data() + c.position_begin, c.positions(), s());
  dev_.base_equity.upload(base_equity_.data() + c.account_begin, c.accounts(), s());
  dev_.im_multiplier.upload(im_multiplier_.data() + c.account_begin, c.accounts(), s());
  // Pageable sources: a copy returns once its source is staged, so `offsets` may go.
}

void cuda_backend::upload_market(const market_state& market) {
  const std::size_t u = market.size();
  std::vector<double> carry(u);
  for (std::size_t i = 0; i < u; ++i) carry[i] = market.carry(i);
  dev_.spot.reserve(u, s());
  dev_.vol.reserve(u, s());
  dev_.carry.reserve(u, s());
  dev_.cholesky.reserve(u * u, s());
  dev_.spot.upload(market.spot, s());
  dev_.vol.upload(market.vol, s());
  dev_.carry.upload(carry, s());
  dev_.cholesky.upload(market.cholesky, s());
  // Per instrument: its underlying's spot and vol, rate, carry and time left (host-computed from
  // as_of exactly as the CPU backend does).
  const instrument_table& ins = book_.instruments;
  const std::vector<double> t = years_to_expiry(ins, market.as_of_ns);
  std::vector<valuation_inputs> inputs(ins.size());
  for (std::size_t i = 0; i < ins.size(); ++i) {
    const std::uint32_t x = ins.underlying[i];
    inputs[i] = valuation_inputs{market.spot[x], market.vol[x], market.rate, market.carry(x), t[i]};
  }
  dev_.ins_inputs.upload(inputs, s());
  dev_.years.upload(t, s());
}

chunk_view cuda_backend::chunk_device_view(const chunk_range& c) const {
  return chunk_view{static_cast<std::uint32_t>(c.accounts()), dev_.account_position_begin.data(),
                    dev_.account_exposure_begin.data(), dev_.exposure_underlying.data(),
                    dev_.exposure_position_begin.data(), dev_.position_instrument.data(),
                    dev_.position_quantity.data(), dev_.position_cost.data(), dev_.base_equity.data(),
                    dev_.im_multiplier.data()};
}

revaluation_view cuda_backend::reval_device_view() {
  return revaluation_view{dev_.exp_delta.data(), dev_.exp_gamma.data(), dev_.exp_vega.data(),
                          dev_.exp_theta.data(), dev_.equity.data(), dev_.gross.data()};
}

risk_outputs cuda_backend::risk_device_view() {
  return risk_outputs{dev_.var.data(), dev_.es.data(), dev_.im.data(), dev_.mm.data(), dev_.breach.data()};
}

revaluation cuda_backend::revalue(const market_state& market) {
  reval_tag_ = stream_tag_ = 0;  // the device buffers are about to change: no earlier tag describes them
  event_timeline timeline(s());
  MSYNC_EXPECTS(!book_.instruments.size() || dev_.terms.size() == book_.instruments.size(), "load_book first");
  upload_market(market);
  timeline.mark("upload market");
  launch_instrument_greeks(dev_.terms.data(), dev_.ins_inputs.data(), dev_.unit.data(), dev_.base_value.data(),
                           static_cast<std::uint32_t>(book_.instruments.size()), s());
  revaluation r = sized_revaluation();
  for (const chunk_range& c : chunks_) {
    if (!resident_) {
      upload_chunk(c);
      timeline.mark("upload");
    }
    launch_account_revalue(chunk_device_view(c), dev_.terms.data(), dev_.unit.data(), dev_.spot.data(),
                           reval_device_view(), s());
    timeline.mark("revalue");
    download_chunk_revaluation(c, r);
    timeline.mark("download");
  }
  stream_.synchronize();
  if (resident_) {
    reval_tag_ = ++next_tag_;
    r.resident_tag = reval_tag_;
  }
  stages_ = timeline.collect();
  return r;
}

risk_result cuda_backend::scenario_risk(const market_state& market, const scenario_source& source,
                                        const risk_params& params, const revaluation& caller_reval) {
  const scenario_file_data* file = source.file;
  const std::int64_t n = file ? static_cast<std::int64_t>(file->count()) : params.scenarios;
  const run_shape shape{n, market.size(), params.method == risk_method::full, file != nullptr};
  // A stream revalue leaves its numbers on the device only. When this run must plan the chunks
  // again (which voids them), they come to the host first.
  const bool device_only = caller_reval.resident_tag != 0 && caller_reval.resident_tag == reval_tag_ &&
                           caller_reval.account_equity.size() != book_.accounts();
  const bool replan = !(shape == planned_) && !(resident_ && fixed_bytes(shape, false) + book_bytes() <= budget_);
  const revaluation kept = device_only && replan ? download_revaluation() : revaluation{};
  const revaluation& reval = device_only && replan ? kept : caller_reval;
  if (device_only && replan) {
    // The stream's tick path goes on from the host copy (the book is about to be in chunks).
    stream_reval_ = kept;
    stream_market_ = market;
    host_tick_ = true;
    device_states_valid_ = false;
  }
  event_timeline timeline(s());  // first: a re-plan's upload counts as upload
  const std::uint32_t per_group = accounts_per_group(book_.accounts(), n);
  const std::uint32_t groups = group_count(n);
  // A resident book stays resident when this run's scenarios fit beside it; otherwise (or when a
  // chunked book meets a new shape) the chunks are planned again for this run's groups.
  if (!(shape == planned_)) {
    if (resident_ && fixed_bytes(shape, false) + book_bytes() <= budget_) {
      planned_ = shape;
      use_table_ = shape.full && fixed_bytes(shape, true) + book_bytes() <= budget_;
      chunks_.front().group_begin = 0;
      chunks_.front().group_end = groups;
    } else {
      plan_chunks(shape);
      if (chunks_.size() == 1) {
        upload_chunk(chunks_.front());
        resident_ = true;
      }
      timeline.mark("upload");
    }
  }
  const bool reval_on_device = resident_ && reval.resident_tag != 0 && reval.resident_tag == reval_tag_;
  // A stream revalue leaves its numbers on the device only (its result carries just the tag).
  MSYNC_EXPECTS(reval_on_device || (reval.account_equity.size() == book_.accounts() &&
                                    reval.exposure_delta.size() == book_.exposures()),
                "a revaluation of this book");
  release_unused(shape);
  upload_market(market);
  const std::size_t u = market.size();
  const std::size_t cells = u * static_cast<std::size_t>(n);
  dev_.scen_spot.reserve(cells, s());
  dev_.scen_vol.reserve(cells, s());
  if (file) {
    dev_.file_return.reserve(cells, s());
    dev_.file_change.reserve(cells, s());
    dev_.file_return.upload(file->spot_return, s());
    dev_.file_change.upload(file->vol_change, s());
    timeline.mark("upload market");
    launch_given_scenarios(dev_.spot.data(), dev_.vol.data(), dev_.file_return.data(), dev_.file_change.data(), n,
                           static_cast<std::uint32_t>(u), dev_.scen_spot.data(), dev_.scen_vol.data(), s());
  } else {
    timeline.mark("upload market");
    if (u > max_local_underlyings) dev_.mc_scratch.reserve(2 * cells, s());
    const monte_carlo_inputs in{dev_.spot.data(), dev_.vol.data(), dev_.cholesky.data(),
                                static_cast<std::uint32_t>(u), params.horizon_years(),
                                params.vol_of_vol, params.spot_vol_correlation,
                                scenario_draw_params{params.seed, params.distribution, params.degrees_of_freedom}};
    launch_monte_carlo(in, n, dev_.scen_spot.data(), dev_.scen_vol.data(), dev_.mc_scratch.data(), s());
  }
  scenario_view set{n, static_cast<std::uint32_t>(u), dev_.scen_spot.data(), dev_.scen_vol.data(), nullptr, nullptr};
  if (!shape.full) {
    dev_.d_spot.reserve(cells, s());
    dev_.d_vol.reserve(cells, s());
    launch_scenario_moves(dev_.spot.data(), dev_.vol.data(), set, dev_.d_spot.data(), dev_.d_vol.data(), s());
    set.d_spot = dev_.d_spot.data();
    set.d_vol = dev_.d_vol.data();
  }
  timeline.mark("scenario generation");

  // Unit values in the current market (the P&L base), then the table when it is used.
  launch_instrument_greeks(dev_.terms.data(), dev_.ins_inputs.data(), dev_.unit.data(), dev_.base_value.data(),
                           static_cast<std::uint32_t>(book_.instruments.size()), s());
  const instrument_view ins{dev_.terms.data(), dev_.ins_underlying.data(),
                            static_cast<std::uint32_t>(book_.instruments.size())};
  pricing_view pricing{nullptr, dev_.years.data(), dev_.base_value.data(), dev_.carry.data(), market.rate,
                       params.horizon_years()};
  if (shape.full && use_table_) {
    dev_.pnl_table.reserve(book_.instruments.size() * static_cast<std::size_t>(n), s());
    launch_pnl_table(ins, pricing, set, dev_.pnl_table.data(), s());
    pricing.pnl_table = dev_.pnl_table.data();
    timeline.mark("scenario pricing");
  }

  int device = 0;
  MSYNC_CUDA_TRY(cudaGetDevice(&device));
  const std::size_t shared = risk_shared_bytes(n, device);
  dev_.partial.reserve(std::size_t{groups} * static_cast<std::size_t>(n), s());
  if (shared == 0) dev_.risk_scratch.reserve(std::size_t{groups} * static_cast<std::size_t>(n), s());
  dev_.book_bad.reserve(static_cast<std::size_t>(std::max<std::int64_t>(n, 1)), s());
  dev_.book_tail.reserve(3, s());

  risk_result out;
  const std::size_t n_acc = book_.accounts();
  out.scenarios = n;
  out.var.resize(n_acc);
  out.es.resize(n_acc);
  out.initial_margin.resize(n_acc);
  out.maintenance_margin.resize(n_acc);
  out.health.resize(n_acc);
  out.breach_probability.resize(n_acc);
  out.status.resize(n_acc);
  out.preemptive.resize(n_acc);
  const risk_rule_view rules{tail_count(params.confidence, n), shape.full,
                             params.measure == margin_measure::es, params.min_margin_rate,
                             params.maintenance_ratio};
  std::uint32_t groups_done = 0;
  for (const chunk_range& c : chunks_) {
    if (!resident_) upload_chunk(c);
    if (!reval_on_device) {
      reval_tag_ = stream_tag_ = 0;  // the device buffers now hold the caller's numbers, not the last revalue's
      dev_.exp_delta.upload(reval.exposure_delta.data() + c.exposure_begin, c.exposures(), s());
      dev_.exp_gamma.upload(reval.exposure_gamma.data() + c.exposure_begin, c.exposures(), s());
      dev_.exp_vega.upload(reval.exposure_vega.data() + c.exposure_begin, c.exposures(), s());
      dev_.exp_theta.upload(reval.exposure_theta.data() + c.exposure_begin, c.exposures(), s());
      dev_.equity.upload(reval.account_equity.data() + c.account_begin, c.accounts(), s());
      dev_.gross.upload(reval.account_gross_notional.data() + c.account_begin, c.accounts(), s());
    }
    if (!resident_ || !reval_on_device) timeline.mark("upload");
    const risk_launch launch{chunk_device_view(c), ins, reval_device_view(), set, pricing, rules,
                             risk_device_view(), per_group, c.group_begin, dev_.partial.data(),
                             shared == 0 ? dev_.risk_scratch.data() : nullptr, shared};
    // With a progress callback the groups go in slices, each waited for and reported; without,
    // in one launch.
    // A slice is at least four blocks per SM, so waiting between slices costs little.
    const std::uint32_t slice =
        has_progress() ? std::max<std::uint32_t>(std::max<std::uint32_t>(1, groups / 20), 4 * sm_count_) : c.groups();
    for (std::uint32_t g = 0; g < c.groups(); g += slice) {
      const std::uint32_t end = std::min(c.groups(), g + slice);
      launch_account_risk(launch, g, end, s());
      if (has_progress()) {
        stream_.synchronize();
        groups_done += end - g;
        report_progress("scenario risk", static_cast<double>(groups_done) / groups);
      }
    }
    timeline.mark("scenario risk");
    const auto accounts = static_cast<std::uint32_t>(c.accounts());
    launch_health(accounts, dev_.equity.data(), risk_device_view(), params.preemptive_threshold,
                  dev_.health.data(), dev_.status.data(), dev_.preemptive.data(), s());
    if (accounts > 0)
      select_not_ok(dev_.status.data(), accounts, dev_.not_ok.data(), dev_.not_ok_count.data(), dev_.select_temp.data(),
                    dev_.select_temp.size(), s());
    timeline.mark("health");
    dev_.var.download(out.var.data() + c.account_begin, c.accounts(), s());
    dev_.es.download(out.es.data() + c.account_begin, c.accounts(), s());
    dev_.im.download(out.initial_margin.data() + c.account_begin, c.accounts(), s());
    dev_.mm.download(out.maintenance_margin.data() + c.account_begin, c.accounts(), s());
    dev_.health.download(out.health.data() + c.account_begin, c.accounts(), s());
    dev_.breach.download(out.breach_probability.data() + c.account_begin, c.accounts(), s());
    static_assert(sizeof(account_status) == 1, "status bytes copy as they are");
    dev_.status.download(reinterpret_cast<std::uint8_t*>(out.status.data() + c.account_begin), c.accounts(), s());
    dev_.preemptive.download(out.preemptive.data() + c.account_begin, c.accounts(), s());
    std::uint32_t count = 0;
    if (accounts > 0) dev_.not_ok_count.download(&count, 1, s());
    stream_.synchronize();  // the count is needed on the host now
    const std::size_t before = out.not_ok_accounts.size();
    out.not_ok_accounts.resize(before + count);
    dev_.not_ok.download(out.not_ok_accounts.data() + before, count, s());
    stream_.synchronize();  // before the indices are rebased (and the vector may grow again)
    for (std::size_t i = before; i < out.not_ok_accounts.size(); ++i)
      out.not_ok_accounts[i] += static_cast<std::uint32_t>(c.account_begin);
    timeline.mark("download");
  }
  // The book: B_s summed over groups in order, then its mean and tail.
  launch_bad_debt_sum(dev_.partial.data(), groups, n, dev_.book_bad.data(), s());
  launch_book_tail(dev_.book_bad.data(), n, rules.tail_k, dev_.book_tail.data(), s());
  timeline.mark("scenario risk");
  double tail[3] = {0.0, 0.0, 0.0};
  dev_.book_tail.download(tail, 3, s());
  stream_.synchronize();
  out.bad_debt_mean = tail[0];
  out.bad_debt_var = tail[1];
  out.bad_debt_es = tail[2];
  if (has_progress()) report_progress("scenario risk", 1.0);
  stages_ = timeline.collect();
  return out;
}

}  // namespace

std::unique_ptr<backend> make_cuda_backend(const cuda_backend_options& options) {
  return std::make_unique<cuda_backend>(options);
}

const revaluation& cuda_backend::stream_revalue(const market_state& market, const std::vector<double>& collateral_change) {
  reval_tag_ = stream_tag_ = 0;  // the device buffers are about to change: no earlier tag describes them
  host_tick_ = !resident_;
  if (host_tick_) {
    device_states_valid_ = false;  // the host path moves the states on without the device
    return backend::stream_revalue(market, collateral_change);
  }
  const std::uint32_t accounts = static_cast<std::uint32_t>(book_.accounts());
  MSYNC_EXPECTS(collateral_change.empty() || collateral_change.size() == accounts, "a collateral change per account");
  stream_underlyings_ = market.size();
  event_timeline timeline(s());
  upload_market(market);
  timeline.mark("upload market");
  launch_instrument_greeks(dev_.terms.data(), dev_.ins_inputs.data(), dev_.unit.data(), dev_.base_value.data(),
                           static_cast<std::uint32_t>(book_.instruments.size()), s());
  launch_account_revalue(chunk_device_view(chunks_.front()), dev_.terms.data(), dev_.unit.data(), dev_.spot.data(),
                         reval_device_view(), s());
  if (!collateral_change.empty()) {
    dev_.collateral_change.reserve(accounts, s());
    dev_.collateral_change.upload(collateral_change, s());
    launch_add_collateral(dev_.equity.data(), dev_.collateral_change.data(), accounts, s());
  }
  timeline.mark("revalue");
  stream_.synchronize();  // the events are complete before they are read
  stages_ = timeline.collect();
  reval_tag_ = ++next_tag_;
  tag_only_ = revaluation{};  // the numbers stay here: scenario_risk takes them by the tag
  tag_only_.resident_tag = stream_tag_ = reval_tag_;
  return tag_only_;
}

std::vector<tick_change> cuda_backend::stream_states(const risk_result& margins, const tick_request& request) {
  if (host_tick_ || !resident_) {
    device_states_valid_ = false;
    return backend::stream_states(margins, request);
  }
  const std::uint32_t accounts = static_cast<std::uint32_t>(book_.accounts());
  MSYNC_EXPECTS(resident_ && reval_tag_ != 0, "stream_revalue first");
  // The device's margins are those of the last scenario_risk; the caller's must be its result.
  MSYNC_EXPECTS(margins.initial_margin.size() == accounts, "the margins of the last scenario_risk");
  if (accounts == 0) return {};
  dev_.stream_state.reserve(accounts, s());
  dev_.changed.reserve(accounts, s());
  dev_.addon.reserve(accounts, s());
  dev_.changed_index.reserve(accounts, s());
  dev_.changed_count.reserve(1, s());
  if (!device_states_valid_) {
    dev_.stream_state.upload(stream_state_, s());
    device_states_valid_ = true;
  }
  const std::size_t u = stream_underlyings_;
  std::vector<std::uint8_t> stale(u, 0);
  if (request.stale_underlying)
    for (std::size_t i = 0; i < u && i < request.stale_underlying->size(); ++i) stale[i] = (*request.stale_underlying)[i];
  dev_.stale.reserve(u, s());
  dev_.stale.upload(stale, s());
  const stream_tick_view view{accounts, dev_.account_exposure_begin.data(), dev_.exposure_underlying.data(),
                              dev_.exp_delta.data(), dev_.equity.data(), dev_.spot.data(), dev_.vol.data(),
                              dev_.stale.data(), dev_.im.data(), dev_.mm.data(), dev_.breach.data(),
                              request.z, request.tau_years, request.preemptive_threshold,
                              dev_.stream_state.data(), dev_.addon.data()};
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
    stream_state_[c.account] = c.state;  // the host copy follows, for set_stream_states and fallbacks
    changes.push_back(tick_change{c.account, c.state, c.equity, c.initial_margin, c.maintenance_margin,
                                  c.breach_probability});
  }
  return changes;
}

void cuda_backend::set_stream_states(const std::vector<std::uint8_t>& states) {
  backend::set_stream_states(states);
  device_states_valid_ = false;
}

revaluation cuda_backend::stream_revaluation() {
  return host_tick_ || !resident_ ? backend::stream_revaluation() : download_revaluation();
}

revalued_accounts cuda_backend::stream_accounts(const std::vector<std::uint32_t>& accounts) {
  if (host_tick_ || !resident_) return backend::stream_accounts(accounts);
  MSYNC_EXPECTS(stream_tag_ != 0, "stream_revalue first, and no other revaluation since");
  revalued_accounts out;
  for (std::uint32_t a : accounts) {
    MSYNC_EXPECTS(a < book_.accounts(), "accounts of this book");
    out.first.push_back(out.first.back() + book_.account_exposure_begin[a + 1] - book_.account_exposure_begin[a]);
  }
  const std::size_t n = accounts.size(), exposures = out.first.back();
  out.equity.resize(n);
  out.gross_notional.resize(n);
  out.exposure_delta.resize(exposures);
  if (n == 0) return out;
  dev_.gather_accounts.reserve(n, s());
  dev_.gather_first.reserve(n + 1, s());
  dev_.gather_equity.reserve(n, s());
  dev_.gather_gross.reserve(n, s());
  dev_.gather_delta.reserve(std::max<std::size_t>(1, exposures), s());
  dev_.gather_accounts.upload(accounts, s());
  dev_.gather_first.upload(out.first, s());
  launch_gather_accounts(account_gather_view{static_cast<std::uint32_t>(n), dev_.gather_accounts.data(),
                                             dev_.gather_first.data(), dev_.gather_equity.data(),
                                             dev_.gather_gross.data(), dev_.gather_delta.data()},
                         dev_.account_exposure_begin.data(), reval_device_view(), s());
  dev_.gather_equity.download(out.equity.data(), n, s());
  dev_.gather_gross.download(out.gross_notional.data(), n, s());
  dev_.gather_delta.download(out.exposure_delta.data(), exposures, s());
  stream_.synchronize();
  release_transfer_buffers();
  return out;
}

revaluation cuda_backend::download_revaluation() {
  MSYNC_EXPECTS(resident_, "a resident book");
  revaluation r = sized_revaluation();
  download_chunk_revaluation(chunks_.front(), r);
  stream_.synchronize();
  r.resident_tag = reval_tag_;
  return r;
}

revaluation cuda_backend::sized_revaluation() const {
  revaluation r;
  r.exposure_delta.resize(book_.exposures());
  r.exposure_gamma.resize(book_.exposures());
  r.exposure_vega.resize(book_.exposures());
  r.exposure_theta.resize(book_.exposures());
  r.account_equity.resize(book_.accounts());
  r.account_gross_notional.resize(book_.accounts());
  return r;
}

void cuda_backend::download_chunk_revaluation(const chunk_range& c, revaluation& r) {
  dev_.exp_delta.download(r.exposure_delta.data() + c.exposure_begin, c.exposures(), s());
  dev_.exp_gamma.download(r.exposure_gamma.data() + c.exposure_begin, c.exposures(), s());
  dev_.exp_vega.download(r.exposure_vega.data() + c.exposure_begin, c.exposures(), s());
  dev_.exp_theta.download(r.exposure_theta.data() + c.exposure_begin, c.exposures(), s());
  dev_.equity.download(r.account_equity.data() + c.account_begin, c.accounts(), s());
  dev_.gross.download(r.account_gross_notional.data() + c.account_begin, c.accounts(), s());
}

}  // namespace msync::cuda
