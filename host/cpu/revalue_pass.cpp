#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wpsabi"  // vectors stay inside inlined functions
#endif

#include "cpu/revalue_pass.hpp"

#include <omp.h>

#include <algorithm>
#include <cstring>

#include "marginsync/errors.hpp"
#include "marginsync/stream_rules.hpp"

// One version of the pass per instruction set (AVX-512, the baseline) on x86-64 with GCC, picked
// once at run time for the processor, as for the loss loops; elsewhere the baseline only.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && \
    !defined(__SANITIZE_ADDRESS__)
#define MSYNC_ISA_VERSIONS 1
#endif

namespace msync::cpu {

// Eight doubles as one vector (GCC and Clang vector extensions, as the loss loops use): one
// instrument's position_terms.
typedef double double8 __attribute__((vector_size(64)));

namespace {

#if defined(MSYNC_ISA_VERSIONS)
#pragma GCC push_options
#pragma GCC target("avx512f")
namespace avx512 {
#include "cpu/revalue_pass_body.hpp"  // NOLINT(bugprone-suspicious-include)
}  // namespace avx512
#pragma GCC pop_options
#endif

namespace baseline {
#include "cpu/revalue_pass_body.hpp"  // NOLINT(bugprone-suspicious-include)
}  // namespace baseline

using accounts_fn = void (*)(const revalue_pass&, const account_revaluation_view&, std::int64_t,
                             std::int64_t);

accounts_fn best_revalue_accounts() {
#if defined(MSYNC_ISA_VERSIONS)
  static const accounts_fn best =
      __builtin_cpu_supports("avx512f") ? &avx512::revalue_accounts : &baseline::revalue_accounts;
  return best;
#else
  return &baseline::revalue_accounts;
#endif
}

}  // namespace

void run_revalue_pass(const revalue_pass& pass, int threads) {
  const book& b = *pass.positions;
  MSYNC_EXPECTS(!pass.funding.any() || (pass.funding.positions == &b && pass.change_out),
                "funding of the book revalued, into a collateral change per account");
  // Funding in the revaluation's loop over the positions: an account's positions are its
  // exposures' in book order, the order account_after_funding pays them in.
  account_revaluation_view view = pass.view;
  if (pass.funding.any()) {
    view.funding_spot = pass.funding.spot;
    view.funding_rate = pass.funding.rate;
    view.funding_periods = pass.funding.periods;
  } else {
    view.funding_rate = nullptr;
  }
  MSYNC_EXPECTS(view.position_table && view.position_table_flags, "the view's position table");
  const accounts_fn accounts = best_revalue_accounts();
  // Blocks of accounts handed out as threads free up (accounts differ in size).
  constexpr std::int64_t block = 1024;
  const std::int64_t n_acc = static_cast<std::int64_t>(b.accounts());
  const std::int64_t blocks = (n_acc + block - 1) / block;
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1)
  for (std::int64_t k = 0; k < blocks; ++k)
    accounts(pass, view, k * block, std::min(n_acc, (k + 1) * block));
}

}  // namespace msync::cpu
