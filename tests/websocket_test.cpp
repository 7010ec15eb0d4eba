// WebSocketHandler: the handshake's answers, open/on_message/on_close and their ordering,
// write_message and its errors, the close handshake from either side and its timeout,
// pings (on_ping, on_pong, keepalive and its timeout), subprotocols, origins, limits.
#include "tornado/websocket.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tornado/testing.h"
#include "websocket_test_util.h"

namespace websocket_test {

using namespace tornado;
using namespace std::chrono_literals;
using tornado::test::RawWebSocket;
using tornado::test::ws_close_payload;
using tornado::test::ws_frame;
using V = std::vector<std::string>;

namespace {

// What the handlers saw, in order.
struct Log {
  V events;
  std::optional<int> close_code;
  std::string close_reason;
  bool write_after_close_raised = false;
  bool headers_released = false;
};
Log g;

const std::string kClose = ws_frame(0x88, ws_close_payload(1000));

struct Echo : websocket::WebSocketHandler {
  Task<> on_message(std::string message, bool binary) override {
    co_await write_message(message, binary);
  }
};

// open() takes a while; messages sent meanwhile must wait. on_message is slow for "slow"
// messages: the next one waits for it.
struct Ordered : websocket::WebSocketHandler {
  Task<> open() override {
    g.events.push_back("open:" + path_arg(0) + ":" + request().headers.get("X-Test", ""));
    co_await sleep(50ms);
    g.events.push_back("opened");
  }
  Task<> on_message(std::string message, bool binary) override {
    g.events.push_back("start:" + message + (binary ? ":bin" : ""));
    g.headers_released = request().headers.get_all().empty();
    if (message == "slow") co_await sleep(50ms);
    g.events.push_back("end:" + message);
    co_await write_message("ack:" + message);
  }
  void on_close() override {
    g.events.push_back("close");
    g.close_code = close_code();
    g.close_reason = close_reason();
  }
};

// Closes on request, then tries to write.
struct Closer : websocket::WebSocketHandler {
  Task<> on_message(std::string message, bool) override {
    if (message == "close") {
      close(4001, "bye now");
      try {
        (void)write_message("too late");
      } catch (const websocket::WebSocketClosedError&) {
        g.write_after_close_raised = true;
      }
    } else if (message == "close-default") {
      close();
    } else if (message == "throw") {
      throw std::runtime_error("handler failed");
    } else if (message == "json") {
      const nlohmann::json reply = {{"a", 1}};  // not inside co_await (g++ 12, docs/task.md)
      co_await write_message(reply);
    } else if (message == "ping") {
      ping("server-ping");
    }
  }
  void on_pong(std::string_view data) override { g.events.push_back("pong:" + std::string(data)); }
  void on_ping(std::string_view data) override { g.events.push_back("ping:" + std::string(data)); }
  void on_close() override {
    g.events.push_back("close");
    g.close_code = close_code();
  }
};

struct Subprotocol : Echo {
  std::optional<std::string> select_subprotocol(const std::vector<std::string>& offered) override {
    std::string all;
    for (const auto& s : offered) all += s + ";";
    g.events.push_back("offered:" + all);
    for (const auto& s : offered) {
      if (s == "chat") return s;
    }
    return std::nullopt;
  }
};

struct AnyOrigin : Echo {
  bool check_origin(std::string_view) override { return true; }
};

struct Pinging : Echo {
  std::optional<Duration> ping_interval() const override { return Duration(0.05); }
  std::optional<Duration> ping_timeout() const override { return Duration(0.05); }
  void on_close() override { g.events.push_back("close"); }
};

struct SetupFailure : Echo {
  Task<> open() override { throw std::runtime_error("open failed"); }
};

class WebSocketTest : public tornado::testing::AsyncHTTPTest {
 protected:
  void SetUp() override {
    g = Log();
    AsyncHTTPTest::SetUp();
  }
  tornado::testing::HTTPApp get_app() override {
    return std::make_shared<web::Application>(std::vector<web::URLSpec>{
        {"/echo", web::handler<Echo>()},
        {"/ordered/([a-z]+)", web::handler<Ordered>()},
        {"/closer", web::handler<Closer>()},
        {"/sub", web::handler<Subprotocol>()},
        {"/any-origin", web::handler<AnyOrigin>()},
        {"/pinging", web::handler<Pinging>()},
        {"/open-fails", web::handler<SetupFailure>()},
    });
  }

