#include "cpu/tick_path.hpp"

#include <omp.h>

#include <cstring>

#include "marginsync/errors.hpp"
#include "marginsync/stream_rules.hpp"

namespace msync::cpu {

namespace {

// Account a's tick (state and add-on) from the state it was in.
account_tick tick_of(const book& b, const revaluation& r, const market_state& m,
                     const risk_result& margins, const tick_request& request,
                     const std::uint8_t* stale, std::size_t a, std::uint8_t previous) {
  return account_tick_state(b.account_exposure_begin[a], b.account_exposure_begin[a + 1],
                            b.exposure_underlying.data(), r.exposure_delta.data(), m.spot.data(),
                            m.vol.data(), stale, request.z, request.tau_years, r.account_equity[a],
                            margins.initial_margin[a], margins.maintenance_margin[a],
                            margins.breach_probability[a], request.preemptive_threshold,
                            static_cast<stream_state>(previous), request.recovery_band);
}

}  // namespace

const std::uint8_t* stale_flags(const market_state& market, const tick_request& request,
                                tick_buffers& buffers) {
  buffers.stale.assign(market.size(), 0);  // never more than the market's underlyings
  if (request.stale_underlying)
    for (std::size_t u = 0; u < market.size() && u < request.stale_underlying->size(); ++u)
      buffers.stale[u] = (*request.stale_underlying)[u];
  return buffers.stale.data();
}

std::vector<tick_change> tick_states(const book& b, const revaluation& r, const market_state& m,
                                     const risk_result& margins, const tick_request& request,
                                     std::vector<std::uint8_t>& states, int threads,
                                     tick_buffers& buffers) {
  MSYNC_EXPECTS(margins.initial_margin.size() == b.accounts() &&
                    r.account_equity.size() == b.accounts() && states.size() == b.accounts(),
                "margins, a revaluation and states of this book");
  const std::uint8_t* stale = stale_flags(m, request, buffers);
  const std::int64_t n_acc = static_cast<std::int64_t>(b.accounts());
  buffers.next.resize(b.accounts());
  std::uint8_t* next = buffers.next.data();
  // From the account's state after the last tick (the calm-state rule of stream_rules.hpp).
#pragma omp parallel for num_threads(threads > 0 ? threads : omp_get_max_threads()) schedule(static)
  for (std::int64_t a = 0; a < n_acc; ++a)
    next[a] = static_cast<std::uint8_t>(
        tick_of(b, r, m, margins, request, stale, static_cast<std::size_t>(a), states[a]).state);
  return tick_changes(b, r, m, margins, request, stale, states, buffers.next);
}

std::vector<tick_change> tick_states(const book& b, const revaluation& r, const market_state& m,
                                     const risk_result& margins, const tick_request& request,
                                     std::vector<std::uint8_t>& states, int threads) {
  tick_buffers buffers;
  return tick_states(b, r, m, margins, request, states, threads, buffers);
}

std::vector<tick_change> tick_changes(const book& b, const revaluation& r, const market_state& m,
                                      const risk_result& margins, const tick_request& request,
                                      const std::uint8_t* stale, std::vector<std::uint8_t>& states,
                                      const std::vector<std::uint8_t>& next) {
  MSYNC_EXPECTS(next.size() == states.size(), "a new state per account");
  std::vector<tick_change> changes;
  const std::size_t n = states.size();
  std::size_t a = 0;
  while (a < n) {
    // Few accounts change on a tick: skip eight equal states at a time.
    if (a + 8 <= n) {
      std::uint64_t was = 0, now = 0;
      std::memcpy(&was, states.data() + a, 8);
      std::memcpy(&now, next.data() + a, 8);
      if (was == now) {
        a += 8;
        continue;
      }
    }
    const std::size_t end = a + 8 <= n ? a + 8 : n;
    for (; a < end; ++a) {
      if (next[a] == states[a]) continue;
      // The add-on again, for the few that changed.
      const double addon = tick_of(b, r, m, margins, request, stale, a, states[a]).addon;
      states[a] = next[a];
      changes.push_back(tick_change{static_cast<std::uint32_t>(a), next[a], r.account_equity[a],
                                    margins.initial_margin[a] + addon,
                                    margins.maintenance_margin[a] + addon,
                                    margins.breach_probability[a]});
    }
  }
  return changes;
}

revalued_accounts gather_accounts(const book& b, const revaluation& r,
                                  const std::vector<std::uint32_t>& accounts) {
  MSYNC_EXPECTS(r.account_equity.size() == b.accounts() && r.exposure_delta.size() == b.exposures(),
                "a revaluation of this book");
  revalued_accounts out;
  for (std::uint32_t a : accounts) {
    MSYNC_EXPECTS(a < b.accounts(), "accounts of this book");
    out.equity.push_back(r.account_equity[a]);
    out.own_funds.push_back(r.account_own_funds[a]);
    out.gross_notional.push_back(r.account_gross_notional[a]);
    for (std::uint64_t x = b.account_exposure_begin[a]; x < b.account_exposure_begin[a + 1]; ++x)
      out.exposure_delta.push_back(r.exposure_delta[x]);
    out.first.push_back(out.exposure_delta.size());
  }
  return out;
}

}  // namespace msync::cpu
