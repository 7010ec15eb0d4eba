// tornado/tcpclient.h — a non-blocking TCP connection factory (Tornado's `tcpclient`).
//
//   TCPClient client;                                      // DefaultExecutorResolver
//   auto stream = co_await client.connect("localhost", 9888);
//   auto tls = co_await client.connect(
//       "example.com", 443,
//       ConnectOptions().set_ssl_options(SSLContext::client()).set_timeout(10s));
//
// connect() resolves the host, then races the addresses with "Happy Eyeballs" (RFC 6555,
// Tornado's _Connector): addresses are split by the family of the first result; the first
// address of that family is tried; if it fails, or is still pending after 0.3 s, the
// other family starts in parallel. Each family keeps at most one attempt in flight and
// walks its own list on failure. The first connection to succeed wins and the others are
// closed; if every address fails, the last error is raised.
//
// Thread rule: loop thread only.
#pragma once

#include <sys/socket.h>

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "tornado/ioloop.h"
#include "tornado/iostream.h"
#include "tornado/netutil.h"
#include "tornado/ssl.h"
#include "tornado/task.h"

namespace tornado {

// Options of TCPClient::connect. Not an aggregate, on purpose: g++ 12 destroys an aggregate
// temporary created inside a co_await expression twice (docs/task.md, "the g++ 12 rule"),
// and `co_await client.connect(h, p, {.timeout = 1s})` is exactly that. Build it inline with
// the setters (a class temporary is safe) or as a named variable:
//   co_await client.connect(h, p, ConnectOptions().set_timeout(1s).set_af(AF_INET));
//   ConnectOptions options;  options.timeout = 1s;  co_await client.connect(h, p, options);
class ConnectOptions {
 public:
  ConnectOptions() {}  // user-provided: makes the class a non-aggregate (see above)

  // AF_INET or AF_INET6 to use only that family; AF_UNSPEC (default) for both.
  int af = AF_UNSPEC;
  // Non-null: upgrade with start_tls (client side, SNI and hostname check = host).
  std::shared_ptr<SSLContext> ssl_options{};
  // Handed to the stream (Tornado's default 100 MiB).
  std::size_t max_buffer_size = IOStreamOptions{}.max_buffer_size;
  // Local address to bind before connecting ("" = any). With only source_port set, the
  // wildcard address of the target's family is bound to that port.
  std::string source_ip{};
  int source_port = 0;
  // Deadline for the whole connect (resolve, TCP, TLS handshake); nullopt = none.
  // Passing it raises TimeoutError when exceeded.
  std::optional<Duration> timeout{};

  // Setters, one per member, chainable on a temporary and on a named object.
  ConnectOptions&& set_af(int v) && { return std::move(set_af(v)); }
  ConnectOptions& set_af(int v) & {
    af = v;
    return *this;
  }
  ConnectOptions&& set_ssl_options(std::shared_ptr<SSLContext> v) && {
    return std::move(set_ssl_options(std::move(v)));
  }
  ConnectOptions& set_ssl_options(std::shared_ptr<SSLContext> v) & {
    ssl_options = std::move(v);
    return *this;
  }
  ConnectOptions&& set_max_buffer_size(std::size_t v) && {
    return std::move(set_max_buffer_size(v));
  }
  ConnectOptions& set_max_buffer_size(std::size_t v) & {
    max_buffer_size = v;
    return *this;
  }
  ConnectOptions&& set_source_ip(std::string v) && {
    return std::move(set_source_ip(std::move(v)));
  }
  ConnectOptions& set_source_ip(std::string v) & {
    source_ip = std::move(v);
    return *this;
  }
  ConnectOptions&& set_source_port(int v) && { return std::move(set_source_port(v)); }
  ConnectOptions& set_source_port(int v) & {
    source_port = v;
    return *this;
  }
  ConnectOptions&& set_timeout(Duration v) && { return std::move(set_timeout(v)); }
  ConnectOptions& set_timeout(Duration v) & {
    timeout = v;
    return *this;
  }
};

class TCPClient {
 public:
  // With no resolver, a DefaultExecutorResolver owned (and closed) by this client.
  explicit TCPClient(std::shared_ptr<Resolver> resolver = nullptr);
  ~TCPClient();
  TCPClient(const TCPClient&) = delete;
  TCPClient& operator=(const TCPClient&) = delete;

