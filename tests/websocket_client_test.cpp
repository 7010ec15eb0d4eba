// websocket_connect / WebSocketClientConnection against our own server (Tornado's
// websocket_test.py client cases): echo of text and binary, on_message_callback, close codes
// and reasons both ways, pings, subprotocols, extra headers, permessage-deflate with each
// parameter, max_message_size. Connecting (failures, timeouts, proxies, TLS) and lifetime:
// websocket_client_connect_test.cpp.
#include "websocket_client_test_util.h"

namespace websocket_client_test {

using namespace tornado;
using namespace tornado::test;  // websocket_client_test_util.h

namespace {

// ---- messages -------------------------------------------------------------------------------

TEST_F(WebSocketClientTest, EchoesTextAndBinary) {
  auto ws = connect("/echo");
  ASSERT_TRUE(ws->is_open());
  auto text = round_trip(*ws, "hello, wörld");
  ASSERT_TRUE(text);
  EXPECT_EQ(text->data, "hello, wörld");
  EXPECT_FALSE(text->binary);
  std::string bytes("\x00\xff\x80 binary", 10);
  auto bin = round_trip(*ws, bytes, true);
  ASSERT_TRUE(bin);
  EXPECT_EQ(bin->data, bytes);
  EXPECT_TRUE(bin->binary);
  auto big = round_trip(*ws, std::string(300000, 'q'));
  ASSERT_TRUE(big);
  EXPECT_EQ(big->data.size(), 300000u);
  auto empty = round_trip(*ws, "");
  ASSERT_TRUE(empty);
  EXPECT_EQ(empty->data, "");
}

TEST_F(WebSocketClientTest, JsonObjectIsSentAsText) {
  auto ws = connect("/echo");
  auto m = run_sync([&]() -> Task<std::optional<WebSocketMessage>> {
    const nlohmann::json value = {{"a", 1}};
    co_await ws->write_message(value);
    co_return co_await ws->read_message();
  });
  ASSERT_TRUE(m);
  EXPECT_EQ(m->data, R"({"a":1})");
  EXPECT_THROW((void)ws->write_message(nlohmann::json::array()), std::invalid_argument);
}

TEST_F(WebSocketClientTest, OnMessageCallbackGetsMessagesThenNullopt) {
  V got;
  Future<void> closed;
  WebSocketConnectOptions options;
  options.on_message_callback = [&got, &closed](std::optional<WebSocketMessage> m) {
    if (!m) {
      got.push_back("None");
      closed.set_result();
    } else {
      got.push_back(m->data);
    }
  };
  auto ws = connect("/echo", options);
  EXPECT_THROW((void)ws->read_message(), std::logic_error);
  run_sync([&]() -> Task<> {
    co_await ws->write_message("one");
    co_await ws->write_message("two");
    co_await ws->write_message("close:1000:done");
    co_await closed;
  });
  EXPECT_EQ(got, (V{"one", "two", "None"}));
  EXPECT_EQ(ws->close_code(), 1000);
}

TEST_F(WebSocketClientTest, AnExceptionInTheCallbackClosesWith1011) {
  tornado::testing::ExpectLog expected(app_log(), "Exception in the WebSocket client's on_message");
  Future<void> closed;
  WebSocketConnectOptions options;
  options.on_message_callback = [&closed](std::optional<WebSocketMessage> m) {
    if (!m) return closed.set_result();
    throw std::runtime_error("callback failed");
  };
  auto ws = connect("/echo", options);
  run_sync([&]() -> Task<> {
    co_await ws->write_message("boom");
    co_await closed;
  });
  settle();
  EXPECT_EQ(g.close_code, 1011);
}

// The reader is slow: messages wait in the socket (one buffered here) and none is lost or
// reordered.
TEST_F(WebSocketClientTest, SlowReaderGetsEveryMessageInOrder) {
  auto ws = connect("/echo");
  auto got = run_sync([&]() -> Task<V> {
    co_await ws->write_message("burst:200");
    co_await sleep(50ms);
    V out;
    for (int i = 0; i < 200; ++i) {
      auto m = co_await ws->read_message();
      out.push_back(m ? m->data : "none");
    }
    co_return out;
  });
  ASSERT_EQ(got.size(), 200u);
  for (int i = 0; i < 200; ++i) EXPECT_EQ(got[i], "m" + std::to_string(i));
}

TEST_F(WebSocketClientTest, ConcurrentReadsAreServedInOrder) {
  auto ws = connect("/echo");
  auto both = run_sync([&]() -> Task<V> {
    auto first = spawn(ws->read_message());
    auto second = spawn(ws->read_message());
    co_await ws->write_message("a");
    co_await ws->write_message("b");
    auto a = co_await first;
    auto b = co_await second;
    co_return V{a->data, b->data};
  });
  EXPECT_EQ(both, (V{"a", "b"}));
}

// ---- closing --------------------------------------------------------------------------------

TEST_F(WebSocketClientTest, ServerCloseCodeAndReasonReachTheClient) {
  auto ws = connect("/echo");
  auto m = round_trip(*ws, "close:4001:bye now");
  EXPECT_FALSE(m);
  EXPECT_EQ(ws->close_code(), 4001);
  EXPECT_EQ(ws->close_reason(), "bye now");
  EXPECT_FALSE(ws->is_open());
  settle();
  EXPECT_EQ(g.close_code, 4001);  // our echo of the server's code
}

TEST_F(WebSocketClientTest, ClientCloseCodeAndReasonReachTheServer) {
  auto ws = connect("/echo");
  EXPECT_THROW(ws->close(999), std::invalid_argument);  // checked before anything is sent
  EXPECT_TRUE(ws->is_open());
  ws->close(4002, "client bye");
  EXPECT_FALSE(ws->is_open());
  EXPECT_FALSE(read(*ws));
  settle();
  EXPECT_EQ(g.close_code, 4002);
  EXPECT_EQ(g.close_reason, "client bye");
  EXPECT_EQ(ws->close_code(), 4002);  // the server echoes the code
}

TEST_F(WebSocketClientTest, CloseWithoutCodeSendsAnEmptyCloseFrame) {
  auto ws = connect("/echo");
  ws->close();
  EXPECT_FALSE(read(*ws));
  settle();
  EXPECT_EQ(g.close_code, std::nullopt);
  EXPECT_EQ(ws->close_code(), std::nullopt);
}

TEST_F(WebSocketClientTest, ReadMessageAfterCloseReturnsEmptyEveryTime) {
  auto ws = connect("/echo");
  EXPECT_FALSE(round_trip(*ws, "close:1000:x"));
  EXPECT_FALSE(read(*ws));
  EXPECT_FALSE(read(*ws));
}

TEST_F(WebSocketClientTest, WriteAndPingAfterCloseRaise) {
  auto ws = connect("/echo");
  ws->close(1000);
  EXPECT_THROW((void)ws->write_message("late"), websocket::WebSocketClosedError);
  EXPECT_THROW(ws->ping(), websocket::WebSocketClosedError);
  EXPECT_FALSE(read(*ws));
}

TEST_F(WebSocketClientTest, MessagesReceivedBeforeTheCloseAreStillRead) {
  auto ws = connect("/echo");
  run_sync([&]() -> Task<> {
    co_await ws->write_message("first");
    co_await ws->write_message("close:1000:after first");
    co_await sleep(50ms);
  });
  auto m = read(*ws);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->data, "first");
  EXPECT_FALSE(read(*ws));
  EXPECT_EQ(ws->close_reason(), "after first");
}

// ---- pings ----------------------------------------------------------------------------------

TEST_F(WebSocketClientTest, ClientPingReachesTheServer) {
  auto ws = connect("/echo");
  ws->ping("client-ping");
  EXPECT_THROW(ws->ping(std::string(126, 'p')), std::invalid_argument);
  auto m = round_trip(*ws, "after");  // the ping went first
  ASSERT_TRUE(m);
  EXPECT_EQ(g.events, (V{"ping:client-ping"}));
}

TEST_F(WebSocketClientTest, ServerPingIsAnsweredWithItsPayload) {
  auto ws = connect("/echo");
  run_sync([&]() -> Task<> { co_await ws->write_message("ping"); });
  ASSERT_TRUE(round_trip(*ws, "sync"));
  EXPECT_EQ(g.events, (V{"pong:server-ping"}));
}

TEST_F(WebSocketClientTest, PingIntervalSendsKeepalivePings) {
  WebSocketConnectOptions options;
  options.ping_interval = 30ms;
  auto ws = connect("/echo", options);
  settle(Duration(0.2));
  EXPECT_GE(g.events.size(), 3u);
  for (const auto& e : g.events) EXPECT_EQ(e, "ping:");
  EXPECT_TRUE(ws->is_open());  // the server's pongs arrived in time
}

TEST_F(WebSocketClientTest, OnPingAndOnPongSeeEachPayload) {
  V hooks;
  WebSocketConnectOptions options;
  options.on_ping = [&hooks](std::string_view data) { hooks.push_back("on_ping:" + std::string(data)); };
  options.on_pong = [&hooks](std::string_view data) { hooks.push_back("on_pong:" + std::string(data)); };
  options.ping_interval = 30ms;
  auto ws = connect("/echo", options);
  ws->ping("mine");
  run_sync([&]() -> Task<> { co_await ws->write_message("ping"); });  // the server pings
  ASSERT_TRUE(round_trip(*ws, "sync"));
  settle(Duration(0.1));
  V named;  // without the keepalive pongs (empty payload), which may come in between
  for (const auto& h : hooks) {
    if (h != "on_pong:") named.push_back(h);
  }
  EXPECT_EQ(named, (V{"on_pong:mine", "on_ping:server-ping"}));
  EXPECT_NE(std::find(g.events.begin(), g.events.end(), "pong:server-ping"), g.events.end());
  EXPECT_NE(std::find(hooks.begin(), hooks.end(), "on_pong:"), hooks.end());  // keepalive
  EXPECT_TRUE(ws->is_open());
}

TEST_F(WebSocketClientTest, AnExceptionInOnPingClosesWith1011) {
  tornado::testing::ExpectLog expected(app_log(), "Exception in the WebSocket client's on_ping");
  WebSocketConnectOptions options;
  options.on_ping = [](std::string_view) { throw std::runtime_error("hook failed"); };
  auto ws = connect("/echo", options);
  run_sync([&]() -> Task<> { co_await ws->write_message("ping"); });
  run_sync([&]() -> Task<> {
    while (co_await ws->read_message()) {
    }
  });
  settle();
  EXPECT_EQ(g.close_code, 1011);
}

// ---- subprotocols, headers ------------------------------------------------------------------

TEST_F(WebSocketClientTest, SubprotocolIsOfferedAndSelected) {
  WebSocketConnectOptions options;
  options.subprotocols = {"goodbye", "chat"};
  auto ws = connect("/sub", options);
  EXPECT_EQ(ws->selected_subprotocol(), "chat");
  EXPECT_EQ(ws->headers().get("Sec-WebSocket-Protocol", ""), "chat");
  EXPECT_EQ(g.events, (V{"offered:goodbye;chat;"}));
}

TEST_F(WebSocketClientTest, NoSubprotocolWhenNoneIsChosen) {
  WebSocketConnectOptions options;
  options.subprotocols = {"other"};
  auto ws = connect("/sub", options);
  EXPECT_EQ(ws->selected_subprotocol(), "");
  auto plain = connect("/sub");
  EXPECT_EQ(plain->selected_subprotocol(), "");
  EXPECT_EQ(g.events, (V{"offered:other;", "offered:"}));
}

TEST_F(WebSocketClientTest, RequestHeadersAreSent) {
  HTTPRequest request(ws_url("/echo"));
  request.headers.add("X-Test", "hello");
  auto ws = run_sync([&]() -> Task<Conn> { return websocket::websocket_connect(request); });
  auto m = round_trip(*ws, "header");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->data, "hello");
}

