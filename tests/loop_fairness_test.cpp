// Loop fairness: a coroutine whose I/O awaits all complete at once (a write the kernel takes
// whole, a read the buffer or the socket satisfies at once) must still let its loop run the
// other connections, timers and callbacks (IOLoop::set_max_inline_completions). Tornado gets
// this from asyncio, where every await of write_message goes through the loop.
//
// The IOStream cases use streams whose transport hooks never block (a kernel that takes every
// byte, a peer that always has more), so they are deterministic. The WebSocket cases use real
// sockets and peers on threads of their own (a flood to a reader that keeps up, a flood from
// a writer the server cannot keep up with) and time a plain HTTP request made meanwhile.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "tornado/iostream.h"
#include "tornado/testing.h"
#include "tornado/websocket.h"
#include "websocket_frame_builder.h"

namespace loop_fairness_test {

using namespace tornado;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// How long a starving producer runs at most, so that a regression fails instead of hanging.
constexpr auto kProducerCap = 3s;
// What "served meanwhile" means: well under the cap, far over a loop turn.
constexpr auto kServedWithin = 1s;

// ---- streams whose transport never blocks ------------------------------------------------

// The kernel takes every byte at once (a peer that reads as fast as we write).
struct BottomlessStream : IOStream {
  static std::shared_ptr<BottomlessStream> make(int fd) {
    return std::shared_ptr<BottomlessStream>(new BottomlessStream(fd));
  }
  std::size_t written = 0;

 protected:
  explicit BottomlessStream(int fd) : IOStream(fd, {}) {}
  ssize_t write_to_fd(const struct iovec* iov, int count) override {
    std::size_t n = 0;
    for (int i = 0; i < count; ++i) n += iov[i].iov_len;
    written += n;
    return static_cast<ssize_t>(n);
  }
};

// The peer always has more: every read is filled whole.
struct EndlessStream : IOStream {
  static std::shared_ptr<EndlessStream> make(int fd) {
    return std::shared_ptr<EndlessStream>(new EndlessStream(fd));
  }

 protected:
  explicit EndlessStream(int fd) : IOStream(fd, {}) {}
  ssize_t read_from_fd(char* buf, std::size_t len) override {
    std::memset(buf, 'x', len);
    return static_cast<ssize_t>(len);
  }
};

// One end of a socketpair for the stream (the other end is closed at the end of the test).
struct SocketPair {
  int fds[2] = {-1, -1};
  SocketPair() { EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0); }
  ~SocketPair() {
    if (fds[1] >= 0) ::close(fds[1]);
  }
  int take() { return std::exchange(fds[0], -1); }
};

class IOStreamFairnessTest : public tornado::testing::AsyncTest {};

// Writes one byte per await until `stop` is set or the cap passes; returns the count.
Task<std::size_t> write_until(std::shared_ptr<IOStream> stream, const bool& stop) {
  const auto cap = Clock::now() + kProducerCap;
  std::size_t writes = 0;
  while (!stop && Clock::now() < cap) {
    co_await stream->write(std::string_view("x"));
    ++writes;
  }
  co_return writes;
}

TEST_F(IOStreamFairnessTest, WriterWhoseWritesCompleteAtOnceLetsATimerRun) {
  SocketPair pair;
  auto stream = BottomlessStream::make(pair.take());
  bool fired = false;
  const auto start = Clock::now();
  Clock::duration fired_after{};
  io_loop().call_later(10ms, [&] {
    fired = true;
    fired_after = Clock::now() - start;
  });
  const std::size_t writes = run_sync([&] { return write_until(stream, fired); }, 10s);
  ASSERT_TRUE(fired) << "the timer never ran: " << writes << " writes in "
                     << std::chrono::duration<double>(Clock::now() - start).count() << " s";
  EXPECT_LT(fired_after, kServedWithin) << writes << " writes ran before a 10 ms timer";
  EXPECT_EQ(stream->written, writes);
  stream->close();
}

TEST_F(IOStreamFairnessTest, ReaderOfAStreamThatIsAlwaysReadableLetsATimerRun) {
  SocketPair pair;
  auto stream = EndlessStream::make(pair.take());
  bool fired = false;
  const auto start = Clock::now();
  Clock::duration fired_after{};
  io_loop().call_later(10ms, [&] {
    fired = true;
    fired_after = Clock::now() - start;
  });
  const std::size_t bytes = run_sync(
      [&]() -> Task<std::size_t> {
        const auto cap = Clock::now() + kProducerCap;
        std::size_t total = 0;
        while (!fired && Clock::now() < cap) {
          co_await stream->fill_buffer();
          total += stream->read_buffer().size();
          stream->consume(stream->read_buffer().size());
        }
        co_return total;
      },
      10s);
  ASSERT_TRUE(fired) << "the timer never ran: " << bytes << " bytes read";
  EXPECT_LT(fired_after, kServedWithin) << bytes << " bytes were read before a 10 ms timer";
  stream->close();
}

