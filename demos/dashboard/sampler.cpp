// The dashboard's sampler: once per interval, the process's figures as one JSON object
// published on the dashboard topic (kConflate, keyed by the process id).
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <cstdio>
#include <memory>
#include <mutex>

#include "dashboard.h"
#include "tornado/log.h"
#include "tornado/metrics.h"
#include "tornado/pubsub.h"

namespace dashboard {

using namespace tornado;
using Clock = std::chrono::steady_clock;

namespace {

struct Global {
  std::mutex mutex;
  uint64_t generation = 0;  // of the sampler running now; 0: none
  uint64_t last_generation = 0;
  nlohmann::json latest = nlohmann::json::object();
};

Global& global() {
  static auto* g = new Global;  // never destroyed: a loop thread may sample during exit
  return *g;
}

// The worst lag over the loops the process watches (metrics::watch_loop), last second, in ms.
double worst_lag_ms() {
  double worst = 0;
  for (const auto& loop : metrics::snapshot().loops) worst = std::max(worst, loop.lag_seconds);
  return worst * 1000.0;
}

std::string default_process_id() {
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0) std::snprintf(host, sizeof host, "host");
  return std::string(host) + ":" + std::to_string(::getpid());
}

int64_t cpu_microseconds() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  auto us = [](const timeval& t) { return int64_t{t.tv_sec} * 1000000 + t.tv_usec; };
  return us(u.ru_utime) + us(u.ru_stime);
}

double round2(double v) { return std::round(v * 100.0) / 100.0; }

class Sampler : public std::enable_shared_from_this<Sampler> {
 public:
  Sampler(SamplerOptions options, uint64_t generation)
      : options_(std::move(options)), generation_(generation) {}
  ~Sampler() {
    auto& g = global();
    std::lock_guard lock(g.mutex);
    if (g.generation == generation_) g.generation = 0;  // its loop closed under it
  }

  void start() {
    metrics::watch_loop();
    read_baseline();
    schedule();
  }

 private:
  bool current() {
    auto& g = global();
    std::lock_guard lock(g.mutex);
    return g.generation == generation_;
  }
  void schedule() {
    IOLoop::current().call_later(options_.interval, [self = shared_from_this()] { self->tick(); });
  }
  void read_baseline() {
    at_ = Clock::now();
    metrics_ = metrics::snapshot();
    hub_ = pubsub::Hub::instance().totals();
    cpu_us_ = cpu_microseconds();
  }

  void tick() {
    if (!current()) return;  // stopped: this closure was the last owner
    const auto before_at = at_;
    const auto before_metrics = metrics_;
    const auto before_hub = hub_;
    const int64_t before_cpu = cpu_us_;
    read_baseline();
    const double seconds = std::chrono::duration<double>(at_ - before_at).count();
    auto rate = [seconds](double delta) { return round2(seconds > 0 ? delta / seconds : 0); };

    nlohmann::json s;
    s["pid"] = options_.process_id;
    s["seq"] = ++seq_;
    s["t"] = std::chrono::duration_cast<std::chrono::milliseconds>(
                 std::chrono::system_clock::now().time_since_epoch())
                 .count();
    s["interval"] = round2(seconds);
    s["requests_per_s"] =
        rate(static_cast<double>(metrics_.requests_total() - before_metrics.requests_total()));
    s["requests_total"] = metrics_.requests_total();
    nlohmann::json status = nlohmann::json::object();
    for (std::size_t i = 0; i < metrics_.requests.size(); ++i) {
      status[std::to_string(i + 1) + "xx"] =
          rate(static_cast<double>(metrics_.requests[i] - before_metrics.requests[i]));
    }
    s["status_per_s"] = std::move(status);
    nlohmann::json connections = nlohmann::json::object();
    for (std::size_t i = 0; i < metrics::kTransports; ++i) {
      connections[std::string(metrics::transport_name(static_cast<metrics::Transport>(i)))] =
          metrics_.open[i];
    }
    for (const auto& [name, value] : metrics_.gauges) connections[name] = value;
    s["connections"] = std::move(connections);
    s["ws_in_per_s"] = rate(
        static_cast<double>(metrics_.websocket_messages_in - before_metrics.websocket_messages_in));
    s["ws_out_per_s"] = rate(static_cast<double>(metrics_.websocket_messages_out -
                                                 before_metrics.websocket_messages_out));
    s["hub_published_per_s"] = rate(static_cast<double>(hub_.published - before_hub.published));
    s["hub_dropped_per_s"] = rate(static_cast<double>(hub_.dropped - before_hub.dropped));
    s["hub_dropped_total"] = hub_.dropped;
    s["hub_disconnected_total"] = hub_.disconnected;
    s["hub_subscribers"] = hub_.subscribers;
    s["rss_bytes"] = metrics::process_figures().resident_bytes;
    s["loop_lag_ms"] = round2(worst_lag_ms());
    s["cpu_percent"] = round2(seconds > 0 ? (cpu_us_ - before_cpu) / 1e4 / seconds : 0);

    std::string text = s.dump();
    {
      auto& g = global();
      std::lock_guard lock(g.mutex);
      g.latest = std::move(s);
    }
    try {
      pubsub::Hub::instance().publish(options_.topic, text, false, options_.process_id);
    } catch (const std::exception& e) {
      app_log().error("dashboard: publishing a sample failed: {}", e.what());
    }
    schedule();
  }

  SamplerOptions options_;
  uint64_t generation_;
  uint64_t seq_ = 0;
  Clock::time_point at_;
  metrics::Snapshot metrics_;
  pubsub::TopicStats hub_;
  int64_t cpu_us_ = 0;
};

}  // namespace

bool start_sampler(SamplerOptions options) {
  if (options.interval <= Duration::zero()) {
    throw std::invalid_argument("dashboard: the sampler's interval must be positive");
  }
  if (options.max_processes == 0) throw std::invalid_argument("dashboard: max_processes is 0");
  if (options.process_id.empty()) options.process_id = default_process_id();
  uint64_t generation;
  {
    auto& g = global();
    std::lock_guard lock(g.mutex);
    if (g.generation != 0) return false;
    generation = g.generation = ++g.last_generation;
  }
  pubsub::TopicOptions topic;
  topic.slow_consumer = pubsub::SlowConsumerPolicy::kConflate;
  topic.max_pending_bytes = options.max_pending_bytes;
  const double per_second = 1.0 / std::chrono::duration<double>(options.interval).count();
  const double seconds = std::chrono::duration<double>(options.history).count();
  topic.history_size =
      static_cast<std::size_t>(std::ceil(seconds * per_second)) * options.max_processes;
  topic.history_ttl = options.history;
  pubsub::Hub::instance().configure(options.topic, topic);
  std::make_shared<Sampler>(std::move(options), generation)->start();
  return true;
}

void stop_sampler() {
  auto& g = global();
  std::lock_guard lock(g.mutex);
  g.generation = 0;
}

bool sampler_running() {
  auto& g = global();
  std::lock_guard lock(g.mutex);
  return g.generation != 0;
}

nlohmann::json latest_sample() {
  auto& g = global();
  std::lock_guard lock(g.mutex);
  return g.latest;
}

}  // namespace dashboard
