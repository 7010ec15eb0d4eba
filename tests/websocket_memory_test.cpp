// What an idle WebSocket connection keeps on the server's heap (issue 8's budget), and what a
// handler can still read and do once open() returned and the request was compacted.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "tornado/pubsub.h"
#include "tornado/testing.h"
#include "tornado/websocket.h"
#include "websocket_test_util.h"

#include "sanitizer_detect.h"

#if TORNADO_TEST_ASAN
#include <sanitizer/allocator_interface.h>
#else
#include <malloc.h>
#endif

namespace websocket_memory_test {

using namespace tornado;
using namespace std::chrono_literals;
using tornado::test::RawWebSocket;
using tornado::test::ws_frame;

namespace {

// The bounds on heap bytes per idle connection (issue 8: under 1 KiB). Measured when they
// were set (g++ 12, glibc chunk sizes): 944 bytes for a connection, 1,114 for one
// subscribed to a hub topic (docs/websocket.md, "Memory per connection"; 1,208 while the
// subscription's state and the connection's sink were two blocks); a connection held
// 1,584 before it ran in a root of its own (the request's root frame ended after the 101)
// with 16-byte frame-cache classes, the fields of what stays packed and the hub's
// per-subscriber state made on demand; about 2,500 before the request was compacted after
// open() and the response state freed after the 101. A change that makes idle connections
// hold any of that again fails here.
constexpr std::size_t kIdleHeapBound = 1024;
constexpr std::size_t kSubscribedHeapBound = 1152;

// Bytes the process's allocator has handed out and not taken back.
std::size_t heap_in_use() {
#if TORNADO_TEST_ASAN
  return __sanitizer_get_current_allocated_bytes();
#else
  return mallinfo2().uordblks;
#endif
}

std::size_t g_opened = 0;

struct Idle : websocket::WebSocketHandler {
  Task<> open() override {
    ++g_opened;
    co_return;
  }
  Task<> on_message(std::string message, bool binary) override {
    co_await write_message(message, binary);
  }
};

// demos/echo's /sub: one hub subscription per connection, made in open().
constexpr std::string_view kTopic = "websocket_memory_test";
struct Subscribed : websocket::WebSocketHandler {
  Task<> open() override {
    subscription_ = pubsub::Hub::instance().subscribe(kTopic, *this);
    ++g_opened;
    co_return;
  }
  Task<> on_message(std::string, bool) override { co_return; }
  pubsub::Subscription subscription_;
};

// What a handler reads after open(), answered as text: the request rebuilt from its first
// line and peer, the query arguments, and the errors for what is gone.
struct Reader : websocket::WebSocketHandler {
  Task<> open() override {
    cookie_in_open_ = get_cookie("user").value_or("none");
    co_return;
  }
  Task<> on_message(std::string message, bool) override {
    std::string answer;
    if (message == "request") {
      const auto& r = request();
      answer = r.method + " " + r.path + " " + r.query + " " + r.remote_ip + " " + r.host +
               " headers=" + std::to_string(r.headers.get_all().size());
    } else if (message == "argument") {
      answer = get_argument("room") + " " + cookie_in_open_;
    } else if (message == "summary") {
      answer = request_summary();
    } else if (message == "cookie") {
      try {
        (void)get_cookie("user");
        answer = "no error";
      } catch (const std::logic_error& e) {
        answer = e.what();
      }
    } else if (message == "set_header") {
      try {
        set_header("X-Late", "1");
        answer = "no error";
      } catch (const std::logic_error& e) {
        answer = e.what();
      }
    }
    co_await write_message(answer);
  }
  std::string cookie_in_open_;
};

// A blocking loopback client that sent an upgrade request and never reads: it allocates
// nothing on this process's heap (the server's bytes wait in the kernel).
int open_raw_upgrade(int port, std::string_view path) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
  if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    throw std::system_error(errno, std::generic_category(), "connect");
  }
  const std::string request =
      "GET " + std::string(path) +
      " HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
  if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) !=
      static_cast<ssize_t>(request.size())) {
    throw std::system_error(errno, std::generic_category(), "send");
  }
  return fd;
}

class WebSocketMemoryTest : public tornado::testing::AsyncHTTPTest {
 protected:
  void SetUp() override {
    g_opened = 0;
    AsyncHTTPTest::SetUp();
  }
  void TearDown() override {
    for (int fd : clients_) ::close(fd);
    clients_.clear();
    run_sync([]() -> Task<> { co_await sleep(20ms); });  // the server sees them go
    AsyncHTTPTest::TearDown();
  }
  tornado::testing::HTTPApp get_app() override {
    web::Settings settings;
    settings.log_function = [](const web::RequestHandler&) {};  // 1,024 access lines otherwise
    return std::make_shared<web::Application>(
        std::vector<web::URLSpec>{
            {"/idle", web::handler<Idle>()},
            {"/reader", web::handler<Reader>()},
            {"/subscribed", web::handler<Subscribed>()},
        },
        std::move(settings));
  }

