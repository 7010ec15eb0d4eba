// Behaviours of Tornado's ioloop_test.py that apply to the C++ IOLoop: callbacks from the
// loop and from other threads, stop(), fd handlers, close(all_fds), run_sync,
// run_in_executor and IOLoop::current(). Timers and PeriodicCallback: ioloop_timer_test.cpp.
#include "tornado/ioloop.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <future>
#include <memory>
#include <numeric>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "ioloop_test_util.h"
#include "tornado/task.h"
#include "tornado/testing_core.h"

namespace ioloop_test {

using namespace tornado;
using tornado::test::IOLoopTest;
using tornado::testing::AsyncTest;
using tornado::testing::ExpectLog;

namespace {

// Both ends of a non-blocking AF_UNIX stream socketpair, closed on destruction.
struct SocketPair {
  int a = -1, b = -1;
  SocketPair() {
    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) != 0) {
      throw std::system_error(errno, std::generic_category(), "socketpair");
    }
    a = fds[0];
    b = fds[1];
  }
  ~SocketPair() {
    if (a >= 0) ::close(a);
    if (b >= 0) ::close(b);
  }
  SocketPair(const SocketPair&) = delete;
  SocketPair& operator=(const SocketPair&) = delete;
};

void send_all(int fd, const std::string& s) {
  ASSERT_EQ(::write(fd, s.data(), s.size()), static_cast<ssize_t>(s.size()));
}

std::string recv_some(int fd) {
  char buf[1024];
  ssize_t n = ::read(fd, buf, sizeof buf);
  return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
}

bool fd_is_open(int fd) { return ::fcntl(fd, F_GETFD) != -1 || errno != EBADF; }

}  // namespace

// ---- callbacks ----------------------------------------------------------------------

TEST_F(IOLoopTest, AddCallbackRunsInFifoOrder) {
  std::vector<int> order;
  for (int i = 0; i < 5; ++i) io_loop().add_callback([&, i] { order.push_back(i); });
  io_loop().add_callback([&] { io_loop().stop(); });
  start_with_guard();
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4}));
}

TEST_F(IOLoopTest, CallbackAddedDuringCallbackRunsOnNextIteration) {
  // stop() takes effect at the end of the current iteration: a callback added by a
  // callback of this iteration must still be pending when start() returns.
  std::vector<std::string> order;
  io_loop().add_callback([&] {
    order.push_back("a");
    io_loop().add_callback([&] { order.push_back("added"); });
    io_loop().stop();
  });
  io_loop().add_callback([&] { order.push_back("c"); });
  start_with_guard();
  EXPECT_EQ(order, (std::vector<std::string>{"a", "c"}));
  io_loop().add_callback([&] { io_loop().stop(); });
  start_with_guard();
  EXPECT_EQ(order, (std::vector<std::string>{"a", "c", "added"}));
}

TEST_F(IOLoopTest, AddCallbackWhileNotRunningRunsOnStart) {
  bool ran = false;
  io_loop().add_callback([&] { ran = true; });
  EXPECT_FALSE(ran);
  io_loop().add_callback([&] { io_loop().stop(); });
  start_with_guard();
  EXPECT_TRUE(ran);
}

TEST_F(IOLoopTest, AddCallbackFromOtherThreadWhileNotRunning) {
  bool ran = false;
  std::thread([&] {
    io_loop().add_callback([&] {
      ran = true;
      io_loop().stop();
    });
  }).join();
  EXPECT_FALSE(ran);
  start_with_guard();
  EXPECT_TRUE(ran);
}

TEST_F(IOLoopTest, AddCallbackFromOtherThreadWakesTheLoop) {
  // Tornado's test_add_callback_wakeup_other_thread: the loop is blocked in epoll with
  // nothing to do; the eventfd must wake it.
  std::thread t;
  io_loop().add_callback([&] {
    t = std::thread([&] {
      std::this_thread::sleep_for(20ms);
      io_loop().add_callback([&] { io_loop().stop(); });
    });
  });
  start_with_guard();
  t.join();
}

