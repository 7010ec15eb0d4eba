// Graceful drain (tornado/drain.h, tornado/draining.h): a request in flight completes with its
// whole response (Connection: close), idle keep-alive connections are closed, connections
// queued in the backlog are served rather than reset, new connections are refused once the
// listener closed, WebSocket clients get 1001, SSE streams end with a retry: hint, a long poll
// watching the draining signal is answered, the deadline cuts a request that never finishes,
// SIGTERM starts it through the loop's signalfd (a second signal cuts it short), and N loop
// threads all drain and stop.
//
// The server runs on loop threads of its own; the clients here are blocking sockets on the
// test's thread (so the file is a concurrency test: label tsan).
#include "tornado/drain.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "tornado/draining.h"
#include "tornado/locks.h"
#include "tornado/testing.h"
#include "tornado/web.h"
#include "tornado/web/event_source.h"
#include "tornado/websocket.h"

namespace drain_test {

using namespace tornado;
using namespace std::chrono_literals;

namespace {

struct Fast : web::RequestHandler {
  Task<> get() override {
    write("fast");
    co_return;
  }
};

// Answers after 300 ms.
struct Slow : web::RequestHandler {
  Task<> get() override {
    co_await sleep(300ms);
    write("slow done");
  }
};

// Never answers; ends only when its connection is closed under it.
struct Never : web::RequestHandler {
  Task<> get() override {
    while (!gone_) co_await sleep(5ms);
  }
  void on_connection_close() override { gone_ = true; }
  bool gone_ = false;
};

// A long poll: waits up to 30 s for its own event, which the draining signal also sets.
struct Poll : web::RequestHandler {
  Task<> get() override {
    auto ready = std::make_shared<locks::Event>();
    auto watch = draining::watch([ready] { ready->set(); });
    try {
      co_await ready->wait(std::chrono::seconds(30));
    } catch (const TimeoutError&) {
    }
    write(draining::active() ? "reconnect" : "timeout");
  }
};

struct Echo : websocket::WebSocketHandler {
  Task<> on_message(std::string message, bool binary) override {
    co_await write_message(message, binary);
  }
};

struct Events : web::EventSourceHandler {
  Task<> open() override {
    co_await send("hello");
  }
  std::optional<Duration> heartbeat_interval() const override { return std::nullopt; }
};

std::vector<web::URLSpec> routes() {
  return {{"/fast", web::handler<Fast>()},   {"/slow", web::handler<Slow>()},
          {"/never", web::handler<Never>()}, {"/poll", web::handler<Poll>()},
          {"/ws", web::handler<Echo>()},     {"/events", web::handler<Events>()}};
}

// One server loop on a thread of its own, registered with `drain`; the thread ends when the
// drain stops the loop.
class ServerThread {
 public:
  ServerThread(Drain& drain, int listen_fd, bool handle_signals = false) {
    std::atomic<bool> ready{false};
    thread_ = std::thread([this, &drain, listen_fd, handle_signals, &ready] {
      IOLoop loop;
      loop_ = &loop;
      HTTPServer server(std::make_shared<web::Application>(routes()));
      server.add_sockets({listen_fd});
      drain.add(server);
      if (handle_signals) drain.handle_signals();
      loop.add_callback([&ready] { ready = true; });
      loop.start();
      draining::reset_for_tests();
    });
    while (!ready) std::this_thread::sleep_for(1ms);
  }
  ~ServerThread() { join(); }
  void join() {
    if (thread_.joinable()) thread_.join();
  }
  IOLoop& loop() { return *loop_; }

 private:
  IOLoop* loop_ = nullptr;
  std::thread thread_;
};

// ---- blocking clients ----

int connect_to(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    int err = errno;
    ::close(fd);
    errno = err;
    return -1;
  }
  return fd;
}

void send_all(int fd, const std::string& data) {
  ASSERT_EQ(::send(fd, data.data(), data.size(), MSG_NOSIGNAL), static_cast<ssize_t>(data.size()));
}

std::string get(const std::string& path) {
  return "GET " + path + " HTTP/1.1\r\nHost: localhost\r\n\r\n";
}

// Reads until the peer closes (or 5 s pass): everything received.
std::string read_to_close(int fd) {
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  return out;
}

// Reads one response with a Content-Length body.
std::string read_response(int fd) {
  std::string out;
  char buf[4096];
  for (;;) {
    auto end = out.find("\r\n\r\n");
    if (end != std::string::npos) {
      auto cl = out.find("Content-Length: ");
      std::size_t length = cl == std::string::npos ? 0 : std::stoul(out.substr(cl + 16));
      if (out.size() >= end + 4 + length) return out;
    }
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return out;
    out.append(buf, static_cast<std::size_t>(n));
  }
}

// True if the peer closed (EOF or reset) within `limit`, with nothing more sent.
bool closed_within(int fd, std::chrono::milliseconds limit) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(limit.count())) != 1) return false;
  char c;
  return ::recv(fd, &c, 1, MSG_DONTWAIT) <= 0;
}

