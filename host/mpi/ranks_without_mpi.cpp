// join_ranks in a build without MPI: always this process alone.
#include "mpi/rank_group.hpp"

namespace msync {

bool built_with_mpi() {
  return false;
}

std::unique_ptr<rank_group> join_ranks(int&, char**&) {
  return make_single_rank();
}

}  // namespace msync
