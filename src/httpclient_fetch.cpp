// One request/response exchange of the HTTP client (Tornado's _HTTPConnection): pick a
// pooled connection or open one (directly, or through an HTTP proxy, with a CONNECT tunnel
// for https), write the request, read the response into a delegate, and give the
// connection back to the pool when the exchange left it reusable.
//
// Timeouts follow Tornado: the connect phase (resolve, TCP, CONNECT, TLS) is bounded by
// min(connect_timeout, request_timeout) and fails with "Timeout while connecting"; the
// whole exchange is bounded by request_timeout from the start of the hop and fails with
// "Timeout during request". A timer closes the stream, which fails the pending read.
#include <chrono>

#include "internal/describe_exception.h"
#include "internal/http_parser.h"
#include "internal/httpclient_impl.h"
#include "tornado/http1connection.h"
#include "tornado/ioloop.h"
#include "tornado/log.h"

namespace tornado::httpclient::detail {

using httputil::HTTPHeaders;
using httputil::StartLine;

namespace {


double unix_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

bool idempotent(const std::string& method) {
  return method == "GET" || method == "HEAD" || method == "PUT" || method == "DELETE" ||
         method == "OPTIONS" || method == "TRACE";
}

// Closes the hop's stream when a deadline passes, remembering which one it was.
struct Watch {
  std::weak_ptr<IOStream> stream;
  const char* fired = nullptr;
  TimeoutHandle timer;
  LoopRef loop;  // the hop's loop; a LoopRef like every holder that may outlive it

  void arm(const std::shared_ptr<Watch>& self, double deadline, const char* message) {
    cancel();
    IOLoop* l = loop.get();
    if (l == nullptr) return;
    std::weak_ptr<Watch> weak = self;
    timer = l->call_at(deadline, [weak, message] {
      auto w = weak.lock();
      if (!w) return;
      w->fired = message;
      if (auto s = w->stream.lock()) s->close(std::make_exception_ptr(TimeoutError(message)));
    });
  }
  void cancel() {
    if (IOLoop* l = loop.get()) l->remove_timeout(timer);
  }
};

// The request headers Tornado's simple client sends, on a copy of the caller's headers.
HTTPHeaders build_headers(const HTTPRequest& request, const ParsedURL& url, bool keep_alive) {
  HTTPHeaders h = request.headers;
  if (!keep_alive && !h.contains("Connection")) h.set("Connection", "close");
  if (!h.contains("Host")) h.set("Host", url.host_header());
  std::optional<std::string> user, password;
  if (url.username) {
    user = url.username;
    password = url.password;
  } else if (request.auth_username) {
    user = request.auth_username;
    password = request.auth_password;
  }
  if (user) {
    h.set("Authorization", "Basic " + httputil::encode_basic_auth(*user, password.value_or("")));
  }
  if (request.user_agent) {
    h.set("User-Agent", *request.user_agent);
  } else if (!h.contains("User-Agent")) {
    h.set("User-Agent", default_user_agent());
  }
  if (request.if_modified_since) {
    h.set("If-Modified-Since", httputil::format_timestamp(*request.if_modified_since));
  }
  if (request.decompress_response) h.set("Accept-Encoding", "gzip");
  if (request.body) h.set("Content-Length", std::to_string(request.body->size()));
  if (request.method == "POST" && !h.contains("Content-Type")) {
    h.set("Content-Type", "application/x-www-form-urlencoded");
  }
  return h;
}

// Runs the request's body_producer on `conn` and ends the request. `producer_failed` tells
// the caller that an exception came from the producer itself (it then reaches the fetch
// unchanged), not from the transport (a 599). Awaited at once: the references outlive it.
Task<> produce_body(HTTP1Connection& conn, const HTTPRequest& request, bool& producer_failed) {
  // The write function checks this before touching the connection: a producer that keeps
  // it and calls it after returning gets a clear error, not a dangling connection.
  auto live = std::make_shared<bool>(true);
  BodyWriter write = [&conn, live](std::string_view chunk) {
    if (!*live) throw std::logic_error("body_producer's write called after the producer ended");
    return conn.write(chunk);
  };
  try {
    co_await request.body_producer(write);
  } catch (const StreamClosedError&) {
    *live = false;
    throw;  // the connection failed under the producer: a transport error
  } catch (...) {
    *live = false;
    producer_failed = true;
    throw;
  }
  *live = false;
  try {
    co_await conn.finish();  // HTTPOutputError when fewer bytes than Content-Length came
  } catch (const httputil::HTTPOutputError&) {
    producer_failed = true;
    throw;
  }
}

// Collects one response (Tornado's _HTTPConnection as a message delegate).
class ResponseCollector final : public httputil::HTTPMessageDelegate {
 public:
  ResponseCollector(const HTTPRequest& request, HTTP1Connection& conn, const HopContext& hop)
      : request_(request), conn_(conn), hop_(hop) {}

