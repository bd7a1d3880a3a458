#include <sstream>

#include "marginsync/errors.hpp"

namespace msync {

std::string excerpt(std::string_view text, std::size_t limit) {
  if (text.size() <= limit) return std::string(text);
  std::size_t cut = limit;
  // Back to the start of a UTF-8 character: never split a multi-byte one.
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  return std::string(text.substr(0, cut)) + "\u2026 (" + std::to_string(text.size()) + " bytes)";
}

std::string quote_input(std::string_view text) {
  return "'" + excerpt(text) + "'";
}

std::string input_problem::to_string() const {
  // The one place every problem line is made: whatever a reader quoted, the line stays short.
  std::string s = file;
  if (line > 0) s += ":" + std::to_string(line);
  s += ": ";
  if (!column.empty()) s += "column '" + excerpt(column) + "': ";
  s += excerpt(reason, max_reason_bytes);
  return s;
}

namespace {
std::string summarize(const std::vector<input_problem>& problems) {
  if (problems.empty()) return "invalid input";
  std::string s = problems.front().to_string();
  if (problems.size() > 1) s += " (and " + std::to_string(problems.size() - 1) + " more)";
  return s;
}
}  // namespace

input_error::input_error(std::vector<input_problem> problems)
    : std::runtime_error(summarize(problems)), problems_(std::move(problems)) {}

void problem_list::add(std::string file, long line, std::string column, std::string reason) {
  problems_.push_back(input_problem{std::move(file), line, std::move(column), std::move(reason)});
}

void problem_list::append(problem_list&& other) {
  if (problems_.empty()) {
    problems_ = std::move(other.problems_);
  } else {
    problems_.reserve(problems_.size() + other.problems_.size());
    for (input_problem& p : other.problems_) problems_.push_back(std::move(p));
  }
  other.problems_.clear();
}

void problem_list::throw_if_any() {
  if (!problems_.empty()) throw input_error(std::move(problems_));
}

namespace detail {
void throw_expects(const char* condition, const std::string& message, const char* file, int line) {
  std::ostringstream s;
  s << file << ":" << line << ": internal check failed (" << condition << "): " << message;
  throw std::logic_error(s.str());
}
}  // namespace detail

}  // namespace msync
