// The TSC-scaled request clock (src/internal/tsc_clock.h): once a loop thread has run past
// the rate window, its readings agree with steady_clock; before that, outside an iteration,
// or on a machine whose kernel does not keep time from the TSC, it is steady_clock.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "internal/tsc_clock.h"
#include "ioloop_test_util.h"
#include "tornado/ioloop.h"

namespace tsc_clock_test {

using namespace tornado;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using tornado::test::IOLoopTest;

// The worst distance of a reading from the steady_clock interval that brackets it.
Clock::duration distance_outside(Clock::time_point before, Clock::time_point reading,
                                 Clock::time_point after) {
  if (reading < before) return before - reading;
  if (reading > after) return reading - after;
  return Clock::duration::zero();
}

TEST(TscClockTest, OutsideALoopIterationItIsSteadyClock) {
  for (int i = 0; i < 1000; ++i) {
    const auto before = Clock::now();
    const auto reading = detail::tsc_clock_now();
    const auto after = Clock::now();
    ASSERT_GE(reading, before);
    ASSERT_LE(reading, after);
  }
}

TEST_F(IOLoopTest, TscClockAgreesWithSteadyClockWithinTwoMicrosecondsAfterTheRateWindow) {
  // Iterations every 5 ms for 350 ms: past the 100 ms window at least twice, so the rate is
  // measured; then 2,000 readings, each bracketed by two steady_clock readings.
  PeriodicCallback tick([] {}, 5ms);
  tick.start();
  Clock::duration worst{};
  bool usable = false;
  io_loop().call_later(350ms, [&] {
    usable = detail::t_tsc_clock.usable;
    for (int i = 0; i < 2000; ++i) {
      const auto before = Clock::now();
      const auto reading = detail::tsc_clock_now();
      const auto after = Clock::now();
      worst = std::max(worst, distance_outside(before, reading, after));
    }
    io_loop().stop();
  });
  start_with_guard();
  tick.stop();
  EXPECT_EQ(usable, detail::tsc_clock_supported());
  EXPECT_LE(worst, Clock::duration(2us)) << "usable: " << usable;
}

TEST_F(IOLoopTest, TscClockIsNeverEarlierThanTheIterationClock) {
  PeriodicCallback tick([] {}, 5ms);
  tick.start();
  int earlier = 0;
  // Read it at once in many iterations (past the rate window too): a reading taken right
  // after the iteration's own clock reading must not fall before it.
  PeriodicCallback probe([&] {
    if (detail::tsc_clock_now() < IOLoop::iteration_clock()) ++earlier;
  }, 1ms);
  probe.start();
  io_loop().call_later(300ms, [&] { io_loop().stop(); });
  start_with_guard();
  tick.stop();
  probe.stop();
  EXPECT_EQ(earlier, 0);
}

TEST_F(IOLoopTest, TscClockMeasuresASleepInsideOneIteration) {
  // A handler that blocks its iteration for 20 ms: the reading after it has moved on by
  // 20 ms (the ticks since the anchor, scaled), not stayed at the iteration's clock.
  PeriodicCallback tick([] {}, 5ms);
  tick.start();
  Clock::duration measured{};
  io_loop().call_later(250ms, [&] {
    const auto start = detail::tsc_clock_now();
    std::this_thread::sleep_for(20ms);
    measured = detail::tsc_clock_now() - start;
    io_loop().stop();
  });
  start_with_guard();
  tick.stop();
  EXPECT_GE(measured, Clock::duration(20ms));
  EXPECT_LT(measured, Clock::duration(40ms));
}

}  // namespace tsc_clock_test