TEST_F(IOLoopTest, AddCallbackFromFourThreadsLosesNothing) {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 100'000;
  // Loop-thread state only: touched by callbacks, never by the producers.
  std::vector<int> received(kThreads, 0);
  std::vector<int> last_seen(kThreads, -1);
  int out_of_order = 0;
  int finished = 0;
  std::atomic<bool> go{false};
  std::vector<std::thread> producers;
  for (int t = 0; t < kThreads; ++t) {
    producers.emplace_back([&, t] {
      while (!go.load()) std::this_thread::yield();
      for (int i = 0; i < kPerThread; ++i) {
        io_loop().add_callback([&, t, i] {
          ++received[t];
          if (i != last_seen[t] + 1) ++out_of_order;
          last_seen[t] = i;
        });
      }
      io_loop().add_callback([&] {
        if (++finished == kThreads) io_loop().stop();
      });
    });
  }
  io_loop().add_callback([&] { go = true; });  // producers race the running loop
  start_with_guard(60s);
  for (auto& p : producers) p.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(received[t], kPerThread) << "thread " << t;
  EXPECT_EQ(std::accumulate(received.begin(), received.end(), 0), kThreads * kPerThread);
  EXPECT_EQ(out_of_order, 0) << "callbacks of one thread must run in the order added";
  EXPECT_EQ(finished, kThreads);
}

TEST_F(IOLoopTest, ExceptionInCallbackIsLoggedAndLoopContinues) {
  ExpectLog expect(app_log(), "Exception in callback.*callback-boom");
  bool after = false;
  io_loop().add_callback([] { throw std::runtime_error("callback-boom"); });
  io_loop().add_callback([&] {
    after = true;
    io_loop().stop();
  });
  start_with_guard();
  EXPECT_TRUE(after);
}

TEST_F(IOLoopTest, ExceptionInTimerIsLoggedAndLoopContinues) {
  ExpectLog expect(app_log(), "Exception in callback.*timer-boom");
  bool after = false;
  double now = io_loop().time();
  io_loop().call_at(now, [] { throw std::runtime_error("timer-boom"); });
  io_loop().call_at(now, [&] {
    after = true;
    io_loop().stop();
  });
  start_with_guard();
  EXPECT_TRUE(after);
}

TEST_F(IOLoopTest, StopFromAnotherThread) {
  std::thread t;
  io_loop().add_callback([&] {
    t = std::thread([&] {
      std::this_thread::sleep_for(20ms);
      io_loop().stop();
    });
  });
  start_with_guard();
  t.join();
  EXPECT_FALSE(io_loop().running());
}

TEST_F(IOLoopTest, StartWhileRunningThrows) {
  bool threw = false;
  io_loop().add_callback([&] {
    try {
      io_loop().start();
    } catch (const std::logic_error&) {
      threw = true;
    }
    io_loop().stop();
  });
  start_with_guard();
  EXPECT_TRUE(threw);
}

// ---- file descriptors ---------------------------------------------------------------

TEST_F(IOLoopTest, ReadEventDelivered) {
  SocketPair sp;
  std::string got;
  io_loop().add_handler(
      sp.a,
      [&](int fd, uint32_t events) {
        EXPECT_TRUE(events & IOLoop::READ);
        got += recv_some(fd);
        if (got == "hello") io_loop().stop();
      },
      IOLoop::READ);
  io_loop().add_callback([&] { send_all(sp.b, "hello"); });
  start_with_guard();
  EXPECT_EQ(got, "hello");
  io_loop().remove_handler(sp.a);
}

TEST_F(IOLoopTest, WriteEventThenUpdateHandlerToRead) {
  // Tornado's test_read_while_writeable, in two steps: a socket is writable at once;
  // after update_handler(READ) only reads are reported.
  SocketPair sp;
  std::vector<uint32_t> events_seen;
  io_loop().add_handler(
      sp.a,
      [&](int fd, uint32_t events) {
        events_seen.push_back(events & (IOLoop::READ | IOLoop::WRITE));
        if (events_seen.size() == 1) {
          io_loop().update_handler(fd, IOLoop::READ);
          send_all(sp.b, "x");
        } else {
          EXPECT_EQ(recv_some(fd), "x");
          io_loop().stop();
        }
      },
      IOLoop::WRITE);
  start_with_guard();
  EXPECT_EQ(events_seen, (std::vector<uint32_t>{IOLoop::WRITE, IOLoop::READ}));
  io_loop().remove_handler(sp.a);
}

