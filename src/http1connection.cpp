#include "tornado/http1connection.h"

#include <algorithm>
#include <cassert>
#include <cstring>
#include <ctime>
#include <stdexcept>

#include "internal/describe_exception.h"
#include "internal/gzip.h"
#include "internal/http1_head_writer.h"
#include "internal/http_parser.h"
#include "internal/small_copy.h"
#include "internal/thread_spares.h"
#include "tornado/hot.h"
#include "tornado/ioloop.h"
#include "tornado/log.h"

namespace tornado {

using httputil::HTTPHeaders;
using httputil::HTTPInputError;
using httputil::HTTPOutputError;
using httputil::RequestStartLine;
using httputil::ResponseStartLine;
using httputil::StartLine;

namespace {

// True if the comma-separated token list `value` holds `token` (case-insensitive).
bool has_token(std::string_view value, std::string_view token) {
  while (!value.empty()) {
    std::size_t comma = value.find(',');
    std::string_view item = value.substr(0, comma);
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
    if (http1::iequals(item, token)) return true;
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return false;
}

// "<size in hex>\r\n", the line before a chunk's data, written at the end of `buf`.
std::string_view chunk_size_line(char (&buf)[20], std::size_t size) {
  char* p = buf + sizeof buf;
  *--p = '\n';
  *--p = '\r';
  do {
    *--p = "0123456789abcdef"[size & 0xf];
    size >>= 4;
  } while (size != 0);
  return {p, static_cast<std::size_t>(buf + sizeof buf - p)};
}

bool headers_say_gzip(const http1::MessageHead& head) {
  const http1::Field* f = head.find("Content-Encoding");
  return f && http1::iequals(f->value, "gzip");
}

// Client side: responses Tornado refuses although RFC 9112 6.3 gives them a reading (a
// body on a no-body status, Transfer-Encoding with Content-Length: both smuggling signs).
void check_response_framing(const http1::MessageHead& head) {
  const http1::Field* cl = head.find("Content-Length");
  const bool te = head.find("Transfer-Encoding") != nullptr;
  if (head.code >= 100 && head.code < 200 && (cl || te)) {
    throw HTTPInputError("Response code " + std::to_string(head.code) + " cannot have body");
  }
  if (head.code == 204 && (te || (cl && cl->value != "0"))) {
    throw HTTPInputError("Response with code 204 should not have body");
  }
  if (te && cl) throw HTTPInputError("Response with both Transfer-Encoding and Content-Length");
}

}  // namespace

namespace internal {

// "Date: <IMF-fixdate>\r\n", rebuilt at most once a second per thread. Inside a loop's
// iteration the wall clock is not read per response: the line holds until the steady clock
// read when the iteration's events arrived passes the next second's boundary (the one read
// a loop makes per iteration, IOLoop::iteration_clock). Outside an iteration (a thread
// without a loop), or when no boundary is known yet, the wall clock is read.
TORNADO_HOT const std::string& cached_date_line() {
  using std::chrono::steady_clock;
  thread_local time_t cached_second = 0;
  thread_local steady_clock::time_point next_second{};  // the line holds before this
  thread_local std::string line;
  if (detail::t_iteration_clock_valid && detail::t_iteration_clock < next_second) [[likely]] {
    return line;
  }
  timespec wall{};
  clock_gettime(CLOCK_REALTIME, &wall);
  // The next boundary of the wall clock's second, on the steady clock (their drift within
  // a second is far below the line's one-second grain).
  next_second = steady_clock::now() + std::chrono::nanoseconds(1'000'000'000 - wall.tv_nsec);
  if (wall.tv_sec != cached_second) {
    cached_second = wall.tv_sec;
    line = "Date: " + httputil::format_timestamp(static_cast<int64_t>(wall.tv_sec)) + "\r\n";
  }
  return line;
}

TORNADO_HOT char* send_at_once_scratch(std::size_t size) {
  thread_local std::string scratch;
  if (scratch.size() < size) scratch.resize(std::max(size, std::size_t{512}));
  return scratch.data();
}

}  // namespace internal

HTTP1Connection::HTTP1Connection(std::shared_ptr<IOStream> stream, bool is_client,
                                 HTTP1ConnectionParameters params,
                                 httputil::HTTPConnectionContext context)
    : HTTP1Connection(std::move(stream), is_client,
                      std::make_shared<const HTTP1ConnectionParameters>(params),
                      std::move(context)) {}

HTTP1Connection::HTTP1Connection(std::shared_ptr<IOStream> stream, bool is_client,
                                 std::shared_ptr<const HTTP1ConnectionParameters> params,
                                 httputil::HTTPConnectionContext context)
    : stream_(std::move(stream)),
      params_(std::move(params)),
      is_client_(is_client),
      max_body_size_(params_->max_body_size),
      body_timeout_(params_->body_timeout.value_or(Duration(-1))),
      context_(std::move(context)) {}

HTTP1Connection::HTTP1Connection(HTTP1Connection&& other) noexcept
    : stream_(std::move(other.stream_)),
      params_(std::move(other.params_)),
      is_client_(other.is_client_),
      max_body_size_(other.max_body_size_),
      body_timeout_(other.body_timeout_),
      context_(std::move(other.context_)) {
  assert(other.head_ == nullptr && !other.head_timer_ && other.list_ == nullptr);
}

HTTP1Connection::~HTTP1Connection() {
  if (list_) list_->remove(*this);
  release_head();
  if (head_timer_ && stream_) {
    if (IOLoop* loop = stream_->io_loop()) loop->remove_timeout(head_timer_);
  }
}

namespace {

// Parsed heads kept for reuse per thread: a request borrows one, so a warm server parses
// without allocating while idle connections hold none.
void delete_head(http1::MessageHead*& head) noexcept { delete head; }
using SpareHeads = internal::ThreadSpares<http1::MessageHead*, 64, delete_head>;

}  // namespace

TORNADO_HOT http1::MessageHead& HTTP1Connection::borrow_head() {
  if (head_ == nullptr) head_ = SpareHeads::empty() ? new http1::MessageHead() : SpareHeads::take();
  return *head_;
}

TORNADO_HOT void HTTP1Connection::release_head() noexcept {
  if (head_ == nullptr) return;
  http1::MessageHead* head = std::exchange(head_, nullptr);
  // A head that grew for a huge request is not kept (nor is any past the bound).
  if (head->fields.capacity() <= 64) {
    head->clear();
    if (SpareHeads::keep(head)) return;
  }
  delete head;
}

TORNADO_HOT void HTTP1Connection::start_head_wait() {
  if (!params_->header_timeout || head_deadline_ != 0) return;
  // Seconds as IOLoop::time() makes them: a multiplication, where duration<double>'s
  // conversion divided (a divsd, some 15 cycles of latency, for every request).
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                      IOLoop::iteration_clock().time_since_epoch()).count();
  const double now = static_cast<double>(ns / 1'000'000'000) +
                     static_cast<double>(ns % 1'000'000'000) * 1e-9;
  head_deadline_ = now + params_->header_timeout->count();
  if (head_timer_) return;  // armed for an earlier deadline: it re-arms when it fires
  if (IOLoop* loop = stream_->io_loop()) {
    head_timer_ = loop->call_at(head_deadline_, [this] { on_head_timer(); });
  }
}

void HTTP1Connection::on_head_timer() {
  head_timer_ = {};
  if (head_deadline_ == 0) return;  // not waiting for a head now: the next wait re-arms
  IOLoop* loop = stream_->io_loop();
  if (loop == nullptr) return;
  if (loop->time() >= head_deadline_) {
    stream_->close(std::make_exception_ptr(TimeoutError("HTTP read timeout")));
  } else {
    head_timer_ = loop->call_at(head_deadline_, [this] { on_head_timer(); });
  }
}

TORNADO_HOT void HTTP1Connection::reset_for_next_message() {
  head_request_ = false;
  request_version_minor_ = 1;
  disconnect_after_ = params_->no_keep_alive;
  max_body_size_ = params_->max_body_size;
  body_timeout_ = params_->body_timeout.value_or(Duration(-1));
  body_deadline_ = 0;
  body_received_ = 0;
  read_finished_ = false;
  decompressor_.reset();
  close_callback_ = nullptr;
  // A client writes its request before reading the response (and, with Expect:
  // 100-continue, writes the body while reading): its writing side is reset by
  // write_headers, never here.
  if (!is_client_) reset_write_side();
}

TORNADO_HOT void HTTP1Connection::reset_write_side() {
  headers_written_ = false;
  chunking_output_ = false;
  write_finished_ = false;
  suppress_body_ = false;
  length_declared_ = false;
  expected_remaining_ = 0;
  response_code_ = 0;
  write_finished_waiter_ = {};
}

// Waits for more bytes; past `deadline` the stream is closed, which fails the wait.
Task<> HTTP1Connection::fill_with_timeout(double deadline) {
  if (deadline == 0) {
    co_await stream_->fill_buffer();
    co_return;
  }
  IOLoop& loop = IOLoop::current();
  std::weak_ptr<IOStream> weak = stream_;
  TimeoutHandle timer = loop.call_at(deadline, [weak] {
    if (auto s = weak.lock()) s->close(std::make_exception_ptr(TimeoutError("HTTP read timeout")));
  });
  try {
    co_await stream_->fill_buffer();
  } catch (...) {
    loop.remove_timeout(timer);
    throw;
  }
  loop.remove_timeout(timer);
}

void HTTP1Connection::answer_error(int status, const std::string& message) {
  gen_log().info("Malformed HTTP message from {}: {}", context_.remote_ip, message);
  disconnect_after_ = true;
  if (!is_client_ && !headers_written_ && !stream_->closed()) {
    std::string reply = "HTTP/1.1 " + std::to_string(status) + " " +
                        std::string(httputil::reason_phrase(status)) +
                        "\r\nConnection: close\r\nContent-Length: 0\r\n\r\n";
    headers_written_ = true;
    (void)stream_->write(std::move(reply));
  }
  write_finished_ = true;
}

// ---- reading: shared steps ------------------------------------------------------------

Task<bool> HTTP1Connection::read_message(httputil::HTTPMessageDelegate& delegate,
                                         std::string_view request_method) {
  // Not a coroutine: the role's coroutine is the only frame.
  return is_client_ ? read_response(delegate, std::string(request_method)) : read_request(delegate);
}

TORNADO_HOT std::size_t HTTP1Connection::parse_buffered_head(http1::MessageHead& head,
                                                             std::size_t& scan_from) {
  std::string_view buf = stream_->read_buffer();
  if (buf.empty()) return 0;
  const http1::Limits limits{.max_header_size = params_->max_header_size};
  http1::ParseError err;
  std::size_t used = 0;
  auto st = is_client_ ? http1::parse_response_head(buf, head, used, err, limits, scan_from)
                       : http1::parse_request_head(buf, head, used, err, limits, scan_from);
  if (st == http1::ParseStatus::kError) throw HTTPInputError(err.message, err.status);
  if (st == http1::ParseStatus::kIncomplete) {
    scan_from = buf.size();
    return 0;
  }
  end_head_wait();
  return used;
}

Task<std::size_t> HTTP1Connection::read_head(http1::MessageHead& head, std::size_t scan_from) {
  for (;;) {
    // The head timer closes the stream at the deadline, which ends this wait.
    co_await stream_->fill_buffer();
    if (std::size_t used = parse_buffered_head(head, scan_from)) co_return used;
  }
}

TORNADO_HOT void HTTP1Connection::start_decompression(const http1::BodyFraming& framing,
                                                      HTTPHeaders& headers) {
  if (!params_->decompress || framing.kind == http1::BodyFraming::kNone) return;
  auto encoding = headers.get_first("Content-Encoding");
  if (encoding && http1::iequals(*encoding, "gzip")) {
    // Tornado renames the header so the application sees a plain body.
    headers.set("X-Consumed-Content-Encoding", *encoding);
    headers.remove("Content-Encoding");
    decompressor_ = std::make_unique<detail::GzipDecompressor>(max_body_size_);
  }
}

Task<> HTTP1Connection::read_body(httputil::HTTPMessageDelegate& delegate,
                                  const http1::BodyFraming& framing) {
  if (body_timeout_ >= Duration::zero()) {
    // At least a hair past now: 0 means "no deadline".
    body_deadline_ = std::max(IOLoop::current().time() + body_timeout_.count(), 1e-9);
  }
  switch (framing.kind) {
    case http1::BodyFraming::kLength:
      co_await read_fixed_body(delegate, framing.length);
      break;
    case http1::BodyFraming::kChunked:
      co_await read_chunked_body(delegate);
      break;
    case http1::BodyFraming::kUntilClose:
      co_await read_body_until_close(delegate);
      break;
    case http1::BodyFraming::kNone:
      break;
  }
  if (decompressor_ && !decompressor_->finished()) throw HTTPInputError("truncated gzip body");
}

namespace {

std::string_view version_name(int minor) { return minor == 0 ? "HTTP/1.0" : "HTTP/1.1"; }

}  // namespace

// ---- reading: the server's side (requests) ---------------------------------------------

// The request's head when the delegate did not take it in request_head_now: kept for
// headers_received, which the continuation awaits (made only in that case).
struct HTTP1Connection::PendingHead : detail::PooledFrame {
  StartLine start_line{std::in_place_type<RequestStartLine>};
  HTTPHeaders headers;
};

// The request's head is parsed: checks it and decides keep-alive and 100-continue, from the
// fields the scan found (`known`, scan_request_fields(head): views into the read buffer,
// valid until it is consumed). The callers scan into a variable of their own: assigned
// here from a returned copy, it was read back in 16-byte loads of 8-byte stores, a
// store-forwarding stall that was most of this function's cycles under perf.
// False when the request was refused (answered): the connection then ends.
TORNADO_HOT bool HTTP1Connection::check_request_head(http1::MessageHead& head,
                                                     const http1::RequestFields& known,
                                                     http1::BodyFraming& framing,
                                                     bool& expect_continue) {
  try {
    http1::ParseError err;
    if (http1::validate_request_head(head, known, err) != http1::ParseStatus::kComplete ||
        http1::request_body_framing(head, known, framing, err) != http1::ParseStatus::kComplete) {
      throw HTTPInputError(err.message, err.status);
    }
  } catch (const HTTPInputError& e) {
    answer_error(e.status(), e.what());
    return false;
  }

  head_request_ = head.method == "HEAD";
  request_version_minor_ = head.version_minor;
  // Keep-alive (RFC 9112 9.3; HTTP/1.0 persistence as Tornado decides it), and Expect.
  const std::string_view connection = known.connection ? known.connection->value : "";
  if (request_version_minor_ >= 1) {
    if (known.connection && has_token(connection, "close")) disconnect_after_ = true;
  } else {
    bool delimited = framing.kind != http1::BodyFraming::kNone || known.content_lengths > 0 ||
                     head.method == "GET" || head_request_;
    if (!(known.connection && has_token(connection, "keep-alive") && delimited)) {
      disconnect_after_ = true;
    }
  }
  if (params_->no_keep_alive) disconnect_after_ = true;
  expect_continue = known.expect && http1::iequals(known.expect->value, "100-continue") &&
                    request_version_minor_ >= 1;
  // A request without a body is fully read once its head is: an answer given from
  // headers_received then keeps the connection (see write_headers).
  if (framing.kind == http1::BodyFraming::kNone) read_finished_ = true;
  return true;
}

// The checked head (`used` bytes of the read buffer) handed to the delegate: the fields
// copied, then request_head_now. No waiting. False when the request failed (the delegate
// told of the close): the connection then ends.
TORNADO_HOT bool HTTP1Connection::take_request_head(http1::MessageHead& head,
                                                    const http1::RequestFields& known,
                                                    std::size_t used,
                                                    httputil::HTTPMessageDelegate& delegate,
                                                    const http1::BodyFraming& framing,
                                                    std::unique_ptr<PendingHead>& pending) {
  // Copy what outlives the buffer (the request line is copied by the delegate, from views,
  // before the head's bytes are released).
  HTTPHeaders headers = HTTPHeaders::from_head(head);
  start_decompression(framing, headers);

  try {
    // Filled only when the delegate's request_head_now leaves headers_received to do.
    StartLine start_line(std::in_place_type<RequestStartLine>);
    bool head_taken;
    {
      // The line's views are into the read buffer: the head's bytes go once the delegate
      // has copied what it keeps, whether it returns or throws. The head itself is kept
      // for the next pipelined request while bytes of it are buffered (release_spare_head).
      struct ReleaseHead {
        HTTP1Connection& conn;
        std::size_t used;
        ~ReleaseHead() {
          conn.stream_->consume(used);
          conn.release_spare_head();
        }
      } release{*this, used};
      httputil::RequestLineView line{head.method, head.target, version_name(head.version_minor)};
      if (known.host) line.host = known.host->value;  // found by the head's checks
      head_taken = delegate.request_head_now(line, headers, start_line);
    }
    if (!head_taken) {
      pending = std::make_unique<PendingHead>();
      pending->start_line = std::move(start_line);
      pending->headers = std::move(headers);
    }
  } catch (...) {
    return request_failed(delegate, /*delegate_open=*/true);
  }
  return true;
}

// In a handler of an exception from the delegate's steps: the request's failures end the
// connection (false); anything else is the application's and goes on up to the serve loop.
bool HTTP1Connection::request_failed(httputil::HTTPMessageDelegate& delegate, bool delegate_open) {
  try {
    throw;
  } catch (const HTTPInputError& e) {
    answer_error(e.status(), e.what());
    if (delegate_open) delegate.on_connection_close();
  } catch (const StreamClosedError& e) {
    if (delegate_open) delegate.on_connection_close();
    if (e.real_error()) {
      gen_log().info("Connection from {} closed while reading: {}", context_.remote_ip,
                     detail::describe_exception(e.real_error()));
    }
  }
  return false;
}

// Inlined into both callers (a call returning through references cost some 20 instructions
// per request).
[[gnu::always_inline]] inline bool HTTP1Connection::begin_request_head(
    http1::MessageHead*& head, std::size_t& used, std::size_t& scan_from) {
  reset_for_next_message();
  head = &borrow_head();
  try {
    used = parse_buffered_head(*head, scan_from);
    // Only a head still to come is waited for (a whole one, pipelined, needs no deadline;
    // after an idle wait the deadline set for it stands).
    if (used == 0) start_head_wait();
  } catch (const HTTPInputError& e) {
    answer_error(e.status(), e.what());
    return false;
  }
  return true;
}

Task<bool> HTTP1Connection::read_request(httputil::HTTPMessageDelegate& delegate) {
  http1::MessageHead* head = nullptr;
  std::size_t used = 0, scan_from = 0;
  if (!begin_request_head(head, used, scan_from)) co_return false;
  if (used == 0) {
    try {
      used = co_await read_head(*head, scan_from);
    } catch (const HTTPInputError& e) {
      answer_error(e.status(), e.what());
      co_return false;
    }
  }
  const http1::RequestFields known = http1::scan_request_fields(*head);
  http1::BodyFraming framing;
  bool expect_continue = false;
  std::unique_ptr<PendingHead> pending;
  if (!check_request_head(*head, known, framing, expect_continue) ||
      !take_request_head(*head, known, used, delegate, framing, pending)) {
    co_return false;
  }
  co_return co_await finish_request(delegate, nullptr, std::move(pending), framing,
                                    expect_continue);
}

TORNADO_HOT Task<bool> HTTP1Connection::serve_request(
    httputil::HTTPServerConnectionDelegate& server,
    std::unique_ptr<httputil::HTTPMessageDelegate>& owned, bool& keep_alive) {
  keep_alive = false;
  http1::MessageHead* head = nullptr;
  std::size_t used = 0, scan_from = 0;
  if (!begin_request_head(head, used, scan_from)) return {};
  // The head's end has not arrived: a coroutine waits for it.
  if (used == 0) return serve_when_head_read(server, std::move(owned), scan_from);
  return serve_head(server, *head, used, owned, keep_alive);
}

Task<bool> HTTP1Connection::serve_when_head_read(
    httputil::HTTPServerConnectionDelegate& server,
    std::unique_ptr<httputil::HTTPMessageDelegate> owned, std::size_t scan_from) {
  http1::MessageHead& head = *head_;  // borrowed by begin_request_head
  std::size_t used = 0;
  try {
    used = co_await read_head(head, scan_from);
  } catch (const HTTPInputError& e) {
    answer_error(e.status(), e.what());
    co_return false;
  }
  bool keep_alive = false;
  Task<bool> rest = serve_head(server, head, used, owned, keep_alive);
  if (rest.valid()) keep_alive = co_await std::move(rest);
  co_return keep_alive;
}

TORNADO_HOT Task<bool> HTTP1Connection::serve_head(
    httputil::HTTPServerConnectionDelegate& server, http1::MessageHead& head, std::size_t used,
    std::unique_ptr<httputil::HTTPMessageDelegate>& owned, bool& keep_alive) {
  const http1::RequestFields known = http1::scan_request_fields(head);
  http1::BodyFraming framing;
  bool expect_continue = false;
  if (!check_request_head(head, known, framing, expect_continue)) return {};
  // The fast path: a body-less request answered from views, before anything is made for it.
  if (framing.kind == http1::BodyFraming::kNone && server.offers_views() &&
      serve_view(server, head, known, used)) {
    keep_alive = !disconnect_after_ && !stream_->closed();
    if (keep_alive && stream_->write_buffer_size() > params_->max_unsent_output) {
      return end_request(nullptr);  // the backpressure wait
    }
    return {};
  }
  if (!owned) owned = server.start_request(this);
  httputil::HTTPMessageDelegate& delegate = *owned;
  std::unique_ptr<PendingHead> pending;
  if (!take_request_head(head, known, used, delegate, framing, pending)) return {};
  if (pending || framing.kind != http1::BodyFraming::kNone) {
    return finish_request(delegate, std::move(owned), std::move(pending), framing,
                          expect_continue);
  }
  // Head taken, no body: the request is complete, the delegate finishes it now (the
  // callback server's callback runs here, and usually answers at once).
  try {
    delegate.finish();
  } catch (...) {
    request_failed(delegate, /*delegate_open=*/false);  // false: the connection ends
    return {};
  }
  if (!write_finished_) return end_request(std::move(owned));
  keep_alive = !disconnect_after_ && !stream_->closed();
  // The request's delegate goes before the next request, or is made ready for it.
  if (!keep_alive || !server.reuse_request(*owned)) owned.reset();
  if (keep_alive && stream_->write_buffer_size() > params_->max_unsent_output) {
    return end_request(nullptr);  // the backpressure wait
  }
  return {};
}

Task<bool> HTTP1Connection::finish_request(httputil::HTTPMessageDelegate& delegate,
                                           std::unique_ptr<httputil::HTTPMessageDelegate> owned,
                                           std::unique_ptr<PendingHead> pending,
                                           http1::BodyFraming framing, bool expect_continue) {
  bool delegate_open = true;
  try {
    if (pending) co_await delegate.headers_received(pending->start_line, pending->headers);
    pending.reset();
    if (framing.kind != http1::BodyFraming::kNone) {
      if (write_finished_) {
        // The application answered before the body (e.g. 401 to a large upload): do not
        // read it; close after the response instead (Tornado does the same).
        disconnect_after_ = true;
        read_finished_ = true;
        delegate.finish();
        co_return false;
      }
      if (framing.kind == http1::BodyFraming::kLength && framing.length > max_body_size_) {
        answer_error(413, "Content-Length too long");
        delegate_open = false;
        delegate.on_connection_close();
        co_return false;
      }
      if (expect_continue && !headers_written_) {
        (void)stream_->write(std::string("HTTP/1.1 100 (Continue)\r\n\r\n"));
      }
      co_await read_body(delegate, framing);
    }
    read_finished_ = true;
    delegate_open = false;
    delegate.finish();
  } catch (...) {
    co_return request_failed(delegate, delegate_open);
  }
  // end_request's steps, here in this frame rather than in one more.
  if (!write_finished_) co_await wait_write_finished();
  const bool keep_alive = !disconnect_after_ && !stream_->closed();
  if (owned == nullptr) co_return keep_alive;  // read_message: the caller owns the delegate
  owned.reset();
  if (keep_alive && stream_->write_buffer_size() > params_->max_unsent_output) {
    co_await stream_->write(std::string_view());
  }
  co_return keep_alive;
}

// The serve loop's end of a request whose delegate has finished: waits until the
// application finished its response, drops the request's delegate (before the next
// request) and applies the backpressure. `owned` is null when it is gone already.
Task<bool> HTTP1Connection::end_request(std::unique_ptr<httputil::HTTPMessageDelegate> owned) {
  if (!write_finished_) co_await wait_write_finished();
  const bool keep_alive = !disconnect_after_ && !stream_->closed();
  owned.reset();
  // Backpressure: a client that pipelines requests without reading the answers must not
  // make us queue answers without bound. Responses that fit under the bound still leave
  // together in one writev at the end of the iteration.
  if (keep_alive && stream_->write_buffer_size() > params_->max_unsent_output) {
    co_await stream_->write(std::string_view());
  }
  co_return keep_alive;
}

// ---- reading: the client's side (responses) --------------------------------------------

Task<bool> HTTP1Connection::read_response(httputil::HTTPMessageDelegate& delegate,
                                          std::string request_method) {
  // Interim responses (100 Continue, 103 Early Hints) precede the real one: a loop, not a
  // recursion, and a bounded one, so that a server cannot keep us reading them forever.
  for (int interim = 0;; ++interim) {
    reset_for_next_message();
    head_request_ = request_method == "HEAD";
    http1::MessageHead& head = borrow_head();
    start_head_wait();
    std::size_t scan_from = 0;
    std::size_t used = parse_buffered_head(head, scan_from);
    if (used == 0) used = co_await read_head(head, scan_from);
    http1::BodyFraming framing;
    http1::ParseError err;
    check_response_framing(head);
    if (http1::response_body_framing(head, head_request_ ? "HEAD" : "", framing, err) !=
        http1::ParseStatus::kComplete) {
      throw HTTPInputError(err.message, err.status);
    }
    // The bound applies to the inflated size when decompressing (the decompressor checks
    // it); otherwise a declared length past it is refused before reading (as Tornado).
    if (framing.kind == http1::BodyFraming::kLength && framing.length > max_body_size_ &&
        !(params_->decompress && headers_say_gzip(head))) {
      throw HTTPInputError("Content-Length too long", 413);
    }

    HTTPHeaders headers = HTTPHeaders::from_head(head);
    const int code = head.code;
    const int version_minor = head.version_minor;
    StartLine start_line(std::in_place_type<ResponseStartLine>);
    {
      auto& line = std::get<ResponseStartLine>(start_line);
      line.version.append(version_name(version_minor));
      line.code = code;
      line.reason.append(head.reason);
    }
    stream_->consume(used);
    release_head();

    auto connection = headers.get_first("Connection");
    if (version_minor == 0 ? !(connection && has_token(*connection, "keep-alive"))
                           : (connection && has_token(*connection, "close"))) {
      disconnect_after_ = true;
    }
    if (framing.kind == http1::BodyFraming::kUntilClose) disconnect_after_ = true;
    if (params_->no_keep_alive) disconnect_after_ = true;
    start_decompression(framing, headers);

    try {
      co_await delegate.headers_received(start_line, headers);
      if (code >= 100 && code < 200 && code != 101) {
        if (interim >= params_->max_interim_responses) {
          throw HTTPInputError("More than " + std::to_string(params_->max_interim_responses) +
                               " interim (1xx) responses");
        }
        continue;
      }
      co_await read_body(delegate, framing);
    } catch (const StreamClosedError&) {
      delegate.on_connection_close();
      throw;
    }
    read_finished_ = true;
    delegate.finish();
    co_return !disconnect_after_ && !stream_->closed();
  }
}

Task<> HTTP1Connection::deliver(httputil::HTTPMessageDelegate& delegate, std::string_view data) {
  if (data.empty()) co_return;
  if (!decompressor_) {
    co_await delegate.data_received(data);
    co_return;
  }
  // A gzip bomb inflates a thousandfold: inflate at most chunk_size bytes at a time, hand
  // each piece on as it comes, and give the loop a turn between pieces, so that neither
  // memory nor loop time depends on the compression ratio (Tornado's _GzipMessageDelegate).
  std::string inflated;
  bool first = true;
  try {
    decompressor_->feed(data);
  } catch (const std::runtime_error& e) {
    throw HTTPInputError(e.what());
  }
  while (decompressor_->has_pending()) {
    if (!first) co_await moment{};
    first = false;
    inflated.clear();
    try {
      decompressor_->inflate_some(inflated, params_->chunk_size);
    } catch (const std::length_error&) {
      throw HTTPInputError("Body too large after decompression", 413);
    } catch (const std::runtime_error& e) {
      throw HTTPInputError(e.what());
    }
    if (!inflated.empty()) co_await delegate.data_received(inflated);
  }
}

Task<> HTTP1Connection::read_fixed_body(httputil::HTTPMessageDelegate& delegate, uint64_t length) {
  uint64_t remaining = length;
  while (remaining > 0) {
    std::string_view buf = stream_->read_buffer();
    if (buf.empty()) {
      co_await fill_with_timeout(body_deadline_);
      continue;
    }
    std::size_t n = static_cast<std::size_t>(
        std::min<uint64_t>({remaining, buf.size(), static_cast<uint64_t>(params_->chunk_size)}));
    // The delegate may suspend: copy out of the buffer only when it does not consume at once.
    std::string piece(buf.substr(0, n));
    stream_->consume(n);
    remaining -= n;
    co_await deliver(delegate, piece);
  }
}

Task<> HTTP1Connection::read_chunked_body(httputil::HTTPMessageDelegate& delegate) {
  http1::ChunkedDecoder decoder(params_->max_header_size);
  http1::ParseError err;
  for (;;) {
    std::string_view buf = stream_->read_buffer();
    std::size_t pos = 0;
    std::string_view data;
    auto st =
        buf.empty() ? http1::ChunkedDecoder::Status::kNeedMore : decoder.next(buf, pos, data, err);
    switch (st) {
      case http1::ChunkedDecoder::Status::kError:
        throw HTTPInputError(err.message, err.status);
      case http1::ChunkedDecoder::Status::kData: {
        body_received_ += data.size();
        if (body_received_ > max_body_size_ && !decompressor_) {
          throw HTTPInputError("chunked body too large", 413);
        }
        std::string piece(data);
        stream_->consume(pos);
        std::string_view rest = piece;
        while (!rest.empty()) {
          std::size_t n = std::min(rest.size(), params_->chunk_size);
          co_await deliver(delegate, rest.substr(0, n));
          rest.remove_prefix(n);
        }
        break;
      }
      case http1::ChunkedDecoder::Status::kNeedMore:
        stream_->consume(pos);
        co_await fill_with_timeout(body_deadline_);
        break;
      case http1::ChunkedDecoder::Status::kDone:
        stream_->consume(pos);
        co_return;
    }
  }
}

Task<> HTTP1Connection::read_body_until_close(httputil::HTTPMessageDelegate& delegate) {
  for (;;) {
    std::string_view buf = stream_->read_buffer();
    if (!buf.empty()) {
      std::size_t n = std::min(buf.size(), params_->chunk_size);
      body_received_ += n;
      if (body_received_ > max_body_size_ && !decompressor_) {
        throw HTTPInputError("body too large", 413);
      }
      std::string piece(buf.substr(0, n));
      stream_->consume(n);
      co_await deliver(delegate, piece);
      continue;
    }
    try {
      co_await fill_with_timeout(body_deadline_);
    } catch (const StreamClosedError& e) {
      if (e.real_error()) throw;
      co_return;  // an orderly close ends the body
    }
  }
}

// ---- writing ----------------------------------------------------------------------------

namespace {

// The fields of an outgoing head that framing depends on, found in one pass.
struct FramingFields {
  std::optional<std::string_view> content_length;
  bool transfer_encoding = false;
  bool date = false;
  bool connection = false;
};

// Names compared by http1::is_name: a name added unchecked may hold a CR, which compares
// like '-', but write_fields() refuses such a name before anything found here is sent.
TORNADO_HOT FramingFields scan_framing_fields(const HTTPHeaders& headers) {
  using http1::is_name;
  FramingFields found;
  for (auto [name, value] : headers) {
    // The length decides first: most fields are compared no further.
    switch (name.size()) {
      case 4:
        found.date = found.date || is_name(name, "date");
        break;
      case 10:
        found.connection = found.connection || is_name(name, "connection");
        break;
      case 14:
        if (!found.content_length && is_name(name, "content-length")) found.content_length = value;
        break;
      case 17:
        found.transfer_encoding = found.transfer_encoding || is_name(name, "transfer-encoding");
        break;
      default:
        break;
    }
  }
  return found;
}

using internal::cached_date_line;
using internal::HeadRoom;
using internal::kBodyWithHead;
using internal::put_small;
using internal::put_status_line;
using internal::status_line_size;

}  // namespace

HTTP1Connection::WriteAwaiter HTTP1Connection::write_headers(const StartLine& start_line,
                                                             const HTTPHeaders& headers,
                                                             std::string_view chunk) {
  if (is_client_) return write_request_head(std::get<RequestStartLine>(start_line), headers, chunk);
  return write_response_head(std::get<ResponseStartLine>(start_line), headers, chunk);
}

HTTP1Connection::WriteAwaiter HTTP1Connection::write_request_head(const RequestStartLine& line,
                                                                  const HTTPHeaders& headers,
                                                                  std::string_view chunk) {
  // A client may start its next request once the previous one was finished.
  if (headers_written_ && !write_finished_) throw HTTPOutputError("write_headers called twice");
  const FramingFields fields = scan_framing_fields(headers);
  reset_write_side();  // a new exchange starts with the request
  head_request_ = line.method == "HEAD";
  // Checked at write time like the fields: a CR or LF here would split the request.
  bool target_ok = !line.path.empty();
  for (unsigned char c : line.path) target_ok = target_ok && c > 0x20 && c != 0x7f;
  if (!http1::is_token(line.method) || !target_ok) {
    throw HTTPOutputError("Invalid method or request target in the request line");
  }
  chunking_output_ = (line.method == "POST" || line.method == "PUT" || line.method == "PATCH") &&
                     !fields.content_length && !fields.transfer_encoding;
  auto put_request_line = [&line](char* p) {
    p = put_small(p, line.method);
    *p++ = ' ';
    p = put_small(p, line.path);
    return put_small(p, " HTTP/1.1\r\n");
  };
  return send_head(line.method.size() + 1 + line.path.size() + 11, put_request_line, {}, {},
                   fields.content_length, headers, chunk);
}

// (Inlined into its two callers: a call more, and `known` not folded away for the awaited
// form, cost the bare server 13 instructions a response.)
template <bool Awaited>
[[gnu::always_inline]] inline std::conditional_t<Awaited, HTTP1Connection::WriteAwaiter, void>
HTTP1Connection::response_head(const ResponseStartLine& line, const HTTPHeaders& headers,
                               std::string_view chunk, const httputil::KnownFraming* known) {
  // A client's connection sends requests (as std::get on its StartLine would say).
  if (is_client_) throw std::bad_variant_access();
  if (headers_written_) throw HTTPOutputError("write_headers called twice");
  const FramingFields fields =
      known ? FramingFields{known->content_length} : scan_framing_fields(headers);
  const bool has_length = fields.content_length.has_value();
  const bool has_te = fields.transfer_encoding;
  const int code = line.code;
  if (code < 100 || code > 999) {
    throw HTTPOutputError("Invalid status code " + std::to_string(code) +
                          ": a status line carries three digits (RFC 9110 15)");
  }
  response_code_ = code;
  std::string_view reason = line.reason;
  if (reason != "OK" && !http1::is_field_value(reason)) {
    throw HTTPOutputError("CR, LF or another control character in the reason phrase");
  }
  if (reason.empty()) reason = httputil::reason_phrase(code);  // the standard one
  const bool no_body_status = code == 204 || code == 304 || (code >= 100 && code < 200);
  suppress_body_ = head_request_ || no_body_status;
  chunking_output_ =
      request_version_minor_ >= 1 && !head_request_ && !no_body_status && !has_length && !has_te;
  // The lines between the start line and the fields: Date, then Connection.
  const std::string_view date_line = fields.date ? std::string_view() : cached_date_line();
  std::string_view connection_line;
  // A response that starts before the request body was read ends the connection (the
  // unread body cannot be skipped safely); say so in this head, so that a client which
  // sends its body anyway does not reuse the connection (RFC 9112 9.6).
  if (!read_finished_) disconnect_after_ = true;
  // A draining server ends each connection after its current response (tornado/drain.h).
  if (list_ != nullptr && list_->draining()) disconnect_after_ = true;
  // A body with neither Content-Length nor chunking (an HTTP/1.0 request) ends at the
  // close: promising keep-alive would leave the client waiting for more.
  if (!suppress_body_ && !chunking_output_ && !has_length && !has_te) disconnect_after_ = true;
  // Our status line says HTTP/1.1, and a client judges persistence by the response's
  // version (RFC 9112 9.3): without "close" an HTTP/1.0 client such as curl --http1.0
  // reuses the connection we are about to close. So every response that ends its
  // connection says so, whatever the request's version (Tornado omits it for 1.0).
  if (disconnect_after_ && !fields.connection) {
    connection_line = "Connection: close\r\n";
  } else if (!disconnect_after_ && request_version_minor_ == 0 && !fields.connection) {
    connection_line = "Connection: Keep-Alive\r\n";
  }
  auto put_status = [code, reason](char* p) { return put_status_line(p, code, reason); };
  return send_head<Awaited>(status_line_size(code, reason), put_status, date_line,
                            connection_line, fields.content_length, headers, chunk, known);
}

// The head sized once and filled in place; the fields added unchecked are checked as they
// are copied, and a refused one takes the room back with nothing sent.
template <bool Awaited, class PutStart>
std::conditional_t<Awaited, HTTP1Connection::WriteAwaiter, void> HTTP1Connection::send_head(
    std::size_t start_size, PutStart put_start, std::string_view lines,
    std::string_view more_lines, std::optional<std::string_view> length,
    const HTTPHeaders& headers, std::string_view chunk, const httputil::KnownFraming* known) {
  // A small first piece of a plain body joins the head: one write to the stream, not two.
  std::string_view with_head;
  if (!chunk.empty() && !suppress_body_ && !chunking_output_ && chunk.size() <= kBodyWithHead) {
    with_head = chunk;
  }
  const std::string_view te_line =
      chunking_output_ ? std::string_view("Transfer-Encoding: chunked\r\n") : std::string_view();
  // HEAD/204/304 responses carry no body: whatever the application writes is dropped
  // (HEAD keeps the Content-Length of the body it would have had). The length is parsed
  // once, here; a bad one is refused after the fields' own checks, below.
  uint64_t declared = 0;
  const bool length_valid =
      suppress_body_ || !length ||
      (known ? (declared = known->length, true) : http1::parse_content_length(*length, declared));
  // A server's whole response in this one write (the declared length is this piece), with
  // no request buffered behind it: nothing else is written before the loop waits again, so
  // it is sent at once (HeadRoom's at_once), the same one send as at the end of the events.
  const bool at_once = !is_client_ && !with_head.empty() && length && length_valid &&
                       declared == with_head.size() && read_finished_ &&
                       stream_->read_buffer().empty();
  HeadRoom room(*stream_,
                start_size + lines.size() + more_lines.size() + headers.wire_size() +
                    te_line.size() + 2 + with_head.size(),
                at_once);
  char* p = put_start(room.data());
  p = put_small(p, lines);
  p = put_small(p, more_lines);
  p = headers.write_fields(p);
  p = put_small(p, te_line);
  *p++ = '\r';
  *p++ = '\n';
  p = put_small(p, with_head);

  if (!length_valid) {
    throw HTTPOutputError("Only integer Content-Length is allowed: " + std::string(*length));
  }
  length_declared_ = !suppress_body_ && length;
  expected_remaining_ = declared;
  headers_written_ = true;
  if (!chunk.empty() && !suppress_body_) {
    // A first piece past Content-Length sends nothing: the head is taken back before
    // count_body closes the stream and throws.
    if (length_declared_ && chunk.size() > expected_remaining_) room.discard();
    count_body(chunk.size());
  }
  if constexpr (Awaited) {
    // Returned as it is made (no move of a named awaiter, which costs a relink in the
    // stream's list of awaiters and a destruction).
    if (chunk.empty() || suppress_body_ || !with_head.empty()) return room.commit(p);
    (void)room.commit(p);
    return send_body(chunk);
  } else {
    room.commit_unawaited(p);
    if (!chunk.empty() && !suppress_body_ && with_head.empty()) (void)send_body(chunk);
  }
}

TORNADO_HOT HTTP1Connection::WriteAwaiter HTTP1Connection::write_response_head(
    const ResponseStartLine& line, const HTTPHeaders& headers, std::string_view chunk) {
  return response_head<true>(line, headers, chunk, nullptr);
}

TORNADO_HOT void HTTP1Connection::send_response_head(const ResponseStartLine& line,
                                                     const HTTPHeaders& headers,
                                                     std::string_view chunk,
                                                     const httputil::KnownFraming* known) {
  response_head<false>(line, headers, chunk, known);
}

TORNADO_HOT void HTTP1Connection::count_body(std::size_t size) {
  if (!length_declared_) return;
  if (size > expected_remaining_) {
    stream_->close();
    throw HTTPOutputError("Tried to write more data than Content-Length");
  }
  expected_remaining_ -= size;
}

// A counted piece of body: as it is, or framed as a chunk. The parts join the write queue's
// last chunk when small, so a piece is copied once whatever its size.
HTTP1Connection::WriteAwaiter HTTP1Connection::send_body(std::string_view chunk) {
  if (!chunking_output_) return send(chunk);
  char size_line[20];
  (void)send(chunk_size_line(size_line, chunk.size()));
  (void)send(chunk);
  return send("\r\n");
}

TORNADO_HOT HTTP1Connection::WriteAwaiter HTTP1Connection::send(std::string_view bytes) {
  // A peer that left makes the write fail when awaited, not at the call: an application
  // finishing a response for a client that is gone needs no try/catch (Tornado's futures
  // behave the same).
  if (stream_->closed()) return WriteAwaiter(*stream_, UINT64_MAX);
  return stream_->write(bytes);
}

HTTP1Connection::WriteAwaiter HTTP1Connection::write(std::string_view chunk) {
  if (!headers_written_) throw HTTPOutputError("write before write_headers");
  if (write_finished_) throw HTTPOutputError("write after finish");
  // HEAD/204/304 responses carry no body: what the application writes is dropped.
  if (chunk.empty() || suppress_body_) return send({});
  count_body(chunk.size());
  return send_body(chunk);
}

// (Inline in both forms of finish: a call more cost the awaited one 16 instructions.)
[[gnu::always_inline]] inline void HTTP1Connection::end_message() {
  if (!headers_written_) throw HTTPOutputError("finish before write_headers");
  if (write_finished_) throw HTTPOutputError("finish called twice");
  // A response sent before the request body was read ends the connection.
  if (!is_client_ && !read_finished_) disconnect_after_ = true;
  // Mark the exchange finished before writing: a write to a closed stream throws, and the
  // serve loop must be released either way.
  on_write_finished();
  if (length_declared_ && expected_remaining_ != 0) {
    uint64_t missing = expected_remaining_;
    disconnect_after_ = true;
    stream_->close();
    throw HTTPOutputError("Tried to write " + std::to_string(missing) +
                          " bytes less than Content-Length");
  }
}

TORNADO_HOT HTTP1Connection::WriteAwaiter HTTP1Connection::finish() {
  end_message();
  return send(chunking_output_ ? std::string_view("0\r\n\r\n") : std::string_view());
}

// An empty write does nothing but make the awaitable (a stream that is not closed has room
// for no bytes more: its writes never pass max_write_buffer_size).
TORNADO_HOT void HTTP1Connection::finish_unawaited() {
  end_message();
  if (chunking_output_) (void)send("0\r\n\r\n");
}

TORNADO_HOT void HTTP1Connection::on_write_finished() {
  write_finished_ = true;
  if (write_finished_waiter_) {
    // Resume the serve loop on the next iteration, never inside the handler's finish().
    auto h = std::exchange(write_finished_waiter_, {});
    IOLoop::current().add_callback([h] { h.resume(); });
  }
}

namespace {
struct WriteFinishedAwaiter {
  HTTP1Connection* conn;
  std::coroutine_handle<>* slot;
  bool await_ready() const noexcept { return conn->write_finished(); }
  void await_suspend(std::coroutine_handle<> h) noexcept { *slot = h; }
  void await_resume() const noexcept {}
};
}  // namespace

Task<> HTTP1Connection::wait_write_finished() {
  if (write_finished_) co_return;
  // If the peer goes away while the application works, tell the application; the
  // connection object stays until the application finishes, since it still holds a
  // pointer to it (its writes then fail with StreamClosedError).
  // The stream runs its close callback on a later iteration: by then this exchange may have
  // ended and the connection be gone (the peer reset it as the response finished), so the
  // callback reaches the connection only through a pointer this frame clears as it ends.
  auto self = std::make_shared<HTTP1Connection*>(this);
  struct Unlink {
    std::shared_ptr<HTTP1Connection*> self;
    ~Unlink() { *self = nullptr; }
  } unlink{self};
  stream_->set_close_callback([self] {
    HTTP1Connection* conn = *self;
    if (!conn) return;
    conn->disconnect_after_ = true;
    if (conn->close_callback_) {
      auto cb = std::move(conn->close_callback_);
      conn->close_callback_ = nullptr;
      cb();
    }
  });
  co_await WriteFinishedAwaiter{this, &write_finished_waiter_};
  // A detached stream belongs to its new owner, close callback included.
  if (!detached_ && !stream_->closed()) stream_->set_close_callback(nullptr);
}

void HTTP1Connection::set_close_callback(std::function<void()> callback) {
  close_callback_ = std::move(callback);
}

std::shared_ptr<IOStream> HTTP1Connection::detach() {
  disconnect_after_ = true;
  detached_ = true;
  close_callback_ = nullptr;
  // wait_write_finished's callback points at this connection, which goes away first.
  if (!stream_->closed()) stream_->set_close_callback(nullptr);
  on_write_finished();  // releases the serve loop (next iteration), which then ends
  return stream_;
}

}  // namespace tornado
