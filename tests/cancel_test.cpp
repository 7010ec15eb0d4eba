// Task cancellation (asyncio's Task.cancel()): Future::cancel() on a spawned task's Future
// raises CancelledError at the task's suspension point, for each kind of suspension, and
// the frame unwinds (destructors run, locks are released, waiters are removed).
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "tornado/ioloop.h"
#include "tornado/iostream.h"
#include "tornado/locks.h"
#include "tornado/queues.h"
#include "tornado/ssl.h"
#include "tornado/task.h"
#include "tornado/tcpclient.h"
#include "tornado/testing.h"

namespace cancel_test {

using namespace tornado;

namespace {

class CancelTest : public tornado::testing::AsyncTest {
 protected:
  // Runs the loop for a few iterations (cancellation resumes the task on a later one).
  void spin(int iterations = 3) {
    run_sync([iterations]() -> Task<> {
      for (int i = 0; i < iterations; ++i) co_await moment();
    });
  }
};

// Sets *flag when destroyed: shows the frame's locals were destroyed.
struct SetOnDestroy {
  bool* flag;
  ~SetOnDestroy() { *flag = true; }
};

// What a cancelled task saw.
struct Outcome {
  bool unwound = false;        // its local guard was destroyed
  bool got_cancelled = false;  // CancelledError reached its catch block
  bool resumed_normally = false;
};

template <typename Awaitable>
Task<> await_guarded(Awaitable a, Outcome* out) {
  SetOnDestroy guard{&out->unwound};
  try {
    co_await std::move(a);
    out->resumed_normally = true;
  } catch (const CancelledError&) {
    out->got_cancelled = true;
    throw;
  }
}

void expect_cancelled(const Future<void>& f, const Outcome& out) {
  ASSERT_TRUE(f.done());
  EXPECT_TRUE(f.cancelled());
  EXPECT_THROW(f.result(), CancelledError);
  EXPECT_TRUE(out.got_cancelled);
  EXPECT_TRUE(out.unwound);
  EXPECT_FALSE(out.resumed_normally);
}

TEST_F(CancelTest, SleepIsCancelled) {
  Outcome out;
  Future<void> f = spawn(await_guarded(sleep(10s), &out));
  EXPECT_FALSE(out.unwound);
  EXPECT_TRUE(f.cancel());
  EXPECT_FALSE(f.done()) << "the task unwinds on the loop, not inside cancel()";
  spin();
  expect_cancelled(f, out);
}

// A cancelled sleep takes its timer out of the loop at once: a long-lived server that
// cancels timed waits must not accumulate dead timers until their deadlines.
TEST_F(CancelTest, CancelledSleepsLeaveNoTimerInTheLoop) {
  const std::size_t before = io_loop().pending_timeouts();
  constexpr int kSleeps = 1000;
  std::vector<Outcome> outs(kSleeps);
  std::vector<Future<void>> tasks;
  for (int i = 0; i < kSleeps; ++i) tasks.push_back(spawn(await_guarded(sleep(3600s), &outs[i])));
  ASSERT_EQ(io_loop().pending_timeouts(), before + kSleeps);
  for (auto& f : tasks) f.cancel();
  EXPECT_EQ(io_loop().pending_timeouts(), before) << "cancel() removes the timer, not its firing";
  spin();
  for (int i = 0; i < kSleeps; ++i) expect_cancelled(tasks[i], outs[i]);
  EXPECT_EQ(io_loop().pending_timeouts(), before);
}

TEST_F(CancelTest, CancellingASleepFutureRemovesItsTimer) {
  const std::size_t before = io_loop().pending_timeouts();
  Future<void> s = sleep(3600s);
  ASSERT_EQ(io_loop().pending_timeouts(), before + 1);
  EXPECT_TRUE(s.cancel());
  EXPECT_TRUE(s.cancelled());
  EXPECT_EQ(io_loop().pending_timeouts(), before);
}

// The loop may be gone when a sleep is cancelled: nothing of it is touched then.
TEST(CancelSleepAfterLoop, CancellingASleepAfterItsLoopClosedIsSafe) {
  Future<void> s;
  {
    IOLoop loop(true);
    s = sleep(3600s);
  }
  EXPECT_TRUE(s.cancel());
  EXPECT_TRUE(s.cancelled());
}

TEST_F(CancelTest, FutureAwaitIsCancelledAndSoIsTheFuture) {
  Outcome out;
  Future<int> pending;
  Future<void> f = spawn(await_guarded(pending, &out));
  f.cancel();
  spin();
  expect_cancelled(f, out);
  EXPECT_TRUE(pending.cancelled()) << "asyncio: cancelling the awaiter cancels the awaited";
}

TEST_F(CancelTest, MomentIsCancelled) {
  Outcome out;
  Future<void> f = spawn(await_guarded(moment(), &out));
  f.cancel();
  spin();
  expect_cancelled(f, out);
}

TEST_F(CancelTest, CancellingAFinishedTaskIsANoOp) {
  Future<int> f = spawn([]() -> Task<int> { co_return 3; }());
  ASSERT_TRUE(f.done());
  EXPECT_FALSE(f.cancel());
  EXPECT_FALSE(f.cancelled());
  EXPECT_EQ(f.result(), 3);
}

TEST_F(CancelTest, CancellingTwiceRaisesOnce) {
  // The task swallows one CancelledError and goes on: a second cancel() made before it
  // resumed must not raise again later.
  auto body = []() -> Task<int> {
    try {
      co_await sleep(10s);
    } catch (const CancelledError&) {
    }
    co_await sleep(5ms);  // not cancelled
    co_return 7;
  };
  Future<int> f = spawn(body());
  EXPECT_TRUE(f.cancel());
  EXPECT_TRUE(f.cancel());
  int v = run_sync([f]() -> Task<int> { co_return co_await f; });
  EXPECT_EQ(v, 7);
  EXPECT_FALSE(f.cancelled());
}

TEST_F(CancelTest, CancelWhileRunningIsDeliveredAtTheNextSuspension) {
  Outcome out;
  auto self_cancelling = [](Future<void>* me, Outcome* o) -> Task<> {
    SetOnDestroy guard{&o->unwound};
    co_await moment();  // `me` is set by now
    me->cancel();       // running: nothing to cancel yet
    try {
      co_await sleep(10s);
    } catch (const CancelledError&) {
      o->got_cancelled = true;
      throw;
    }
  };
  Future<void> f;
  f = spawn(self_cancelling(&f, &out));
  spin();
  expect_cancelled(f, out);
}

TEST_F(CancelTest, CancellationUnwindsEveryFrameOfTheChain) {
  bool inner_unwound = false, middle_unwound = false;
  struct Chain {
    static Task<int> inner(bool* flag) {
      SetOnDestroy g{flag};
      co_await sleep(10s);
      co_return 1;
    }
    static Task<int> middle(bool* inner_flag, bool* flag) {
      SetOnDestroy g{flag};
      co_return co_await inner(inner_flag) + 1;
    }
  };
  Future<int> f = spawn(Chain::middle(&inner_unwound, &middle_unwound));
  f.cancel();
  spin();
  EXPECT_TRUE(f.cancelled());
  EXPECT_TRUE(inner_unwound);
  EXPECT_TRUE(middle_unwound);
}

TEST_F(CancelTest, AwaitingASpawnedTaskPropagatesTheCancellation) {
  Outcome inner_out;
  Future<void> inner = spawn(await_guarded(sleep(10s), &inner_out));
  Outcome outer_out;
  Future<void> outer = spawn(await_guarded(inner, &outer_out));
  outer.cancel();
  spin();
  expect_cancelled(inner, inner_out);
  expect_cancelled(outer, outer_out);
}

// ---- locks ----------------------------------------------------------------------------

TEST_F(CancelTest, LockHeldThroughAGuardIsReleasedWhenTheHolderIsCancelled) {
  locks::Lock lock;
  auto holder = [](locks::Lock* l) -> Task<> {
    auto guard = co_await l->acquire();
    co_await sleep(10s);
  };
  Future<void> f = spawn(holder(&lock));
  ASSERT_TRUE(lock.locked());
  f.cancel();
  spin();
  EXPECT_TRUE(f.cancelled());
  EXPECT_FALSE(lock.locked());
}

TEST_F(CancelTest, CancelledLockWaiterIsNeverHandedTheLock) {
  locks::Lock lock;
  ASSERT_TRUE(lock.try_acquire());
  Outcome out;
  auto waiter = [](locks::Lock* l, Outcome* o) -> Task<> {
    SetOnDestroy g{&o->unwound};
    try {
      auto guard = co_await l->acquire();
      o->resumed_normally = true;
    } catch (const CancelledError&) {
      o->got_cancelled = true;
      throw;
    }
  };
  Future<void> f = spawn(waiter(&lock, &out));
  f.cancel();
  spin();
  expect_cancelled(f, out);
  lock.release();
  EXPECT_FALSE(lock.locked()) << "the unit must not go to the cancelled waiter";
}

TEST_F(CancelTest, SemaphoreWaiterCancelled) {
  locks::Semaphore sem(0);
  Outcome out;
  auto acquirer = [](locks::Semaphore* s, Outcome* o) -> Task<> {
    SetOnDestroy g{&o->unwound};
    try {
      auto guard = co_await s->acquire();
      o->resumed_normally = true;
    } catch (const CancelledError&) {
      o->got_cancelled = true;
      throw;
    }
  };
  Future<void> f = spawn(acquirer(&sem, &out));
  f.cancel();
  spin();
  expect_cancelled(f, out);
  sem.release();
  EXPECT_EQ(sem.value(), 1);
}

TEST_F(CancelTest, ConditionWaiterCancelledDoesNotConsumeANotify) {
  locks::Condition cond;
  Outcome out;
  Future<void> cancelled = spawn(await_guarded(cond.wait(), &out));
  Future<bool> second = cond.wait();
  cancelled.cancel();
  spin();
  expect_cancelled(cancelled, out);
  cond.notify(1);
  spin();
  ASSERT_TRUE(second.done());
  EXPECT_TRUE(second.result());
}

TEST_F(CancelTest, EventWaiterCancelled) {
  locks::Event event;
  Outcome out;
  Future<void> f = spawn(await_guarded(event.wait(), &out));
  f.cancel();
  spin();
  expect_cancelled(f, out);
  event.set();
  spin();
}

// ---- queues ---------------------------------------------------------------------------

TEST_F(CancelTest, CancelledQueueGetterIsRemovedFromTheWaiters) {
  queues::Queue<int> q;
  Outcome out;
  Future<void> f = spawn(await_guarded(q.get(), &out));
  f.cancel();
  spin();
  expect_cancelled(f, out);
  q.put_nowait(5);
  EXPECT_EQ(q.qsize(), 1u) << "the item stays queued: no cancelled getter takes it";
  EXPECT_EQ(q.getter_count(), 0u);
  EXPECT_EQ(q.get_nowait(), 5);
}

TEST_F(CancelTest, CancelledQueuePutterNeverEnqueuesItsItem) {
  queues::Queue<int> q(1);
  q.put_nowait(1);
  Outcome out;
  Future<void> f = spawn(await_guarded(q.put(2), &out));
  f.cancel();
  spin();
  expect_cancelled(f, out);
  EXPECT_EQ(q.get_nowait(), 1);
  EXPECT_TRUE(q.empty()) << "the cancelled putter's item never enters";
}

// ---- streams --------------------------------------------------------------------------

struct Pair {
  std::shared_ptr<IOStream> a, b;
};
Pair socket_pair() {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM, 0, fds) != 0) throw std::runtime_error("socketpair");
  return {IOStream::create(fds[0]), IOStream::create(fds[1])};
}

