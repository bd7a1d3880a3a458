// marginsync convert: a book directory into a binary snapshot, memory-mapped and used in place
// when loaded.
#include <cstdio>
#include <string>

#include "cli_common.hpp"
#include "io/book_snapshot.hpp"
#include "marginsync/errors.hpp"
#include "marginsync/stopwatch.hpp"

namespace msync::cli {

namespace {

struct convert_options {
  book_options book;
  std::string out;
  std::string order_name = "input";
  run_options run;
};

int run_convert_command(const convert_options& o) {
  const book_location where = book_location_from(o.book);
  refuse_output_over_inputs("--out", o.out, book_inputs_named(o.book));
  if (!std::filesystem::is_directory(where.book))
    throw input_error({input_problem{where.book.string(), 0, "",
                                     "is not a book directory (a snapshot needs no conversion)"}});
  reject_directory_for_file("--out", o.out);
  const stopwatch start;
  book_inputs in;
  {
    // One step with no measure of its own: the stage is shown while it runs, erased after.
    progress_reporter progress(!o.run.quiet);
    progress.update("converting " + where.book.string(), -1.0);
    in =
        convert_book_directory(where.directory_paths(), o.out,
                               o.order_name == "risk" ? account_order::risk : account_order::input);
  }
  const double seconds = start.seconds();
  if (!o.run.quiet)
    std::printf("wrote %zu accounts, %zu instruments, %zu positions (%llu rows) to %s in %.2f s\n",
                in.positions.accounts(), in.positions.instruments.size(), in.positions.positions(),
                static_cast<unsigned long long>(in.positions.position_rows), o.out.c_str(),
                seconds);
  return exit_ok;
}

}  // namespace

command convert_command(CLI::App& top, const run_context&) {
  auto o = std::make_shared<convert_options>();
  CLI::App* app = top.add_subcommand(
      "convert",
      "Validate a book directory and write it as one binary snapshot file, which every command "
      "accepts as --book FILE and loads many times faster than CSV. The snapshot keeps market.json "
      "and risk.json; --market-file and --risk-file can still replace them when it is used.");
  add_book_options(*app, o->book, "book directory to convert");
  app->add_option("--out", o->out, "snapshot file to write (replaced if it exists)")
      ->required()
      ->type_name("FILE")
      ->group("Outputs");
  app->add_option("--account-order", o->order_name,
                  "input: the accounts as accounts.csv lists them; risk: in the order scenario "
                  "risk visits them (by the underlyings they trade), so that each process of a "
                  "run across MPI ranks reads only its part of the file; the outputs of a run on "
                  "the snapshot then list the accounts in that order")
      ->check(CLI::IsMember({"input", "risk"}).description(""))
      ->type_name("input|risk")
      ->default_str("input")
      ->group("Outputs");
  add_backend_option(*app, o->run, backend_use::accepted_only);
  add_verbosity_options(*app, o->run);
  app->footer(help_footer("marginsync convert --book data/generated --out generated.msbook"));
  return {app, [o] {
            reject_renamed_options(o->book);
            return run_convert_command(*o);
          }};
}

}  // namespace msync::cli
