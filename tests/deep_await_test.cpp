// A chain of a million nested coroutines (f(n) awaits f(n - 1) ... f(0)) runs in constant
// stack space. Built twice: at the build's optimisation level (deep_await_test) and at -O0
// (deep_await_O0_test, see tests/CMakeLists.txt), where GCC makes no tail calls; the
// sanitized build runs both under ASan.
#include <gtest/gtest.h>

#include "tornado/ioloop.h"
#include "tornado/task.h"
#include "tornado/testing.h"

using namespace tornado;

namespace {

class DeepAwaitTest : public tornado::testing::AsyncTest {};

constexpr long kLevels = 1'000'000;

// Synchronous all the way down: no level ever suspends.
Task<long> nested(long n) {
  if (n == 0) co_return 0;
  co_return 1 + co_await nested(n - 1);
}

// The deepest level suspends once (through the loop), so the whole chain completes upwards
// from a loop callback: the path of a real read at the bottom of a deep call chain.
Task<long> nested_suspending_at_bottom(long n) {
  if (n == 0) {
    co_await moment();
    co_return 0;
  }
  co_return 1 + co_await nested_suspending_at_bottom(n - 1);
}

// Every level throws through its awaiter.
Task<long> nested_throwing(long n) {
  if (n == 0) throw std::runtime_error("bottom");
  co_return 1 + co_await nested_throwing(n - 1);
}

TEST_F(DeepAwaitTest, MillionNestedSynchronousAwaits) {
  EXPECT_EQ(run_sync([] { return nested(kLevels); }), kLevels);
}

TEST_F(DeepAwaitTest, MillionNestedAwaitsCompletingFromTheLoop) {
  EXPECT_EQ(run_sync([] { return nested_suspending_at_bottom(kLevels); }), kLevels);
}

TEST_F(DeepAwaitTest, DeepNestedAwaitsPropagateAnException) {
  // 100,000 levels (a rethrow per level is slow under ASan), far below the inline depth.
  EXPECT_THROW(run_sync([] { return nested_throwing(100'000); }), std::runtime_error);
}

TEST_F(DeepAwaitTest, SpawnDeepInAChainStillRunsToItsFirstSuspension) {
  // spawn() promises the task has run until its first suspension when it returns, at any
  // depth of the caller's chain.
  struct Probe {
    static Task<> mark(bool* started) {
      *started = true;
      co_await moment();
    }
    static Task<long> chain(long n, bool* ok) {
      if (n == 0) {
        bool started = false;
        Future<void> f = spawn(mark(&started));
        *ok = started;
        co_await f;
        co_return 0;
      }
      co_return 1 + co_await chain(n - 1, ok);
    }
  };
  bool ok = false;
  EXPECT_EQ(run_sync([&] { return Probe::chain(10'000, &ok); }), 10'000);
  EXPECT_TRUE(ok);
}

}  // namespace
