// Timers (ordering, cancellation, stale handles, a million pending) and PeriodicCallback,
// after Tornado's ioloop_test.py. The rest of the IOLoop's tests: ioloop_test.cpp.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>
#include <numeric>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "ioloop_test_util.h"
#include "tornado/ioloop.h"
#include "tornado/task.h"
#include "tornado/testing_core.h"

namespace ioloop_timer_test {

using namespace tornado;
using tornado::test::IOLoopTest;
using tornado::testing::AsyncTest;
using tornado::testing::ExpectLog;

// ---- timers -------------------------------------------------------------------------

TEST_F(IOLoopTest, TimersFireInDeadlineOrderFifoForEqualDeadlines) {
  std::vector<std::string> order;
  const double now = io_loop().time();
  io_loop().call_at(now + 0.03, [&] { order.push_back("30ms"); });
  io_loop().call_at(now + 0.01, [&] { order.push_back("10ms"); });
  io_loop().call_at(now + 0.02, [&] { order.push_back("20ms"); });
  for (const char* name : {"eq1", "eq2", "eq3"}) {
    io_loop().call_at(now + 0.04, [&, name] { order.push_back(name); });
  }
  io_loop().call_at(now - 1, [&] { order.push_back("past"); });
  io_loop().call_at(now + 0.05, [&] { io_loop().stop(); });
  start_with_guard();
  EXPECT_EQ(order, (std::vector<std::string>{"past", "10ms", "20ms", "30ms", "eq1", "eq2", "eq3"}));
}

TEST_F(IOLoopTest, ManyDueTimersRunSortedByDeadlineThenInsertion) {
  // All due at once, so the order is entirely the heap's: by deadline, then FIFO.
  constexpr int kTimers = 2000;
  std::mt19937 rng(12345);
  std::vector<std::pair<int, int>> fired;  // (deadline bucket, insertion index)
  const double base = io_loop().time() - 10;
  for (int i = 0; i < kTimers; ++i) {
    int bucket = static_cast<int>(rng() % 50);
    io_loop().call_at(base + bucket * 0.001, [&, bucket, i] { fired.emplace_back(bucket, i); });
  }
  io_loop().call_at(base + 1, [&] { io_loop().stop(); });
  start_with_guard();
  ASSERT_EQ(fired.size(), static_cast<std::size_t>(kTimers));
  EXPECT_TRUE(std::is_sorted(fired.begin(), fired.end()));
}

TEST_F(IOLoopTest, CallLaterWaitsAtLeastTheDelay) {
  const double start = io_loop().time();
  double fired_at = 0;
  io_loop().call_later(30ms, [&] {
    fired_at = io_loop().time();
    io_loop().stop();
  });
  start_with_guard();
  EXPECT_GE(fired_at - start, 0.030);
}

TEST_F(IOLoopTest, CallAtInThePastRunsOnTheNextIteration) {
  bool ran = false;
  io_loop().call_at(io_loop().time() - 100, [&] {
    ran = true;
    io_loop().stop();
  });
  start_with_guard();
  EXPECT_TRUE(ran);
}

TEST_F(IOLoopTest, RemoveTimeoutBeforeFiring) {
  bool fired = false;
  TimeoutHandle h = io_loop().call_later(10ms, [&] { fired = true; });
  EXPECT_EQ(io_loop().pending_timeouts(), 1u);
  io_loop().remove_timeout(h);
  EXPECT_EQ(io_loop().pending_timeouts(), 0u);
  io_loop().call_later(30ms, [&] { io_loop().stop(); });
  start_with_guard();
  EXPECT_FALSE(fired);
}

TEST_F(IOLoopTest, RemoveTimeoutAfterFiringIsANoop) {
  int fired = 0;
  TimeoutHandle h = io_loop().call_at(io_loop().time(), [&] {
    ++fired;
    io_loop().stop();
  });
  start_with_guard();
  EXPECT_EQ(fired, 1);
  io_loop().remove_timeout(h);
  io_loop().remove_timeout(h);
  io_loop().remove_timeout(TimeoutHandle{});  // an empty handle is fine too
  EXPECT_EQ(io_loop().pending_timeouts(), 0u);
}

TEST_F(IOLoopTest, StaleHandleDoesNotCancelTheTimerReusingItsSlot) {
  TimeoutHandle old_handle = io_loop().call_later(1h, [] {});
  io_loop().remove_timeout(old_handle);
  bool fired = false;
  TimeoutHandle reused = io_loop().call_at(io_loop().time(), [&] {
    fired = true;
    io_loop().stop();
  });
  ASSERT_EQ(reused.slot, old_handle.slot) << "the freed slot should be reused";
  io_loop().remove_timeout(old_handle);  // stale: must not touch the new timer
  EXPECT_EQ(io_loop().pending_timeouts(), 1u);
  start_with_guard();
  EXPECT_TRUE(fired);
}

TEST_F(IOLoopTest, RemoveTimeoutFromTimeoutDueInSameIteration) {
  // Tornado's test_remove_timeout_from_timeout: all three are due when the loop first
  // looks; t1 cancels t2, which must not run although it was already due.
  std::vector<std::string> calls;
  const double now = io_loop().time();
  TimeoutHandle t2;
  io_loop().call_at(now + 0.01, [&] {
    calls.push_back("t1");
    io_loop().remove_timeout(t2);
  });
  t2 = io_loop().call_at(now + 0.02, [&] { calls.push_back("t2"); });
  io_loop().call_at(now + 0.03, [&] { io_loop().stop(); });
  std::this_thread::sleep_for(40ms);
  start_with_guard();
  EXPECT_EQ(calls, (std::vector<std::string>{"t1"}));
}

TEST_F(IOLoopTest, RemoveTimeoutFromTimeoutWithEqualDeadline) {
  std::vector<std::string> calls;
  const double when = io_loop().time() - 1;
  TimeoutHandle second;
  io_loop().call_at(when, [&] {
    calls.push_back("first");
    io_loop().remove_timeout(second);
  });
  second = io_loop().call_at(when, [&] { calls.push_back("second"); });
  io_loop().call_at(when, [&] {
    calls.push_back("third");
    io_loop().stop();
  });
  start_with_guard();
  EXPECT_EQ(calls, (std::vector<std::string>{"first", "third"}));
}

TEST_F(IOLoopTest, RemoveTimeoutFromCallbackForDueTimer) {
  // A plain callback of the same iteration can cancel a timer that is already due.
  bool fired = false;
  TimeoutHandle h = io_loop().call_at(io_loop().time() - 1, [&] { fired = true; });
  io_loop().add_callback([&] { io_loop().remove_timeout(h); });
  io_loop().call_later(20ms, [&] { io_loop().stop(); });
  start_with_guard();
  EXPECT_FALSE(fired);
}

TEST_F(IOLoopTest, TimerAddedByTimerWaitsForNextIteration) {
  // A due timer that re-arms itself with a deadline in the past must not starve the
  // loop: it runs once per iteration, so a stop() from a callback gets through.
  int runs = 0;
  std::function<void()> rearm = [&] {
    ++runs;
    io_loop().call_at(io_loop().time() - 1, rearm);
  };
  io_loop().call_at(io_loop().time() - 1, rearm);
  io_loop().add_callback([&] { io_loop().add_callback([&] { io_loop().stop(); }); });
  start_with_guard();
  EXPECT_GE(runs, 1);
  EXPECT_LE(runs, 3);
}

TEST_F(IOLoopTest, RemoveOwnHandleInsideTimerIsANoop) {
  TimeoutHandle self;
  bool ran = false;
  self = io_loop().call_at(io_loop().time(), [&] {
    io_loop().remove_timeout(self);
    ran = true;
    io_loop().stop();
  });
  start_with_guard();
  EXPECT_TRUE(ran);
}

TEST_F(IOLoopTest, NanDeadlineIsRejected) {
  EXPECT_THROW(io_loop().call_at(std::nan(""), [] {}), std::invalid_argument);
  EXPECT_EQ(io_loop().pending_timeouts(), 0u);
}

TEST_F(IOLoopTest, MillionPendingTimersAddedAndCancelled) {
  constexpr std::size_t kTimers = 1'000'000;
  int fired = 0;
  std::vector<TimeoutHandle> handles;
  handles.reserve(kTimers);
  const double now = io_loop().time();
  for (std::size_t i = 0; i < kTimers; ++i) {
    handles.push_back(
        io_loop().call_at(now + 3600 + static_cast<double>(i % 977), [&] { ++fired; }));
  }
  EXPECT_EQ(io_loop().pending_timeouts(), kTimers);
  // Cancel in a scrambled order so removals hit the middle of the heap, not just its end.
  std::shuffle(handles.begin(), handles.end(), std::mt19937(7));
  for (std::size_t i = 0; i < kTimers / 2; ++i) io_loop().remove_timeout(handles[i]);
  EXPECT_EQ(io_loop().pending_timeouts(), kTimers / 2);
  for (std::size_t i = kTimers / 2; i < kTimers; ++i) io_loop().remove_timeout(handles[i]);
  EXPECT_EQ(io_loop().pending_timeouts(), 0u);
  io_loop().call_at(now - 1, [&] { io_loop().stop(); });
  start_with_guard();
  EXPECT_EQ(fired, 0);
}

// A removed timer's heap entry stays until it reaches the top; the slot it named may by
// then hold a new timer with a later deadline, which must not run at the old one's time.
TEST_F(IOLoopTest, RemovedTimersEntryDoesNotFireTheTimerReusingItsSlot) {
  const double now = io_loop().time();
  TimeoutHandle early = io_loop().call_at(now + 0.01, [] { ADD_FAILURE() << "removed timer ran"; });
  io_loop().remove_timeout(early);
  std::vector<std::string> order;
  TimeoutHandle late = io_loop().call_at(now + 0.15, [&] { order.push_back("late"); });
  ASSERT_EQ(late.slot, early.slot) << "the freed slot should be reused";
  io_loop().call_at(now + 0.05,
                    [&] { order.push_back(order.empty() ? "nothing yet" : "late ran early"); });
  io_loop().call_at(now + 0.3, [&] { io_loop().stop(); });
  start_with_guard();
  EXPECT_EQ(order, (std::vector<std::string>{"nothing yet", "late"}));
}

// Timers added and removed without ever firing (a timeout per request that is always
// cancelled) leave dead entries behind: they are dropped in bulk, so the heap stays under
// twice the live timers plus 1,024 however many come and go.
TEST_F(IOLoopTest, AMillionTimersAddedAndRemovedOneByOneKeepTheHeapBounded) {
  const double now = io_loop().time();
  TimeoutHandle keep = io_loop().call_at(now + 7200, [] {});
  std::size_t largest = 0;
  for (int i = 0; i < 1'000'000; ++i) {
    TimeoutHandle h = io_loop().call_at(now + 3600 + (i % 1000), [] {});
    io_loop().remove_timeout(h);
    largest = std::max(largest, io_loop().timer_heap_entries());
  }
  EXPECT_EQ(io_loop().pending_timeouts(), 1u);
  EXPECT_LE(largest, 2 * 2 + 1024u);
  io_loop().remove_timeout(keep);
  EXPECT_EQ(io_loop().pending_timeouts(), 0u);
}

// Removing most of many timers in random order (so that dead entries are dropped in bulk,
// mid-heap) leaves the rest firing in deadline order, FIFO for equal deadlines.
TEST_F(IOLoopTest, SurvivorsOfMassRemovalFireInOrder) {
  constexpr int kTimers = 20'000;
  const double now = io_loop().time();
  std::vector<std::pair<TimeoutHandle, int>> handles;
  std::vector<int> fired;
  for (int i = 0; i < kTimers; ++i) {
    // Deadlines in the past, 40 distinct values: equal deadlines run in insertion order.
    handles.emplace_back(
        io_loop().call_at(now - 1 + (i % 40) * 1e-3, [&fired, i] { fired.push_back(i); }), i);
  }
  std::shuffle(handles.begin(), handles.end(), std::mt19937(11));
  std::vector<int> survivors;
  for (int k = 0; k < kTimers; ++k) {
    if (k % 10 == 0) {
      survivors.push_back(handles[k].second);
    } else {
      io_loop().remove_timeout(handles[k].first);
    }
  }
  EXPECT_LT(io_loop().timer_heap_entries(), kTimers / 2) << "dead entries were never dropped";
  std::sort(survivors.begin(), survivors.end(),
            [](int a, int b) { return std::pair(a % 40, a) < std::pair(b % 40, b); });
  io_loop().call_later(10ms, [&] { io_loop().stop(); });
  start_with_guard();
  EXPECT_EQ(fired, survivors);
}

// ---- PeriodicCallback ---------------------------------------------------------------

namespace {
// Tornado's TestPeriodicCallbackMath.simulate_calls: start at t=1000, each call takes
// durations[i] seconds (negative: the clock went backwards), return the deadlines.
std::vector<double> simulate_calls(PeriodicCallback& pc, const std::vector<double>& durations) {
  std::vector<double> calls;
  double now = 1000;
  for (double d : durations) {
    pc.update_next(now);
    calls.push_back(pc.next_timeout());
    now = pc.next_timeout() + d;
  }
  return calls;
}
}  // namespace

// A fresh PeriodicCallback's next_timeout is 0; with a period dividing 1000 the first
// update from t=1000 lands on 1010, the same start as Tornado's test.
TEST(PeriodicCallbackMath, Basic) {
  PeriodicCallback pc([] {}, 10s);
  EXPECT_EQ(simulate_calls(pc, {0, 0, 0, 0, 0}),
            (std::vector<double>{1010, 1020, 1030, 1040, 1050}));
}

TEST(PeriodicCallbackMath, OverrunSkipsMissedTicks) {
  PeriodicCallback pc([] {}, 10s);
  EXPECT_EQ(
      simulate_calls(pc, {9, 9, 10, 11, 20, 20, 35, 35, 0, 0, 0}),
      (std::vector<double>{1010, 1020, 1030, 1050, 1070, 1100, 1130, 1170, 1210, 1220, 1230}));
}

TEST(PeriodicCallbackMath, ClockGoingBackwardsKeepsTheSchedule) {
  PeriodicCallback pc([] {}, 10s);
  EXPECT_EQ(simulate_calls(pc, {-2, -1, -3, -2, 0}),
            (std::vector<double>{1010, 1020, 1030, 1040, 1050}));
  PeriodicCallback big_jump([] {}, 10s);
  EXPECT_EQ(simulate_calls(big_jump, {-100, 0, 0}), (std::vector<double>{1010, 1020, 1030}));
}

TEST(PeriodicCallbackMath, JitterStaysWithinBounds) {
  // jitter 0.5 scales each period by a factor in [0.75, 1.25].
  PeriodicCallback pc([] {}, 10s, 0.5);
  std::vector<double> zero(2000, 0.0);
  auto calls = simulate_calls(pc, zero);
  double shortest = 1e9, longest = 0;
  for (std::size_t i = 1; i < calls.size(); ++i) {
    double gap = calls[i] - calls[i - 1];
    shortest = std::min(shortest, gap);
    longest = std::max(longest, gap);
    ASSERT_GE(gap, 7.5 - 1e-9) << "call " << i;
    ASSERT_LE(gap, 12.5 + 1e-9) << "call " << i;
  }
  // 2000 draws: the spread must actually be used (not a constant period).
  EXPECT_LT(shortest, 8.0);
  EXPECT_GT(longest, 12.0);
}

TEST(PeriodicCallbackMath, NonPositivePeriodIsRejected) {
  EXPECT_THROW(PeriodicCallback([] {}, 0s), std::invalid_argument);
  EXPECT_THROW(PeriodicCallback([] {}, Duration(-1)), std::invalid_argument);
}

class PeriodicCallbackTest : public IOLoopTest {};

TEST_F(PeriodicCallbackTest, RunsRepeatedly) {
  int count = 0;
  PeriodicCallback pc(
      [&] {
        if (++count == 3) io_loop().stop();
      },
      10ms);
  pc.start();
  EXPECT_TRUE(pc.is_running());
  start_with_guard();
  pc.stop();
  EXPECT_FALSE(pc.is_running());
  EXPECT_EQ(count, 3);
}

TEST_F(PeriodicCallbackTest, FirstRunIsOnePeriodAfterStart) {
  const double start = io_loop().time();
  double first = 0;
  PeriodicCallback pc(
      [&] {
        first = io_loop().time();
        io_loop().stop();
      },
      20ms);
  pc.start();
  start_with_guard();
  EXPECT_GE(first - start, 0.020);
}

TEST_F(PeriodicCallbackTest, StopInsideCallback) {
  int count = 0;
  std::unique_ptr<PeriodicCallback> pc;
  pc = std::make_unique<PeriodicCallback>(
      [&] {
        if (++count == 2) {
          pc->stop();
          io_loop().stop();
        }
      },
      5ms);
  pc->start();
  start_with_guard();
  // Long enough for several more periods, had the stop not worked.
  run_sync([]() -> Task<> { co_await sleep(50ms); });
  EXPECT_EQ(count, 2);
  EXPECT_FALSE(pc->is_running());
}

TEST_F(PeriodicCallbackTest, CoroutineCallbackIsAwaitedBeforeNextRun) {
  // Tornado's test_periodic_coro: the callback takes 25 ms of a 10 ms period; runs
  // never overlap, and three complete runs happen in order.
  int started = 0, finished = 0, overlaps = 0;
  bool in_flight = false;
  std::unique_ptr<PeriodicCallback> pc;
  pc = std::make_unique<PeriodicCallback>(std::function<Task<>()>([&]() -> Task<> {
                                            if (in_flight) ++overlaps;
                                            in_flight = true;
                                            ++started;
                                            co_await sleep(25ms);
                                            ++finished;
                                            in_flight = false;
                                            if (finished == 3) {
                                              pc->stop();
                                              io_loop().add_callback([&] { io_loop().stop(); });
                                            }
                                          }),
                                          10ms);
  pc->start();
  start_with_guard();
  EXPECT_EQ(started, 3);
  EXPECT_EQ(finished, 3);
  EXPECT_EQ(overlaps, 0);
}

TEST_F(PeriodicCallbackTest, ExceptionIsLoggedAndRunsContinue) {
  ExpectLog expect(app_log(), "Exception in PeriodicCallback.*periodic-boom");
  int count = 0;
  PeriodicCallback pc(
      [&] {
        // Stop one callback later, so the third run's failure is also reported.
        if (++count == 3) io_loop().add_callback([&] { io_loop().stop(); });
        throw std::runtime_error("periodic-boom");
      },
      5ms);
  pc.start();
  start_with_guard();
  pc.stop();
  EXPECT_EQ(count, 3);
}

TEST_F(PeriodicCallbackTest, DestroyedWhileCoroutineRunsIsSafe) {
  int started = 0;
  {
    PeriodicCallback pc(std::function<Task<>()>([&]() -> Task<> {
                          ++started;
                          co_await sleep(20ms);
                        }),
                        5ms);
    pc.start();
    run_sync([]() -> Task<> { co_await sleep(10ms); });
    EXPECT_EQ(started, 1);
  }  // destroyed with its callback suspended in sleep
  run_sync([]() -> Task<> { co_await sleep(40ms); });
  EXPECT_EQ(started, 1);
}

TEST_F(PeriodicCallbackTest, RestartInsideCallbackDoesNotDoubleTheSchedule) {
  // stop() + start() inside the callback arms the next run; the end of the run must not
  // arm a second one. Counted in pending timers, two iterations after the run.
  std::size_t armed_after_restart = 0, armed_later = 0;
  std::unique_ptr<PeriodicCallback> pc;
  pc = std::make_unique<PeriodicCallback>(
      [&] {
        pc->stop();
        pc->start();
        armed_after_restart = io_loop().pending_timeouts();
        io_loop().add_callback([&] {
          io_loop().add_callback([&] {
            armed_later = io_loop().pending_timeouts();
            io_loop().stop();
          });
        });
      },
      5ms);
  pc->start();
  start_with_guard();
  pc->stop();
  EXPECT_GT(armed_after_restart, 0u);
  EXPECT_EQ(armed_later, armed_after_restart);
}

TEST_F(PeriodicCallbackTest, ThrowingTaskFactoryIsLoggedAndRunsContinue) {
  // A Task-returning callback that throws before creating its coroutine.
  ExpectLog expect(app_log(), "Exception in PeriodicCallback.*factory-boom");
  int count = 0;
  PeriodicCallback pc(std::function<Task<>()>([&]() -> Task<> {
                        if (++count == 3) io_loop().stop();
                        throw std::runtime_error("factory-boom");
                      }),
                      5ms);
  pc.start();
  start_with_guard();
  pc.stop();
  EXPECT_EQ(count, 3);
}

}  // namespace ioloop_timer_test
