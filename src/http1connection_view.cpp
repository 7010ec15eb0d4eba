// The server's fast path (tornado/httputil_view.h): a checked, body-less request offered as
// views to the server delegate's serve_view, and the view responder's whole response
// written in place at the end of the stream's write queue.
#include <charconv>
#include <stdexcept>
#include <string>

#include "internal/http1_head_writer.h"
#include "internal/http_parser.h"
#include "tornado/hot.h"
#include "tornado/http1connection.h"
#include "tornado/httputil_view.h"

namespace tornado {

using httputil::HTTPOutputError;

namespace httputil {

// The target split as HTTPServerRequest splits it (http1::split_request_target); a path
// the target leaves out is "/" (a view cannot prepend the slash).
TORNADO_HOT RequestView::RequestView(const http1::MessageHead& head,
                                     const HTTPConnectionContext& context,
                                     std::string_view host_field) noexcept
    : head_(head), context_(context) {
  const http1::TargetParts parts = http1::split_request_target(head.target, host_field);
  host_ = parts.host;
  path_ = parts.path_needs_slash ? std::string_view("/") : parts.path;
  query_ = parts.query;
}

std::string_view RequestView::method() const noexcept { return head_.method; }
std::string_view RequestView::uri() const noexcept { return head_.target; }
std::string_view RequestView::version() const noexcept {
  return head_.version_minor == 0 ? "HTTP/1.0" : "HTTP/1.1";
}

std::optional<std::string_view> RequestView::header(std::string_view name) const noexcept {
  if (const http1::Field* f = head_.find(name)) return f->value;
  return std::nullopt;
}

std::size_t RequestView::header_count() const noexcept { return head_.fields.size(); }

std::pair<std::string_view, std::string_view> RequestView::header_at(std::size_t index) const {
  if (index >= head_.fields.size()) {
    throw std::out_of_range("RequestView::header_at: index " + std::to_string(index) +
                            " past the request's " + std::to_string(head_.fields.size()) +
                            " fields");
  }
  const http1::Field& f = head_.fields[index];
  return {f.name, f.value};
}

}  // namespace httputil

TORNADO_HOT bool HTTP1Connection::serve_view(httputil::HTTPServerConnectionDelegate& server,
                                             http1::MessageHead& head,
                                             const http1::RequestFields& known, std::size_t used) {
  httputil::Responder responder(*this);
  responder.last_buffered_ = stream_->read_buffer().size() == used;
  {
    const httputil::RequestView view(head, context_, known.host ? known.host->value : "");
    server.serve_view(view, responder);
  }
  if (!responder.sent()) return false;
  stream_->consume(used);
  release_spare_head();
  return true;
}

namespace {

// The fields the server writes itself (framing and persistence), refused from the caller.
bool is_server_field(std::string_view name) noexcept {
  using http1::is_name;
  switch (name.size()) {
    case 4:
      return is_name(name, "date");
    case 10:
      return is_name(name, "connection");
    case 14:
      return is_name(name, "content-length");
    case 17:
      return is_name(name, "transfer-encoding");
    default:
      return false;
  }
}

constexpr std::string_view kContentType = "Content-Type: ";
constexpr std::string_view kContentLength = "Content-Length: ";
constexpr std::string_view kLineEnd = "\r\n";

// The refusals of send_parts, out of the hot code (each throws HTTPOutputError).
[[noreturn, gnu::cold, gnu::noinline]] void refuse_status(int code) {
  throw HTTPOutputError("Invalid status code " + std::to_string(code) +
                        ": a status line carries three digits (RFC 9110 15)");
}

[[noreturn, gnu::cold, gnu::noinline]] void refuse_value(std::string_view where) {
  throw HTTPOutputError("CR, LF or another control character in the " + std::string(where));
}

// A field that was not checked when compiled: refused unless a token and a valid value.
[[gnu::cold, gnu::noinline]] void check_field_now(const httputil::Responder::Field& field) {
  const std::string_view name = field.name.view();
  if (!field.name.known_token() && !http1::is_token(name)) {
    throw HTTPOutputError("Invalid header name '" + std::string(name) + "'");
  }
  if (!field.value.known_valid() && !http1::is_field_value(field.value.view())) {
    refuse_value("value of " + std::string(name));
  }
}

[[noreturn, gnu::cold, gnu::noinline]] void refuse_server_field(std::string_view name) {
  throw HTTPOutputError(std::string(name) + " is written by the server, not by a Responder");
}

// "123" for 123, written backwards from `end`; returns the first digit. A Content-Length
// has a few digits: a loop of a few instructions, no call.
inline char* put_decimal_before(char* end, std::size_t value) noexcept {
  do {
    *--end = static_cast<char>('0' + value % 10);
    value /= 10;
  } while (value != 0);
  return end;
}

}  // namespace

// Laid out for the common answer (200, fields checked when compiled, a keep-alive HTTP/1.1
// connection): the rest is marked unlikely or called out of line, so that the code a request
// runs is a few contiguous cache lines (docs/performance.md, "The depth-1 path").
TORNADO_HOT void httputil::Responder::send_parts(int code, FieldValue content_type_in,
                                                 const Field* fields, std::size_t field_count,
                                                 const char* body_data, std::size_t body_size) {
  if (sent_) [[unlikely]] throw HTTPOutputError("Responder::send called twice");
  HTTP1Connection& c = connection_;
  const std::string_view body(body_data, body_size);
  using internal::put_small;
  // Every check before a byte is placed: a refused response sends nothing. String literals
  // were checked when the program was compiled.
  const bool ok = code == 200;
  if (!ok && (code < 100 || code > 999)) [[unlikely]] refuse_status(code);
  const std::string_view content_type = content_type_in.view();
  if (!content_type_in.known_valid() && !http1::is_field_value(content_type)) [[unlikely]] {
    refuse_value("Content-Type");
  }
  std::size_t fields_size = 0;
  for (std::size_t i = 0; i < field_count; ++i) {
    const std::string_view name = fields[i].name.view(), value = fields[i].value.view();
    if (!fields[i].name.known_token() || !fields[i].value.known_valid()) [[unlikely]] {
      check_field_now(fields[i]);
    }
    if (is_server_field(name)) [[unlikely]] refuse_server_field(name);
    fields_size += name.size() + 2 + value.size() + 2;
  }
  const std::string_view reason = ok ? "OK" : httputil::reason_phrase(code);
  const bool no_body_status = !ok && (code == 204 || code == 304 || code < 200);
  c.suppress_body_ = c.head_request_ || no_body_status;
  // A draining server ends each connection after its current response (tornado/drain.h).
  if (c.list_ != nullptr && c.list_->draining()) [[unlikely]] c.disconnect_after_ = true;
  // As write_response_head: every response that ends its connection says so, and an
  // HTTP/1.0 client that keeps it is told.
  std::string_view connection_line;
  if (c.disconnect_after_ || c.request_version_minor_ == 0) [[unlikely]] {
    connection_line = c.disconnect_after_ ? "Connection: close\r\n" : "Connection: Keep-Alive\r\n";
  }
  char length_digits[20];
  char* const length_end = length_digits + sizeof length_digits;
  const char* length_begin = length_end;
  if (!no_body_status) [[likely]] length_begin = put_decimal_before(length_end, body.size());
  const std::string_view length(length_begin, static_cast<std::size_t>(length_end - length_begin));
  const std::string_view date_line = internal::cached_date_line();
  const std::string_view sent_body = c.suppress_body_ ? std::string_view() : body;
  const std::size_t size =
      (ok ? internal::kStatus200.size() : internal::status_line_size(code, reason)) +
      date_line.size() + connection_line.size() +
      (content_type.empty() ? 0 : kContentType.size() + content_type.size() + 2) + fields_size +
      (no_body_status ? 0 : kContentLength.size() + length.size() + 2) + 2 + sent_body.size();

  // The last request read: nothing else is written before the loop waits again, so the
  // response is sent at once (the same one send); otherwise it joins the batch's answers.
  internal::HeadRoom room(*c.stream_, size, last_buffered_);
  char* p = room.data();
  if (ok) [[likely]] {
    p = put_small(p, internal::kStatus200);
  } else {
    p = internal::put_status_line(p, code, reason);
  }
  p = internal::put_date_line(p, date_line);
  if (!connection_line.empty()) [[unlikely]] p = put_small(p, connection_line);
  if (!content_type.empty()) [[likely]] {
    p = put_small(p, kContentType);
    p = put_small(p, content_type);
    p = put_small(p, kLineEnd);
  }
  for (std::size_t i = 0; i < field_count; ++i) {
    p = put_small(p, fields[i].name.view());
    *p++ = ':';
    *p++ = ' ';
    p = put_small(p, fields[i].value.view());
    p = put_small(p, kLineEnd);
  }
  if (!no_body_status) [[likely]] {
    p = put_small(p, kContentLength);
    p = put_small(p, length);
    p = put_small(p, kLineEnd);
  }
  p = put_small(p, kLineEnd);
  p = put_small(p, sent_body);
  c.response_code_ = code;
  c.headers_written_ = true;
  c.write_finished_ = true;  // nothing waits for it: the request is served within this call
  room.commit_unawaited(p);
  sent_ = true;
}

}  // namespace tornado
