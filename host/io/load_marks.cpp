// marks.csv (docs/design.md 2.11): the venue's own marks per instrument. A future's mark_price, an
// option's mark_iv, and the price a future or option settles at once expired. Each value is for
// the kinds that use it only: a mark_iv on a future would otherwise be dropped without a word.
#include <cmath>
#include <unordered_map>

#include "io/csv_reader.hpp"
#include "io/id_rules.hpp"
#include "io/load_inputs.hpp"
#include "io/number_parse.hpp"
#include "marginsync/errors.hpp"

namespace msync {

namespace {

// One value column of marks.csv: its name, the kinds that take it, its bounds, where it goes.
struct mark_column {
  const char* name;
  const char* kinds;  // for the message of a value given to a kind that does not use it
  bool future, option;
  double upper;        // the value must be in (0, upper]
  const char* bounds;  // the same, as the message says it
  std::vector<double> market_state::*into;
};

const mark_column columns[] = {
    {"mark_price", "futures", true, false, max_price, "(0, 1e12]", &market_state::mark_price},
    {"mark_iv", "options", false, true, max_mark_iv, "(0, 10]", &market_state::mark_iv},
    {"settlement_price", "futures and options", true, true, max_price, "(0, 1e12]",
     &market_state::settlement_price},
};

// "a future", "an option": for the message of a value given to a kind that does not use it.
const char* kind_with_article(instrument_kind k) {
  switch (k) {
    case instrument_kind::spot:
      return "a spot instrument";
    case instrument_kind::perpetual:
      return "a perpetual";
    case instrument_kind::future:
      return "a future";
    case instrument_kind::option:
      return "an option";
  }
  return "of an unknown kind";
}

void read_marks(csv_reader& csv, const instrument_table& instruments, market_state& market,
                problem_list& problems) {
  const int c_id = csv.require("instrument_id", problems);
  int c_value[3];
  bool any_value_column = false;
  for (int k = 0; k < 3; ++k) {
    c_value[k] = csv.column(columns[k].name);
    any_value_column = any_value_column || c_value[k] >= 0;
  }
  // A file with no value column gives nothing: most likely its columns are misnamed ("iv").
  if (!any_value_column)
    problems.add(csv.file_name(), csv.line(), "",
                 "no mark_price, mark_iv or settlement_price column: the file gives no mark");
  if (c_id < 0 || !any_value_column) return;

  std::unordered_map<std::string_view, std::uint32_t> ids;
  ids.reserve(instruments.size());
  for (std::size_t i = 0; i < instruments.size(); ++i)
    ids.emplace(instruments.id[i], static_cast<std::uint32_t>(i));
  for (const mark_column& c : columns) (market.*c.into).assign(instruments.size(), NAN);
  std::vector<long> seen_on(instruments.size(), 0);

  while (csv.next(problems)) {
    const std::string_view id = csv.field(c_id);
    auto fail = [&](const char* column, std::string why) {
      problems.add(csv.file_name(), csv.line(), column, std::move(why));
    };
    if (id.empty()) {
      fail("instrument_id", "empty id");
      continue;
    }
    if (std::string why = id_text_problem(id); !why.empty()) {
      fail("instrument_id", std::move(why));
      continue;
    }
    auto it = ids.find(id);
    if (it == ids.end()) {
      fail("instrument_id", quote_input(id) + " is not an instrument in instruments.csv");
      continue;
    }
    const std::uint32_t i = it->second;
    if (seen_on[i]) {
      fail("instrument_id",
           quote_input(id) + " appears twice (first on line " + std::to_string(seen_on[i]) + ")");
      continue;
    }
    seen_on[i] = csv.line();
    const instrument_kind kind = instruments.kind[i];
    for (int k = 0; k < 3; ++k) {
      const mark_column& c = columns[k];
      const std::string_view text = csv.field(c_value[k]);
      if (text.empty()) continue;  // not given
      const bool takes = (kind == instrument_kind::future && c.future) ||
                         (kind == instrument_kind::option && c.option);
      if (!takes) {
        fail(c.name, std::string("for ") + c.kinds + " only; " + quote_input(id) + " is " +
                         kind_with_article(kind));
        continue;
      }
      double v = 0.0;
      if (std::string why = parse_number(text, v); !why.empty()) {
        fail(c.name, std::move(why));
        continue;
      }
      if (!(v > 0.0 && v <= c.upper)) {
        fail(c.name, std::string("must be within ") + c.bounds + ", got " + excerpt(text));
        continue;
      }
      (market.*c.into)[i] = v;
    }
  }
}

}  // namespace

void load_marks(const std::filesystem::path& path, const instrument_table& instruments,
                market_state& market, problem_list& problems) {
  csv_reader csv;
  if (csv.open(path, problems)) read_marks(csv, instruments, market, problems);
}

void load_marks_text(std::string text, const std::string& name, const instrument_table& instruments,
                     market_state& market, problem_list& problems) {
  csv_reader csv;
  if (csv.open_text(std::move(text), name, problems))
    read_marks(csv, instruments, market, problems);
}

}  // namespace msync
