// Behaviours of Tornado's gen_test / concurrent_test for Task, Future and the combinators.
#include <gtest/gtest.h>

#include <thread>

#include <cmath>
#include <memory>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include "tornado/ioloop.h"
#include "tornado/task.h"
#include "tornado/testing.h"

namespace gen_test {

using namespace tornado;
using tornado::testing::AsyncTest;
using tornado::testing::ExpectLog;

class GenTest : public AsyncTest {};

Task<int> immediate(int v) { co_return v; }
Task<int> after(Duration d, int v) {
  co_await sleep(d);
  co_return v;
}
// Sets `f` to `v` on a later loop iteration.
void io_loop_set_later(Future<int> f, int v) {
  IOLoop::current().call_later(1ms, [f, v]() mutable { f.set_result(v); });
}
Task<int> failing_after(Duration d, const char* msg) {
  co_await sleep(d);
  throw std::runtime_error(msg);
}

TEST_F(GenTest, TaskReturnsValue) {
  EXPECT_EQ(run_sync([]() -> Task<int> { co_return co_await immediate(3) + 4; }), 7);
}

TEST_F(GenTest, TaskIsLazy) {
  bool ran = false;
  auto make = [&]() -> Task<> {
    ran = true;
    co_return;
  };
  {
    Task<> t = make();
    EXPECT_FALSE(ran);
  }  // destroyed without running
  EXPECT_FALSE(ran);
}

TEST_F(GenTest, MillionSynchronousAwaitsDoNotGrowTheStack) {
  long total = run_sync([]() -> Task<long> {
    long sum = 0;
    for (int i = 0; i < 1'000'000; ++i) sum += co_await immediate(1);
    co_return sum;
  });
  EXPECT_EQ(total, 1'000'000);
}

TEST_F(GenTest, ExceptionPropagatesThroughAwait) {
  EXPECT_THROW(run_sync([]() -> Task<> { co_await failing_after(1ms, "boom"); }),
               std::runtime_error);
}

TEST_F(GenTest, FutureSetResultTwiceIsAnError) {
  Future<int> f;
  f.set_result(1);
  EXPECT_TRUE(f.done());
  EXPECT_EQ(f.result(), 1);
  EXPECT_THROW(f.set_result(2), InvalidStateError);
  EXPECT_THROW(f.set_exception(std::runtime_error("x")), InvalidStateError);
}

TEST_F(GenTest, FutureResultBeforeDoneIsAnError) {
  Future<int> f;
  EXPECT_THROW(f.result(), InvalidStateError);
}

TEST_F(GenTest, FutureManyAwaitersAndCallbacks) {
  Future<int> f;
  int sum = 0, callbacks = 0;
  auto waiter = [&]() -> Task<> { sum += co_await f; };
  auto a = spawn(waiter()), b = spawn(waiter()), c = spawn(waiter());
  f.add_done_callback([&](const Future<int>& g) { callbacks += g.result(); });
  io_loop().call_later(1ms, [&] { f.set_result(5); });
  run_sync([&]() -> Task<> { co_await when_all(a, b, c); });
  EXPECT_EQ(sum, 15);
  EXPECT_EQ(callbacks, 5);
}

TEST_F(GenTest, CallbacksRunOnNextIterationNotInline) {
  Future<void> f;
  bool called = false;
  f.add_done_callback([&](const Future<void>&) { called = true; });
  f.set_result();
  EXPECT_FALSE(called);
  run_sync([]() -> Task<> { co_await moment(); });
  EXPECT_TRUE(called);
}

TEST_F(GenTest, SpawnedFailureIsLogged) {
  ExpectLog expect(app_log(), "never retrieved.*spawned-boom");
  (void)spawn(failing_after(0ms, "spawned-boom"));
  run_sync([]() -> Task<> { co_await sleep(10ms); });
}

TEST_F(GenTest, RetrievedFailureIsNotLogged) {
  run_sync([]() -> Task<> {
    auto f = spawn(failing_after(0ms, "retrieved"));
    EXPECT_THROW(co_await f, std::runtime_error);
  });
}

TEST_F(GenTest, WithTimeoutRaises) {
  EXPECT_THROW(run_sync([]() -> Task<> { co_await with_timeout(10ms, after(50ms, 1)); }),
               TimeoutError);
}

TEST_F(GenTest, WithTimeoutPassesResultAndCancelsTimer) {
  int v = run_sync([]() -> Task<int> { co_return co_await with_timeout(1s, after(1ms, 9)); });
  EXPECT_EQ(v, 9);
  EXPECT_EQ(io_loop().pending_timeouts(), 0u);
}

TEST_F(GenTest, WithTimeoutCancelledTaskNeverFailsLater) {
  // The inner task is cancelled at the timeout: its later failure never happens (the
  // fixture fails the test on any error logged).
  EXPECT_THROW(
      run_sync([]() -> Task<> { co_await with_timeout(5ms, failing_after(20ms, "late-failure")); }),
      TimeoutError);
  run_sync([]() -> Task<> { co_await sleep(40ms); });
}

TEST_F(GenTest, WithTimeoutCountsFromItsStartWhenTheThreadIsHeldUpAfterTheWorkArmsATimer) {
  // The work arms a timer 20 ms out, then the thread is held up for 30 ms before the work
  // first suspends (as a preempted thread on a loaded machine is); the work fails when its
  // timer fires. The 5 ms timeout used to be armed after the hold, 35 ms from the start, and
  // the failure came first. Counted from the start of with_timeout, the timeout is due first;
  // and the timer cancels the work at once, before the work's own timer (due in the same
  // loop turn) resumes it.
  auto arms_then_holds = []() -> Task<> {
    Future<void> timer = sleep(20ms);  // armed now
    std::this_thread::sleep_for(30ms);
    co_await timer;
    throw std::runtime_error("late-failure");
  };
  EXPECT_THROW(run_sync([&]() -> Task<> { co_await with_timeout(5ms, arms_then_holds()); }),
               TimeoutError);
  run_sync([]() -> Task<> { co_await sleep(40ms); });
}

TEST_F(GenTest, RunSyncTimeoutCountsFromItsStartWhenTheTaskHoldsTheThreadAfterArmingATimer) {
  // As with with_timeout: the task arms a 20 ms timer and then holds the thread for 30 ms
  // before it first suspends; run_sync's 5 ms deadline, counted from its start, comes first.
  EXPECT_THROW(io_loop().run_sync(
                   []() -> Task<> {
                     Future<void> timer = sleep(20ms);
                     std::this_thread::sleep_for(30ms);
                     co_await timer;
                     throw std::runtime_error("late-failure");
                   },
                   Duration(0.005)),
               TimeoutError);
}

// hostile14: with_timeout is a lazy Task: its deadline is taken when it is first awaited,
// so one stored and awaited after a delay longer than its timeout still gives the work the
// whole timeout (and does not time out at once).
TEST_F(GenTest, WithTimeoutStoredAndAwaitedLaterCountsFromTheAwait) {
  const int out = run_sync([]() -> Task<int> {
    auto slow = []() -> Task<int> {
      co_await sleep(30ms);
      co_return 7;
    };
    Task<int> t = with_timeout(Duration(0.2), slow());
    co_await sleep(300ms);  // longer than the timeout
    co_return co_await std::move(t);
  });
  EXPECT_EQ(out, 7);
}

// Zero and negative timeouts: a Future already done still wins; one still pending (or a
// Task that has to suspend) times out on the next loop turn, without waiting for the work.
TEST_F(GenTest, WithTimeoutZeroOrNegativeTimesOutPendingWorkAndReturnsDoneFutures) {
  for (double timeout : {0.0, -1.0, -1e9}) {
    const int done = run_sync([timeout]() -> Task<int> {
      Future<int> ready;
      ready.set_result(3);
      co_return co_await with_timeout(Duration(timeout), ready);
    });
    EXPECT_EQ(done, 3) << timeout;
    const double start = io_loop().time();
    EXPECT_THROW(run_sync([timeout]() -> Task<> {
                   Future<int> never;
                   (void)co_await with_timeout(Duration(timeout), never);
                 }),
                 TimeoutError)
        << timeout;
    EXPECT_THROW(run_sync([timeout]() -> Task<> { co_await with_timeout(Duration(timeout), sleep(10s)); }),
                 TimeoutError)
        << timeout;
    EXPECT_LT(io_loop().time() - start, 5.0) << timeout;
  }
}

// A Future argument is not cancelled by the timeout (its producer may still set it) and
// can be awaited again afterwards.
TEST_F(GenTest, WithTimeoutOnAFutureLeavesItUncancelledForItsProducer) {
  run_sync([]() -> Task<> {
    Future<int> pending;
    EXPECT_THROW((void)co_await with_timeout(10ms, pending), TimeoutError);
    EXPECT_FALSE(pending.cancelled());
    IOLoop::current().call_later(10ms, [pending]() mutable { pending.set_result(5); });
    EXPECT_EQ(co_await with_timeout(Duration(2.0), pending), 5);
  });
}

// A Task that swallows its cancellation and finishes with a result anyway: with_timeout
// waits for it to unwind and returns that result (documented), instead of TimeoutError.
TEST_F(GenTest, WithTimeoutTaskSwallowingCancellationReturnsItsLateResult) {
  const int out = run_sync([]() -> Task<int> {
    auto stubborn = []() -> Task<int> {
      try {
        co_await sleep(10s);
      } catch (const CancelledError&) {
      }
      co_await sleep(20ms);  // goes on after the cancellation
      co_return 9;
    };
    co_return co_await with_timeout(10ms, stubborn());
  });
  EXPECT_EQ(out, 9);
}

// A NaN timeout cannot be a deadline (call_at refuses it): with_timeout and run_sync say so
// before they start the work, which used to be started first and then left running on its
// own (with_timeout) or suspended for good in a loop nobody runs (run_sync).
TEST_F(GenTest, WithTimeoutAndRunSyncRefuseANanTimeoutBeforeStartingTheWork) {
  auto started = std::make_shared<int>(0);
  auto work = [started]() -> Task<int> {
    ++*started;
    co_await sleep(20ms);
    co_return 1;
  };
  run_sync([&]() -> Task<> {
    EXPECT_THROW((void)co_await with_timeout(Duration(std::nan("")), work()), std::invalid_argument);
    Future<int> pending;
    EXPECT_THROW((void)co_await with_timeout(Duration(std::nan("")), pending), std::invalid_argument);
    co_await sleep(40ms);
  });
  EXPECT_EQ(*started, 0);
  EXPECT_THROW(io_loop().run_sync(work, Duration(std::nan(""))), std::invalid_argument);
  EXPECT_EQ(*started, 0);
}

// run_sync with a zero or negative timeout: a task that finishes without suspending still
// returns its result; one that suspends times out at once.
TEST_F(GenTest, RunSyncZeroOrNegativeTimeoutTimesOutOnlyWorkThatSuspends) {
  for (double timeout : {0.0, -5.0}) {
    EXPECT_EQ(io_loop().run_sync([]() -> Task<int> { co_return 4; }, Duration(timeout)), 4);
    EXPECT_THROW(io_loop().run_sync([]() -> Task<> { co_await sleep(10s); }, Duration(timeout)),
                 TimeoutError);
  }
}

TEST_F(GenTest, WhenAllVectorKeepsOrder) {
  auto out = run_sync([]() -> Task<std::vector<int>> {
    std::vector<Task<int>> ts;
    ts.push_back(after(20ms, 1));
    ts.push_back(after(1ms, 2));
    ts.push_back(immediate(3));
    co_return co_await when_all(std::move(ts));
  });
  EXPECT_EQ(out, (std::vector<int>{1, 2, 3}));
}

TEST_F(GenTest, WhenAllTupleMixesTypes) {
  auto [a, b, c] = run_sync([]() -> Task<std::tuple<int, std::monostate, int>> {
    Future<void> ready = sleep(1ms);
    co_return co_await when_all(after(2ms, 1), ready, immediate(3));
  });
  EXPECT_EQ(a, 1);
  EXPECT_EQ(c, 3);
}

TEST_F(GenTest, WhenAllFirstErrorInTimeWinsOthersLogged) {
  ExpectLog expect(app_log(), "second");  // logged, never lost
  try {
    run_sync([]() -> Task<> {
      std::vector<Task<int>> ts;
      ts.push_back(failing_after(20ms, "second"));
      ts.push_back(failing_after(1ms, "first"));
      co_await when_all(std::move(ts));
    });
    FAIL() << "no exception";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "first");
  }
  run_sync([]() -> Task<> { co_await sleep(30ms); });
}

