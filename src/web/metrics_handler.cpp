// web::MetricsHandler: metrics::prometheus_text() of the figures now.
#include "tornado/web/metrics_handler.h"

#include "tornado/metrics.h"

namespace tornado::web {

Task<> MetricsHandler::get() {
  set_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
  set_header("Cache-Control", "no-cache");
  write(metrics::prometheus_text(metrics::snapshot(), metrics::process_figures()));
  co_return;
}

}  // namespace tornado::web
