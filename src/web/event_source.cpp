// EventSourceHandler: a Server-Sent Events stream on a RequestHandler. The response head goes
// out through the HTTP/1.1 connection; then the stream is taken from it (as a WebSocket
// takes it) and the events are written to it directly, chunk-framed when the response is
// chunked.
#include "tornado/web/event_source.h"

#include <charconv>
#include <chrono>
#include <random>
#include <string>

#include "internal/describe_exception.h"
#include "internal/pubsub_state.h"
#include "internal/sse.h"
#include "tornado/draining.h"
#include "tornado/http1connection.h"
#include "tornado/log.h"
#include "tornado/metrics.h"

namespace tornado::web {

namespace {

constexpr Duration kDefaultHeartbeat = std::chrono::seconds(15);
// Unsent bytes a send() may leave behind a client that does not read (as the hub's default
// max_pending_bytes).
constexpr std::size_t kDefaultMaxBuffered = 1024 * 1024;
constexpr Duration kFinishTimeout = std::chrono::seconds(5);
// What a client may send on an event stream (it should send nothing): more is an abuse.
constexpr std::size_t kMaxIncoming = 64 * 1024;

void check_field(std::string_view value, const char* what) {
  if (value.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos) {
    throw std::invalid_argument(std::string("EventSourceHandler::send: CR, LF or NUL in the ") +
                                what);
  }
}

// The event's lines: field lines, then a data line per line of `data`, then the blank line.
std::string encode_event(std::string_view data, std::string_view event, std::string_view id,
                         std::optional<Duration> retry) {
  std::string out;
  out.reserve(data.size() + event.size() + id.size() + 32);
  if (!event.empty()) out.append("event: ").append(event).push_back('\n');
  if (!id.empty()) out.append("id: ").append(id).push_back('\n');
  if (retry) {
    char buf[24];
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(*retry).count();
    auto r = std::to_chars(buf, buf + sizeof buf, ms < 0 ? 0 : ms);
    out.append("retry: ").append(buf, r.ptr).push_back('\n');
  }
  internal::append_sse_data(out, data);
  out.push_back('\n');
  return out;
}

// "<size in hex>\r\n", the line before a chunk of the body, written into `buf`.
std::string_view chunk_size_line(char (&buf)[24], std::size_t size) {
  auto r = std::to_chars(buf, buf + 20, size, 16);
  *r.ptr++ = '\r';
  *r.ptr++ = '\n';
  return std::string_view(buf, static_cast<std::size_t>(r.ptr - buf));
}

}  // namespace

class EventSourceHandler::DrainHook final : public draining::Participant {
 public:
  explicit DrainHook(EventSourceHandler& h) : handler_(h) {}
  void on_drain() override { handler_.on_drain(); }
  void on_drain_deadline() override {
    if (handler_.stream_) handler_.stream_->close();
  }

