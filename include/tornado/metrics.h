// tornado/metrics.h — process-wide counters of the server: HTTP requests finished (by status
// class), open connections per transport, WebSocket messages in and out, and named gauges and
// counters an application adds. What a dashboard samples and a /metrics endpoint exposes.
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
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
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
  // The named figures (gauge(), counter()), sorted by name.
  std::vector<std::pair<std::string, int64_t>> gauges;
  std::vector<std::pair<std::string, uint64_t>> counters;

  uint64_t requests_total() const noexcept;
  int64_t open_of(Transport t) const noexcept { return open[static_cast<std::size_t>(t)]; }
};

// The process's figures now. Any thread; takes a mutex (not on any request path).
Snapshot snapshot();

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
// a gauge or a counter, not both (std::invalid_argument).
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

// One thread's counters. Written only by its thread (a relaxed load and store: no locked
// instruction), read by snapshot() from any thread.
struct alignas(64) Shard {
  std::array<std::atomic<uint64_t>, 5> requests{};
  std::array<std::atomic<int64_t>, kTransports> open{};
  std::array<std::atomic<uint64_t>, kTransports> opened{};
  std::atomic<uint64_t> websocket_messages_in{0};
  std::atomic<uint64_t> websocket_messages_out{0};
};

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
