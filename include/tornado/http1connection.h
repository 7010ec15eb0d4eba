// tornado/http1connection.h — HTTP/1.x on one stream, for both the server and the client
// (Tornado's `http1connection`).
//
// The server side (HTTP1ServerConnection) reads requests with an in-place parser, hands each
// to an HTTPMessageDelegate, and writes the response the delegate produces through the
// HTTPConnection interface. The client side (HTTP1Connection in client mode) writes a
// request and reads one response into a delegate. Users normally meet this module only
// through HTTPServer and AsyncHTTPClient; its parameters are theirs.
//
// Limits, with Tornado's defaults: headers 64 KiB (431 past it), body = max_buffer_size
// 100 MiB (413 past it), header wait = idle_connection_timeout 3600 s, body_timeout none.
// Malformed input gets a 400 (or 431/413/505) with Connection: close, and the connection
// closes; nothing reaches the application. See docs/http1connection.md.
// Thread rule: loop thread only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "tornado/httputil.h"
#include "tornado/httputil_view.h"
#include "tornado/iostream.h"
#include "tornado/task.h"

namespace tornado::http1 {
struct MessageHead;
struct BodyFraming;
struct RequestFields;
class ChunkedDecoder;
}  // namespace tornado::http1

namespace tornado {

namespace detail {
class GzipDecompressor;
}

struct HTTP1ConnectionParameters {
  bool no_keep_alive = false;
  std::size_t chunk_size = 64 * 1024;             // largest piece given to data_received
  std::size_t max_header_size = 64 * 1024;        // 431 past it
  std::optional<Duration> header_timeout;         // wait for a (next) request head; none = forever
  std::size_t max_body_size = 100 * 1024 * 1024;  // 413 past it (after decompression)
  std::optional<Duration> body_timeout;           // whole body; none = forever
  bool decompress = false;                        // inflate Content-Encoding: gzip bodies
  // Server: the next (pipelined) request is read only once the unsent response bytes are
  // at most this many; above it the connection waits for them to drain (a client that
  // pipelines without reading is held to this much memory).
  std::size_t max_unsent_output = 64 * 1024;
  // Client: interim (1xx) responses read before the final one; more is an HTTPInputError.
  int max_interim_responses = 100;
};

class HTTP1ConnectionList;

// One HTTP/1.x message exchange at a time on `stream`.
class HTTP1Connection final : public httputil::HTTPConnection {
 public:
  HTTP1Connection(std::shared_ptr<IOStream> stream, bool is_client,
                  HTTP1ConnectionParameters params = {},
                  httputil::HTTPConnectionContext context = {});
  // Shares the parameters (a server's connections all use one copy).
  HTTP1Connection(std::shared_ptr<IOStream> stream, bool is_client,
                  std::shared_ptr<const HTTP1ConnectionParameters> params,
                  httputil::HTTPConnectionContext context = {});
  ~HTTP1Connection() override;
  HTTP1Connection(const HTTP1Connection&) = delete;
  HTTP1Connection& operator=(HTTP1Connection&&) = delete;
  HTTP1Connection& operator=(const HTTP1Connection&) = delete;

  // Reads one message (a request on a server, a response on a client) into `delegate`.
  // Returns true if the connection may carry another message afterwards. Raises
  // StreamClosedError if the stream closes before the head arrives; a malformed message
  // answers 400 (server) and returns false. `request_method` is the method of the request
  // the response answers (client side; HEAD responses have no body).
  Task<bool> read_message(httputil::HTTPMessageDelegate& delegate,
                          std::string_view request_method = {});

  // HTTPConnection
  WriteAwaiter write_headers(const httputil::StartLine& start_line,
                             const httputil::HTTPHeaders& headers,
                             std::string_view chunk = {}) override;
  using httputil::HTTPConnection::write_headers;  // the ResponseStartLine form too
  WriteAwaiter write(std::string_view chunk) override;
  WriteAwaiter finish() override;
  void finish_unawaited() override;
  void set_max_body_size(std::size_t bytes) override { max_body_size_ = bytes; }
  void set_body_timeout(Duration timeout) override {
    body_timeout_ = timeout < Duration::zero() ? Duration::zero() : timeout;
  }
  const httputil::HTTPConnectionContext& context() const override { return context_; }
  // The server adjusts this per request (xheaders) and restores it afterwards.
  httputil::HTTPConnectionContext& mutable_context() noexcept { return context_; }
  void set_close_callback(std::function<void()> callback) override;