TEST_F(GenTest, WhenAnyReturnsFirst) {
  auto [index, value] = run_sync([]() -> Task<std::pair<std::size_t, int>> {
    std::vector<Task<int>> ts;
    ts.push_back(after(50ms, 1));
    ts.push_back(after(1ms, 2));
    co_return co_await when_any(std::move(ts));
  });
  EXPECT_EQ(index, 1u);
  EXPECT_EQ(value, 2);
  run_sync([]() -> Task<> { co_await sleep(60ms); });
}

TEST_F(GenTest, SleepWaitsAtLeastTheDelay) {
  double start = io_loop().time();
  run_sync([]() -> Task<> { co_await sleep(30ms); });
  EXPECT_GE(io_loop().time() - start, 0.029);
}

TEST_F(GenTest, RunSyncTimeout) {
  EXPECT_THROW(run_sync([]() -> Task<> { co_await sleep(50ms); }, 20ms), TimeoutError);
  run_sync([]() -> Task<> { co_await sleep(60ms); });  // let the abandoned task finish
}

// ---- more of gen_test.py ------------------------------------------------------------

Task<int> maybe_suspends(int i) {
  if (i % 1000 == 0) co_await moment();  // mostly synchronous, sometimes through the loop
  co_return 1;
}
Task<int> two_levels() { co_return co_await immediate(1) + co_await immediate(1); }

