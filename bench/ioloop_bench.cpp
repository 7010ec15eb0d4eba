// IOLoop micro-benchmarks: callbacks per second (one core, and handed in from other
// threads), timer add/cancel at a million pending timers, timer fire rate.
// Reporting only (docs/performance.md records the figures); never part of CI pass/fail.
//
//   build-release/bench/ioloop_bench --benchmark_repetitions=3 --benchmark_report_aggregates_only
#include <benchmark/benchmark.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <random>
#include <thread>
#include <vector>

#include "tornado/ioloop.h"

using namespace tornado;

namespace {

// add_callback + run on the loop's own thread: a batch of N callbacks queued, then one
// start() runs them (the last one stops the loop). Figure: callbacks per second.
void BM_CallbacksBatch(benchmark::State& state) {
  IOLoop loop(true);
  const int n = static_cast<int>(state.range(0));
  long counter = 0;
  for (auto _ : state) {
    for (int i = 0; i < n - 1; ++i) loop.add_callback([&counter] { ++counter; });
    loop.add_callback([&] {
      ++counter;
      loop.stop();
    });
    loop.start();
  }
  benchmark::DoNotOptimize(counter);
  state.SetItemsProcessed(state.iterations() * n);
}
BENCHMARK(BM_CallbacksBatch)->Arg(10'000);

// One callback re-adding itself: one loop iteration (and one epoll_wait) per callback.
void BM_CallbacksChained(benchmark::State& state) {
  IOLoop loop(true);
  const long n = state.range(0);
  long remaining = 0;
  std::function<void()> step = [&] {
    if (--remaining > 0) {
      loop.add_callback(step);
    } else {
      loop.stop();
    }
  };
  for (auto _ : state) {
    remaining = n;
    loop.add_callback(step);
    loop.start();
  }
  state.SetItemsProcessed(state.iterations() * n);
}
BENCHMARK(BM_CallbacksChained)->Arg(10'000);

// Producers on other threads add N callbacks each; the loop runs until it has all of
// them. Figure: callbacks per second received by the loop. (2 cores on the test machine:
// with more producers than cores the figure measures contention, not scaling.)
void BM_CrossThreadAddCallback(benchmark::State& state) {
  IOLoop loop(true);
  const int producers = static_cast<int>(state.range(0));
  const long per_producer = 100'000;
  long received = 0;
  for (auto _ : state) {
    received = 0;
    const long expected = producers * per_producer;
    std::vector<std::thread> threads;
    for (int p = 0; p < producers; ++p) {
      threads.emplace_back([&] {
        for (long i = 0; i < per_producer; ++i) {
          loop.add_callback([&] {
            if (++received == expected) loop.stop();
          });
        }
      });
    }
    loop.start();
    for (auto& t : threads) t.join();
  }
  state.SetItemsProcessed(state.iterations() * producers * per_producer);
}
BENCHMARK(BM_CrossThreadAddCallback)->Arg(1)->Arg(4)->UseRealTime();

// 1,000,000 timers added (deadlines spread over an hour) then all cancelled. Figure:
// time for the whole million add + cancel. Arg 0: cancel in insertion order; 1: random.
void BM_MillionTimersAddCancel(benchmark::State& state) {
  IOLoop loop(true);
  constexpr int kTimers = 1'000'000;
  std::vector<TimeoutHandle> handles(kTimers);
  std::vector<uint32_t> order(kTimers);
  for (int i = 0; i < kTimers; ++i) order[i] = i;
  if (state.range(0) == 1) std::shuffle(order.begin(), order.end(), std::mt19937(1));
  const double now = loop.time();
  for (auto _ : state) {
    for (int i = 0; i < kTimers; ++i) {
      // Scattered deadlines (64-bit product: an int would overflow, which is UB).
      const double spread = static_cast<double>(i * 7919LL % kTimers) * 0.0036;
      handles[i] = loop.call_at(now + 1 + spread, [] {});
    }
    for (uint32_t i : order) loop.remove_timeout(handles[i]);
    if (loop.pending_timeouts() != 0) state.SkipWithError("timers left");
  }
  state.SetItemsProcessed(state.iterations() * kTimers);
}
BENCHMARK(BM_MillionTimersAddCancel)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);

// The figure: from a cold start — a fresh loop with no slot, heap or callback
// storage yet — 1,000,000 timers added (deadlines scattered over an hour), then all cancelled
// in random order. Figure: time per whole run (the loop's teardown is not timed).
void BM_MillionTimersColdStart(benchmark::State& state) {
  constexpr int kTimers = 1'000'000;
  std::vector<TimeoutHandle> handles(kTimers);
  std::vector<uint32_t> order(kTimers);
  for (int i = 0; i < kTimers; ++i) order[i] = i;
  std::shuffle(order.begin(), order.end(), std::mt19937(2));
  for (auto _ : state) {
    auto loop = std::make_unique<IOLoop>(true);
    const double now = loop->time();
    for (int i = 0; i < kTimers; ++i) {
      const double spread = static_cast<double>(i * 7919LL % kTimers) * 0.0036;
      handles[i] = loop->call_at(now + 1 + spread, [] {});
    }
    for (uint32_t i : order) loop->remove_timeout(handles[i]);
    if (loop->pending_timeouts() != 0) state.SkipWithError("timers left");
    state.PauseTiming();
    loop.reset();
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations() * kTimers);
}
BENCHMARK(BM_MillionTimersColdStart)->Unit(benchmark::kMillisecond)->Iterations(5);

// N timers already due, run by one start(). Figure: timers fired per second.
void BM_TimerFire(benchmark::State& state) {
  IOLoop loop(true);
  const int n = static_cast<int>(state.range(0));
  long fired = 0;
  for (auto _ : state) {
    const double due = loop.time() - 1;
    for (int i = 0; i < n - 1; ++i) loop.call_at(due + i * 1e-9, [&fired] { ++fired; });
    loop.call_at(due + 1, [&] {
      ++fired;
      loop.stop();
    });
    loop.start();
  }
  benchmark::DoNotOptimize(fired);
  state.SetItemsProcessed(state.iterations() * n);
}
BENCHMARK(BM_TimerFire)->Arg(100'000);

}  // namespace

BENCHMARK_MAIN();
