// libFuzzer's entry point for the target named by MSYNC_FUZZ_TARGET (fuzz/CMakeLists.txt builds
// one fuzz_NAME binary per target from this file).
#include <cstddef>
#include <cstdint>

#include "fuzz_targets.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  msync::fuzz::MSYNC_FUZZ_TARGET(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
