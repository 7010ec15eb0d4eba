// IOLoop across threads: add_callback from any thread while the loop is constructed, started,
// stopped and closed on others. Written to be run under ThreadSanitizer too
// (scripts/test --tsan): a data race on the callback queue is a report there, and a crash or
// a lost callback here.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <stdexcept>
#include <thread>
#include <vector>

#include "tornado/ioloop.h"
#include "tornado/task.h"

namespace ioloop_threads_test {

using namespace tornado;

namespace {

// A loop made (and destroyed) on the test's thread, run on another that starts while this
// thread is still adding callbacks: once the other thread runs the loop, this thread's
// callbacks must take the locked path. Before the fix they were pushed unlocked into the
// queue the runner was swapping out, and a push that was reallocating the queue when the
// runner started corrupted it (a crash in about half the runs); TSan reports it every time.
TEST(IOLoopThreadsTest, ConstructedHereRunThereLosesNoCallback) {
  constexpr int kIterations = 5;  // the old code crashed in the first one, every run
  constexpr int kCallbacks = 200'000;
  for (int iter = 0; iter < kIterations; ++iter) {
    IOLoop loop;  // constructed on this thread
    std::atomic<int> ran{0};
    std::atomic<bool> go{false};
    std::thread runner([&] {
      while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
      loop.start();
    });
    for (int i = 0; i < kCallbacks; ++i) {
      if (i == kCallbacks / 10) go.store(true, std::memory_order_release);
      loop.add_callback([&ran] { ran.fetch_add(1, std::memory_order_relaxed); });
    }
    // Per producing thread FIFO: this runs after all of the above.
    loop.add_callback([&loop] { loop.stop(); });
    runner.join();
    ASSERT_EQ(ran.load(), kCallbacks) << "iteration " << iter;
  }
}

// The same loop run in turn on this thread and on a helper thread: the fast path follows the
// thread that runs the loop now.
TEST(IOLoopThreadsTest, RunningThreadChangesBetweenRuns) {
  IOLoop loop;
  for (int round = 0; round < 20; ++round) {
    int ran = 0;
    auto body = [&] {
      loop.add_callback([&] {
        ++ran;
        loop.add_callback([&] {  // added on the running thread: the unlocked path
          ++ran;
          loop.stop();
        });
      });
      loop.start();
    };
    if (round % 2 == 0) {
      body();
    } else {
      std::thread(body).join();
    }
    ASSERT_EQ(ran, 2) << "round " << round;
  }
}

// Producers hammer add_callback (and stop) while the loop is started and stopped on two
// threads in turn and finally closed. Nothing may crash or race; every callback queued
// before close either ran or was dropped (and destroyed) by close.
TEST(IOLoopThreadsTest, ManyThreadsAddCallbacksDuringStartStopAndClose) {
  constexpr int kProducers = 4;
  constexpr int kRounds = 10;
  auto loop = std::make_unique<IOLoop>();
  std::atomic<bool> done{false};
  std::atomic<long> queued{0}, ran{0};
  std::vector<std::thread> producers;
  for (int p = 0; p < kProducers; ++p) {
    producers.emplace_back([&, p] {
      long n = 0;
      while (!done.load(std::memory_order_acquire)) {
        loop->add_callback([&ran] { ran.fetch_add(1, std::memory_order_relaxed); });
        queued.fetch_add(1, std::memory_order_relaxed);
        if (p == 0 && n % 1000 == 0) loop->stop();  // a stop from another thread
        // A pause now and then keeps the queue (and the run time under sanitizers) bounded.
        if (++n % 256 == 0) std::this_thread::sleep_for(std::chrono::microseconds(50));
      }
    });
  }
  for (int round = 0; round < kRounds; ++round) {
    auto run_briefly = [&] {
      loop->call_later(Duration(0.002), [&] { loop->stop(); });
      loop->start();
    };
    if (round % 2 == 0) {
      run_briefly();
    } else {
      std::thread(run_briefly).join();
    }
  }
  loop->close();  // while the producers are still adding: those are dropped
  const long ran_before_close = ran.load();
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  done.store(true, std::memory_order_release);
  for (auto& t : producers) t.join();
  EXPECT_GT(ran_before_close, 0);
  EXPECT_EQ(ran.load(), ran_before_close) << "a callback ran after close";
  EXPECT_LE(ran.load(), queued.load());
  loop.reset();
}

// stop() from another thread while the loop waits in epoll with nothing to do.
TEST(IOLoopThreadsTest, StopFromAnotherThreadWakesAnIdleLoop) {
  IOLoop loop;
  std::atomic<bool> started{false};
  loop.add_callback([&] { started = true; });
  std::thread stopper([&] {
    while (!started.load()) std::this_thread::yield();
    loop.stop();
  });
  loop.start();
  stopper.join();
  SUCCEED();
}

// ---- executors -------------------------------------------------------------------------

// An executor that runs each job on a thread of its own, counting the jobs it was given.
struct CountingExecutor {
  std::atomic<int> jobs{0};
  std::vector<std::thread> threads;
  IOLoop::Executor executor() {
    return [this](std::function<void()> job) {
      jobs.fetch_add(1);
      threads.emplace_back(std::move(job));
    };
  }
  ~CountingExecutor() {
    for (auto& t : threads) t.join();
  }
};

TEST(IOLoopExecutorTest, SetDefaultExecutorIsWhereRunInExecutorRuns) {
  CountingExecutor mine;
  IOLoop loop(true);
  loop.set_default_executor(mine.executor());
  int v = loop.run_sync(
      [&]() -> Task<int> { co_return co_await loop.run_in_executor([] { return 42; }); });
  EXPECT_EQ(v, 42);
  EXPECT_EQ(mine.jobs.load(), 1);
  // An empty executor restores the built-in pool.
  loop.set_default_executor(nullptr);
  v = loop.run_sync(
      [&]() -> Task<int> { co_return co_await loop.run_in_executor([] { return 7; }); });
  EXPECT_EQ(v, 7);
  EXPECT_EQ(mine.jobs.load(), 1);
}

TEST(IOLoopExecutorTest, ExplicitExecutorWinsOverTheDefault) {
  CountingExecutor fallback, chosen;
  IOLoop loop(true);
  loop.set_default_executor(fallback.executor());
  auto id = loop.run_sync([&]() -> Task<std::thread::id> {
    co_return co_await loop.run_in_executor(chosen.executor(),
                                            [] { return std::this_thread::get_id(); });
  });
  EXPECT_NE(id, std::this_thread::get_id());
  EXPECT_EQ(chosen.jobs.load(), 1);
  EXPECT_EQ(fallback.jobs.load(), 0);
}

TEST(IOLoopExecutorTest, ExecutorRefusingTheJobThrowsToTheCaller) {
  IOLoop loop(true);
  loop.set_default_executor([](std::function<void()>) { throw std::runtime_error("shut down"); });
  EXPECT_THROW(loop.run_in_executor([] { return 1; }), std::runtime_error);
}

}  // namespace

}  // namespace ioloop_threads_test