  // True once finish() ran for the current message's outgoing side.
  bool write_finished() const noexcept { return write_finished_; }
  // Completes when the outgoing side of the current exchange is finished.
  Task<> wait_write_finished();
  // Takes the stream away (for WebSocket upgrades): the connection stops using it. The
  // current exchange counts as finished, the serve loop ends without closing the stream
  // and without reading from it again, and the connection's close callbacks are dropped.
  std::shared_ptr<IOStream> detach();
  bool detached() const noexcept { return detached_; }
  // The response's body is sent chunked (decided by write_headers: an HTTP/1.1 request and
  // a response with a body and no Content-Length).
  bool chunking_output() const noexcept { return chunking_output_; }
  IOStream& stream() noexcept { return *stream_; }
  const HTTP1ConnectionParameters& params() const noexcept { return *params_; }

 private:
  friend class HTTP1ServerConnection;
  friend class HTTP1ConnectionList;
  // Only before first use (HTTP1ServerConnection passes a fresh one into its serve frame):
  // nothing may point at the connection yet (no timer, no list, no borrowed head).
  HTTP1Connection(HTTP1Connection&& other) noexcept;
  // The read path, split by role; both share read_head, start_decompression and the body
  // readers below. read_request is read_message's (the caller owns `delegate`).
  Task<bool> read_request(httputil::HTTPMessageDelegate& delegate);
  // The serve loop's request step, with no coroutine frame when it can: a request whose head
  // is in the read buffer, answered from views (the server delegate's serve_view), or taken
  // by the delegate's request_head_now, without a body and answered by the delegate's
  // finish() at once (backpressure not due), is served here, and the result is an empty
  // Task, `keep_alive` the answer. The request's delegate is made (start_request) only when
  // views did not answer. Otherwise the result is the Task that serves the rest of it (it
  // owns `owned`) and returns whether to keep the connection. `owned` is then left as the
  // server delegate's reuse_request decided: the delegate, ready for the next request, or
  // null.
  Task<bool> serve_request(httputil::HTTPServerConnectionDelegate& server,
                           std::unique_ptr<httputil::HTTPMessageDelegate>& owned,
                           bool& keep_alive);
  // serve_request's steps once the head is complete (`used` bytes), with no frame of their
  // own; serve_when_head_read is the frame that waits for a head that came in pieces.
  Task<bool> serve_head(httputil::HTTPServerConnectionDelegate& server, http1::MessageHead& head,
                        std::size_t used, std::unique_ptr<httputil::HTTPMessageDelegate>& owned,
                        bool& keep_alive);
  Task<bool> serve_when_head_read(httputil::HTTPServerConnectionDelegate& server,
                                  std::unique_ptr<httputil::HTTPMessageDelegate> owned,
                                  std::size_t scan_from);
  // The steps of a request after its head is parsed, none of which waits. check: the head's
  // checks, keep-alive and 100-continue (false: refused and answered). take: the fields
  // copied and the head handed to the delegate's request_head_now (false: the request failed
  // and was dealt with); a head the delegate did not take is left in `pending` for
  // headers_received.
  struct PendingHead;
  bool check_request_head(http1::MessageHead& head, const http1::RequestFields& known,
                          http1::BodyFraming& framing, bool& expect_continue);
  bool take_request_head(http1::MessageHead& head, const http1::RequestFields& known,
                         std::size_t used, httputil::HTTPMessageDelegate& delegate,
                         const http1::BodyFraming& framing, std::unique_ptr<PendingHead>& pending);
  // The fast path (tornado/httputil_view.h): the checked, body-less head (`used` bytes)
  // offered to the server delegate's serve_view. True when it was answered: the head's bytes
  // are then consumed and the head released; false leaves both for the ordinary path.
  bool serve_view(httputil::HTTPServerConnectionDelegate& server, http1::MessageHead& head,
                  const http1::RequestFields& known, std::size_t used);
  // The view responder writes its whole response with the connection's state.
  friend class httputil::Responder;
  // The rest of a request after take_request_head: headers_received if the head is pending,
  // the body, finish(), then end_request's steps.
  Task<bool> finish_request(httputil::HTTPMessageDelegate& delegate,
                            std::unique_ptr<httputil::HTTPMessageDelegate> owned,
                            std::unique_ptr<PendingHead> pending, http1::BodyFraming framing,
                            bool expect_continue);
  // Waits for the response's end, drops `owned` and applies the backpressure wait.
  Task<bool> end_request(std::unique_ptr<httputil::HTTPMessageDelegate> owned);
  // Called in a handler: a failure of the request itself (HTTPInputError: answered;
  // StreamClosedError) returns false, telling an open delegate; anything else is rethrown.
  bool request_failed(httputil::HTTPMessageDelegate& delegate, bool delegate_open);
  // The method by value: a coroutine owns its arguments (the Task may be stored).
  Task<bool> read_response(httputil::HTTPMessageDelegate& delegate, std::string request_method);
  // A request's start (read_request and serve_request): the message state reset, the head
  // borrowed, its wait begun and what the buffer holds of it parsed. False, answered with
  // its error, when that much is malformed; `used` 0 while the head is incomplete.
  bool begin_request_head(http1::MessageHead*& head, std::size_t& used, std::size_t& scan_from);
  // The head already buffered, parsed in place: its length, or 0 while it is incomplete
  // (`scan_from` carries where to resume). HTTPInputError when malformed.
  std::size_t parse_buffered_head(http1::MessageHead& head, std::size_t& scan_from);
  // Waits for the rest of a head parse_buffered_head found incomplete (after start_head_wait).
  Task<std::size_t> read_head(http1::MessageHead& head, std::size_t scan_from);
  // The parsed head is borrowed from a per-thread pool for one message only: a connection
  // between messages holds none.
  http1::MessageHead& borrow_head();
  void release_head() noexcept;
  // After a request's head was consumed: the next pipelined request's head reuses this one
  // (parsing clears it) while bytes of it are buffered; a connection with nothing more
  // buffered gives it back before it can go idle.
  void release_spare_head() noexcept {
    if (stream_->read_buffer().empty()) release_head();
  }
  // header_timeout: the next head must be complete that long after the wait for it began
  // (idle time between requests included). One timer per connection, re-armed lazily when
  // it fires, not one added and removed per wait.
  void start_head_wait();
  void end_head_wait() noexcept { head_deadline_ = 0; }
  void on_head_timer();
  void start_decompression(const http1::BodyFraming& framing, httputil::HTTPHeaders& headers);
  Task<> read_body(httputil::HTTPMessageDelegate& delegate, const http1::BodyFraming& framing);
  Task<> deliver(httputil::HTTPMessageDelegate& delegate, std::string_view data);
  Task<> read_fixed_body(httputil::HTTPMessageDelegate& delegate, uint64_t length);
  Task<> read_chunked_body(httputil::HTTPMessageDelegate& delegate);
  Task<> read_body_until_close(httputil::HTTPMessageDelegate& delegate);
  Task<> fill_with_timeout(double deadline);  // 0: none
  void answer_error(int status, const std::string& message);
  // write_headers by role: the start line's checks and the framing decisions, then
  // send_head, which assembles and queues the head (`put_start` writes the start line's
  // `start_size` bytes).
  WriteAwaiter write_response_head(const httputil::ResponseStartLine& line,
                                   const httputil::HTTPHeaders& headers,
                                   std::string_view chunk) override;
  void send_response_head(const httputil::ResponseStartLine& line,
                          const httputil::HTTPHeaders& headers, std::string_view chunk,
                          const httputil::KnownFraming* known) override;
  // Both: the awaitable made only when `Awaited`; the fields looked through unless `known`.
  template <bool Awaited>
  std::conditional_t<Awaited, WriteAwaiter, void> response_head(
      const httputil::ResponseStartLine& line, const httputil::HTTPHeaders& headers,
      std::string_view chunk, const httputil::KnownFraming* known);
  WriteAwaiter write_request_head(const httputil::RequestStartLine& line,
                                  const httputil::HTTPHeaders& headers, std::string_view chunk);
  template <bool Awaited = true, class PutStart>
  std::conditional_t<Awaited, WriteAwaiter, void> send_head(
      std::size_t start_size, PutStart put_start, std::string_view lines,
      std::string_view more_lines, std::optional<std::string_view> length,
      const httputil::HTTPHeaders& headers, std::string_view chunk,
      const httputil::KnownFraming* known = nullptr);
  // finish()'s checks and the end of the exchange, before its last bytes are sent.
  void end_message();
  void count_body(std::size_t size);  // against Content-Length; HTTPOutputError past it
  WriteAwaiter send_body(std::string_view chunk);  // a counted, non-empty piece
  WriteAwaiter send(std::string_view bytes);
  void reset_for_next_message();
  void reset_write_side();
  void on_write_finished();