TEST_F(GenTest, MillionSequentialTwoLevelAwaits) {
  long total = run_sync([]() -> Task<long> {
    long sum = 0;
    for (int i = 0; i < 1'000'000; ++i) sum += co_await two_levels();
    co_return sum;
  });
  EXPECT_EQ(total, 2'000'000);
}

TEST_F(GenTest, MillionAwaitsMixingSynchronousAndSuspendingTasks) {
  // After a task resumes its awaiter from the loop, the following synchronous awaits
  // must still be flat (this is the path where the awaiter was detached once).
  long total = run_sync([]() -> Task<long> {
    long sum = 0;
    for (int i = 0; i < 1'000'000; ++i) sum += co_await maybe_suspends(i);
    co_return sum;
  });
  EXPECT_EQ(total, 1'000'000);
}

TEST_F(GenTest, ExceptionBeforeFirstSuspension) {
  // gen_test's test_exception_phase1: raised synchronously, still delivered by await.
  auto fails_now = []() -> Task<int> {
    throw std::invalid_argument("phase1");
    co_return 0;
  };
  try {
    run_sync([&]() -> Task<> { co_await fails_now(); });
    FAIL() << "no exception";
  } catch (const std::invalid_argument& e) {
    EXPECT_STREQ(e.what(), "phase1");
  }
}