TEST_F(CancelTest, StreamReadIsCancelledAndTheStreamStaysUsable) {
  Pair p = socket_pair();
  Outcome out;
  Future<void> f = spawn(await_guarded(p.a->read_until("\n"), &out));
  EXPECT_TRUE(p.a->reading());
  f.cancel();
  spin();
  expect_cancelled(f, out);
  EXPECT_FALSE(p.a->reading());
  std::string line = run_sync([&]() -> Task<std::string> {
    co_await p.b->write("hello\n");
    co_return co_await p.a->read_until("\n");
  });
  EXPECT_EQ(line, "hello\n");
}

TEST_F(CancelTest, StreamWriteWaitIsCancelledAndTheBytesStillGo) {
  Pair p = socket_pair();
  int size = 64 * 1024;
  ::setsockopt(p.a->fd(), SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
  const std::string big(4 * 1024 * 1024, 'x');  // more than the socket buffers hold
  Outcome out;
  Future<void> f = spawn(await_guarded(p.a->write(big), &out));
  ASSERT_FALSE(f.done());
  f.cancel();
  spin();
  expect_cancelled(f, out);
  std::string got =
      run_sync([&]() -> Task<std::string> { co_return co_await p.b->read_bytes(big.size()); });
  EXPECT_EQ(got.size(), big.size());
}

// ---- connect and the TLS handshake ---------------------------------------------------

// Open file descriptors of this process: a cancelled connect must not leave its socket.
std::size_t open_fd_count() {
  std::size_t n = 0;
  if (DIR* d = ::opendir("/proc/self/fd")) {
    while (::readdir(d) != nullptr) ++n;
    ::closedir(d);
  }
  return n;
}

// A listener whose accept queue is full (backlog 0 and one connection parked in it): the
// kernel drops further SYNs, so a connect to it stays in progress until it is cancelled.
struct FullListener {
  int fd = -1;
  int parked = -1;
  sockaddr_in addr{};
  FullListener() {
    fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(fd, 0) != 0 || ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      throw std::runtime_error("FullListener: listen");
    }
    parked = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (::connect(parked, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      throw std::runtime_error("FullListener: park");
    }
    pollfd p{fd, POLLIN, 0};  // the parked connection is in the accept queue
    ::poll(&p, 1, 1000);
  }
  ~FullListener() {
    ::close(parked);
    ::close(fd);
  }
  int port() const { return ntohs(addr.sin_port); }
};

// What must be back where it was after a cancelled connect: open fds, fds watched by the
// loop, pending timers.
struct LoopFootprint {
  std::size_t fds, handlers, timeouts;
  explicit LoopFootprint(const IOLoop& loop)
      : fds(open_fd_count()), handlers(loop.handler_count()), timeouts(loop.pending_timeouts()) {}
};
void expect_same_footprint(const IOLoop& loop, const LoopFootprint& before) {
  const LoopFootprint after(loop);
  EXPECT_EQ(after.fds, before.fds) << "a socket was left open";
  EXPECT_EQ(after.handlers, before.handlers) << "an fd was left registered with the loop";
  EXPECT_EQ(after.timeouts, before.timeouts) << "a timer was left in the loop";
}

// Waits on the loop long enough for a connect to get under way (the resolver may use the
// executor).
void settle(IOLoop& loop) {
  loop.run_sync([]() -> Task<> { co_await sleep(50ms); });
}

// Starts `work`, lets it reach its suspension (`what`: "connect", "handshake"), runs
// `while_pending` (checks on the state in progress), cancels it and checks that it ended
// with CancelledError, its frame unwound.
template <typename Awaitable, typename Check = void (*)()>
void cancel_in_progress(
    Awaitable work, const char* what, Check while_pending = [] {}) {
  Outcome out;
  Future<void> f = spawn(await_guarded(std::move(work), &out));
  settle(IOLoop::current());
  ASSERT_FALSE(f.done()) << "the " << what << " should be in progress";
  while_pending();
  EXPECT_TRUE(f.cancel());
  // Cancellation resumes the task on a later iteration.
  IOLoop::current().run_sync([]() -> Task<> {
    for (int i = 0; i < 3; ++i) co_await moment();
  });
  expect_cancelled(f, out);
}

TEST_F(CancelTest, IOStreamConnectIsCancelledAndClosesItsSocket) {
  FullListener listener;
  const LoopFootprint before(io_loop());
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  auto stream = IOStream::create(fd);
  cancel_in_progress(
      stream->connect(reinterpret_cast<const sockaddr*>(&listener.addr), sizeof listener.addr),
      "connect");
  EXPECT_TRUE(stream->closed());
  EXPECT_EQ(::fcntl(fd, F_GETFD), -1) << "the socket is closed";
  stream.reset();
  expect_same_footprint(io_loop(), before);
}

TEST_F(CancelTest, TCPClientConnectIsCancelledAndLeavesNothingBehind) {
  FullListener listener;
  auto client = std::make_shared<TCPClient>();
  const LoopFootprint before(io_loop());
  cancel_in_progress(client->connect("127.0.0.1", listener.port()), "connect");
  expect_same_footprint(io_loop(), before);
}

TEST_F(CancelTest, TCPClientConnectWithATimeoutIsCancelledAndItsTimerRemoved) {
  FullListener listener;
  auto client = std::make_shared<TCPClient>();
  const LoopFootprint before(io_loop());
  cancel_in_progress(
      client->connect("127.0.0.1", listener.port(), ConnectOptions().set_timeout(3600s)),
      "connect");
  expect_same_footprint(io_loop(), before);
}

// A TCP listener that accepts (through its backlog) and never says a word: a TLS client's
// handshake stays in progress.
struct SilentListener {
  int fd, port;
  SilentListener() { std::tie(fd, port) = tornado::testing::bind_unused_port(); }
  ~SilentListener() { ::close(fd); }
};

TEST_F(CancelTest, TLSHandshakeInProgressIsCancelledAndClosesItsSocket) {
  SilentListener listener;
  const LoopFootprint before(io_loop());
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(listener.port));
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  auto stream = SSLIOStream::create(fd, false, SSLContext::client(), "localhost");
  cancel_in_progress(stream->connect(reinterpret_cast<const sockaddr*>(&addr), sizeof addr),
                     "handshake", [&] { EXPECT_FALSE(stream->handshake_done()); });
  EXPECT_TRUE(stream->closed());
  EXPECT_EQ(::fcntl(fd, F_GETFD), -1) << "the socket is closed";
  stream.reset();
  expect_same_footprint(io_loop(), before);
}

