// metrics::prometheus_text(): a Snapshot in Prometheus's text exposition format 0.0.4, and
// the process figures (Linux /proc) a scrape reports beside it.
#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <charconv>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "tornado/metrics.h"

namespace tornado::metrics {

namespace {

void append_number(std::string& out, double v) {
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);  // shortest round trip
  out.append(buf, ec == std::errc() ? end : buf);
}
void append_number(std::string& out, uint64_t v) { out += std::to_string(v); }
void append_number(std::string& out, int64_t v) { out += std::to_string(v); }

// A label value: backslash, double quote and newline escaped, as the format requires.
void append_label_value(std::string& out, std::string_view v) {
  for (char c : v) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
}

void header(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
  out.append("# HELP ").append(name).append(" ").append(help).append("\n");
  out.append("# TYPE ").append(name).append(" ").append(type).append("\n");
}

// name{labels} value: `labels` is already formatted (`a="x",b="y"`) or empty.
template <typename V>
void sample(std::string& out, std::string_view name, std::string_view labels, V value) {
  out.append(name);
  if (!labels.empty()) out.append("{").append(labels).append("}");
  out += ' ';
  append_number(out, value);
  out += '\n';
}

// A family of one unlabelled sample.
template <typename V>
void single(std::string& out, std::string_view name, std::string_view type, std::string_view help,
            V value) {
  header(out, name, type, help);
  sample(out, name, "", value);
}

std::string label(std::string_view key, std::string_view value) {
  std::string out(key);
  out += "=\"";
  append_label_value(out, value);
  out += '"';
  return out;
}

void handlers(std::string& out, const Snapshot& s) {
  header(out, "tornado_http_requests_total", "counter",
         "Requests finished by a web::RequestHandler, by handler class and status code.");
  for (const auto& h : s.handlers) {
    for (const auto& [code, n] : h.by_status) {
      sample(out, "tornado_http_requests_total",
             label("handler", h.name) + "," + label("code", std::to_string(code)), n);
    }
  }
  header(out, "tornado_http_request_duration_seconds", "histogram",
         "Time from a request's first byte to its response's end, by handler class.");
  for (const auto& h : s.handlers) {
    const std::string handler = label("handler", h.name);
    uint64_t cumulative = 0;
    for (std::size_t i = 0; i < kLatencyBuckets; ++i) {
      cumulative += h.latency[i];
      std::string le;
      if (i < kLatencyBounds.size()) {
        append_number(le, kLatencyBounds[i]);
      } else {
        le = "+Inf";
      }
      sample(out, "tornado_http_request_duration_seconds_bucket", handler + "," + label("le", le),
             cumulative);
    }
    sample(out, "tornado_http_request_duration_seconds_sum", handler, h.latency_sum);
    sample(out, "tornado_http_request_duration_seconds_count", handler, cumulative);
  }
}

void connections(std::string& out, const Snapshot& s) {
  header(out, "tornado_connections_open", "gauge",
         "Server connections open now, by transport (http, websocket, sse).");
  for (std::size_t i = 0; i < kTransports; ++i) {
    sample(out, "tornado_connections_open",
           label("transport", transport_name(static_cast<Transport>(i))), s.open[i]);
  }
  header(out, "tornado_connections_opened_total", "counter",
         "Server connections accepted (an upgrade counts under its new transport).");
  for (std::size_t i = 0; i < kTransports; ++i) {
    sample(out, "tornado_connections_opened_total",
           label("transport", transport_name(static_cast<Transport>(i))), s.opened[i]);
  }
  single(out, "tornado_websocket_messages_received_total", "counter",
         "Whole WebSocket messages received.", s.websocket_messages_in);
  single(out, "tornado_websocket_messages_sent_total", "counter",
         "WebSocket messages sent (write_message and hub deliveries).", s.websocket_messages_out);
}

void hub(std::string& out, const Snapshot& s) {
  single(out, "tornado_hub_delivered_total", "counter",
         "Hub messages handed to a subscriber (sent, queued, or to a callback).", s.hub_delivered);
  header(out, "tornado_hub_dropped_total", "counter",
         "Hub messages a slow-consumer policy did not send, by policy.");
  for (std::size_t i = 0; i < kPolicyNames.size(); ++i) {
    sample(out, "tornado_hub_dropped_total", label("policy", kPolicyNames[i]), s.hub_dropped[i]);
  }
  single(out, "tornado_hub_disconnected_total", "counter",
         "Hub subscribers closed by the disconnect policy.", s.hub_disconnected);
  single(out, "tornado_redis_reconnects_total", "counter",
         "Times the hub's Redis connection was re-established after a loss.", s.redis_reconnects);
}

void loops(std::string& out, const Snapshot& s) {
  header(out, "tornado_ioloop_lag_seconds", "gauge",
         "How late a 100 ms timer fired on the loop, worst over the last second.");
  for (const auto& l : s.loops) {
    sample(out, "tornado_ioloop_lag_seconds", label("loop", std::to_string(l.id)), l.lag_seconds);
  }
  header(out, "tornado_ioloop_callbacks_queued", "gauge",
         "Callbacks queued for the loop's next iteration at its last probe.");
  for (const auto& l : s.loops) {
    sample(out, "tornado_ioloop_callbacks_queued", label("loop", std::to_string(l.id)),
           static_cast<uint64_t>(l.callbacks));
  }
}

void process(std::string& out, const ProcessFigures& p) {
  single(out, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.",
         p.resident_bytes);
  single(out, "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.",
         p.virtual_bytes);
  single(out, "process_cpu_seconds_total", "counter", "User and system CPU time in seconds.",
         p.cpu_seconds);
  single(out, "process_open_fds", "gauge", "Open file descriptors.", p.open_fds);
  single(out, "process_max_fds", "gauge", "The open file descriptor limit.", p.max_fds);
  single(out, "process_start_time_seconds", "gauge",
         "Start time of the process since the Unix epoch in seconds.", p.start_time_seconds);
}

void application(std::string& out, const Snapshot& s) {
  for (const auto& [name, v] : s.gauges) {
    header(out, name, "gauge", "An application gauge (metrics::gauge).");
    sample(out, name, "", v);
  }
  for (const auto& [name, v] : s.counters) {
    header(out, name, "counter", "An application counter (metrics::counter).");
    sample(out, name, "", v);
  }
}

// The process's start, in seconds since boot (field 22 of /proc/self/stat, in clock ticks).
double started_after_boot() {
  std::ifstream stat("/proc/self/stat");
  std::string line;
  if (!std::getline(stat, line)) return 0;
  // The command (field 2) may hold spaces and parentheses: count from the last ')'.
  const auto close = line.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream rest(line.substr(close + 2));
  std::string field;
  for (int i = 3; i <= 22 && rest >> field; ++i) {
    if (i == 22) return std::stod(field) / static_cast<double>(::sysconf(_SC_CLK_TCK));
  }
  return 0;
}

double boot_time() {
  std::ifstream stat("/proc/stat");
  std::string key;
  double value = 0;
  while (stat >> key) {
    if (key == "btime" && stat >> value) return value;
    stat.ignore(1 << 20, '\n');
  }
  return 0;
}

}  // namespace

