// tornado/httpclient.h — a non-blocking HTTP/1.1 client (Tornado's `httpclient` with the
// `simple_httpclient` implementation), with keep-alive connection pooling and HTTP proxies.
//
//   auto client = httpclient::AsyncHTTPClient::current();      // one per IOLoop
//   httpclient::HTTPResponse r = co_await client->fetch("http://example.com/");
//
//   httpclient::HTTPRequest req;                                // build it as a named
//   req.url = "https://example.com/api";                        // variable, then fetch
//   req.method = "POST";
//   req.body = R"({"a": 1})";
//   req.headers.set("Content-Type", "application/json");
//   req.request_timeout = 5s;
//   auto response = co_await client->fetch(req, /*raise_error=*/false);
//   if (response.code == 200) use(response.body);
//
// fetch() raises HTTPClientError for a response whose code is not 2xx (unless raise_error
// is false) and, always, with code 599 when no HTTP response arrived (connection refused,
// DNS failure, TLS failure, timeouts, a malformed response, a closed stream). Redirects
// (301/302/303/307/308) are followed up to max_redirects. Requests wait in a FIFO queue
// while max_clients requests are active. Connections are kept alive and reused per
// (scheme, host, port, TLS settings, proxy, source address); see docs/httpclient.md.
//
//   auto created = co_await client->fetch(                     // or inline, with setters
//       httpclient::HTTPRequest(url).set_method("POST").set_body("{}"));
//
// g++ 12: never a braced aggregate or a by-value-capturing lambda inside the co_await
// (docs/task.md, "the g++ 12 rule"); HTTPRequest is not an aggregate for that reason.
//
// Thread rule: loop thread only (the loop that was current when the client was made).
#pragma once

#include <chrono>
#include <cstddef>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "tornado/httputil.h"
#include "tornado/netutil.h"
#include "tornado/ssl.h"
#include "tornado/task.h"

namespace tornado::httpclient {

// The `write` function a body_producer is given (Tornado's connection.write): queues
// `chunk` (copied at once) and returns an awaitable that completes when the chunk has left
// the client's buffer. Awaiting every write is the backpressure: a producer that awaits
// holds one chunk in memory however large the body. Raises HTTPOutputError past a declared
// Content-Length; the awaitable raises StreamClosedError when the connection is gone.
// Valid only while the producer runs (std::logic_error afterwards).
using BodyWriter = std::function<httputil::HTTPConnection::WriteAwaiter(std::string_view chunk)>;
// A request body produced piece by piece (Tornado's body_producer): a coroutine given the
// write function. See HTTPRequest::body_producer.
using BodyProducer = std::function<Task<>(BodyWriter write)>;

// What to fetch and how. Plain values: copy, keep and reuse freely.
//
// Not an aggregate, on purpose: g++ 12 destroys an aggregate temporary created inside a
// co_await expression twice (docs/task.md, "the g++ 12 rule"), and
// `co_await client->fetch({.url = u, .method = "POST"})` is exactly that. Either fill a named
// request (`HTTPRequest req(url); req.method = "POST"; co_await client->fetch(req);`) or
// build it inline with the set_* setters (a class temporary is safe):
//   co_await client->fetch(HTTPRequest(url).set_method("POST").set_body("x"));
// A callback lambda built inside the co_await must capture nothing or only by reference
// (`[&chunks](std::string_view c) {...}`); one that captures by value is an aggregate
// temporary too: make it a named std::function first.
struct HTTPRequest {
  HTTPRequest() {}  // user-provided: makes the struct a non-aggregate (see above)
  explicit HTTPRequest(std::string url) : url(std::move(url)) {}

  std::string url;  // http:// or https://, may hold user:pass@
  std::string method = "GET";
  httputil::HTTPHeaders headers;    // never modified by fetch
  std::optional<std::string> body;  // nullopt = no body (different from "")
  // The body streamed by a coroutine instead (only one of body and body_producer may be
  // set). With a Content-Length header the bytes are sent as they are and writing more or
  // fewer than declared fails the request with HTTPOutputError; without one the request
  // uses chunked transfer encoding (POST/PUT/PATCH; other methods need a Content-Length).
  // The request is read once the producer has returned. An exception it throws fails the
  // fetch unchanged, and the connection is closed. The producer may be called again, and
  // must then produce the whole body from its start: after a 307/308 redirect, and when a
  // pooled connection turns out to be closed before any response byte (idempotent methods).
  // Loop thread only. See docs/httpclient.md, "Streaming request bodies".
  BodyProducer body_producer;