TEST_F(GenTest, ExceptionAfterSuspensionCanBeCaughtByTheAwaiter) {
  // test_exception_phase2, plus: the awaiter catches it and goes on.
  int v = run_sync([]() -> Task<int> {
    try {
      co_await failing_after(1ms, "phase2");
    } catch (const std::runtime_error& e) {
      EXPECT_STREQ(e.what(), "phase2");
      co_return 1;
    }
    co_return 0;
  });
  EXPECT_EQ(v, 1);
}

TEST_F(GenTest, SpawnRunsUntilFirstSuspensionBeforeReturning) {
  std::vector<std::string> steps;
  run_sync([&]() -> Task<> {
    auto body = [&]() -> Task<> {
      steps.push_back("started");
      co_await moment();
      steps.push_back("resumed");
    };
    auto f = spawn(body());
    steps.push_back("spawn returned");
    co_await f;
  });
  EXPECT_EQ(steps, (std::vector<std::string>{"started", "spawn returned", "resumed"}));
}

TEST_F(GenTest, TaskCarriesMoveOnlyResult) {
  int v = run_sync([]() -> Task<int> {
    auto make = []() -> Task<std::unique_ptr<int>> { co_return std::make_unique<int>(8); };
    std::unique_ptr<int> p = co_await make();
    co_return *p;
  });
  EXPECT_EQ(v, 8);
}

namespace {
// gen_test's test_moment helper: appends `name` five times, yielding after each.
Task<> take_turns(std::string& calls, char name, bool use_moment) {
  Future<void> immediate;
  immediate.set_result();
  for (int i = 0; i < 5; ++i) {
    calls.push_back(name);
    if (use_moment) {
      co_await moment();
    } else {
      co_await immediate;  // already done: no suspension
    }
  }
}
}  // namespace