  // Connects to host:port; see the file comment for the address race. Raises:
  //   TimeoutError            options.timeout passed;
  //   StreamClosedError       the connection failed (real_error(): the std::system_error,
  //                           ECONNREFUSED, EADDRNOTAVAIL for a bad source_ip...) or the TLS
  //                           handshake failed (real_error(): SSLError);
  //   std::system_error       the name did not resolve (gai_category());
  //   std::invalid_argument   bad port or family, or a server-side ssl_options.
  // Not coroutines themselves: they pack the arguments into one heap object for the
  // coroutine, so the frame owns them whatever the caller's expression looks like.
  // The task holds the resolver too, so it may be stored and awaited after this client is
  // gone (`auto t = TCPClient().connect(...)`).
  Task<std::shared_ptr<IOStream>> connect(std::string host, int port) {
    return do_connect(resolver_, std::make_shared<Request>(Request{std::move(host), port, {}}));
  }
  Task<std::shared_ptr<IOStream>> connect(std::string host, int port, ConnectOptions options) {
    return do_connect(resolver_, std::make_shared<Request>(
                                     Request{std::move(host), port, std::move(options)}));
  }

  // Closes the resolver if this client made it. Idempotent.
  void close();

 private:
  struct Request {
    std::string host;
    int port;
    ConnectOptions options;
  };
  static Task<std::shared_ptr<IOStream>> do_connect(std::shared_ptr<Resolver> resolver,
                                                    std::shared_ptr<Request> request);

  std::shared_ptr<Resolver> resolver_;
  bool own_resolver_;
};

namespace detail {

// How long the primary family gets before the secondary one starts (Tornado: 0.3 s).
inline constexpr Duration kInitialConnectTimeout = 300ms;

// Happy Eyeballs over abstract addresses and streams, so it can be driven with fake
// connections in tests. Stream needs close(); the connect function starts one attempt and
// returns the stream with a Future that completes when it is connected (or failed).
// Loop thread only; the connector keeps itself alive while attempts or timers are pending.
template <typename Stream, typename Address>
class Connector : public std::enable_shared_from_this<Connector<Stream, Address>> {
 public:
  using StreamPtr = std::shared_ptr<Stream>;
  using Entry = std::pair<int, Address>;  // {family, address}
  struct Attempt {
    StreamPtr stream;
    Future<StreamPtr> future;
  };
  using ConnectFn = std::function<Attempt(int family, const Address& address)>;
  struct Result {
    int family;
    Address address;
    StreamPtr stream;
  };

  // Throws std::invalid_argument for an empty address list or connect function.
  static std::shared_ptr<Connector> create(std::vector<Entry> addrinfo, ConnectFn connect) {
    if (addrinfo.empty()) throw std::invalid_argument("Connector: no addresses to connect to");
    if (!connect) throw std::invalid_argument("Connector: connect function is empty");
    return std::shared_ptr<Connector>(new Connector(std::move(addrinfo), std::move(connect)));
  }

  // Partitions by family: {entries of the first entry's family, all the others}, each in
  // the original order.
  static std::pair<std::vector<Entry>, std::vector<Entry>> split(const std::vector<Entry>& all) {
    std::pair<std::vector<Entry>, std::vector<Entry>> out;
    if (all.empty()) return out;
    for (const auto& e : all) {
      (e.first == all.front().first ? out.first : out.second).push_back(e);
    }
    return out;
  }

