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

#include "tornado/httputil.h"
#include "tornado/iostream.h"
#include "tornado/task.h"

namespace tornado::http1 {
struct MessageHead;
struct BodyFraming;
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

// One HTTP/1.x message exchange at a time on `stream`.
class HTTP1Connection final : public httputil::HTTPConnection {
 public:
  HTTP1Connection(std::shared_ptr<IOStream> stream, bool is_client,
                  HTTP1ConnectionParameters params = {},
                  httputil::HTTPConnectionContext context = {});
  ~HTTP1Connection() override;

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
  WriteAwaiter write(std::string_view chunk) override;
  WriteAwaiter finish() override;
  void set_max_body_size(std::size_t bytes) override { max_body_size_ = bytes; }
  void set_body_timeout(Duration timeout) override { body_timeout_ = timeout; }
  const httputil::HTTPConnectionContext& context() const override { return context_; }
  // The server adjusts this per request (xheaders) and restores it afterwards.
  httputil::HTTPConnectionContext& mutable_context() noexcept { return context_; }
  void set_close_callback(std::function<void()> callback) override;

  // True once finish() ran for the current message's outgoing side.
  bool write_finished() const noexcept { return write_finished_; }
  // Completes when the outgoing side of the current exchange is finished.
  Task<> wait_write_finished();
  // Takes the stream away (for WebSocket upgrades): the connection stops using it.
  std::shared_ptr<IOStream> detach();
  IOStream& stream() noexcept { return *stream_; }
  const HTTP1ConnectionParameters& params() const noexcept { return params_; }

 private:
  // The read path, split by role; both share read_head, start_decompression and the body
  // readers below.
  Task<bool> read_request(httputil::HTTPMessageDelegate& delegate);
  // The method by value: a coroutine owns its arguments (the Task may be stored).
  Task<bool> read_response(httputil::HTTPMessageDelegate& delegate, std::string request_method);
  Task<std::size_t> read_head(http1::MessageHead& head);  // HTTPInputError when malformed
  http1::MessageHead& reusable_head();
  void start_decompression(const http1::BodyFraming& framing, httputil::HTTPHeaders& headers);
  Task<> read_body(httputil::HTTPMessageDelegate& delegate, const http1::BodyFraming& framing);
  Task<> deliver(httputil::HTTPMessageDelegate& delegate, std::string_view data);
  Task<> read_fixed_body(httputil::HTTPMessageDelegate& delegate, uint64_t length);
  Task<> read_chunked_body(httputil::HTTPMessageDelegate& delegate);
  Task<> read_body_until_close(httputil::HTTPMessageDelegate& delegate);
  Task<> fill_with_timeout(std::optional<double> deadline);
  void answer_error(int status, const std::string& message);
  void append_body(std::string& out, std::string_view chunk);
  WriteAwaiter send(std::string bytes);
  void reset_for_next_message();
  void reset_write_side();
  void on_write_finished();

  std::shared_ptr<IOStream> stream_;
  bool is_client_;
  HTTP1ConnectionParameters params_;
  httputil::HTTPConnectionContext context_;
  std::unique_ptr<http1::MessageHead> head_;  // reused: no allocation per request once warm
  std::function<void()> close_callback_;

  // Per message: reading side.
  std::string request_method_;  // server: the request's method (HEAD has no body)
  int request_version_minor_ = 1;
  bool disconnect_after_ = false;  // close once this exchange is done
  std::size_t max_body_size_;
  std::optional<Duration> body_timeout_;
  std::optional<double> body_deadline_;
  uint64_t body_received_ = 0;
  bool read_finished_ = false;
  std::unique_ptr<detail::GzipDecompressor> decompressor_;

  // Per message: writing side.
  bool headers_written_ = false;
  bool chunking_output_ = false;
  bool write_finished_ = false;
  bool suppress_body_ = false;  // HEAD / 204 / 304
  std::optional<uint64_t> expected_content_remaining_;
  int response_code_ = 0;
  std::coroutine_handle<> write_finished_waiter_;
};

// Serves requests on one stream until it closes or keep-alive ends.
class HTTP1ServerConnection {
 public:
  HTTP1ServerConnection(std::shared_ptr<IOStream> stream, HTTP1ConnectionParameters params,
                        httputil::HTTPConnectionContext context);
  // Reads request after request and passes each to delegate.start_request(). Completes when
  // the connection is done; never throws for peer errors (they are logged).
  Task<> start_serving(httputil::HTTPServerConnectionDelegate& delegate);
  // Closes the stream; start_serving then completes.
  void close();

 private:
  std::shared_ptr<IOStream> stream_;
  HTTP1ConnectionParameters params_;
  httputil::HTTPConnectionContext context_;
};

}  // namespace tornado