class DrainTest : public ::testing::Test {
 protected:
  void SetUp() override { std::tie(listen_fd_, port_) = tornado::testing::bind_unused_port(true); }
  int listen_fd_ = -1;
  int port_ = 0;
};

std::unique_ptr<ServerThread> start_server(Drain& drain, int fd, bool signals = false) {
  auto s = std::make_unique<ServerThread>(drain, fd, signals);
  return s;
}

DrainOptions quick(Duration timeout = 5s) {
  DrainOptions o;
  o.timeout = timeout;
  o.accept_settle = 50ms;
  o.idle_grace = 200ms;
  return o;
}

}  // namespace

TEST_F(DrainTest, RequestInFlightCompletesWithItsWholeResponseAndConnectionClose) {
  Drain drain(quick());
  auto server = start_server(drain, listen_fd_);
  int fd = connect_to(port_);
  ASSERT_GE(fd, 0);
  send_all(fd, get("/slow"));
  std::this_thread::sleep_for(50ms);
  drain.start();
  std::string response = read_to_close(fd);
  EXPECT_EQ(response.substr(0, 15), "HTTP/1.1 200 OK");
  EXPECT_NE(response.find("\r\nConnection: close\r\n"), std::string::npos) << response;
  EXPECT_EQ(response.substr(response.size() - 9), "slow done");
  ::close(fd);
  server->join();
  EXPECT_TRUE(drain.finished());
  EXPECT_EQ(drain.cut_count(), 0u);
}

TEST_F(DrainTest, IdleKeepAliveConnectionIsClosed) {
  Drain drain(quick());
  auto server = start_server(drain, listen_fd_);
  int fd = connect_to(port_);
  send_all(fd, get("/fast"));
  std::string first = read_response(fd);
  ASSERT_EQ(first.substr(0, 15), "HTTP/1.1 200 OK");
  EXPECT_EQ(first.find("Connection: close"), std::string::npos);  // kept alive
  drain.start();
  EXPECT_TRUE(closed_within(fd, 1000ms));  // after idle_grace (200 ms here)
  ::close(fd);
  server->join();
  EXPECT_EQ(drain.cut_count(), 0u);
}

// Within idle_grace, a keep-alive client's next request is still served, with a close.
TEST_F(DrainTest, KeepAliveRequestDuringTheIdleGraceIsAnsweredWithConnectionClose) {
  Drain drain(quick());
  auto server = start_server(drain, listen_fd_);
  int fd = connect_to(port_);
  send_all(fd, get("/fast"));
  ASSERT_EQ(read_response(fd).substr(0, 15), "HTTP/1.1 200 OK");
  drain.start();
  std::this_thread::sleep_for(50ms);
  send_all(fd, get("/fast"));
  std::string second = read_to_close(fd);
  EXPECT_EQ(second.substr(0, 15), "HTTP/1.1 200 OK") << second;
  EXPECT_NE(second.find("\r\nConnection: close\r\n"), std::string::npos);
  ::close(fd);
  server->join();
}

TEST_F(DrainTest, NewConnectionsAfterTheListenerClosedAreRefused) {
  Drain drain(quick());
  auto server = start_server(drain, listen_fd_);
  int busy = connect_to(port_);  // keeps the loop draining a while
  send_all(busy, get("/slow"));
  std::this_thread::sleep_for(20ms);
  drain.start();
  std::this_thread::sleep_for(150ms);  // past accept_settle: the listener is closed
  int late = connect_to(port_);
  EXPECT_EQ(late, -1);
  EXPECT_EQ(errno, ECONNREFUSED);
  EXPECT_NE(read_to_close(busy).find("slow done"), std::string::npos);
  ::close(busy);
  server->join();
}

