// tornado/web/metrics_handler.h — the /metrics endpoint: the process's figures
// (metrics::snapshot(), metrics::process_figures()) in Prometheus's text format, part of web.h.
//
//   web::Application app({{"/metrics", web::handler<web::MetricsHandler>()}, ...});
//   metrics::watch_loop();  // on each loop thread, for the loop lag figures
//
// It answers anyone who can reach it: serve it on an internal address (a second Application
// listening on 127.0.0.1 or a private interface), or subclass it and refuse in prepare().
// Thread rule: loop thread only, like every handler.
#pragma once

#include "tornado/web/request_handler.h"

namespace tornado::web {

class MetricsHandler : public RequestHandler {
 public:
  // Content-Type: text/plain; version=0.0.4; charset=utf-8; never cached.
  Task<> get() override;
};

}  // namespace tornado::web