TEST_F(GenTest, MomentLetsCoroutinesTakeTurns) {
  std::string calls;
  run_sync([&]() -> Task<> {
    co_await when_all(take_turns(calls, 'a', false), take_turns(calls, 'b', false));
  });
  EXPECT_EQ(calls, "aaaaabbbbb");  // without moment each runs to completion
  calls.clear();
  run_sync([&]() -> Task<> {
    co_await when_all(take_turns(calls, 'a', true), take_turns(calls, 'b', true));
  });
  EXPECT_EQ(calls, "ababababab");
  calls.clear();
  run_sync([&]() -> Task<> {
    co_await when_all(take_turns(calls, 'a', true), take_turns(calls, 'b', false));
  });
  EXPECT_EQ(calls, "abbbbbaaaa");
}

TEST_F(GenTest, MultiOfMoments) {
  // test_multi_moment.
  int resumed = 0;
  run_sync([&]() -> Task<> {
    auto m = [&]() -> Task<> {
      co_await moment();
      ++resumed;
    };
    auto [a, b] = co_await when_all(m(), m());
    EXPECT_EQ(a, std::monostate{});
    EXPECT_EQ(b, std::monostate{});
  });
  EXPECT_EQ(resumed, 2);
}

TEST_F(GenTest, MultiEmptyVector) {
  auto out = run_sync(
      []() -> Task<std::vector<int>> { co_return co_await when_all(std::vector<Task<int>>{}); });
  EXPECT_TRUE(out.empty());
  run_sync([]() -> Task<> { co_await when_all(std::vector<Task<>>{}); });
}

TEST_F(GenTest, MultiDelayedResultsKeepOrderOfArguments) {
  auto [s, n, unit, d] =
      run_sync([]() -> Task<std::tuple<std::string, int, std::monostate, double>> {
        auto str = []() -> Task<std::string> {
          co_await sleep(3ms);
          co_return "s";
        };
        Future<int> fut;
        IOLoop::current().call_later(1ms, [fut]() mutable { fut.set_result(2); });
        auto nothing = []() -> Task<> { co_await moment(); };
        auto dbl = []() -> Task<double> { co_return 0.5; };
        co_return co_await multi(str(), fut, nothing(), dbl());
      });
  EXPECT_EQ(s, "s");
  EXPECT_EQ(n, 2);
  EXPECT_EQ(d, 0.5);
}

TEST_F(GenTest, MultiSameFutureTwice) {
  // test_multi_future_duplicate.
  auto [a, b] = run_sync([]() -> Task<std::tuple<int, int>> {
    Future<int> f;
    IOLoop::current().call_later(1ms, [f]() mutable { f.set_result(3); });
    co_return co_await when_all(f, f);
  });
  EXPECT_EQ(a, 3);
  EXPECT_EQ(b, 3);
}

TEST_F(GenTest, MultiExceptionsFirstRaisedOthersLogged) {
  // test_multi_exceptions: two failures -> the first raised, "Multiple exceptions" logged.
  {
    // Logged as "Multiple exceptions in yield list" if the second future is still alive
    // when when_all sees it fail, else as "never retrieved" when it goes: never lost.
    ExpectLog expect(app_log(), "(Multiple exceptions in yield list|never retrieved).*error 2");
    try {
      run_sync([]() -> Task<> {
        std::vector<Task<int>> ts;
        ts.push_back(failing_after(1ms, "error 1"));
        ts.push_back(failing_after(2ms, "error 2"));
        co_await when_all(std::move(ts));
      });
      FAIL() << "no exception";
    } catch (const std::runtime_error& e) {
      EXPECT_STREQ(e.what(), "error 1");
    }
    run_sync([]() -> Task<> { co_await sleep(10ms); });
  }
  // With a single failure nothing is logged (AsyncTest fails on an unexpected error).
  EXPECT_THROW(run_sync([]() -> Task<> {
                 std::vector<Task<int>> ts;
                 ts.push_back(failing_after(1ms, "error 1"));
                 ts.push_back(after(2ms, 2));
                 co_await when_all(std::move(ts));
               }),
               std::runtime_error);
  run_sync([]() -> Task<> { co_await sleep(10ms); });
}