// The longest run of equal values: the most awaits that completed in one loop iteration.
int longest_run(const std::vector<int>& iterations) {
  int longest = 0, run = 0;
  for (std::size_t i = 0; i < iterations.size(); ++i) {
    run = (i > 0 && iterations[i] == iterations[i - 1]) ? run + 1 : 1;
    longest = std::max(longest, run);
  }
  return longest;
}

// The reads a buffer already satisfies count too: a parser working through a large buffer
// in small reads yields as well.
TEST_F(IOStreamFairnessTest, ReadsSatisfiedFromTheBufferYieldAfterTheLimit) {
  SocketPair pair;
  auto stream = EndlessStream::make(pair.take());
  io_loop().set_max_inline_completions(4);
  // A callback that re-adds itself counts loop iterations.
  int iteration = 0;
  bool ticking = true;
  std::function<void()> tick = [&] {
    ++iteration;
    if (ticking) io_loop().add_callback(tick);
  };
  io_loop().add_callback(tick);
  std::vector<int> seen = run_sync([&]() -> Task<std::vector<int>> {
    std::vector<int> at;
    for (int i = 0; i < 40; ++i) {
      (void)co_await stream->read_bytes(1);  // 64 KiB arrive with the first: the rest buffered
      at.push_back(iteration);
    }
    co_return at;
  });
  ticking = false;
  // Each resumption from the loop completes at most 4 reads inline and a fifth that yields;
  // the stream may be resumed by two callbacks of one round (its flush or wake-up already
  // queued, and the yield's): at most 2 x 5 reads per iteration.
  EXPECT_LE(longest_run(seen), 10);
  EXPECT_GE(seen.back() - seen.front(), 40 / 10 - 1);
  stream->close();
}

TEST_F(IOStreamFairnessTest, ZeroInlineCompletionsMakesEveryWriteGoThroughTheLoop) {
  SocketPair pair;
  auto stream = BottomlessStream::make(pair.take());
  io_loop().set_max_inline_completions(0);
  EXPECT_EQ(io_loop().max_inline_completions(), 0u);
  int iteration = 0;
  bool ticking = true;
  std::function<void()> tick = [&] {
    ++iteration;
    if (ticking) io_loop().add_callback(tick);
  };
  io_loop().add_callback(tick);
  std::vector<int> seen = run_sync([&]() -> Task<std::vector<int>> {
    std::vector<int> at;
    for (int i = 0; i < 10; ++i) {
      co_await stream->write(std::string_view("y"));
      at.push_back(iteration);
    }
    co_return at;
  });
  ticking = false;
  // One write per resumption from the loop; the stream's flush and wake-up callbacks may both
  // resume it in one round, never more.
  EXPECT_LE(longest_run(seen), 2);
  EXPECT_GE(seen.back() - seen.front(), 10 / 2 - 1);
  EXPECT_EQ(stream->written, 10u);
  stream->close();
}

// A yielded write is still cancellable and its frame may be destroyed while it waits.
TEST_F(IOStreamFairnessTest, CancellingATaskWhoseWriteYieldedRaisesCancelledError) {
  SocketPair pair;
  auto stream = BottomlessStream::make(pair.take());
  io_loop().set_max_inline_completions(0);
  bool cancelled = false;
  run_sync([&]() -> Task<> {
    Future<void> writer = spawn([](std::shared_ptr<BottomlessStream> s, bool& c) -> Task<> {
      try {
        co_await s->write(std::string_view("z"));
      } catch (const CancelledError&) {
        c = true;
        throw;
      }
    }(stream, cancelled));
    writer.cancel();
    try {
      co_await writer;
    } catch (const CancelledError&) {
    }
  });
  EXPECT_TRUE(cancelled);
  EXPECT_EQ(stream->written, 1u);  // the bytes were handed over; only the wait was cancelled
  stream->close();
}

// ---- WebSocket floods beside a plain request --------------------------------------------

std::atomic<bool> g_stop{false};
std::atomic<bool> g_flooding{false};
std::atomic<long> g_messages{0};
std::atomic<bool> g_hit_cap{false};

// Sends deflated copies of a 10,000-byte message (a few bytes each on the wire) until told
// to stop: every write is taken by the kernel at once while the peer reads.
struct Flood : websocket::WebSocketHandler {
  std::optional<websocket::CompressionOptions> get_compression_options() override {
    return websocket::CompressionOptions();
  }
  Task<> on_message(std::string, bool) override {
    const std::string message(10000, 'a');
    const auto cap = Clock::now() + kProducerCap;
    g_flooding = true;
    while (!g_stop) {
      if (Clock::now() > cap) {
        g_hit_cap = true;
        break;
      }
      co_await write_message(message, true);
      ++g_messages;
    }
    close(1000);
  }
};

// Counts messages and handles each without suspending.
struct Sink : websocket::WebSocketHandler {
  Task<> on_message(std::string, bool) override {
    ++g_messages;
    g_flooding = true;
    co_return;
  }
};

struct Hello : web::RequestHandler {
  Task<> get() override {
    write("hello");
    co_return;
  }
};

// Blocking socket helpers for the peers' threads (they must not need the loop under test).
int connect_blocking(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(port));
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    ::close(fd);
    return -1;
  }
  timeval tv{5, 0};  // no peer thread can hang the test
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  return fd;
}

bool send_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