  // Basic authentication (URL userinfo wins, as in Tornado). Only "basic" is supported.
  std::optional<std::string> auth_username;
  std::optional<std::string> auth_password;
  std::string auth_mode = "basic";  // anything else: std::invalid_argument

  // Timeouts; nullopt (or <= 0) = none. The queue wait is bounded by the smaller one.
  std::optional<Duration> connect_timeout = Duration(20);  // resolve+TCP+proxy+TLS
  std::optional<Duration> request_timeout = Duration(20);  // whole exchange, from dequeue

  std::optional<std::chrono::system_clock::time_point> if_modified_since;
  bool follow_redirects = true;
  int max_redirects = 5;
  std::optional<std::string> user_agent;  // default "tornado-cpp/<version>"
  bool decompress_response = true;        // sends Accept-Encoding: gzip, inflates
  // Body pieces as they arrive (the response body is then empty). Called on the loop.
  std::function<void(std::string_view chunk)> streaming_callback;
  // The status line, each header line, then "\r\n", each ending in CRLF (as Tornado).
  std::function<void(std::string_view line)> header_callback;

  // TLS (https:// and CONNECT tunnels). ssl_options, when set, replaces the four below.
  bool validate_cert = true;
  std::string ca_certs;     // PEM bundle; empty = the system store
  std::string client_cert;  // PEM, for mutual TLS
  std::string client_key;   // defaults to client_cert's file
  std::shared_ptr<SSLContext> ssl_options;

  // false: POST/PUT/PATCH need a body and other methods must not have one
  // (std::invalid_argument otherwise).
  bool allow_nonstandard_methods = false;

  // An HTTP proxy: http:// URLs go to it in absolute form, https:// through CONNECT.
  std::string proxy_host;
  int proxy_port = 0;
  std::string proxy_username;
  std::string proxy_password;
  std::string proxy_auth_mode = "basic";

  // Send Expect: 100-continue and the body (or run the body_producer) only after the
  // server's 100 (POST/PUT/PATCH).
  bool expect_100_continue = false;
  // Local address to connect from ("" = any): Tornado's network_interface.
  std::string network_interface;

