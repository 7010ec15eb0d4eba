// tornado/httputil_view.h — the server's fast path for requests answered at once: a request
// given as views into the connection's read buffer, and a responder that writes the whole
// response straight into the connection's write buffer. (No Tornado equivalent: Tornado
// builds an HTTPServerRequest for every request. This is for the handful of hot, body-less
// routes — a health check, a cached page, a counter — where that object is most of the cost.)
//
//   HTTPServer server(
//       [](const httputil::RequestView& request, httputil::Responder& response) {
//         if (request.path() == "/health") response.send(200, "text/plain", "ok");
//         // not answered: the request goes on to the callback below
//       },
//       [](httputil::HTTPServerRequest& request) { /* everything else, Tornado-shaped */ });
//
// Only complete requests without a body reach the view callback (a GET, a HEAD, a DELETE
// without body), and only while it can answer them now: the views and the responder are
// valid during the call only, and nothing may be kept. A request it leaves unanswered goes
// on to the server's ordinary path as if the view callback did not exist. Bad requests never
// reach it (they are answered 400/431/505 before).
// Thread rule: loop thread only, inside the view callback.
#pragma once

#include <cstddef>
#include <initializer_list>
#include <optional>
#include <string_view>
#include <utility>

#include "tornado/httputil.h"

namespace tornado {
class HTTP1Connection;
namespace http1 {
struct MessageHead;
}
}  // namespace tornado

namespace tornado::httputil {

// A complete request without a body, as views into the read buffer (valid during the view
// callback only: copy what must outlive it). The parts are those HTTPServerRequest has.
class RequestView {
 public:
  std::string_view method() const noexcept;
  std::string_view uri() const noexcept;      // the request target as sent
  std::string_view version() const noexcept;  // "HTTP/1.1" or "HTTP/1.0"
  // The target split as HTTPServerRequest splits it (an absolute-form target's path).
  std::string_view path() const noexcept { return path_; }
  std::string_view query() const noexcept { return query_; }
  // The Host field, or an absolute-form target's authority, or "127.0.0.1" (as
  // HTTPServerRequest::host).
  std::string_view host() const noexcept { return host_; }
  // The first value of the field `name` (case-insensitive), if the request has one.
  std::optional<std::string_view> header(std::string_view name) const noexcept;
  // The fields in the order received (name, value), repeated names as they came;
  // header_at throws std::out_of_range past the count.
  std::size_t header_count() const noexcept;
  std::pair<std::string_view, std::string_view> header_at(std::size_t index) const;
  // The peer's address and the protocol ("http"/"https"); xheaders are not applied here
  // (a server with xheaders on does not offer views: see HTTPServer).
  const HTTPConnectionContext& context() const noexcept { return context_; }

 private:
  friend class tornado::HTTP1Connection;
  RequestView(const http1::MessageHead& head, const HTTPConnectionContext& context,
              std::string_view host_field) noexcept;
  const http1::MessageHead& head_;
  const HTTPConnectionContext& context_;
  std::string_view path_, query_, host_;
};

// Writes one response for a RequestView, whole: the status line, Date, the given fields,
// Content-Length, a Connection field when the connection ends (or an HTTP/1.0 client keeps
// it) and the body, in one piece at the end of the connection's write buffer. A HEAD
// request gets the head only (with the body's Content-Length); 204, 304 and 1xx get no body
// and no Content-Length. Fields are checked as they are written (HTTPOutputError for a
// name that is not a token, a value with CR, LF or another control character, or one of
// the fields the server writes itself: Content-Length, Transfer-Encoding, Connection, Date),
// and nothing is sent when a check fails.
class Responder {
 public:
  // A field to send: names and values as HTTPHeaders::add takes them (string literals are
  // checked when the program is compiled; other strings when the response is written).
  struct Field {
    FieldName name;
    FieldValue value;
  };
  Responder(const Responder&) = delete;
  Responder& operator=(const Responder&) = delete;

  // `content_type` empty: no Content-Type field. The status's standard reason phrase.
  void send(int code, FieldValue content_type, std::string_view body) {
    send_parts(code, content_type, nullptr, 0, body.data(), body.size());
  }
  // With more fields, after Content-Type (names and values as given).
  void send(int code, FieldValue content_type, std::initializer_list<Field> fields,
            std::string_view body) {
    send_parts(code, content_type, fields.begin(), fields.size(), body.data(), body.size());
  }
  // True once send() has answered this request (a second send() is an HTTPOutputError).
  bool sent() const noexcept { return sent_; }

 private:
  friend class tornado::HTTP1Connection;
  explicit Responder(HTTP1Connection& connection) noexcept : connection_(connection) {}
  // The body as two words: past the six argument registers a string_view is stored by the
  // caller in two 8-byte halves and was loaded whole by the callee, a store-forwarding
  // stall that was three quarters of send()'s cycles under perf.
  void send_parts(int code, FieldValue content_type, const Field* fields, std::size_t field_count,
                  const char* body, std::size_t body_size);
  HTTP1Connection& connection_;
  bool sent_ = false;
  bool last_buffered_ = false;  // no request is buffered behind this one: send at once
};

}  // namespace tornado::httputil
