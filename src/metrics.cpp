// The process's counters (include/tornado/metrics.h): per-thread shards summed on read, and
// the named gauges and counters.
#include "tornado/metrics.h"

#include <cxxabi.h>

#include <algorithm>
#include <cstdlib>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <stdexcept>
#include <typeindex>

#include "internal/metrics_loops.h"
#include "tornado/hot.h"

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
  // Handler classes by id; id 0 is "other" (past kMaxHandlers).
  std::vector<std::string> handler_names{"other"};
  std::map<std::type_index, int> handler_ids;
};

std::atomic<uint64_t> g_redis_reconnects{0};

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

// The families prometheus_text() writes itself: the tornado_ namespace, and the process
// figures (with process_cpu_seconds, that family's name once OpenMetrics drops _total). An
// application figure named so would declare a family twice in one scrape.
bool reserved_name(std::string_view name) {
  if (name.starts_with("tornado_")) return true;
  for (std::string_view own :
       {"process_resident_memory_bytes", "process_virtual_memory_bytes", "process_cpu_seconds",
        "process_cpu_seconds_total", "process_open_fds", "process_max_fds",
        "process_start_time_seconds"}) {
    if (name == own) return true;
  }
  return false;
}

void check_name(std::string_view name) {
  if (!valid_name(name)) {
    throw std::invalid_argument("metrics: bad name '" + std::string(name) +
                                "' (letters, digits and _, not starting with a digit)");
  }
  if (reserved_name(name)) {
    throw std::invalid_argument("metrics: '" + std::string(name) +
                                "' is one of the scrape's own families (tornado_* and the "
                                "process_* figures are reserved)");
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

// "chat::MessageNewHandler": the demangled name, without an anonymous namespace's prefix.
static std::string handler_name(const std::type_info& type) {
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> demangled(
      abi::__cxa_demangle(type.name(), nullptr, nullptr, &status), std::free);
  std::string name = status == 0 && demangled ? demangled.get() : type.name();
  for (std::string_view anon : {"(anonymous namespace)::", "{anonymous}::"}) {
    for (auto at = name.find(anon); at != std::string::npos; at = name.find(anon)) {
      name.erase(at, anon.size());
    }
  }
  return name;
}

int handler_id(const std::type_info& type) {
  auto& r = registry();
  std::lock_guard lock(r.mutex);
  auto it = r.handler_ids.find(type);
  if (it != r.handler_ids.end()) return it->second;
  int id = 0;
  if (r.handler_names.size() < kMaxHandlers) {
    id = static_cast<int>(r.handler_names.size());
    // Two classes may print alike (an anonymous-namespace MainHandler in two files): the
    // later one is "MainHandler#2", so that no two series of a scrape share their labels.
    std::string name = handler_name(type);
    const std::string base = name;
    for (int n = 2;
         std::find(r.handler_names.begin(), r.handler_names.end(), name) != r.handler_names.end();
         ++n) {
      name = base + "#" + std::to_string(n);
    }
    r.handler_names.push_back(std::move(name));
  }
  r.handler_ids.emplace(type, id);
  return id;
}

HandlerCounts& make_handler_counts(Shard& shard, int id) {
  auto* counts = new HandlerCounts;  // never freed: the shard outlives its thread
  shard.handlers[static_cast<std::size_t>(id)].store(counts, std::memory_order_release);
  return *counts;
}

TORNADO_HOT std::size_t latency_bucket(std::chrono::nanoseconds duration) noexcept {
  // The bounds in whole nanoseconds, searched from the smallest: most requests end in the
  // first bucket, after one integer compare (the search in seconds converted to a double and
  // bisected the table for every request).
  static constexpr auto kBoundsNs = [] {
    std::array<int64_t, kLatencyBounds.size()> ns{};
    for (std::size_t i = 0; i < ns.size(); ++i) {
      ns[i] = static_cast<int64_t>(kLatencyBounds[i] * 1e9 + 0.5);
    }
    return ns;
  }();
  static_assert(kBoundsNs.front() == 500'000 && kBoundsNs.back() == 10'000'000'000);
  const int64_t ns = duration.count();
  std::size_t bucket = 0;
  while (bucket < kBoundsNs.size() && ns > kBoundsNs[bucket]) ++bucket;
  return bucket;
}

namespace {
// count_handler_request's work on the thread's counters `s`.
[[gnu::always_inline]] inline void count_handler_in(Shard& s, int id, int status,
                                                    std::chrono::nanoseconds duration) noexcept {
  if (id < 0 || static_cast<std::size_t>(id) >= kMaxHandlers) id = 0;
  HandlerCounts* h = s.handlers[static_cast<std::size_t>(id)].load(std::memory_order_relaxed);
  if (h == nullptr) {
    try {
      h = &make_handler_counts(s, id);
    } catch (const std::bad_alloc&) {
      return;  // a figure lost, not the request
    }
  }
  if (status >= HandlerCounts::kFirstStatus &&
      status < HandlerCounts::kFirstStatus + HandlerCounts::kStatuses) {
    bump(h->by_status[static_cast<std::size_t>(status - HandlerCounts::kFirstStatus)], 1);
  }
  bump(h->latency[latency_bucket(duration)], 1);
  bump(h->latency_sum_ns, duration.count() > 0 ? duration.count() : 0);
}
}  // namespace

TORNADO_HOT void count_handler_request(int id, int status,
                                       std::chrono::nanoseconds duration) noexcept {
  count_handler_in(shard(), id, status, duration);
}

TORNADO_HOT void count_request(int id, int status, std::chrono::nanoseconds duration) noexcept {
  Shard& s = shard();
  if (status >= 100 && status < 600) {
    bump(s.requests[static_cast<std::size_t>(status / 100 - 1)], 1);  // (request_finished)
  }
  count_handler_in(s, id, status, duration);
}

void redis_reconnected() noexcept { g_redis_reconnects.fetch_add(1, std::memory_order_relaxed); }

}  // namespace detail

uint64_t HandlerFigures::count() const noexcept {
  uint64_t n = 0;
  for (uint64_t b : latency) n += b;
  return n;
}

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
    out.hub_delivered += s.hub_delivered.load(relaxed);
    for (std::size_t i = 0; i < out.hub_dropped.size(); ++i)
      out.hub_dropped[i] += s.hub_dropped[i].load(relaxed);
    out.hub_disconnected += s.hub_disconnected.load(relaxed);
  }
  out.redis_reconnects = g_redis_reconnects.load(relaxed);
  // By handler: the sum over every shard that has counts for it.
  for (std::size_t id = 0; id < r.handler_names.size(); ++id) {
    HandlerFigures f;
    f.name = r.handler_names[id];
    std::array<uint64_t, detail::HandlerCounts::kStatuses> by_status{};
    uint64_t sum_ns = 0;
    for (const detail::Shard& s : r.shards) {
      const detail::HandlerCounts* h = s.handlers[id].load(std::memory_order_acquire);
      if (h == nullptr) continue;
      for (std::size_t i = 0; i < by_status.size(); ++i)
        by_status[i] += h->by_status[i].load(relaxed);
      for (std::size_t i = 0; i < kLatencyBuckets; ++i) f.latency[i] += h->latency[i].load(relaxed);
      sum_ns += h->latency_sum_ns.load(relaxed);
    }
    if (f.count() == 0) continue;
    for (std::size_t i = 0; i < by_status.size(); ++i) {
      if (by_status[i] > 0) {
        f.by_status.emplace_back(static_cast<int>(i) + detail::HandlerCounts::kFirstStatus,
                                 by_status[i]);
      }
    }
    f.latency_sum = static_cast<double>(sum_ns) / 1e9;
    out.handlers.push_back(std::move(f));
  }
  std::sort(out.handlers.begin(), out.handlers.end(),
            [](const auto& a, const auto& b) { return a.name < b.name; });
  for (const auto& [name, g] : r.gauges) out.gauges.emplace_back(name, g.value());
  for (const auto& [name, c] : r.counters) out.counters.emplace_back(name, c.value());
  out.loops = detail::loop_figures();
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