TEST_F(IOLoopTest, FdHandlerObjectReceivesEvents) {
  struct Recorder : FdHandler {
    IOLoop* loop = nullptr;
    std::string data;
    void on_events(int fd, uint32_t events) override {
      if (events & IOLoop::READ) data += recv_some(fd);
      loop->stop();
    }
  } recorder;
  recorder.loop = &io_loop();
  SocketPair sp;
  io_loop().add_handler(sp.a, &recorder, IOLoop::READ);
  send_all(sp.b, "obj");
  start_with_guard();
  EXPECT_EQ(recorder.data, "obj");
  io_loop().remove_handler(sp.a);
}

TEST_F(IOLoopTest, PeerCloseIsReportedAsReadable) {
  SocketPair sp;
  bool eof = false;
  io_loop().add_handler(
      sp.a,
      [&](int fd, uint32_t events) {
        ASSERT_TRUE(events & IOLoop::READ);
        char c;
        eof = ::read(fd, &c, 1) == 0;
        io_loop().stop();
      },
      IOLoop::READ);
  ::close(sp.b);
  sp.b = -1;
  start_with_guard();
  EXPECT_TRUE(eof);
  io_loop().remove_handler(sp.a);
}

TEST_F(IOLoopTest, RemoveHandlerFromHandler) {
  // Tornado's test_remove_handler_from_handler: both ends are readable in the same
  // poll; whichever runs first removes the other, which then must not be called.
  SocketPair sp;
  send_all(sp.a, "abc");
  send_all(sp.b, "abc");
  std::vector<std::string> chunks;
  auto handler = [&](int fd, uint32_t) {
    chunks.push_back(recv_some(fd));
    io_loop().remove_handler(fd == sp.a ? sp.b : sp.a);
  };
  io_loop().add_handler(sp.a, handler, IOLoop::READ);
  io_loop().add_handler(sp.b, handler, IOLoop::READ);
  io_loop().call_later(50ms, [&] { io_loop().stop(); });
  start_with_guard();
  EXPECT_EQ(chunks, (std::vector<std::string>{"abc"}));
  io_loop().remove_handler(sp.a);
  io_loop().remove_handler(sp.b);
}

TEST_F(IOLoopTest, HandlerRemovingItselfStaysAliveUntilItReturns) {
  // The std::function being run is the one removed: its captures must survive the call
  // (ASan reports a use-after-free otherwise), and no later event reaches it.
  SocketPair sp;
  auto state = std::make_shared<std::vector<int>>();
  int calls = 0;
  io_loop().add_handler(
      sp.a,
      [&, state](int fd, uint32_t) {
        ++calls;
        io_loop().remove_handler(fd);
        state->push_back(fd);  // touches the handler's own capture after removal
        send_all(sp.b, "more");
      },
      IOLoop::READ);
  send_all(sp.b, "x");
  io_loop().call_later(30ms, [&] { io_loop().stop(); });
  start_with_guard();
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(state->size(), 1u);
}

