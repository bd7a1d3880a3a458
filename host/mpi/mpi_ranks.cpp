// The rank group of an MPI build under a launcher: MPI's world (docs/design.md 16). The one file
// that includes <mpi.h>. Errors in MPI calls end the whole job (MPI_ERRORS_ARE_FATAL, MPI's
// default on the world communicator): a lost rank never leaves the others waiting.
#include <mpi.h>

#include <algorithm>
#include <cstdlib>
#include <limits>

#include "mpi/rank_group.hpp"

namespace msync {

namespace {

// A launcher's variables in this process's environment: OpenMPI's mpirun, PMIx, MPICH's Hydra or
// Slurm's PMI. Without one the process was started on its own and MPI is not started at all.
bool started_by_launcher() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE"})
    if (std::getenv(name)) return true;
  return false;
}

// MPI counts are int: larger transfers go in pieces of at most 1 GiB.
constexpr std::size_t piece_bytes = std::size_t{1} << 30;

class mpi_world final : public rank_group {
 public:
  mpi_world(int& argc, char**& argv) {
    int provided = 0;
    // Only the main thread calls MPI; OpenMP's threads never do.
    MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
    MPI_Comm local;
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &local);
    MPI_Comm_rank(local, &local_rank_);
    MPI_Comm_size(local, &local_size_);
    MPI_Comm_free(&local);
  }
  ~mpi_world() override { MPI_Finalize(); }
  mpi_world(const mpi_world&) = delete;
  mpi_world& operator=(const mpi_world&) = delete;

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  int local_rank() const override { return local_rank_; }
  int local_size() const override { return local_size_; }

  int agree(int status) override {
    int worst = 0;
    MPI_Allreduce(&status, &worst, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    return worst;
  }
  void send(int to, const void* data, std::size_t bytes) override {
    const char* p = static_cast<const char*>(data);
    do {
      const std::size_t n = std::min(bytes, piece_bytes);
      MPI_Send(p, static_cast<int>(n), MPI_BYTE, to, 0, MPI_COMM_WORLD);
      sent_ += n;
      p += n;
      bytes -= n;
    } while (bytes > 0);
  }
  void receive(int from, void* data, std::size_t bytes) override {
    char* p = static_cast<char*>(data);
    do {
      const std::size_t n = std::min(bytes, piece_bytes);
      MPI_Recv(p, static_cast<int>(n), MPI_BYTE, from, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
      p += n;
      bytes -= n;
    } while (bytes > 0);
  }
  [[noreturn]] void abort_job(int status) override {
    MPI_Abort(MPI_COMM_WORLD, status);
    std::abort();  // MPI_Abort does not return
  }
  std::uint64_t bytes_sent() const override { return sent_; }

 private:
  int rank_ = 0, size_ = 1, local_rank_ = 0, local_size_ = 1;
  std::uint64_t sent_ = 0;
};

}  // namespace

bool built_with_mpi() {
  return true;
}

std::unique_ptr<rank_group> join_ranks(int& argc, char**& argv) {
  if (!started_by_launcher()) return make_single_rank();
  return std::make_unique<mpi_world>(argc, argv);
}

}  // namespace msync
