#pragma once
#include <cstdint>

namespace msync {

enum class instrument_kind : std::uint8_t { spot = 0, perpetual = 1, future = 2, option = 3 };

}  // namespace msync
