#include "tornado/httpserver.h"

#include <arpa/inet.h>

#include "internal/http_parser.h"
#include "tornado/hot.h"
#include "tornado/httputil_view.h"
#include "tornado/log.h"

namespace tornado {

using httputil::HTTPConnection;
using httputil::HTTPHeaders;
using httputil::HTTPMessageDelegate;
using httputil::HTTPServerRequest;
using httputil::StartLine;

namespace {

bool valid_ip(const std::string& s) {
  unsigned char buf[sizeof(in6_addr)];
  return inet_pton(AF_INET, s.c_str(), buf) == 1 || inet_pton(AF_INET6, s.c_str(), buf) == 1;
}

std::string trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return std::string(s);
}

// Applies X-Real-Ip / X-Forwarded-For and X-Scheme / X-Forwarded-Proto to the connection's
// context for one request, and restores it afterwards (Tornado's _HTTPRequestContext).
class XHeadersDelegate final : public HTTPMessageDelegate {
 public:
  XHeadersDelegate(std::unique_ptr<HTTPMessageDelegate> inner, HTTP1Connection* conn,
                   const std::vector<std::string>& trusted)
      : inner_(std::move(inner)), conn_(conn), saved_(conn->context()), trusted_(trusted) {}

  Task<> headers_received(const StartLine& start_line, HTTPHeaders& headers) override {
    auto& ctx = conn_->mutable_context();
    // The last X-Forwarded-For hop that is not a trusted proxy is the client.
    std::string ip;
    if (auto xff = headers.get("X-Forwarded-For")) {
      std::vector<std::string> hops;
      std::string_view rest = *xff;
      while (true) {
        std::size_t comma = rest.find(',');
        hops.push_back(trim(rest.substr(0, comma)));
        if (comma == std::string_view::npos) break;
        rest.remove_prefix(comma + 1);
      }
      for (auto it = hops.rbegin(); it != hops.rend(); ++it) {
        ip = *it;
        if (std::find(trusted_.begin(), trusted_.end(), ip) == trusted_.end()) break;
      }
    }
    if (auto real = headers.get_first("X-Real-Ip")) ip = trim(*real);
    if (!ip.empty() && valid_ip(ip)) ctx.remote_ip = ip;
    std::string proto;
    if (auto scheme = headers.get_first("X-Scheme")) {
      proto = *scheme;
    } else if (auto fwd = headers.get_first("X-Forwarded-Proto")) {
      proto = *fwd;
    }
    if (!proto.empty()) {
      std::size_t comma = proto.rfind(',');
      proto = trim(comma == std::string::npos ? proto : proto.substr(comma + 1));
      if (proto == "http" || proto == "https") ctx.protocol = proto;
    }
    co_await inner_->headers_received(start_line, headers);
  }
  Task<> data_received(std::string_view chunk) override { return inner_->data_received(chunk); }
  void finish() override { inner_->finish(); }
  void on_connection_close() override {
    conn_->mutable_context() = saved_;
    inner_->on_connection_close();
  }
  ~XHeadersDelegate() override { conn_->mutable_context() = saved_; }

 private:
  std::unique_ptr<HTTPMessageDelegate> inner_;
  HTTP1Connection* conn_;
  httputil::HTTPConnectionContext saved_;
  const std::vector<std::string>& trusted_;
};

// Collects a whole request and hands it to a plain callback. One per request: its memory
// comes from the per-thread frame cache (a malloc and a free less per request).
class CallbackRequestDelegate final : public HTTPMessageDelegate, public detail::PooledFrame {
 public:
  CallbackRequestDelegate(const HTTPServer::RequestCallback& callback, HTTPConnection* conn)
      : callback_(callback), conn_(conn) {}
  TORNADO_HOT ~CallbackRequestDelegate() override = default;  // (at depth 1, one a request)

  Task<> headers_received(const StartLine& start_line, HTTPHeaders& headers) override {
    headers_received_now(start_line, headers);
    co_return;
  }
  // What the server's connection calls: the request is built at once, with no Task.
  bool headers_received_now(const StartLine& start_line, HTTPHeaders& headers) override {
    const auto& line = std::get<httputil::RequestStartLine>(start_line);
    // Built in place: the request is large, a temporary and a move would cost twice.
    request_.emplace(line, std::move(headers), conn_);
    return true;
  }
  // The server connection's first call: the request built straight from the line's views.
  TORNADO_HOT bool request_head_now(const httputil::RequestLineView& line, HTTPHeaders& headers,
                                    StartLine&) override {
    request_.emplace(line, std::move(headers), conn_);
    return true;
  }
  Task<> data_received(std::string_view chunk) override {
    request_->body.append(chunk);
    co_return;
  }
  TORNADO_HOT void finish() override {
    request_->parse_body();
    callback_(*request_);
  }
  void on_connection_close() override {}
  // Ready for the connection's next request (CallbackConnectionDelegate::reuse_request):
  // nothing of the previous one is kept.
  void reset() noexcept { request_.reset(); }

