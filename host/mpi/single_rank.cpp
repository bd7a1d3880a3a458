// The rank group of one process alone: a build without MPI, or a run without a launcher.
#include <cstdlib>
#include <stdexcept>

#include "mpi/rank_group.hpp"

namespace msync {

namespace {

class single_rank final : public rank_group {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  int local_rank() const override { return 0; }
  int local_size() const override { return 1; }
  int agree(int status) override { return status; }
  void send(int, const void*, std::size_t) override {
    throw std::logic_error("single_rank: no other rank to send to");
  }
  void receive(int, void*, std::size_t) override {
    throw std::logic_error("single_rank: no other rank to receive from");
  }
  [[noreturn]] void abort_job(int status) override { std::exit(status); }
  std::uint64_t bytes_sent() const override { return 0; }
};

}  // namespace

std::unique_ptr<rank_group> make_single_rank() {
  return std::make_unique<single_rank>();
}

}  // namespace msync