TEST_F(GenTest, WithTimeoutCancelsItsInnerTask) {
  bool inner_finished = false;
  auto inner = [&]() -> Task<int> {
    co_await sleep(20ms);
    inner_finished = true;
    co_return 1;
  };
  EXPECT_THROW(run_sync([&]() -> Task<> { co_await with_timeout(5ms, inner()); }), TimeoutError);
  EXPECT_FALSE(inner_finished);
  run_sync([]() -> Task<> { co_await sleep(40ms); });
  EXPECT_FALSE(inner_finished) << "with_timeout cancels the Task it was given";
}

TEST_F(GenTest, WithTimeoutInnerFailureBeforeTimeoutPropagates) {
  // test_fails_before_timeout: the inner error, not TimeoutError.
  EXPECT_THROW(run_sync([]() -> Task<> { co_await with_timeout(1s, failing_after(1ms, "inner")); }),
               std::runtime_error);
  EXPECT_EQ(io_loop().pending_timeouts(), 0u) << "the timeout timer is cancelled";
}

TEST_F(GenTest, WithTimeoutAlreadyResolvedFuture) {
  // test_already_resolved: a done future wins even with a zero timeout.
  int v = run_sync([]() -> Task<int> {
    Future<int> f;
    f.set_result(24);
    co_return co_await with_timeout(0s, f);
  });
  EXPECT_EQ(v, 24);
}

TEST_F(GenTest, WithTimeoutOnFutureSetLaterIsNotLogged) {
  Future<int> f;
  EXPECT_THROW(run_sync([&]() -> Task<> { co_await with_timeout(5ms, f); }), TimeoutError);
  f.set_result(1);  // late result: nobody waits, nothing to log
  run_sync([]() -> Task<> { co_await moment(); });
}

TEST_F(GenTest, WhenAnyFirstFailureIsRaised) {
  EXPECT_THROW(run_sync([]() -> Task<> {
                 std::vector<Task<int>> ts;
                 ts.push_back(after(30ms, 1));
                 ts.push_back(failing_after(1ms, "first-fails"));
                 co_await when_any(std::move(ts));
               }),
               std::runtime_error);
  run_sync([]() -> Task<> { co_await sleep(40ms); });
}

TEST_F(GenTest, WhenAnyOfNothingIsAnError) {
  EXPECT_THROW(run_sync([]() -> Task<> { co_await when_any(std::vector<Task<int>>{}); }),
               std::invalid_argument);
}

TEST_F(GenTest, AwaitingAnEmptyTaskIsAnError) {
  EXPECT_THROW(run_sync([]() -> Task<> {
                 Task<int> empty;
                 co_await std::move(empty);
               }),
               InvalidStateError);
}

// ---- every coroutine owns its arguments (stored before it is awaited) -------------------

TEST_F(GenTest, WithTimeoutStoredBeforeAwaitOwnsItsTask) {
  int v = run_sync([]() -> Task<int> {
    auto t = with_timeout(1s, after(1ms, 5));  // the after() temporary is gone by now
    co_return co_await std::move(t);
  });
  EXPECT_EQ(v, 5);
}

TEST_F(GenTest, WithTimeoutStoredFutureArgument) {
  int v = run_sync([]() -> Task<int> {
    Task<int> t;
    {
      Future<int> f;  // the caller's Future goes out of scope before the await
      io_loop_set_later(f, 7);
      t = with_timeout(1s, f);
    }
    co_return co_await std::move(t);
  });
  EXPECT_EQ(v, 7);
}

TEST_F(GenTest, WhenAllOfStoredWithTimeouts) {
  std::vector<int> v = run_sync([]() -> Task<std::vector<int>> {
    std::vector<Task<int>> tasks;
    for (int i = 0; i < 4; ++i) tasks.push_back(with_timeout(1s, after(Duration(0.001 * i), i)));
    co_return co_await when_all(std::move(tasks));
  });
  EXPECT_EQ(v, (std::vector<int>{0, 1, 2, 3}));
}

TEST_F(GenTest, WhenAllTupleStoredBeforeAwait) {
  auto [a, b] = run_sync([]() -> Task<std::tuple<int, int>> {
    auto t = when_all(after(2ms, 1), after(1ms, 2));
    co_return co_await std::move(t);
  });
  EXPECT_EQ(a, 1);
  EXPECT_EQ(b, 2);
}

TEST_F(GenTest, MultiStoredBeforeAwait) {
  auto [a, b] = run_sync([]() -> Task<std::tuple<int, int>> {
    auto t = multi(immediate(3), after(1ms, 4));
    co_return co_await std::move(t);
  });
  EXPECT_EQ(a, 3);
  EXPECT_EQ(b, 4);
}