  Task<> headers_received(const StartLine& start_line, HTTPHeaders& headers) override {
    const auto& line = std::get<httputil::ResponseStartLine>(start_line);
    if (!first_byte_) first_byte_ = IOLoop::current().time();
    saw_head_ = true;
    if (line.code == 100 && awaiting_continue_) {
      awaiting_continue_ = false;
      if (request_.body_producer) {
        co_await produce_body(conn_, request_, producer_failed_);
      } else {
        (void)conn_.write(*request_.body);
        co_await conn_.finish();
      }
      co_return;
    }
    if (line.code >= 100 && line.code < 200) co_return;  // interim: the real one follows
    code_ = line.code;
    reason_ = line.reason;
    headers_ = std::move(headers);
    // A response that will be followed is not shown to the callbacks (as Tornado).
    redirecting_ = request_.follow_redirects && hop_.redirects_left > 0 &&
                   is_redirect_code(code_) && headers_.contains("Location");
    if (redirecting_ || !request_.header_callback) co_return;
    request_.header_callback(line.version + " " + std::to_string(code_) + " " + reason_ + "\r\n");
    for (auto [name, value] : headers_) {
      std::string line;
      line.append(name).append(": ").append(value).append("\r\n");
      request_.header_callback(line);
    }
    request_.header_callback("\r\n");
  }

  Task<> data_received(std::string_view chunk) override {
    if (redirecting_) co_return;
    if (request_.streaming_callback) {
      request_.streaming_callback(chunk);
    } else {
      body_.append(chunk);
    }
  }
  void finish() override { finished_ = true; }
  void on_connection_close() override {}

  bool awaiting_continue_ = false;
  bool producer_failed_ = false;  // an exception from the body_producer (passed on as is)
  bool saw_head_ = false;
  bool finished_ = false;
  bool redirecting_ = false;
  std::optional<double> first_byte_;
  int code_ = 0;
  std::string reason_;
  HTTPHeaders headers_;
  std::string body_;