  // Starts the primary family; the secondary follows after `timeout` (or at the first
  // failure). With a connect_deadline (IOLoop time), the result fails with TimeoutError
  // then and every attempt is closed. Call once.
  Future<Result> start(Duration timeout = kInitialConnectTimeout,
                       std::optional<double> connect_deadline = std::nullopt) {
    IOLoop& loop = IOLoop::current();
    loop_ = loop.ref();
    try_connect(kPrimary);
    std::weak_ptr<Connector> weak = this->weak_from_this();
    timeout_ = loop.call_later(timeout, [weak] {
      if (auto self = weak.lock()) self->on_timeout();
    });
    if (connect_deadline) {
      connect_timeout_ = loop.call_at(*connect_deadline, [weak] {
        if (auto self = weak.lock()) self->on_connect_timeout();
      });
    }
    // Cancelled (the connecting task was): no attempt or timer may outlive the caller's
    // interest, or a cancelled connect would leave its sockets open and its timers armed.
    future_.add_done_callback([weak](const Future<Result>& f) {
      if (!f.cancelled()) return;
      if (auto self = weak.lock()) {
        self->clear_timeouts();
        self->close_streams();
      }
    });
    return future_;
  }

  // The secondary family's turn (the 0.3 s timer; public so tests can fire it).
  void on_timeout() {
    timeout_armed_ = false;
    if (!future_.done()) try_connect(kSecondary);
  }

  // The overall deadline passed: fail with TimeoutError and close every attempt.
  void on_connect_timeout() {
    if (!future_.done()) future_.set_exception(TimeoutError("Timeout while connecting"));
    close_streams();
  }

  // Streams started and not handed out as the winner (tests check they get closed).
  const std::vector<StreamPtr>& streams() const noexcept { return streams_; }

 private:
  enum QueueId { kPrimary = 0, kSecondary = 1 };

  Connector(std::vector<Entry> addrinfo, ConnectFn connect)
      : connect_(std::move(connect)), remaining_(addrinfo.size()) {
    auto [primary, secondary] = split(addrinfo);
    queues_[kPrimary] = std::move(primary);
    queues_[kSecondary] = std::move(secondary);
  }

  void try_connect(QueueId q) {
    if (next_[q] >= queues_[q].size()) {
      // This family is exhausted; fail only once the other has nothing in flight either.
      if (remaining_ == 0 && !future_.done()) {
        if (last_error_) {
          future_.set_exception(last_error_);
        } else {
          future_.set_exception(std::runtime_error("connection failed"));
        }
      }
      return;
    }
    Entry entry = queues_[q][next_[q]++];
    Attempt attempt = connect_(entry.first, entry.second);
    if (attempt.stream) streams_.push_back(attempt.stream);
    attempt.future.add_done_callback(
        [self = this->shared_from_this(), q, entry](const Future<StreamPtr>& f) {
          self->on_connect_done(q, entry, f);
        });
  }

  void on_connect_done(QueueId q, const Entry& entry, const Future<StreamPtr>& f) {
    --remaining_;
    if (std::exception_ptr e = f.exception()) {
      if (future_.done()) return;
      last_error_ = e;  // remembered: the error raised if every address fails
      try_connect(q);
      if (timeout_armed_) {
        // A failure need not wait for the timer before trying the other family.
        if (IOLoop* loop = loop_.get()) loop->remove_timeout(timeout_);
        on_timeout();
      }
      return;
    }
    StreamPtr stream = f.result();
    clear_timeouts();
    if (future_.done()) {
      stream->close();  // a late winner: someone else already won (or we timed out)
      return;
    }
    std::erase(streams_, stream);
    future_.set_result(Result{entry.first, entry.second, stream});
    close_streams();
  }

  void clear_timeouts() {
    // An attempt may finish after the loop closed (and took the timers with it).
    if (IOLoop* loop = loop_.get()) {
      if (timeout_armed_) loop->remove_timeout(timeout_);
      loop->remove_timeout(connect_timeout_);
    }
    timeout_armed_ = false;
  }

  void close_streams() {
    for (auto& s : streams_) {
      if (s) s->close();
    }
  }

  ConnectFn connect_;
  std::size_t remaining_;  // addresses whose attempt has not finished (or not begun)
  std::vector<Entry> queues_[2];
  std::size_t next_[2] = {0, 0};
  std::vector<StreamPtr> streams_;
  std::exception_ptr last_error_;
  Future<Result> future_;
  LoopRef loop_;  // the timers' loop
  TimeoutHandle timeout_;
  bool timeout_armed_ = true;
  TimeoutHandle connect_timeout_;
};

}  // namespace detail
}  // namespace tornado
