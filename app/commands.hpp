#pragma once
// Subcommands of the marginsync executable. Each returns the process exit status:
//   0 success; 1 a failure while running (I/O, internal error); 2 bad input or usage
//   (every problem on stderr as FILE:LINE: column 'NAME': reason); 3 the requested backend is
//   not available.
namespace msync {
class input_error;
}

namespace msync::cli {

constexpr int exit_ok = 0;
constexpr int exit_failure = 1;
constexpr int exit_bad_input = 2;
constexpr int exit_no_backend = 3;

int run_margin_command(int argc, char** argv);
int run_generate_command(int argc, char** argv);
int run_convert_command(int argc, char** argv);
int run_bench_command(int argc, char** argv);
int run_stream_command(int argc, char** argv);
int run_cascade_command(int argc, char** argv);
int run_replay_command(int argc, char** argv);

// Prints the problems of an input_error to stderr, at most 20 lines and then a count; returns 2.
int report_input_error(const input_error& error);

}  // namespace msync::cli
