#pragma once
// Errors carry where and why. input_error is bad user input (exit status 2), one line per problem
// in the form FILE:LINE: column 'NAME': reason. backend_unavailable is exit status 3.
#include <cstddef>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace msync {

// A problem quotes at most this much of an input value: a 10 MB cell must not make a 10 MB error
// line (docs/design.md section 5.2).
constexpr std::size_t max_quoted_bytes = 80;
// And a whole reason at most this much (it holds one or two quoted values and a sentence).
constexpr std::size_t max_reason_bytes = 400;

// `text` when it is at most `limit` bytes; else its first bytes up to `limit` (ending on a UTF-8
// character boundary), then "… (N bytes)" with N the whole length.
std::string excerpt(std::string_view text, std::size_t limit = max_quoted_bytes);
// excerpt(text) in single quotes, as problems quote input: 'BTC-PERP'.
std::string quote_input(std::string_view text);

struct input_problem {
  std::string file;
  long line = 0;       // 1-based; 0 when the problem is the file as a whole
  std::string column;  // CSV column or JSON key path; empty when not about one field
  std::string reason;

  // FILE:LINE: column 'NAME': reason, with the column and the reason cut by excerpt().
  std::string to_string() const;
};

class input_error : public std::runtime_error {
 public:
  explicit input_error(std::vector<input_problem> problems);
  const std::vector<input_problem>& problems() const noexcept { return problems_; }

 private:
  std::vector<input_problem> problems_;
};

class backend_unavailable : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Collects the problems of a load so that the user sees all of them at once, not one per run.
class problem_list {
 public:
  void add(std::string file, long line, std::string column, std::string reason);
  // Moves the problems of `other` after these (a load read in parts: the parts' lists in order).
  void append(problem_list&& other);
  bool empty() const noexcept { return problems_.empty(); }
  std::size_t size() const noexcept { return problems_.size(); }
  // Throws input_error when anything was collected.
  void throw_if_any();

 private:
  std::vector<input_problem> problems_;
};

namespace detail {
[[noreturn]] void throw_expects(const char* condition, const std::string& message, const char* file,
                                int line);
}

}  // namespace msync

// Internal invariant (not user input): throws std::logic_error naming the place.
#define MSYNC_EXPECTS(cond, msg)                                                   \
  do {                                                                             \
    if (!(cond)) ::msync::detail::throw_expects(#cond, (msg), __FILE__, __LINE__); \
  } while (0)