// Connections that completed their handshake while the loop was busy sit in the listening
// socket's backlog when the drain starts: they are accepted and served, not reset.
TEST_F(DrainTest, ConnectionsQueuedInTheBacklogAreServedNotReset) {
  Drain drain(quick());
  auto server = start_server(drain, listen_fd_);
  std::atomic<bool> blocked{false};
  server->loop().add_callback([&blocked] {
    blocked = true;
    std::this_thread::sleep_for(300ms);  // the loop accepts nothing meanwhile
  });
  while (!blocked) std::this_thread::sleep_for(1ms);
  std::vector<int> queued;
  for (int i = 0; i < 8; ++i) {
    int fd = connect_to(port_);  // completes in the kernel: the backlog
    ASSERT_GE(fd, 0);
    send_all(fd, get("/fast"));
    queued.push_back(fd);
  }
  drain.start();  // runs after the blocking callback
  for (int fd : queued) {
    std::string response = read_to_close(fd);
    EXPECT_EQ(response.substr(0, 15), "HTTP/1.1 200 OK") << response;
    ::close(fd);
  }
  server->join();
}

// A restart in one process: B listens on the same port (SO_REUSEPORT) while A drains. The
// connection attempts that the kernel hands to A once its SYN filter is on are dropped and
// retried (1 s later), by then at B: every client gets its answer, none is reset or refused.
TEST_F(DrainTest, ConnectionsDuringTheDrainGoToTheOtherListenerOnThePort) {
  DrainOptions slow_settle = quick();
  slow_settle.accept_settle = 300ms;
  Drain drain_a(slow_settle);
  Drain drain_b(quick());
  auto a = start_server(drain_a, listen_fd_);
  auto b = start_server(drain_b, bind_sockets(port_, "127.0.0.1", AF_INET, 128, true).front());
  drain_a.start();
  std::this_thread::sleep_for(20ms);  // A's filter is on, its listener still open
  std::vector<std::thread> clients;
  std::atomic<int> answered{0};
  for (int i = 0; i < 16; ++i) {
    clients.emplace_back([this, &answered] {
      int fd = connect_to(port_);
      if (fd < 0) return;
      std::string request = get("/fast");
      if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) > 0 &&
          read_response(fd).substr(0, 15) == "HTTP/1.1 200 OK") {
        ++answered;
      }
      ::close(fd);
    });
  }
  for (auto& c : clients) c.join();
  EXPECT_EQ(answered.load(), 16);
  a->join();
  EXPECT_TRUE(drain_a.finished());
  EXPECT_FALSE(drain_b.started());
  drain_b.start();
  b->join();
}

