#include "cpu/revalue_pass.hpp"

#include <omp.h>

#include "marginsync/stream_rules.hpp"

namespace msync::cpu {

void run_revalue_pass(const revalue_pass& pass, int threads) {
  const book& b = *pass.positions;
  const bool funding = pass.funding.any();
  const std::int64_t n_acc = static_cast<std::int64_t>(b.accounts());
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1024)
  for (std::int64_t a = 0; a < n_acc; ++a) {
    // Funding first, as the stream accrues it before the update's prices apply; the positions it
    // reads are the revaluation's next.
    double change = pass.change ? pass.change[a] : 0.0;
    if (funding) {
      change = account_after_funding(b, static_cast<std::size_t>(a), pass.funding, change);
      pass.change_out[a] = change;
    }
    const std::uint64_t x0 = b.account_exposure_begin[a], x1 = b.account_exposure_begin[a + 1];
    const account_totals totals =
        revalue_account(pass.view, x0, x1, b.collateral[a], pass.credit_limit[b.account_tier[a]]);
    // The collateral change is added after the positions, as the device adds it after its revalue.
    const double equity = pass.change ? totals.equity + change : totals.equity;
    pass.out.own_funds[a] = pass.change ? totals.own_funds + change : totals.own_funds;
    pass.out.equity[a] = equity;
    pass.out.gross_notional[a] = totals.gross_notional;
    pass.out.floor_notional[a] = totals.floor_notional;
    pass.out.liquidity_addon[a] = totals.liquidity_addon;
    if (const tick_state_inputs* s = pass.states) {
      // The account's exposure deltas were just written: still in cache.
      const account_tick t = account_tick_state(
          x0, x1, b.exposure_underlying.data(), pass.view.exposure_delta, pass.view.spot,
          pass.view.vol, s->stale, s->z, s->tau_years, equity, s->initial_margin[a],
          s->maintenance_margin[a], s->breach_probability[a], s->preemptive_threshold,
          static_cast<stream_state>(s->previous[a]), s->recovery_band);
      s->next[a] = static_cast<std::uint8_t>(t.state);
    }
  }
}

}  // namespace msync::cpu
