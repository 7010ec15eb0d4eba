// Behaviours of Tornado's locks_test.py for Condition, Event, Semaphore, BoundedSemaphore
// and Lock, plus the C++ guard API and Tornado 6.6's zero timeouts.
#include "tornado/locks.h"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "tornado/ioloop.h"
#include "tornado/task.h"
#include "tornado/testing_core.h"

namespace locks_test {

using namespace tornado;
using tornado::locks::BoundedSemaphore;
using tornado::locks::Condition;
using tornado::locks::Event;
using tornado::locks::Guard;
using tornado::locks::Lock;
using tornado::locks::Semaphore;
using tornado::testing::AsyncTest;
using tornado::testing::ExpectLog;

namespace {

class LocksTest : public AsyncTest {
 protected:
  // Runs every callback already queued on the loop (Future callbacks run one iteration
  // after the result is set), like Tornado's loop_briefly().
  void loop_briefly() {
    run_sync([]() -> Task<> { co_await moment(); });
  }
  void pause(Duration d) {
    run_sync([d]() -> Task<> { co_await sleep(d); });
  }
  // Appends `key` to history_ when `wait` resolves true, "timeout" when it resolves false.
  void record_done(const Future<bool>& wait, std::string key) {
    wait.add_done_callback(
        [this, key](const Future<bool>& f) { history_.push_back(f.result() ? key : "timeout"); });
  }
  std::vector<std::string> history_;
};

using Strings = std::vector<std::string>;

// ---- Condition ------------------------------------------------------------------------

using ConditionTest = LocksTest;

TEST_F(ConditionTest, ReprShowsWaitersOnlyWhenThereAreSome) {
  Condition c;
  EXPECT_EQ(c.repr(), "<Condition>");
  Future<bool> w = c.wait();
  EXPECT_EQ(c.repr(), "<Condition waiters[1]>");
}

TEST_F(ConditionTest, NotifyWakesWaiter) {
  Condition c;
  io_loop().call_later(10ms, [&] { c.notify(); });
  EXPECT_TRUE(run_sync([&]() -> Task<bool> { co_return co_await c.wait(); }));
}

TEST_F(ConditionTest, NotifyWithoutWaitersIsNotRemembered) {
  Condition c;
  c.notify();
  Future<bool> w = c.wait();
  loop_briefly();
  EXPECT_FALSE(w.done());
}

TEST_F(ConditionTest, NotifyOneWakesOldestWaiterNextIteration) {
  Condition c;
  record_done(c.wait(), "wait1");
  record_done(c.wait(), "wait2");
  c.notify(1);
  EXPECT_TRUE(history_.empty());  // delivered on the next iteration, not inside notify()
  loop_briefly();
  history_.push_back("notify1");
  c.notify(1);
  loop_briefly();
  history_.push_back("notify2");
  EXPECT_EQ(history_, (Strings{"wait1", "notify1", "wait2", "notify2"}));
}

TEST_F(ConditionTest, NotifyNWakesInRegistrationOrder) {
  Condition c;
  for (int i = 0; i < 6; ++i) record_done(c.wait(), std::to_string(i));
  c.notify(3);
  loop_briefly();
  EXPECT_EQ(history_, (Strings{"0", "1", "2"}));
  c.notify(1);
  loop_briefly();
  EXPECT_EQ(history_, (Strings{"0", "1", "2", "3"}));
  c.notify(2);
  loop_briefly();
  EXPECT_EQ(history_, (Strings{"0", "1", "2", "3", "4", "5"}));
  EXPECT_EQ(c.waiter_count(), 0u);
}

TEST_F(ConditionTest, NotifyAllWakesEveryWaiterInOrder) {
  Condition c;
  for (int i = 0; i < 4; ++i) record_done(c.wait(), std::to_string(i));
  c.notify_all();
  loop_briefly();
  history_.push_back("notify_all");
  EXPECT_EQ(history_, (Strings{"0", "1", "2", "3", "notify_all"}));
}

TEST_F(ConditionTest, WaitTimeoutResolvesFalse) {
  Condition c;
  Future<bool> wait = c.wait(10ms);
  io_loop().call_later(20ms, [&] { c.notify(); });  // too late
  pause(30ms);
  ASSERT_TRUE(wait.done());
  EXPECT_FALSE(wait.result());
}

TEST_F(ConditionTest, WaitTimeoutPreemptedByNotify) {
  Condition c;
  io_loop().call_later(10ms, [&] { c.notify(); });  // fires before the wait times out
  Future<bool> wait = c.wait(20ms);
  pause(30ms);
  ASSERT_TRUE(wait.done());
  EXPECT_TRUE(wait.result());
  EXPECT_EQ(io_loop().pending_timeouts(), 0u);  // the notified waiter's timer was cancelled
}

TEST_F(ConditionTest, TimedOutWaiterDoesNotCountAgainstNotifyN) {
  Condition c;
  record_done(c.wait(), "0");
  record_done(c.wait(10ms), "1");
  record_done(c.wait(), "2");
  record_done(c.wait(), "3");
  pause(20ms);  // waiter 1 times out
  EXPECT_EQ(history_, (Strings{"timeout"}));
  c.notify(2);
  pause(10ms);
  EXPECT_EQ(history_, (Strings{"timeout", "0", "2"}));
  c.notify();
  loop_briefly();
  EXPECT_EQ(history_, (Strings{"timeout", "0", "2", "3"}));
}

TEST_F(ConditionTest, NotifyAllSkipsTimedOutWaiter) {
  Condition c;
  record_done(c.wait(), "0");
  record_done(c.wait(10ms), "1");
  record_done(c.wait(), "2");
  pause(20ms);
  EXPECT_EQ(history_, (Strings{"timeout"}));
  c.notify_all();
  loop_briefly();
  EXPECT_EQ(history_, (Strings{"timeout", "0", "2"}));
}

TEST_F(ConditionTest, NestedNotifyLosesNoNotification) {
  Condition c;
  std::vector<Future<bool>> waits;
  for (int i = 0; i < 3; ++i) waits.push_back(c.wait());
  // The second waiter re-enters notify() when it wakes, waking the third.
  waits[1].add_done_callback([&](const Future<bool>&) { c.notify(); });
  c.notify(2);
  loop_briefly();
  loop_briefly();
  for (auto& w : waits) {
    ASSERT_TRUE(w.done());
    EXPECT_TRUE(w.result());
  }
}

TEST_F(ConditionTest, TimedOutWaitersAreCollected) {
  Condition c;
  std::vector<Future<bool>> timed;
  for (int i = 0; i < 101; ++i) timed.push_back(c.wait(10ms));
  Future<bool> live = c.wait();
  EXPECT_EQ(c.waiter_count(), 102u);
  pause(20ms);  // the 101st timeout triggers a sweep
  EXPECT_EQ(c.waiter_count(), 1u);
  EXPECT_FALSE(live.done());  // the last waiter is still active
  c.notify();
  EXPECT_TRUE(live.done());
  EXPECT_TRUE(live.result());
  for (auto& f : timed) EXPECT_FALSE(f.result());
}

TEST_F(ConditionTest, SweepsKeepTheDequeBoundedUnderSteadyTimeouts) {
  // Many live waiters with timed-out ones interleaved: the deque never holds more than
  // about twice the live waiters, and notify() still reaches only the live ones.
  Condition c;
  std::vector<Future<bool>> live, timed;
  for (int i = 0; i < 400; ++i) {
    live.push_back(c.wait());
    timed.push_back(c.wait(5ms));
  }
  EXPECT_EQ(c.waiter_count(), 800u);
  pause(20ms);
  EXPECT_LE(c.waiter_count(), 400u + 100u);
  c.notify(400);
  loop_briefly();
  for (auto& f : live) EXPECT_TRUE(f.done() && f.result());
  for (auto& f : timed) EXPECT_FALSE(f.result());
  EXPECT_EQ(c.waiter_count(), 0u);
}

TEST_F(ConditionTest, ZeroTimeoutResolvesFalseAtOnce) {
  Condition c;
  Future<bool> w = c.wait(0s);
  ASSERT_TRUE(w.done());
  EXPECT_FALSE(w.result());
  EXPECT_EQ(c.waiter_count(), 0u);
  Future<bool> negative = c.wait(Duration(-1));
  ASSERT_TRUE(negative.done());
  EXPECT_FALSE(negative.result());
  // A later notify goes to a real waiter, not to the zero-timeout one.
  Future<bool> real = c.wait();
  c.notify();
  EXPECT_TRUE(real.done());
}

TEST_F(ConditionTest, FractionalTimeout) {
  Condition c;
  EXPECT_FALSE(run_sync([&]() -> Task<bool> { co_return co_await c.wait(Duration(0.005)); }));
}

// ---- Event ----------------------------------------------------------------------------

using EventTest = LocksTest;

TEST_F(EventTest, ReprShowsState) {
  Event e;
  EXPECT_EQ(e.repr(), "<Event clear>");
  e.set();
  EXPECT_EQ(e.repr(), "<Event set>");
}

TEST_F(EventTest, SetWakesWaitersAndClearBlocksNewOnes) {
  Event e;
  Future<void> f0 = e.wait();
  e.set();
  Future<void> f1 = e.wait();
  e.clear();
  Future<void> f2 = e.wait();
  EXPECT_TRUE(f0.done());
  EXPECT_TRUE(f1.done());
  EXPECT_FALSE(f2.done());
  EXPECT_EQ(e.waiter_count(), 1u);
}

TEST_F(EventTest, WaitTimeoutRaisesThenEventStillWorks) {
  Event e;
  EXPECT_THROW(run_sync([&]() -> Task<> { co_await e.wait(10ms); }), TimeoutError);
  io_loop().call_later(10ms, [&] { e.set(); });
  run_sync([&]() -> Task<> { co_await e.wait(1s); });
  EXPECT_TRUE(e.is_set());
  EXPECT_EQ(io_loop().pending_timeouts(), 0u);
}

TEST_F(EventTest, SetTwiceIsHarmless) {
  Event e;
  e.set();
  e.set();
  EXPECT_TRUE(e.is_set());
}

TEST_F(EventTest, WaitersFromBeforeClearAreWokenBySet) {
  Event e;
  Future<void> f0 = e.wait();
  e.clear();
  Future<void> f1 = e.wait();
  e.set();
  EXPECT_TRUE(f0.done());
  EXPECT_TRUE(f1.done());
}

TEST_F(EventTest, TimedOutWaiterIsNotResolvedBySet) {
  Event e;
  Future<void> timed = e.wait(5ms);
  Future<void> live = e.wait();
  pause(10ms);
  ASSERT_TRUE(timed.done());
  EXPECT_THROW(timed.result(), TimeoutError);
  e.set();
  EXPECT_TRUE(live.done());
  EXPECT_NO_THROW(live.result());
  EXPECT_EQ(e.waiter_count(), 0u);
}

TEST_F(EventTest, ZeroTimeoutReturnsOrRaisesAtOnce) {
  Event e;
  Future<void> f = e.wait(0s);
  ASSERT_TRUE(f.done());
  EXPECT_THROW(f.result(), TimeoutError);
  EXPECT_EQ(e.waiter_count(), 0u);
  e.set();
  Future<void> g = e.wait(0s);
  ASSERT_TRUE(g.done());
  EXPECT_NO_THROW(g.result());
}

// ---- Semaphore ------------------------------------------------------------------------

using SemaphoreTest = LocksTest;

TEST_F(SemaphoreTest, NegativeValueIsInvalidArgument) {
  EXPECT_THROW(Semaphore(-1), std::invalid_argument);
  EXPECT_THROW(BoundedSemaphore(-1), std::invalid_argument);
  EXPECT_NO_THROW(Semaphore(0));
}

TEST_F(SemaphoreTest, Repr) {
  Semaphore sem;
  EXPECT_EQ(sem.repr(), "<Semaphore [unlocked,value:1]>");
  EXPECT_TRUE(sem.try_acquire());
  EXPECT_EQ(sem.repr(), "<Semaphore [locked]>");
  auto pending = sem.acquire();
  EXPECT_EQ(sem.repr(), "<Semaphore [locked,waiters:1]>");
  sem.release();
  EXPECT_TRUE(pending.done());
}

TEST_F(SemaphoreTest, AcquireWaitsAndReleaseHandsOverInOrder) {
  Semaphore sem;
  auto f0 = sem.acquire();
  EXPECT_TRUE(f0.done());
  auto f1 = sem.acquire();
  EXPECT_FALSE(f1.done());
  auto f2 = sem.acquire();
  sem.release();
  EXPECT_TRUE(f1.done());
  EXPECT_FALSE(f2.done());
  sem.release();
  EXPECT_TRUE(f2.done());
  sem.release();
  EXPECT_TRUE(sem.acquire().done());  // now instant
  EXPECT_EQ(sem.waiter_count(), 0u);
}

TEST_F(SemaphoreTest, AcquireTimeoutRaisesAndNeverTakesTheUnitLater) {
  Semaphore sem(2);
  run_sync([&]() -> Task<> {
    (co_await sem.acquire()).detach();
    (co_await sem.acquire()).detach();
  });
  auto acquire = sem.acquire(10ms);
  io_loop().call_later(20ms, [&] { sem.release(); });  // too late
  pause(30ms);
  EXPECT_THROW(run_sync([&]() -> Task<> { auto g = co_await acquire; }), TimeoutError);
  EXPECT_EQ(sem.value(), 1);  // the late release was not swallowed by the timed-out waiter
  EXPECT_TRUE(sem.acquire().done());
  auto f = sem.acquire();
  EXPECT_FALSE(f.done());
  sem.release();
  EXPECT_TRUE(f.done());
}

TEST_F(SemaphoreTest, AcquireTimeoutPreemptedByRelease) {
  Semaphore sem(1);
  EXPECT_TRUE(sem.try_acquire());
  io_loop().call_later(10ms, [&] { sem.release(); });  // before the wait times out
  auto acquire = sem.acquire(20ms);
  pause(30ms);
  // No TimeoutError; the guard releases the unit again.
  run_sync([&]() -> Task<> { auto g = co_await acquire; });
  EXPECT_EQ(sem.value(), 1);
  EXPECT_EQ(io_loop().pending_timeouts(), 0u);
}

TEST_F(SemaphoreTest, UnboundedReleaseIncrementsValue) {
  Semaphore sem;
  sem.release();
  sem.release();
  EXPECT_EQ(sem.value(), 3);
  EXPECT_TRUE(sem.acquire().done());
  EXPECT_TRUE(sem.acquire().done());
  EXPECT_TRUE(sem.acquire().done());
  EXPECT_FALSE(sem.acquire().done());
}

TEST_F(SemaphoreTest, TimedOutWaitersAreCollected) {
  Semaphore sem(0);
  std::vector<locks::Acquire> timed;
  for (int i = 0; i < 101; ++i) timed.push_back(sem.acquire(10ms));
  auto live = sem.acquire();
  EXPECT_EQ(sem.waiter_count(), 102u);
  pause(20ms);
  EXPECT_EQ(sem.waiter_count(), 1u);
  EXPECT_FALSE(live.done());
  sem.release();
  EXPECT_TRUE(live.done());
  for (auto& a : timed) EXPECT_THROW(a.future().result(), TimeoutError);
}

TEST_F(SemaphoreTest, ZeroTimeoutAcquiresOrRaisesAtOnce) {
  Semaphore sem(1);
  auto got = sem.acquire(0s);
  EXPECT_TRUE(got.done());
  EXPECT_EQ(sem.value(), 0);
  auto refused = sem.acquire(0s);
  ASSERT_TRUE(refused.done());
  EXPECT_THROW(refused.future().result(), TimeoutError);
  EXPECT_EQ(sem.waiter_count(), 0u);
  sem.release();
  EXPECT_EQ(sem.value(), 1);  // nothing was queued to take it
}

TEST_F(SemaphoreTest, TryAcquireDoesNotWait) {
  Semaphore sem(1);
  EXPECT_TRUE(sem.try_acquire());
  EXPECT_FALSE(sem.try_acquire());
  sem.release();
  EXPECT_TRUE(sem.try_acquire());
}

// ---- guards (Tornado's SemaphoreContextManagerTest) ------------------------------------

using GuardTest = LocksTest;

TEST_F(GuardTest, GuardReleasesAtScopeExit) {
  Semaphore sem;
  run_sync([&]() -> Task<> {
    Guard guard = co_await sem.acquire();
    EXPECT_TRUE(guard.owns());
    EXPECT_EQ(sem.value(), 0);
  });
  EXPECT_EQ(sem.value(), 1);
  EXPECT_TRUE(sem.acquire().done());
}

TEST_F(GuardTest, GuardReleasesWhenTheBodyThrows) {
  Semaphore sem;
  EXPECT_THROW(run_sync([&]() -> Task<> {
                 auto guard = co_await sem.acquire();
                 throw std::domain_error("boom");
               }),
               std::domain_error);
  EXPECT_TRUE(sem.acquire().done());
}

TEST_F(GuardTest, GuardWithTimeoutThatIsNotReached) {
  Semaphore sem;
  run_sync([&]() -> Task<> { auto guard = co_await sem.acquire(10ms); });
  EXPECT_TRUE(sem.acquire().done());
}

TEST_F(GuardTest, GuardTimeoutLeavesTheCounterAlone) {
  Semaphore sem(0);
  EXPECT_THROW(run_sync([&]() -> Task<> { auto guard = co_await sem.acquire(10ms); }),
               TimeoutError);
  EXPECT_EQ(sem.value(), 0);
  EXPECT_FALSE(sem.acquire().done());
}

TEST_F(GuardTest, ContendedGuardsSerialize) {
  Semaphore sem;
  Strings history;
  auto f = [&](int i) -> Task<> {
    auto guard = co_await sem.acquire();
    history.push_back("acquired " + std::to_string(i));
    co_await sleep(10ms);
    history.push_back("release " + std::to_string(i));
  };
  run_sync([&]() -> Task<> {
    Future<void> first = spawn(f(0));
    Future<void> second = spawn(f(1));
    co_await when_all(first, second);
  });
  EXPECT_EQ(history, (Strings{"acquired 0", "release 0", "acquired 1", "release 1"}));
}

TEST_F(GuardTest, EarlyReleaseDetachAndMove) {
  Semaphore sem(2);
  run_sync([&]() -> Task<> {
    Guard a = co_await sem.acquire();
    a.release();
    EXPECT_FALSE(a.owns());
    EXPECT_EQ(sem.value(), 2);
    a.release();  // owns nothing: no-op
    EXPECT_EQ(sem.value(), 2);

    Guard b = co_await sem.acquire();
    Guard c = std::move(b);
    EXPECT_FALSE(b.owns());
    EXPECT_TRUE(c.owns());
    Guard d = co_await sem.acquire();
    EXPECT_EQ(sem.value(), 0);
    c = std::move(d);  // move-assignment releases what c held
    EXPECT_EQ(sem.value(), 1);

    (co_await sem.acquire()).detach();  // kept without a guard
    EXPECT_EQ(sem.value(), 0);
  });
  EXPECT_EQ(sem.value(), 1);  // c released; the detached unit is still out
  sem.release();
  EXPECT_EQ(sem.value(), 2);
}

TEST_F(GuardTest, DiscardedGuardReleasesAtOnce) {
  Semaphore sem;
  run_sync([&]() -> Task<> {
    auto discard = [](Guard) {};
    discard(co_await sem.acquire());
    EXPECT_EQ(sem.value(), 1);
  });
}

TEST_F(GuardTest, AwaitingOneAcquireTwiceIsAnError) {
  Semaphore sem(2);
  run_sync([&]() -> Task<> {
    auto acquire = sem.acquire();
    Guard first = co_await acquire;
    EXPECT_THROW({ Guard second = co_await acquire; }, std::logic_error);
  });
  EXPECT_EQ(sem.value(), 2);
}

TEST_F(GuardTest, GuardOverReleaseInDestructorIsLoggedNotThrown) {
  BoundedSemaphore sem;
  ExpectLog expect(app_log(), "released too many times");
  run_sync([&]() -> Task<> {
    auto guard = co_await sem.acquire();
    sem.release();  // released by hand as well: the guard's release must not terminate
  });
  EXPECT_EQ(sem.value(), 1);
}

// ---- BoundedSemaphore -----------------------------------------------------------------

using BoundedSemaphoreTest = LocksTest;

TEST_F(BoundedSemaphoreTest, ReleaseAboveInitialValueThrows) {
  BoundedSemaphore sem;
  EXPECT_EQ(sem.repr(), "<BoundedSemaphore [unlocked,value:1]>");
  try {
    sem.release();
    FAIL() << "no exception";
  } catch (const std::logic_error& e) {
    EXPECT_STREQ(e.what(), "Semaphore released too many times");
  }
  EXPECT_TRUE(sem.acquire().done());  // value 0
  auto blocked = sem.acquire();
  EXPECT_FALSE(blocked.done());
  sem.release();  // hands the unit to the waiter
  EXPECT_TRUE(blocked.done());
  sem.release();  // value 1
  EXPECT_THROW(sem.release(), std::logic_error);
}

// ---- Lock -----------------------------------------------------------------------------

using LockTest = LocksTest;

TEST_F(LockTest, Repr) {
  Lock lock;
  EXPECT_EQ(lock.repr(), "<Lock _block=<BoundedSemaphore [unlocked,value:1]>>");
  EXPECT_TRUE(lock.try_acquire());
  EXPECT_EQ(lock.repr(), "<Lock _block=<BoundedSemaphore [locked]>>");
}

TEST_F(LockTest, AcquireRelease) {
  Lock lock;
  EXPECT_TRUE(lock.acquire().done());
  EXPECT_TRUE(lock.locked());
  auto next = lock.acquire();
  EXPECT_FALSE(next.done());
  lock.release();
  EXPECT_TRUE(next.done());
  EXPECT_TRUE(lock.locked());  // handed over, never free in between
}

TEST_F(LockTest, AcquireIsFifo) {
  Lock lock;
  EXPECT_TRUE(lock.try_acquire());
  std::vector<int> history;
  auto f = [&](int i) -> Task<> {
    auto guard = co_await lock.acquire();
    history.push_back(i);
  };
  std::vector<Future<void>> futures;
  for (int i = 0; i < 5; ++i) futures.push_back(spawn(f(i)));
  for (auto& fut : futures) EXPECT_FALSE(fut.done());
  lock.release();
  run_sync([&]() -> Task<> {
    for (auto& fut : futures) co_await fut;
  });
  EXPECT_EQ(history, (std::vector<int>{0, 1, 2, 3, 4}));
  EXPECT_FALSE(lock.locked());
}

TEST_F(LockTest, ReleaserThatReacquiresQueuesBehindWaiters) {
  // Fairness: the holder cannot barge back in ahead of coroutines already waiting.
  Lock lock;
  std::vector<std::string> history;
  auto greedy = [&]() -> Task<> {
    for (int round = 0; round < 2; ++round) {
      auto guard = co_await lock.acquire();
      history.push_back("greedy");
      co_await sleep(1ms);
    }
  };
  auto polite = [&](int i) -> Task<> {
    auto guard = co_await lock.acquire();
    history.push_back("polite " + std::to_string(i));
  };
  run_sync([&]() -> Task<> {
    auto g = spawn(greedy());
    auto p0 = spawn(polite(0));
    auto p1 = spawn(polite(1));
    co_await when_all(g, p0, p1);
  });
  EXPECT_EQ(history, (Strings{"greedy", "polite 0", "polite 1", "greedy"}));
}

TEST_F(LockTest, AcquireTimeoutLeavesItLocked) {
  Lock lock;
  EXPECT_TRUE(lock.try_acquire());
  EXPECT_THROW(run_sync([&]() -> Task<> { auto g = co_await lock.acquire(10ms); }), TimeoutError);
  EXPECT_TRUE(lock.locked());
  EXPECT_FALSE(lock.acquire().done());
}

TEST_F(LockTest, ReleaseUnlockedLockThrows) {
  Lock lock;
  try {
    lock.release();
    FAIL() << "no exception";
  } catch (const std::logic_error& e) {
    EXPECT_STREQ(e.what(), "release unlocked lock");
  }
  EXPECT_TRUE(lock.try_acquire());
  lock.release();
  EXPECT_THROW(lock.release(), std::logic_error);
}

TEST_F(LockTest, ZeroTimeoutAcquiresOrRaisesAtOnce) {
  Lock lock;
  auto first = lock.acquire(0s);
  EXPECT_TRUE(first.done());
  auto second = lock.acquire(0s);
  ASSERT_TRUE(second.done());
  EXPECT_THROW(second.future().result(), TimeoutError);
  EXPECT_EQ(lock.waiter_count(), 0u);
}

TEST_F(LockTest, GuardUnlocksForTheNextWaiter) {
  Lock lock;
  int inside = 0, max_inside = 0;
  auto worker = [&]() -> Task<> {
    for (int i = 0; i < 20; ++i) {
      auto guard = co_await lock.acquire();
      max_inside = std::max(max_inside, ++inside);
      co_await moment();
      --inside;
    }
  };
  run_sync([&]() -> Task<> { co_await when_all(worker(), worker(), worker()); });
  EXPECT_EQ(max_inside, 1);
  EXPECT_FALSE(lock.locked());
}

}  // namespace

}  // namespace locks_test