  // One setter per field, for building a request inline (on a temporary); a named request
  // sets its fields directly. set_header adds one header field.
  HTTPRequest&& set_header(std::string_view name, std::string_view value) && {
    headers.add(name, value);
    return std::move(*this);
  }
  HTTPRequest&& set_url(std::string v) && {
    url = std::move(v);
    return std::move(*this);
  }
  HTTPRequest&& set_method(std::string v) && {
    method = std::move(v);
    return std::move(*this);
  }
  HTTPRequest&& set_headers(httputil::HTTPHeaders v) && {
    headers = std::move(v);
    return std::move(*this);
  }
  HTTPRequest&& set_body(std::optional<std::string> v) && {
    body = std::move(v);
    return std::move(*this);
  }
  HTTPRequest&& set_body_producer(BodyProducer v) && {
    body_producer = std::move(v);
    return std::move(*this);
  }
  HTTPRequest&& set_auth_username(std::optional<std::string> v) && {
    auth_username = std::move(v);
    return std::move(*this);
  }
  HTTPRequest&& set_auth_password(std::optional<std::string> v) && {
    auth_password = std::move(v);
    return std::move(*this);
  }
  HTTPRequest&& set_auth_mode(std::string v) && {
    auth_mode = std::move(v);
    return std::move(*this);
  }
  HTTPRequest&& set_connect_timeout(std::optional<Duration> v) && {
    connect_timeout = std::move(v);
    return std::move(*this);
  }
  HTTPRequest&& set_request_timeout(std::optional<Duration> v) && {
    request_timeout = std::move(v);
    return std::move(*this);
  }
  HTTPRequest&& set_if_modified_since(std::optional<std::chrono::system_clock::time_point> v) && {
    if_modified_since = std::move(v);
    return std::move(*this);
  }
  HTTPRequest&& set_follow_redirects(bool v) && {
    follow_redirects = std::move(v);
    return std::move(*this);
  }
  HTTPRequest&& set_max_redirects(int v) && {
    max_redirects = std::move(v);
    return std::move(*this);
  }
  HTTPRequest&& set_user_agent(std::optional<std::string> v) && {
    user_agent = std::move(v);
    return std::move(*this);
  }
  HTTPRequest&& set_decompress_response(bool v) && {
    decompress_response = std::move(v);
    return std::move(*this);
  }
  HTTPRequest&& set_streaming_callback(std::function<void(std::string_view chunk)> v) && {
    streaming_callback = std::move(v);
    return std::move(*this);
  }
  HTTPRequest&& set_header_callback(std::function<void(std::string_view line)> v) && {
    header_callback = std::move(v);
    return std::move(*this);
  }
  HTTPRequest&& set_validate_cert(bool v) && {
    validate_cert = std::move(v);
    return std::move(*this);
  }
  HTTPRequest&& set_ca_certs(std::string v) && {
    ca_certs = std::move(v);
    return std::move(*this);
  }
  HTTPRequest&& set_client_cert(std::string v) && {
    client_cert = std::move(v);
    return std::move(*this);
  }
  HTTPRequest&& set_client_key(std::string v) && {
    client_key = std::move(v);
    return std::move(*this);
  }
  HTTPRequest&& set_ssl_options(std::shared_ptr<SSLContext> v) && {
    ssl_options = std::move(v);
    return std::move(*this);
  }
  HTTPRequest&& set_allow_nonstandard_methods(bool v) && {
    allow_nonstandard_methods = std::move(v);
    return std::move(*this);
  }
  HTTPRequest&& set_proxy_host(std::string v) && {
    proxy_host = std::move(v);
    return std::move(*this);
  }
  HTTPRequest&& set_proxy_port(int v) && {
    proxy_port = std::move(v);
    return std::move(*this);
  }
  HTTPRequest&& set_proxy_username(std::string v) && {
    proxy_username = std::move(v);
    return std::move(*this);
  }
  HTTPRequest&& set_proxy_password(std::string v) && {
    proxy_password = std::move(v);
    return std::move(*this);
  }
  HTTPRequest&& set_proxy_auth_mode(std::string v) && {
    proxy_auth_mode = std::move(v);
    return std::move(*this);
  }
  HTTPRequest&& set_expect_100_continue(bool v) && {
    expect_100_continue = std::move(v);
    return std::move(*this);
  }
  HTTPRequest&& set_network_interface(std::string v) && {
    network_interface = std::move(v);
    return std::move(*this);
  }
};

struct HTTPResponse {
  std::shared_ptr<const HTTPRequest> request;  // the request as given (before redirects)
  int code = 0;
  std::string reason;
  httputil::HTTPHeaders headers;
  std::string body;           // empty with a streaming_callback
  std::string effective_url;  // the final URL after redirects
  double request_time = 0;    // seconds, from dequeue to the end (last hop)
  double start_time = 0;      // Unix time the last hop started
  // Seconds per phase of the last hop: "queue", "connect" (0 on a reused connection),
  // "starttransfer" (first response byte), "total".
  std::map<std::string, double> time_info;
  std::exception_ptr error;        // HTTPClientError for a non-2xx code or a 599
  bool reused_connection = false;  // served on a pooled keep-alive connection

  // Rethrows `error` if set.
  void rethrow() const;
};

// An HTTP error response (code = its status) or, with code 599, no response at all.
// what() is "HTTP <code>: <message>" as Tornado's str(); message() is the bare message.
class HTTPClientError : public std::runtime_error {
 public:
  HTTPClientError(int code, std::string message = {},
                  std::shared_ptr<const HTTPResponse> response = nullptr,
                  std::exception_ptr cause = nullptr);
  int code() const noexcept { return code_; }
  const std::string& message() const noexcept { return message_; }
  // The response (its `error` is empty), or null for 599.
  const std::shared_ptr<const HTTPResponse>& response() const noexcept { return response_; }
  // For 599: what failed underneath (std::system_error, SSLError, TimeoutError...), or null.
  const std::exception_ptr& cause() const noexcept { return cause_; }

