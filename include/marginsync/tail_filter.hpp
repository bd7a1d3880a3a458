#pragma once
// The CUDA backend's tail selection for one account (docs/design.md 1.3.1), written once for the
// device and the host: the kernel (kernels/risk_kernels.cu) runs these steps with a thread each,
// the host reference filter_select below runs them one thread after another, and the CPU tests
// (tests/cpu/test_tail_filter.cpp) compare the reference with the CPU backend's tail_selector.
//
// Thread t of a block of T owns scenarios s = t, t + T, t + 2T, ... of the N losses. The largest
// loss of each thread is free while the thread computes its losses. At least k threads have a
// maximum >= the k-th largest thread maximum f (1 <= k <= min(N, T)), so VaR = L_(k) >= f: only
// the losses >= f (the candidates, each thread's in its own scenario order) need the exact
// selection, and every loss above VaR is among them. Exact for any input; no sampling.
//
// Owners (large N): with R slots per thread, thread t's j-th scenario s = t + T j belongs to owner
// t + T (j mod R), and the floor is the k-th largest of the T R owner maxima (k <= min(N, T R)):
// the same argument with T R owners, so k up to T R (R = 1: the filter above). The kernel keeps
// the owner maxima and the candidates in shared memory where the losses themselves are in global
// memory (N above what shared memory holds), and selects among them with a radix select.
//
// Tiled `full` (kernels/risk_kernels.cu): the losses are never stored; a first pass over tiles
// of scenarios gives the thread maxima, a second computes the losses again and appends those
// >= the floor with their scenario number in whatever order the threads arrive. Ranking each
// candidate by (s mod T, s) (thread_order_position) puts them in the order the steps below
// expect: each thread's in its scenario order, thread after thread.
//
// Ranking: losses are compared by tail_order_key, in which every NaN is the largest (the worst
// loss, above +inf) and -0 is just below +0: with at least k NaN losses VaR is NaN, and ES is NaN
// whenever any loss is (docs/design.md 3.7), as the CPU backend's selection gives them.
#include <cstdint>
#include <cstring>

#include "marginsync/hd.hpp"
#include "marginsync/risk_rules.hpp"

