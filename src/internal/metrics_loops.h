// The loops metrics::watch_loop() probes (src/metrics_loop.cpp), read by metrics::snapshot().
#pragma once

#include <vector>

#include "tornado/metrics.h"

namespace tornado::metrics::detail {

// The loops still running, in the order they were watched. Any thread.
std::vector<LoopFigures> loop_figures();

}  // namespace tornado::metrics::detail