ProcessFigures process_figures() {
  ProcessFigures p;
  const auto page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  if (std::FILE* f = std::fopen("/proc/self/statm", "r")) {
    unsigned long long size = 0, resident = 0;
    if (std::fscanf(f, "%llu %llu", &size, &resident) == 2) {
      p.virtual_bytes = size * page;
      p.resident_bytes = resident * page;
    }
    std::fclose(f);
  }
  rusage u{};
  if (::getrusage(RUSAGE_SELF, &u) == 0) {
    auto seconds = [](const timeval& t) { return double(t.tv_sec) + double(t.tv_usec) / 1e6; };
    p.cpu_seconds = seconds(u.ru_utime) + seconds(u.ru_stime);
  }
  if (DIR* d = ::opendir("/proc/self/fd")) {
    while (dirent* e = ::readdir(d)) {
      if (e->d_name[0] != '.') ++p.open_fds;
    }
    ::closedir(d);
    if (p.open_fds > 0) --p.open_fds;  // the directory's own descriptor
  }
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0) p.max_fds = limit.rlim_cur;
  try {
    const double boot = boot_time();
    if (boot > 0) p.start_time_seconds = boot + started_after_boot();
  } catch (...) {  // a malformed /proc line: the figure stays 0
  }
  return p;
}

std::string prometheus_text(const Snapshot& snapshot, const ProcessFigures& proc) {
  std::string out;
  out.reserve(4096 + 2048 * snapshot.handlers.size());
  handlers(out, snapshot);
  connections(out, snapshot);
  hub(out, snapshot);
  loops(out, snapshot);
  process(out, proc);
  application(out, snapshot);
  return out;
}

}  // namespace tornado::metrics
