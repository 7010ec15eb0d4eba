// Behaviours of Tornado's gen_test / concurrent_test for Task, Future and the combinators.
#include <gtest/gtest.h>

#include <stdexcept>

#include "tornado/ioloop.h"
#include "tornado/task.h"
#include "tornado/testing.h"

using namespace tornado;
using tornado::testing::AsyncTest;
using tornado::testing::ExpectLog;

class GenTest : public AsyncTest {};

Task<int> immediate(int v) { co_return v; }
Task<int> after(Duration d, int v) {
  co_await sleep(d);
  co_return v;
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
  EXPECT_THROW(run_sync([]() -> Task<> { co_await with_timeout(10ms, after(1s, 1)); }),
               TimeoutError);
}

TEST_F(GenTest, WithTimeoutPassesResultAndCancelsTimer) {
  int v = run_sync([]() -> Task<int> { co_return co_await with_timeout(1s, after(1ms, 9)); });
  EXPECT_EQ(v, 9);
  EXPECT_EQ(io_loop().pending_timeouts(), 0u);
}

TEST_F(GenTest, WithTimeoutAbandonedTaskFailureIsLogged) {
  ExpectLog expect(app_log(), "late-failure");
  EXPECT_THROW(run_sync([]() -> Task<> {
                 co_await with_timeout(5ms, failing_after(20ms, "late-failure"));
               }),
               TimeoutError);
  run_sync([]() -> Task<> { co_await sleep(40ms); });
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
  EXPECT_THROW(run_sync([]() -> Task<> { co_await sleep(10s); }, 20ms), TimeoutError);
}
