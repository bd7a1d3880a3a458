// marginsync convert: a book directory into a binary snapshot that loads in about a second.
#include <chrono>
#include <cstdio>

#include "commands.hpp"
#include "parse_options.hpp"
#include "io/book_snapshot.hpp"
#include "marginsync/errors.hpp"

namespace msync::cli {

int run_convert_command(int argc, char** argv) {
  cxxopts::Options options("marginsync convert",
                           "Validate a book directory and write it as one binary snapshot file, "
                           "which every command accepts as --book FILE and loads many times faster "
                           "than CSV. The snapshot keeps market.json and risk.json; --market and "
                           "--risk can still replace them when it is used.");
  options.custom_help("--book DIR --out FILE [OPTIONS]");
  add_book_options(options);
  options.add_options()("out", "snapshot file to write", cxxopts::value<std::string>())(
      "h,help", "this help");
  int status = exit_ok;
  const auto parsed = parse_options(options, argc, argv, {"book", "out"}, "", status);
  if (!parsed) return status;
  const cxxopts::ParseResult& args = *parsed;

  const book_location where = book_location_from(args);
  if (!std::filesystem::is_directory(where.book))
    throw input_error({input_problem{where.book.string(), 0, "",
                                     "is not a book directory (a snapshot needs no conversion)"}});
  const auto start = std::chrono::steady_clock::now();
  const std::string out = args["out"].as<std::string>();
  const book_inputs in = convert_book_directory(where.directory_paths(), out);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("wrote %zu accounts, %zu instruments, %zu positions (%llu rows) to %s in %.2f s\n",
              in.positions.accounts(), in.positions.instruments.size(), in.positions.positions(),
              static_cast<unsigned long long>(in.positions.position_rows), out.c_str(), seconds);
  return exit_ok;
}

}  // namespace msync::cli
