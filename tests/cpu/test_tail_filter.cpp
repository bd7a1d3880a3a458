// The CUDA backend's filter selection (marginsync/tail_filter.hpp), run on the host as the kernel
// runs it, against the CPU backend's tail_selector: the same VaR bits, ES equal up to the order of
// the sum (exactly where the sums are exact), the current kernel's per-thread ES sums bit for bit,
// and the breach count of every loss. Adversarial inputs: ties at the VaR rank, every loss equal,
// k = 1, k = N, NaN and infinities, signed zeros, sorted orders, and candidates that overflow.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "cpu/tail_select.hpp"
#include "marginsync/tail_filter.hpp"

namespace msync {
namespace {

constexpr double nan_v = std::numeric_limits<double>::quiet_NaN();
constexpr double inf_v = std::numeric_limits<double>::infinity();

bool same_bits(double a, double b) {
  if (a != a && b != b) return true;  // NaN payloads are not part of the output
  return std::memcmp(&a, &b, sizeof a) == 0;
}

struct run {
  tail_filter_result r;
  double es;
};

// Checks one case; returns whether the filter applied.
bool check(const std::vector<double>& loss, std::uint32_t k, std::uint32_t threads, double equity,
           double maintenance, const std::string& what, std::uint32_t capacity = 1u << 20,
           bool exact_es = false) {
  SCOPED_TRACE(what + " k=" + std::to_string(k) + " T=" + std::to_string(threads));
  const std::uint64_t n = loss.size();
  std::vector<std::uint64_t> thread_max(threads);
  std::vector<std::uint32_t> offset(threads + 1);
  std::vector<double> candidates(capacity);
  std::vector<double> above(threads);
  const tail_filter_result r =
      filter_select(loss.data(), n, k, threads, equity, maintenance, thread_max.data(),
                    offset.data(), candidates.data(), capacity, above.data());
  if (!r.ok) return false;

  tail_selector cpu;
  const tail_statistics want = cpu.select(loss.data(), n, k);
  // The same bits, except the sign of a zero VaR: the key ranks -0 below +0 (as the radix select
  // did), the CPU's comparisons see them as ties and return the copy its partitions land on.
  if (r.var == 0.0 && want.var == 0.0)
    EXPECT_EQ(r.var, want.var);
  else
    EXPECT_TRUE(same_bits(r.var, want.var)) << r.var << " vs " << want.var;
  EXPECT_LE(r.floor_key, r.var_key) << "the floor bounds VaR from below";
  std::vector<std::uint64_t> maxima(threads, 0);
  for (std::uint64_t s = 0; s < n; ++s)
    maxima[s % threads] = std::max(maxima[s % threads], tail_order_key(loss[s]));
  std::sort(maxima.begin(), maxima.end(), std::greater<std::uint64_t>());
  EXPECT_EQ(r.floor_key, maxima[k - 1]) << "the floor is the k-th largest thread maximum";

  // The current kernel's per-thread sums: every loss of the thread ranked above VaR, in order.
  std::uint32_t count_above = 0;
  double total = 0.0;
  for (std::uint32_t t = 0; t < threads; ++t) {
    double sum = 0.0;
    for (std::uint64_t s = t; s < n; s += threads)
      if (tail_order_key(loss[s]) > r.var_key) {
        sum += loss[s];
        ++count_above;
      }
    EXPECT_TRUE(same_bits(above[t], sum)) << "thread " << t;
    total += above[t];
  }
  EXPECT_EQ(r.count_above, count_above);
  const double es = (total + static_cast<double>(k - r.count_above) * r.var) / k;
  if (exact_es || std::isnan(want.es) || std::isinf(want.es))
    EXPECT_TRUE(same_bits(es, want.es)) << es << " vs " << want.es;
  else
    EXPECT_NEAR(es, want.es, 1e-12 * std::max(1.0, std::fabs(want.es)));

  std::uint32_t breaches = 0;
  for (double l : loss) breaches += breaches_maintenance(equity, l, maintenance) ? 1u : 0u;
  EXPECT_EQ(r.breaches, breaches);
  return true;
}

std::vector<double> normal_losses(std::size_t n, std::uint32_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> d(0.0, 1000.0);
  std::vector<double> v(n);
  for (double& x : v) x = d(rng);
  return v;
}

TEST(TailFilter, OrderKeyRanksAsTheCpuSelection) {
  const double v[] = {-inf_v, -1.0, -0.0, 0.0, 1e-300, 1.0, inf_v};
  for (std::size_t i = 0; i + 1 < std::size(v); ++i)
    EXPECT_LT(tail_order_key(v[i]), tail_order_key(v[i + 1])) << v[i];
  EXPECT_EQ(tail_order_key(nan_v), ~0ull);
  EXPECT_EQ(tail_order_key(-nan_v), ~0ull);
  EXPECT_GT(tail_order_key(-inf_v), 0ull) << "key 0 is no loss";
  for (double x : v) EXPECT_TRUE(same_bits(tail_key_value(tail_order_key(x)), x));
  EXPECT_TRUE(std::isnan(tail_key_value(~0ull)));
}

TEST(TailFilter, MatchesTheCpuSelectorOnRandomLosses) {
  for (std::uint32_t seed = 1; seed <= 5; ++seed)
    for (std::size_t n : {1000u, 10000u, 12345u})
      for (std::uint32_t k : {1u, 10u, 100u, 512u})
        EXPECT_TRUE(check(normal_losses(n, seed), k, 512, 500.0, 100.0, "normal"));
}

TEST(TailFilter, KEqualToNAndToTheThreadCount) {
  const std::vector<double> v = normal_losses(300, 7);
  EXPECT_TRUE(check(v, 300, 512, 0.0, 0.0, "k = N < T"));
  EXPECT_TRUE(check(v, 1, 512, 0.0, 0.0, "k = 1"));
  const std::vector<double> w = normal_losses(512, 8);
  EXPECT_TRUE(check(w, 512, 512, 0.0, 0.0, "k = N = T"));
  EXPECT_TRUE(check(normal_losses(5000, 9), 512, 512, 0.0, 0.0, "k = T < N"));
  EXPECT_FALSE(check(normal_losses(5000, 9), 513, 512, 0.0, 0.0, "k > T: not the filter's"));
  EXPECT_FALSE(check(v, 301, 512, 0.0, 0.0, "k > N"));
}

TEST(TailFilter, TiesAtTheVarRank) {
  // Integer losses with many copies of each value: the k-th largest is inside a run of ties, and
  // ES (integers summed exactly) is the CPU's to the bit.
  std::mt19937_64 rng(3);
  std::uniform_int_distribution<int> d(0, 40);
  std::vector<double> v(10000);
  for (double& x : v) x = d(rng);
  for (std::uint32_t k : {1u, 50u, 100u, 250u, 512u})
    EXPECT_TRUE(check(v, k, 512, 30.0, 0.0, "ties", 1u << 20, true));
  // Exactly k - 1 losses above a run of equal ones.
  std::vector<double> w(4000, 5.0);
  for (int i = 0; i < 99; ++i) w[static_cast<std::size_t>(i) * 37] = 100.0 + i;
  EXPECT_TRUE(check(w, 100, 512, 104.5, 0.0, "k - 1 above a tie", 1u << 20, true));
}

TEST(TailFilter, AllEqualLosses) {
  for (double x : {0.0, -0.0, 7.5, -3.0})
    for (std::uint32_t k : {1u, 100u, 512u})
      EXPECT_TRUE(check(std::vector<double>(10000, x), k, 512, 10.0, 2.0, "equal", 1u << 20, true));
}

TEST(TailFilter, SortedOrders) {
  std::vector<double> v = normal_losses(10000, 11);
  std::sort(v.begin(), v.end());
  EXPECT_TRUE(check(v, 100, 512, 500.0, 100.0, "ascending"));
  std::reverse(v.begin(), v.end());
  EXPECT_TRUE(check(v, 100, 512, 500.0, 100.0, "descending"));
}

TEST(TailFilter, SignedZerosAtTheVarRank) {
  std::vector<double> v(2000, -1.0);
  for (std::size_t i = 0; i < 50; ++i) v[i * 13] = 0.0;
  for (std::size_t i = 0; i < 50; ++i) v[i * 13 + 5] = -0.0;
  EXPECT_TRUE(check(v, 50, 512, 0.0, 0.0, "+0 exactly k", 1u << 20, true));
  EXPECT_TRUE(check(v, 51, 512, 0.0, 0.0, "-0 at rank k", 1u << 20, true));
  std::vector<std::uint64_t> tm(512);
  std::vector<std::uint32_t> off(513);
  std::vector<double> cand(2000), above(512);
  const tail_filter_result r = filter_select(v.data(), v.size(), 51, 512, 0.0, 0.0, tm.data(),
                                             off.data(), cand.data(), 2000, above.data());
  EXPECT_TRUE(r.ok && r.var == 0.0 && std::signbit(r.var)) << "the 51st largest key is -0's";
}

TEST(TailFilter, NanAndInfinities) {
  std::vector<double> v = normal_losses(10000, 13);
  v[17] = nan_v;
  EXPECT_TRUE(check(v, 100, 512, 500.0, 100.0, "one NaN: VaR a number, ES NaN"));
  for (std::size_t i = 0; i < 120; ++i) v[i * 71] = nan_v;
  EXPECT_TRUE(check(v, 100, 512, 500.0, 100.0, "k NaN or more: VaR NaN"));
  EXPECT_TRUE(check(v, 121, 512, 500.0, 100.0, "k - 1 NaN"));
  std::vector<double> w = normal_losses(10000, 14);
  w[3] = inf_v;
  w[900] = -inf_v;
  EXPECT_TRUE(check(w, 1, 512, 500.0, 100.0, "+inf largest"));
  EXPECT_TRUE(check(w, 100, 512, 500.0, 100.0, "inf in the tail"));
  EXPECT_TRUE(check(std::vector<double>(600, -inf_v), 10, 512, 0.0, 0.0, "all -inf"));
}

TEST(TailFilter, BreachesFromTheCandidatesOnlyWhenVarDoesNotBreach) {
  const std::vector<double> v = normal_losses(10000, 21);
  std::vector<std::uint64_t> tm(512);
  std::vector<std::uint32_t> off(513);
  std::vector<double> cand(10000), above(512);
  // Equity far above every loss: VaR does not breach, the candidates suffice.
  tail_filter_result r = filter_select(v.data(), v.size(), 100, 512, 1e6, 100.0, tm.data(),
                                       off.data(), cand.data(), 10000, above.data());
  EXPECT_TRUE(r.breaches_from_candidates);
  EXPECT_TRUE(check(v, 100, 512, 1e6, 100.0, "no breach"));
  EXPECT_TRUE(check(v, 100, 512, r.var + 100.0 + 1.0, 100.0, "VaR just short of a breach"));
  // VaR breaches: every loss is counted.
  r = filter_select(v.data(), v.size(), 100, 512, 0.0, 100.0, tm.data(), off.data(), cand.data(),
                    10000, above.data());
  EXPECT_FALSE(r.breaches_from_candidates);
  EXPECT_TRUE(check(v, 100, 512, 0.0, 100.0, "most breach"));
  // A NaN VaR tells nothing about the numbers below it.
  std::vector<double> w = v;
  for (std::size_t i = 0; i < 200; ++i) w[i * 41] = nan_v;
  r = filter_select(w.data(), w.size(), 100, 512, 0.0, 100.0, tm.data(), off.data(), cand.data(),
                    10000, above.data());
  EXPECT_FALSE(r.breaches_from_candidates);
  EXPECT_TRUE(check(w, 100, 512, 0.0, 100.0, "NaN VaR"));
}

TEST(TailFilter, RefusesWhenTheCandidatesDoNotFit) {
  // Every loss equal: every loss is a candidate.
  EXPECT_FALSE(check(std::vector<double>(10000, 1.0), 100, 512, 0.0, 0.0, "overflow", 1024));
  EXPECT_TRUE(check(std::vector<double>(1024, 1.0), 100, 512, 0.0, 0.0, "exactly fits", 1024));
}

// ---- R slots per thread (large N) -------------------------------------------------------------

// filter_select with `slots` against tail_selector, and its floor against the owner maxima taken
// here independently. Returns whether the filter applied.
bool check_slots(const std::vector<double>& loss, std::uint32_t k, std::uint32_t threads,
                 std::uint32_t slots, double equity, double maintenance, const std::string& what,
                 std::uint32_t capacity = 1u << 20) {
  SCOPED_TRACE(what + " k=" + std::to_string(k) + " T=" + std::to_string(threads) +
               " R=" + std::to_string(slots));
  const std::uint64_t n = loss.size();
  std::vector<std::uint64_t> owner_max(std::size_t{threads} * slots);
  std::vector<std::uint32_t> offset(threads + 1);
  std::vector<double> candidates(capacity), above(threads);
  const tail_filter_result r =
      filter_select(loss.data(), n, k, threads, equity, maintenance, owner_max.data(),
                    offset.data(), candidates.data(), capacity, above.data(), slots);
  if (!r.ok) return false;
  tail_selector cpu;
  const tail_statistics want = cpu.select(loss.data(), n, k);
  if (r.var == 0.0 && want.var == 0.0)
    EXPECT_EQ(r.var, want.var);
  else
    EXPECT_TRUE(same_bits(r.var, want.var)) << r.var << " vs " << want.var;
  // Owner (t, r) of thread t's j-th scenario, r = j mod R.
  std::vector<std::uint64_t> maxima(std::size_t{threads} * slots, 0);
  for (std::uint64_t s = 0; s < n; ++s) {
    const std::size_t o = (s % threads) + threads * ((s / threads) % slots);
    maxima[o] = std::max(maxima[o], tail_order_key(loss[s]));
  }
  std::sort(maxima.begin(), maxima.end(), std::greater<std::uint64_t>());
  EXPECT_EQ(r.floor_key, maxima[k - 1]) << "the floor is the k-th largest owner maximum";
  EXPECT_LE(r.floor_key, r.var_key);
  std::uint32_t breaches = 0;
  for (double l : loss) breaches += breaches_maintenance(equity, l, maintenance) ? 1u : 0u;
  EXPECT_EQ(r.breaches, breaches);
  // Per-thread sums as block_tail_of's.
  for (std::uint32_t t = 0; t < threads; ++t) {
    double sum = 0.0;
    for (std::uint64_t s = t; s < n; s += threads)
      if (tail_order_key(loss[s]) > r.var_key) sum += loss[s];
    EXPECT_TRUE(same_bits(above[t], sum)) << "thread " << t;
  }
  return true;
}

TEST(TailFilterSlots, OwnersAndSlotCount) {
  EXPECT_EQ(filter_owner(0, 512, 4), 0u);
  EXPECT_EQ(filter_owner(511, 512, 4), 511u);
  EXPECT_EQ(filter_owner(512, 512, 4), 512u);  // thread 0, slot 1
  EXPECT_EQ(filter_owner(2048, 512, 4), 0u);   // thread 0, slot 4 mod 4
  EXPECT_EQ(filter_owner(2049 + 512, 512, 4), 1u + 512u);
  EXPECT_EQ(filter_slots(100, 512, 16), 1u);   // 512 owners for k = 100, as before
  EXPECT_EQ(filter_slots(1000, 512, 16), 8u);  // N = 100,000: 4,096 owners
  EXPECT_EQ(filter_slots(100000, 512, 16), 16u);
  EXPECT_TRUE(tail_filter_applies(100000, 512, 8192, 16));
  EXPECT_FALSE(tail_filter_applies(100000, 512, 8193, 16));
  EXPECT_FALSE(tail_filter_applies(100, 512, 101, 16));
}

TEST(TailFilterSlots, MatchesTheCpuSelectorBeyondTheThreadCount) {
  // k above the threads: the one-slot filter refuses, R slots take it.
  for (std::uint32_t seed = 1; seed <= 3; ++seed) {
    const std::vector<double> v = normal_losses(20000, seed);
    EXPECT_FALSE(check(v, 200, 64, 500.0, 100.0, "one slot"));
    for (std::uint32_t slots : {4u, 13u, 16u})
      EXPECT_TRUE(check_slots(v, 200, 64, slots, 500.0, 100.0, "normal"));
    EXPECT_TRUE(check_slots(v, 1024, 64, 16, 500.0, 100.0, "k = T R"));
    EXPECT_FALSE(check_slots(v, 1025, 64, 16, 500.0, 100.0, "k > T R"));
    EXPECT_TRUE(check_slots(v, 1, 64, 16, 500.0, 100.0, "k = 1"));
  }
  // The device's shape: 512 threads, k = 1,000 of 100,000 scenarios, 8 slots.
  EXPECT_TRUE(check_slots(normal_losses(100000, 4), 1000, 512, 8, 2000.0, 100.0, "N = 100,000"));
  // Fewer scenarios than owners: some own nothing (key 0) and rank below every loss.
  EXPECT_TRUE(check_slots(normal_losses(300, 5), 300, 64, 16, 0.0, 0.0, "k = N < T R"));
  EXPECT_TRUE(check_slots(normal_losses(300, 5), 150, 64, 16, 0.0, 0.0, "N < T R"));
}

TEST(TailFilterSlots, TiesNanAndOverflow) {
  std::mt19937_64 rng(3);
  std::uniform_int_distribution<int> d(0, 40);
  std::vector<double> v(30000);
  for (double& x : v) x = d(rng);
  for (std::uint32_t k : {1u, 300u, 1024u})
    EXPECT_TRUE(check_slots(v, k, 64, 16, 30.0, 0.0, "ties"));
  std::vector<double> w = normal_losses(30000, 6);
  for (std::size_t i = 0; i < 400; ++i) w[i * 71] = nan_v;
  EXPECT_TRUE(check_slots(w, 300, 64, 16, 0.0, 100.0, "k NaN or more"));
  EXPECT_TRUE(check_slots(w, 401, 64, 16, 0.0, 100.0, "k - 1 NaN"));
  EXPECT_FALSE(
      check_slots(std::vector<double>(30000, 1.0), 300, 64, 16, 0.0, 0.0, "overflow", 4096));
}

// ---- `full` tiled: candidates arriving in any order, ranked into thread order -------------------

TEST(TailFilterTiled, ThreadOrderRanksByOwnerThenScenario) {
  const std::uint32_t threads = 8;
  const std::vector<std::uint32_t> scenario = {17, 3, 9, 1, 25, 8, 0, 11};
  // Thread order: owner 0: 8, 0 -> 0, 8; owner 1: 17, 9, 1, 25 -> 1, 9, 17, 25; owner 3: 3, 11.
  const std::vector<std::uint32_t> want = {0, 8, 1, 9, 17, 25, 3, 11};
  std::vector<std::uint32_t> placed(scenario.size());
  for (std::uint32_t i = 0; i < scenario.size(); ++i)
    placed[thread_order_position(scenario.data(), 8, i, threads)] = scenario[i];
  EXPECT_EQ(placed, want);
  EXPECT_EQ(thread_order_begin(scenario.data(), 8, 0, threads), 0u);
  EXPECT_EQ(thread_order_begin(scenario.data(), 8, 1, threads), 2u);
  EXPECT_EQ(thread_order_begin(scenario.data(), 8, 2, threads), 6u);
  EXPECT_EQ(thread_order_begin(scenario.data(), 8, 4, threads), 8u);
  EXPECT_EQ(thread_order_begin(scenario.data(), 8, threads, threads), 8u);
}

// The tiled steps with threads arriving in a shuffled order on every tile give what filter_select
// gives on the same losses: the floor, the candidates in the same order, VaR, each thread's sum
// and the breaches, bit for bit.
bool check_tiled(const std::vector<double>& loss, std::uint32_t k, std::uint32_t threads,
                 std::uint64_t tile, double equity, double maintenance, const std::string& what,
                 std::uint32_t capacity = 1024) {
  SCOPED_TRACE(what + " k=" + std::to_string(k) + " tile=" + std::to_string(tile));
  const std::uint64_t n = loss.size();
  std::vector<std::uint64_t> tm(threads), tm2(threads);
  std::vector<std::uint32_t> off(threads + 1), off2(threads + 1), scen(capacity);
  std::vector<double> cand(capacity), cand2(capacity), arrived(capacity), above(threads),
      above2(threads);
  const tail_filter_result want =
      filter_select(loss.data(), n, k, threads, equity, maintenance, tm.data(), off.data(),
                    cand.data(), capacity, above.data());
  std::mt19937_64 rng(n * 31 + k);
  std::vector<std::vector<std::uint32_t>> order((n + tile - 1) / tile);
  for (auto& o : order) {
    o.resize(threads);
    std::iota(o.begin(), o.end(), 0u);
    std::shuffle(o.begin(), o.end(), rng);
  }
  const tail_filter_result got = tiled_filter_select(
      loss.data(), n, k, threads, tile, equity, maintenance,
      [&](std::uint64_t t, std::uint32_t i) { return order[t][i]; }, tm2.data(), off2.data(),
      arrived.data(), scen.data(), cand2.data(), capacity, above2.data());
  EXPECT_EQ(got.ok, want.ok);
  if (!want.ok || !got.ok) return false;
  EXPECT_EQ(got.floor_key, want.floor_key);
  EXPECT_EQ(got.candidates, want.candidates);
  EXPECT_EQ(got.var_key, want.var_key);
  EXPECT_EQ(got.count_above, want.count_above);
  EXPECT_EQ(got.breaches, want.breaches);
  EXPECT_EQ(got.breaches_from_candidates, want.breaches_from_candidates);
  for (std::uint32_t i = 0; i < want.candidates; ++i)
    EXPECT_TRUE(same_bits(cand2[i], cand[i])) << "candidate " << i;
  for (std::uint32_t t = 0; t <= threads; ++t) EXPECT_EQ(off2[t], off[t]) << "offset " << t;
  for (std::uint32_t t = 0; t < threads; ++t)
    EXPECT_TRUE(same_bits(above2[t], above[t])) << "thread " << t;
  // And the CPU's VaR.
  tail_selector cpu;
  const tail_statistics cpu_tail = cpu.select(loss.data(), n, k);
  if (!(got.var == 0.0 && cpu_tail.var == 0.0)) {
    EXPECT_TRUE(same_bits(got.var, cpu_tail.var)) << got.var << " vs " << cpu_tail.var;
  }
  return true;
}

TEST(TailFilterTiled, MatchesTheFilterOverSeveralTiles) {
  for (std::uint32_t seed = 1; seed <= 3; ++seed)
    for (std::size_t n : {10000u, 12345u, 600u})
      for (std::uint64_t tile : {512u, 1024u, 2048u}) {
        const std::vector<double> v = normal_losses(n, seed);
        EXPECT_TRUE(check_tiled(v, std::min<std::uint32_t>(100, static_cast<std::uint32_t>(n)), 512,
                                tile, 500.0, 100.0, "normal"));
        EXPECT_TRUE(check_tiled(v, 1, 512, tile, 0.0, 100.0, "k = 1, breaching"));
      }
  // The largest tail the kernel tiles (k = 256, N = 25,600 at 99%): its candidates fit in 1,024.
  EXPECT_TRUE(check_tiled(normal_losses(25600, 7), 256, 512, 2048, 3000.0, 100.0, "k = T / 2"));
  // At k = T the floor is the least thread maximum: about 3,000 candidates of 51,200, more than
  // the room, so such an account would be done again (and the kernel does not tile there).
  EXPECT_FALSE(check_tiled(normal_losses(51200, 7), 512, 512, 2048, 3000.0, 100.0, "k = T"));
}

TEST(TailFilterTiled, TiesNanAndOverflow) {
  std::mt19937_64 rng(9);
  std::uniform_int_distribution<int> d(0, 400);
  std::vector<double> v(10000);
  for (double& x : v) x = d(rng);
  EXPECT_TRUE(check_tiled(v, 100, 512, 1024, 390.0, 0.0, "ties"));
  std::vector<double> w = normal_losses(10000, 10);
  for (std::size_t i = 0; i < 120; ++i) w[i * 71] = nan_v;
  EXPECT_TRUE(check_tiled(w, 100, 512, 1024, 500.0, 100.0, "NaN VaR"));
  w[5] = -0.0;
  EXPECT_TRUE(check_tiled(w, 121, 512, 1024, 500.0, 100.0, "k - 1 NaN"));
  // Every loss equal: more candidates than room, as the kernel then does the account again.
  EXPECT_FALSE(check_tiled(std::vector<double>(10000, 0.0), 100, 512, 1024, 0.0, 0.0, "overflow"));
}

}  // namespace
}  // namespace msync