  // Kept small and packed (this object is most of an idle server connection's frame), and in
  // the order of use: a server touches every field up to close_callback_ on every request
  // (the fields of a message are reset for the next), and a connection at depth 1 is
  // resumed between other connections' requests, so each cache line of them is fetched
  // again: the rest, read rarely, comes last.
  std::shared_ptr<IOStream> stream_;
  std::shared_ptr<const HTTP1ConnectionParameters> params_;
  http1::MessageHead* head_ = nullptr;  // borrowed while a message is read
  double head_deadline_ = 0;            // IOLoop::time() base; 0 = not waiting for a head
  TimeoutHandle head_timer_;
  bool is_client_;
  bool detached_ = false;  // detach() gave the stream away
  // Server: waiting for the first bytes of a (next) request; a drain closes such connections
  // (HTTP1ConnectionList::close_idle).
  bool idle_ = false;

  // Per message: reading side.
  bool head_request_ = false;      // the request is a HEAD (its response has no body)
  bool disconnect_after_ = false;  // close once this exchange is done
  bool read_finished_ = false;
  // Per message: writing side (the flags here to share the reading side's word).
  bool headers_written_ = false;
  bool chunking_output_ = false;
  bool write_finished_ = false;
  bool suppress_body_ = false;    // HEAD / 204 / 304
  bool length_declared_ = false;  // Content-Length given: expected_remaining_ counts it down
  int request_version_minor_ = 1;
  int response_code_ = 0;  // the writing side's, here to fill the int's pair of the word
  std::size_t max_body_size_;
  Duration body_timeout_;     // negative: none
  double body_deadline_ = 0;  // IOLoop::time() base; 0 = none
  uint64_t body_received_ = 0;
  std::unique_ptr<detail::GzipDecompressor> decompressor_;
  uint64_t expected_remaining_ = 0;
  std::coroutine_handle<> write_finished_waiter_;
  // Membership of a server's HTTP1ConnectionList (intrusive: no allocation per connection);
  // the list is asked whether it drains on every response.
  HTTP1ConnectionList* list_ = nullptr;
  std::function<void()> close_callback_;

