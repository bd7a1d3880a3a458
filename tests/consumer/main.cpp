// Prices a European call and put with the installed header-only math (marginsync_core), checks
// put-call parity, and writes and reads the value back with the host library (marginsync_host).
// Returns non-zero when anything disagrees.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>

#include "io/number_parse.hpp"
#include "marginsync/black_scholes.hpp"
#include "marginsync/version.hpp"

int main() {
  const double S = 100.0, K = 95.0, T = 0.75, r = 0.03, q = 0.01, sigma = 0.25;
  const double b = r - q;  // Merton: continuous dividend yield q
  const double call = msync::bsm_value(true, S, K, T, r, b, sigma);
  const double put = msync::bsm_value(false, S, K, T, r, b, sigma);
  // C - P = S e^{(b-r)T} - K e^{-rT}
  const double parity = S * std::exp((b - r) * T) - K * std::exp(-r * T);
  const double error = std::fabs((call - put) - parity);

  const msync::option_greeks g = msync::bsm_greeks(true, S, K, T, r, b, sigma);

  double read_back = 0.0;
  const std::string problem = msync::parse_number(msync::format_number(call), read_back);

  std::printf("marginsync %s: call %.10f put %.10f, C-P %.10f, parity %.10f, error %.3g\n",
              msync::version, call, put, call - put, parity, error);
  if (!(call > 0.0 && put > 0.0) || !(error < 1e-10)) {
    std::printf("FAIL: put-call parity\n");
    return 1;
  }
  if (std::fabs(g.value - call) > 1e-12) {
    std::printf("FAIL: bsm_greeks value %.17g differs from bsm_value %.17g\n", g.value, call);
    return 1;
  }
  if (!problem.empty() || read_back != call) {
    std::printf("FAIL: format_number/parse_number round trip: %s\n", problem.c_str());
    return 1;
  }
  if (std::string(msync::version) != MSYNC_VERSION) {
    std::printf("FAIL: msync::version %s != MSYNC_VERSION %s\n", msync::version, MSYNC_VERSION);
    return 1;
  }
  std::printf("OK\n");
  return 0;
}