TEST_F(CancelTest, TCPClientTLSHandshakeIsCancelledAndLeavesNothingBehind) {
  SilentListener listener;
  auto client = std::make_shared<TCPClient>();
  const LoopFootprint before(io_loop());
  cancel_in_progress(client->connect("127.0.0.1", listener.port,
                                     ConnectOptions().set_ssl_options(SSLContext::client())),
                     "handshake");
  expect_same_footprint(io_loop(), before);
}

// The mechanism for an HTTP handler whose client goes away: the connection's close
// callback cancels the handler's task.
TEST_F(CancelTest, HandlerIsCancelledWhenItsClientCloses) {
  Pair p = socket_pair();
  Outcome out;
  auto handler = [](std::shared_ptr<IOStream> s, Outcome* o) -> Task<> {
    SetOnDestroy g{&o->unwound};
    try {
      co_await sleep(10s);  // a slow handler, e.g. waiting on a backend
      co_await s->write("late answer");
      o->resumed_normally = true;
    } catch (const CancelledError&) {
      o->got_cancelled = true;
      throw;
    }
  };
  Future<void> f = spawn(handler(p.a, &out));
  p.a->set_close_callback([f]() mutable { f.cancel(); });
  p.b->close();  // the client goes away
  run_sync([f]() -> Task<> {
    try {
      co_await f;
    } catch (const CancelledError&) {
    }
  });
  expect_cancelled(f, out);
}

