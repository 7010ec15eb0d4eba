// Behaviours of Tornado's concurrent_test.py (and the Future parts of gen_test.py) for
// Future<T>: results and failures, done-callbacks, retrieval and logging, and functions
// run on the executor (run_on_executor's role) handing results back to the loop.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "tornado/ioloop.h"
#include "tornado/locks.h"
#include "tornado/task.h"
#include "tornado/testing.h"

namespace concurrent_test {

using namespace tornado;
using tornado::testing::AsyncTest;
using tornado::testing::ExpectLog;

class ConcurrentTest : public AsyncTest {};

TEST_F(ConcurrentTest, CopiesShareOneResult) {
  Future<std::string> f;
  Future<std::string> copy = f;
  EXPECT_FALSE(copy.done());
  f.set_result("shared");
  EXPECT_TRUE(copy.done());
  EXPECT_EQ(copy.result(), "shared");
}

TEST_F(ConcurrentTest, ExceptionIsRethrownByResultAndAwait) {
  Future<int> f;
  f.set_exception(std::runtime_error("cap-error"));
  EXPECT_TRUE(f.done());
  EXPECT_THROW(f.result(), std::runtime_error);
  run_sync([&]() -> Task<> {
    try {
      co_await f;
      ADD_FAILURE() << "no exception";
    } catch (const std::runtime_error& e) {
      EXPECT_STREQ(e.what(), "cap-error");
    }
  });
}

TEST_F(ConcurrentTest, ExceptionAccessorReturnsTheFailureOrNull) {
  Future<void> ok;
  ok.set_result();
  EXPECT_EQ(ok.exception(), nullptr);
  Future<void> bad;
  EXPECT_THROW(bad.exception(), InvalidStateError);
  bad.set_exception(std::logic_error("x"));
  EXPECT_NE(bad.exception(), nullptr);  // retrieved: nothing logged on destruction
}

TEST_F(ConcurrentTest, UnretrievedExceptionIsLoggedWhenLastCopyGoes) {
  ExpectLog expect(app_log(), "never retrieved.*lost-failure");
  {
    Future<int> f;
    Future<int> copy = f;
    f.set_exception(std::runtime_error("lost-failure"));
  }
}

TEST_F(ConcurrentTest, DoneCallbacksRunInOrderOnTheNextIteration) {
  Future<int> f;
  std::vector<int> order;
  for (int i = 0; i < 3; ++i) {
    f.add_done_callback([&, i](const Future<int>& g) { order.push_back(i * 10 + g.result()); });
  }
  f.set_result(1);
  EXPECT_TRUE(order.empty()) << "set_result never runs callbacks inline";
  run_sync([]() -> Task<> { co_await moment(); });
  EXPECT_EQ(order, (std::vector<int>{1, 11, 21}));
}

TEST_F(ConcurrentTest, DoneCallbackAddedAfterCompletionStillRuns) {
  Future<int> f;
  f.set_result(4);
  int seen = 0;
  f.add_done_callback([&](const Future<int>& g) { seen = g.result(); });
  EXPECT_EQ(seen, 0);
  run_sync([]() -> Task<> { co_await moment(); });
  EXPECT_EQ(seen, 4);
}

TEST_F(ConcurrentTest, DoneCallbackSeesTheFailure) {
  Future<int> f;
  std::string what;
  f.add_done_callback([&](const Future<int>& g) {
    try {
      g.result();
    } catch (const std::exception& e) {
      what = e.what();
    }
  });
  f.set_exception(std::runtime_error("seen-by-callback"));
  run_sync([]() -> Task<> { co_await moment(); });
  EXPECT_EQ(what, "seen-by-callback");
}

TEST_F(ConcurrentTest, AwaitOfDoneFutureDoesNotSuspend) {
  Future<int> f;
  f.set_result(2);
  bool other_ran = false;
  run_sync([&]() -> Task<> {
    io_loop().add_callback([&] { other_ran = true; });
    int v = co_await f;
    EXPECT_EQ(v, 2);
    EXPECT_FALSE(other_ran) << "a done future must not yield to the loop";
    co_await moment();
  });
  EXPECT_TRUE(other_ran);
}

// ---- the CapClient of concurrent_test: a blocking call moved to the executor ----------

namespace {
// Upper-cases its input on a worker thread; "error" in the input is a CapError.
struct CapError : std::runtime_error {
  using std::runtime_error::runtime_error;
};
Future<std::string> capitalize(IOLoop& loop, std::string s) {
  return loop.run_in_executor([s = std::move(s)] {
    if (s.find("error") != std::string::npos) throw CapError("cap error: " + s);
    std::string out = s;
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    return out;
  });
}
}  // namespace

TEST_F(ConcurrentTest, ExecutorResultAsFuture) {
  auto fut = capitalize(io_loop(), "hello");
  io_loop().run_sync([&]() -> Task<> { co_await fut; }, 5s);
  EXPECT_EQ(fut.result(), "HELLO");
}

TEST_F(ConcurrentTest, ExecutorErrorAsFuture) {
  EXPECT_THROW(run_sync([&]() -> Task<> { co_await capitalize(io_loop(), "an error"); }), CapError);
}

TEST_F(ConcurrentTest, ExecutorCallsFromACoroutine) {
  auto out = run_sync([&]() -> Task<std::string> {
    std::string a = co_await capitalize(io_loop(), "ab");
    std::string b = co_await capitalize(io_loop(), "cd");
    co_return a + b;
  });
  EXPECT_EQ(out, "ABCD");
}

TEST_F(ConcurrentTest, ExecutorCallsConcurrentlyViaMulti) {
  auto [a, b] = run_sync([&]() -> Task<std::tuple<std::string, std::string>> {
    co_return co_await when_all(capitalize(io_loop(), "x"), capitalize(io_loop(), "y"));
  });
  EXPECT_EQ(a, "X");
  EXPECT_EQ(b, "Y");
}

TEST_F(ConcurrentTest, FutureSetFromAnotherThreadViaAddCallback) {
  // The documented way to hand a result across threads: add_callback onto the loop.
  Future<int> f;
  std::thread t(
      [&, loop = &io_loop()] { loop->add_callback([f]() mutable { f.set_result(77); }); });
  int v = run_sync([&]() -> Task<int> { co_return co_await f; });
  t.join();
  EXPECT_EQ(v, 77);
}

// ---- frames destroyed by IOLoop::close() leave the Futures they awaited -----------------

namespace {

// Sets *flag when destroyed: shows a frame's locals were destroyed.
struct SetOnDestroy {
  bool* flag;
  ~SetOnDestroy() { *flag = true; }
};

Task<> wait_for_event(locks::Event* event, bool* destroyed, bool* resumed) {
  SetOnDestroy guard{destroyed};
  co_await event->wait();
  *resumed = true;
}

Task<> wait_for_future(Future<int> f, bool* destroyed, bool* resumed) {
  SetOnDestroy guard{destroyed};
  co_await f;
  *resumed = true;
}

}  // namespace

TEST(FutureLifetimeTest, FrameDestroyedByLoopCloseIsNotResumedByAnEventOfTheNextLoop) {
  locks::Event event;  // outlives loop 1, then serves loop 2
  bool destroyed = false;
  bool resumed = false;
  {
    IOLoop loop1(/*make_current=*/true);
    spawn(wait_for_event(&event, &destroyed, &resumed));
    loop1.close();  // destroys the suspended frame
  }
  EXPECT_TRUE(destroyed);
  IOLoop loop2(/*make_current=*/true);
  event.set();  // must not resume the freed frame
  loop2.run_sync([]() -> Task<> {
    co_await moment();
    co_await moment();
  });
  EXPECT_FALSE(resumed);
}

TEST(FutureLifetimeTest, FrameDestroyedByLoopCloseLeavesItsFuture) {
  Future<int> f;  // outlives loop 1
  bool destroyed = false;
  bool resumed = false;
  {
    IOLoop loop1(/*make_current=*/true);
    spawn(wait_for_future(f, &destroyed, &resumed));
    loop1.close();
  }
  EXPECT_TRUE(destroyed);
  IOLoop loop2(/*make_current=*/true);
  bool callback_ran = false;
  f.add_done_callback([&](const Future<int>& g) { callback_ran = g.result() == 3; });
  f.set_result(3);
  loop2.run_sync([]() -> Task<> { co_await moment(); });
  EXPECT_FALSE(resumed);
  EXPECT_TRUE(callback_ran) << "other callbacks on the Future still run";
}

// ---- IOLoop::add_future (Tornado's ioloop_test add_future tests) -----------------------

TEST_F(ConcurrentTest, AddFutureThreads) {
  // test_add_future_threads: a Future completed by the executor.
  Future<void> seen;
  std::function<void(const Future<void>&)> callback = [seen](const Future<void>& f) mutable {
    EXPECT_TRUE(f.done());
    f.result();
    seen.set_result();
  };
  io_loop().add_future(io_loop().run_in_executor([] {}), callback);
  run_sync([seen]() -> Task<> { co_await seen; });
}

TEST_F(ConcurrentTest, AddFutureCallbackSeesTheFailure) {
  Future<int> f;
  std::string what;
  bool ran = false;
  io_loop().add_future(f, std::function<void(const Future<int>&)>([&](const Future<int>& g) {
                         ran = true;
                         try {
                           g.result();
                         } catch (const std::exception& e) {
                           what = e.what();
                         }
                       }));
  f.set_exception(std::runtime_error("add-future-failure"));
  run_sync([]() -> Task<> {
    co_await moment();
    co_await moment();
  });
  EXPECT_TRUE(ran);
  EXPECT_EQ(what, "add-future-failure");
}

TEST(AddFutureTest, CallbackRunsOnItsLoopNotTheOneThatCompletes) {
  Future<int> f;
  IOLoop target(/*make_current=*/false);
  bool ran_on_target = false;
  target.add_future(f, std::function<void(const Future<int>&)>([&](const Future<int>&) {
                      ran_on_target = IOLoop::current_or_null() == &target;
                      target.stop();
                    }));
  {
    IOLoop other(/*make_current=*/true);
    f.set_result(1);
    other.run_sync([]() -> Task<> { co_await moment(); });  // runs f's callbacks
  }
  target.make_current();
  target.start();  // stopped by the callback
  EXPECT_TRUE(ran_on_target);
}

}  // namespace concurrent_test
