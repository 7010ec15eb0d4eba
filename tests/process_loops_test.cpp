// Loop per core: bind_loop_sockets, LoopThreads (an Application and a TCPServer on N loop
// threads sharing one port) and serve_on_all_cores stopped by SIGTERM. Threads: tsan label.
#include <gtest/gtest.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <future>
#include <set>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>

#include "process_test_util.h"
#include "tornado/httpserver.h"
#include "tornado/netutil.h"
#include "tornado/process.h"
#include "tornado/tcpserver.h"
#include "tornado/web.h"

namespace process_loops_test {

using namespace tornado;
using tornado::test::http_get;

namespace {

// Answers with the index of the loop that served it.
struct LoopIndexHandler : web::RequestHandler {
  void initialize(int index) { index_ = index; }
  Task<> get() override {
    write(std::to_string(index_));
    co_return;
  }

 private:
  int index_ = -1;
};

std::unique_ptr<TCPServer> index_server(int index) {
  auto app = std::make_shared<web::Application>(
      std::vector<web::URLSpec>{{"/", web::handler<LoopIndexHandler>(index)}});
  return std::make_unique<HTTPServer>(app);
}

// Fetches / on new connections until every loop index has answered (SO_REUSEPORT spreads
// connections by their source port), at most 400 times.
std::set<std::string> indexes_answering(int port, std::size_t loops) {
  std::set<std::string> seen;
  for (int i = 0; i < 400 && seen.size() < loops; ++i) {
    auto reply = http_get(port, "/");
    if (!reply || reply->status != 200) break;
    seen.insert(reply->body);
  }
  return seen;
}

TEST(LoopThreadsTest, BindLoopSocketsGivesEachLoopItsOwnSocketsOnOnePort) {
  auto sockets = process::bind_loop_sockets(0, "127.0.0.1", 3);
  ASSERT_EQ(sockets.fds.size(), 3u);
  EXPECT_GT(sockets.port, 0);
  std::set<int> all;
  for (const auto& set : sockets.fds) {
    ASSERT_EQ(set.size(), 1u);
    EXPECT_EQ(sock_name(set[0]).port(), sockets.port);
    all.insert(set[0]);
  }
  EXPECT_EQ(all.size(), 3u);
  for (int fd : all) ::close(fd);
  EXPECT_THROW(process::bind_loop_sockets(0, "127.0.0.1", 0), std::invalid_argument);
}

TEST(LoopThreadsTest, ApplicationOnEveryLoopSharesOnePort) {
  process::LoopThreads loops({.port = 0, .address = "127.0.0.1", .threads = 3});
  EXPECT_EQ(loops.size(), 3);
  loops.start(index_server);
  EXPECT_EQ(indexes_answering(loops.port(), 3), (std::set<std::string>{"0", "1", "2"}));
  loops.stop();
  loops.join();
  EXPECT_FALSE(http_get(loops.port(), "/")) << "still listening after stop";
}

// A TCPServer, and a connection still open when the loops stop: it is closed with its loop.
TEST(LoopThreadsTest, TCPServerEchoesOnEveryLoopAndStopsWithConnectionsOpen) {
  struct Echo : TCPServer {
    Task<> handle_stream(std::shared_ptr<IOStream> stream, std::string) override {
      try {
        for (;;) co_await stream->write(co_await stream->read_until("\n"));
      } catch (const StreamClosedError&) {
      }
    }
  };
  process::LoopThreads loops({.address = "127.0.0.1", .threads = 2});
  loops.start([](int) { return std::make_unique<Echo>(); });
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(loops.port()));
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ASSERT_EQ(::send(fd, "ping\n", 5, 0), 5);
  char buf[16] = {};
  ASSERT_EQ(::recv(fd, buf, sizeof buf, 0), 5);
  EXPECT_EQ(std::string(buf, 5), "ping\n");
  loops.stop();  // the connection is still open
  loops.join();
  ::close(fd);
}

// An HTTP/1.1 keep-alive connection idle on a loop when it stops: the HTTPServer is
// destroyed on its thread with the connection open, and the client sees it closed.
TEST(LoopThreadsTest, ApplicationStopsWithAKeepAliveConnectionOpen) {
  process::LoopThreads loops({.address = "127.0.0.1", .threads = 2});
  loops.start(index_server);
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(loops.port()));
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::string request = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT_EQ(::send(fd, request.data(), request.size(), 0), static_cast<ssize_t>(request.size()));
  char buf[1024];
  ASSERT_GT(::recv(fd, buf, sizeof buf, 0), 0);  // the answer; the connection stays open
  loops.stop();
  loops.join();
  ssize_t n;
  while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) {
  }
  EXPECT_EQ(n, 0) << "the connection was not closed with its loop";
  ::close(fd);
}