  std::shared_ptr<RawWebSocket> connect(const std::string& path, const std::string& extra = {},
                                        bool standard = true) {
    return run_sync([&]() -> Task<std::shared_ptr<RawWebSocket>> {
      return RawWebSocket::connect(get_http_port(), path, extra, standard);
    });
  }
  V exchange(RawWebSocket& ws, const std::string& wire) {
    return run_sync([&]() -> Task<V> {
      co_await ws.send(wire);
      co_return co_await ws.read_all();
    });
  }
  // Waits for the loop to run the server side's last steps (on_close after the TCP close).
  void settle() {
    run_sync([]() -> Task<> { co_await sleep(20ms); });
  }
};

// ---- handshake ----------------------------------------------------------------------------

TEST_F(WebSocketTest, HandshakeAnswers101WithTheAcceptValue) {
  auto ws = connect("/echo");
  EXPECT_TRUE(ws->head().starts_with("HTTP/1.1 101 Switching Protocols\r\n")) << ws->head();
  EXPECT_NE(ws->head().find("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"),
            std::string::npos);
  EXPECT_NE(ws->head().find("Upgrade: websocket\r\n"), std::string::npos);
  EXPECT_NE(ws->head().find("Connection: Upgrade\r\n"), std::string::npos);
  EXPECT_EQ(ws->head().find("Content-Type"), std::string::npos);
  EXPECT_EQ(ws->head().find("Content-Length"), std::string::npos);
}

TEST_F(WebSocketTest, PlainGetWithoutUpgradeIs400) {
  auto r = fetch("/echo");
  EXPECT_EQ(r.code, 400);
  EXPECT_EQ(r.body, "Can \"Upgrade\" only to \"WebSocket\".");
}

TEST_F(WebSocketTest, ConnectionWithoutUpgradeIs400) {
  auto ws = connect("/echo",
                    "Upgrade: websocket\r\nConnection: keep-alive\r\nSec-WebSocket-Version: 13\r\n"
                    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n",
                    false);
  EXPECT_TRUE(ws->head().starts_with("HTTP/1.1 400 ")) << ws->head();
}

TEST_F(WebSocketTest, WrongVersionIs426WithTheSupportedVersion) {
  auto ws = connect("/echo",
                    "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 8\r\n"
                    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n",
                    false);
  EXPECT_TRUE(ws->head().starts_with("HTTP/1.1 426 ")) << ws->head();
  EXPECT_NE(ws->head().find("Sec-WebSocket-Version: 13\r\n"), std::string::npos);
}

TEST_F(WebSocketTest, MissingOrBadKeyIs400) {
  for (std::string key : {"", "Sec-WebSocket-Key: not-a-key\r\n"}) {
    auto ws = connect(
        "/echo", "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n" + key,
        false);
    EXPECT_TRUE(ws->head().starts_with("HTTP/1.1 400 ")) << ws->head();
  }
}

TEST_F(WebSocketTest, OtherMethodsAre405) {
  httpclient::HTTPRequest req;
  req.method = "POST";
  req.body = "x";
  EXPECT_EQ(fetch("/echo", req).code, 405);
}

TEST_F(WebSocketTest, CrossOriginIs403AndSameOriginAccepted) {
  auto evil = connect("/echo", "Origin: http://evil.example\r\n");
  EXPECT_TRUE(evil->head().starts_with("HTTP/1.1 403 ")) << evil->head();
  auto same =
      connect("/echo", "Origin: http://127.0.0.1:" + std::to_string(get_http_port()) + "\r\n");
  EXPECT_TRUE(same->upgraded()) << same->head();
  auto any = connect("/any-origin", "Origin: http://evil.example\r\n");
  EXPECT_TRUE(any->upgraded()) << any->head();
}

TEST_F(WebSocketTest, SelectSubprotocolChoosesFromTheOffer) {
  auto ws = connect("/sub", "Sec-WebSocket-Protocol: superchat, chat\r\n");
  EXPECT_TRUE(ws->upgraded());
  EXPECT_NE(ws->head().find("Sec-WebSocket-Protocol: chat\r\n"), std::string::npos);
  auto none = connect("/sub");
  EXPECT_EQ(none->head().find("Sec-WebSocket-Protocol"), std::string::npos);
  EXPECT_EQ(g.events, (V{"offered:superchat;chat;", "offered:"}));
}

// ---- the connection's life ----------------------------------------------------------------

TEST_F(WebSocketTest, MessagesWaitForOpenAndForEachOther) {
  auto ws = connect("/ordered/abc", "X-Test: seen\r\n");
  // Sent before open() has finished; "slow" makes the next message wait.
  auto frames = exchange(*ws, ws_frame(0x81, "slow") + ws_frame(0x82, "next") + kClose);
  settle();
  EXPECT_EQ(frames, (V{"text:ack:slow", "text:ack:next", "close:1000:", "EOF"}));
  EXPECT_EQ(g.events, (V{"open:abc:seen", "opened", "start:slow", "end:slow", "start:next:bin",
                         "end:next", "close"}));
  EXPECT_EQ(g.close_code, 1000);
  EXPECT_TRUE(g.headers_released);
}

TEST_F(WebSocketTest, OnCloseGetsThePeersCodeAndReason) {
  auto ws = connect("/ordered/x");
  auto frames = exchange(*ws, ws_frame(0x88, ws_close_payload(4321, "going")));
  settle();
  EXPECT_EQ(frames, (V{"close:4321:", "EOF"}));
  EXPECT_EQ(g.close_code, 4321);
  EXPECT_EQ(g.close_reason, "going");
}

TEST_F(WebSocketTest, OnCloseRunsOnceWhenTheConnectionIsLost) {
  auto ws = connect("/ordered/x");
  ws->stream().close();
  run_sync([]() -> Task<> { co_await sleep(100ms); });  // open() sleeps 50 ms
  EXPECT_EQ(g.events, (V{"open:x:", "opened", "close"}));
  EXPECT_EQ(g.close_code, std::nullopt);
}

TEST_F(WebSocketTest, ServerCloseSendsCodeAndReasonAndRefusesLaterWrites) {
  auto ws = connect("/closer");
  auto frames = run_sync([&]() -> Task<V> {
    co_await ws->send(ws_frame(0x81, "close"));
    auto f = co_await ws->read_frame();
    V out{RawWebSocket::describe(*f)};
    co_await ws->send(ws_frame(0x88, ws_close_payload(4001)));  // our answer
    auto rest = co_await ws->read_all();
    out.insert(out.end(), rest.begin(), rest.end());
    co_return out;
  });
  settle();
  EXPECT_EQ(frames, (V{"close:4001:bye now", "EOF"}));
  EXPECT_TRUE(g.write_after_close_raised);
  EXPECT_EQ(g.events, (V{"close"}));
  EXPECT_EQ(g.close_code, 4001);
}

TEST_F(WebSocketTest, ServerCloseTimesOutWhenThePeerDoesNotAnswer) {
  auto ws = connect("/closer");
  const auto start = std::chrono::steady_clock::now();
  auto frames = run_sync(
      [&]() -> Task<V> {
        co_await ws->send(ws_frame(0x81, "close-default"));
        co_return co_await ws->read_all();  // never answers the close
      },
      Duration(10));
  const auto waited = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(frames, (V{"close:", "EOF"}));
  EXPECT_GE(waited, 4900ms);
  EXPECT_LT(waited, 7s);
}

TEST_F(WebSocketTest, AnExceptionInOnMessageCloses1011) {
  auto ws = connect("/closer");
  tornado::testing::ExpectLog expect(app_log(), "Uncaught exception");
  EXPECT_EQ(exchange(*ws, ws_frame(0x81, "throw")), (V{"close:1011:Internal error", "EOF"}));
}

TEST_F(WebSocketTest, AnExceptionInOpenCloses1011) {
  tornado::testing::ExpectLog expect(app_log(), "Uncaught exception");
  auto ws = connect("/open-fails");
  EXPECT_EQ(exchange(*ws, ws_frame(0x81, "x")), (V{"close:1011:Internal error", "EOF"}));
}

TEST_F(WebSocketTest, WriteMessageOfAJsonObjectIsText) {
  auto ws = connect("/closer");
  EXPECT_EQ(exchange(*ws, ws_frame(0x81, "json") + kClose),
            (V{"text:{\"a\":1}", "close:1000:", "EOF"}));
}

TEST_F(WebSocketTest, PingAndOnPongAndOnPing) {
  auto ws = connect("/closer");
  auto frames = run_sync([&]() -> Task<V> {
    co_await ws->send(ws_frame(0x81, "ping"));
    auto f = co_await ws->read_frame();
    V out{RawWebSocket::describe(*f)};
    co_await ws->send(ws_frame(0x8A, "server-ping") + ws_frame(0x89, "client-ping") + kClose);
    auto rest = co_await ws->read_all();
    out.insert(out.end(), rest.begin(), rest.end());
    co_return out;
  });
  settle();
  EXPECT_EQ(frames, (V{"ping:server-ping", "pong:client-ping", "close:1000:", "EOF"}));
  EXPECT_EQ(g.events, (V{"pong:server-ping", "ping:client-ping", "close"}));
}

TEST_F(WebSocketTest, KeepalivePingsAndAPeerThatDoesNotAnswerIsClosed) {
  auto ws = connect("/pinging");
  auto frames = run_sync([&]() -> Task<V> {
    // Answer the first ping, then go silent.
    auto f = co_await ws->read_frame();
    V out{RawWebSocket::describe(*f)};
    co_await ws->send(ws_frame(0x8A, ""));
    for (;;) {
      auto next = co_await ws->read_frame();
      if (!next) break;
      out.push_back(RawWebSocket::describe(*next));
      if (next->opcode() == 8) co_await ws->send(kClose);
    }
    co_return out;
  });
  settle();
  EXPECT_EQ(frames, (V{"ping:", "ping:", "close:1000:ping timed out"}));
  EXPECT_EQ(g.events, (V{"close"}));
}

}  // namespace

}  // namespace websocket_test