// ---- WaitIterator (Tornado's WaitIteratorTest) -----------------------------------------

TEST_F(GenTest, WaitIteratorEmpty) {
  WaitIterator<int> g(std::vector<Future<int>>{});
  EXPECT_TRUE(g.done());
  EXPECT_FALSE(g.current_index().has_value());
  EXPECT_FALSE(g.current_future().has_value());
  EXPECT_THROW(g.next(), InvalidStateError);
}

TEST_F(GenTest, WaitIteratorAlreadyDoneKeepsTheirOrder) {
  std::vector<Future<int>> fs(3);
  fs[0].set_result(24);
  fs[1].set_result(42);
  fs[2].set_result(84);
  run_sync([&]() -> Task<> {
    WaitIterator<int> g(fs);
    std::vector<int> results;
    std::vector<std::size_t> indexes;
    while (!g.done()) {
      results.push_back(co_await g.next());
      indexes.push_back(*g.current_index());
      EXPECT_EQ(g.current_future()->result(), results.back());
    }
    EXPECT_EQ(results, (std::vector<int>{24, 42, 84}));
    EXPECT_EQ(indexes, (std::vector<std::size_t>{0, 1, 2}));
    EXPECT_FALSE(g.current_index().has_value()) << "cleared once done";
  });
}

// finish_coroutines of Tornado's test: results arrive over several loop iterations.
void finish_over_iterations(int iteration, std::vector<Future<int>> fs) {
  if (iteration == 3) fs[2].set_result(24);
  if (iteration == 5) fs[0].set_exception(std::domain_error("zero division"));
  if (iteration == 8) {
    fs[1].set_result(42);
    fs[3].set_result(84);
  }
  if (iteration < 8) {
    IOLoop::current().add_callback([iteration, fs] { finish_over_iterations(iteration + 1, fs); });
  }
}

TEST_F(GenTest, WaitIteratorYieldsInCompletionOrder) {
  std::vector<Future<int>> fs(4);
  finish_over_iterations(0, fs);
  run_sync([&]() -> Task<> {
    WaitIterator<int> g(fs);
    int i = 0;
    bool saw_error = false;
    while (!g.done()) {
      try {
        int r = co_await g.next();
        if (i == 0) {
          EXPECT_EQ(r, 24);
          EXPECT_EQ(*g.current_index(), 2u);
        } else if (i == 2) {
          EXPECT_EQ(r, 42);
          EXPECT_EQ(*g.current_index(), 1u);
        } else if (i == 3) {
          EXPECT_EQ(r, 84);
          EXPECT_EQ(*g.current_index(), 3u);
        }
      } catch (const std::domain_error&) {
        EXPECT_EQ(i, 1);
        EXPECT_EQ(*g.current_index(), 0u);
        saw_error = true;
      }
      ++i;
    }
    EXPECT_EQ(i, 4);
    EXPECT_TRUE(saw_error);
  });
}

TEST_F(GenTest, WaitIteratorOfTasks) {
  run_sync([]() -> Task<> {
    std::vector<Task<int>> ts;
    ts.push_back(after(20ms, 1));
    ts.push_back(after(1ms, 2));
    ts.push_back(immediate(3));
    WaitIterator<int> g(std::move(ts));
    std::vector<int> order;
    while (!g.done()) order.push_back(co_await g.next());
    EXPECT_EQ(order, (std::vector<int>{3, 2, 1}));
  });
}

TEST_F(GenTest, WaitIteratorNextWithoutAReferenceToTheIterator) {
  // Tornado's test_no_ref: only the Future of next() is kept.
  run_sync([]() -> Task<> {
    std::vector<Future<void>> fs{sleep(0s)};
    Future<void> next = WaitIterator<void>(fs).next();
    co_await with_timeout(100ms, next);
  });
}

TEST_F(GenTest, WaitIteratorSecondNextWhilePendingIsAnError) {
  std::vector<Future<int>> fs(2);
  WaitIterator<int> g(fs);
  Future<int> first = g.next();
  EXPECT_THROW(g.next(), InvalidStateError);
  fs[1].set_result(5);
  EXPECT_EQ(run_sync([first]() -> Task<int> { co_return co_await first; }), 5);
  fs[0].set_result(6);
}

}  // namespace gen_test
