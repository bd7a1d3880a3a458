#pragma once
// The three book CSV targets share this: one file is the fuzzer's input, the other two and the
// market and risk configuration are data/sample's.
#include <string_view>

namespace msync::fuzz {

void fuzz_book_file(std::string_view instruments, std::string_view accounts,
                    std::string_view positions);

}  // namespace msync::fuzz