 private:
  int code_;
  std::string message_;
  std::shared_ptr<const HTTPResponse> response_;
  std::exception_ptr cause_;
};

struct AsyncHTTPClientOptions {
  std::size_t max_clients = 10;                     // concurrent requests; others queue
  std::size_t max_buffer_size = 100 * 1024 * 1024;  // per stream
  std::size_t max_header_size = 64 * 1024;          // response head
  std::optional<std::size_t> max_body_size;         // default max_buffer_size (inflated)
  int max_interim_responses = 100;                  // 1xx responses before the final one
  std::shared_ptr<Resolver> resolver;               // default: DefaultExecutorResolver
  // Tornado's hostname_mapping: where to connect instead, applied when connecting (on top
  // of `resolver`, through an OverrideResolver, most specific key first):
  //   .host["api.example.com"] = "127.0.0.1"                       (port kept)
  //   .host_port[{"api.example.com", 443}] = {"127.0.0.1", 8443}
  //   .host_port_family[{"api.example.com", 443, AF_INET6}] = {"::1", 8443}
  // The request keeps its URL: the Host header, TLS SNI and certificate check, the pool key
  // and redirects all use the original name. A proxy host is mapped too (it is what the
  // client connects to). Empty (the default): no mapping.
  OverrideResolver::Mapping hostname_mapping;
  // Keep-alive pool. keep_alive = false sends Connection: close and pools nothing.
  bool keep_alive = true;
  std::size_t max_idle_per_host = 10;    // idle connections per pool key
  std::size_t max_idle_total = 100;      // idle connections overall
  Duration idle_timeout = Duration(60);  // an idle connection is closed after
};

namespace detail {
struct ClientState;
}

class AsyncHTTPClient {
 public:
  // The client shared by everything on the current IOLoop (made on first use, with
  // default options); it lives as long as the loop.
  static std::shared_ptr<AsyncHTTPClient> current();
  // A private client (Tornado's force_instance=True). Closing it is the owner's job (the
  // destructor closes too).
  explicit AsyncHTTPClient(AsyncHTTPClientOptions options = {});
  ~AsyncHTTPClient();
  AsyncHTTPClient(const AsyncHTTPClient&) = delete;
  AsyncHTTPClient& operator=(const AsyncHTTPClient&) = delete;

  // Fetches `request`. With raise_error (the default) a non-2xx response raises
  // HTTPClientError; with raise_error = false it is returned, but 599 failures still
  // raise. std::invalid_argument for a bad URL, scheme, method/body combination or auth
  // mode; std::logic_error after close(). Exceptions thrown by the request's callbacks
  // propagate unchanged. Not coroutines themselves: the arguments are moved to the heap
  // before the coroutine starts (g++ 12 relocates a coroutine's by-value class arguments
  // bitwise inside co_await expressions).
  Task<HTTPResponse> fetch(HTTPRequest request) { return fetch(std::move(request), true); }
  Task<HTTPResponse> fetch(HTTPRequest request, bool raise_error);
  Task<HTTPResponse> fetch(std::string url) { return fetch(std::move(url), HTTPRequest{}); }
  // `options` is a request whose url is replaced by `url` (Tornado's fetch(url, **kwargs)).
  Task<HTTPResponse> fetch(std::string url, HTTPRequest options, bool raise_error = true);

  // Closes idle pooled connections and refuses further fetches. Requests in flight finish.
  // Idempotent. The shared instance is closed when its loop is destroyed.
  void close();
  bool closed() const noexcept;

  const AsyncHTTPClientOptions& options() const noexcept;
  // Requests waiting for a slot (Tornado's len(client.queue)).
  std::size_t queue_size() const noexcept;
  // Requests holding a slot.
  std::size_t active_count() const noexcept;
  // Idle pooled connections.
  std::size_t idle_connection_count() const noexcept;
  // Connections opened so far (for tests and metrics: reuse keeps it low).
  std::size_t connections_opened() const noexcept;

 private:
  std::shared_ptr<detail::ClientState> state_;
};

// "tornado-cpp/<version>", the default User-Agent.
std::string_view default_user_agent() noexcept;

}  // namespace tornado::httpclient
