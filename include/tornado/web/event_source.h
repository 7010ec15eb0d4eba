// tornado/web/event_source.h — Server-Sent Events (the WHATWG EventSource stream), a
// RequestHandler that keeps its response open and sends events. Tornado leaves SSE to user
// code; this is what such code does, done once.
//
//   struct Clock : web::EventSourceHandler {
//     Task<> open() override {                          // last_event_id(): a reconnect's
//       for (int i = 0; is_open(); ++i) {
//         co_await send(std::to_string(i), "tick");     // waits until handed to the kernel
//         co_await gen::sleep(1s);
//       }
//     }
//   };
//
// get() is the stream: 200 with Content-Type: text/event-stream and Cache-Control: no-cache,
// sent at once; then open(); the handler lives until the client goes away or close() is
// called, whether or not open() is still running. A comment line is sent every
// heartbeat_interval() while the stream is idle, so that proxies keep it open and a lost
// client is noticed. The stream is taken from the HTTP/1.1 connection (like a WebSocket), so
// the connection serves no further request; the response body is chunked for HTTP/1.1
// clients and ends at the close for HTTP/1.0 ones.
//
// A handler may subscribe itself to a pubsub::Hub topic: each message becomes an event whose
// id is the message's stream position, so a reconnecting browser's Last-Event-ID recovers
// what it missed (docs/sse.md).
//
// Thread rule: loop thread only (the handler's loop).
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "tornado/iostream.h"
#include "tornado/web/request_handler.h"

namespace tornado::pubsub::detail {
class Sink;
}  // namespace tornado::pubsub::detail

namespace tornado::web {

class EventSourceHandler : public RequestHandler {
 public:
  EventSourceHandler();
  ~EventSourceHandler() override;

  // The stream. Not to be overridden.
  Task<> get() final;

  // ---- what a handler overrides ----
  // After the response head was sent. May run as long as the stream is open (a producer
  // loop), or return at once and leave the sending to others (a hub subscription, timers).
  // An exception is logged and ends the stream.
  virtual Task<> open();
  // Once, when the stream ended (the client went away, close(), or an error).
  virtual void on_close() {}
  // The server is draining (tornado/drain.h): by default a last `retry:` field (1 to 3 s,
  // random, so that the browsers of a large audience do not all come back at once) and
  // close(): the browser's EventSource reconnects, to another process. Override to send a
  // last event first. Past the drain's deadline the stream is cut anyway.
  virtual void on_drain();
  // How often a comment is sent while no event is (default 15 s; nullopt: never).
  virtual std::optional<Duration> heartbeat_interval() const;
  // The bound on unsent bytes (buffered_amount()) that send() and send_comment() may leave
  // behind a client that does not read (default 1 MiB; 0: none). A send that would pass it
  // while bytes are still unsent ends the stream as a client's going away would: the event
  // is not queued, close() runs (what is queued gets its 5 s to go out), on_close() follows,
  // and the send raises StreamClosedError whose real_error() is a StreamBufferFullError (so
  // a producer loop that handles a vanished client needs nothing more). The browser then
  // reconnects with its Last-Event-ID and recovers, instead of silently missing events. One
  // event larger than the bound still goes to a client with nothing unsent (the
  // response head, still queued when open() begins, does not count).
  virtual std::size_t max_buffered_amount() const;

  // ---- what a handler calls ----
  // Sends one event: `data` split into data lines at CR, LF and CRLF (the browser joins them
  // with LF), with an event type, an id (the browser's Last-Event-ID from then on) and a
  // reconnection delay when given. event and id must not hold CR, LF or NUL
  // (std::invalid_argument). Awaiting the result waits until the event was handed to the
  // kernel (backpressure); it raises StreamClosedError if the stream ended first, as does
  // send() at once on an ended stream. Not awaited, sends queue up to max_buffered_amount()
  // (past it the stream ends, above): a producer that may outrun its client awaits them (or
  // watches buffered_amount()). Hub messages are bounded by their topic's max_pending_bytes,
  // and the heartbeat is never queued behind unsent bytes.
  IOStream::WriteAwaiter send(std::string_view data, std::string_view event = {},
                              std::string_view id = {}, std::optional<Duration> retry = {});
  // A comment line (": text"), ignored by the browser.
  IOStream::WriteAwaiter send_comment(std::string_view text = {});
  // Ends the stream: what is queued is flushed (bounded by 5 s), then the connection closes.
  // The browser reconnects after its retry delay unless the page closes it; a server that
  // wants it gone answers the reconnect with 204.
  void close();

  bool is_open() const noexcept;
  // The Last-Event-ID request header of a reconnecting client (nullopt on a first connect).
  const std::optional<std::string>& last_event_id() const noexcept { return last_event_id_; }
  // Bytes queued and not yet handed to the kernel.
  std::size_t buffered_amount() const noexcept;

 private:
  friend class pubsub::detail::Sink;
  IOStream::WriteAwaiter write_body(std::string_view bytes);
  // send()'s bound: ends the stream and raises if `size` more bytes would pass it.
  void check_room(std::size_t size);
  // The hub's writes: an event encoded once for every subscriber, written at once.
  void send_prepared(std::string_view event);
  Task<> watch_connection();
  void end_stream() noexcept;
  void arm_heartbeat();

  class DrainHook;  // this stream as one of its loop's drain participants, while open
  std::shared_ptr<IOStream> stream_;
  std::shared_ptr<pubsub::detail::Sink> hub_sink_;
  std::unique_ptr<DrainHook> drain_hook_;
  std::optional<std::string> last_event_id_;
  TimeoutHandle heartbeat_;
  std::size_t head_bytes_ = 0;  // the response head's bytes queued when the stream began
  bool chunked_ = false;
  bool ended_ = false;     // the stream is over for the handler (closed or closing)
  bool sent_since_beat_ = false;
  bool on_close_called_ = false;
};

}  // namespace tornado::web