// ---- permessage-deflate ---------------------------------------------------------------------

struct DeflateCase {
  std::string name;
  std::function<void(CompressionOptions&)> set;
  std::string path;
  std::string offer;   // the Sec-WebSocket-Extensions we send
  std::string answer;  // the server's
};

TEST_F(WebSocketClientTest, CompressionIsNegotiatedForEachParameter) {
  const std::vector<DeflateCase> cases = {
      {"default", [](CompressionOptions&) {}, "/deflate",
       "permessage-deflate; client_max_window_bits", "permessage-deflate"},
      {"server_no_context_takeover",
       [](CompressionOptions& o) { o.set_server_no_context_takeover(true); }, "/deflate",
       "permessage-deflate; server_no_context_takeover; client_max_window_bits",
       "permessage-deflate; server_no_context_takeover"},
      {"client_no_context_takeover",
       [](CompressionOptions& o) { o.set_client_no_context_takeover(true); }, "/deflate",
       "permessage-deflate; client_no_context_takeover; client_max_window_bits",
       "permessage-deflate; client_no_context_takeover"},
      {"server_max_window_bits", [](CompressionOptions& o) { o.set_server_max_window_bits(10); },
       "/deflate", "permessage-deflate; server_max_window_bits=10; client_max_window_bits",
       "permessage-deflate; server_max_window_bits=10"},
      {"client_max_window_bits", [](CompressionOptions& o) { o.set_client_max_window_bits(9); },
       "/deflate", "permessage-deflate; client_max_window_bits=9",
       "permessage-deflate; client_max_window_bits=9"},
      {"client_max_window_bits=8", [](CompressionOptions& o) { o.set_client_max_window_bits(8); },
       "/deflate", "permessage-deflate; client_max_window_bits=8",
       "permessage-deflate; client_max_window_bits=8"},
      {"forced server_no_context_takeover", [](CompressionOptions&) {}, "/deflate-nct",
       "permessage-deflate; client_max_window_bits",
       "permessage-deflate; server_no_context_takeover"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    CompressionOptions compression;
    c.set(compression);
    WebSocketConnectOptions options;
    options.compression_options = compression;
    auto ws = connect(c.path, options);
    EXPECT_EQ(g.extensions, c.offer);
    EXPECT_EQ(ws->headers().get("Sec-WebSocket-Extensions", ""), c.answer);
    EXPECT_TRUE(ws->compressed());
    // Repeated, compressible messages: context takeover (or not) matters from the second.
    std::string text;
    for (int i = 0; i < 2000; ++i) text += "message " + std::to_string(i % 17) + " ";
    for (int i = 0; i < 4; ++i) {
      auto m = round_trip(*ws, text);
      ASSERT_TRUE(m);
      EXPECT_EQ(m->data, text);
      auto b = round_trip(*ws, std::string(5000, static_cast<char>(i)), true);
      ASSERT_TRUE(b);
      EXPECT_EQ(b->data, std::string(5000, static_cast<char>(i)));
      EXPECT_TRUE(b->binary);
    }
    auto e = round_trip(*ws, "");
    ASSERT_TRUE(e);
    EXPECT_EQ(e->data, "");
    ws->close(1000);
    EXPECT_FALSE(read(*ws));
    EXPECT_EQ(ws->close_code(), 1000);
  }
}

TEST_F(WebSocketClientTest, NoCompressionWhenNotOfferedOrNotAccepted) {
  auto plain = connect("/deflate");
  EXPECT_FALSE(plain->compressed());
  EXPECT_EQ(g.extensions, "");
  WebSocketConnectOptions options;
  options.compression_options = CompressionOptions();
  auto declined = connect("/echo", options);  // a server without compression
  EXPECT_FALSE(declined->compressed());
  auto m = round_trip(*declined, "still works");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->data, "still works");
}