namespace msync {

// Order-preserving map of a double to an unsigned key: key(x) < key(y) iff x < y, -0 below +0,
// every NaN (whatever its sign and payload) to the largest key. Key 0 is no double's key: it
// stands for "no loss" (a thread that owns no scenario).
MSYNC_HD inline std::uint64_t tail_order_key(double x) {
  if (x != x) return ~0ull;
  std::uint64_t bits;
#if defined(__CUDA_ARCH__)
  bits = static_cast<std::uint64_t>(__double_as_longlong(x));
#else
  std::memcpy(&bits, &x, sizeof bits);
#endif
  return (bits >> 63) ? ~bits : (bits | 0x8000000000000000ull);
}

// The double whose key is `key` (a NaN for the largest key).
MSYNC_HD inline double tail_key_value(std::uint64_t key) {
  const std::uint64_t bits = (key >> 63) ? (key & 0x7fffffffffffffffull) : ~key;
#if defined(__CUDA_ARCH__)
  return __longlong_as_double(static_cast<long long>(bits));
#else
  double x;
  std::memcpy(&x, &bits, sizeof x);
  return x;
#endif
}

// Whether keys[i] is the k-th largest of keys[0 .. m) (1 <= k <= m): fewer than k keys are above
// it and at least k are at or above it. With ties at the k-th rank every copy answers true, and
// they all hold the same key. A thread per i in the kernel: m reads each, no barrier.
MSYNC_HD inline bool is_kth_largest_key(const std::uint64_t* keys, std::uint32_t m, std::uint32_t i,
                                        std::uint32_t k) {
  std::uint32_t above = 0, at_or_above = 0;
  for (std::uint32_t j = 0; j < m; ++j) {
    above += keys[j] > keys[i] ? 1u : 0u;
    at_or_above += keys[j] >= keys[i] ? 1u : 0u;
  }
  return above < k && k <= at_or_above;
}

// The same on doubles, ranked by tail_order_key (the candidates are kept as the losses).
MSYNC_HD inline bool is_kth_largest_loss(const double* v, std::uint32_t m, std::uint32_t i,
                                         std::uint32_t k) {
  const std::uint64_t key = tail_order_key(v[i]);
  std::uint32_t above = 0, at_or_above = 0;
  for (std::uint32_t j = 0; j < m; ++j) {
    const std::uint64_t other = tail_order_key(v[j]);
    above += other > key ? 1u : 0u;
    at_or_above += other >= key ? 1u : 0u;
  }
  return above < k && k <= at_or_above;
}

// Whether the filter applies: k owners (threads, or threads x slots) own a loss each
// (k <= min(N, T R)).
MSYNC_HD inline bool tail_filter_applies(std::uint64_t n, std::uint32_t threads, std::uint32_t k,
                                         std::uint32_t slots = 1) {
  return k >= 1 && static_cast<std::uint64_t>(k) <= std::uint64_t{threads} * slots &&
         static_cast<std::uint64_t>(k) <= n;
}

// The owner of scenario s with T threads and R slots per thread (s = t + T j: t + T (j mod R)).
MSYNC_HD inline std::uint32_t filter_owner(std::uint64_t s, std::uint32_t threads,
                                           std::uint32_t slots) {
  return static_cast<std::uint32_t>(s % threads) +
         threads * static_cast<std::uint32_t>((s / threads) % slots);
}

// Slots per thread for a tail of k: at least 4k owners where max_slots allows (the floor, the
// k-th largest of 4k owner maxima, then leaves about k to 2k candidates for independent
// scenarios, as the k-th of 512 thread maxima does at k = 100), and at least one.
MSYNC_HD inline std::uint32_t filter_slots(std::uint32_t k, std::uint32_t threads,
                                           std::uint32_t max_slots) {
  const std::uint64_t want = (4ull * k + threads - 1) / threads;
  return static_cast<std::uint32_t>(want < 1 ? 1 : want > max_slots ? max_slots : want);
}

// Whether scenario a comes before scenario b in thread order (T threads): the thread that owns it
// (s mod T) first, then the scenario.
MSYNC_HD inline bool thread_order_before(std::uint32_t a, std::uint32_t b, std::uint32_t threads) {
  const std::uint32_t ta = a % threads, tb = b % threads;
  return ta < tb || (ta == tb && a < b);
}

// Where candidate i of m, arrived in any order with its scenario number scenario[i] (distinct),
// stands in thread order: how many candidates come before it. A thread per candidate in the
// kernel: m reads each, no barrier.
MSYNC_HD inline std::uint32_t thread_order_position(const std::uint32_t* scenario, std::uint32_t m,
                                                    std::uint32_t i, std::uint32_t threads) {
  std::uint32_t before = 0;
  for (std::uint32_t j = 0; j < m; ++j)
    before += thread_order_before(scenario[j], scenario[i], threads) ? 1u : 0u;
  return before;
}

// Where thread t's candidates begin in thread order: how many belong to threads before t (t = T:
// m). Thread t's are then [begin(t), begin(t + 1)).
MSYNC_HD inline std::uint32_t thread_order_begin(const std::uint32_t* scenario, std::uint32_t m,
                                                 std::uint32_t t, std::uint32_t threads) {
  std::uint32_t before = 0;
  for (std::uint32_t j = 0; j < m; ++j) before += scenario[j] % threads < t ? 1u : 0u;
  return before;
}

// Whether the breach count needs only the candidates: every loss below VaR then keeps equity -
// loss >= maintenance (the test is monotone in the loss for numbers; a NaN VaR tells nothing
// about the numbers below it, so it does not qualify).
MSYNC_HD inline bool breaches_within_candidates(double equity, double var, double maintenance) {
  return var == var && !breaches_maintenance(equity, var, maintenance);
}

// What filter_select found.
struct tail_filter_result {
  bool ok;                    // false: the candidates did not fit, or k > min(N, T)
  double var;                 // the k-th largest loss
  std::uint64_t var_key;      // its key
  std::uint64_t floor_key;    // the k-th largest thread maximum's key
  std::uint32_t candidates;   // how many losses are >= the floor
  std::uint32_t count_above;  // losses ranked above VaR (all candidates)
  std::uint32_t breaches;     // scenarios with equity - loss < maintenance
  bool breaches_from_candidates;
};

// Steps 4 to 6 of filter_select below, from the candidates in thread order (thread t's at
// [thread_offset[t], thread_offset[t + 1]), each in its scenario order; count >= k): VaR, each
// thread's sum above VaR, the breaches (from every loss, loss[0 .. n), when VaR breaches). Fills
// r's var, var_key, count_above, breaches and breaches_from_candidates.
MSYNC_HD inline void filter_finish(const double* candidates, std::uint32_t count,
                                   const std::uint32_t* thread_offset, std::uint32_t threads,
                                   std::uint32_t k, double equity, double maintenance,
                                   const double* loss, std::uint64_t n, double* thread_above_sum,
                                   tail_filter_result& r) {
  // 4. VaR: the k-th largest candidate (there are at least k: the k owners that reach the floor).
  for (std::uint32_t i = 0; i < count; ++i)
    if (is_kth_largest_loss(candidates, count, i, k)) r.var_key = tail_order_key(candidates[i]);
  r.var = tail_key_value(r.var_key);
  // 5. Each thread's sum of its losses above VaR, from its candidates in its scenario order.
  r.count_above = 0;
  for (std::uint32_t t = 0; t < threads; ++t) {
    double sum = 0.0;
    for (std::uint32_t i = thread_offset[t]; i < thread_offset[t + 1]; ++i)
      if (tail_order_key(candidates[i]) > r.var_key) {
        sum += candidates[i];
        ++r.count_above;
      }
    thread_above_sum[t] = sum;
  }
  // 6. Breaches: from the candidates when VaR does not breach, otherwise from every loss.
  r.breaches = 0;
  r.breaches_from_candidates = breaches_within_candidates(equity, r.var, maintenance);
  if (r.breaches_from_candidates) {
    for (std::uint32_t i = 0; i < count; ++i)
      r.breaches += breaches_maintenance(equity, candidates[i], maintenance) ? 1u : 0u;
  } else {
    for (std::uint64_t s = 0; s < n; ++s)
      r.breaches += breaches_maintenance(equity, loss[s], maintenance) ? 1u : 0u;
  }
}

// The kernel's steps, one thread after another (a host reference for the tests; the kernel runs
// each step with a thread per t or per candidate). `thread_max_key` holds T R keys (R = slots:
// owner t + T r's maximum at t + T r), `thread_offset` T + 1 (thread t's candidates are
// candidates[thread_offset[t] .. thread_offset[t + 1])), `candidates` `capacity` doubles;
// `thread_above_sum[t]` receives thread t's sum of its losses above VaR in its scenario order,
// from its candidates (the kernel adds these across the block with a fixed tree). The kernel
// selects the floor (R > 1) and VaR among many candidates with a radix select, the same k-th
// largest key.
MSYNC_HD inline tail_filter_result filter_select(
    const double* loss, std::uint64_t n, std::uint32_t k, std::uint32_t threads, double equity,
    double maintenance, std::uint64_t* thread_max_key, std::uint32_t* thread_offset,
    double* candidates, std::uint32_t capacity, double* thread_above_sum, std::uint32_t slots = 1) {
  tail_filter_result r{false, 0.0, 0, 0, 0, 0, 0, false};
  if (!tail_filter_applies(n, threads, k, slots)) return r;
  const std::uint32_t owners = threads * slots;
  // 1. Each owner's largest loss, by key (0: no loss).
  for (std::uint32_t o = 0; o < owners; ++o) thread_max_key[o] = 0;
  for (std::uint64_t s = 0; s < n; ++s) {
    const std::uint32_t o = filter_owner(s, threads, slots);
    const std::uint64_t key = tail_order_key(loss[s]);
    thread_max_key[o] = key > thread_max_key[o] ? key : thread_max_key[o];
  }
  // 2. The floor: the k-th largest owner maximum.
  for (std::uint32_t o = 0; o < owners; ++o)
    if (is_kth_largest_key(thread_max_key, owners, o, k)) r.floor_key = thread_max_key[o];
  // 3. The candidates, thread after thread, each thread's in its scenario order.
  std::uint64_t count = 0;
  for (std::uint32_t t = 0; t < threads; ++t) {
    thread_offset[t] = static_cast<std::uint32_t>(count < capacity ? count : capacity);
    for (std::uint64_t s = t; s < n; s += threads)
      if (tail_order_key(loss[s]) >= r.floor_key) {
        if (count < capacity) candidates[count] = loss[s];
        ++count;
      }
  }
  if (count > capacity) return r;
  thread_offset[threads] = static_cast<std::uint32_t>(count);
  r.candidates = static_cast<std::uint32_t>(count);
  // 4 to 6.
  filter_finish(candidates, r.candidates, thread_offset, threads, k, equity, maintenance, loss, n,
                thread_above_sum, r);
  r.ok = true;
  return r;
}

// The tiled kernel's steps for one account (slots = 1), one thread after another: the thread
// maxima over tiles of `tile` scenarios (a multiple of T; the maxima are those of filter_select),
// the floor, then the candidates as the second pass appends them, tile by tile with the threads
// of a tile in the order arrival(tile, i) gives (a permutation of 0 .. T - 1 for each tile: the
// device's atomics), each with its scenario; then ranked into thread order and finished as
// filter_select finishes. `arrived_loss` and `arrived_scenario` hold `capacity` entries.
template <class Arrival>
inline tail_filter_result tiled_filter_select(const double* loss, std::uint64_t n, std::uint32_t k,
                                              std::uint32_t threads, std::uint64_t tile,
                                              double equity, double maintenance, Arrival arrival,
                                              std::uint64_t* thread_max_key,
                                              std::uint32_t* thread_offset, double* arrived_loss,
                                              std::uint32_t* arrived_scenario, double* candidates,
                                              std::uint32_t capacity, double* thread_above_sum) {
  tail_filter_result r{false, 0.0, 0, 0, 0, 0, 0, false};
  if (!tail_filter_applies(n, threads, k)) return r;
  // Pass 1: each thread's largest loss, tile by tile.
  for (std::uint32_t t = 0; t < threads; ++t) thread_max_key[t] = 0;
  for (std::uint64_t t0 = 0; t0 < n; t0 += tile)
    for (std::uint64_t s = t0; s < n && s < t0 + tile; ++s) {
      const std::uint32_t t = static_cast<std::uint32_t>(s % threads);
      const std::uint64_t key = tail_order_key(loss[s]);
      thread_max_key[t] = key > thread_max_key[t] ? key : thread_max_key[t];
    }
  for (std::uint32_t t = 0; t < threads; ++t)
    if (is_kth_largest_key(thread_max_key, threads, t, k)) r.floor_key = thread_max_key[t];
  // Pass 2: the losses >= the floor, in arrival order.
  std::uint64_t count = 0;
  for (std::uint64_t t0 = 0, tile_index = 0; t0 < n; t0 += tile, ++tile_index)
    for (std::uint32_t i = 0; i < threads; ++i) {
      const std::uint32_t t = arrival(tile_index, i);
      for (std::uint64_t s = t0 + t; s < n && s < t0 + tile; s += threads)
        if (tail_order_key(loss[s]) >= r.floor_key) {
          if (count < capacity) {
            arrived_loss[count] = loss[s];
            arrived_scenario[count] = static_cast<std::uint32_t>(s);
          }
          ++count;
        }
    }
  if (count > capacity) return r;
  r.candidates = static_cast<std::uint32_t>(count);
  // Thread order.
  for (std::uint32_t i = 0; i < r.candidates; ++i)
    candidates[thread_order_position(arrived_scenario, r.candidates, i, threads)] = arrived_loss[i];
  for (std::uint32_t t = 0; t <= threads; ++t)
    thread_offset[t] = thread_order_begin(arrived_scenario, r.candidates, t, threads);
  filter_finish(candidates, r.candidates, thread_offset, threads, k, equity, maintenance, loss, n,
                thread_above_sum, r);
  r.ok = true;
  return r;
}

}  // namespace msync
