// The server side and fixture of the WebSocket client tests (websocket_client_test.cpp,
// websocket_client_connect_test.cpp): handlers that echo and log what they saw, and
// helpers that connect our client to them.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tornado/testing.h"
#include "tornado/websocket_client.h"

namespace tornado::test {
namespace {

using namespace std::chrono_literals;
using httpclient::HTTPClientError;
using httpclient::HTTPRequest;
using websocket::CompressionOptions;
using websocket::WebSocketClientConnection;
using websocket::WebSocketConnectOptions;
using websocket::WebSocketMessage;
using V = std::vector<std::string>;
using Conn = std::shared_ptr<WebSocketClientConnection>;

// What the server handlers saw.
struct ServerLog {
  V events;
  std::optional<int> close_code;
  std::string close_reason;
  std::string extensions;  // the client's Sec-WebSocket-Extensions offer
};
ServerLog g;

struct Echo : websocket::WebSocketHandler {
  Task<> open() override {
    g.extensions = request().headers.get("Sec-WebSocket-Extensions", "");
    x_test_ = request().headers.get("X-Test", "");
    co_return;
  }
  Task<> on_message(std::string message, bool binary) override {
    if (message.starts_with("close:")) {  // close:<code>:<reason>
      const auto colon = message.find(':', 6);
      close(std::stoi(message.substr(6, colon - 6)), message.substr(colon + 1));
    } else if (message == "ping") {
      ping("server-ping");
    } else if (message.starts_with("big:")) {
      co_await write_message(std::string(std::stoul(message.substr(4)), 'x'));
    } else if (message.starts_with("burst:")) {
      const int n = std::stoi(message.substr(6));
      for (int i = 0; i < n; ++i) co_await write_message("m" + std::to_string(i));
    } else if (message == "header") {
      co_await write_message(x_test_);
    } else {
      co_await write_message(message, binary);
    }
  }
  void on_ping(std::string_view data) override { g.events.push_back("ping:" + std::string(data)); }
  void on_pong(std::string_view data) override { g.events.push_back("pong:" + std::string(data)); }
  void on_close() override {
    g.events.push_back("close");
    g.close_code = close_code();
    g.close_reason = close_reason();
  }
  std::string x_test_;
};

// Compression with the server's defaults, or forcing server_no_context_takeover.
struct DeflateEcho : Echo {
  std::optional<CompressionOptions> get_compression_options() override {
    return CompressionOptions();
  }
};
struct DeflateEchoNoContext : Echo {
  std::optional<CompressionOptions> get_compression_options() override {
    CompressionOptions o;
    o.set_server_no_context_takeover(true);
    return o;
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

struct NotWebSocket : web::RequestHandler {
  Task<> get() override { co_await finish("plain page"); }
};

class WebSocketClientTest : public tornado::testing::AsyncHTTPTest {
 protected:
  void SetUp() override {
    g = ServerLog();
    AsyncHTTPTest::SetUp();
  }
  tornado::testing::HTTPApp get_app() override {
    return std::make_shared<web::Application>(std::vector<web::URLSpec>{
        {"/echo", web::handler<Echo>()},
        {"/deflate", web::handler<DeflateEcho>()},
        {"/deflate-nct", web::handler<DeflateEchoNoContext>()},
        {"/sub", web::handler<Subprotocol>()},
        {"/plain", web::handler<NotWebSocket>()},
    });
  }
  std::string ws_url(const std::string& path) {
    return "ws://127.0.0.1:" + std::to_string(get_http_port()) + path;
  }
  Conn connect(const std::string& path) {
    return run_sync([&]() -> Task<Conn> { return websocket::websocket_connect(ws_url(path)); });
  }
  Conn connect(const std::string& path, const WebSocketConnectOptions& options) {
    return run_sync(
        [&]() -> Task<Conn> { return websocket::websocket_connect(ws_url(path), options); });
  }
  // Sends `message` and reads the answer.
  std::optional<WebSocketMessage> round_trip(WebSocketClientConnection& ws, std::string message,
                                             bool binary = false) {
    return run_sync([&]() -> Task<std::optional<WebSocketMessage>> {
      co_await ws.write_message(message, binary);
      co_return co_await ws.read_message();
    });
  }
  std::optional<WebSocketMessage> read(WebSocketClientConnection& ws) {
    return run_sync([&]() -> Task<std::optional<WebSocketMessage>> { return ws.read_message(); });
  }
  // Lets the server's side finish (on_close runs after the TCP close).
  void settle(Duration d = Duration(0.02)) {
    run_sync([d]() -> Task<> { co_await sleep(d); });
  }
  // The exception websocket_connect raised (nullptr if none).
  template <typename Request>
  std::exception_ptr connect_error(Request request, const WebSocketConnectOptions& options) {
    try {
      run_sync([&]() -> Task<Conn> { return websocket::websocket_connect(request, options); });
    } catch (...) {
      return std::current_exception();
    }
    return nullptr;
  }
};

// The exception as an E; anything else (or nothing) fails the test by escaping it.
template <typename E>
E expect_error(std::exception_ptr e) {
  if (!e) throw std::runtime_error("expected an exception, none was raised");
  try {
    std::rethrow_exception(e);
  } catch (const E& expected) {
    return expected;
  }
}

}  // namespace
}  // namespace tornado::test