TEST_F(IOLoopTest, ReusedFdDoesNotReceiveStaleEvents) {
  // Two readable sockets in one batch; the first handler closes the other fd and opens a
  // new pipe, which gets the same number, and registers it. The batch still holds the
  // old socket's event: it must be dropped, not delivered to the pipe's handler.
  SocketPair one, two;
  send_all(one.b, "1");
  send_all(two.b, "2");
  int first = -1, replaced = -1, pipe_fds[2] = {-1, -1};
  int stale_deliveries = 0;
  auto handler = [&](int fd, uint32_t) {
    if (first != -1) return;  // the other socket's event, if it ran first: ignore
    first = fd;
    replaced = fd == one.a ? two.a : one.a;
    io_loop().remove_handler(replaced);
    ::close(replaced);
    ASSERT_EQ(::pipe2(pipe_fds, O_NONBLOCK | O_CLOEXEC), 0);
    io_loop().add_handler(
        pipe_fds[0], [&](int, uint32_t) { ++stale_deliveries; }, IOLoop::READ);
  };
  io_loop().add_handler(one.a, handler, IOLoop::READ);
  io_loop().add_handler(two.a, handler, IOLoop::READ);
  io_loop().call_later(30ms, [&] { io_loop().stop(); });
  start_with_guard();
  ASSERT_NE(first, -1);
  EXPECT_EQ(pipe_fds[0], replaced) << "the new pipe should reuse the closed fd's number";
  EXPECT_EQ(stale_deliveries, 0);
  io_loop().remove_handler(first);
  io_loop().remove_handler(pipe_fds[0]);
  ::close(pipe_fds[0]);
  ::close(pipe_fds[1]);
  (replaced == one.a ? one.a : two.a) = -1;  // already closed
}

TEST_F(IOLoopTest, HandlerRegistrationErrors) {
  SocketPair sp;
  io_loop().add_handler(
      sp.a, [](int, uint32_t) {}, IOLoop::READ);
  EXPECT_THROW(io_loop().add_handler(
                   sp.a, [](int, uint32_t) {}, IOLoop::READ),
               std::logic_error);
  EXPECT_THROW(io_loop().update_handler(sp.b, IOLoop::READ), std::logic_error);
  EXPECT_THROW(io_loop().add_handler(
                   -1, [](int, uint32_t) {}, IOLoop::READ),
               std::invalid_argument);
  io_loop().remove_handler(sp.b);  // not registered: a no-op
  io_loop().remove_handler(12345);
  io_loop().remove_handler(sp.a);
  io_loop().remove_handler(sp.a);
  // After removal the fd can be registered again.
  io_loop().add_handler(
      sp.a, [](int, uint32_t) {}, IOLoop::WRITE);
  io_loop().remove_handler(sp.a);
}

TEST_F(IOLoopTest, ExceptionInHandlerIsLoggedAndLoopContinues) {
  ExpectLog expect(app_log(), "Exception in I/O handler.*handler-boom");
  SocketPair sp;
  io_loop().add_handler(
      sp.a, [](int, uint32_t) { throw std::runtime_error("handler-boom"); }, IOLoop::WRITE);
  io_loop().call_later(10ms, [&] { io_loop().stop(); });
  start_with_guard();
  io_loop().remove_handler(sp.a);
}

// ---- close --------------------------------------------------------------------------

TEST_F(IOLoopTest, CloseAllFdsClosesRegisteredFds) {
  SocketPair keep, closed_by_loop;
  {
    IOLoop loop;
    loop.add_handler(
        keep.a, [](int, uint32_t) {}, IOLoop::READ);
    loop.remove_handler(keep.a);  // no longer registered: close must leave it alone
    loop.add_handler(
        closed_by_loop.a, [](int, uint32_t) {}, IOLoop::READ);
    loop.close(/*all_fds=*/true);
    EXPECT_TRUE(loop.closed());
  }
  EXPECT_FALSE(fd_is_open(closed_by_loop.a));
  closed_by_loop.a = -1;
  EXPECT_TRUE(fd_is_open(keep.a));
}

TEST_F(IOLoopTest, CloseWithoutAllFdsLeavesFdsOpen) {
  SocketPair sp;
  IOLoop loop;
  loop.add_handler(
      sp.a, [](int, uint32_t) {}, IOLoop::READ);
  loop.close();
  loop.close();  // twice is fine
  EXPECT_TRUE(fd_is_open(sp.a));
  EXPECT_THROW(loop.start(), std::logic_error);
}

