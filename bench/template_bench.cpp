// Template micro-benchmarks: rendering a Fortunes-shaped page (TechEmpower's: 12 rows from
// memory plus one added at request time, sorted by message, autoescaped), the same page
// built from a JSON value made per render (what a handler pays when it builds the values
// too), and parsing the template. Reporting only.
//
//   build-release/bench/template_bench --benchmark_repetitions=3 --benchmark_report_aggregates_only
#include <benchmark/benchmark.h>

#include <algorithm>

#include "tornado/template.h"

using nlohmann::json;
using namespace tornado::templates;

namespace {

const char* kFortunesTemplate =
    "<!DOCTYPE html>\n<html>\n<head><title>Fortunes</title></head>\n<body>\n<table>\n"
    "<tr><th>id</th><th>message</th></tr>\n"
    "{% for f in fortunes %}\n<tr><td>{{ f['id'] }}</td><td>{{ f['message'] }}</td></tr>\n{% end "
    "%}\n"
    "</table>\n</body>\n</html>\n";

json fortunes() {
  static const std::pair<int, const char*> kRows[] = {
      {1, "fortune: No such file or directory"},
      {2, "A computer scientist is someone who fixes things that aren't broken."},
      {3, "After enough decimal places, nobody gives a damn."},
      {4, "A bad random number generator: 1, 1, 1, 1, 1, 4.33e+67, 1, 1, 1"},
      {5, "A computer program does what you tell it to do, not what you want it to do."},
      {6, "Emacs is a nice operating system, but I prefer UNIX. — Tom Christaensen"},
      {7, "Any program that runs right is obsolete."},
      {8, "A list is only as strong as its weakest link. — Donald Knuth"},
      {9, "Feature: A bug with seniority."},
      {10, "Computers make very fast, very accurate mistakes."},
      {11, "<script>alert(\"This should not be displayed in a browser alert box.\");</script>"},
      {12, "フレームワークのベンチマーク"},
  };
  std::vector<std::pair<int, std::string>> rows(std::begin(kRows), std::end(kRows));
  rows.emplace_back(0, "Additional fortune added at request time.");
  std::sort(rows.begin(), rows.end(),
            [](const auto& a, const auto& b) { return a.second < b.second; });
  json list = json::array();
  for (const auto& [id, message] : rows) list.push_back({{"id", id}, {"message", message}});
  return {{"fortunes", std::move(list)}};
}

// Rendering only: the values exist already. Figure: ns per page.
void BM_TemplateFortunesRender(benchmark::State& state) {
  Template t(kFortunesTemplate, "fortunes.html");
  json values = fortunes();
  std::size_t bytes = 0;
  for (auto _ : state) {
    std::string page = t.generate(values);
    bytes += page.size();
    benchmark::DoNotOptimize(page);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(static_cast<std::int64_t>(bytes));
}
BENCHMARK(BM_TemplateFortunesRender);

// A request's whole template cost: the 13 rows built and sorted into a JSON value, then the
// render. Figure: ns per page.
void BM_TemplateFortunesBuildAndRender(benchmark::State& state) {
  Template t(kFortunesTemplate, "fortunes.html");
  for (auto _ : state) {
    std::string page = t.generate(fortunes());
    benchmark::DoNotOptimize(page);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_TemplateFortunesBuildAndRender);

// Parsing the template (what the Loader does once per name). Figure: ns per parse.
void BM_TemplateFortunesParse(benchmark::State& state) {
  for (auto _ : state) {
    Template t(kFortunesTemplate, "fortunes.html");
    benchmark::DoNotOptimize(t);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_TemplateFortunesParse);

}  // namespace

BENCHMARK_MAIN();