  // Read rarely: the context (a view's request reads it only if the application asks), and
  // the list's links.
  httputil::HTTPConnectionContext context_;
  HTTP1Connection* list_prev_ = nullptr;
  HTTP1Connection* list_next_ = nullptr;
};

// The server connections open on one server, linked through the connections themselves.
// Loop thread only.
class HTTP1ConnectionList {
 public:
  HTTP1ConnectionList() = default;
  HTTP1ConnectionList(const HTTP1ConnectionList&) = delete;
  HTTP1ConnectionList& operator=(const HTTP1ConnectionList&) = delete;
  ~HTTP1ConnectionList();
  void add(HTTP1Connection& conn) noexcept;
  void remove(HTTP1Connection& conn) noexcept;
  std::size_t size() const noexcept { return size_; }
  // Closes every connection's stream (each one's serve loop then ends and leaves the list).
  void close_all();

  // ---- graceful drain (tornado/drain.h) ----
  // From now on every response says Connection: close and each connection ends after its
  // current request (one whose next request has already arrived serves it first).
  void start_draining() noexcept { draining_ = true; }
  bool draining() const noexcept { return draining_; }
  // Closes the connections waiting for a (next) request with no byte of it arrived (in the
  // stream's buffer or the socket's). Returns how many it closed.
  std::size_t close_idle();

 private:
  HTTP1Connection* first_ = nullptr;
  std::size_t size_ = 0;
  bool draining_ = false;
};

// Serves requests on one stream until it closes or keep-alive ends. Between requests a
// connection holds its stream, this object and one suspended frame: no request delegate,
// no parsed head and no buffers (see docs/performance.md, idle connections).
class HTTP1ServerConnection {
 public:
  HTTP1ServerConnection(std::shared_ptr<IOStream> stream, HTTP1ConnectionParameters params,
                        httputil::HTTPConnectionContext context);
  // Reads request after request and passes each to delegate.start_request(). Completes when
  // the connection is done; never throws for peer errors (they are logged).
  Task<> start_serving(httputil::HTTPServerConnectionDelegate& delegate);
  // The same as one coroutine that owns everything it needs: an idle connection is this
  // one frame. `delegate` (and `list`, if given: the connection is in it while served)
  // must outlive the task; HTTPServer's do.
  static Task<> serve(std::shared_ptr<IOStream> stream,
                      std::shared_ptr<const HTTP1ConnectionParameters> params,
                      httputil::HTTPConnectionContext context,
                      httputil::HTTPServerConnectionDelegate& delegate,
                      HTTP1ConnectionList* list = nullptr);
  // The same, started now as a root frame of the current loop (like spawn_detached, with
  // no Task to wrap): what HTTPServer does per accepted connection. Loop thread only.
  static void start(std::shared_ptr<IOStream> stream,
                    std::shared_ptr<const HTTP1ConnectionParameters> params,
                    httputil::HTTPConnectionContext context,
                    httputil::HTTPServerConnectionDelegate& delegate,
                    HTTP1ConnectionList* list = nullptr);
  // Closes the stream; start_serving then completes.
  void close();

 private:
  // The end of the connection.
  static Task<> close_connection(HTTP1Connection& conn,
                                 httputil::HTTPServerConnectionDelegate& delegate) noexcept;
  // The body of serve and start. The connection is the frame's only copy of the stream,
  // parameters and context (a parameter, not a local built from parameters).
  template <typename Coroutine>
  static Coroutine serve_loop(HTTP1Connection conn,
                              httputil::HTTPServerConnectionDelegate& delegate,
                              HTTP1ConnectionList* list);

  std::shared_ptr<IOStream> stream_;
  HTTP1ConnectionParameters params_;
  httputil::HTTPConnectionContext context_;
};

}  // namespace tornado