// ---- combinators and run_sync ---------------------------------------------------------

TEST_F(CancelTest, WithTimeoutCancelsTheInnerTaskBeforeRaising) {
  bool inner_unwound = false;
  auto inner = [](bool* flag) -> Task<int> {
    SetOnDestroy g{flag};
    co_await sleep(10s);
    co_return 1;
  };
  bool unwound_when_raised = false;
  run_sync([&]() -> Task<> {
    try {
      co_await with_timeout(5ms, inner(&inner_unwound));
      ADD_FAILURE() << "no TimeoutError";
    } catch (const TimeoutError&) {
      unwound_when_raised = inner_unwound;
    }
  });
  EXPECT_TRUE(unwound_when_raised) << "the inner frame is gone before TimeoutError arrives";
}

TEST_F(CancelTest, WithTimeoutWhoseInnerSwallowsTheCancellationReturnsItsResult) {
  auto stubborn = []() -> Task<int> {
    try {
      co_await sleep(10s);
    } catch (const CancelledError&) {
    }
    co_return 9;
  };
  EXPECT_EQ(run_sync([&]() -> Task<int> { co_return co_await with_timeout(5ms, stubborn()); }), 9);
}

TEST_F(CancelTest, CancellingWithTimeoutCancelsItsInnerTask) {
  Outcome inner_out;
  Future<void> f = spawn(with_timeout(10s, await_guarded(sleep(10s), &inner_out)));
  f.cancel();
  spin();
  EXPECT_TRUE(f.cancelled());
  EXPECT_TRUE(inner_out.got_cancelled);
  EXPECT_TRUE(inner_out.unwound);
}