TEST_F(IOLoopTest, CloseDropsPendingCallbacksAndTimers) {
  bool ran = false;
  auto sentinel = std::make_shared<int>(0);
  {
    IOLoop loop;
    loop.add_callback([&ran, sentinel] { ran = true; });
    loop.call_later(1ms, [&ran, sentinel] { ran = true; });
    EXPECT_EQ(sentinel.use_count(), 3);
    loop.close();
    EXPECT_EQ(sentinel.use_count(), 1) << "close must release what the callbacks hold";
  }
  EXPECT_FALSE(ran);
}

TEST_F(IOLoopTest, CloseWhileRunningThrows) {
  bool threw = false;
  io_loop().add_callback([&] {
    try {
      io_loop().close();
    } catch (const std::logic_error&) {
      threw = true;
    }
    io_loop().stop();
  });
  start_with_guard();
  EXPECT_TRUE(threw);
  EXPECT_FALSE(io_loop().closed());
}

// ---- run_sync -----------------------------------------------------------------------

TEST_F(IOLoopTest, RunSyncReturnsSynchronousResult) {
  EXPECT_EQ(io_loop().run_sync([]() -> Task<int> { co_return 42; }), 42);
}

TEST_F(IOLoopTest, RunSyncReturnsAsynchronousResult) {
  auto v = io_loop().run_sync([]() -> Task<std::string> {
    co_await sleep(1ms);
    co_return "done";
  });
  EXPECT_EQ(v, "done");
}

TEST_F(IOLoopTest, RunSyncRethrowsSynchronousAndAsynchronousExceptions) {
  try {
    io_loop().run_sync([]() -> Task<> {
      throw std::out_of_range("sync-fail");
      co_return;
    });
    FAIL() << "no exception";
  } catch (const std::out_of_range& e) {
    EXPECT_STREQ(e.what(), "sync-fail");
  }
  try {
    io_loop().run_sync([]() -> Task<int> {
      co_await sleep(1ms);
      throw std::out_of_range("async-fail");
    });
    FAIL() << "no exception";
  } catch (const std::out_of_range& e) {
    EXPECT_STREQ(e.what(), "async-fail");
  }
}

TEST_F(IOLoopTest, RunSyncMakesTheLoopCurrent) {
  IOLoop other;
  IOLoop* seen = nullptr;
  other.run_sync([&]() -> Task<> {
    seen = &IOLoop::current();
    co_await sleep(1ms);
  });
  EXPECT_EQ(seen, &other);
  EXPECT_EQ(&IOLoop::current(), &io_loop()) << "the previous current loop is restored";
}

TEST_F(IOLoopTest, RunSyncTimeoutRaisesTimeoutError) {
  const double start = io_loop().time();
  EXPECT_THROW(io_loop().run_sync([]() -> Task<> { co_await sleep(60ms); }, 20ms), TimeoutError);
  EXPECT_GE(io_loop().time() - start, 0.020);
}

TEST_F(IOLoopTest, RunSyncTimeoutCancelsItsTaskAndALaterRunIsUndisturbed) {
  // The timed-out task is cancelled (docs/task.md): it never finishes, and the next
  // run_sync runs to its own end.
  bool abandoned_finished = false;
  EXPECT_THROW(io_loop().run_sync(
                   [&]() -> Task<> {
                     co_await sleep(30ms);
                     abandoned_finished = true;
                   },
                   5ms),
               TimeoutError);
  int v = io_loop().run_sync([]() -> Task<int> {
    co_await sleep(80ms);
    co_return 5;
  });
  EXPECT_EQ(v, 5);
  EXPECT_FALSE(abandoned_finished);
}

// ---- run_in_executor ----------------------------------------------------------------

TEST_F(IOLoopTest, RunInExecutorDeliversResultOnTheLoop) {
  const auto loop_thread = std::this_thread::get_id();
  auto [value, worker] = run_sync([&]() -> Task<std::pair<int, std::thread::id>> {
    auto fut = io_loop().run_in_executor(
        [] { return std::pair<int, std::thread::id>(6 * 7, std::this_thread::get_id()); });
    auto r = co_await fut;
    EXPECT_EQ(std::this_thread::get_id(), loop_thread) << "resumed on the loop thread";
    co_return r;
  });
  EXPECT_EQ(value, 42);
  EXPECT_NE(worker, loop_thread);
}

