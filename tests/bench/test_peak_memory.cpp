// bench's peak-memory reader (bench/peak_memory.hpp): the VmHWM line of /proc/self/status.
#include <gtest/gtest.h>

#include "peak_memory.hpp"

namespace msync {
namespace {

// The lines around VmHWM as Linux 6 writes them (tabs, then the value right-aligned, then kB).
const char* const status_text =
    "Name:\tmarginsync\n"
    "VmPeak:\t 5312020 kB\n"
    "VmSize:\t 5311988 kB\n"
    "VmLck:\t       0 kB\n"
    "VmHWM:\t 2148304 kB\n"
    "VmRSS:\t  743112 kB\n"
    "Threads:\t2\n";

TEST(peak_memory, reads_a_status_line_in_bytes) {
  EXPECT_EQ(status_bytes(status_text, "VmHWM"), std::int64_t{2148304} * 1024);
  EXPECT_EQ(status_bytes(status_text, "VmRSS"), std::int64_t{743112} * 1024);
  EXPECT_EQ(status_bytes(status_text, "VmPeak"), std::int64_t{5312020} * 1024);
}

TEST(peak_memory, refuses_what_is_not_a_size_in_kb) {
  EXPECT_EQ(status_bytes(status_text, "VmSwap"), std::nullopt);   // missing
  EXPECT_EQ(status_bytes(status_text, "Threads"), std::nullopt);  // no unit
  EXPECT_EQ(status_bytes(status_text, "Vm"), std::nullopt);       // a prefix is not a key
  EXPECT_EQ(status_bytes("VmHWM:\t  12 MB\n", "VmHWM"), std::nullopt);
  EXPECT_EQ(status_bytes("VmHWM:\t  -12 kB\n", "VmHWM"), std::nullopt);
  EXPECT_EQ(status_bytes("VmHWM:\t\n", "VmHWM"), std::nullopt);
  EXPECT_EQ(status_bytes("VmHWM:\t 7 kB", "VmHWM"), 7 * 1024);  // the last line, unterminated
}

TEST(peak_memory, this_process_has_a_peak_after_a_reset) {
  peak_memory memory;
  memory.reset();
  const std::int64_t before = memory.read();
  EXPECT_GT(before, 0);
  // 64 MiB touched: the peak since the reset includes it (where the reset is refused the process
  // peak does too).
  std::vector<char> block(std::size_t{64} << 20, 1);
  EXPECT_GE(memory.read(), before + static_cast<std::int64_t>(block.size()) / 2) << block[12345];
}

}  // namespace
}  // namespace msync
