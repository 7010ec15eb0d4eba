// websocket_connect's handshake failures, timeouts, proxies and wss:// with certificate
// checks, and the connection's lifetime (destroyed while reading, loop destroyed).
#include "httpclient_test_peers.h"
#include "websocket_client_test_util.h"

namespace websocket_client_connect_test {

using namespace tornado;
using namespace tornado::test;  // websocket_client_test_util.h

namespace {

// ---- handshake failures ---------------------------------------------------------------------

TEST_F(WebSocketClientTest, NotFoundIsAnHTTPClientErrorWithItsCode) {
  auto e = expect_error<HTTPClientError>(connect_error(ws_url("/nowhere"), {}));
  EXPECT_EQ(e.code(), 404);
  ASSERT_TRUE(e.response());
  EXPECT_EQ(e.response()->code, 404);
}

TEST_F(WebSocketClientTest, NonWebSocketSuccessIsAWebSocketError) {
  auto e = expect_error<websocket::WebSocketError>(connect_error(ws_url("/plain"), {}));
  EXPECT_NE(std::string(e.what()).find("Non-websocket response"), std::string::npos) << e.what();
}

TEST_F(WebSocketClientTest, ConnectionRefusedIs599) {
  auto [fd, port] = tornado::testing::bind_unused_port();
  ::close(fd);
  auto e = expect_error<HTTPClientError>(
      connect_error("ws://127.0.0.1:" + std::to_string(port) + "/", {}));
  EXPECT_EQ(e.code(), 599);
}

TEST_F(WebSocketClientTest, BadUrlIsAnInvalidArgument) {
  expect_error<std::invalid_argument>(connect_error(std::string("ftp://127.0.0.1/"), {}));
  expect_error<std::invalid_argument>(connect_error(std::string("ws://"), {}));
}

// A listener that never accepts: the kernel completes TCP, nothing ever answers.
TEST_F(WebSocketClientTest, RequestTimeoutWhenTheServerNeverAnswers) {
  auto [fd, port] = tornado::testing::bind_unused_port();
  WebSocketConnectOptions options;
  options.request_timeout = 100ms;
  const double start = io_loop().time();
  auto e = expect_error<HTTPClientError>(
      connect_error("ws://127.0.0.1:" + std::to_string(port) + "/", options));
  EXPECT_EQ(e.code(), 599);
  EXPECT_EQ(e.message(), "Timeout during request");
  EXPECT_LT(io_loop().time() - start, 2.0);
  ::close(fd);
}

TEST_F(WebSocketClientTest, ConnectTimeoutCoversTheTlsHandshake) {
  auto [fd, port] = tornado::testing::bind_unused_port();
  WebSocketConnectOptions options;
  options.connect_timeout = 100ms;
  const double start = io_loop().time();
  auto e = expect_error<HTTPClientError>(
      connect_error("wss://127.0.0.1:" + std::to_string(port) + "/", options));
  EXPECT_EQ(e.code(), 599);
  EXPECT_EQ(e.message(), "Timeout while connecting");
  EXPECT_LT(io_loop().time() - start, 2.0);
  ::close(fd);
}

// ---- proxies --------------------------------------------------------------------------------

TEST_F(WebSocketClientTest, ConnectsThroughTheProxyWithConnect) {
  tornado::test::TinyProxy proxy;
  proxy.required_auth = "Basic " + httputil::encode_basic_auth("u", "p");
  HTTPRequest request(ws_url("/echo"));
  request.proxy_host = "127.0.0.1";
  request.proxy_port = proxy.port();
  auto refused = expect_error<HTTPClientError>(connect_error(request, {}));
  EXPECT_EQ(refused.code(), 599);
  EXPECT_NE(refused.message().find("407"), std::string::npos) << refused.message();
  request.proxy_username = "u";
  request.proxy_password = "p";
  auto ws = run_sync([&]() -> Task<Conn> { return websocket::websocket_connect(request); });
  auto m = round_trip(*ws, "via proxy");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->data, "via proxy");
  ASSERT_EQ(proxy.request_lines.size(), 2u);
  EXPECT_EQ(proxy.request_lines[1],
            "CONNECT 127.0.0.1:" + std::to_string(get_http_port()) + " HTTP/1.1");
}

// ---- lifetime -------------------------------------------------------------------------------

TEST_F(WebSocketClientTest, DestroyedWhileAReadIsPending) {
  auto ws = connect("/echo");
  auto result = run_sync([&]() -> Task<bool> {
    auto pending = spawn(ws->read_message());
    co_await sleep(10ms);
    ws.reset();  // the read ends with nullopt; the connection closes with 1001
    auto m = co_await pending;
    co_return m.has_value();
  });
  EXPECT_FALSE(result);
  settle(Duration(0.05));
  EXPECT_EQ(g.close_code, 1001);
}

TEST_F(WebSocketClientTest, DestroyedWithAMessageBuffered) {
  auto ws = connect("/echo");
  run_sync([&]() -> Task<> {
    co_await ws->write_message("unread");
    co_await sleep(20ms);
  });
  ws.reset();
  settle(Duration(0.05));
  EXPECT_EQ(g.close_code, 1001);
}

}  // namespace