TEST(LoopThreadsTest, FactoryThatThrowsStopsEveryLoopAndRethrows) {
  process::LoopThreads loops({.address = "127.0.0.1", .threads = 3});
  EXPECT_THROW(loops.start([](int index) -> std::unique_ptr<TCPServer> {
    if (index == 1) throw std::runtime_error("no server for loop 1");
    return index_server(index);
  }),
               std::runtime_error);
  EXPECT_FALSE(http_get(loops.port(), "/"));
  EXPECT_THROW(loops.start(index_server), std::logic_error);
}

// What each fork_processes worker does to share a port with its siblings: one loop, with
// reuse_port. Two such servers (as two processes would) bind one port and both answer.
TEST(LoopThreadsTest, ReusePortLetsSingleLoopServersShareAPort) {
  process::LoopThreads first({.address = "127.0.0.1", .threads = 1, .reuse_port = true});
  process::LoopThreads second(
      {.port = first.port(), .address = "127.0.0.1", .threads = 1, .reuse_port = true});
  first.start([](int) { return index_server(0); });
  second.start([](int) { return index_server(1); });
  EXPECT_EQ(indexes_answering(first.port(), 2), (std::set<std::string>{"0", "1"}));
  // Without reuse_port a single loop's port is its own.
  process::LoopThreads alone({.address = "127.0.0.1", .threads = 1});
  EXPECT_THROW(process::LoopThreads({.port = alone.port(), .address = "127.0.0.1", .threads = 1}),
               std::system_error);
}

TEST(LoopThreadsTest, NeverStartedClosesItsSockets) {
  int port;
  {
    process::LoopThreads loops({.address = "127.0.0.1", .threads = 2});
    port = loops.port();
  }
  // The port is free again: an exclusive bind succeeds.
  auto fds = bind_sockets(port, "127.0.0.1");
  for (int fd : fds) ::close(fd);
}

// serve_on_all_cores serves until SIGTERM reaches its thread, then stops every loop.
TEST(LoopThreadsTest, ServeOnAllCoresRunsUntilSigterm) {
  std::promise<int> listening;
  auto port_future = listening.get_future();
  std::promise<void> finished;
  auto finished_future = finished.get_future();
  std::thread server([&] {
    process::serve_on_all_cores({.address = "127.0.0.1", .threads = 2}, index_server,
                                [&](int port) { listening.set_value(port); });
    finished.set_value();
  });
  ASSERT_EQ(port_future.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  const int port = port_future.get();
  EXPECT_EQ(indexes_answering(port, 2), (std::set<std::string>{"0", "1"}));
  ::pthread_kill(server.native_handle(), SIGTERM);
  bool ended = finished_future.wait_for(std::chrono::seconds(10)) == std::future_status::ready;
  EXPECT_TRUE(ended);
  if (!ended) std::abort();  // a hung join would hang the test runner
  server.join();
  EXPECT_FALSE(http_get(port, "/"));
}

}  // namespace

}  // namespace process_loops_test