TEST_F(WebSocketClientTest, BadCompressionOptionsAreInvalidArguments) {
  CompressionOptions bad;
  bad.set_client_max_window_bits(16);
  WebSocketConnectOptions options;
  options.compression_options = bad;
  auto e = connect_error(ws_url("/deflate"), options);
  expect_error<std::invalid_argument>(e);
}

// ---- limits ---------------------------------------------------------------------------------

TEST_F(WebSocketClientTest, MessageOverMaxMessageSizeIsClosedWith1009) {
  WebSocketConnectOptions options;
  options.max_message_size = 1000;
  auto ws = connect("/echo", options);
  auto ok = round_trip(*ws, "big:1000");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->data.size(), 1000u);
  EXPECT_FALSE(round_trip(*ws, "big:1001"));
  settle();
  EXPECT_EQ(g.close_code, 1009);
}

TEST_F(WebSocketClientTest, CompressedMessageOverMaxMessageSizeIsClosedWith1009) {
  WebSocketConnectOptions options;
  options.max_message_size = 100000;
  options.compression_options = CompressionOptions();
  auto ws = connect("/deflate", options);
  ASSERT_TRUE(ws->compressed());
  EXPECT_FALSE(round_trip(*ws, "big:200000"));  // 200 KB of 'x' inflate past the limit
  settle();
  EXPECT_EQ(g.close_code, 1009);
}

TEST_F(WebSocketClientTest, DefaultMaxMessageSizeIsTenMebibytes) {
  EXPECT_EQ(WebSocketConnectOptions().max_message_size, 10u * 1024 * 1024);
}

}  // namespace

}  // namespace websocket_client_test
