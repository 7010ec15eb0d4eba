// WebSocketClientConnection: the open connection in the client's role (RFC 6455 §5.1: our
// frames masked with a fresh random key each, the server's never masked): the read loop and
// message delivery, writes, the closing handshake and keepalive pings; websocket_connect.
#include "internal/websocket_client.h"

#include <openssl/rand.h>

#include <algorithm>
#include <chrono>

#include "internal/describe_exception.h"
#include "tornado/escape.h"
#include "tornado/log.h"

namespace tornado::websocket {

namespace detail {

ClientConnection::ClientConnection(ClientHandshake handshake,
                                   const WebSocketConnectOptions& options)
    : stream(std::move(handshake.stream)),
      loop(IOLoop::current().ref()),
      parser(/*server_side=*/false, options.max_message_size),
      headers(std::move(handshake.headers)),
      subprotocol(std::move(handshake.subprotocol)),
      on_message(options.on_message_callback),
      on_ping(options.on_ping),
      on_pong(options.on_pong) {
  if (handshake.deflate) {
    const ClientDeflateSetup s =
        client_deflate_setup(*handshake.deflate, *options.compression_options);
    inflater = std::make_unique<Inflater>(s.inflate_no_context_takeover);
    parser.set_inflater(inflater.get());
    deflater = std::make_unique<Deflater>(s.deflate_level, options.compression_options->mem_level,
                                          s.deflate_window_bits, s.deflate_no_context_takeover);
  }
}

ClientConnection::~ClientConnection() { remove_timers(); }

void ClientConnection::start(const WebSocketConnectOptions& options) {
  if (options.ping_interval && *options.ping_interval > Duration::zero()) {
    ping_interval = *options.ping_interval;
    ping_timeout = std::min(options.ping_timeout.value_or(ping_interval), ping_interval);
    schedule_ping(ping_interval);
  }
  spawn_detached(client_read_loop(shared_from_this()), [](std::exception_ptr e) {
    gen_log().error("WebSocket client read loop failed: {}",
                    tornado::detail::describe_exception(e));
  });
}

void ClientConnection::remove_timers() noexcept {
  IOLoop* l = loop.get();
  if (!l) return;
  for (TimeoutHandle* t : {&close_timer, &ping_timer}) {
    if (*t) l->remove_timeout(*t);
    *t = {};
  }
}

IOStream::WriteAwaiter ClientConnection::send_frame(Opcode opcode, std::string_view payload,
                                                    bool rsv1) {
  // RFC 6455 §10.3: an unpredictable key per frame. The payload is copied once, into the
  // frame, and masked there.
  uint8_t key[4];
  if (RAND_bytes(key, 4) != 1) throw std::runtime_error("RAND_bytes failed");
  std::string frame(kMaxFrameHeader + payload.size(), '\0');
  const std::size_t n = encode_frame_header(frame.data(), opcode, payload.size(), true, rsv1, key);
  if (!payload.empty()) std::memcpy(frame.data() + n, payload.data(), payload.size());
  apply_mask(frame.data() + n, payload.size(), key, 0);
  frame.resize(n + payload.size());
  return stream->write(std::move(frame));
}

void ClientConnection::send_close(std::optional<int> code, std::string_view reason) noexcept {
  if (close_sent) return;
  close_sent = true;
  if (state == State::kOpen) state = State::kClosing;
  try {
    if (code) {
      (void)send_frame(Opcode::kClose, close_payload(static_cast<uint16_t>(*code), reason));
    } else {
      (void)send_frame(Opcode::kClose, {});
    }
  } catch (const std::exception&) {
    return;  // the stream is gone: the read loop notices
  }
  arm_close_timer();
}

void ClientConnection::arm_close_timer() {
  IOLoop* l = loop.get();
  if (close_timer || stream->closed() || !l) return;
  std::weak_ptr<IOStream> weak = stream;
  close_timer = l->call_later(kCloseTimeout, [weak] {
    if (auto s = weak.lock()) s->close();
  });
}

void ClientConnection::schedule_ping(Duration delay) {
  IOLoop* l = loop.get();
  if (!l) return;
  std::weak_ptr<ClientConnection> weak = weak_from_this();
  ping_timer = l->call_later(delay, [weak] {
    if (auto self = weak.lock()) {
      self->ping_timer = {};
      self->on_ping_timer();
    }
  });
}

void ClientConnection::on_ping_timer() {
  if (state != State::kOpen || stream->closed()) return;
  if (waiting_for_pong) {
    waiting_for_pong = false;
    if (awaiting_pong) {
      gen_log().info("WebSocket client: ping timed out");
      send_close(close_codes::kNormal, "ping timed out");
      return;
    }
    schedule_ping(ping_interval - ping_timeout);
    return;
  }
  try {
    (void)send_frame(Opcode::kPing, {});
  } catch (const std::exception&) {
    return;
  }
  awaiting_pong = true;
  if (ping_timeout > Duration::zero()) {
    waiting_for_pong = true;
    schedule_ping(ping_timeout);
  } else {
    schedule_ping(ping_interval);
  }
}

void ClientConnection::control_hook(const std::function<void(std::string_view)>& hook,
                                    const char* name, std::string_view data) {
  if (!hook || state != State::kOpen) return;
  auto keep = shared_from_this();  // the hook may let go of the connection,
  auto run = hook;                  // and with it of the hook itself
  try {
    run(data);
  } catch (...) {
    app_log().error("Exception in the WebSocket client's {}: {}", name,
                    tornado::detail::describe_exception(std::current_exception()));
    send_close(close_codes::kInternalError, "Internal error");
  }
}

Task<> ClientConnection::deliver(WebSocketMessage message) {
  if (on_message) {
    try {
      on_message(std::move(message));
    } catch (...) {
      app_log().error("Exception in the WebSocket client's on_message_callback: {}",
                      tornado::detail::describe_exception(std::current_exception()));
      send_close(close_codes::kInternalError, "Internal error");
    }
    co_return;
  }
  while (!readers.empty()) {
    auto reader = std::move(readers.front());
    readers.pop_front();
    if (reader->ready.done()) continue;  // its reader was cancelled
    reader->message = std::move(message);
    reader->ready.set_result();
    co_return;
  }
  // Nobody is reading: keep it and stop reading the socket until it is taken.
  buffered = std::move(message);
  taken.emplace();
  Future<void> wait = *taken;
  co_await wait;
}

void ClientConnection::finish() noexcept {
  state = State::kClosed;
  finished = true;
  remove_timers();
  auto waiting = std::move(readers);
  readers.clear();
  for (auto& reader : waiting) {
    if (!reader->ready.done()) reader->ready.set_result();  // message stays nullopt
  }
  on_ping = nullptr;  // they may hold the connection's owner
  on_pong = nullptr;
  if (auto callback = std::move(on_message)) {
    on_message = nullptr;
    try {
      callback(std::nullopt);
    } catch (...) {
      app_log().error("Exception in the WebSocket client's on_message_callback: {}",
                      tornado::detail::describe_exception(std::current_exception()));
    }
  }
}

void ClientConnection::abandon() noexcept {
  on_message = nullptr;
  on_ping = nullptr;
  on_pong = nullptr;
  if (!loop.get()) {
    // The loop is gone (and with it the read loop and every waiter): just let go.
    stream->close();
    return;
  }
  if (state == State::kOpen && !stream->closed()) send_close(close_codes::kGoingAway, {});
  buffered.reset();
  if (taken && !taken->done()) taken->set_result();
  auto waiting = std::move(readers);
  readers.clear();
  for (auto& reader : waiting) {
    if (!reader->ready.done()) reader->ready.set_result();
  }
}

Task<> client_read_loop(std::shared_ptr<ClientConnection> c) {
  std::shared_ptr<IOStream> held = c->stream;
  IOStream& stream = *held;
  bool close_received = false;
  for (;;) {
    FrameEvent ev = c->parser.parse(stream.mutable_read_buffer());
    if (ev.kind == FrameEvent::kNeedMore) {
      stream.consume(ev.consumed);
      try {
        co_await stream.fill_buffer();
      } catch (const StreamClosedError&) {
        break;
      } catch (const StreamBufferFullError&) {
        break;  // cannot happen: frames are taken as they arrive
      }
      continue;
    }
    if (ev.kind == FrameEvent::kMessage) {
      WebSocketMessage message{c->parser.take_message(), c->parser.message_is_binary()};
      stream.consume(ev.consumed);
      if (c->state != ClientConnection::State::kOpen) continue;  // after our close
      co_await c->deliver(std::move(message));
      continue;
    }
    if (ev.kind == FrameEvent::kPing) {
      const std::string data(ev.payload);
      stream.consume(ev.consumed);
      // RFC 6455 §5.5.2: answered with the same payload, not after our close frame.
      if (!c->close_sent) {
        try {
          (void)c->send_frame(Opcode::kPong, data);
        } catch (const std::exception&) {
        }
      }
      c->control_hook(c->on_ping, "on_ping", data);
      continue;
    }
    if (ev.kind == FrameEvent::kPong) {
      const std::string data(ev.payload);
      stream.consume(ev.consumed);
      c->awaiting_pong = false;
      c->control_hook(c->on_pong, "on_pong", data);
      continue;
    }
    if (ev.kind == FrameEvent::kClose) {
      if (ev.code != close_codes::kNoStatus) c->close_code = ev.code;
      c->close_reason.assign(ev.payload);
      stream.consume(ev.consumed);
      // RFC 6455 §5.5.1: answer with a close frame echoing the code (as Tornado), then
      // let the server close the TCP connection first (§7.1.1).
      c->send_close(c->close_code, {});
      close_received = true;
      break;
    }
    // kError: fail the connection (§7.1.7) with the code the error calls for.
    gen_log().debug("WebSocket protocol error from the server: {}", ev.error);
    c->send_close(ev.code, ev.error);
    break;
  }
  c->state = ClientConnection::State::kClosing;
  c->arm_close_timer();
  if (!stream.closed()) {
    try {
      co_await stream.write(std::string_view());  // our close frame leaves first
      if (close_received) {
        // The server closes TCP after the handshake: wait for its EOF (bounded by the
        // close timer), discarding anything that still arrives.
        for (;;) {
          stream.consume(stream.read_buffer().size());
          co_await stream.fill_buffer();
        }
      }
    } catch (...) {
    }
    stream.close();
  }
  c->finish();
}

Task<std::optional<WebSocketMessage>> client_read_message(std::shared_ptr<ClientConnection> c) {
  if (c->buffered) {
    std::optional<WebSocketMessage> m = std::move(c->buffered);
    c->buffered.reset();
    if (c->taken && !c->taken->done()) c->taken->set_result();
    co_return m;
  }
  if (c->finished) co_return std::nullopt;
  auto reader = std::make_shared<PendingRead>();
  c->readers.push_back(reader);
  co_await reader->ready;
  co_return std::move(reader->message);
}

}  // namespace detail

// ---- WebSocketClientConnection ---------------------------------------------------------------

WebSocketClientConnection::WebSocketClientConnection(
    std::shared_ptr<detail::ClientConnection> state)
    : state_(std::move(state)) {}

WebSocketClientConnection::~WebSocketClientConnection() { state_->abandon(); }

Task<std::optional<WebSocketMessage>> WebSocketClientConnection::read_message() {
  if (state_->on_message) {
    throw std::logic_error("read_message() with an on_message_callback: messages go there");
  }
  return detail::client_read_message(state_);
}

WebSocketClientConnection::WriteAwaiter WebSocketClientConnection::write_message(
    std::string_view message, bool binary) {
  if (!state_->is_open()) throw WebSocketClosedError();
  auto& c = *state_;
  const detail::Opcode opcode = binary ? detail::Opcode::kBinary : detail::Opcode::kText;
  try {
    if (!c.deflater) return WriteAwaiter(c.send_frame(opcode, message));
    // RFC 7692 §6: RSV1 on the (only) frame of a compressed message.
    std::string payload;
    c.deflater->compress(message, payload);
    return WriteAwaiter(c.send_frame(opcode, payload, true));
  } catch (const StreamClosedError&) {
    throw WebSocketClosedError();
  }
}

WebSocketClientConnection::WriteAwaiter WebSocketClientConnection::write_message(
    const nlohmann::json& message) {
  if (!message.is_object()) {
    throw std::invalid_argument("write_message(json) takes a JSON object (Tornado's dict)");
  }
  return write_message(escape::json_encode(message), false);
}

void WebSocketClientConnection::ping(std::string_view data) {
  if (data.size() > 125) throw std::invalid_argument("ping payload over 125 bytes");
  if (!state_->is_open()) throw WebSocketClosedError();
  try {
    (void)state_->send_frame(detail::Opcode::kPing, data);
  } catch (const StreamClosedError&) {
    throw WebSocketClosedError();
  }
}

void WebSocketClientConnection::close(std::optional<int> code, std::string_view reason) {
  if (state_->state == detail::ClientConnection::State::kClosed) return;
  if (!code && !reason.empty()) code = detail::close_codes::kNormal;
  if (code && !detail::is_valid_close_code(static_cast<uint32_t>(*code))) {
    throw std::invalid_argument("invalid WebSocket close code " + std::to_string(*code));
  }
  state_->send_close(code, reason);
}

std::optional<int> WebSocketClientConnection::close_code() const noexcept {
  return state_->close_code;
}
const std::string& WebSocketClientConnection::close_reason() const noexcept {
  return state_->close_reason;
}
const std::string& WebSocketClientConnection::selected_subprotocol() const noexcept {
  return state_->subprotocol;
}
const httputil::HTTPHeaders& WebSocketClientConnection::headers() const noexcept {
  return state_->headers;
}
bool WebSocketClientConnection::compressed() const noexcept { return state_->deflater != nullptr; }
bool WebSocketClientConnection::is_open() const noexcept { return state_->is_open(); }
void WebSocketClientConnection::set_nodelay(bool value) {
  if (!state_->stream->closed()) state_->stream->set_nodelay(value);
}

// ---- websocket_connect -----------------------------------------------------------------------

namespace {

Task<std::shared_ptr<WebSocketClientConnection>> connect(
    std::shared_ptr<detail::ConnectArgs> args) {
  detail::ClientHandshake handshake = co_await detail::open_handshake(args);
  auto state = std::make_shared<detail::ClientConnection>(std::move(handshake), args->options);
  state->start(args->options);
  co_return std::make_shared<WebSocketClientConnection>(std::move(state));
}

}  // namespace

Task<std::shared_ptr<WebSocketClientConnection>> websocket_connect(std::string url) {
  auto args = std::make_shared<detail::ConnectArgs>();
  args->request.url = std::move(url);
  return connect(std::move(args));
}

Task<std::shared_ptr<WebSocketClientConnection>> websocket_connect(
    std::string url, WebSocketConnectOptions options) {
  auto args = std::make_shared<detail::ConnectArgs>();
  args->request.url = std::move(url);
  args->options = std::move(options);
  return connect(std::move(args));
}

Task<std::shared_ptr<WebSocketClientConnection>> websocket_connect(
    httpclient::HTTPRequest request) {
  auto args = std::make_shared<detail::ConnectArgs>();
  args->request = std::move(request);
  return connect(std::move(args));
}

Task<std::shared_ptr<WebSocketClientConnection>> websocket_connect(
    httpclient::HTTPRequest request, WebSocketConnectOptions options) {
  auto args = std::make_shared<detail::ConnectArgs>();
  args->request = std::move(request);
  args->options = std::move(options);
  return connect(std::move(args));
}

}  // namespace tornado::websocket
