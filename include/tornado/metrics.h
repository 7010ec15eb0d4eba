// tornado/metrics.h — process-wide counters of the server: HTTP requests finished (by status
// class, and by handler and status code with a latency histogram), open connections per
// transport, WebSocket messages in and out, hub deliveries and drops, Redis reconnects, loop
// lag and callback queue depth, and named gauges and counters an application adds. What a
// dashboard samples and the /metrics endpoint (web::MetricsHandler) exposes in Prometheus's
// text format (prometheus_text()).
//
//   auto s = metrics::snapshot();                      // any thread, any time
//   s.requests[4];                                     // 5xx responses so far
//   s.open[metrics::Transport::kWebSocket];            // WebSocket connections open now
//   static metrics::Gauge& waiters = metrics::gauge("chat_longpoll_waiters");
//   waiters.add(1); ... waiters.add(-1);               // an application's own figure
//
// The library counts by itself (docs/metrics.md says where): nothing to call for the built-in
// figures. Counting costs a thread-local add (no lock, no atomic read-modify-write): each
// thread owns a shard of plain counters on its own cache lines; snapshot() sums the shards
// (and those of threads that have exited) under a mutex.
//
// Thread rules: everything, any thread. Named gauges and counters live as long as the process.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <typeinfo>
#include <utility>
#include <vector>

