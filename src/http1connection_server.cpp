// HTTP1ServerConnection (the serve loop of one server connection) and the server's list of
// connections; the wire protocol itself is in http1connection.cpp.
#include <sys/ioctl.h>

#include <memory>
#include <string_view>

#include "internal/describe_exception.h"
#include "tornado/hot.h"
#include "tornado/http1connection.h"
#include "tornado/log.h"
#include "tornado/metrics.h"

namespace tornado {

namespace {

// Bytes of a next request already here: in the stream's buffer or still in the socket's.
bool request_bytes_waiting(IOStream& stream) noexcept {
  if (!stream.read_buffer().empty()) return true;
  if (stream.closed()) return false;
  int pending = 0;
  return ::ioctl(stream.fd(), FIONREAD, &pending) == 0 && pending > 0;
}

}  // namespace

// ---- server loop ----------------------------------------------------------------------

HTTP1ServerConnection::HTTP1ServerConnection(std::shared_ptr<IOStream> stream,
                                             HTTP1ConnectionParameters params,
                                             httputil::HTTPConnectionContext context)
    : stream_(std::move(stream)), params_(params), context_(std::move(context)) {}

Task<> HTTP1ServerConnection::start_serving(httputil::HTTPServerConnectionDelegate& delegate) {
  co_await serve(stream_, std::make_shared<const HTTP1ConnectionParameters>(params_), context_,
                 delegate);
}

// The serve frame is what an idle connection costs, and a coroutine frame keeps room for
// every awaiter and local it ever has: so it awaits only the idle wait and two sub-tasks,
// whose frames exist only while a request is served and while the connection closes.
template <typename Coroutine>
TORNADO_HOT Coroutine HTTP1ServerConnection::serve_loop(
    HTTP1Connection conn, httputil::HTTPServerConnectionDelegate& delegate,
    HTTP1ConnectionList* list) {
  if (list) list->add(conn);  // the connection's destructor leaves the list
  metrics::OpenConnection counted(metrics::Transport::kHttp);
  // The last request's delegate, kept for the next one only while its bytes are here
  // (pipelined): an idle connection holds none.
  std::unique_ptr<httputil::HTTPMessageDelegate> spare;
  try {
    for (;;) {
      if (spare && conn.stream().read_buffer().empty()) spare.reset();
      // Idle: wait for the next request's first bytes here, in this frame, before making
      // anything for it (delegate, head, the request's frames). The head timer bounds the
      // wait (idle_connection_timeout) by closing the stream, which ends it. A request
      // already buffered (pipelined) is not waited for, nor given a deadline.
      if (conn.stream().read_buffer().empty()) {
        conn.start_head_wait();
        conn.idle_ = true;  // a drain may close it now (HTTP1ConnectionList::close_idle)
        while (conn.stream().read_buffer().empty()) co_await conn.stream().fill_buffer();
        conn.idle_ = false;
      }
      // A request served at once leaves no Task to await (no frame was made for it).
      // `spare` is the previous request's delegate when the server delegate's
      // reuse_request made it ready for this one (a request answered from views needs none).
      bool keep_alive;
      Task<bool> rest = conn.serve_request(delegate, spare, keep_alive);
      if (rest.valid()) keep_alive = co_await std::move(rest);
      if (!keep_alive) break;
    }
  } catch (const StreamClosedError&) {
    // The client went away between requests: the normal end of a keep-alive connection.
  } catch (...) {
    app_log().error("Uncaught exception serving {}: {}", conn.context().remote_ip,
                    detail::describe_exception(std::current_exception()));
  }
  // Never throws: as a root frame (start) there is nobody to rethrow to.
  co_await close_connection(conn, delegate);
}

Task<> HTTP1ServerConnection::close_connection(
    HTTP1Connection& conn, httputil::HTTPServerConnectionDelegate& delegate) noexcept {
  try {
    delegate.on_close(&conn);
  } catch (...) {
    app_log().error("Uncaught exception in on_close for {}: {}", conn.context().remote_ip,
                    detail::describe_exception(std::current_exception()));
  }
  // Let queued response bytes drain before closing (a 400 answer, the last response).
  IOStream& stream = conn.stream();
  if (!conn.detached() && !stream.closed()) {
    try {
      co_await stream.write(std::string_view());
    } catch (...) {
    }
    stream.close();
  }
}

Task<> HTTP1ServerConnection::serve(std::shared_ptr<IOStream> stream,
                                    std::shared_ptr<const HTTP1ConnectionParameters> params,
                                    httputil::HTTPConnectionContext context,
                                    httputil::HTTPServerConnectionDelegate& delegate,
                                    HTTP1ConnectionList* list) {
  return serve_loop<Task<>>(HTTP1Connection(std::move(stream), /*is_client=*/false,
                                            std::move(params), std::move(context)),
                            delegate, list);
}

void HTTP1ServerConnection::start(std::shared_ptr<IOStream> stream,
                                  std::shared_ptr<const HTTP1ConnectionParameters> params,
                                  httputil::HTTPConnectionContext context,
                                  httputil::HTTPServerConnectionDelegate& delegate,
                                  HTTP1ConnectionList* list) {
  detail::DriverScope scope;
  serve_loop<detail::DetachedRoot>(HTTP1Connection(std::move(stream), /*is_client=*/false,
                                                   std::move(params), std::move(context)),
                                   delegate, list);
}

// ---- the server's connection list --------------------------------------------------------

HTTP1ConnectionList::~HTTP1ConnectionList() {
  // Connections still linked (their frames outlive the server) just forget the list.
  for (HTTP1Connection* c = first_; c != nullptr;) {
    HTTP1Connection* next = c->list_next_;
    c->list_ = nullptr;
    c->list_prev_ = c->list_next_ = nullptr;
    c = next;
  }
}

void HTTP1ConnectionList::add(HTTP1Connection& conn) noexcept {
  conn.list_ = this;
  conn.list_prev_ = nullptr;
  conn.list_next_ = first_;
  if (first_) first_->list_prev_ = &conn;
  first_ = &conn;
  ++size_;
}

void HTTP1ConnectionList::remove(HTTP1Connection& conn) noexcept {
  if (conn.list_ != this) return;
  if (conn.list_prev_) {
    conn.list_prev_->list_next_ = conn.list_next_;
  } else {
    first_ = conn.list_next_;
  }
  if (conn.list_next_) conn.list_next_->list_prev_ = conn.list_prev_;
  conn.list_ = nullptr;
  conn.list_prev_ = conn.list_next_ = nullptr;
  --size_;
}

void HTTP1ConnectionList::close_all() {
  // Closing runs callbacks: take the streams first, then close them.
  std::vector<std::shared_ptr<IOStream>> open;
  open.reserve(size_);
  for (HTTP1Connection* c = first_; c != nullptr; c = c->list_next_) open.push_back(c->stream_);
  for (const auto& s : open) s->close();
}

std::size_t HTTP1ConnectionList::close_idle() {
  std::vector<std::shared_ptr<IOStream>> idle;
  for (HTTP1Connection* c = first_; c != nullptr; c = c->list_next_) {
    if (!c->idle_ || c->stream_->closed()) continue;
    if (request_bytes_waiting(*c->stream_)) continue;  // its request is being read: serve it
    idle.push_back(c->stream_);
  }
  for (const auto& s : idle) s->close();
  return idle.size();
}

void HTTP1ServerConnection::close() { stream_->close(); }

}  // namespace tornado
