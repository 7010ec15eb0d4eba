// Streaming request bodies (stream_request_body + data_received with backpressure,
// per-handler max_body_size, prepare before the body), the request timeout, and
// on_connection_close for a handler that awaits something.
#include <gtest/gtest.h>

#include "http_test_util.h"
#include "tornado/testing.h"
#include "tornado/web.h"

namespace web_stream_test {

using namespace tornado;
using tornado::testing::ExpectLog;

namespace {

struct StreamState {
  bool open = false;  // the slow consumer may go on
  std::size_t received = 0;
  std::size_t calls = 0;
  bool prepared_before_data = false;
  bool closed = false;
  bool cancelled = false;
  bool frame_released = false;
};
StreamState state;

struct SlowUpload : web::RequestHandler {
  bool stream_request_body() const override { return true; }
  Task<> prepare() override {
    state.prepared_before_data = state.received == 0;
    co_return;
  }
  Task<> data_received(std::string_view chunk) override {
    state.received += chunk.size();
    ++state.calls;
    while (!state.open) co_await sleep(1ms);  // a slow consumer
  }
  Task<> put() override {
    write(std::to_string(state.received));
    co_return;
  }
};

struct SmallLimit : web::RequestHandler {
  bool stream_request_body() const override { return true; }
  std::optional<std::size_t> max_body_size() const override { return 1000; }
  Task<> put() override {
    write("took it");
    co_return;
  }
};

struct RejectInPrepare : web::RequestHandler {
  bool stream_request_body() const override { return true; }
  Task<> prepare() override { throw web::HTTPError(401); }
  Task<> data_received(std::string_view chunk) override {
    state.received += chunk.size();
    co_return;
  }
};

struct Sleeper : web::RequestHandler {
  Task<> get() override {
    if (get_argument("flush", "") == "1") {
      write("started");
      co_await flush();
    }
    co_await sleep(10s);
    write("woke");
  }
};

struct Waiter : web::RequestHandler {
  void on_connection_close() override { state.closed = true; }
  Task<> get() override {
    struct Guard {
      ~Guard() { state.frame_released = true; }
    } guard;
    try {
      co_await sleep(60s);  // long poll
    } catch (const CancelledError&) {
      state.cancelled = true;
      throw;
    }
    write("late");
  }
};

struct Quick : web::RequestHandler {
  Task<> get() override {
    write("quick");
    co_return;
  }
};

class WebStreamTest : public tornado::testing::AsyncHTTPTest {
 protected:
  void SetUp() override {
    state = StreamState{};
    AsyncHTTPTest::SetUp();
  }
  tornado::testing::HTTPApp get_app() override {
    web::Settings settings;
    settings.request_timeout = Duration(0.2);
    return std::make_shared<web::Application>(
        std::vector<web::URLSpec>{
            {"/upload", web::handler<SlowUpload>()},
            {"/small", web::handler<SmallLimit>()},
            {"/reject", web::handler<RejectInPrepare>()},
            {"/sleep", web::handler<Sleeper>()},
            {"/wait", web::handler<Waiter>()},
            {"/quick", web::handler<Quick>()},
        },
        settings);
  }
  HTTPServerOptions get_httpserver_options() override {
    HTTPServerOptions o;
    o.max_body_size = 1024 * 1024 * 1024;
    return o;
  }
};

TEST_F(WebStreamTest, SlowConsumerStopsTheReadingOfAFastUpload) {
  constexpr std::size_t kSize = 64 * 1024 * 1024;
  int port = get_http_port();
  std::string answer = run_sync(
      [port]() -> Task<std::string> {
        auto s = co_await test::connect_loopback(port);
        std::string request =
            "PUT /upload HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: " +
            std::to_string(kSize) + "\r\n\r\n";
        request.append(kSize, 'u');
        (void)s->write(std::move(request));  // as fast as the server takes it
        while (state.received == 0) co_await sleep(1ms);
        co_await sleep(300ms);
        // The handler is stuck in its first data_received: the server read no further, so
        // almost all of the body still waits in the client (only socket buffers in between).
        EXPECT_EQ(state.calls, 1u);
        EXPECT_LE(state.received, 1024u * 1024);
        EXPECT_GT(s->write_buffer_size(), kSize / 2);
        state.open = true;
        co_return co_await s->read_until_close();
      },
      Duration(60));
  EXPECT_TRUE(state.prepared_before_data);
  EXPECT_TRUE(answer.starts_with("HTTP/1.1 200 OK\r\n")) << answer.substr(0, 200);
  EXPECT_TRUE(answer.ends_with("\r\n\r\n" + std::to_string(kSize)));
}

TEST_F(WebStreamTest, PerHandlerMaxBodySizeIs413) {
  httpclient::HTTPRequest req;
  req.method = "PUT";
  req.body = std::string(2000, 'x');
  EXPECT_EQ(fetch("/small", req).code, 413);
  req.body = std::string(900, 'x');
  EXPECT_EQ(fetch("/small", req).body, "took it");
}

TEST_F(WebStreamTest, PrepareCanRefuseBeforeTheBodyIsRead) {
  int port = get_http_port();
  std::string answer = run_sync([port]() -> Task<std::string> {
    auto s = co_await test::connect_loopback(port);
    co_await s->write("PUT /reject HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\nabc");
    co_return co_await s->read_until_close();  // the server closes: the body is never read
  });
  EXPECT_TRUE(answer.starts_with("HTTP/1.1 401 Unauthorized\r\n")) << answer;
  EXPECT_NE(answer.find("Connection: close"), std::string::npos);
  EXPECT_EQ(state.received, 0u);
}

TEST_F(WebStreamTest, HandlerPastTheRequestTimeoutGets503) {
  ExpectLog log(gen_log(), "Request timed out after 0.2s: GET /sleep");
  auto start = std::chrono::steady_clock::now();
  auto r = fetch("/sleep");
  EXPECT_EQ(r.code, 503);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  EXPECT_EQ(fetch("/quick").body, "quick");  // the server is fine afterwards
}

TEST_F(WebStreamTest, TimeoutAfterHeadersClosesTheConnection) {
  ExpectLog log(gen_log(), "Request timed out", true);
  int port = get_http_port();
  std::string answer = run_sync([port]() -> Task<std::string> {
    auto s = co_await test::connect_loopback(port);
    co_await s->write("GET /sleep?flush=1 HTTP/1.1\r\nHost: x\r\n\r\n");
    co_return co_await s->read_until_close();
  });
  EXPECT_TRUE(answer.starts_with("HTTP/1.1 200 OK\r\n"));
  EXPECT_NE(answer.find("started"), std::string::npos);
  EXPECT_EQ(answer.find("0\r\n\r\n"), std::string::npos);  // never a complete response
}

TEST_F(WebStreamTest, ClientLeavingCancelsTheHandlerAndCallsOnConnectionClose) {
  int port = get_http_port();
  run_sync([port]() -> Task<> {
    auto s = co_await test::connect_loopback(port);
    co_await s->write("GET /wait HTTP/1.1\r\nHost: x\r\n\r\n");
    co_await sleep(50ms);
    s->close();
    for (int i = 0; i < 2000 && !state.frame_released; ++i) co_await sleep(1ms);
  });
  EXPECT_TRUE(state.closed);
  EXPECT_TRUE(state.cancelled);
  EXPECT_TRUE(state.frame_released);
}

}  // namespace

}  // namespace web_stream_test
