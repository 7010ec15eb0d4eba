// metrics::watch_loop(): a timer on each watched loop that measures how late it fires (the
// loop's lag) and the callback queue's length, read by snapshot() from any thread.
#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>

#include "internal/metrics_loops.h"
#include "tornado/ioloop.h"

namespace tornado::metrics {

namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kProbePeriod = std::chrono::milliseconds(100);
// The lag reported is the worst of the last kWindow probes: one second.
constexpr std::size_t kWindow = 10;

// One loop's readings: written by its probe, read by snapshot().
struct LoopSlot {
  int id = 0;
  std::array<std::atomic<int64_t>, kWindow> lag_us{};
  std::atomic<uint64_t> callbacks{0};
};

struct Loops {
  std::mutex mutex;
  int next_id = 0;
  std::vector<std::weak_ptr<LoopSlot>> slots;
};

Loops& loops() {
  static auto* l = new Loops;  // never destroyed: a loop thread may probe during exit
  return *l;
}

// The loop this thread's probe watches and its slot (a loop watched twice keeps its first
// probe; the slot expires when that loop closes, so a new loop at the same address is new).
thread_local const IOLoop* t_watched = nullptr;
thread_local std::weak_ptr<void> t_watched_slot;

// Re-arms itself every kProbePeriod. It lives in its timer's closure: when the loop closes
// the pending timer is dropped, the probe with it, and its slot expires.
struct Probe : std::enable_shared_from_this<Probe> {
  explicit Probe(std::shared_ptr<LoopSlot> s) : slot(std::move(s)) {}
  void arm() {
    deadline = Clock::now() + kProbePeriod;
    IOLoop::current().call_later(Duration(kProbePeriod),
                                 [self = shared_from_this()] { self->fire(); });
  }
  void fire() {
    const auto late =
        std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - deadline).count();
    slot->lag_us[next % kWindow].store(std::max<int64_t>(late, 0), std::memory_order_relaxed);
    ++next;
    slot->callbacks.store(IOLoop::current().pending_callbacks(), std::memory_order_relaxed);
    arm();
  }
  std::shared_ptr<LoopSlot> slot;
  Clock::time_point deadline;
  std::size_t next = 0;
};

}  // namespace

void watch_loop() {
  IOLoop& loop = IOLoop::current();
  if (t_watched == &loop && !t_watched_slot.expired()) return;
  auto slot = std::make_shared<LoopSlot>();
  t_watched = &loop;
  t_watched_slot = slot;
  {
    auto& l = loops();
    std::lock_guard lock(l.mutex);
    std::erase_if(l.slots, [](const auto& w) { return w.expired(); });
    slot->id = l.next_id++;
    l.slots.push_back(slot);
  }
  std::make_shared<Probe>(std::move(slot))->arm();
}

namespace detail {

std::vector<LoopFigures> loop_figures() {
  std::vector<LoopFigures> out;
  auto& l = loops();
  std::lock_guard lock(l.mutex);
  for (const auto& w : l.slots) {
    auto slot = w.lock();
    if (!slot) continue;
    int64_t worst = 0;
    for (const auto& lag : slot->lag_us)
      worst = std::max(worst, lag.load(std::memory_order_relaxed));
    out.push_back({slot->id, static_cast<double>(worst) / 1e6,
                   static_cast<std::size_t>(slot->callbacks.load(std::memory_order_relaxed))});
  }
  return out;
}

}  // namespace detail

}  // namespace tornado::metrics