TEST_F(IOLoopTest, RunInExecutorDeliversException) {
  run_sync([&]() -> Task<> {
    auto fut = io_loop().run_in_executor([]() -> int { throw std::domain_error("in-pool"); });
    try {
      co_await fut;
      ADD_FAILURE() << "no exception";
    } catch (const std::domain_error& e) {
      EXPECT_STREQ(e.what(), "in-pool");
    }
  });
}

TEST_F(IOLoopTest, RunInExecutorVoidFunction) {
  std::atomic<int> n{0};
  run_sync([&]() -> Task<> { co_await io_loop().run_in_executor([&] { n = 9; }); });
  EXPECT_EQ(n.load(), 9);
}

TEST_F(IOLoopTest, RunInExecutorManyConcurrentJobs) {
  auto sum = run_sync([&]() -> Task<long> {
    std::vector<Future<int>> futs;
    for (int i = 0; i < 200; ++i) futs.push_back(io_loop().run_in_executor([i] { return i; }));
    long total = 0;
    for (auto& f : futs) total += co_await f;
    co_return total;
  });
  EXPECT_EQ(sum, 199 * 200 / 2);
}

TEST_F(IOLoopTest, RunInExecutorResultAfterLoopDestroyedIsDropped) {
  // The job finishes after its loop is gone: the result must be dropped without touching
  // the freed loop (ASan would report it), and everything it held released.
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::promise<void> result_destroyed;
  auto destroyed = result_destroyed.get_future();
  struct Sentinel {
    std::promise<void>* on_destroy;
    ~Sentinel() { on_destroy->set_value(); }
  };
  {
    IOLoop loop;
    auto fut = loop.run_in_executor([released, p = &result_destroyed] {
      released.wait();
      return std::shared_ptr<Sentinel>(new Sentinel{p});
    });
    EXPECT_FALSE(fut.done());
  }  // loop and future destroyed while the job still runs
  release.set_value();
  ASSERT_EQ(destroyed.wait_for(5s), std::future_status::ready)
      << "the undeliverable result was never released";
}

// ---- IOLoop::current ----------------------------------------------------------------

TEST_F(IOLoopTest, CurrentIsPerThread) {
  EXPECT_EQ(&IOLoop::current(), &io_loop());
  IOLoop* first = nullptr;
  IOLoop* again = nullptr;
  IOLoop* before = &io_loop();
  std::thread([&] {
    before = IOLoop::current_or_null();
    first = &IOLoop::current();
    again = &IOLoop::current();
  }).join();
  EXPECT_EQ(before, nullptr) << "a new thread has no current loop";
  EXPECT_NE(first, nullptr);
  EXPECT_NE(first, &io_loop());
  EXPECT_EQ(first, again) << "current() creates the thread's loop once";
}

TEST_F(IOLoopTest, NewLoopBecomesCurrentOnlyIfNoneOrForced) {
  std::thread([] {
    IOLoop a;  // the thread has none: a becomes current
    EXPECT_EQ(IOLoop::current_or_null(), &a);
    IOLoop b;  // a is current: b does not replace it
    EXPECT_EQ(IOLoop::current_or_null(), &a);
    IOLoop c(/*make_current=*/true);
    EXPECT_EQ(IOLoop::current_or_null(), &c);
    b.make_current();
    EXPECT_EQ(IOLoop::current_or_null(), &b);
  }).join();
}

TEST_F(IOLoopTest, LoopsOnTwoThreadsRunIndependently) {
  std::atomic<int> other_ran{0};
  std::thread t([&] {
    IOLoop& mine = IOLoop::current();
    mine.run_sync([&]() -> Task<> {
      co_await sleep(5ms);
      ++other_ran;
    });
  });
  run_sync([]() -> Task<> { co_await sleep(5ms); });
  t.join();
  EXPECT_EQ(other_ran.load(), 1);
}

}  // namespace ioloop_test
