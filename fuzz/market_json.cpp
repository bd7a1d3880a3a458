// market.json (docs/design.md section 2.5) from text: problems are expected; a market that loads
// must hold every bound of section 2.10.
#include "fuzz_support.hpp"
#include "fuzz_targets.hpp"
#include "marginsync/errors.hpp"

namespace msync::fuzz {

void market_json(std::string_view input) {
  problem_list problems;
  const market_state m = load_market_text(std::string(input), "market.json", problems);
  if (problems.empty()) check_market(m);
}

}  // namespace msync::fuzz
