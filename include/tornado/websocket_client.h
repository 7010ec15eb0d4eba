// tornado/websocket_client.h — the WebSocket client (Tornado's `websocket_connect` and
// `WebSocketClientConnection`), RFC 6455 with permessage-deflate (RFC 7692).
//
//   auto ws = co_await websocket::websocket_connect("ws://localhost:8888/echo");
//   co_await ws->write_message("hello");
//   std::optional<websocket::WebSocketMessage> m = co_await ws->read_message();
//   if (!m) { /* closed: ws->close_code(), ws->close_reason() */ }
//   ws->close(1000, "done");
//
//   websocket::WebSocketConnectOptions options;        // a statement of its own (g++ 12)
//   options.subprotocols = {"chat"};
//   options.compression_options = websocket::CompressionOptions();  // offer permessage-deflate
//   options.connect_timeout = 5s;
//   auto ws2 = co_await websocket::websocket_connect("wss://example.com/ws", options);
//
// ws:// and wss:// (certificate and host name checked unless the request says otherwise),
// through the request's HTTP proxy (a CONNECT tunnel for both schemes). The connect raises
// httpclient::HTTPClientError for a non-101 answer (its code) and, with code 599, for a
// transport failure or a timeout; WebSocketError for a 101 that breaks the handshake
// (Upgrade/Connection headers, Sec-WebSocket-Accept, an extension or subprotocol not
// offered). See docs/websocket.md, "The client".
//
// g++ 12: build options and requests in statements of their own, never as braced
// temporaries or by-value-capturing lambdas inside the co_await (docs/task.md).
//
// Thread rule: loop thread only (the loop current at websocket_connect).
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tornado/httpclient.h"
#include "tornado/netutil.h"
#include "tornado/task.h"
#include "tornado/websocket.h"

namespace tornado::websocket {

// One whole message: text (valid UTF-8) or binary.
struct WebSocketMessage {
  std::string data;
  bool binary = false;
};

// What websocket_connect does besides the request (Tornado's keyword arguments). Not an
// aggregate on purpose (g++ 12, docs/task.md): fill a named object or chain the setters.
class WebSocketConnectOptions {
 public:
  WebSocketConnectOptions() {}  // user-provided: a non-aggregate

  // Override the request's timeouts (HTTPRequest's defaults: 20 s each). connect_timeout
  // bounds resolve, TCP, proxy tunnel and TLS; request_timeout the whole handshake, up to
  // the 101. A value <= 0 means none.
  std::optional<Duration> connect_timeout;
  std::optional<Duration> request_timeout;
  // Messages go to this callback instead of read_message(); it gets nullopt once, when the
  // connection closed (Tornado's on_message_callback). Called on the loop; it must not
  // capture the connection's owner by value if that owner outlives nothing (see
  // ~WebSocketClientConnection: it is not called after the connection object is gone).
  std::function<void(std::optional<WebSocketMessage>)> on_message_callback;
  // Tornado's WebSocketClientConnection.on_ping / on_pong: called on the loop with the
  // payload of each ping the server sends (after it was answered) and of each pong (those
  // answering the keepalive pings too). The view is valid during the call. An exception is
  // logged and closes the connection with 1011, as one from on_message_callback.
  std::function<void(std::string_view data)> on_ping;
  std::function<void(std::string_view data)> on_pong;
  // Set: permessage-deflate is offered with these parameters (CompressionOptions'
  // offer fields); compression_level and mem_level are our deflater's.
  std::optional<CompressionOptions> compression_options;
  // Keepalive pings every ping_interval; no pong within ping_timeout (default and cap: the
  // interval) closes the connection (1000, "ping timed out").
  std::optional<Duration> ping_interval;
  std::optional<Duration> ping_timeout;
  // Largest incoming message (after inflation); larger → we close with 1009.
  std::size_t max_message_size = 10 * 1024 * 1024;
  // Offered in Sec-WebSocket-Protocol, in order; the server may pick one.
  std::vector<std::string> subprotocols;
  // Name resolution (default: a DefaultExecutorResolver for this connect).
  std::shared_ptr<Resolver> resolver;
  // Largest handshake response head.
  std::size_t max_header_size = 64 * 1024;