 private:
  const HTTPRequest& request_;
  HTTP1Connection& conn_;
  const HopContext& hop_;
};

// Opens a connection for `request`: to the origin, or to the proxy (then, for https, a
// CONNECT tunnel and TLS with the origin's name). The watch bounds the steps after TCP.
Task<std::shared_ptr<IOStream>> open_connection(ClientState& state, const HTTPRequest& request,
                                                const ParsedURL& url,
                                                std::shared_ptr<SSLContext> tls,
                                                std::optional<double> deadline,
                                                std::shared_ptr<Watch> watch) {
  IOLoop& loop = IOLoop::current();
  const bool proxied = !request.proxy_host.empty();
  ConnectOptions options;
  options.max_buffer_size = state.options.max_buffer_size;
  options.source_ip = request.network_interface;
  if (deadline) options.timeout = Duration(std::max(0.0, *deadline - loop.time()));
  if (!proxied) options.ssl_options = tls;
  std::string host = proxied ? request.proxy_host : url.host;
  int port = proxied ? request.proxy_port : url.port;
  std::shared_ptr<IOStream> stream =
      co_await state.tcp.connect(std::move(host), port, std::move(options));
  ++state.connections_opened;
  // A request goes out in a few writes (head, body pieces, the last chunk): Nagle would hold
  // a small last one for the server's delayed ACK, 40 ms (Tornado's client sets it too).
  stream->set_nodelay(true);
  if (!proxied || !tls) co_return stream;

  // RFC 9110 9.3.6: CONNECT host:port, then TLS end to end with the origin.
  watch->stream = stream;
  std::string auth;
  if (!request.proxy_username.empty()) auth = proxy_authorization(request);
  // The task is made in a statement of its own (g++ 12 and co_await temporaries).
  auto tunnel =
      connect_tunnel(stream, url.authority(), std::move(auth), state.options.max_header_size);
  co_await std::move(tunnel);
  // start_tls detaches `stream`: the watch cannot close the handshake, so bound it here.
  Duration left = deadline ? Duration(std::max(0.0, *deadline - loop.time())) : Duration(3.0e9);
  std::shared_ptr<SSLIOStream> tls_stream =
      co_await with_timeout(left, stream->start_tls(false, tls, url.host));
  co_return tls_stream;
}

// The exception a failed hop reports (HTTPClientError 599 for transport failures); user
// callback exceptions and programming errors pass through unchanged.
std::exception_ptr classify(std::exception_ptr e, const Watch& watch, const ParsedURL& url) {
  if (watch.fired) return make_599(watch.fired, e);
  try {
    std::rethrow_exception(e);
  } catch (const HTTPClientError&) {
    return e;
  } catch (const TimeoutError&) {
    return make_599(kTimeoutConnecting, e);
  } catch (const StreamClosedError& sc) {
    if (!sc.real_error()) return make_599("Stream closed");
    try {
      std::rethrow_exception(sc.real_error());
    } catch (const std::exception& real) {
      return make_599(real.what(), sc.real_error());
    } catch (...) {
      return make_599("Stream closed", sc.real_error());
    }
  } catch (const httputil::HTTPInputError& bad) {
    gen_log().info("Malformed HTTP response from {}: {}", url.host, bad.what());
    return make_599(bad.what(), e);
  } catch (const std::system_error& se) {
    return make_599(se.what(), e);
  } catch (const SSLError& ssl) {
    return make_599(ssl.what(), e);
  } catch (...) {
    return e;
  }
}

bool is_stream_closed(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const StreamClosedError&) {
    return true;
  } catch (...) {
    return false;
  }
}

}  // namespace

std::string proxy_authorization(const HTTPRequest& request) {
  return "Basic " + httputil::encode_basic_auth(request.proxy_username, request.proxy_password);
}

Task<> connect_tunnel(std::shared_ptr<IOStream> stream, std::string authority,
                      std::string proxy_authorization, std::size_t max_header_size) {
  std::string connect = "CONNECT " + authority + " HTTP/1.1\r\nHost: " + authority + "\r\n";
  if (!proxy_authorization.empty()) {
    connect += "Proxy-Authorization: " + proxy_authorization + "\r\n";
  }
  connect += "\r\n";
  co_await stream->write(std::move(connect));
  std::string head = co_await stream->read_until("\r\n\r\n", max_header_size);
  // The reply is parsed like every response head (status line and fields).
  http1::MessageHead reply;
  http1::ParseError err;
  std::size_t used = 0;
  if (http1::parse_response_head(head, reply, used, err, {.max_header_size = max_header_size}) !=
      http1::ParseStatus::kComplete) {
    stream->close();
    throw httputil::HTTPInputError("Bad reply to CONNECT: " + err.message, err.status);
  }
  if (reply.code < 200 || reply.code >= 300) {
    stream->close();
    throw HTTPClientError(599, "Proxy refused CONNECT to " + authority + ": " +
                                   std::to_string(reply.code) + " " + std::string(reply.reason));
  }
}

