#pragma once
// One annotation for the math that both backends call: __host__ __device__ under nvcc, nothing in
// a host-only build. Functions marked MSYNC_HD use only the unqualified math functions that exist
// on both sides (exp, log, sqrt, erfc, ...), pulled in from <cmath> on the host.
#include <cmath>
#include <cstdint>

#if defined(__CUDACC__)
#define MSYNC_HD __host__ __device__
#else
#define MSYNC_HD
#endif

namespace msync {
// Under nvcc these resolve to the CUDA math library in device code and to <cmath> on the host.
using std::cos;
using std::erfc;
using std::exp;
using std::expm1;
using std::fabs;
using std::log;
using std::log1p;
using std::sin;
using std::sqrt;
}  // namespace msync