TEST_F(DrainTest, WebSocketClientGetsGoingAway1001) {
  Drain drain(quick());
  auto server = start_server(drain, listen_fd_);
  int fd = connect_to(port_);
  send_all(fd,
           "GET /ws HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
  std::string head = read_response(fd);
  ASSERT_EQ(head.substr(0, 12), "HTTP/1.1 101") << head;
  drain.start();
  unsigned char frame[128];
  ssize_t n = ::recv(fd, frame, sizeof frame, 0);
  ASSERT_GE(n, 4);
  EXPECT_EQ(frame[0], 0x88);  // FIN + close
  EXPECT_EQ((frame[2] << 8) | frame[3], 1001);
  // Our answer (masked, as a client's frames are) completes the closing handshake.
  const unsigned char reply[] = {0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe9};
  ASSERT_EQ(::send(fd, reply, sizeof reply, MSG_NOSIGNAL), 8);
  EXPECT_TRUE(closed_within(fd, 1000ms));
  ::close(fd);
  server->join();
  EXPECT_EQ(drain.cut_count(), 0u);
}

TEST_F(DrainTest, SseStreamEndsWithARetryHint) {
  Drain drain(quick());
  auto server = start_server(drain, listen_fd_);
  int fd = connect_to(port_);
  send_all(fd, get("/events"));
  std::this_thread::sleep_for(50ms);
  drain.start();
  std::string body = read_to_close(fd);
  EXPECT_NE(body.find("text/event-stream"), std::string::npos);
  EXPECT_NE(body.find("data: hello\n"), std::string::npos);
  EXPECT_NE(body.find("\nretry: "), std::string::npos) << body;
  EXPECT_EQ(body.substr(body.size() - 5), "0\r\n\r\n");  // the chunked body's end
  ::close(fd);
  server->join();
  EXPECT_EQ(drain.cut_count(), 0u);
}

TEST_F(DrainTest, LongPollWatchingTheDrainingSignalIsAnswered) {
  Drain drain(quick());
  auto server = start_server(drain, listen_fd_);
  int fd = connect_to(port_);
  send_all(fd, get("/poll"));
  std::this_thread::sleep_for(50ms);
  auto began = std::chrono::steady_clock::now();
  drain.start();
  std::string response = read_to_close(fd);
  EXPECT_LT(std::chrono::steady_clock::now() - began, 1s);
  EXPECT_EQ(response.substr(response.size() - 9), "reconnect") << response;
  ::close(fd);
  server->join();
}

TEST_F(DrainTest, DeadlineClosesARequestThatNeverFinishes) {
  Drain drain(quick(300ms));
  auto server = start_server(drain, listen_fd_);
  int fd = connect_to(port_);
  send_all(fd, get("/never"));
  std::this_thread::sleep_for(50ms);
  auto began = std::chrono::steady_clock::now();
  drain.start();
  EXPECT_TRUE(closed_within(fd, 2000ms));
  auto took = std::chrono::steady_clock::now() - began;
  EXPECT_GE(took, 250ms);
  EXPECT_LT(took, 1500ms);
  ::close(fd);
  server->join();
  EXPECT_EQ(drain.cut_count(), 1u);
}

TEST_F(DrainTest, SigtermStartsTheDrainThroughTheSignalfd) {
  Drain::block_signals();  // this thread too: the signal must reach the loop's signalfd
  Drain drain(quick());
  auto server = start_server(drain, listen_fd_, /*signals=*/true);
  int fd = connect_to(port_);
  send_all(fd, get("/slow"));
  std::this_thread::sleep_for(50ms);
  ASSERT_EQ(::kill(::getpid(), SIGTERM), 0);
  std::string response = read_to_close(fd);
  EXPECT_NE(response.find("Connection: close"), std::string::npos);
  EXPECT_EQ(response.substr(response.size() - 9), "slow done");
  ::close(fd);
  server->join();
  EXPECT_TRUE(drain.started());
  EXPECT_TRUE(drain.finished());
}

// The operator's "now": a second signal during the drain closes what is left at once.
TEST_F(DrainTest, SecondSignalCutsTheDrainShort) {
  Drain::block_signals();
  Drain drain(quick(30s));
  auto server = start_server(drain, listen_fd_, /*signals=*/true);
  int fd = connect_to(port_);
  send_all(fd, get("/never"));
  std::this_thread::sleep_for(50ms);
  ASSERT_EQ(::kill(::getpid(), SIGINT), 0);
  std::this_thread::sleep_for(100ms);
  EXPECT_FALSE(closed_within(fd, 0ms));  // draining, the request still in flight
  auto began = std::chrono::steady_clock::now();
  ASSERT_EQ(::kill(::getpid(), SIGINT), 0);
  EXPECT_TRUE(closed_within(fd, 2000ms));
  EXPECT_LT(std::chrono::steady_clock::now() - began, 1s);  // not the 30 s deadline
  ::close(fd);
  server->join();
  EXPECT_EQ(drain.cut_count(), 1u);
}

TEST_F(DrainTest, EveryLoopOfAMultiLoopProcessDrainsAndStops) {
  Drain drain(quick());
  std::vector<std::unique_ptr<ServerThread>> loops;
  loops.push_back(start_server(drain, listen_fd_));
  for (int i = 1; i < 3; ++i) {
    int fd = bind_sockets(port_, "127.0.0.1", AF_INET, 128, /*reuse_port=*/true).front();
    loops.push_back(start_server(drain, fd));
  }
  std::vector<int> clients;
  for (int i = 0; i < 12; ++i) {
    int fd = connect_to(port_);
    ASSERT_GE(fd, 0);
    send_all(fd, get("/slow"));
    clients.push_back(fd);
  }
  std::this_thread::sleep_for(50ms);
  drain.start();
  for (int fd : clients) {
    EXPECT_NE(read_to_close(fd).find("slow done"), std::string::npos);
    ::close(fd);
  }
  for (auto& l : loops) l->join();
  EXPECT_TRUE(drain.finished());
  EXPECT_EQ(drain.cut_count(), 0u);
}

TEST(DrainOptionsTest, NegativeDurationsAreRefused) {
  DrainOptions o;
  o.timeout = Duration(-1);
  EXPECT_THROW(Drain{o}, std::invalid_argument);
}

// A Drain that goes before its loop (one made in a setup function, say) takes the signal
// handlers it installed on this thread's loop with it: a signal afterwards would otherwise
// run a handler of a destroyed Drain.
TEST(DrainLifetimeTest, DestroyedDrainLeavesNoSignalHandlerBehind) {
  Drain::block_signals({SIGUSR2});
  IOLoop loop;
  {
    auto drain = std::make_unique<Drain>(quick());
    drain->add_loop();
    drain->handle_signals({SIGUSR2});
  }
  ASSERT_EQ(::kill(::getpid(), SIGUSR2), 0);
  loop.run_sync([]() -> Task<> { co_await sleep(100ms); });
  EXPECT_FALSE(loop.remove_signal_handler(SIGUSR2)) << "the destroyed Drain's handler is left";
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR2);
  timespec zero{};
  ::sigtimedwait(&set, nullptr, &zero);  // the signal nobody handled
}

