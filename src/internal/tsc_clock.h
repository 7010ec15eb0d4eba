// A cheaper steady_clock::now() for timing requests on a loop thread: the CPU's time-stamp
// counter read without serialising, scaled from the loop's last clock reading.
//
// steady_clock::now() goes through the vDSO, which fences the pipeline before it reads the
// counter: 2 % of a pipelined plaintext request's CPU through the Application, its largest
// single web-layer cost (one read per request, for the access log and the latency
// histogram). Here the loop pairs its per-iteration clock reading with the counter now and
// then (tsc_clock_anchor: a clock reading of its own between two counter reads), measures
// the counter's rate between two such pairs at least 100 ms apart, and tsc_clock_now() is
// the last pair plus the ticks since, times the rate.
//
// Used only where the kernel itself keeps time from the TSC (clocksource "tsc", and the
// CPU's invariant-TSC bit): elsewhere, outside a loop iteration, and for the first 100 ms of
// a loop thread, it is steady_clock::now(). A reading is never earlier than the iteration's
// clock, so a duration from IOLoop::iteration_clock() to it is never negative.
#pragma once

#include <chrono>
#include <cstdint>

#include "tornado/ioloop.h"

#if defined(__x86_64__)
#include <x86intrin.h>
#endif

namespace tornado::detail {

struct TscClock {
  bool usable = false;        // a rate is known (then the pair below is valid)
  double ns_per_tick = 0;     // measured between two pairs >= kTscRateWindowNs apart
  uint64_t pair_tsc = 0;      // the last tight (counter, clock) pair: readings start here
  int64_t pair_ns = 0;        // (steady_clock, ns since its epoch)
  int64_t attempt_ns = 0;     // the iteration clock when a pair was last taken or tried
};
inline thread_local TscClock t_tsc_clock;

// A new pair taken (and the rate measured again) once this much time has passed since the
// last: long enough that a pair's few nanoseconds of error do not matter in the rate.
inline constexpr int64_t kTscRateWindowNs = 100'000'000;
// A (counter, clock) pair whose two counter reads are further apart than this (some 3 µs at
// 3 GHz: a clock_gettime takes about 25 ns) was interrupted and is not used.
inline constexpr uint64_t kTscPairTicks = 10'000;

// True if this process may read time from the TSC (checked once).
bool tsc_clock_supported() noexcept;
// Called by the loop with each iteration's clock reading: one comparison, except every
// kTscRateWindowNs, when it reads the counter and measures its rate.
void tsc_clock_reanchor(std::chrono::steady_clock::time_point now) noexcept;
inline void tsc_clock_anchor(std::chrono::steady_clock::time_point now) noexcept {
  const int64_t ns = std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch()).count();
  if (ns - t_tsc_clock.attempt_ns >= kTscRateWindowNs) [[unlikely]] tsc_clock_reanchor(now);
}

inline std::chrono::steady_clock::time_point tsc_clock_now() noexcept {
#if defined(__x86_64__)
  const TscClock& c = t_tsc_clock;
  if (c.usable && t_iteration_clock_valid) [[likely]] {
    // (Signed: a thread moved to a core whose counter lags by a few ticks reads the pair's.)
    int64_t ticks = static_cast<int64_t>(__rdtsc() - c.pair_tsc);
    if (ticks < 0) ticks = 0;
    const auto ns = c.pair_ns + static_cast<int64_t>(static_cast<double>(ticks) * c.ns_per_tick);
    const std::chrono::steady_clock::time_point at{std::chrono::nanoseconds(ns)};
    return at < t_iteration_clock ? t_iteration_clock : at;
  }
#endif
  return std::chrono::steady_clock::now();
}

}  // namespace tornado::detail
