#pragma once
// The one rule for ids (docs/design.md 2.1): account, instrument and scenario ids, underlying
// symbols and tier names are UTF-8 text without control characters. Every reader checks it at load
// (book CSVs, market.json, risk.json, the scenario file, trade and collateral events, snapshots),
// so an id that reaches an output is always text that CSV, JSON and a terminal can carry.
#include <string>
#include <string_view>

namespace msync {

// Empty when `id` follows the rule, else the reason (naming the first offending byte and its
// offset, never echoing the id itself). An empty id passes: each reader says what empty means.
std::string id_text_problem(std::string_view id);

}  // namespace msync