// A loop destroyed while a client connection (and its server) are open: the connection
// object, destroyed later, must not touch the dead loop.
TEST(WebSocketClientLifetime, LoopDestroyedWithAnOpenClient) {
  Conn ws;
  {
    IOLoop loop(true);
    auto app = std::make_shared<web::Application>(
        std::vector<web::URLSpec>{{"/echo", web::handler<Echo>()}});
    auto [fd, port] = tornado::testing::bind_unused_port();
    HTTPServer server(app);
    server.add_socket(fd);
    ws = loop.run_sync([port]() -> Task<Conn> {
      return websocket::websocket_connect("ws://127.0.0.1:" + std::to_string(port) + "/echo");
    });
    auto pending = spawn(ws->read_message());
    loop.run_sync([&]() -> Task<> {
      co_await ws->write_message("x");
      co_await sleep(10ms);
    });
    (void)pending;
  }
  EXPECT_FALSE(ws->is_open());
  EXPECT_THROW((void)ws->write_message("after"), websocket::WebSocketClosedError);
  ws.reset();
}

// wss:// with certificate checks.
class WebSocketClientTlsTest : public tornado::testing::AsyncHTTPSTest {
 protected:
  tornado::testing::HTTPApp get_app() override {
    return std::make_shared<web::Application>(
        std::vector<web::URLSpec>{{"/echo", web::handler<Echo>()}});
  }
  std::string wss_url() { return "wss://localhost:" + std::to_string(get_http_port()) + "/echo"; }
};

TEST_F(WebSocketClientTlsTest, TrustedCertificateConnects) {
  HTTPRequest request(wss_url());
  request.ca_certs = get_ssl_certfile();
  auto ws = run_sync([&]() -> Task<Conn> { return websocket::websocket_connect(request); });
  auto m = run_sync([&]() -> Task<std::optional<WebSocketMessage>> {
    co_await ws->write_message("secure");
    co_return co_await ws->read_message();
  });
  ASSERT_TRUE(m);
  EXPECT_EQ(m->data, "secure");
}

TEST_F(WebSocketClientTlsTest, UntrustedCertificateFails) {
  HTTPRequest request(wss_url());  // the system store does not know the test certificate
  try {
    (void)run_sync([&]() -> Task<Conn> { return websocket::websocket_connect(request); });
    ADD_FAILURE() << "connected to an untrusted server";
  } catch (const HTTPClientError& e) {
    EXPECT_EQ(e.code(), 599);
    EXPECT_NE(std::string(e.what()).find("certificate"), std::string::npos) << e.what();
  }
}

TEST_F(WebSocketClientTlsTest, WssThroughAProxy) {
  tornado::test::TinyProxy proxy;
  HTTPRequest request(wss_url());
  request.ca_certs = get_ssl_certfile();
  request.proxy_host = "127.0.0.1";
  request.proxy_port = proxy.port();
  auto ws = run_sync([&]() -> Task<Conn> { return websocket::websocket_connect(request); });
  auto m = run_sync([&]() -> Task<std::optional<WebSocketMessage>> {
    co_await ws->write_message("tunnelled");
    co_return co_await ws->read_message();
  });
  ASSERT_TRUE(m);
  EXPECT_EQ(m->data, "tunnelled");
  ASSERT_EQ(proxy.request_lines.size(), 1u);
  EXPECT_EQ(proxy.request_lines[0],
            "CONNECT localhost:" + std::to_string(get_http_port()) + " HTTP/1.1");
}

}  // namespace websocket_client_connect_test
