// Objects that outlive their IOLoop, or are used while another loop is current: each keeps a
// LoopRef (the loop's liveness token), never a raw IOLoop*. Before LoopRef, under ASan, the
// PeriodicCallback, Condition, Queue and Connector tests were use-after-free reports and the
// IOStream tests failed with "fd already registered"; the accept handler's remover was
// already safe (its state dies with its registration) and is kept as a contract test.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <optional>
#include <string>
#include <system_error>

#include "tornado/ioloop.h"
#include "tornado/iostream.h"
#include "tornado/locks.h"
#include "tornado/netutil.h"
#include "tornado/queues.h"
#include "tornado/tcpclient.h"
#include "tornado/testing_core.h"

namespace loop_lifetime_test {

using namespace tornado;

namespace {

std::pair<int, int> socket_pair() {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) != 0) {
    throw std::system_error(errno, std::generic_category(), "socketpair");
  }
  return {fds[0], fds[1]};
}

// Runs the current loop for one iteration, so posted callbacks run.
void run_one_iteration(IOLoop& loop) {
  loop.run_sync([]() -> Task<> { co_await moment{}; });
}

TEST(LoopRefTest, ReportsTheLoopUntilItCloses) {
  LoopRef ref;
  EXPECT_EQ(ref.get(), nullptr);
  EXPECT_FALSE(ref.add_callback([] {}));
  {
    IOLoop loop(true);
    ref = loop.ref();
    EXPECT_EQ(ref.get(), &loop);
    EXPECT_TRUE(ref.refers_to(loop));
    EXPECT_TRUE(ref.add_callback([] {}));
    loop.close();
    EXPECT_EQ(ref.get(), nullptr);
    EXPECT_TRUE(ref.refers_to(loop));
    EXPECT_FALSE(ref.add_callback([] {}));  // dropped, not queued on a closed loop
  }
  EXPECT_EQ(ref.get(), nullptr);
  EXPECT_FALSE(ref.add_callback([] {}));
}

TEST(LoopRefTest, AddCallbackFromAnotherThreadRunsOnTheLoop) {
  IOLoop loop(true);
  bool ran = false;
  std::thread([ref = loop.ref(), &ran] {
    EXPECT_TRUE(ref.add_callback([&ran] { ran = true; }));
  }).join();
  run_one_iteration(loop);
  EXPECT_TRUE(ran);
}

// A test fixture whose PeriodicCallback member is destroyed after AsyncTest::TearDown
// destroyed the loop (members die after TearDown).
class PeriodicCallbackMemberTest : public tornado::testing::AsyncTest {
 protected:
  std::optional<PeriodicCallback> tick_;
};

TEST_F(PeriodicCallbackMemberTest, DestroyedAfterItsLoopIsSafe) {
  int runs = 0;
  tick_.emplace([&runs] { ++runs; }, Duration(0.001));
  tick_->start();
  run_sync([]() -> Task<> { co_await sleep(Duration(0.01)); });
  EXPECT_GE(runs, 1);
  // TearDown destroys the loop with the tick still scheduled; then tick_ is destroyed.
}

TEST(PeriodicCallbackLifetimeTest, StopAndRestartAfterItsLoopClosed) {
  PeriodicCallback tick([] {}, Duration(0.001));
  {
    IOLoop loop(true);
    tick.start();
  }
  tick.stop();  // the timer went with the loop
  EXPECT_FALSE(tick.is_running());
  IOLoop next(true);
  int runs = 0;
  PeriodicCallback again([&] { ++runs; }, Duration(0.001));
  again.start();
  tick.start();  // on the new current loop
  EXPECT_TRUE(tick.is_running());
  next.run_sync([]() -> Task<> { co_await sleep(Duration(0.01)); });
  EXPECT_GE(runs, 1);
}

TEST(ConditionLifetimeTest, TimedWaiterNotifiedAfterItsLoopIsGone) {
  locks::Condition cond;
  Future<bool> waited;
  {
    IOLoop loop(true);
    waited = cond.wait(Duration(1));  // arms a timer on `loop`
  }
  IOLoop next(true);
  cond.notify();  // cancels the waiter's timer: must not touch the destroyed loop
  ASSERT_TRUE(waited.done());
  EXPECT_TRUE(waited.result());
}

TEST(QueueLifetimeTest, TimedGetterServedAfterItsLoopIsGone) {
  queues::Queue<int> q;
  Future<int> got;
  {
    IOLoop loop(true);
    got = q.get(Duration(1));
  }
  IOLoop next(true);
  q.put_nowait(7);
  ASSERT_TRUE(got.done());
  EXPECT_EQ(got.result(), 7);
}

struct FakeStream {
  bool closed = false;
  void close() { closed = true; }
};
using FakeConnector = tornado::detail::Connector<FakeStream, std::string>;

TEST(ConnectorLifetimeTest, AttemptFinishingAfterItsLoopIsGone) {
  auto stream = std::make_shared<FakeStream>();
  Future<std::shared_ptr<FakeStream>> attempt;
  std::shared_ptr<FakeConnector> connector;
  Future<FakeConnector::Result> result;
  {
    IOLoop loop(true);
    connector = FakeConnector::create({{1, "a"}}, [&](int, const std::string&) {
      return FakeConnector::Attempt{stream, attempt};
    });
    result = connector->start(Duration(3600), loop.time() + 3600);
  }
  IOLoop next(true);
  attempt.set_result(stream);  // the connector clears its timers: they went with the loop
  run_one_iteration(next);
  ASSERT_TRUE(result.done());
  EXPECT_EQ(result.result().address, "a");
  EXPECT_FALSE(stream->closed);
}

TEST(AcceptHandlerLifetimeTest, RemoverAfterItsLoopIsGoneIsANoop) {
  auto [fd, port] = tornado::testing::bind_unused_port();
  (void)port;
  std::function<void()> remove;
  {
    IOLoop loop(true);
    remove = add_accept_handler(fd, [](int conn, const ResolvedAddress&) { ::close(conn); });
  }
  IOLoop next(true);
  remove();
  ::close(fd);
}

TEST(IOStreamLifetimeTest, ClosedWhileAnotherLoopIsCurrentLeavesItsOwnLoop) {
  IOLoop first(true);
  auto [a, b] = socket_pair();
  auto stream = IOStream::create(a);
  {
    IOLoop second(true);  // current while the stream closes
    stream->close();
  }
  first.make_current();
  ::close(b);
  // The fd number is free again; the next socket that gets it must register on `first`.
  auto [c, d] = socket_pair();
  ASSERT_EQ(c, a) << "the kernel hands out the lowest free fd";
  std::shared_ptr<IOStream> next;
  EXPECT_NO_THROW(next = IOStream::create(c));
  ::close(d);
}

TEST(IOStreamLifetimeTest, DestroyedWhileAnotherLoopIsCurrentLeavesItsOwnLoop) {
  IOLoop first(true);
  auto [a, b] = socket_pair();
  auto stream = IOStream::create(a);
  {
    IOLoop second(true);
    stream.reset();
  }
  first.make_current();
  ::close(b);
  auto [c, d] = socket_pair();
  ASSERT_EQ(c, a);
  std::shared_ptr<IOStream> next;
  EXPECT_NO_THROW(next = IOStream::create(c));
  ::close(d);
}

}  // namespace

}  // namespace loop_lifetime_test
