// The host implementation of a stream's tick path (backend::stream_revalue and stream_states),
// which the CPU backend uses as it is: revalue, then every account's state in an OpenMP loop over
// the include/ rules.
#include <omp.h>

#include <algorithm>
#include <cmath>

#include "marginsync/backend.hpp"
#include "marginsync/errors.hpp"
#include "marginsync/staleness.hpp"
#include "marginsync/stream_rules.hpp"

namespace msync {

const revaluation& backend::stream_revalue(const market_state& market, const std::vector<double>& collateral_change) {
  stream_reval_ = revalue(market);
  if (!collateral_change.empty()) {
    MSYNC_EXPECTS(collateral_change.size() == stream_reval_.account_equity.size(), "a collateral change per account");
    for (std::size_t a = 0; a < collateral_change.size(); ++a) stream_reval_.account_equity[a] += collateral_change[a];
    stream_reval_.resident_tag = 0;  // a backend's own copy of the equity no longer matches
  }
  stream_market_ = market;
  return stream_reval_;
}

std::vector<tick_change> backend::stream_states(const risk_result& margins, const tick_request& request) {
  MSYNC_EXPECTS(stream_book_ != nullptr, "load_book first");
  const book& b = *stream_book_;
  const revaluation& r = stream_reval_;
  const market_state& m = stream_market_;
  MSYNC_EXPECTS(margins.initial_margin.size() == b.accounts() && r.account_equity.size() == b.accounts(),
                "margins and a revaluation of this book");
  const std::uint8_t* stale = request.stale_underlying ? request.stale_underlying->data() : nullptr;
  // The add-on of account a (and whether it depends on a stale oracle).
  auto addon_of = [&](std::size_t a, bool& on_stale) {
    return account_staleness_addon(b.account_exposure_begin[a], b.account_exposure_begin[a + 1],
                                   b.exposure_underlying.data(), r.exposure_delta.data(), m.spot.data(), m.vol.data(),
                                   stale, request.z, request.tau_years, on_stale);
  };
  const std::int64_t n_acc = static_cast<std::int64_t>(b.accounts());
  std::vector<std::uint8_t> next(b.accounts());
#pragma omp parallel for num_threads(stream_threads_ > 0 ? stream_threads_ : omp_get_max_threads()) schedule(static)
  for (std::int64_t a = 0; a < n_acc; ++a) {
    bool on_stale = false;
    const double addon = addon_of(static_cast<std::size_t>(a), on_stale);
    const margin_levels in_force{margins.initial_margin[a] + addon, margins.maintenance_margin[a] + addon};
    next[a] = static_cast<std::uint8_t>(account_stream_state(r.account_equity[a], in_force, margins.breach_probability[a],
                                                            request.preemptive_threshold, on_stale));
  }
  std::vector<tick_change> changes;
  for (std::size_t a = 0; a < next.size(); ++a) {
    if (next[a] == stream_state_[a]) continue;
    stream_state_[a] = next[a];
    bool on_stale = false;
    const double addon = addon_of(a, on_stale);  // again, for the few that changed
    changes.push_back(tick_change{static_cast<std::uint32_t>(a), next[a], r.account_equity[a],
                                  margins.initial_margin[a] + addon, margins.maintenance_margin[a] + addon,
                                  margins.breach_probability[a]});
  }
  return changes;
}

revalued_accounts backend::stream_accounts(const std::vector<std::uint32_t>& accounts) {
  MSYNC_EXPECTS(stream_book_ != nullptr, "load_book first");
  const book& b = *stream_book_;
  const revaluation& r = stream_reval_;
  MSYNC_EXPECTS(r.account_equity.size() == b.accounts() && r.exposure_delta.size() == b.exposures(),
                "stream_revalue first");
  revalued_accounts out;
  for (std::uint32_t a : accounts) {
    MSYNC_EXPECTS(a < b.accounts(), "accounts of this book");
    out.equity.push_back(r.account_equity[a]);
    out.gross_notional.push_back(r.account_gross_notional[a]);
    for (std::uint64_t x = b.account_exposure_begin[a]; x < b.account_exposure_begin[a + 1]; ++x)
      out.exposure_delta.push_back(r.exposure_delta[x]);
    out.first.push_back(out.exposure_delta.size());
  }
  return out;
}

void backend::set_stream_states(const std::vector<std::uint8_t>& states) {
  MSYNC_EXPECTS(stream_book_ != nullptr && states.size() == stream_book_->accounts(), "a state per account");
  stream_state_ = states;
}

}  // namespace msync
