// The WebSocket client's opening handshake (RFC 6455 §4.1, Tornado's
// WebSocketClientConnection as an _HTTPConnection): connect directly or through the
// request's HTTP proxy (a CONNECT tunnel, for ws:// and wss:// alike), TLS for wss://,
// the upgrade request and its answer (checked by websocket_client_offer.cpp).
//
// Timeouts as in the HTTP client: the connect phase (resolve, TCP, tunnel, TLS) is bounded
// by min(connect_timeout, request_timeout) and fails with 599 "Timeout while connecting";
// the rest of the handshake by what is left of request_timeout, 599 "Timeout during
// request".
#include <algorithm>
#include <map>

#include "internal/http_parser.h"
#include "internal/http_url.h"
#include "internal/httpclient_impl.h"
#include "internal/websocket_client.h"
#include "internal/websocket_handshake.h"
#include "tornado/escape.h"
#include "tornado/tcpclient.h"

namespace tornado::websocket::detail {

using httpclient::HTTPClientError;
using httpclient::HTTPRequest;
using httpclient::detail::kTimeoutConnecting;
using httpclient::detail::kTimeoutRequest;
using httpclient::detail::positive;

// ---- connecting ---------------------------------------------------------------------------

namespace {


// The TLS context for the request's settings, cached per thread (loading the system store
// is not free; contexts are immutable and shared).
std::shared_ptr<SSLContext> tls_context(const HTTPRequest& request) {
  if (request.ssl_options) return request.ssl_options;
  thread_local std::map<std::string, std::shared_ptr<SSLContext>> cache;
  std::string key = std::string(request.validate_cert ? "1" : "0") + '\n' + request.ca_certs +
                    '\n' + request.client_cert + '\n' + request.client_key;
  if (auto it = cache.find(key); it != cache.end()) return it->second;
  if (cache.size() >= 16) cache.clear();
  auto ctx = httpclient::detail::make_ssl_context(request);
  cache.emplace(std::move(key), ctx);
  return ctx;
}

// A transport failure as the HTTP client reports it: 599 with the cause underneath.
[[noreturn]] void rethrow_as_599(std::exception_ptr e) {
  try {
    std::rethrow_exception(e);
  } catch (const HTTPClientError&) {
    throw;
  } catch (const WebSocketError&) {
    throw;
  } catch (const StreamClosedError& sc) {
    if (!sc.real_error()) throw HTTPClientError(599, "Stream closed", nullptr, e);
    try {
      std::rethrow_exception(sc.real_error());
    } catch (const std::exception& real) {
      throw HTTPClientError(599, real.what(), nullptr, sc.real_error());
    }
  } catch (const httputil::HTTPInputError& bad) {
    throw HTTPClientError(599, bad.what(), nullptr, e);
  } catch (const std::system_error& se) {
    throw HTTPClientError(599, se.what(), nullptr, e);
  } catch (const SSLError& ssl) {
    throw HTTPClientError(599, ssl.what(), nullptr, e);
  }
}

Task<std::shared_ptr<IOStream>> connect_stream(std::shared_ptr<ConnectArgs> args,
                                               httpclient::detail::ParsedURL url) {
  const HTTPRequest& request = args->request;
  const bool proxied = !request.proxy_host.empty();
  std::shared_ptr<SSLContext> tls;
  if (url.scheme == "https") tls = tls_context(request);
  ConnectOptions options;
  options.source_ip = request.network_interface;
  if (!proxied) options.ssl_options = tls;
  TCPClient tcp(args->options.resolver);
  std::string host = proxied ? request.proxy_host : url.host;
  const int port = proxied ? request.proxy_port : url.port;
  std::shared_ptr<IOStream> stream = co_await tcp.connect(std::move(host), port, options);
  // Frames are small and written whole: Nagle would only delay them (Tornado sets it too).
  stream->set_nodelay(true);
  if (!proxied) co_return stream;
  try {
    std::string auth;
    if (!request.proxy_username.empty()) auth = httpclient::detail::proxy_authorization(request);
    // The task is made in a statement of its own (g++ 12 and co_await temporaries).
    auto tunnel = httpclient::detail::connect_tunnel(stream, url.authority(), std::move(auth),
                                                     args->options.max_header_size);
    co_await std::move(tunnel);
    if (!tls) co_return stream;
    std::shared_ptr<SSLIOStream> tls_stream = co_await stream->start_tls(false, tls, url.host);
    co_return tls_stream;
  } catch (...) {
    stream->close();
    throw;
  }
}

httputil::HTTPHeaders upgrade_headers(const ConnectArgs& args,
                                      const httpclient::detail::ParsedURL& url,
                                      const std::string& key) {
  const HTTPRequest& request = args.request;
  httputil::HTTPHeaders h = request.headers;
  if (!h.contains("Host")) h.set("Host", url.host_header());
  std::optional<std::string> user = url.username ? url.username : request.auth_username;
  std::optional<std::string> password = url.username ? url.password : request.auth_password;
  if (user) {
    if (!url.username && request.auth_mode != "basic") {
      throw std::invalid_argument("unsupported auth_mode " + request.auth_mode);
    }
    h.set("Authorization", "Basic " + httputil::encode_basic_auth(*user, password.value_or("")));
  }
  if (request.user_agent) {
    h.set("User-Agent", *request.user_agent);
  } else if (!h.contains("User-Agent")) {
    h.set("User-Agent", httpclient::default_user_agent());
  }
  h.set("Upgrade", "websocket");
  h.set("Connection", "Upgrade");
  h.set("Sec-WebSocket-Key", key);
  h.set("Sec-WebSocket-Version", "13");
  if (!args.options.subprotocols.empty()) {
    std::string list;
    for (const auto& p : args.options.subprotocols) list += (list.empty() ? "" : ",") + p;
    h.set("Sec-WebSocket-Protocol", list);
  }
  if (args.options.compression_options) {
    h.set("Sec-WebSocket-Extensions", deflate_offer(*args.options.compression_options));
  }
  return h;
}

// Writes the upgrade request and reads the answer's head; a non-101 is an HTTPClientError
// carrying the response (with its body when a small Content-Length announces one).
Task<> exchange(std::shared_ptr<ConnectArgs> args, std::shared_ptr<IOStream> stream,
                std::string request_bytes, std::string key, ClientHandshake& out) {
  co_await stream->write(std::move(request_bytes));
  const std::size_t limit = args->options.max_header_size;
  std::string head = co_await stream->read_until("\r\n\r\n", limit);
  http1::MessageHead reply;
  http1::ParseError err;
  std::size_t used = 0;
  if (http1::parse_response_head(head, reply, used, err, {.max_header_size = limit}) !=
      http1::ParseStatus::kComplete) {
    throw httputil::HTTPInputError("Malformed WebSocket handshake response: " + err.message,
                                   err.status);
  }
  httputil::HTTPHeaders headers;
  for (const auto& f : reply.fields) headers.add_unchecked(f.name, f.value);
  if (reply.code >= 200 && reply.code < 300) {
    // Tornado's "Non-websocket response": a success that is not the upgrade.
    throw WebSocketError("Non-websocket response (" + std::to_string(reply.code) + " " +
                         std::string(reply.reason) + ")");
  }
  if (reply.code != 101) {
    auto response = std::make_shared<httpclient::HTTPResponse>();
    response->request = std::make_shared<const HTTPRequest>(args->request);
    response->code = reply.code;
    response->reason = std::string(reply.reason);
    response->effective_url = args->request.url;
    if (auto length = headers.get_first("Content-Length")) {
      std::size_t n = 0;
      try {
        n = std::stoul(std::string(*length));
      } catch (const std::exception&) {
      }
      if (n > 0 && n <= limit) {
        try {
          response->body = co_await stream->read_bytes(n);
        } catch (const StreamClosedError&) {
        }
      }
    }
    response->headers = std::move(headers);
    std::string reason = response->reason;
    throw HTTPClientError(reply.code, reason, std::move(response));
  }
  check_handshake_response(headers, key, args->options.subprotocols,
                           args->options.compression_options, out);
  out.headers = std::move(headers);
}

}  // namespace

Task<ClientHandshake> open_handshake(std::shared_ptr<ConnectArgs> args) {
  HTTPRequest& request = args->request;
  // Tornado's websocket_connect: ws -> http, wss -> https, then the HTTP client's URL rules.
  std::string url_text = request.url;
  for (auto [from, to] : {std::pair{"ws://", "http://"}, std::pair{"wss://", "https://"}}) {
    const std::string_view f(from);
    if (url_text.size() >= f.size() && std::equal(f.begin(), f.end(), url_text.begin(),
                                                  [](char a, char b) { return a == (b | 0x20); })) {
      url_text = to + url_text.substr(f.size());
    }
  }
  httpclient::detail::ParsedURL url = httpclient::detail::parse_url(url_text);
  if (!request.proxy_host.empty() && (request.proxy_port <= 0 || request.proxy_port > 65535)) {
    throw std::invalid_argument("proxy_host needs a proxy_port in 1..65535");
  }
  const std::string key = make_client_key();
  const httputil::HTTPHeaders headers = upgrade_headers(*args, url, key);
  std::string request_bytes = "GET " + url.target + " HTTP/1.1\r\n";
  for (auto [name, value] : headers) {
    request_bytes.append(name).append(": ").append(value).append("\r\n");
  }
  request_bytes += "\r\n";

  const auto connect_timeout = positive(
      args->options.connect_timeout ? args->options.connect_timeout : request.connect_timeout);
  const auto request_timeout = positive(
      args->options.request_timeout ? args->options.request_timeout : request.request_timeout);
  IOLoop& loop = IOLoop::current();
  const double start = loop.time();
  ClientHandshake out;
  std::exception_ptr failure;
  try {
    auto connecting = connect_stream(args, url);
    if (connect_timeout || request_timeout) {
      const Duration limit = connect_timeout && request_timeout
                                 ? std::min(*connect_timeout, *request_timeout)
                                 : connect_timeout.value_or(request_timeout.value_or(Duration()));
      try {
        out.stream = co_await with_timeout(limit, std::move(connecting));
      } catch (const TimeoutError&) {
        throw HTTPClientError(599, kTimeoutConnecting, nullptr, std::current_exception());
      }
    } else {
      out.stream = co_await std::move(connecting);
    }
    auto exchanging = exchange(args, out.stream, std::move(request_bytes), key, out);
    if (request_timeout) {
      const Duration left(std::max(0.0, request_timeout->count() - (loop.time() - start)));
      try {
        co_await with_timeout(left, std::move(exchanging));
      } catch (const TimeoutError&) {
        throw HTTPClientError(599, kTimeoutRequest, nullptr, std::current_exception());
      }
    } else {
      co_await std::move(exchanging);
    }
  } catch (...) {
    failure = std::current_exception();
  }
  if (failure) {
    if (out.stream) out.stream->close();
    rethrow_as_599(failure);
  }
  co_return out;
}

}  // namespace tornado::websocket::detail
