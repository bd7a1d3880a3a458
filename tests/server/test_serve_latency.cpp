// The server answers a small request on a keep-alive connection in well under Linux's 40 ms
// delayed ACK (docs/design.md 8.12): an answer's header and body are separate writes, so without
// TCP_NODELAY on the server's sockets every answer waited for the client's ACK of its header
// (found by bench/bench_serve.cpp: what-ifs of 0.3 ms in the server took 42 ms over HTTP).
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <vector>

#include "serve_process.hpp"
#include "test_support.hpp"

namespace msync {
namespace {

TEST(serve_latency, keep_alive_answers_do_not_wait_for_a_delayed_ack) {
  test::temp_dir dir;
  test::serve_process server(dir.path(), {"-q", "--book", test::sample_book().string()});
  auto c = server.client();
  c.set_keep_alive(true);
  c.set_tcp_nodelay(true);  // the client's own writes never wait: only the server's can
  std::vector<double> ms;
  for (int i = 0; i < 21; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    auto res = c.Get("/healthz");
    const auto t1 = std::chrono::steady_clock::now();
    ASSERT_TRUE(res);
    ASSERT_EQ(res->status, 200);
    if (i > 0) ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
  }
  std::sort(ms.begin(), ms.end());
  // A delayed ACK is at least 40 ms: with it every answer takes that long; without it the median
  // is a fraction of a millisecond, with room for a loaded machine.
  EXPECT_LT(ms[ms.size() / 2], 20.0) << "median of " << ms.size() << " GET /healthz";
}

}  // namespace
}  // namespace msync
