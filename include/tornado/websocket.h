// tornado/websocket.h — WebSocket (RFC 6455) server handlers with permessage-deflate
// (RFC 7692), Tornado's `tornado.websocket`.
//
//   struct EchoHandler : websocket::WebSocketHandler {
//     Task<> open() override { co_return; }                  // path_arg(i) as in Tornado's args
//     Task<> on_message(std::string message, bool binary) override {
//       co_await write_message(message, binary);              // waits until handed to the kernel
//     }
//     void on_close() override { /* close_code(), close_reason() */ }
//   };
//   web::Application app({{"/echo", web::handler<EchoHandler>()}});
//
// A WebSocketHandler is a RequestHandler on a route: initialize(), set_default_headers() and
// prepare() run as for any request, then the handshake: Upgrade: websocket and Connection:
// upgrade (else 400), check_origin (else 403), Sec-WebSocket-Version 13 (else 426 with
// Sec-WebSocket-Version: 13), Host and a valid Sec-WebSocket-Key (else 400); other methods
// than GET get 405. After the 101 the stream is taken from the HTTP/1.1 connection and the
// handler lives until the WebSocket closes: open(), then on_message() once per message
// (the next message is read only when the previous on_message task completed), then
// on_close() exactly once, whichever side closed.
//
// Protocol errors close the connection with the RFC's code: 1002 (framing), 1007 (invalid
// UTF-8, checked as the bytes arrive), 1009 (past max_message_size, also after inflation).
// Once open() returned the request is compacted to its first line, peer and host: request()
// is rebuilt from them (path, query, query arguments, remote_ip), its headers are empty and
// get_cookie throws std::logic_error; copy headers and cookies you need in open(). See
// docs/websocket.md "What a handler can read after open()".
//
// Thread rule: loop thread only (the handler's loop).
#pragma once

#include <cstddef>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "tornado/iostream.h"
#include "tornado/task.h"
#include "tornado/web.h"

namespace tornado::pubsub {
class Message;
namespace detail {
class Sink;
}  // namespace detail
}  // namespace tornado::pubsub

namespace tornado::websocket {

class WebSocketError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// write_message/ping on a connection that is closing or closed (also raised by an awaited
// write when the connection closes before its bytes reached the kernel).
class WebSocketClosedError : public WebSocketError {
 public:
  WebSocketClosedError() : WebSocketError("WebSocket closed") {}
};

// permessage-deflate settings (Tornado's compression options dict).
class CompressionOptions {
 public:
  CompressionOptions() = default;
  // zlib level for outgoing messages (0-9, Tornado's default 6).
  CompressionOptions& set_compression_level(int level) {
    compression_level = level;
    return *this;
  }
  // zlib memLevel (1-9, default 8).
  CompressionOptions& set_mem_level(int level) {
    mem_level = level;
    return *this;
  }
  // Answer server_no_context_takeover even when the client did not ask (RFC 7692
  // §7.1.1.1): outgoing messages are compressed alone and the connection holds no deflate
  // state at all (a per-thread one is used). Default off, as in Tornado.
  CompressionOptions& set_server_no_context_takeover(bool value) {
    server_no_context_takeover = value;
    return *this;
  }
  // ---- the client's offer (websocket_connect; a server ignores these three) ----
  // Offer client_no_context_takeover: our messages are compressed alone (no deflate state
  // kept between them) whatever the server answers.
  CompressionOptions& set_client_no_context_takeover(bool value) {
    client_no_context_takeover = value;
    return *this;
  }
  // Ask the server to compress with at most 2^bits bytes of window (8-15).
  CompressionOptions& set_server_max_window_bits(int bits) {
    server_max_window_bits = bits;
    return *this;
  }
  // Offer client_max_window_bits=bits (8-15) for our deflater; unset, the parameter is
  // offered without a value (the server may choose, as Tornado's client offers).
  CompressionOptions& set_client_max_window_bits(int bits) {
    client_max_window_bits = bits;
    return *this;
  }
  int compression_level = 6;
  int mem_level = 8;
  // Server: answer it even when not offered. Client: offer (ask for) it.
  bool server_no_context_takeover = false;
  bool client_no_context_takeover = false;
  std::optional<int> server_max_window_bits;
  std::optional<int> client_max_window_bits;
};

namespace detail {
struct WebSocketConnection;
struct ConnectionNotes;
}  // namespace detail

class WebSocketHandler : public web::RequestHandler {
 public:
  WebSocketHandler();
  ~WebSocketHandler() override;

  // The handshake, then the connection's life. Not to be overridden (Tornado's get()).
  Task<> get() final;

