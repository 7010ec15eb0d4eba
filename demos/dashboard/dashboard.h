// demos/dashboard — a live dashboard of the process's own figures, mountable in any
// Application (the chat mounts it at /dashboard):
//
//   std::vector<web::URLSpec> rules = {...your rules...};
//   for (auto& r : dashboard::routes("/dashboard")) rules.push_back(std::move(r));
//   dashboard::start_sampler();        // once per process, on a loop thread
//
// Every second the sampler reads real figures (requests/s by status class, open connections
// per transport and the application's named gauges from tornado/metrics.h, WebSocket
// messages/s, hub messages/s and drops from pubsub::Hub::totals(), RSS from /proc/self/statm,
// loop lag, CPU% from getrusage) and publishes them as one JSON object on a hub topic with
// the kConflate policy, keyed by the process id: a slow browser gets each process's latest
// sample, never a backlog. The topic keeps the last minute, so a page that opens draws it at
// once. With the hub on Redis (Hub::connect_redis), every process's samples reach every page.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

#include "tornado/ioloop.h"
#include "tornado/web.h"

namespace dashboard {

struct SamplerOptions {
  std::string topic = "dashboard";
  tornado::Duration interval = std::chrono::seconds(1);
  // Names this process in its samples and is the conflation key; "" gives "<host>:<pid>".
  std::string process_id;
  // The history a page draws when it opens: this long, from up to max_processes processes.
  tornado::Duration history = std::chrono::seconds(60);
  std::size_t max_processes = 32;
  // Unsent bytes per browser before the conflation policy drops its older samples.
  std::size_t max_pending_bytes = 64 * 1024;
};

// The page (prefix + "/"; prefix alone redirects there), its script and stylesheet (built
// into the binary, with ETags), the WebSocket (prefix + "/ws") and the event stream
// (prefix + "/events") that deliver the history then the live samples, and
// prefix + "/samples.json" (the history, for scripts and tests). `prefix` is a path without
// a trailing slash ("" mounts at the root); it is taken literally (regex characters are
// escaped). The topic is the one of start_sampler's options (default "dashboard").
std::vector<tornado::web::URLSpec> routes(std::string prefix = "/dashboard",
                                          std::string topic = "dashboard");

// Starts the process's sampler on the current loop (configuring its topic in
// pubsub::Hub::instance()). Returns false, doing nothing, when one already runs. The sampler
// ends with stop_sampler() or when its loop closes; while its loop is stopped it samples
// nothing (pages then see the samples stop and say so).
bool start_sampler(SamplerOptions options = {});
// Stops it (any thread); a later start_sampler starts a new one.
void stop_sampler();
bool sampler_running();

// The samples' loop lag is the worst over the loops the process watches with
// metrics::watch_loop() (the sampler watches its own; call it on each other loop thread).

// What one sample holds, for tests and for a /metrics-style reader: the JSON object the
// sampler publishes (see README.md for its fields).
nlohmann::json latest_sample();

}  // namespace dashboard
