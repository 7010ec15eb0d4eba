// The process's counters (include/tornado/metrics.h): per-thread shards summed on read, and
// the named gauges and counters.
#include "tornado/metrics.h"

#include <deque>
#include <map>
#include <mutex>
#include <stdexcept>

namespace tornado::metrics {

namespace {

// Every shard ever made. A shard is never freed: when its thread exits it goes back to the
// free list and the next thread that counts takes it over, its figures included (they are
// process totals, so it does not matter which thread added them). The pool is thus as large
// as the most threads that counted at once.
struct Registry {
  std::mutex mutex;
  std::deque<detail::Shard> shards;
  std::vector<detail::Shard*> free;
  std::map<std::string, Gauge, std::less<>> gauges;
  std::map<std::string, Counter, std::less<>> counters;
};

Registry& registry() {
  static auto* r = new Registry;  // never destroyed: threads may count during exit
  return *r;
}

// Hands the thread's shard back when the thread exits.
struct ShardOwner {
  ~ShardOwner();
};
thread_local bool t_exiting = false;

detail::Shard* take_shard() {
  auto& r = registry();
  std::lock_guard lock(r.mutex);
  if (!r.free.empty()) {
    detail::Shard* s = r.free.back();
    r.free.pop_back();
    return s;
  }
  return &r.shards.emplace_back();
}

ShardOwner::~ShardOwner() {
  t_exiting = true;
  detail::Shard* s = detail::t_shard;
  if (!s) return;
  detail::t_shard = nullptr;
  auto& r = registry();
  std::lock_guard lock(r.mutex);
  r.free.push_back(s);
}

bool valid_name(std::string_view name) {
  if (name.empty()) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    if (!alpha && !(i > 0 && c >= '0' && c <= '9')) return false;
  }
  return true;
}

void check_name(std::string_view name) {
  if (!valid_name(name)) {
    throw std::invalid_argument("metrics: bad name '" + std::string(name) +
                                "' (letters, digits and _, not starting with a digit)");
  }
}

}  // namespace

namespace detail {

Shard& make_thread_shard() {
  Shard* s = take_shard();
  t_shard = s;
  // A thread counting while its thread_local objects are destroyed keeps the shard it takes
  // (constructing a thread_local then is not allowed): at most one per such thread.
  if (!t_exiting) {
    thread_local ShardOwner owner;
    (void)owner;
  }
  return *s;
}

}  // namespace detail

std::string_view transport_name(Transport t) noexcept {
  switch (t) {
    case Transport::kHttp:
      return "http";
    case Transport::kWebSocket:
      return "websocket";
    case Transport::kSse:
      return "sse";
  }
  return "?";
}

uint64_t Snapshot::requests_total() const noexcept {
  uint64_t n = 0;
  for (uint64_t r : requests) n += r;
  return n;
}

Snapshot snapshot() {
  Snapshot out;
  auto& r = registry();
  std::lock_guard lock(r.mutex);
  constexpr auto relaxed = std::memory_order_relaxed;
  for (const detail::Shard& s : r.shards) {
    for (std::size_t i = 0; i < out.requests.size(); ++i)
      out.requests[i] += s.requests[i].load(relaxed);
    for (std::size_t i = 0; i < kTransports; ++i) {
      out.open[i] += s.open[i].load(relaxed);
      out.opened[i] += s.opened[i].load(relaxed);
    }
    out.websocket_messages_in += s.websocket_messages_in.load(relaxed);
    out.websocket_messages_out += s.websocket_messages_out.load(relaxed);
  }
  for (const auto& [name, g] : r.gauges) out.gauges.emplace_back(name, g.value());
  for (const auto& [name, c] : r.counters) out.counters.emplace_back(name, c.value());
  return out;
}

Gauge& gauge(std::string_view name) {
  check_name(name);
  auto& r = registry();
  std::lock_guard lock(r.mutex);
  if (r.counters.contains(name)) {
    throw std::invalid_argument("metrics: '" + std::string(name) + "' is a counter");
  }
  auto it = r.gauges.find(name);
  if (it == r.gauges.end()) it = r.gauges.try_emplace(std::string(name)).first;
  return it->second;
}

Counter& counter(std::string_view name) {
  check_name(name);
  auto& r = registry();
  std::lock_guard lock(r.mutex);
  if (r.gauges.contains(name)) {
    throw std::invalid_argument("metrics: '" + std::string(name) + "' is a gauge");
  }
  auto it = r.counters.find(name);
  if (it == r.counters.end()) it = r.counters.try_emplace(std::string(name)).first;
  return it->second;
}

}  // namespace tornado::metrics