  // ---- what a handler overrides ----
  // After the 101 (may suspend; messages that arrive meanwhile wait). Path arguments are
  // path_arg(i) / path_kwarg(name). An exception closes the connection (1011).
  virtual Task<> open();
  // One whole message, text (valid UTF-8) or binary. The next message is not read until the
  // returned task completes (backpressure, as in Tornado). An exception is logged and
  // closes the connection with 1011.
  virtual Task<> on_message(std::string message, bool binary) = 0;
  // Once, after the connection closed (either side, or lost). close_code() is the peer's
  // code (nullopt when it sent no close frame).
  virtual void on_close() {}
  // The server is draining (tornado/drain.h): by default close(1001, "Server shutting
  // down") — "going away", so that the client reconnects, to another process. Override to
  // say goodbye first (then close). Past the drain's deadline the connection is cut anyway.
  virtual void on_drain();
  // A ping arrived (already answered with a pong carrying `data`) / a pong arrived.
  virtual void on_ping(std::string_view data);
  virtual void on_pong(std::string_view data);
  // Chooses one of the offered subprotocols (Sec-WebSocket-Protocol), or nullopt for none.
  // Always called, with an empty list when none was offered. Returning a value not offered
  // is a 500 (std::logic_error).
  virtual std::optional<std::string> select_subprotocol(
      const std::vector<std::string>& subprotocols);
  // Whether a browser page of `origin` may connect. Default: the Origin's host[:port],
  // lower-cased, equals the Host header (same origin); false answers 403. Requests without
  // an Origin header (non-browser clients) are not checked.
  virtual bool check_origin(std::string_view origin);
  // nullopt (the default): no compression. Otherwise permessage-deflate is accepted when the
  // client offers it.
  virtual std::optional<CompressionOptions> get_compression_options();
  // Largest message accepted (after inflation); larger → close 1009. Default: the
  // websocket_max_message_size setting (10 MiB).
  virtual std::size_t max_message_size() const;
  // Keepalive pings every ping_interval (default: the websocket_ping_interval setting; none:
  // off); a pong not received within ping_timeout (default: websocket_ping_timeout, else the
  // interval; at most the interval) closes the connection with reason "ping timed out".
  virtual std::optional<Duration> ping_interval() const;
  virtual std::optional<Duration> ping_timeout() const;

  // ---- what a handler calls ----
  // Sends a message. The result may be awaited: it completes when the frame was handed to
  // the kernel (backpressure for a producer), and raises WebSocketClosedError if the
  // connection closed first. Raises WebSocketClosedError at once if the connection is
  // closing or closed. A text message must be UTF-8 (not checked: the caller's text).
  class WriteAwaiter {
   public:
    explicit WriteAwaiter(IOStream::WriteAwaiter inner) : inner_(std::move(inner)) {}
    bool await_ready() const noexcept { return inner_.await_ready(); }
    template <typename P>
    void await_suspend(std::coroutine_handle<P> h) {
      inner_.await_suspend(h);
    }
    void await_resume() {
      try {
        inner_.await_resume();
      } catch (const StreamClosedError&) {
        throw WebSocketClosedError();
      }
    }

   private:
    IOStream::WriteAwaiter inner_;
  };
  WriteAwaiter write_message(std::string_view message, bool binary = false);
  WriteAwaiter write_message(const std::string& message, bool binary = false) {
    return write_message(std::string_view(message), binary);
  }
  WriteAwaiter write_message(const char* message, bool binary = false) {
    return write_message(std::string_view(message), binary);
  }
  // A JSON object, encoded, as text (Tornado's dict). Build it in a statement of its own:
  // g++ 12 rejects or miscompiles a braced json temporary inside co_await (docs/task.md).
  WriteAwaiter write_message(const nlohmann::json& message);
  // Starts the closing handshake: sends a close frame with `code` (1000 when only a reason
  // is given; none when neither) and closes the TCP connection when the peer answers, or
  // after 5 s. Does nothing when already closing. `code` must be a valid close code
  // (std::invalid_argument); the reason is cut to 123 bytes.
  void close(std::optional<int> code = std::nullopt, std::string_view reason = {});
  // Sends a ping (at most 125 bytes: std::invalid_argument). WebSocketClosedError when
  // closing or closed.
  void ping(std::string_view data = {});
  // TCP_NODELAY on the connection (Tornado's set_nodelay).
  void set_nodelay(bool value);

  // The peer's close code and reason (nullopt / "" until a close frame arrived).
  std::optional<int> close_code() const noexcept;
  const std::string& close_reason() const noexcept;
  // The subprotocol select_subprotocol chose ("" for none).
  const std::string& selected_subprotocol() const noexcept;
  // The connection is open (handshake done, no close frame sent or received).
  bool is_open() const noexcept;
  // Bytes written and not yet handed to the kernel (the browser's bufferedAmount).
  std::size_t buffered_amount() const noexcept;

 private:
  friend struct detail::WebSocketConnection;
  friend class pubsub::detail::Sink;
  // The hub's writes: a message framed once for every subscriber (deflated once too when
  // this connection compresses each message alone with a 15-bit window).
  void send_prepared(const pubsub::Message& message, bool with_position);
  const std::shared_ptr<IOStream>& hub_stream() const noexcept;
  void handshake_failed(int status, const char* message);
  bool accept_handshake();
  // The connection's life after the 101: a root of its own (ReadLoop) that owns the handler.
  // Its frame is what an idle connection holds, so it keeps only a Step and one awaiter at
  // a time: fill_buffer, or run_step's task while open(), a message, a linger or the end
  // runs. next_step() handles what needs no suspension (control frames) in between.
  enum class Step : uint8_t { kOpen, kRead, kMessage, kLinger, kEnd, kDone };
  struct ReadLoop;
  void take_over(std::unique_ptr<web::RequestHandler> self) noexcept override;
  static ReadLoop serve(std::unique_ptr<WebSocketHandler> self);
  Task<Step> run_step(Step step);
  Step next_step();
  Step start_connection_done(bool opened);
  Task<> end_connection();
  void finish_connection() noexcept;

  std::unique_ptr<detail::WebSocketConnection> conn_;
  std::shared_ptr<pubsub::detail::Sink> hub_sink_;  // while subscribed to hub topics
  // The chosen subprotocol and the peer's close code and reason, made only when there is
  // one: an idle connection has none of them (inline they would cost it 72 bytes).
  std::unique_ptr<detail::ConnectionNotes> notes_;
};

}  // namespace tornado::websocket
