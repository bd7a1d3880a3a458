#include "stream/book_edit.hpp"

#include "marginsync/trade_rules.hpp"

namespace msync {

namespace {

template <class T>
void insert_at(column<T>& v, std::size_t at, T value) {
  v.insert(v.begin() + static_cast<std::ptrdiff_t>(at), value);
}

// The index of account a's position in `instrument`, inserted (quantity 0, cost 0) where the
// sort order puts it if there is none, with a new exposure if a has none in its underlying.
std::uint64_t find_or_insert_position(book& b, std::uint32_t a, std::uint32_t instrument) {
  const std::uint32_t u = b.instruments.underlying[instrument];
  std::uint64_t x = b.account_exposure_begin[a];
  const std::uint64_t x_end = b.account_exposure_begin[a + 1];
  while (x < x_end && b.exposure_underlying[x] < u) ++x;
  if (x == x_end || b.exposure_underlying[x] != u) {
    // A new, empty exposure at x: every later account's exposures move up by one.
    insert_at(b.exposure_underlying, x, u);
    insert_at(b.exposure_position_begin, x, b.exposure_position_begin[x]);
    for (std::size_t later = a + 1; later < b.account_exposure_begin.size(); ++later)
      ++b.account_exposure_begin[later];
  }
  std::uint64_t p = b.exposure_position_begin[x];
  const std::uint64_t p_end = b.exposure_position_begin[x + 1];
  while (p < p_end && b.position_instrument[p] < instrument) ++p;
  if (p < p_end && b.position_instrument[p] == instrument) return p;
  insert_at(b.position_instrument, p, instrument);
  insert_at(b.position_quantity, p, 0.0);
  insert_at(b.position_cost, p, 0.0);
  for (std::size_t later = a + 1; later < b.account_position_begin.size(); ++later)
    ++b.account_position_begin[later];
  for (std::size_t later = x + 1; later < b.exposure_position_begin.size(); ++later)
    ++b.exposure_position_begin[later];
  return p;
}

}  // namespace

std::uint32_t add_account(book& b, const std::string& id, std::uint32_t tier) {
  b.account_id.push_back(id);
  b.collateral.push_back(0.0);
  b.account_tier.push_back(tier);
  b.account_position_begin.push_back(b.account_position_begin.back());
  b.account_exposure_begin.push_back(b.account_exposure_begin.back());
  return static_cast<std::uint32_t>(b.account_id.size() - 1);
}

double apply_trade(book& b, std::uint32_t account, std::uint32_t instrument, double quantity,
                   double price) {
  const std::uint64_t p = find_or_insert_position(b, account, instrument);
  ++b.position_rows;
  const traded_position t =
      trade_position(b.instruments.kind[instrument], b.instruments.multiplier[instrument],
                     b.position_quantity[p], b.position_cost[p], quantity, price);
  b.position_quantity[p] = t.quantity;
  b.position_cost[p] = t.cost;
  return t.collateral_change;
}

}  // namespace msync
