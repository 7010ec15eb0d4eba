// The HTTP client's internals, shared by src/httpclient*.cpp:
//   ConnectionPool   idle keep-alive streams per key (httpclient_pool.cpp)
//   ClientState      options, pool, request slots and their FIFO queue (httpclient.cpp)
//   fetch_hop        one request/response exchange, no redirects (httpclient_fetch.cpp)
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <tuple>

#include "internal/http_url.h"
#include "tornado/httpclient.h"
#include "tornado/iostream.h"
#include "tornado/tcpclient.h"

namespace tornado::httpclient::detail {

// The 599 messages of Tornado's simple_httpclient, shared with the WebSocket client.
inline constexpr const char* kTimeoutConnecting = "Timeout while connecting";
inline constexpr const char* kTimeoutRequest = "Timeout during request";

// A timeout that is set: zero or negative means none, as in Tornado.
inline std::optional<Duration> positive(std::optional<Duration> d) {
  if (d && d->count() > 0) return d;
  return std::nullopt;
}

// What makes two connections interchangeable. The TLS context is compared by identity
// (requests with equal TLS settings share one cached context, so equal settings give the
// same pointer); the shared_ptr keeps it alive, so an address is never reused while keyed.
struct PoolKey {
  std::string scheme;
  std::string host;
  int port = 0;
  std::shared_ptr<SSLContext> tls;
  std::string proxy;   // "host:port user:password", "" for a direct connection
  std::string source;  // network_interface
  auto tie() const { return std::tie(scheme, host, port, tls, proxy, source); }
  bool operator<(const PoolKey& o) const { return tie() < o.tie(); }
};

class ConnectionPool {
 public:
  ConnectionPool(LoopRef loop, std::size_t max_per_key, std::size_t max_total,
                 Duration idle_timeout)
      : loop_(std::move(loop)),
        max_per_key_(max_per_key),
        max_total_(max_total),
        idle_timeout_(idle_timeout) {}
  ~ConnectionPool() { close_all(); }
  ConnectionPool(const ConnectionPool&) = delete;
  ConnectionPool& operator=(const ConnectionPool&) = delete;

  // The most recently used idle stream for `key` that is still open and has no stray
  // bytes buffered, or null. Dead ones found on the way are closed and dropped.
  std::shared_ptr<IOStream> checkout(const PoolKey& key);
  // Keeps `stream` for reuse; the oldest idle stream goes when a bound is reached.
  void checkin(const PoolKey& key, std::shared_ptr<IOStream> stream);
  // Closes and forgets every idle stream.
  void close_all();
  std::size_t idle_count() const noexcept { return total_; }

 private:
  struct Idle {
    uint64_t id;
    std::shared_ptr<IOStream> stream;
    double since;
    TimeoutHandle expiry;
  };
  void discard(const PoolKey& key, uint64_t id);
  void evict_oldest();
  void forget(Idle& idle);

  // The loop the streams and timers belong to. A LoopRef: the client (and its pool) may be
  // closed or destroyed after the loop is gone, when there is no timer left to remove.
  LoopRef loop_;
  std::size_t max_per_key_;
  std::size_t max_total_;
  Duration idle_timeout_;
  std::map<PoolKey, std::deque<Idle>> idle_;  // per key, oldest first
  std::size_t total_ = 0;
  uint64_t next_id_ = 1;
  // Timers and close callbacks reach the pool through this token: once the pool is gone
  // they find it expired.
  std::shared_ptr<ConnectionPool*> token_ = std::make_shared<ConnectionPool*>(this);
};

// A request waiting for a slot (max_clients).
struct QueueWaiter {
  Future<void> ready;
};

struct ClientState {
  explicit ClientState(AsyncHTTPClientOptions o);

  AsyncHTTPClientOptions options;
  std::size_t max_body_size;
  TCPClient tcp;
  ConnectionPool pool;
  std::size_t active = 0;
  std::deque<std::shared_ptr<QueueWaiter>> queue;
  bool closed = false;
  std::size_t connections_opened = 0;
  std::map<std::string, std::shared_ptr<SSLContext>> ssl_contexts;

  // The TLS context for a request's settings (cached per distinct settings).
  std::shared_ptr<SSLContext> ssl_context_for(const HTTPRequest& request);
  // Waits for a slot; raises HTTPClientError(599, "Timeout in request queue").
  Task<> acquire_slot(std::optional<Duration> timeout);
  void release_slot();
};

// Per-hop information the redirect loop hands to fetch_hop.
struct HopContext {
  int redirects_left = 0;  // a 3xx with Location is followed only if > 0
  double fetch_start = 0;  // IOLoop time the hop was queued
  double queue_seconds = 0;
};

// One exchange on a pooled or new connection. Returns the response (code 599 and `error`
// set when there was none); raises only std::invalid_argument and exceptions from the
// request's callbacks.
Task<HTTPResponse> fetch_hop(std::shared_ptr<ClientState> state, const HTTPRequest& request,
                             const ParsedURL& url, const HopContext& hop);

// "Basic <credentials>" for the request's proxy_username/proxy_password.
std::string proxy_authorization(const HTTPRequest& request);

// Asks the HTTP proxy at the other end of `stream` for a tunnel to `authority` (host:port;
// RFC 9110 9.3.6 CONNECT) and reads its reply. Raises HTTPInputError for a malformed reply
// and HTTPClientError 599 when the proxy refuses (the stream is then closed). Shared by the
// HTTP client (https through a proxy) and the WebSocket client (ws and wss).
Task<> connect_tunnel(std::shared_ptr<IOStream> stream, std::string authority,
                      std::string proxy_authorization, std::size_t max_header_size);

// A new client TLS context for the request's validate_cert, ca_certs, client_cert and
// client_key (the request's ssl_options, when set, instead).
std::shared_ptr<SSLContext> make_ssl_context(const HTTPRequest& request);

// True for 301/302/303/307/308.
bool is_redirect_code(int code) noexcept;

// 599 with `message` and, when given, the underlying cause.
std::exception_ptr make_599(const std::string& message, std::exception_ptr cause = nullptr);

}  // namespace tornado::httpclient::detail