Task<HTTPResponse> fetch_hop(std::shared_ptr<ClientState> state, const HTTPRequest& request,
                             const ParsedURL& url, const HopContext& hop) {
  IOLoop& loop = IOLoop::current();
  const double start = loop.time();
  HTTPResponse response;
  response.effective_url = request.url;
  response.start_time = unix_now();
  response.time_info["queue"] = hop.queue_seconds;
  response.time_info["connect"] = 0;

  const bool keep_alive = state->options.keep_alive;
  HTTPHeaders headers = build_headers(request, url, keep_alive);
  const bool proxied = !request.proxy_host.empty();
  const bool tunnel = proxied && url.scheme == "https";
  const std::string target = proxied && !tunnel ? url.absolute() : url.target;
  if (proxied && !tunnel && !request.proxy_username.empty() &&
      !headers.contains("Proxy-Authorization")) {
    headers.set("Proxy-Authorization", proxy_authorization(request));
  }

  std::optional<double> connect_deadline, request_deadline;
  auto connect_timeout = positive(request.connect_timeout);
  auto request_timeout = positive(request.request_timeout);
  if (connect_timeout || request_timeout) {
    Duration d = connect_timeout && request_timeout ? std::min(*connect_timeout, *request_timeout)
                 : connect_timeout                  ? *connect_timeout
                                                    : *request_timeout;
    connect_deadline = start + d.count();
  }
  if (request_timeout) request_deadline = start + request_timeout->count();

  auto watch = std::make_shared<Watch>();
  watch->loop = loop.ref();
  std::exception_ptr failure;
  for (int attempt = 0;; ++attempt) {
    std::shared_ptr<IOStream> stream;
    bool reused = false;
    std::optional<ResponseCollector> collector;
    bool keep = false;
    PoolKey key;
    try {
      std::shared_ptr<SSLContext> tls;
      if (url.scheme == "https") tls = state->ssl_context_for(request);
      key = PoolKey{url.scheme,
                    url.host,
                    url.port,
                    tls,
                    proxied ? request.proxy_host + ":" + std::to_string(request.proxy_port) + " " +
                                  request.proxy_username + ":" + request.proxy_password
                            : std::string(),
                    request.network_interface};
      // A retry never takes a pooled connection: the pool just failed us.
      if (keep_alive && attempt == 0) stream = state->pool.checkout(key);
      reused = stream != nullptr;
      if (!stream) {
        if (connect_deadline) watch->arm(watch, *connect_deadline, kTimeoutConnecting);
        double connect_start = loop.time();
        stream = co_await open_connection(*state, request, url, tls, connect_deadline, watch);
        response.time_info["connect"] = loop.time() - connect_start;
      }
      watch->stream = stream;
      watch->cancel();
      if (request_deadline) watch->arm(watch, *request_deadline, kTimeoutRequest);
      if (stream->closed()) throw StreamClosedError(stream->error());

      HTTP1ConnectionParameters params;
      params.no_keep_alive = !keep_alive;
      params.max_header_size = state->options.max_header_size;
      params.max_body_size = state->max_body_size;
      params.decompress = request.decompress_response;
      params.max_interim_responses = state->options.max_interim_responses;
      HTTP1Connection conn(stream, /*is_client=*/true, params);
      collector.emplace(request, conn, hop);
      httputil::RequestStartLine line{request.method, target, "HTTP/1.1"};
      if (request.expect_100_continue && (request.body || request.body_producer)) {
        headers.set("Expect", "100-continue");
        collector->awaiting_continue_ = true;
        (void)conn.write_headers(line, headers);
      } else if (request.body_producer) {
        (void)conn.write_headers(line, headers);
        co_await produce_body(conn, request, collector->producer_failed_);
      } else {
        (void)conn.write_headers(line, headers, request.body ? *request.body : std::string_view());
        (void)conn.finish();
      }
      keep = co_await conn.read_message(*collector, request.method);
      keep = keep && conn.write_finished() && !collector->awaiting_continue_;
    } catch (...) {
      failure = std::current_exception();
    }
    watch->cancel();
    if (failure) {
      // A pooled connection the server closed just before we used it: once more on a new
      // one, if nothing of a response arrived and repeating the request is harmless.
      bool retry = reused && !watch->fired && !(collector && collector->saw_head_) &&
                   idempotent(request.method) && is_stream_closed(failure) &&
                   stream->read_buffer().empty();
      if (stream) stream->close();
      if (retry) {
        failure = nullptr;
        continue;
      }
      response.code = 599;
      const bool from_producer = collector && collector->producer_failed_ && !watch->fired;
      response.error = from_producer ? failure : classify(failure, *watch, url);
      response.request_time = loop.time() - start;
      response.time_info["total"] = response.request_time;
      co_return response;
    }
    if (keep && keep_alive && !stream->closed() && !state->closed) {
      state->pool.checkin(key, stream);
    } else {
      stream->close();
    }
    response.reused_connection = reused;
    response.code = collector->code_;
    response.reason = std::move(collector->reason_);
    response.headers = std::move(collector->headers_);
    response.body = std::move(collector->body_);
    if (collector->first_byte_)
      response.time_info["starttransfer"] = *collector->first_byte_ - start;
    break;
  }
  response.request_time = loop.time() - start;
  response.time_info["total"] = response.request_time;
  co_return response;
}

}  // namespace tornado::httpclient::detail