 private:
  const HTTPServer::RequestCallback& callback_;
  HTTPConnection* conn_;
  std::optional<HTTPServerRequest> request_;
};

class CallbackConnectionDelegate final : public httputil::HTTPServerConnectionDelegate {
 public:
  explicit CallbackConnectionDelegate(HTTPServer::RequestCallback cb) : callback_(std::move(cb)) {}
  TORNADO_HOT std::unique_ptr<HTTPMessageDelegate> start_request(HTTPConnection* conn) override {
    return std::make_unique<CallbackRequestDelegate>(callback_, conn);
  }
  // One delegate serves a connection's requests in turn (the pipelined ones of a read).
  TORNADO_HOT bool reuse_request(HTTPMessageDelegate& finished) override {
    static_cast<CallbackRequestDelegate&>(finished).reset();
    return true;
  }

 private:
  HTTPServer::RequestCallback callback_;
};

TCPServerOptions tcp_options(const HTTPServerOptions& o) {
  TCPServerOptions t;
  t.ssl_options = o.ssl_options;
  t.max_buffer_size = o.max_buffer_size;
  return t;
}

}  // namespace

// Wraps the user's delegate to add xheaders handling per request, and the view callback.
class HTTPServer::ServerDelegate final : public httputil::HTTPServerConnectionDelegate {
 public:
  ServerDelegate(httputil::HTTPServerConnectionDelegate& inner, const HTTPServerOptions& options,
                 const ViewCallback& views)
      : inner_(inner), options_(options), views_(views) {
    offers_views_ = (views_ || inner_.offers_views()) && !options_.xheaders;
  }
  TORNADO_HOT void serve_view(const httputil::RequestView& request,
                              httputil::Responder& responder) override {
    if (views_) views_(request, responder);
    if (!responder.sent() && inner_.offers_views()) inner_.serve_view(request, responder);
  }
  TORNADO_HOT std::unique_ptr<HTTPMessageDelegate> start_request(HTTPConnection* conn) override {
    auto d = inner_.start_request(conn);
    if (!options_.xheaders) return d;
    return std::make_unique<XHeadersDelegate>(std::move(d), static_cast<HTTP1Connection*>(conn),
                                              options_.trusted_downstream);
  }
  // With xheaders the delegate is this wrapper's own (it restores the context as it goes).
  TORNADO_HOT bool reuse_request(HTTPMessageDelegate& finished) override {
    return !options_.xheaders && inner_.reuse_request(finished);
  }
  void on_close(HTTPConnection* conn) override { inner_.on_close(conn); }

 private:
  httputil::HTTPServerConnectionDelegate& inner_;
  const HTTPServerOptions& options_;
  const ViewCallback& views_;
};

HTTPServer::HTTPServer(std::shared_ptr<httputil::HTTPServerConnectionDelegate> delegate,
                       HTTPServerOptions options)
    : HTTPServer(ViewCallback(), std::move(delegate), std::move(options)) {}

HTTPServer::HTTPServer(ViewCallback views,
                       std::shared_ptr<httputil::HTTPServerConnectionDelegate> delegate,
                       HTTPServerOptions options)
    : TCPServer(tcp_options(options)),
      options_(std::move(options)),
      delegate_(std::move(delegate)),
      views_(std::move(views)),
      server_delegate_(std::make_unique<ServerDelegate>(*delegate_, options_, views_)) {
  HTTP1ConnectionParameters params;
  params.no_keep_alive = options_.no_keep_alive;
  params.chunk_size = options_.chunk_size;
  params.max_header_size = options_.max_header_size;
  params.header_timeout = options_.idle_connection_timeout;
  params.max_body_size = options_.max_body_size.value_or(options_.max_buffer_size);
  params.body_timeout = options_.body_timeout;
  params.decompress = options_.decompress_request;
  params.max_unsent_output = options_.max_unsent_output;
  params_ = std::make_shared<const HTTP1ConnectionParameters>(params);
}

HTTPServer::HTTPServer(RequestCallback callback, HTTPServerOptions options)
    : HTTPServer(std::make_shared<CallbackConnectionDelegate>(std::move(callback)),
                 std::move(options)) {}

HTTPServer::HTTPServer(ViewCallback views, RequestCallback callback, HTTPServerOptions options)
    : HTTPServer(std::move(views),
                 std::make_shared<CallbackConnectionDelegate>(std::move(callback)),
                 std::move(options)) {}

HTTPServer::~HTTPServer() { close_all_connections(); }

void HTTPServer::close_all_connections() { connections_.close_all(); }

void HTTPServer::start_draining() { connections_.start_draining(); }

std::size_t HTTPServer::close_idle_connections() { return connections_.close_idle(); }

httputil::HTTPConnectionContext HTTPServer::make_context(std::string address) const {
  httputil::HTTPConnectionContext context;
  context.remote_ip = std::move(address);  // numeric IP; "" for a Unix socket peer
  context.protocol = !options_.protocol.empty() ? options_.protocol
                     : options_.ssl_options     ? "https"
                                                : "http";
  return context;
}

// Not a coroutine: the connection's whole state lives in HTTP1ServerConnection::serve's
// frame, the only one an idle connection holds.
Task<> HTTPServer::handle_stream(std::shared_ptr<IOStream> stream, std::string address) {
  stream->set_nodelay(true);
  return HTTP1ServerConnection::serve(std::move(stream), params_, make_context(std::move(address)),
                                      *server_delegate_, &connections_);
}

void HTTPServer::handle_connection(int fd, const ResolvedAddress& peer) {
  std::shared_ptr<IOStream> stream = make_stream(fd);
  stream->set_nodelay(true);
  HTTP1ServerConnection::start(std::move(stream), params_, make_context(peer_address(peer)),
                               *server_delegate_, &connections_);
}

}  // namespace tornado
