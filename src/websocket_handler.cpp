// WebSocketHandler: the handshake on top of RequestHandler, then the connection's life (the
// read loop, the close handshake, keepalive pings) on the stream taken from HTTP/1.1.
#include <sys/socket.h>

#include <algorithm>
#include <chrono>

#include "internal/describe_exception.h"
#include "internal/pubsub_state.h"
#include "internal/websocket_deflate.h"
#include "internal/websocket_frame.h"
#include "internal/websocket_handshake.h"
#include "tornado/draining.h"
#include "tornado/escape.h"
#include "tornado/http1connection.h"
#include "tornado/log.h"
#include "tornado/metrics.h"
#include "tornado/websocket.h"

namespace tornado::websocket {

namespace detail {

// The state of an upgraded connection; made only after the 101, so a handshake that fails
// costs nothing here. What an idle connection holds: the stream (no buffers while idle),
// the parser (an empty string and a few words), zlib state only with context takeover, and
// two timer handles.
// Both halves of permessage-deflate, in one block (only when negotiated).
struct Compression {
  Compression(bool client_no_context_takeover, int level, int mem_level, int window_bits,
              bool server_no_context_takeover)
      : inflater(client_no_context_takeover),
        deflater(level, mem_level, window_bits, server_no_context_takeover) {}
  Inflater inflater;
  Deflater deflater;
};

// While open, the connection is one of its loop's drain participants (a base, not a
// member: the flags below fill the base's tail padding, and no back pointer is needed).
struct WebSocketConnection final : draining::Participant {
  enum class State : uint8_t { kOpen, kClosing, kClosed };
  enum class PingPhase : uint8_t { kIdle, kWaitPong };

  WebSocketConnection(WebSocketHandler& h, std::shared_ptr<IOStream> s, std::size_t max_size)
      : handler(h), stream(std::move(s)), parser(/*server_side=*/true, max_size) {}
  ~WebSocketConnection() { remove_timers(); }

  void remove_timers() noexcept {
    IOLoop* loop = stream->io_loop();
    if (!loop) return;
    for (TimeoutHandle* t : {&close_timer, &ping_timer}) {
      if (*t) loop->remove_timeout(*t);
      *t = {};
    }
  }

  // One unfragmented frame: the header and the payload join the stream's write queue in
  // the same iteration (one writev). Throws StreamClosedError when the stream is closed.
  IOStream::WriteAwaiter send_frame(Opcode opcode, std::string_view payload, bool rsv1 = false) {
    char header[kMaxFrameHeader];
    const std::size_t n = encode_frame_header(header, opcode, payload.size(), true, rsv1, nullptr);
    (void)stream->write(std::string_view(header, n));
    return stream->write(payload);
  }

  // Sends our close frame once and bounds the rest of the closing handshake.
  void send_close(std::optional<int> code, std::string_view reason) noexcept {
    if (close_sent) return;
    close_sent = true;
    if (state == State::kOpen) state = State::kClosing;
    try {
      if (code) {
        (void)send_frame(Opcode::kClose, close_payload(static_cast<uint16_t>(*code), reason));
      } else {
        (void)send_frame(Opcode::kClose, {});
      }
    } catch (const StreamClosedError&) {
      return;  // gone already: the read loop notices
    }
    arm_close_timer();
  }

  void arm_close_timer() {
    if (close_timer || stream->closed()) return;
    std::weak_ptr<IOStream> weak = stream;
    close_timer = IOLoop::current().call_later(kCloseTimeout, [this, weak] {
      close_timer = {};
      if (auto s = weak.lock()) s->close();
    });
  }

