// The fuzz targets (fuzz/) in the normal build: every input under fuzz/regressions/<target>/ (the
// inputs that once crashed a target, kept after the fix) and the sample files of data/ go through
// the same entry points the fuzzers call. A target throws fuzz_defect on a broken invariant; any
// other exception but the documented input_error, or a sanitizer report in the sanitizer build,
// fails the test too.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "fuzz_support.hpp"
#include "fuzz_targets.hpp"
#include "io/book_snapshot.hpp"
#include "test_support.hpp"

namespace msync {
namespace {

const fuzz::target& target_named(const std::string& name) {
  for (const fuzz::target& t : fuzz::all_targets)
    if (name == t.name) return t;
  throw std::invalid_argument("no fuzz target '" + name + "'");
}

void feed(const std::string& name, const std::filesystem::path& file) {
  SCOPED_TRACE(name + " <- " + file.string());
  const std::string input = test::read_file(file);
  try {
    target_named(name).run(input);
  } catch (const std::exception& e) {
    ADD_FAILURE() << e.what();
  }
}

TEST(fuzz_regressions, every_saved_input_passes_its_target) {
  const std::filesystem::path root = test::source_dir() / "fuzz" / "regressions";
  std::size_t fed = 0;
  if (std::filesystem::is_directory(root))
    for (const auto& folder : std::filesystem::directory_iterator(root)) {
      if (!folder.is_directory()) continue;
      const std::string name = folder.path().filename().string();
      // A folder must name a target: a misspelt one would silently test nothing.
      ASSERT_NO_THROW(target_named(name)) << folder.path();
      std::vector<std::filesystem::path> files;
      for (const auto& f : std::filesystem::directory_iterator(folder.path()))
        if (f.is_regular_file() && f.path().filename() != "README.md") files.push_back(f.path());
      std::sort(files.begin(), files.end());
      for (const auto& f : files) {
        feed(name, f);
        ++fed;
      }
    }
  RecordProperty("inputs", static_cast<int>(fed));
}

TEST(fuzz_regressions, sample_files_pass_their_targets) {
  const std::filesystem::path data = test::source_dir() / "data";
  for (const char* book : {"sample", "generated"}) {
    feed("instruments_csv", data / book / "instruments.csv");
    feed("accounts_csv", data / book / "accounts.csv");
    feed("positions_csv", data / book / "positions.csv");
    feed("market_json", data / book / "market.json");
    feed("risk_json", data / book / "risk.json");
  }
  feed("tick_lines", data / "streams" / "stale_out_of_order.csv");
  feed("tick_lines", data / "streams" / "crash.jsonl");
  const std::filesystem::path seeds = test::source_dir() / "fuzz" / "seeds";
  feed("marks_csv", seeds / "marks.csv");
  feed("market_json", seeds / "market_surface.json");
  feed("depth_csv", seeds / "depth.csv");
}

TEST(fuzz_regressions, a_converted_snapshot_passes_its_target) {
  test::temp_dir dir;
  const std::filesystem::path file = dir / "sample.msb";
  convert_book_directory(book_paths::in_directory(test::sample_book()), file);
  feed("book_snapshot", file);
}

// The targets do check: a value outside its bounds is reported as a defect, not let through.
TEST(fuzz_regressions, invariant_checks_fire) {
  market_state m = fuzz::sample_market();
  EXPECT_NO_THROW(fuzz::check_market(m));
  m.vol[0] = 11.0;
  EXPECT_THROW(fuzz::check_market(m), fuzz::fuzz_defect);
  risk_params r = fuzz::sample_risk();
  EXPECT_NO_THROW(fuzz::check_risk(r));
  r.confidence = 1.0;
  EXPECT_THROW(fuzz::check_risk(r), fuzz::fuzz_defect);
  r = fuzz::sample_risk();
  r.recovery_band = 1.0;
  EXPECT_THROW(fuzz::check_risk(r), fuzz::fuzz_defect);
  // A surface slice that is not a valid SVI slice, and a mark on a kind that does not use it.
  m = fuzz::sample_market();
  m.surface.assign(m.size(), {});
  m.surface[0].push_back(svi_slice{1798185600000000000, 0.04, 0.1, 1.0, 0.0, 0.2});
  EXPECT_THROW(fuzz::check_market(m), fuzz::fuzz_defect);
  instrument_table t;
  t.id = {"F"};
  t.kind = {instrument_kind::future};
  m = fuzz::sample_market();
  m.mark_price = {91000.0};
  m.mark_iv = {NAN};
  m.settlement_price = {NAN};
  EXPECT_NO_THROW(fuzz::check_marks(m, t));
  m.mark_iv = {0.5};
  EXPECT_THROW(fuzz::check_marks(m, t), fuzz::fuzz_defect);
}

}  // namespace
}  // namespace msync
