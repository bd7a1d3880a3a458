// risk.json (docs/design.md section 2.6) from text: problems are expected; a configuration that
// loads must hold every bound of the table there.
#include "fuzz_support.hpp"
#include "fuzz_targets.hpp"
#include "marginsync/errors.hpp"

namespace msync::fuzz {

void risk_json(std::string_view input) {
  problem_list problems;
  const risk_params r = load_risk_text(std::string(input), "risk.json", problems);
  if (problems.empty()) {
    check_risk(r);
    check(risk_param_problems(r).empty(), "risk: loaded, yet its own range checks fail");
  }
}

}  // namespace msync::fuzz
