#pragma once
// Changes to a book in memory while it streams: trades and new accounts, keeping the layout of
// book.hpp (positions sorted by account, then underlying, then instrument; CSR offsets).
#include <cstdint>
#include <string>

#include "marginsync/book.hpp"

namespace msync {

// Appends an account with zero collateral in tier `tier`; returns its index.
std::uint32_t add_account(book& b, const std::string& id, std::uint32_t tier);

// Applies a trade of `quantity` at `price` on instrument `instrument` to account `account`,
// opening the position if the account has none, and returns the collateral change it causes, so
// that equity moves by exactly quantity * m * (mark - price) (the stream issue):
// - perpetuals and futures: through the position's entry, at average cost. Adding to a position
//   (or opening one) adds quantity * price to its cost; reducing it moves the realized P&L of the
//   closed quantity, c m (average entry - price), to collateral (returned); a trade through zero
//   closes the position and opens the rest at `price`;
// - spot and options: a payment of quantity * m * price out of collateral (returned, negated).
double apply_trade(book& b, std::uint32_t account, std::uint32_t instrument, double quantity,
                   double price);

}  // namespace msync
