#pragma once
// The ranks one job runs on (docs/design.md 16): under mpirun, MPI's world; otherwise one rank, the
// process itself. The jobs see only this interface, so that host code reads the same with or
// without MPI; host/mpi/mpi_ranks.cpp (an MPI build) or host/mpi/single_rank.cpp (without)
// implements it, and only the former includes <mpi.h>.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <memory>
#include <stdexcept>
#include <vector>

namespace msync {

// Thrown on a rank whose own work succeeded when another rank's failed (rank_group::agree): the
// process ends with `status`, the failing rank's, having printed nothing (the failing rank prints
// its message).
class rank_stopped : public std::runtime_error {
 public:
  explicit rank_stopped(int status)
      : std::runtime_error("stopped: another rank failed"), status_(status) {}
  int status() const noexcept { return status_; }

 private:
  int status_;
};

class rank_group {
 public:
  virtual ~rank_group() = default;

  virtual int rank() const = 0;        // 0 .. size() - 1; rank 0 writes the outputs
  virtual int size() const = 0;        // ranks in the job
  virtual int local_rank() const = 0;  // among the ranks on this machine
  virtual int local_size() const = 0;  // ranks on this machine (they share its cores and GPUs)

  // Every rank's status after a stage, agreed: the largest (0 when every rank succeeded). Every
  // rank calls it at the same points, so that a rank that failed stops the others there instead of
  // leaving them waiting for its data (the failure rule of docs/design.md 16.3).
  virtual int agree(int status) = 0;

  // Blocking point-to-point transfers of plain bytes, in the order each pair of ranks calls them.
  virtual void send(int to, const void* data, std::size_t bytes) = 0;
  virtual void receive(int from, void* data, std::size_t bytes) = 0;
  // Ends every rank of the job now with `status` (MPI_Abort), for a failure where the other ranks
  // may be waiting for this one's data. Does not return.
  [[noreturn]] virtual void abort_job(int status) = 0;
  // Bytes this rank has sent so far (send's payloads), for bench and the scaling model.
  virtual std::uint64_t bytes_sent() const = 0;

  template <class T>
  void send_vector(int to, const std::vector<T>& v) {
    const std::uint64_t n = v.size();
    send(to, &n, sizeof n);
    if (n) send(to, v.data(), n * sizeof(T));
  }
  template <class T>
  std::vector<T> receive_vector(int from) {
    std::uint64_t n = 0;
    receive(from, &n, sizeof n);
    std::vector<T> v(n);
    if (n) receive(from, v.data(), n * sizeof(T));
    return v;
  }

  // Every rank's `v` (the same length on every rank), on rank 0 in rank order; the other ranks
  // get nothing. For the small per-rank figures of bench (times, byte counts): a few hundred bytes,
  // so plain sends rather than a collective each type would need.
  template <class T>
  std::vector<std::vector<T>> gather_on_first(const std::vector<T>& v) {
    if (rank() != 0) {
      send_vector(0, v);
      return {};
    }
    std::vector<std::vector<T>> all{v};
    for (int from = 1; from < size(); ++from) {
      all.push_back(receive_vector<T>(from));
      if (all.back().size() != v.size()) throw std::logic_error("ranks' figures differ in length");
    }
    return all;
  }
  // Element by element, the largest of every rank's `v`, on rank 0 (empty on the others).
  template <class T>
  std::vector<T> max_on_first(const std::vector<T>& v) {
    std::vector<std::vector<T>> all = gather_on_first(v);
    if (all.empty()) return {};
    std::vector<T> out = all[0];
    for (const std::vector<T>& r : all)
      for (std::size_t i = 0; i < out.size(); ++i) out[i] = r[i] > out[i] ? r[i] : out[i];
    return out;
  }
  // Element by element, the sum of every rank's `v` in rank order, on every rank.
  std::vector<double> sum_on_every_rank(const std::vector<double>& v) {
    std::vector<std::vector<double>> all = gather_on_first(v);
    std::vector<double> out(v.size(), 0.0);
    if (rank() == 0) {
      for (const std::vector<double>& r : all)
        for (std::size_t i = 0; i < out.size(); ++i) out[i] += r[i];
      for (int to = 1; to < size(); ++to) send_vector(to, out);
    } else {
      out = receive_vector<double>(0);
    }
    return out;
  }
};

// Runs `work` once the ranks exchange data (docs/design.md 16.3): a failure (an exception) prints
// `PROGRAM: rank R of K failed WHILE: REASON` and ends the whole job with status 1 (MPI_Abort),
// since the other ranks may be waiting for this one's data.
template <class F>
void run_or_abort_job(rank_group& ranks, const char* program, const char* during, F&& work) {
  try {
    work();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: rank %d of %d failed %s: %s\n", program, ranks.rank(), ranks.size(),
                 during, e.what());
    std::fflush(stderr);
    ranks.abort_job(1);
  }
}

// This process alone, as a group of one rank.
std::unique_ptr<rank_group> make_single_rank();

// Whether this binary was built with MPI (MSYNC_MPI).
bool built_with_mpi();

// Joins the job's ranks: under a launcher (mpirun sets its variables in each process's
// environment) MPI is initialised and its world is the group; otherwise, or in a build without
// MPI, the group is this process alone and MPI is never started, so that a run without mpirun is
// the run it always was. MPI is finalised when the group goes.
std::unique_ptr<rank_group> join_ranks(int& argc, char**& argv);

}  // namespace msync
