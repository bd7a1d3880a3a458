#include "mpi/cascade_ranks.hpp"

#include <algorithm>
#include <stdexcept>

#include "cpu/risk_order.hpp"
#include "marginsync/account_patch.hpp"
#include "marginsync/errors.hpp"
#include "marginsync/instrument_inputs.hpp"

namespace msync {

namespace {

// What rank 0 sends before each round and at each end: a kind, then for a round its prices.
enum message_kind : int { round_starts = 0, shock_done = 1, all_done = 2 };

// A rank's accounts not ok: index in the whole book, status and maintenance margin, in account
// order.
struct not_ok_part {
  std::vector<std::uint32_t> accounts;
  std::vector<std::uint8_t> status;
  std::vector<double> maintenance;
};

not_ok_part not_ok_of(const risk_result& own, const std::vector<std::uint32_t>& whole_index) {
  not_ok_part p;
  for (std::uint32_t a : own.not_ok_accounts) {
    p.accounts.push_back(whole_index.empty() ? a : whole_index.at(a));
    p.status.push_back(static_cast<std::uint8_t>(own.status[a]));
    p.maintenance.push_back(own.maintenance_margin[a]);
  }
  return p;
}

void send_part(rank_group& ranks, int to, const not_ok_part& p) {
  ranks.send_vector(to, p.accounts);
  ranks.send_vector(to, p.status);
  ranks.send_vector(to, p.maintenance);
}

not_ok_part receive_part(rank_group& ranks, int from) {
  not_ok_part p;
  p.accounts = ranks.receive_vector<std::uint32_t>(from);
  p.status = ranks.receive_vector<std::uint8_t>(from);
  p.maintenance = ranks.receive_vector<double>(from);
  if (p.status.size() != p.accounts.size() || p.maintenance.size() != p.accounts.size())
    throw std::logic_error("a rank's accounts not ok of the wrong length");
  return p;
}

void send_to_followers(rank_group& ranks, const std::vector<double>& message) {
  for (int to = 1; to < ranks.size(); ++to) ranks.send_vector(to, message);
}

}  // namespace

round_margins margins_from_ranks(rank_group& ranks, risk_result& merged) {
  return [&ranks, &merged](const risk_result& own) -> const risk_result& {
    // Rank 0's backend computed only its part: every other account reads ok there.
    not_ok_part all = not_ok_of(own, {});
    for (int from = 1; from < ranks.size(); ++from) {
      not_ok_part p = receive_part(ranks, from);
      all.accounts.insert(all.accounts.end(), p.accounts.begin(), p.accounts.end());
      all.status.insert(all.status.end(), p.status.begin(), p.status.end());
      all.maintenance.insert(all.maintenance.end(), p.maintenance.begin(), p.maintenance.end());
    }
    // In account order, as one process's not_ok_accounts: the close-outs, and so every sum over
    // them (the net notional per underlying, the round's totals), run in that order.
    const std::size_t n = own.status.size();
    merged.status.assign(n, account_status::ok);
    merged.maintenance_margin.assign(n, 0.0);
    for (std::size_t i = 0; i < all.accounts.size(); ++i) {
      const std::uint32_t a = all.accounts[i];
      if (a >= n) throw std::logic_error("a rank sent an account out of range");
      merged.status[a] = static_cast<account_status>(all.status[i]);
      merged.maintenance_margin[a] = all.maintenance[i];
    }
    merged.not_ok_accounts = std::move(all.accounts);
    std::sort(merged.not_ok_accounts.begin(), merged.not_ok_accounts.end());
    return merged;
  };
}

std::vector<std::uint16_t> account_owners(rank_group& ranks, const book& whole,
                                          std::size_t scenarios) {
  MSYNC_EXPECTS(ranks.size() <= 65536, "a rank number fits 16 bits");
  const std::vector<std::uint32_t> order =
      cpu::accounts_in_risk_order(whole.account_exposure_begin, whole.exposure_underlying);
  std::vector<std::uint16_t> owner(whole.accounts(), 0);
  for (int r = 1; r < ranks.size(); ++r) {
    const account_range part = share_of_accounts(whole.accounts(), scenarios, r, ranks.size());
    for (std::size_t i = part.begin; i < part.end; ++i)
      owner[order[i]] = static_cast<std::uint16_t>(r);
  }
  return owner;
}

round_events events_to_ranks(rank_group& ranks, const std::vector<std::uint16_t>& owner) {
  round_events e;
  e.round_starts = [&ranks](const std::vector<double>& spot) {
    std::vector<double> message{static_cast<double>(round_starts)};
    message.insert(message.end(), spot.begin(), spot.end());
    send_to_followers(ranks, message);
  };
  e.closed_out = [&ranks, &owner](const std::vector<std::uint32_t>& accounts,
                                  const std::vector<double>& left) {
    // Each rank gets its own accounts, in account order.
    std::vector<std::vector<std::uint32_t>> theirs(static_cast<std::size_t>(ranks.size()));
    std::vector<std::vector<double>> their_left(theirs.size());
    for (std::size_t i = 0; i < accounts.size(); ++i) {
      const std::size_t r = owner.at(accounts[i]);
      theirs[r].push_back(accounts[i]);
      their_left[r].push_back(left[i]);
    }
    for (int to = 1; to < ranks.size(); ++to) {
      ranks.send_vector(to, theirs[static_cast<std::size_t>(to)]);
      ranks.send_vector(to, their_left[static_cast<std::size_t>(to)]);
    }
  };
  e.finished = [&ranks] { send_to_followers(ranks, {static_cast<double>(shock_done)}); };
  return e;
}

void end_cascades_on_ranks(rank_group& ranks) {
  send_to_followers(ranks, {static_cast<double>(all_done)});
}

void follow_cascades(rank_group& ranks, const rank_book& held, backend* engine) {
  const book& b = held.inputs.positions;
  const std::vector<std::uint32_t>& whole_index = held.part.whole_index;
  market_state m = held.inputs.market;
  // As rank 0 (run_cascade): instruments expired at as_of settle at the prices before the shock.
  if (engine) settle_expired(b.instruments, m);
  account_patch undo;  // this shock's closed accounts as loaded
  for (;;) {
    const std::vector<double> message = ranks.receive_vector<double>(0);
    if (message.empty()) throw std::logic_error("an empty message from rank 0");
    const int kind = static_cast<int>(message[0]);
    if (kind == all_done) return;
    if (kind == shock_done) {
      if (engine && undo.size() > 0) engine->patch_accounts(undo);
      undo = account_patch{};
      continue;
    }
    if (kind != round_starts) throw std::logic_error("an unknown message from rank 0");
    not_ok_part mine;
    if (engine) {
      if (message.size() != m.size() + 1) throw std::logic_error("a round's prices of bad length");
      m.spot.assign(message.begin() + 1, message.end());
      engine->revalue(m, {});
      engine->scenario_risk(scenario_source{}, held.inputs.risk);
      mine = not_ok_of(engine->held_risk(), whole_index);
    }
    send_part(ranks, 0, mine);
    const std::vector<std::uint32_t> closed = ranks.receive_vector<std::uint32_t>(0);
    const std::vector<double> left = ranks.receive_vector<double>(0);
    if (left.size() != closed.size()) throw std::logic_error("close-outs of the wrong length");
    if (closed.empty()) continue;
    if (!engine) throw std::logic_error("close-outs for a rank without accounts");
    account_patch close;
    for (std::size_t i = 0; i < closed.size(); ++i) {
      const auto at = std::lower_bound(whole_index.begin(), whole_index.end(), closed[i]);
      if (at == whole_index.end() || *at != closed[i])
        throw std::logic_error("a close-out of another rank's account");
      const auto a = static_cast<std::uint32_t>(at - whole_index.begin());
      add_current(undo, b, a);
      add_closed(close, b, a, left[i]);
    }
    engine->patch_accounts(close);
  }
}

}  // namespace msync