TEST_F(CancelTest, RunSyncTimeoutCancelsTheTask) {
  bool unwound = false;
  auto slow = [](bool* flag) -> Task<> {
    SetOnDestroy g{flag};
    co_await sleep(10s);
  };
  EXPECT_THROW(io_loop().run_sync([&] { return slow(&unwound); }, 10ms), TimeoutError);
  EXPECT_TRUE(unwound) << "run_sync returns after the cancelled task unwound";
}

TEST_F(CancelTest, CancellingWhenAllCancelsItsChildren) {
  Outcome a, b;
  std::vector<Task<>> children;
  children.push_back(await_guarded(sleep(10s), &a));
  children.push_back(await_guarded(sleep(10s), &b));
  Future<void> f = spawn(when_all(std::move(children)));
  f.cancel();
  spin();
  EXPECT_TRUE(f.cancelled());
  EXPECT_TRUE(a.got_cancelled && a.unwound);
  EXPECT_TRUE(b.got_cancelled && b.unwound);
}

TEST_F(CancelTest, ACancelledChildDoesNotCancelItsSiblings) {
  // asyncio.gather: one child's CancelledError is its failure, not the group's cancel.
  Outcome sibling;
  Future<int> pending;
  auto body = [](Future<int> p, Outcome* o) -> Task<> {
    auto both = co_await when_all(p, await_guarded(sleep(20ms), o));
    (void)both;
  };
  Future<void> group = spawn(body(pending, &sibling));
  pending.cancel();
  run_sync([group]() -> Task<> {
    try {
      co_await group;
    } catch (const CancelledError&) {
    }
  });
  run_sync([]() -> Task<> { co_await sleep(30ms); });
  EXPECT_TRUE(sibling.resumed_normally);
  EXPECT_FALSE(sibling.got_cancelled);
}

}  // namespace

}  // namespace cancel_test