  void start_pings(Duration interval, Duration timeout) {
    ping_interval = interval;
    ping_timeout = std::min(timeout, interval);
    schedule_ping(interval);
  }
  void schedule_ping(Duration delay) {
    ping_timer = IOLoop::current().call_later(delay, [this] {
      ping_timer = {};
      on_ping_timer();
    });
  }
  void on_ping_timer() {
    if (state != State::kOpen || stream->closed()) return;
    if (ping_phase == PingPhase::kWaitPong) {
      ping_phase = PingPhase::kIdle;
      if (awaiting_pong) {
        gen_log().info("WebSocket ping timed out ({})", handler.request_remote_ip());
        send_close(close_codes::kNormal, "ping timed out");
        return;
      }
      schedule_ping(ping_interval - ping_timeout);
      return;
    }
    try {
      (void)send_frame(Opcode::kPing, {});
    } catch (const StreamClosedError&) {
      return;
    }
    awaiting_pong = true;
    if (ping_timeout > Duration::zero()) {
      ping_phase = PingPhase::kWaitPong;
      schedule_ping(ping_timeout);
    } else {
      schedule_ping(ping_interval);
    }
  }

  // After failing the connection (RFC 6455 §7.1.7) the peer may still be sending, e.g. the
  // rest of a message over the size limit. Closing with unread bytes makes the kernel send a
  // reset, and the peer loses our close frame (Chromium then reports 1006, not our code). So:
  // flush, end our side (FIN), and discard what arrives until the peer closes, bounded by
  // the close timer.
  Task<> linger() {
    arm_close_timer();
    try {
      co_await stream->write(std::string_view());
      if (stream->closed()) co_return;
      ::shutdown(stream->fd(), SHUT_WR);
      while (!stream->closed()) {
        co_await stream->fill_buffer();
        stream->consume(stream->read_buffer().size());
      }
    } catch (...) {  // closed by the peer or the timer: done
    }
  }

  // Lets queued bytes drain (bounded by the close timer), then closes TCP.
  Task<> close_stream() {
    arm_close_timer();
    if (!stream->closed()) {
      try {
        co_await stream->write(std::string_view());
      } catch (...) {
      }
      stream->close();
    }
  }

  void on_drain() override { handler.on_drain(); }
  void on_drain_deadline() override { stream->close(); }

  Deflater* deflater() noexcept { return compression ? &compression->deflater : nullptr; }

