#pragma once
// Exit statuses of the marginsync executable (docs/design.md, "Command line"):
//   0 success; 1 a failure while running (I/O, internal error); 2 bad input or usage
//   (every problem on stderr as FILE:LINE: column 'NAME': reason; a usage error as one line
//   ending "(see --help)"); 3 the requested backend is not available.
// The subcommands themselves are declared in cli_common.hpp.
#include <string>

namespace msync {
class input_error;
}

namespace msync::cli {

constexpr int exit_ok = 0;
constexpr int exit_failure = 1;
constexpr int exit_bad_input = 2;
constexpr int exit_no_backend = 3;

// Prints the problems of an input_error to stderr, at most 20 lines and then a count; returns 2.
int report_input_error(const input_error& error);
// Inside a catch block: prints the exception being handled as main reports it (usage errors,
// bad input, out of memory, no backend, any other failure) and returns the exit status.
int report_current_exception(const std::string& program);

}  // namespace msync::cli
