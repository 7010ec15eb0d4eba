// Task / Future micro-benchmarks: the cost of awaiting a task that completes
// synchronously (the resume path), a Future set + await round trip through the loop,
// spawn, and one loop iteration via moment. Reporting only.
//
//   build-release/bench/task_bench --benchmark_repetitions=3 --benchmark_report_aggregates_only
#include <benchmark/benchmark.h>

#include "tornado/ioloop.h"
#include "tornado/task.h"

using namespace tornado;

namespace {

Task<int> immediate(int v) { co_return v; }
Task<int> nested(int v) { co_return co_await immediate(v) + 1; }

// The create-await-destroy cycle of a small task that completes without suspending: frame
// allocation, start, the inline completion, the result hand-back and the frame's release.
// Figure: ns per await.
void BM_TaskSyncAwait(benchmark::State& state) {
  IOLoop loop(true);
  long sum = loop.run_sync([&]() -> Task<long> {
    long s = 0;
    for (auto _ : state) s += co_await immediate(1);
    co_return s;
  });
  benchmark::DoNotOptimize(sum);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_TaskSyncAwait);

// A small task created and destroyed without running: the frame's allocation and release
// alone (the part a frame allocator changes). Figure: ns per create + destroy.
void BM_TaskCreateDestroy(benchmark::State& state) {
  for (auto _ : state) {
    Task<int> t = immediate(1);
    benchmark::DoNotOptimize(t);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_TaskCreateDestroy);

// A frame of ~600 bytes (a local buffer live across a suspension point), awaited: the
// create-await-destroy cycle of a larger task.
Task<int> with_buffer(int v) {
  char buf[512];
  buf[0] = static_cast<char>(v);
  benchmark::DoNotOptimize(buf);
  co_await immediate(v);
  co_return buf[0];
}
void BM_TaskSyncAwaitLargeFrame(benchmark::State& state) {
  IOLoop loop(true);
  long sum = loop.run_sync([&]() -> Task<long> {
    long s = 0;
    for (auto _ : state) s += co_await with_buffer(1);
    co_return s;
  });
  benchmark::DoNotOptimize(sum);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_TaskSyncAwaitLargeFrame);

// Two levels: one await that itself awaits (two frames per iteration).
void BM_TaskSyncAwaitNested(benchmark::State& state) {
  IOLoop loop(true);
  long sum = loop.run_sync([&]() -> Task<long> {
    long s = 0;
    for (auto _ : state) s += co_await nested(1);
    co_return s;
  });
  benchmark::DoNotOptimize(sum);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_TaskSyncAwaitNested);

// await of a Future that is already done: no suspension, no allocation.
void BM_FutureDoneAwait(benchmark::State& state) {
  IOLoop loop(true);
  Future<int> f;
  f.set_result(1);
  long sum = loop.run_sync([&]() -> Task<long> {
    long s = 0;
    for (auto _ : state) s += co_await f;
    co_return s;
  });
  benchmark::DoNotOptimize(sum);
}
BENCHMARK(BM_FutureDoneAwait);

// A coroutine awaits a pending Future; a loop callback sets it; the coroutine resumes on
// the next iteration. Figure: ns per set + await round trip (two loop iterations' work).
void BM_FutureSetAwaitRoundTrip(benchmark::State& state) {
  IOLoop loop(true);
  loop.run_sync([&]() -> Task<> {
    for (auto _ : state) {
      Future<int> f;
      loop.add_callback([f]() mutable { f.set_result(1); });
      benchmark::DoNotOptimize(co_await f);
    }
  });
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_FutureSetAwaitRoundTrip);

// co_await moment(): one trip through the loop.
void BM_Moment(benchmark::State& state) {
  IOLoop loop(true);
  loop.run_sync([&]() -> Task<> {
    for (auto _ : state) co_await moment();
  });
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Moment);

// spawn of a task that completes at once, Future dropped: task frame, spawn frame, state.
void BM_Spawn(benchmark::State& state) {
  IOLoop loop(true);
  for (auto _ : state) {
    Future<int> f = spawn(immediate(1));
    benchmark::DoNotOptimize(f.done());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Spawn);

}  // namespace

BENCHMARK_MAIN();