  // Every idle connection holds this object: its fields are ordered to leave no padding.
  State state = State::kOpen;
  PingPhase ping_phase = PingPhase::kIdle;
  bool close_sent = false;
  bool awaiting_pong = false;
  WebSocketHandler& handler;
  std::shared_ptr<IOStream> stream;
  FrameParser parser;
  std::unique_ptr<Compression> compression;
  TimeoutHandle close_timer;
  TimeoutHandle ping_timer;
  std::chrono::duration<float> ping_interval{};  // (float: 8 bytes for both)
  std::chrono::duration<float> ping_timeout{};
  std::exception_ptr user_error;  // what open() or on_message() raised: closes with 1011
};

struct ConnectionNotes {
  std::string subprotocol;
  std::optional<int> close_code;
  std::string close_reason;
};

}  // namespace detail

using detail::FrameEvent;
using detail::Opcode;

WebSocketHandler::WebSocketHandler() = default;
WebSocketHandler::~WebSocketHandler() {
  if (hub_sink_) hub_sink_->detach();
}

// ---- defaults of the hooks ----------------------------------------------------------------

Task<> WebSocketHandler::open() { co_return; }
void WebSocketHandler::on_ping(std::string_view) {}
void WebSocketHandler::on_pong(std::string_view) {}

std::optional<std::string> WebSocketHandler::select_subprotocol(const std::vector<std::string>&) {
  return std::nullopt;
}

bool WebSocketHandler::check_origin(std::string_view origin) {
  auto host = request().headers.get_first("Host");
  return detail::same_origin(origin, host.value_or(std::string_view()));
}

std::optional<CompressionOptions> WebSocketHandler::get_compression_options() {
  return std::nullopt;
}

std::size_t WebSocketHandler::max_message_size() const {
  return settings().websocket_max_message_size;
}

std::optional<Duration> WebSocketHandler::ping_interval() const {
  return settings().websocket_ping_interval;
}

std::optional<Duration> WebSocketHandler::ping_timeout() const {
  return settings().websocket_ping_timeout;
}

// ---- the handshake ------------------------------------------------------------------------

void WebSocketHandler::handshake_failed(int status, const char* message) {
  gen_log().debug("WebSocket handshake refused ({}): {}", status, message);
  set_status(status);
  if (status == 426) set_header("Sec-WebSocket-Version", "13");
  (void)finish(message);
}

namespace {
Task<> nothing_more() { co_return; }
}  // namespace

// Not a coroutine: the handshake runs synchronously, and the connection's life is run()'s
// task itself, so an idle connection holds no get() frame.
Task<> WebSocketHandler::get() {
  const auto& headers = request().headers;
  auto check = detail::check_upgrade_headers(headers);
  if (check.status != 0) {
    handshake_failed(check.status, check.message);
    return nothing_more();
  }
  auto origin = headers.get_first("Origin");
  if (!origin) origin = headers.get_first("Sec-Websocket-Origin");
  if (origin && !check_origin(*origin)) {
    handshake_failed(403, "Cross origin websockets not allowed");
    return nothing_more();
  }
  check = detail::check_upgrade_version(headers);
  if (check.status != 0) {
    handshake_failed(check.status, check.message);
    return nothing_more();
  }
  if (!accept_handshake()) return nothing_more();
  // The request's root ends here and hands the handler to take_over(): the connection runs
  // in a root of its own (serve), so an idle connection holds no frame of the request's.
  hand_over_after_method();
  return nothing_more();
}

bool WebSocketHandler::accept_handshake() {
  auto& req = request();
  auto* http1 = dynamic_cast<HTTP1Connection*>(req.connection);
  if (!http1) throw std::logic_error("WebSocket upgrade needs an HTTP/1.1 connection");

  const auto offered = detail::split_list(req.headers.get("Sec-WebSocket-Protocol", ""));
  if (auto chosen = select_subprotocol(offered)) {
    if (std::find(offered.begin(), offered.end(), *chosen) == offered.end()) {
      throw std::logic_error("select_subprotocol returned a subprotocol the client did not offer");
    }
    notes_ = std::make_unique<detail::ConnectionNotes>();
    notes_->subprotocol = std::move(*chosen);
    set_header("Sec-WebSocket-Protocol", selected_subprotocol());
  }

  std::optional<detail::DeflateParams> deflate;
  const auto options = get_compression_options();
  if (options) {
    if (options->compression_level < -1 || options->compression_level > 9 ||
        options->mem_level < 1 || options->mem_level > 9) {
      throw std::invalid_argument("CompressionOptions: level 0-9 and mem_level 1-9");
    }
    // A malformed header or bad offers are declined: the connection goes on uncompressed.
    if (auto offers = detail::parse_extensions(req.headers.get("Sec-WebSocket-Extensions", ""))) {
      for (const auto& offer : *offers) {
        deflate = detail::accept_deflate_offer(offer, options->server_no_context_takeover);
        if (deflate) break;
      }
    }
  }

  set_status(101);
  set_header("Upgrade", "websocket");
  set_header("Connection", "Upgrade");
  set_header("Sec-WebSocket-Accept",
             detail::compute_accept_value(*req.headers.get_first("Sec-WebSocket-Key")));
  if (deflate) set_header("Sec-WebSocket-Extensions", detail::deflate_response_header(*deflate));
  (void)finish();  // the 101 is queued (and logged); the connection is ours from here
  release_response();

  conn_ = std::make_unique<detail::WebSocketConnection>(*this, http1->detach(), max_message_size());
  req.connection = nullptr;  // the HTTP/1.1 connection ends on its next iteration
  if (deflate) {
    conn_->compression = std::make_unique<detail::Compression>(
        deflate->client_no_context_takeover,
        options->compression_level, options->mem_level, deflate->server_max_window_bits,
        deflate->server_no_context_takeover);
    conn_->parser.set_inflater(&conn_->compression->inflater);
  }
  return true;
}

// ---- the connection -----------------------------------------------------------------------

// The root that runs an upgraded connection and owns its handler (from take_over). Linked
// into the loop's list like spawn's frames: IOLoop::close() destroys a connection still
// suspended, and with it the handler. No CancelState: nothing cancels a connection (it
// ends by its close handshake, its timers or the stream's close).
struct WebSocketHandler::ReadLoop {
  struct promise_type : tornado::detail::DetachedNode, tornado::detail::PooledFrame {
    explicit promise_type(std::unique_ptr<WebSocketHandler>&) {
      handle = std::coroutine_handle<promise_type>::from_promise(*this);
      tornado::detail::link_detached(this);
    }
    ~promise_type() { unlink(); }
    ReadLoop get_return_object() noexcept { return {}; }
    std::suspend_never initial_suspend() noexcept { return {}; }
    std::suspend_never final_suspend() noexcept { return {}; }
    void return_void() noexcept {}
    void unhandled_exception() noexcept {  // run_step and next_step catch the user's errors
      app_log().error("Uncaught exception in a WebSocket connection: {}",
                      tornado::detail::describe_exception(std::current_exception()));
    }
  };
};

void WebSocketHandler::take_over(std::unique_ptr<web::RequestHandler> self) noexcept {
  tornado::detail::DriverScope scope;  // runs to its first suspension, whatever our depth
  serve(std::unique_ptr<WebSocketHandler>(static_cast<WebSocketHandler*>(self.release())));
}

// The connection's life. This frame is what an idle connection holds suspended (in
// fill_buffer), so it keeps only the step and one awaiter at a time: open(), each message,
// the linger after a protocol error and the end run in run_step's task, whose frame exists
// only while it runs, and control frames are handled by next_step without suspending.
WebSocketHandler::ReadLoop WebSocketHandler::serve(std::unique_ptr<WebSocketHandler> self) {
  metrics::OpenConnection counted(metrics::Transport::kWebSocket);
  Step step = Step::kOpen;
  while (step != Step::kDone) {
    if (step != Step::kRead) {
      step = co_await self->run_step(step);
      continue;
    }
    try {
      co_await self->conn_->stream->fill_buffer();
      step = self->next_step();
    } catch (const StreamClosedError&) {
      step = Step::kEnd;
    } catch (const StreamBufferFullError&) {
      step = Step::kEnd;  // cannot happen: frames are taken as they arrive (control <= 139 B)
    }
  }
}

// The steps that suspend (any but kRead and kDone); returns the next one.
Task<WebSocketHandler::Step> WebSocketHandler::run_step(Step step) {
  auto& c = *conn_;
  switch (step) {
    case Step::kOpen: {
      try {
        co_await open();
      } catch (...) {
        c.user_error = std::current_exception();
      }
      co_return start_connection_done(!c.user_error);
    }
    case Step::kMessage: {
      const bool binary = c.parser.message_is_binary();
      std::string message = c.parser.take_message();
      metrics::detail::websocket_message_in();
      try {
        co_await on_message(std::move(message), binary);
      } catch (...) {
        c.user_error = std::current_exception();
        co_return Step::kEnd;
      }
      co_return next_step();
    }
    case Step::kLinger:
      co_await c.linger();
      co_return Step::kEnd;
    case Step::kEnd:
      co_await end_connection();
      co_return Step::kDone;
    case Step::kRead:
    case Step::kDone:
      break;
  }
  co_return Step::kDone;
}

// After open(): the request's release and the keepalive pings, then the first frames.
WebSocketHandler::Step WebSocketHandler::start_connection_done(bool opened) {
  auto& c = *conn_;
  // The request as a handler sees it in open(); afterwards only its first line, peer and host
  // stay (request() rebuilds one from them if called).
  compact_request();
  if (!opened) return Step::kEnd;
  if (auto interval = ping_interval(); interval && *interval > Duration::zero()) {
    c.start_pings(*interval, ping_timeout().value_or(*interval));
  }
  if (c.state == detail::WebSocketConnection::State::kOpen) c.enroll();
  return next_step();
}

// Handles the parsed events that need no suspension (control frames, messages after our
// close) until one that does: kRead (more bytes), kMessage (the parser holds it), kLinger
// (a protocol error: our close is sent) or kEnd.
WebSocketHandler::Step WebSocketHandler::next_step() {
  auto& c = *conn_;
  IOStream& stream = *c.stream;
  for (;;) {
    const FrameEvent ev = c.parser.parse(stream.mutable_read_buffer());
    switch (ev.kind) {
      case FrameEvent::kNeedMore:
        stream.consume(ev.consumed);
        return Step::kRead;
      case FrameEvent::kMessage:
        stream.consume(ev.consumed);  // the message is the parser's own string
        if (c.state != detail::WebSocketConnection::State::kOpen) {
          (void)c.parser.take_message();  // after our close: dropped
          continue;
        }
        return Step::kMessage;
      case FrameEvent::kPing:
      case FrameEvent::kPong: {
        const std::string data(ev.payload);
        stream.consume(ev.consumed);
        try {
          if (ev.kind == FrameEvent::kPing) {
            // RFC 6455 §5.5.2: answer with the same payload (not after our close frame).
            if (!c.close_sent) (void)c.send_frame(Opcode::kPong, data);
            on_ping(data);
          } else {
            c.awaiting_pong = false;
            on_pong(data);
          }
        } catch (const StreamClosedError&) {
        } catch (...) {
          c.user_error = std::current_exception();
          return Step::kEnd;
        }
        continue;
      }
      case FrameEvent::kClose: {
        std::optional<int> code;
        if (ev.code != detail::close_codes::kNoStatus) code = ev.code;
        if (code || !ev.payload.empty()) {
          if (!notes_) notes_ = std::make_unique<detail::ConnectionNotes>();
          notes_->close_code = code;
          notes_->close_reason.assign(ev.payload);
        }
        stream.consume(ev.consumed);
        // RFC 6455 §5.5.1: answer with a close frame echoing the code (Tornado echoes the
        // code alone), then the server closes the TCP connection.
        c.send_close(code, {});
        return Step::kEnd;
      }
      case FrameEvent::kError:
        // Fail the connection (RFC 6455 §7.1.7) with the code the error calls for.
        gen_log().debug("WebSocket protocol error from {}: {}", request_remote_ip(), ev.error);
        c.send_close(ev.code, ev.error);
        return Step::kLinger;
    }
  }
}

// After the read loop: a handler's failure closes with 1011; then the TCP close and
// on_close().
Task<> WebSocketHandler::end_connection() {
  auto& c = *conn_;
  if (c.user_error) {
    log_exception(std::exchange(c.user_error, nullptr));
    c.send_close(detail::close_codes::kInternalError, "Internal error");
  }
  co_await c.close_stream();
  finish_connection();
}

void WebSocketHandler::finish_connection() noexcept {
  conn_->state = detail::WebSocketConnection::State::kClosed;
  conn_->leave();
  conn_->remove_timers();
  if (hub_sink_) hub_sink_->detach();  // its subscriptions end with the connection
  try {
    on_close();
  } catch (...) {
    app_log().error("Exception in on_close {}: {}", request_summary(),
                    tornado::detail::describe_exception(std::current_exception()));
  }
}

namespace {
const std::string& no_string() noexcept {
  static const std::string empty;
  return empty;
}
}  // namespace

std::optional<int> WebSocketHandler::close_code() const noexcept {
  return notes_ ? notes_->close_code : std::nullopt;
}

const std::string& WebSocketHandler::close_reason() const noexcept {
  return notes_ ? notes_->close_reason : no_string();
}

const std::string& WebSocketHandler::selected_subprotocol() const noexcept {
  return notes_ ? notes_->subprotocol : no_string();
}

// ---- sending --------------------------------------------------------------------------------

bool WebSocketHandler::is_open() const noexcept {
  return conn_ && conn_->state == detail::WebSocketConnection::State::kOpen &&
         !conn_->stream->closed();
}

WebSocketHandler::WriteAwaiter WebSocketHandler::write_message(std::string_view message,
                                                               bool binary) {
  if (!is_open()) throw WebSocketClosedError();
  auto& c = *conn_;
  const Opcode opcode = binary ? Opcode::kBinary : Opcode::kText;
  metrics::detail::websocket_message_out();
  try {
    detail::Deflater* deflater = c.deflater();
    if (!deflater) return WriteAwaiter(c.send_frame(opcode, message));
    // RFC 7692 §6: RSV1 on the (only) frame of a compressed message.
    std::string payload;
    deflater->compress(message, payload);
    char header[detail::kMaxFrameHeader];
    const std::size_t n =
        detail::encode_frame_header(header, opcode, payload.size(), true, true, nullptr);
    (void)c.stream->write(std::string_view(header, n));
    return WriteAwaiter(c.stream->write(std::move(payload)));
  } catch (const StreamClosedError&) {
    throw WebSocketClosedError();
  }
}

WebSocketHandler::WriteAwaiter WebSocketHandler::write_message(const nlohmann::json& message) {
  if (!message.is_object()) {
    throw std::invalid_argument("write_message(json) takes a JSON object (Tornado's dict)");
  }
  return write_message(escape::json_encode(message), false);
}

void WebSocketHandler::close(std::optional<int> code, std::string_view reason) {
  if (!conn_ || conn_->state == detail::WebSocketConnection::State::kClosed) return;
  if (!code && !reason.empty()) code = detail::close_codes::kNormal;
  if (code && !detail::is_valid_close_code(static_cast<uint32_t>(*code))) {
    throw std::invalid_argument("invalid WebSocket close code " + std::to_string(*code));
  }
  conn_->send_close(code, reason);
}

void WebSocketHandler::on_drain() { close(detail::close_codes::kGoingAway, "Server shutting down"); }

void WebSocketHandler::ping(std::string_view data) {
  if (data.size() > 125) throw std::invalid_argument("ping payload over 125 bytes");
  if (!is_open()) throw WebSocketClosedError();
  try {
    (void)conn_->send_frame(Opcode::kPing, data);
  } catch (const StreamClosedError&) {
    throw WebSocketClosedError();
  }
}

std::size_t WebSocketHandler::buffered_amount() const noexcept {
  return conn_ ? conn_->stream->write_buffer_size() : 0;
}

const std::shared_ptr<IOStream>& WebSocketHandler::hub_stream() const noexcept {
  return conn_->stream;
}

void WebSocketHandler::send_prepared(const pubsub::Message& message, bool with_position) {
  if (!is_open()) throw WebSocketClosedError();
  auto& c = *conn_;
  detail::Deflater* deflater = c.deflater();
  if (!deflater) {
    c.stream->write_now({with_position ? message.websocket_positioned_frame()
                                       : message.websocket_frame()});
  } else if (deflater->no_context_takeover() && deflater->window_bits() == 15) {
    c.stream->write_now({with_position ? message.websocket_positioned_deflated_frame()
                                       : message.websocket_deflated_frame()});
  } else if (with_position) {  // this connection's own compression context
    (void)write_message(message.position().to_string() + "\n" + std::string(message.data()),
                        message.binary());
    return;  // (counted by write_message)
  } else {
    (void)write_message(message.data(), message.binary());
    return;  // (counted by write_message)
  }
  metrics::detail::websocket_message_out();
}

void WebSocketHandler::set_nodelay(bool value) {
  if (conn_ && !conn_->stream->closed()) conn_->stream->set_nodelay(value);
}

}  // namespace tornado::websocket