  WebSocketConnectOptions&& set_connect_timeout(Duration v) && {
    return std::move(set_connect_timeout(v));
  }
  WebSocketConnectOptions& set_connect_timeout(Duration v) & {
    connect_timeout = v;
    return *this;
  }
  WebSocketConnectOptions&& set_request_timeout(Duration v) && {
    return std::move(set_request_timeout(v));
  }
  WebSocketConnectOptions& set_request_timeout(Duration v) & {
    request_timeout = v;
    return *this;
  }
  WebSocketConnectOptions&& set_on_message_callback(
      std::function<void(std::optional<WebSocketMessage>)> v) && {
    return std::move(set_on_message_callback(std::move(v)));
  }
  WebSocketConnectOptions& set_on_message_callback(
      std::function<void(std::optional<WebSocketMessage>)> v) & {
    on_message_callback = std::move(v);
    return *this;
  }
  WebSocketConnectOptions&& set_on_ping(std::function<void(std::string_view)> v) && {
    return std::move(set_on_ping(std::move(v)));
  }
  WebSocketConnectOptions& set_on_ping(std::function<void(std::string_view)> v) & {
    on_ping = std::move(v);
    return *this;
  }
  WebSocketConnectOptions&& set_on_pong(std::function<void(std::string_view)> v) && {
    return std::move(set_on_pong(std::move(v)));
  }
  WebSocketConnectOptions& set_on_pong(std::function<void(std::string_view)> v) & {
    on_pong = std::move(v);
    return *this;
  }
  WebSocketConnectOptions&& set_compression_options(CompressionOptions v) && {
    return std::move(set_compression_options(std::move(v)));
  }
  WebSocketConnectOptions& set_compression_options(CompressionOptions v) & {
    compression_options = std::move(v);
    return *this;
  }
  WebSocketConnectOptions&& set_ping_interval(Duration v) && {
    return std::move(set_ping_interval(v));
  }
  WebSocketConnectOptions& set_ping_interval(Duration v) & {
    ping_interval = v;
    return *this;
  }
  WebSocketConnectOptions&& set_ping_timeout(Duration v) && {
    return std::move(set_ping_timeout(v));
  }
  WebSocketConnectOptions& set_ping_timeout(Duration v) & {
    ping_timeout = v;
    return *this;
  }
  WebSocketConnectOptions&& set_max_message_size(std::size_t v) && {
    return std::move(set_max_message_size(v));
  }
  WebSocketConnectOptions& set_max_message_size(std::size_t v) & {
    max_message_size = v;
    return *this;
  }
  WebSocketConnectOptions&& set_subprotocols(std::vector<std::string> v) && {
    return std::move(set_subprotocols(std::move(v)));
  }
  WebSocketConnectOptions& set_subprotocols(std::vector<std::string> v) & {
    subprotocols = std::move(v);
    return *this;
  }
  WebSocketConnectOptions&& set_resolver(std::shared_ptr<Resolver> v) && {
    return std::move(set_resolver(std::move(v)));
  }
  WebSocketConnectOptions& set_resolver(std::shared_ptr<Resolver> v) & {
    resolver = std::move(v);
    return *this;
  }
};

namespace detail {
struct ClientConnection;
}

// An open client connection (Tornado's WebSocketClientConnection), shared by its holders.
// An on_message_callback that holds the connection keeps it alive until the close (the
// callback is dropped then).
class WebSocketClientConnection {
 public:
  explicit WebSocketClientConnection(std::shared_ptr<detail::ClientConnection> state);
  // When the last holder lets go: starts a closing handshake (1001, going away) if the
  // connection is still open, and
  // ends every pending read_message() with nullopt. The connection finishes its close in
  // the background (bounded by the 5 s close timeout); the on_message_callback is not
  // called again.
  ~WebSocketClientConnection();
  WebSocketClientConnection(const WebSocketClientConnection&) = delete;
  WebSocketClientConnection& operator=(const WebSocketClientConnection&) = delete;

  // The next message, or nullopt once the connection is closed (messages received before
  // the close are delivered first). Lazy: it waits for a message only when awaited, and
  // several reads may wait at once (served in order). One message at most is buffered:
  // the connection stops reading from the socket until it is taken (flow control, as in
  // Tornado). std::logic_error with an on_message_callback.
  Task<std::optional<WebSocketMessage>> read_message();

  // Sends a message (masked, compressed when negotiated). Awaiting the result waits until
  // it was handed to the kernel; WebSocketClosedError when closing or closed (at once), or
  // when the connection closes before the bytes left (from the await).
  using WriteAwaiter = WebSocketHandler::WriteAwaiter;
  WriteAwaiter write_message(std::string_view message, bool binary = false);
  WriteAwaiter write_message(const std::string& message, bool binary = false) {
    return write_message(std::string_view(message), binary);
  }
  WriteAwaiter write_message(const char* message, bool binary = false) {
    return write_message(std::string_view(message), binary);
  }
  // A JSON object, encoded, as text. Build it in a statement of its own (g++ 12).
  WriteAwaiter write_message(const nlohmann::json& message);

  // Sends a ping (at most 125 bytes, else std::invalid_argument); WebSocketClosedError
  // when closing or closed. Its pong goes to WebSocketConnectOptions::on_pong.
  void ping(std::string_view data = {});
  // Starts the closing handshake as on the server: a close frame with `code` (1000 when
  // only a reason is given, none when neither); the TCP connection closes when the server
  // closes it after answering, or after 5 s. std::invalid_argument for an invalid code.
  void close(std::optional<int> code = std::nullopt, std::string_view reason = {});

  // The server's close code and reason (nullopt / "" until its close frame arrived).
  std::optional<int> close_code() const noexcept;
  const std::string& close_reason() const noexcept;
  // The subprotocol the server chose ("" for none).
  const std::string& selected_subprotocol() const noexcept;
  // The headers of the server's 101 response.
  const httputil::HTTPHeaders& headers() const noexcept;
  // permessage-deflate was negotiated; the server's Sec-WebSocket-Extensions answer.
  bool compressed() const noexcept;
  // Handshake done, no close frame sent or received, TCP connection up.
  bool is_open() const noexcept;
  // TCP_NODELAY on the connection.
  void set_nodelay(bool value);

 private:
  std::shared_ptr<detail::ClientConnection> state_;
};

// Connects and completes the opening handshake (Tornado's websocket_connect). `url` is
// ws:// or wss:// (http:// and https:// are taken as their WebSocket equivalents); a
// request carries headers (extra handshake headers), timeouts, TLS settings, proxy and
// credentials (URL userinfo or auth_username). Raises as described at the top of the file;
// std::invalid_argument for a bad URL. Not coroutines themselves: the arguments are moved
// to the heap before the coroutine starts.
Task<std::shared_ptr<WebSocketClientConnection>> websocket_connect(std::string url);
Task<std::shared_ptr<WebSocketClientConnection>> websocket_connect(std::string url,
                                                                   WebSocketConnectOptions options);
Task<std::shared_ptr<WebSocketClientConnection>> websocket_connect(httpclient::HTTPRequest request);
Task<std::shared_ptr<WebSocketClientConnection>> websocket_connect(httpclient::HTTPRequest request,
                                                                   WebSocketConnectOptions options);

}  // namespace tornado::websocket
