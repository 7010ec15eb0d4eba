// The TSC-scaled request clock (internal/tsc_clock.h): the process check and the anchors.
#include "internal/tsc_clock.h"

#include <fstream>
#include <string>

#if defined(__x86_64__)
#include <cpuid.h>
#endif

namespace tornado::detail {

namespace {

bool check_tsc_clock() noexcept {
#if defined(__x86_64__)
  // The invariant-TSC bit (CPUID 0x80000007, EDX bit 8): a constant rate in every state.
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (__get_cpuid(0x80000007, &eax, &ebx, &ecx, &edx) == 0 || (edx & (1u << 8)) == 0) {
    return false;
  }
  // And the kernel keeps time from it (not, say, kvm-clock on a host whose counters drift).
  try {
    std::ifstream in("/sys/devices/system/clocksource/clocksource0/current_clocksource");
    std::string source;
    return static_cast<bool>(in >> source) && source == "tsc";
  } catch (...) {
    return false;
  }
#else
  return false;
#endif
}

}  // namespace

bool tsc_clock_supported() noexcept {
  static const bool supported = check_tsc_clock();
  return supported;
}

void tsc_clock_reanchor(std::chrono::steady_clock::time_point now) noexcept {
  TscClock& c = t_tsc_clock;
  // Whatever happens below, the next attempt is a window later.
  c.attempt_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch()).count();
#if defined(__x86_64__)
  if (!tsc_clock_supported()) return;
  // A clock reading paired with the counter read on both sides of it: a pair the thread was
  // preempted inside (a loaded machine) would skew the rate and every reading after it, so
  // only a tight one counts; after three loose ones this window keeps the old pair.
  for (int attempt = 0; attempt < 3; ++attempt) {
    const uint64_t before = __rdtsc();
    const auto clock = std::chrono::steady_clock::now();
    const uint64_t after = __rdtsc();
    if (after < before || after - before > kTscPairTicks) continue;
    const uint64_t tsc = before + (after - before) / 2;
    const int64_t ns =
        std::chrono::duration_cast<std::chrono::nanoseconds>(clock.time_since_epoch()).count();
    if (c.pair_tsc != 0 && tsc > c.pair_tsc) {
      const double rate = static_cast<double>(ns - c.pair_ns) / static_cast<double>(tsc - c.pair_tsc);
      // A counter between 50 MHz and 20 GHz; anything else (a VM migrated mid-window) and
      // the clock falls back to steady_clock until the next window.
      c.usable = rate > 0.05 && rate < 20.0;
      if (c.usable) c.ns_per_tick = rate;
    }
    c.pair_tsc = tsc;
    c.pair_ns = ns;
    return;
  }
#endif
}

}  // namespace tornado::detail
