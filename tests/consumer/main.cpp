// The install test's consumer: a small IOLoop program built against the installed tree.
// It exercises a coroutine, a timer, when_all, the executor and a logger, and exits 0 only
// if every result is right (so a broken install, link or runtime fails the test).
#include <tornado/ioloop.h>
#include <tornado/log.h>
#include <tornado/task.h>

#include <cstdio>
#include <tuple>

using namespace tornado;

Task<int> twice_after(Duration delay, int v) {
  co_await sleep(delay);
  co_return 2 * v;
}

int main() {
  IOLoop loop;
  int timer_runs = 0;
  loop.call_later(1ms, [&] { ++timer_runs; });
  auto [a, b, c] = loop.run_sync([]() -> Task<std::tuple<int, int, int>> {
    auto [x, y] = co_await when_all(twice_after(20ms, 1), twice_after(5ms, 20));
    int z = co_await IOLoop::current().run_in_executor([] { return 7; });
    co_return std::tuple{x, y, z};
  }, 5s);
  gen_log().info("consumer: {} {} {} timer_runs={}", a, b, c, timer_runs);
  if (a != 2 || b != 40 || c != 7 || timer_runs != 1) {
    std::fprintf(stderr, "consumer: wrong results\n");
    return 1;
  }
  std::printf("consumer: ok\n");
  return 0;
}