// Asked twice, cut before anything is in flight, with a zero deadline and settle, on a
// loop that has no server: the drain still ends and stops the loop.
TEST(DrainEdgeTest, TwiceCutAndZeroDeadlineWithNoListenersStopsTheLoop) {
  IOLoop loop;
  DrainOptions o;
  o.timeout = Duration(0);
  o.accept_settle = Duration(0);
  o.idle_grace = Duration(0);
  Drain drain(o);
  drain.add_loop();
  drain.start();  // before the loop runs: the drain begins when it does
  drain.start();
  drain.cut();
  loop.add_timeout(loop.time() + 5, [&loop] { loop.stop(); });  // the test's own bound
  loop.start();
  EXPECT_TRUE(drain.finished());
  EXPECT_EQ(drain.cut_count(), 0u);
  draining::reset_for_tests();
}

// A loop that takes the signals without having been added (handle_signals alone): the
// signal is no longer the process's default action (the signalfd took it), so the drain it
// starts must at least stop that loop, or SIGTERM would be swallowed.
TEST(DrainEdgeTest, SignalOnALoopNeverAddedStillStopsThatLoop) {
  Drain::block_signals({SIGUSR2});
  IOLoop loop(/*make_current=*/true);
  Drain drain(quick());
  drain.handle_signals({SIGUSR2});
  bool stopped_by_the_test = false;
  loop.add_callback([] { ::kill(::getpid(), SIGUSR2); });
  loop.call_later(Duration(5), [&] {
    stopped_by_the_test = true;
    loop.stop();
  });
  loop.start();
  EXPECT_FALSE(stopped_by_the_test) << "SIGUSR2 was taken and nothing stopped";
  EXPECT_TRUE(drain.finished());
  draining::reset_for_tests();
}

// stop_gracefully cut short (a with_timeout around it, a cancelled task) must not leave its
// listening sockets open behind the SYN filter: every new connection would then vanish
// without an answer. It falls back to stop(), as the drain does when it fails.
TEST(StopGracefullyTest, CancelledStopGracefullyStillStopsTheServer) {
  IOLoop loop(/*make_current=*/true);
  auto [fd, port] = tornado::testing::bind_unused_port();
  HTTPServer server(std::make_shared<web::Application>(routes()));
  server.add_sockets({fd});
  loop.run_sync([&]() -> Task<> {
    try {
      co_await with_timeout(Duration(0.02), server.stop_gracefully(Duration(5)));
      ADD_FAILURE() << "the 5 s settle ended within 20 ms";
    } catch (const TimeoutError&) {
    }
  });
  EXPECT_TRUE(server.listening_addresses().empty()) << "still listening, behind the filter";
  int c = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(port));
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::connect(c, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
  pollfd p{c, POLLOUT, 0};
  ASSERT_EQ(::poll(&p, 1, 2000), 1) << "a connection attempt got no answer (SYNs dropped)";
  int err = 0;
  socklen_t len = sizeof err;
  ::getsockopt(c, SOL_SOCKET, SO_ERROR, &err, &len);
  EXPECT_EQ(err, ECONNREFUSED);
  ::close(c);
}

}  // namespace drain_test
