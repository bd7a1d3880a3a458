// The margin job across ranks (docs/design.md 16). Rank 0 holds the whole book and revalues it
// (its revaluation is the one written); every other rank holds its part of the book's fixed
// bad-debt chunks only (book_parts.hpp), and the scenario risk, the run's cost, is split by those
// chunks. What crosses between ranks: a book directory's parts (rank 0 reads it), the bad-debt sum
// per scenario, passed from rank to rank in rank order so that every chunk's row is added in the
// order a single process adds it, and each rank's per-account risk numbers, gathered on rank 0.
#include "mpi/margin_ranks.hpp"

#include <sched.h>

#include <cmath>
#include <cstdio>
#include <thread>

#include "cpu/book_bad_debt.hpp"
#include "marginsync/errors.hpp"
#include "marginsync/risk_rules.hpp"
#include "mpi/book_parts.hpp"

namespace msync {

namespace {

// B_s for the whole book, on rank 0: each rank adds its chunks' rows, in chunk order, to the sum
// of the ranks before it and passes it on; the last rank sends it to rank 0. The additions are a
// single process's (bad_debt_rows: from +0, every chunk's row in chunk order), whatever the ranks.
std::vector<double> book_bad_debt_in_rank_order(rank_group& ranks, const risk_result& part,
                                                std::size_t scenarios) {
  const int r = ranks.rank(), k = ranks.size();
  std::vector<double> sum =
      r == 0 ? std::vector<double>(scenarios, 0.0) : ranks.receive_vector<double>(r - 1);
  if (sum.size() != scenarios) throw std::logic_error("bad-debt sum of the wrong length");
  for (const std::vector<double>& row : part.share_bad_debt_rows)
    for (std::size_t s = 0; s < row.size(); ++s) sum[s] += row[s];
  if (r + 1 < k) {
    ranks.send_vector(r + 1, sum);
    sum.clear();
  } else if (r != 0) {
    ranks.send_vector(0, sum);
    sum.clear();
  }
  if (r == 0 && k > 1) sum = ranks.receive_vector<double>(k - 1);
  return sum;
}

// A rank's per-account numbers, for the accounts it computed, in that order.
struct account_part {
  std::vector<std::uint32_t> accounts;
  std::vector<double> var, es, initial_margin, maintenance_margin, health, breach_probability;
  std::vector<std::uint8_t> status, preemptive;
};

template <class T>
std::vector<T> picked(const std::vector<T>& all, const std::vector<std::uint32_t>& accounts) {
  std::vector<T> v(accounts.size());
  for (std::size_t i = 0; i < accounts.size(); ++i) v[i] = all[accounts[i]];
  return v;
}

void send_part(rank_group& ranks, const risk_result& r,
               const std::vector<std::uint32_t>& whole_index) {
  const std::vector<std::uint32_t>& a = r.share_accounts;
  if (whole_index.empty()) {
    ranks.send_vector(0, a);
  } else {
    std::vector<std::uint32_t> whole(a.size());
    for (std::size_t i = 0; i < a.size(); ++i) whole[i] = whole_index.at(a[i]);
    ranks.send_vector(0, whole);
  }
  for (const std::vector<double>* column :
       {&r.var, &r.es, &r.initial_margin, &r.maintenance_margin, &r.health, &r.breach_probability})
    ranks.send_vector(0, picked(*column, a));
  std::vector<std::uint8_t> status(a.size());
  for (std::size_t i = 0; i < a.size(); ++i) status[i] = static_cast<std::uint8_t>(r.status[a[i]]);
  ranks.send_vector(0, status);
  ranks.send_vector(0, picked(r.preemptive, a));
}

// Rank `from`'s part, received on rank 0 and written into `into` at its accounts.
void receive_part(rank_group& ranks, int from, risk_result& into) {
  const std::vector<std::uint32_t> a = ranks.receive_vector<std::uint32_t>(from);
  for (std::uint32_t i : a)
    if (i >= into.status.size()) throw std::logic_error("a rank sent an account out of range");
  for (std::vector<double>* column :
       {&into.var, &into.es, &into.initial_margin, &into.maintenance_margin, &into.health,
        &into.breach_probability}) {
    const std::vector<double> v = ranks.receive_vector<double>(from);
    if (v.size() != a.size()) throw std::logic_error("a rank's part of the wrong length");
    for (std::size_t i = 0; i < a.size(); ++i) (*column)[a[i]] = v[i];
  }
  const std::vector<std::uint8_t> status = ranks.receive_vector<std::uint8_t>(from);
  const std::vector<std::uint8_t> preemptive = ranks.receive_vector<std::uint8_t>(from);
  if (status.size() != a.size() || preemptive.size() != a.size())
    throw std::logic_error("a rank's part of the wrong length");
  for (std::size_t i = 0; i < a.size(); ++i) {
    into.status[a[i]] = static_cast<account_status>(status[i]);
    into.preemptive[a[i]] = preemptive[i];
  }
}

// The ranks' parts put together on rank 0, timed as the stage `combine`; the other ranks send
// theirs.
void combine_parts(rank_group& ranks, const risk_result& part, const risk_params& risk,
                   const std::vector<std::uint32_t>& whole_index, margin_run& run) {
  timed_stage(run.stages, "combine", [&] {
    run.gathered_risk = combine_risk_on_ranks(ranks, part, risk, whole_index);
    if (ranks.rank() == 0) run.risk = &run.gathered_risk;
    return 0;
  });
}

}  // namespace

risk_result combine_risk_on_ranks(rank_group& ranks, const risk_result& part,
                                  const risk_params& risk,
                                  const std::vector<std::uint32_t>& whole_index) {
  const std::vector<double> bad_debt =
      book_bad_debt_in_rank_order(ranks, part, static_cast<std::size_t>(part.scenarios));
  if (ranks.rank() != 0) {
    send_part(ranks, part, whole_index);
    return {};
  }
  risk_result all = part;
  all.share_accounts.clear();
  all.share_bad_debt_rows.clear();
  for (int from = 1; from < ranks.size(); ++from) receive_part(ranks, from, all);
  const std::int64_t k = tail_count(risk.confidence, part.scenarios);
  const book_bad_debt book = book_bad_debt_of(bad_debt, static_cast<std::size_t>(k));
  all.bad_debt_mean = book.mean;
  all.bad_debt_var = book.var;
  all.bad_debt_es = book.es;
  all.not_ok_accounts.clear();
  for (std::size_t a = 0; a < all.status.size(); ++a)
    if (all.status[a] != account_status::ok)
      all.not_ok_accounts.push_back(static_cast<std::uint32_t>(a));
  return all;
}

int cpu_threads_per_rank(int local_ranks) {
  const int machine = static_cast<int>(std::thread::hardware_concurrency());
  cpu_set_t set;
  int allowed = machine;
  if (sched_getaffinity(0, sizeof set, &set) == 0) allowed = CPU_COUNT(&set);
  // A launcher that bound the rank to some cores has already shared them out.
  if (allowed < machine || local_ranks <= 1) return std::max(1, allowed);
  return std::max(1, allowed / local_ranks);
}

margin_run run_margin_on_ranks(const margin_request& request, rank_group& ranks,
                               const rank_stage& stage,
                               const std::function<void(const std::string&)>& log) {
  margin_run run;
  std::vector<stage_time>& stages = run.stages;
  const int r = ranks.rank(), k = ranks.size();
  // The overrides and the scenario file, once the market is known: N, the scenarios the risk runs
  // at, which the parts are cut by.
  const auto prepare = [&](book_inputs& in) {
    apply_risk_overrides(request.overrides, in.market.size(), in.risk);
    if (request.scenario_file && !run.scenarios)
      run.scenarios = timed_stage(stages, "load_scenarios", [&] {
        return load_scenario_file(*request.scenario_file, in.market);
      });
    return static_cast<std::size_t>(
        run.scenarios ? static_cast<std::int64_t>(run.scenarios->count()) : in.risk.scenarios);
  };
  rank_book held = load_book_on_ranks(
      ranks, stage,
      {request.book, prepare,
       request.scenario_file ? request.scenario_file->string() : std::string("--scenarios"),
       "marginsync margin"},
      stages, log);
  run.inputs = std::move(held.inputs);
  const book_part& part = held.part;
  const std::size_t scenarios = held.scenarios;
  const bool idle = held.idle;

  const risk_params& risk = run.inputs.risk;
  const scenario_source source{run.scenarios ? &*run.scenarios : nullptr};
  stage([&] {
    // The CPU backend with this rank's share of the machine's cores: only it splits its scenario
    // risk by bad-debt chunks today (backend::set_risk_share).
    if (request.backend == backend_choice::cuda)
      throw backend_unavailable(
          "the CUDA backend cannot yet split its scenario risk between ranks: run one process per "
          "machine without mpirun, or --backend cpu");
    if (idle) return;
    const int threads =
        request.threads > 0 ? request.threads : cpu_threads_per_rank(ranks.local_size());
    backend_selection selection = select_backend(backend_choice::cpu, threads, 0);
    log(selection.note);
    if (built_backends().size() > 1)
      log("CUDA not used: across ranks, only the CPU backend splits its scenario risk");
    run.engine = std::move(selection.instance);
    backend& engine = *run.engine;
    engine.set_progress(request.progress);
    run.backend_name = engine.name();
    if (!engine.set_risk_share(part.share(r, k, scenarios)))
      throw backend_unavailable("backend " + engine.name() + " cannot split its scenario risk");
    timed_stage(stages, "upload", [&] {
      engine.load_book(run.inputs.positions, risk);
      return 0;
    });
    run.device = engine.device();
    run.reval = timed_stage(stages, "revalue", [&] {
      engine.revalue(run.inputs.market, {});
      return &engine.held_revaluation();
    });
    timed_stage(stages, "scenario_risk", [&] {
      engine.scenario_risk(source, risk);
      return 0;
    });
  });

  // Only transfers from here on: a failed one ends the whole job (MPI_ERRORS_ARE_FATAL), and so
  // does any other failure here (out of memory), since the other ranks may be waiting for this one.
  run_or_abort_job(ranks, "marginsync margin", "while the ranks' results were put together", [&] {
    risk_result nothing;
    nothing.scenarios = static_cast<std::int64_t>(scenarios);
    combine_parts(ranks, idle ? nothing : run.engine->held_risk(), risk, part.whole_index, run);
  });
  return run;
}

}  // namespace msync