 private:
  EventSourceHandler& handler_;
};

EventSourceHandler::EventSourceHandler() = default;

EventSourceHandler::~EventSourceHandler() {
  if (hub_sink_) hub_sink_->detach();
  if (heartbeat_) {
    if (IOLoop* loop = IOLoop::current_or_null()) loop->remove_timeout(heartbeat_);
  }
}

Task<> EventSourceHandler::open() { co_return; }

std::optional<Duration> EventSourceHandler::heartbeat_interval() const {
  return kDefaultHeartbeat;
}

Task<> EventSourceHandler::get() {
  auto& req = request();
  if (auto id = req.headers.get_first("Last-Event-ID")) last_event_id_ = std::string(*id);
  auto* http1 = dynamic_cast<HTTP1Connection*>(req.connection);
  if (!http1) throw std::logic_error("EventSourceHandler needs an HTTP/1.1 connection");
  set_header("Content-Type", "text/event-stream");
  set_header("Cache-Control", "no-cache");
  set_header("X-Accel-Buffering", "no");  // nginx: pass events on as they come
  (void)flush();                          // the head, now
  chunked_ = http1->chunking_output();
  stream_ = http1->detach();
  head_bytes_ = buffered_amount();  // not counted by the send bound (check_room)
  metrics::OpenConnection counted(metrics::Transport::kSse);
  req.connection = nullptr;
  mark_finished();
  log_request();
  arm_heartbeat();
  drain_hook_ = std::make_unique<DrainHook>(*this);
  drain_hook_->enroll();
  std::exception_ptr error;
  try {
    co_await open();
  } catch (...) {
    error = std::current_exception();
  }
  if (error) {
    log_exception(error);
    close();
  }
  co_await watch_connection();
  end_stream();
}

// Reads (and discards) until the client goes away; a client has nothing to send here.
Task<> EventSourceHandler::watch_connection() {
  std::size_t received = 0;
  while (!stream_->closed()) {
    try {
      co_await stream_->fill_buffer();
    } catch (const StreamClosedError&) {
      break;
    } catch (const StreamBufferFullError&) {
      break;
    }
    received += stream_->read_buffer().size();
    stream_->consume(stream_->read_buffer().size());
    if (received > kMaxIncoming) {
      gen_log().info("Event stream client {} sent {} bytes: closing", request().remote_ip,
                     received);
      stream_->close();
    }
  }
}

void EventSourceHandler::end_stream() noexcept {
  ended_ = true;
  if (drain_hook_) drain_hook_->leave();
  if (heartbeat_) {
    IOLoop::current().remove_timeout(heartbeat_);
    heartbeat_ = {};
  }
  if (hub_sink_) hub_sink_->detach();
  if (!on_close_called_) {
    on_close_called_ = true;
    try {
      on_close();
    } catch (...) {
      app_log().error("Exception in on_close {}: {}", request_summary(),
                      tornado::detail::describe_exception(std::current_exception()));
    }
  }
}

void EventSourceHandler::arm_heartbeat() {
  const auto interval = heartbeat_interval();
  if (!interval || *interval <= Duration::zero()) return;
  heartbeat_ = IOLoop::current().call_later(*interval, [this] {
    heartbeat_ = {};
    if (!is_open()) return;
    // Not behind unsent bytes: a client that reads nothing would pile heartbeats up.
    if (!sent_since_beat_ && buffered_amount() == 0) {
      try {
        (void)send_comment();
      } catch (const StreamClosedError&) {
        return;
      }
    }
    sent_since_beat_ = false;
    arm_heartbeat();
  });
}

std::size_t EventSourceHandler::max_buffered_amount() const { return kDefaultMaxBuffered; }

void EventSourceHandler::check_room(std::size_t size) {
  if (!is_open()) throw StreamClosedError();
  const std::size_t limit = max_buffered_amount();
  // The response head, if still queued, is not the client's backlog of events (it goes
  // first; once it went, this undercounts by at most its size).
  const std::size_t queued = buffered_amount();
  const std::size_t unsent = queued > head_bytes_ ? queued - head_bytes_ : 0;
  if (limit == 0 || unsent == 0 || unsent + size <= limit) return;
  gen_log().info("Event stream client {} has {} bytes unsent, a send of {} would pass the bound "
                 "of {}: closing",
                 request().remote_ip, unsent, size, limit);
  close();
  throw StreamClosedError(std::make_exception_ptr(StreamBufferFullError(
      "Event stream: " + std::to_string(unsent) + " bytes unsent, past max_buffered_amount (" +
      std::to_string(limit) + " bytes)")));
}

bool EventSourceHandler::is_open() const noexcept {
  return stream_ && !ended_ && !stream_->closed();
}

std::size_t EventSourceHandler::buffered_amount() const noexcept {
  return stream_ ? stream_->write_buffer_size() : 0;
}

IOStream::WriteAwaiter EventSourceHandler::write_body(std::string_view bytes) {
  if (!is_open()) throw StreamClosedError();
  sent_since_beat_ = true;
  if (!chunked_) return stream_->write(bytes);
  char line[24];
  (void)stream_->write(chunk_size_line(line, bytes.size()));
  (void)stream_->write(bytes);
  return stream_->write(std::string_view("\r\n"));
}

void EventSourceHandler::send_prepared(std::string_view event) {
  if (!is_open()) throw StreamClosedError();
  sent_since_beat_ = true;
  if (!chunked_) return stream_->write_now({event});
  char line[24];
  stream_->write_now({chunk_size_line(line, event.size()), event, std::string_view("\r\n")});
}

IOStream::WriteAwaiter EventSourceHandler::send(std::string_view data, std::string_view event,
                                                std::string_view id,
                                                std::optional<Duration> retry) {
  check_field(event, "event");
  check_field(id, "id");
  std::string encoded = encode_event(data, event, id, retry);
  check_room(encoded.size());
  return write_body(encoded);
}

IOStream::WriteAwaiter EventSourceHandler::send_comment(std::string_view text) {
  check_field(text, "comment");
  std::string line;
  line.reserve(text.size() + 4);
  line.append(":");
  if (!text.empty()) line.append(" ").append(text);
  line.append("\n\n");
  check_room(line.size());
  return write_body(line);
}

void EventSourceHandler::on_drain() {
  if (!is_open()) return;
  thread_local std::minstd_rand jitter(std::random_device{}());
  const auto delay_ms = 1000 + jitter() % 2001;
  try {
    (void)write_body(": server shutting down\nretry: " + std::to_string(delay_ms) + "\n\n");
  } catch (const StreamClosedError&) {
  }
  close();
}

void EventSourceHandler::close() {
  if (!stream_ || ended_ || stream_->closed()) return;
  ended_ = true;
  if (hub_sink_) hub_sink_->detach();
  try {
    if (chunked_) (void)stream_->write(std::string_view("0\r\n\r\n"));
  } catch (const StreamClosedError&) {
  }
  // Flush what is queued, then close; a client that does not read is cut off after 5 s.
  std::weak_ptr<IOStream> weak = stream_;
  IOLoop::current().call_later(kFinishTimeout, [weak] {
    if (auto s = weak.lock()) s->close();
  });
  spawn_detached(
      [](std::shared_ptr<IOStream> s) -> Task<> {
        try {
          co_await s->write(std::string_view());
        } catch (...) {
        }
        s->close();
      }(stream_),
      [](std::exception_ptr) {});
}

}  // namespace tornado::web
