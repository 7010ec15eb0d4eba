// The WebSocket client's internals, shared by src/websocket_client*.cpp:
//   the opening handshake (websocket_client_handshake.cpp): connect (direct, or through an
//   HTTP proxy's CONNECT tunnel), TLS, the upgrade request and the checks of the 101;
//   ClientConnection (websocket_client.cpp): the open connection's read loop, writes,
//   closing handshake and keepalive pings, in the client's role (our frames masked, the
//   server's unmasked).
#pragma once

#include <cstddef>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "internal/websocket_deflate.h"
#include "internal/websocket_frame.h"
#include "tornado/httpclient.h"
#include "tornado/iostream.h"
#include "tornado/websocket_client.h"

namespace tornado::websocket::detail {

// ---- handshake ----------------------------------------------------------------------------

// websocket_connect's arguments, on the heap for the coroutine.
struct ConnectArgs {
  httpclient::HTTPRequest request;
  WebSocketConnectOptions options;
};

// What the handshake settled.
struct ClientHandshake {
  std::shared_ptr<IOStream> stream;  // the server's first frames may already be buffered
  httputil::HTTPHeaders headers;     // the 101's
  std::string subprotocol;
  std::optional<DeflateParams> deflate;  // the server's answer to our offer
};

// A fresh Sec-WebSocket-Key: base64 of 16 random bytes (RFC 6455 §4.1).
std::string make_client_key();
// The Sec-WebSocket-Extensions value offering permessage-deflate with `options`' offer
// fields. std::invalid_argument for window bits outside 8-15 or a bad level.
std::string deflate_offer(const CompressionOptions& options);
// Checks a 101 response (RFC 6455 §4.1, the client's steps 2-6): Upgrade: websocket,
// Connection: upgrade, the Sec-WebSocket-Accept for `key`, at most one extension and only
// the permessage-deflate we offered (with an answer that fits the offer), a subprotocol
// only if offered. Fills `out`'s subprotocol and deflate; throws WebSocketError.
void check_handshake_response(const httputil::HTTPHeaders& headers, std::string_view key,
                              const std::vector<std::string>& subprotocols,
                              const std::optional<CompressionOptions>& compression,
                              ClientHandshake& out);

// How our side compresses and inflates, from the server's answer and our offer.
struct ClientDeflateSetup {
  bool inflate_no_context_takeover;  // the server compresses each message alone
  bool deflate_no_context_takeover;
  int deflate_window_bits;
  int deflate_level;
};
ClientDeflateSetup client_deflate_setup(const DeflateParams& answer,
                                        const CompressionOptions& offer);

// Connects and runs the handshake. Raises HTTPClientError (non-101: its code; 599:
// transport failure or timeout) and WebSocketError (a bad 101).
Task<ClientHandshake> open_handshake(std::shared_ptr<ConnectArgs> args);

// ---- the open connection -------------------------------------------------------------------

// A read_message() waiting for a message.
struct PendingRead {
  Future<void> ready;  // cancelled when its reader was: then skipped
  std::optional<WebSocketMessage> message;
};

struct ClientConnection : std::enable_shared_from_this<ClientConnection> {
  enum class State : uint8_t { kOpen, kClosing, kClosed };

  ClientConnection(ClientHandshake handshake, const WebSocketConnectOptions& options);
  ~ClientConnection();

  // Starts the read loop and the keepalive pings.
  void start(const WebSocketConnectOptions& options);

  // One masked frame (header and payload in one buffer). StreamClosedError when closed.
  IOStream::WriteAwaiter send_frame(Opcode opcode, std::string_view payload, bool rsv1 = false);
  void send_close(std::optional<int> code, std::string_view reason) noexcept;
  void arm_close_timer();
  void remove_timers() noexcept;
  void schedule_ping(Duration delay);
  void on_ping_timer();
  // A whole message from the parser: to the callback, to a waiting reader, or buffered
  // (the read loop then waits until it is taken).
  Task<> deliver(WebSocketMessage message);
  // The connection ended: readers and the callback get nullopt.
  void finish() noexcept;
  // The owner went away: no more callbacks; pending reads end; close 1001 if open.
  void abandon() noexcept;
  bool is_open() const noexcept {
    return state == State::kOpen && loop.get() != nullptr && !stream->closed();
  }

  std::shared_ptr<IOStream> stream;
  LoopRef loop;
  FrameParser parser;
  std::unique_ptr<Inflater> inflater;
  std::unique_ptr<Deflater> deflater;
  httputil::HTTPHeaders headers;
  std::string subprotocol;
  std::optional<int> close_code;
  std::string close_reason;

  // Delivery.
  std::function<void(std::optional<WebSocketMessage>)> on_message;
  std::function<void(std::string_view)> on_ping;
  std::function<void(std::string_view)> on_pong;
  // Runs on_ping or on_pong; an exception is logged and closes the connection with 1011.
  void control_hook(const std::function<void(std::string_view)>& hook, const char* name,
                    std::string_view data);
  std::optional<WebSocketMessage> buffered;  // read, not yet taken by read_message
  std::optional<Future<void>> taken;         // the read loop waits on it
  std::deque<std::shared_ptr<PendingRead>> readers;
  bool finished = false;

  TimeoutHandle close_timer;
  TimeoutHandle ping_timer;
  Duration ping_interval{};
  Duration ping_timeout{};
  State state = State::kOpen;
  bool close_sent = false;
  bool awaiting_pong = false;
  bool waiting_for_pong = false;  // the ping timer is the pong deadline
};

// The read loop: frames until the connection closes, then finish().
Task<> client_read_loop(std::shared_ptr<ClientConnection> c);
// read_message's body.
Task<std::optional<WebSocketMessage>> client_read_message(std::shared_ptr<ClientConnection> c);

}  // namespace tornado::websocket::detail
