#include "mpi/cascade_ranks.hpp"

#include <algorithm>
#include <stdexcept>

namespace msync {

namespace {

// A rank's accounts not ok: index, status and maintenance margin, in account order.
struct not_ok_part {
  std::vector<std::uint32_t> accounts;
  std::vector<std::uint8_t> status;
  std::vector<double> maintenance;
};

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

}  // namespace

round_margins margins_across_ranks(rank_group& ranks, risk_result& merged) {
  return [&ranks, &merged](const risk_result& own) -> const risk_result& {
    // This rank's part: the backend computed only its share, every other account reads ok.
    not_ok_part mine;
    mine.accounts = own.not_ok_accounts;
    for (std::uint32_t a : mine.accounts) {
      mine.status.push_back(static_cast<std::uint8_t>(own.status[a]));
      mine.maintenance.push_back(own.maintenance_margin[a]);
    }
    not_ok_part all;
    if (ranks.rank() == 0) {
      all = std::move(mine);
      for (int from = 1; from < ranks.size(); ++from) {
        not_ok_part p = receive_part(ranks, from);
        all.accounts.insert(all.accounts.end(), p.accounts.begin(), p.accounts.end());
        all.status.insert(all.status.end(), p.status.begin(), p.status.end());
        all.maintenance.insert(all.maintenance.end(), p.maintenance.begin(), p.maintenance.end());
      }
      for (int to = 1; to < ranks.size(); ++to) send_part(ranks, to, all);
    } else {
      send_part(ranks, 0, mine);
      all = receive_part(ranks, 0);
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

}  // namespace msync