  // Opens `count` more idle connections (in batches the listen backlog holds) and returns
  // once the server ran open() for each and settled (the HTTP/1.1 side is gone).
  void open_idle(std::size_t count, std::string_view path = "/idle") {
    const std::size_t target = g_opened + count;
    run_sync(
        [&]() -> Task<> {
          while (g_opened < target) {
            const std::size_t batch = std::min<std::size_t>(64, target - g_opened);
            const std::size_t batch_target = g_opened + batch;
            for (std::size_t i = 0; i < batch; ++i)
              clients_.push_back(open_raw_upgrade(get_http_port(), path));
            while (g_opened < batch_target) co_await sleep(1ms);
          }
          co_await sleep(20ms);
        },
        Duration(60));
  }

  std::string ask(RawWebSocket& ws, const std::string& question) {
    return run_sync([&]() -> Task<std::string> {
      co_await ws.send(ws_frame(0x81, question, true));
      auto frame = co_await ws.read_frame();
      co_return frame ? frame->payload : std::string("(closed)");
    });
  }

  // Heap bytes each further idle connection on `path` holds: the first batch fills the frame
  // cache and the loop's tables to their working size; the growth over the second batch is
  // what each further connection costs.
  std::size_t heap_per_idle_connection(std::string_view path) {
    constexpr std::size_t kConnections = 512;
    clients_.reserve(3 * kConnections);
    open_idle(kConnections, path);
    const std::size_t before = heap_in_use();
    open_idle(kConnections, path);
    const std::size_t after = heap_in_use();
    return after > before ? (after - before) / kConnections : 0;
  }

  std::vector<int> clients_;
};

// ---- the budget -----------------------------------------------------------------------------

TEST_F(WebSocketMemoryTest, AnIdleConnectionHoldsLessThanTheBoundOnTheHeap) {
  const std::size_t per_connection = heap_per_idle_connection("/idle");
  std::printf("heap per idle WebSocket connection: %zu bytes\n", per_connection);
  EXPECT_LE(per_connection, kIdleHeapBound)
      << "an idle WebSocket connection holds " << per_connection << " bytes of heap, over the "
      << kIdleHeapBound << " bytes budget (docs/websocket.md, \"Memory per connection\"): "
      << "something now lives as long as the connection that used to be freed after open()";
}

TEST_F(WebSocketMemoryTest, AnIdleSubscribedConnectionHoldsLessThanTheBoundOnTheHeap) {
  const std::size_t per_connection = heap_per_idle_connection("/subscribed");
  std::printf("heap per idle WebSocket connection with a hub subscription: %zu bytes\n",
              per_connection);
  EXPECT_EQ(pubsub::Hub::instance().subscriber_count(kTopic), clients_.size());
  EXPECT_LE(per_connection, kSubscribedHeapBound)
      << "an idle WebSocket connection subscribed to one hub topic holds " << per_connection
      << " bytes of heap, over the " << kSubscribedHeapBound << " bytes budget "
      << "(docs/websocket.md, \"Memory per connection\"): the subscription's state or the "
      << "connection's sink grew";
}

// ---- what a handler reads after open() --------------------------------------------------------

TEST_F(WebSocketMemoryTest, RequestAfterOpenIsRebuiltFromItsFirstLineAndPeer) {
  auto ws = run_sync([&]() -> Task<std::shared_ptr<RawWebSocket>> {
    return RawWebSocket::connect(get_http_port(), "/reader?room=blue", "Cookie: user=ann\r\n");
  });
  ASSERT_TRUE(ws->upgraded()) << ws->head();
  EXPECT_EQ(ask(*ws, "request"), "GET /reader room=blue 127.0.0.1 127.0.0.1:" +
                                     std::to_string(get_http_port()) + " headers=0");
  EXPECT_EQ(ask(*ws, "argument"), "blue ann");  // query arguments parsed again; cookie from open()
  EXPECT_EQ(ask(*ws, "summary"), "GET /reader?room=blue (127.0.0.1)");
}

TEST_F(WebSocketMemoryTest, CookiesAfterOpenAreAClearError) {
  auto ws = run_sync([&]() -> Task<std::shared_ptr<RawWebSocket>> {
    return RawWebSocket::connect(get_http_port(), "/reader", "Cookie: user=ann\r\n");
  });
  ASSERT_TRUE(ws->upgraded()) << ws->head();
  const std::string answer = ask(*ws, "cookie");
  EXPECT_NE(answer.find("get_cookie(\"user\") after open()"), std::string::npos) << answer;
  EXPECT_NE(answer.find("read cookies in prepare() or open()"), std::string::npos) << answer;
}

TEST_F(WebSocketMemoryTest, ResponseSettersAfterThe101AreAClearError) {
  auto ws = run_sync([&]() -> Task<std::shared_ptr<RawWebSocket>> {
    return RawWebSocket::connect(get_http_port(), "/reader");
  });
  ASSERT_TRUE(ws->upgraded()) << ws->head();
  const std::string answer = ask(*ws, "set_header");
  EXPECT_NE(answer.find("the response was released"), std::string::npos) << answer;
}

}  // namespace
}  // namespace websocket_memory_test
