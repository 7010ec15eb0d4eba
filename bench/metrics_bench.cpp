// The cost of the library's request counting (metrics.h), per finished request: the status
// class, and the handler's status code and latency bucket with the clock read that times it.
// And a /metrics scrape (snapshot + Prometheus text) with 20 handler classes counted.
//
//   build-release/bench/metrics_bench --benchmark_repetitions=3 --benchmark_report_aggregates_only
#include <benchmark/benchmark.h>

#include <chrono>

#include "tornado/metrics.h"

using namespace tornado;

namespace {

template <int N>
struct Handler {};

// What RequestHandler::log_request adds to every request.
void BM_CountRequest(benchmark::State& state) {
  const int id = metrics::detail::handler_id(typeid(Handler<0>));
  const auto start = std::chrono::steady_clock::now();
  for (auto _ : state) {
    metrics::detail::request_finished(200);
    metrics::detail::count_handler_request(id, 200, std::chrono::steady_clock::now() - start);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_CountRequest);

// The status class alone (what was counted before the per-handler figures).
void BM_CountStatusClassOnly(benchmark::State& state) {
  for (auto _ : state) metrics::detail::request_finished(200);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_CountStatusClassOnly);

template <int... N>
void register_handlers(std::integer_sequence<int, N...>) {
  (metrics::detail::count_handler_request(metrics::detail::handler_id(typeid(Handler<N>)), 200,
                                          std::chrono::milliseconds(N)),
   ...);
}

void BM_Scrape(benchmark::State& state) {
  register_handlers(std::make_integer_sequence<int, 20>());
  std::size_t bytes = 0;
  for (auto _ : state) {
    auto text = metrics::prometheus_text(metrics::snapshot(), metrics::process_figures());
    bytes = text.size();
    benchmark::DoNotOptimize(text);
  }
  state.counters["bytes"] = static_cast<double>(bytes);
}
BENCHMARK(BM_Scrape);

}  // namespace

BENCHMARK_MAIN();
