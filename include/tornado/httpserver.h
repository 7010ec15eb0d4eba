// tornado/httpserver.h — a non-blocking, single-threaded HTTP/1.1 server (Tornado's
// `httpserver`).
//
//   HTTPServer server([](httputil::HTTPServerRequest& request) {
//     std::string body = "Hello, world";
//     httputil::HTTPHeaders headers{{"Content-Type", "text/plain"},
//                                   {"Content-Length", std::to_string(body.size())}};
//     request.connection->write_headers(httputil::ResponseStartLine{"HTTP/1.1", 200, "OK"},
//                                       headers, body);
//     request.connection->finish();
//   });
//   server.listen(8888);
//   IOLoop::current().start();
//
// The request callback gets a complete request (body read and parsed) and answers through
// request.connection; web::Application plugs in as an HTTPServerConnectionDelegate instead.
// Options and defaults are Tornado's; see HTTPServerOptions. Bad input never reaches the
// callback: it is answered 400/413/431/505 and the connection closed.
// Thread rule: loop thread only.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tornado/http1connection.h"
#include "tornado/httputil.h"
#include "tornado/httputil_view.h"
#include "tornado/tcpserver.h"

namespace tornado {

struct HTTPServerOptions {
  bool no_keep_alive = false;  // close after every response
  bool xheaders = false;       // trust X-Real-Ip / X-Forwarded-For / X-Scheme / X-Forwarded-Proto
  std::vector<std::string> trusted_downstream;  // proxies skipped in X-Forwarded-For
  std::shared_ptr<SSLContext> ssl_options;      // HTTPS when set
  std::string protocol;                         // force "https" behind a TLS-terminating proxy
  bool decompress_request = false;              // inflate gzip request bodies
  std::size_t chunk_size = 64 * 1024;
  std::size_t max_header_size = 64 * 1024;
  std::optional<Duration> idle_connection_timeout = Duration(3600);
  std::optional<Duration> body_timeout;      // none
  std::optional<std::size_t> max_body_size;  // default: max_buffer_size
  std::size_t max_buffer_size = 100 * 1024 * 1024;
  // Read no further pipelined request while more response bytes than this are unsent.
  std::size_t max_unsent_output = 64 * 1024;
};

class HTTPServer : public TCPServer {
 public:
  using RequestCallback = std::function<void(httputil::HTTPServerRequest&)>;

  // Serves requests through `delegate` (e.g. a web::Application). The server keeps it alive.
  explicit HTTPServer(std::shared_ptr<httputil::HTTPServerConnectionDelegate> delegate,
                      HTTPServerOptions options = {});
  // Serves complete requests to `callback`.
  explicit HTTPServer(RequestCallback callback, HTTPServerOptions options = {});

  // The fast path (tornado/httputil_view.h): each complete request without a body goes
  // first to `views` as a RequestView, before any request object is made; what it leaves
  // unanswered, and every request with a body, goes on to `callback` (or `delegate`) as
  // without it. With options.xheaders on, `views` is never called (the forwarded address
  // and protocol are applied to request objects only).
  using ViewCallback = std::function<void(const httputil::RequestView&, httputil::Responder&)>;
  HTTPServer(ViewCallback views, RequestCallback callback, HTTPServerOptions options = {});
  HTTPServer(ViewCallback views, std::shared_ptr<httputil::HTTPServerConnectionDelegate> delegate,
             HTTPServerOptions options = {});
  ~HTTPServer() override;

  // Closes every open connection (idle or busy). With stop(), Tornado's shutdown; see
  // start_draining() and tornado/drain.h for the graceful one.
  void close_all_connections();
  std::size_t connection_count() const noexcept { return connections_.size(); }

  // ---- graceful drain (tornado/drain.h, docs/drain.md) ----
  // From now on every response carries Connection: close and its connection ends after it.
  // Requests in flight go on; connections waiting for a request stay open (the next request
  // is served, then the connection ends) until close_idle_connections(). Idempotent.
  void start_draining();
  bool draining() const noexcept { return connections_.draining(); }
  // Closes the connections waiting for a (next) request with nothing of it arrived yet.
  // Returns how many. (A client that sends a request just as its idle connection closes
  // sees the close instead of an answer: HTTP/1.1's keep-alive race, RFC 9112 9.3.1, which
  // is why a drain waits DrainOptions::idle_grace before this.)
  std::size_t close_idle_connections();
  const HTTPServerOptions& options() const noexcept { return options_; }

 protected:
  // One coroutine per connection, as TCPServer's contract says; handle_connection starts
  // the same serve loop as a root frame instead (no Task or spawn frame around it).
  Task<> handle_stream(std::shared_ptr<IOStream> stream, std::string address) override;
  void handle_connection(int fd, const ResolvedAddress& peer) override;

 private:
  class ServerDelegate;
  httputil::HTTPConnectionContext make_context(std::string address) const;
  HTTPServerOptions options_;
  std::shared_ptr<const HTTP1ConnectionParameters> params_;
  std::shared_ptr<httputil::HTTPServerConnectionDelegate> delegate_;
  ViewCallback views_;
  std::unique_ptr<ServerDelegate> server_delegate_;  // the user's, plus xheaders and views
  HTTP1ConnectionList connections_;
};

}  // namespace tornado