namespace tornado::metrics {

// Where a connection is counted: an HTTP/1.1 server connection from accept until it closes
// or becomes a WebSocket or an event stream; an upgraded WebSocket connection; a Server-Sent
// Events stream.
enum class Transport : uint8_t { kHttp, kWebSocket, kSse };
inline constexpr std::size_t kTransports = 3;
// "http", "websocket", "sse".
std::string_view transport_name(Transport t) noexcept;

// The request latency histogram's upper bounds, in seconds (a last bucket, +Inf, follows).
// Finer than Prometheus's default below 5 ms: most requests here take well under one.
inline constexpr std::array<double, 14> kLatencyBounds{
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
inline constexpr std::size_t kLatencyBuckets = kLatencyBounds.size() + 1;

// Requests finished by one handler class (web::RequestHandler subclass).
struct HandlerFigures {
  std::string name;  // the class's name ("chat::MessageNewHandler")
  std::vector<std::pair<int, uint64_t>> by_status;       // (status code, count), by code
  std::array<uint64_t, kLatencyBuckets> latency{};       // per bucket (not cumulative)
  double latency_sum = 0;                                // seconds
  uint64_t count() const noexcept;
};

// The hub's slow-consumer policies as metrics name them (pubsub::SlowConsumerPolicy's order).
inline constexpr std::array<std::string_view, 4> kPolicyNames{"disconnect", "drop_newest",
                                                              "drop_oldest", "conflate"};

// One loop watched by watch_loop().
struct LoopFigures {
  int id = 0;                  // in the order the loops were watched (from 0)
  double lag_seconds = 0;      // the worst probe lateness over the last second
  std::size_t callbacks = 0;   // the callback queue's length at the last probe
};

struct Snapshot {
  // Requests finished by a web::RequestHandler, by status class: [0] 1xx (WebSocket
  // upgrades), [1] 2xx, [2] 3xx, [3] 4xx, [4] 5xx. Statuses outside 100-599 are not counted.
  std::array<uint64_t, 5> requests{};
  // Open now, by Transport.
  std::array<int64_t, kTransports> open{};
  // Connections accepted so far, by Transport (an upgrade counts under its new transport).
  std::array<uint64_t, kTransports> opened{};
  uint64_t websocket_messages_in = 0;   // whole messages received (after reassembly)
  uint64_t websocket_messages_out = 0;  // messages sent (write_message and hub deliveries)
  // By handler class, those with at least one request, by name.
  std::vector<HandlerFigures> handlers;
  // Hub messages handed to subscribers (sent, queued or to a callback), and those a
  // slow-consumer policy dropped, by policy (kPolicyNames); subscribers disconnected by the
  // disconnect policy.
  uint64_t hub_delivered = 0;
  std::array<uint64_t, kPolicyNames.size()> hub_dropped{};
  uint64_t hub_disconnected = 0;
  uint64_t redis_reconnects = 0;  // the hub's Redis connection re-established after a loss
  std::vector<LoopFigures> loops;  // the loops watched (watch_loop()), still running
  // The named figures (gauge(), counter()), sorted by name.
  std::vector<std::pair<std::string, int64_t>> gauges;
  std::vector<std::pair<std::string, uint64_t>> counters;

  uint64_t requests_total() const noexcept;
  int64_t open_of(Transport t) const noexcept { return open[static_cast<std::size_t>(t)]; }
};

// The process's figures now. Any thread; takes a mutex (not on any request path).
Snapshot snapshot();

// Measures the current loop's lag (how late a 100 ms timer fires: a loop busy with other work
// fires it late) and its callback queue's length, for Snapshot::loops. Call once on each loop
// thread (watching a loop twice is a no-op); the probe ends when its loop closes. Loop thread.
void watch_loop();

// The process figures a scrape reports beside the counters (Linux /proc; 0 if unreadable).
struct ProcessFigures {
  uint64_t resident_bytes = 0;
  uint64_t virtual_bytes = 0;
  double cpu_seconds = 0;       // user + system
  uint64_t open_fds = 0;
  uint64_t max_fds = 0;         // RLIMIT_NOFILE's soft limit
  double start_time_seconds = 0;  // since the Unix epoch
};
ProcessFigures process_figures();

// Everything above in Prometheus's text exposition format (version 0.0.4): the library's
// figures as tornado_* metrics, the process's as process_*, and the application's named
// gauges and counters under their own names.
std::string prometheus_text(const Snapshot& snapshot, const ProcessFigures& process);

// A named figure that goes up and down (connections of the application's own kind, waiters,
// queue lengths). One atomic on its own cache line: for figures that change at most once per
// request, not per byte.
class alignas(64) Gauge {
 public:
  void add(int64_t delta) noexcept { value_.fetch_add(delta, std::memory_order_relaxed); }
  void set(int64_t v) noexcept { value_.store(v, std::memory_order_relaxed); }
  int64_t value() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> value_{0};
};

// A named figure that only goes up.
class alignas(64) Counter {
 public:
  void add(uint64_t n = 1) noexcept { value_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t value() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

// The gauge / counter named `name` (made on first use, never destroyed: keep the reference).
// Names are [a-zA-Z_][a-zA-Z0-9_]* (Prometheus's), otherwise std::invalid_argument. A name is
// a gauge or a counter, not both (std::invalid_argument). The scrape's own families are
// reserved: names starting with tornado_ and the process_* figures (std::invalid_argument).
Gauge& gauge(std::string_view name);
Counter& counter(std::string_view name);

// Counts an open connection of a transport for as long as it lives (what the library puts in
// the frame or object that owns a connection). Also usable by an application transport.
class OpenConnection {
 public:
  explicit OpenConnection(Transport t) noexcept;
  ~OpenConnection();
  OpenConnection(const OpenConnection&) = delete;
  OpenConnection& operator=(const OpenConnection&) = delete;

 private:
  Transport transport_;
};

namespace detail {

// One handler class's counts on one thread (made by that thread on its first request).
struct HandlerCounts {
  static constexpr int kFirstStatus = 100, kStatuses = 500;  // 100..599
  std::array<std::atomic<uint64_t>, kStatuses> by_status{};
  std::array<std::atomic<uint64_t>, kLatencyBuckets> latency{};
  std::atomic<uint64_t> latency_sum_ns{0};
};
// Handler classes are numbered as they are registered (one per class); at most kMaxHandlers,
// later ones share id 0 ("other").
inline constexpr std::size_t kMaxHandlers = 256;
// The id for a handler class (its std::type_info), registered on first use. Any thread.
int handler_id(const std::type_info& type);

// One thread's counters. Written only by its thread (a relaxed load and store: no locked
// instruction), read by snapshot() from any thread.
struct alignas(64) Shard {
  std::array<std::atomic<uint64_t>, 5> requests{};
  std::array<std::atomic<int64_t>, kTransports> open{};
  std::array<std::atomic<uint64_t>, kTransports> opened{};
  std::atomic<uint64_t> websocket_messages_in{0};
  std::atomic<uint64_t> websocket_messages_out{0};
  std::atomic<uint64_t> hub_delivered{0};
  std::array<std::atomic<uint64_t>, kPolicyNames.size()> hub_dropped{};
  std::atomic<uint64_t> hub_disconnected{0};
  // Made by this thread, read by snapshot() (release / acquire).
  std::array<std::atomic<HandlerCounts*>, kMaxHandlers> handlers{};
};

HandlerCounts& make_handler_counts(Shard& shard, int id);
// The latency histogram's bucket for `duration`: the first bound it does not exceed (a
// Prometheus bucket counts values <= its `le`), or the +Inf bucket.
std::size_t latency_bucket(std::chrono::nanoseconds duration) noexcept;
void count_handler_request(int handler, int status, std::chrono::nanoseconds duration) noexcept;
// request_finished(status) and count_handler_request in one call, with one look-up of the
// thread's counters (what a web request's end counts).
void count_request(int handler, int status, std::chrono::nanoseconds duration) noexcept;
void redis_reconnected() noexcept;

Shard& make_thread_shard();
inline thread_local Shard* t_shard = nullptr;
inline Shard& shard() noexcept {
  Shard* s = t_shard;
  return s ? *s : make_thread_shard();
}
template <typename T, typename D>
inline void bump(std::atomic<T>& counter, D delta) noexcept {
  counter.store(counter.load(std::memory_order_relaxed) + static_cast<T>(delta),
                std::memory_order_relaxed);
}

// The library's hooks.
inline void request_finished(int status) noexcept {
  if (status >= 100 && status < 600) bump(shard().requests[status / 100 - 1], 1);
}
inline void websocket_message_in() noexcept { bump(shard().websocket_messages_in, 1); }
inline void websocket_message_out() noexcept { bump(shard().websocket_messages_out, 1); }
inline void hub_delivered(uint64_t n = 1) noexcept { bump(shard().hub_delivered, n); }
inline void hub_dropped(uint8_t policy, uint64_t n) noexcept {
  if (n > 0 && policy < kPolicyNames.size()) bump(shard().hub_dropped[policy], n);
}
inline void hub_disconnected() noexcept { bump(shard().hub_disconnected, 1); }

}  // namespace detail

inline OpenConnection::OpenConnection(Transport t) noexcept : transport_(t) {
  auto& s = detail::shard();
  detail::bump(s.open[static_cast<std::size_t>(t)], 1);
  detail::bump(s.opened[static_cast<std::size_t>(t)], 1);
}
// On the thread that closes it: usually the one that opened it (a connection stays on its
// loop); the sum over shards is right either way.
inline OpenConnection::~OpenConnection() {
  detail::bump(detail::shard().open[static_cast<std::size_t>(transport_)], -1);
}

}  // namespace tornado::metrics