// Reads until `end` has been seen (or EOF/timeout); returns what was read.
std::string read_until(int fd, std::string_view end) {
  std::string got;
  char buf[4096];
  while (got.find(end) == std::string::npos) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    got.append(buf, static_cast<std::size_t>(n));
  }
  return got;
}

// Connects and upgrades; returns the fd, or -1 if the server did not answer 101.
int websocket_blocking(int port, const std::string& path, bool deflate) {
  int fd = connect_blocking(port);
  if (fd < 0) return -1;
  std::string req = "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) +
                    "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n";
  if (deflate) req += "Sec-WebSocket-Extensions: permessage-deflate\r\n";
  req += "\r\n";
  if (!send_all(fd, req) || !read_until(fd, "\r\n\r\n").starts_with("HTTP/1.1 101 ")) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// A GET /hello on its own connection; returns how long the answer took, or the cap when it
// did not come.
Clock::duration time_hello(int port) {
  const auto start = Clock::now();
  int fd = connect_blocking(port);
  if (fd < 0) return Clock::duration::max();
  send_all(fd, "GET /hello HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
  const std::string answer = read_until(fd, "hello");
  ::close(fd);
  if (answer.find("hello") == std::string::npos) return Clock::duration::max();
  return Clock::now() - start;
}

class WebSocketFairnessTest : public tornado::testing::AsyncHTTPTest {
 protected:
  void SetUp() override {
    g_stop = false;
    g_flooding = false;
    g_messages = 0;
    g_hit_cap = false;
    tornado::testing::AsyncHTTPTest::SetUp();
  }
  tornado::testing::HTTPApp get_app() override {
    return std::make_shared<web::Application>(std::vector<web::URLSpec>{
        {"/flood", web::handler<Flood>()},
        {"/sink", web::handler<Sink>()},
        {"/hello", web::handler<Hello>()},
    });
  }
  // Runs the loop until the peers' threads are done (they stop the flood).
  void run_until(const std::atomic<bool>& done) {
    run_sync(
        [&]() -> Task<> {
          while (!done) co_await sleep(5ms);
          co_await sleep(20ms);  // the close handshake
        },
        20s);
  }
  // Waits (off the loop) until the flood is under way, then times a GET /hello.
  static Clock::duration hello_during_flood(int port) {
    const auto give_up = Clock::now() + 5s;
    while (!g_flooding && Clock::now() < give_up) std::this_thread::sleep_for(1ms);
    std::this_thread::sleep_for(50ms);  // well into it
    return time_hello(port);
  }
};

TEST_F(WebSocketFairnessTest, AFloodOfWritesThatCompleteAtOnceLetsOtherRequestsBeServed) {
  const int port = get_http_port();
  std::atomic<bool> done{false};
  std::atomic<long> received{0};
  Clock::duration hello = Clock::duration::max();
  std::thread reader([&] {  // the browser that reads as fast as the server writes
    int fd = websocket_blocking(port, "/flood", true);
    if (fd >= 0) {
      send_all(fd, test::ws_frame(0x81, "go"));
      char buf[65536];
      bool close_sent = false;
      for (;;) {
        ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n <= 0) break;
        received += n;
        if (g_stop && !close_sent) {  // read by the server once the flood has ended
          close_sent = send_all(fd, test::ws_frame(0x88, std::string("\x03\xe8", 2)));
        }
      }
      ::close(fd);
    }
    done = true;
  });
  std::thread requester([&] {
    hello = hello_during_flood(port);
    g_stop = true;
  });
  run_until(done);
  requester.join();
  reader.join();
  EXPECT_GT(received.load(), 0);
  EXPECT_FALSE(g_hit_cap) << "the flood ran until its cap: nothing stopped it";
  EXPECT_LT(hello, kServedWithin) << "GET /hello waited for the flood (" << g_messages
                                  << " messages sent)";
}

TEST_F(WebSocketFairnessTest, AFloodOfMessagesHandledAtOnceLetsOtherRequestsBeServed) {
  const int port = get_http_port();
  std::atomic<bool> done{false};
  Clock::duration hello = Clock::duration::max();
  std::thread writer([&] {  // a peer that sends faster than the server can parse
    int fd = websocket_blocking(port, "/sink", false);
    if (fd >= 0) {
      std::string burst;
      while (burst.size() < (1 << 20)) burst += test::ws_frame(0x82, "ab");
      const auto cap = Clock::now() + kProducerCap;
      while (!g_stop && Clock::now() < cap && send_all(fd, burst)) {
      }
      send_all(fd, test::ws_frame(0x88, std::string("\x03\xe8", 2)));
      char buf[4096];
      while (::recv(fd, buf, sizeof buf, 0) > 0) {
      }
      ::close(fd);
    }
    done = true;
  });
  std::thread requester([&] {
    hello = hello_during_flood(port);
    g_stop = true;
  });
  run_until(done);
  requester.join();
  writer.join();
  EXPECT_GT(g_messages.load(), 0);
  EXPECT_LT(hello, kServedWithin) << "GET /hello waited for the flood (" << g_messages
                                  << " messages handled)";
}

}  // namespace loop_fairness_test
