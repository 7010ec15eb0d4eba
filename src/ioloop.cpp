#include "tornado/ioloop.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <ctime>
#include <stdexcept>
#include <system_error>

#include "internal/describe_exception.h"
#include "internal/open_loops.h"
#include "internal/signal_watcher.h"
#include "internal/thread_pool.h"
#include "internal/tsc_clock.h"
#include "tornado/hot.h"
#include "tornado/log.h"

namespace tornado {

namespace detail {

namespace {
// Loops constructed and not yet closed, in every thread (fork_processes refuses to fork
// while one is open: a forked copy of a loop shares its epoll set with the original).
std::atomic<int> g_open_loops{0};
}  // namespace

int open_loop_count() noexcept { return g_open_loops.load(std::memory_order_relaxed); }

// The loop's liveness token: other threads' callbacks with the eventfd that wakes the
// loop, and the loop's address until it closes. Shared with every LoopRef and executor
// job, so that a holder outliving the loop finds nullptr (or a closed queue that drops
// what it is given) instead of freed memory.
class LoopCore {
 public:
  explicit LoopCore(IOLoop* loop) : fd_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)), loop_(loop) {
    if (fd_ < 0) throw std::system_error(errno, std::generic_category(), "eventfd");
  }
  ~LoopCore() { ::close(fd_); }
  LoopCore(const LoopCore&) = delete;
  LoopCore& operator=(const LoopCore&) = delete;
  int fd() const noexcept { return fd_; }
  // Written and read on the loop's thread only (LoopRef::get's thread rule).
  IOLoop* loop() const noexcept { return loop_; }

  // Only the first push after a drain writes the eventfd: one syscall per wake-up, not per
  // callback. A push after close is dropped.
  void push(std::function<void()> cb) { push_if_open(cb); }
  void wake() noexcept {
    uint64_t one = 1;
    ssize_t n = ::write(fd_, &one, sizeof one);
    (void)n;  // EAGAIN means the counter is already non-zero: the loop wakes anyway
  }
  // Moves everything queued so far into `out` (loop thread).
  void drain_into(std::vector<std::function<void()>>& out) {
    uint64_t count;
    while (::read(fd_, &count, sizeof count) > 0) {
    }
    wake_pending_.store(false, std::memory_order_release);
    std::lock_guard lock(mutex_);
    for (auto& cb : pending_) out.push_back(std::move(cb));
    pending_.clear();
  }
  // The loop closed: refs report nullptr, and pushes are dropped from now on.
  void close() {
    loop_ = nullptr;
    std::vector<std::function<void()>> dropped;
    {
      std::lock_guard lock(mutex_);
      closed_ = true;
      dropped.swap(pending_);
    }
    // Destroyed outside the lock: a destructor may post again (and be dropped).
  }
  bool push_if_open(std::function<void()>& cb) {
    {
      std::lock_guard lock(mutex_);
      if (closed_) return false;
      pending_.push_back(std::move(cb));
    }
    if (!wake_pending_.exchange(true, std::memory_order_acq_rel)) wake();
    return true;
  }

 private:
  int fd_;
  IOLoop* loop_;
  std::mutex mutex_;
  std::vector<std::function<void()>> pending_;
  bool closed_ = false;
  std::atomic<bool> wake_pending_{false};
};

void post_to(const std::shared_ptr<LoopCore>& core, std::function<void()> cb) {
  core->push(std::move(cb));
}

void link_detached(DetachedNode* node) { node->link_after(&IOLoop::current().detached_); }

void post(std::function<void()> fn) { IOLoop::current().add_callback(std::move(fn)); }

}  // namespace detail

// ---- LoopRef ----------------------------------------------------------------------------

IOLoop* LoopRef::get() const noexcept { return core_ ? core_->loop() : nullptr; }

bool LoopRef::add_callback(std::function<void()> cb) const {
  return core_ && core_->push_if_open(cb);
}

bool LoopRef::refers_to(const IOLoop& loop) const noexcept { return core_ && core_ == loop.core_; }

namespace {

thread_local IOLoop* t_current = nullptr;
thread_local std::unique_ptr<IOLoop> t_owned;  // a loop made by IOLoop::current()

// Adapts a std::function handler to the FdHandler interface.
class FunctionHandler final : public FdHandler {
 public:
  explicit FunctionHandler(IOLoop::Handler fn) : fn_(std::move(fn)) {}
  void on_events(int fd, uint32_t events) override { fn_(fd, events); }

 private:
  IOLoop::Handler fn_;
};

constexpr int kMaxEvents = 1024;
// epoll's user data: the fd in the low half, its registration generation in the high
// half, so a stale event for a closed-and-reused fd within one batch is dropped.
uint64_t pack(int fd, uint32_t generation) {
  return (static_cast<uint64_t>(generation) << 32) | static_cast<uint32_t>(fd);
}

}  // namespace

IOLoop::IOLoop(bool make_current)
    : epoll_fd_(epoll_create1(EPOLL_CLOEXEC)), core_(std::make_shared<detail::LoopCore>(this)) {
  if (epoll_fd_ < 0) throw std::system_error(errno, std::generic_category(), "epoll_create1");
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = pack(core_->fd(), UINT32_MAX);
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, core_->fd(), &ev) < 0) {
    int err = errno;
    ::close(epoll_fd_);
    throw std::system_error(err, std::generic_category(), "epoll_ctl(eventfd)");
  }
  if (make_current || t_current == nullptr) t_current = this;
  detail::g_open_loops.fetch_add(1, std::memory_order_relaxed);
}

IOLoop::~IOLoop() {
  close();  // throws (so terminates) if the loop is destroyed while running: a caller bug
  if (t_current == this) t_current = nullptr;
}

IOLoop& IOLoop::current() {
  if (t_current == nullptr) {
    t_owned = std::make_unique<IOLoop>(true);
  }
  return *t_current;
}

IOLoop* IOLoop::current_or_null() noexcept { return t_current; }

void IOLoop::make_current() { t_current = this; }

void IOLoop::close(bool all_fds) {
  if (epoll_fd_ < 0) return;
  // Closing from inside a callback would free the callback being run (as asyncio, refuse).
  if (running_) throw std::logic_error("IOLoop::close: the loop is running; stop() it first");
  destroy_detached_frames();
  core_->close();  // from here on every LoopRef reports nullptr
  if (signals_) {
    remove_handler(signals_->fd());
    signals_.reset();  // closes the signalfd and restores the thread's signal mask
  }
  for (std::size_t fd = 0; fd < handlers_.size(); ++fd) {
    if (handlers_[fd].registered && all_fds) ::close(static_cast<int>(fd));
  }
  handlers_.clear();
  ::close(epoll_fd_);
  epoll_fd_ = -1;
  detail::g_open_loops.fetch_sub(1, std::memory_order_relaxed);
  // Destroying a pending callback may run destructors that call add_callback or
  // remove_timeout on this loop: empty the members first, destroy the moved-out copies last.
  auto callbacks = std::move(callbacks_);
  auto running = std::move(running_callbacks_);
  auto timer_callbacks = std::move(timer_callbacks_);
  callbacks_.clear();
  running_callbacks_.clear();
  timer_callbacks_.clear();
  timer_slots_.clear();
  heap_.clear();
  dead_timers_ = 0;
  free_timer_slots_.clear();
}

void IOLoop::destroy_detached_frames() noexcept {
  // Destroying a frame destroys its awaited Task chain; destructors may spawn again, so
  // take the first frame each time until none is left.
  while (detached_.linked()) {
    std::coroutine_handle<> first = detached_.front()->handle;
    first.destroy();  // the promise's destructor unlinks it
  }
}

// ---- file descriptors -----------------------------------------------------------------

void IOLoop::register_fd(int fd, FdHandler* target, std::unique_ptr<FdHandler> owned,
                         uint32_t events) {
  if (fd < 0) throw std::invalid_argument("add_handler: negative fd");
  if (static_cast<std::size_t>(fd) >= handlers_.size()) handlers_.resize(fd + 1);
  HandlerEntry& e = handlers_[fd];
  if (e.registered)
    throw std::logic_error("add_handler: fd " + std::to_string(fd) + " already registered");
  ++e.generation;
  if (e.generation == UINT32_MAX) e.generation = 0;  // UINT32_MAX marks the eventfd
  epoll_event ev{};
  ev.events = events | EPOLLET | EPOLLRDHUP;
  ev.data.u64 = pack(fd, e.generation);
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) < 0) {
    throw std::system_error(errno, std::generic_category(), "epoll_ctl(ADD)");
  }
  e.target = target;
  e.owned = std::move(owned);
  e.registered = true;
}

void IOLoop::add_handler(int fd, Handler handler, uint32_t events) {
  auto owned = std::make_unique<FunctionHandler>(std::move(handler));
  FdHandler* target = owned.get();
  register_fd(fd, target, std::move(owned), events);
}

void IOLoop::add_handler(int fd, FdHandler* handler, uint32_t events) {
  register_fd(fd, handler, nullptr, events);
}

void IOLoop::update_handler(int fd, uint32_t events) {
  if (fd < 0 || static_cast<std::size_t>(fd) >= handlers_.size() || !handlers_[fd].registered) {
    throw std::logic_error("update_handler: fd " + std::to_string(fd) + " is not registered");
  }
  epoll_event ev{};
  ev.events = events | EPOLLET | EPOLLRDHUP;
  ev.data.u64 = pack(fd, handlers_[fd].generation);
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd, &ev) < 0) {
    throw std::system_error(errno, std::generic_category(), "epoll_ctl(MOD)");
  }
}

std::size_t IOLoop::handler_count() const noexcept {
  std::size_t n = 0;
  for (const HandlerEntry& e : handlers_) n += e.registered ? 1 : 0;
  return n;
}

void IOLoop::remove_handler(int fd) {
  if (fd < 0 || static_cast<std::size_t>(fd) >= handlers_.size()) return;
  HandlerEntry& e = handlers_[fd];
  if (!e.registered) return;
  epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);  // fails harmlessly if fd was closed
  e.registered = false;
  e.target = nullptr;
  // A std::function handler may be removing itself: free it after this iteration (or
  // when the loop drops its callbacks on close, so it never leaks).
  if (e.owned) {
    callbacks_.push_back([owned = std::shared_ptr<FdHandler>(std::move(e.owned))] {});
  }
}

// ---- callbacks ------------------------------------------------------------------------

void IOLoop::add_callback(Callback cb) {
  if (on_loop_thread()) {
    callbacks_.push_back(std::move(cb));
  } else {
    core_->push(std::move(cb));
  }
}

void IOLoop::invoke(Callback& cb) noexcept {
  detail::t_inline_budget = max_inline_completions_;
  try {
    cb();
  } catch (...) {
    app_log().error("Exception in callback: {}",
                    detail::describe_exception(std::current_exception()));
  }
}

TORNADO_HOT void IOLoop::run_callbacks() {
  // Only what was queued before this point runs now; callbacks added while running wait
  // for the next iteration, so a callback that re-adds itself cannot starve I/O.
  running_callbacks_.swap(callbacks_);
  for (auto& cb : running_callbacks_) invoke(cb);
  running_callbacks_.clear();
}

void IOLoop::drain_remote_callbacks() { core_->drain_into(callbacks_); }

void IOLoop::set_max_inline_completions(unsigned n) noexcept {
  max_inline_completions_ = n;
  // Code this thread runs before the loop's next dispatch obeys the new limit too.
  if (on_loop_thread() || t_current == this) {
    detail::t_inline_budget = std::min(detail::t_inline_budget, n);
  }
}

// ---- timers ---------------------------------------------------------------------------

namespace {

// IOLoop::time(), inline in the loop's own steps (which read it twice an iteration): a
// call of the library's to one of its own exported functions is not inlined under -fPIC.
inline double monotonic_seconds() noexcept {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

}  // namespace

double IOLoop::time() const noexcept { return monotonic_seconds(); }

// Both sifts move a hole instead of swapping: one write per level, not three.
void IOLoop::sift_up(uint32_t i) noexcept {
  const HeapEntry e = heap_[i];
  while (i > 0) {
    uint32_t parent = (i - 1) / 2;
    if (!timer_less(e, heap_[parent])) break;
    heap_[i] = heap_[parent];
    i = parent;
  }
  heap_[i] = e;
}

void IOLoop::sift_down(uint32_t i) noexcept {
  const HeapEntry e = heap_[i];
  const uint32_t n = static_cast<uint32_t>(heap_.size());
  for (;;) {
    uint32_t child = 2 * i + 1;
    if (child >= n) break;
    if (child + 1 < n && timer_less(heap_[child + 1], heap_[child])) ++child;
    if (!timer_less(heap_[child], e)) break;
    heap_[i] = heap_[child];
    i = child;
  }
  heap_[i] = e;
}

void IOLoop::heap_pop() noexcept {
  heap_.front() = heap_.back();
  heap_.pop_back();
  if (!heap_.empty()) sift_down(0);
}

void IOLoop::drop_dead_top() noexcept {
  while (!heap_.empty() && !timer_live(heap_.front())) {
    heap_pop();
    --dead_timers_;
  }
}

void IOLoop::compact_timers() noexcept {
  std::erase_if(heap_, [this](const HeapEntry& e) { return !timer_live(e); });
  dead_timers_ = 0;
  // Floyd's heap construction: O(n).
  for (std::size_t i = heap_.size() / 2; i-- > 0;) sift_down(static_cast<uint32_t>(i));
}

void IOLoop::free_slot(uint32_t slot) noexcept {
  TimerSlot& s = timer_slots_[slot];
  timer_callbacks_[slot] = nullptr;  // a cancelled timer releases its captures at once
  s.sequence = kFreeSlot;            // its heap entry, if still there, is dead
  ++s.generation;                    // invalidates outstanding handles
  free_timer_slots_.push_back(slot);
}

TimeoutHandle IOLoop::call_at(double when, Callback cb) {
  // A NaN deadline would compare false both ways and corrupt the heap order.
  if (std::isnan(when)) throw std::invalid_argument("call_at: deadline is NaN");
  uint32_t slot;
  if (!free_timer_slots_.empty()) {
    slot = free_timer_slots_.back();
    free_timer_slots_.pop_back();
  } else {
    slot = static_cast<uint32_t>(timer_slots_.size());
    timer_slots_.emplace_back();
    timer_callbacks_.emplace_back();
  }
  TimerSlot& s = timer_slots_[slot];
  timer_callbacks_[slot] = std::move(cb);
  s.sequence = timer_sequence_++;
  heap_.push_back(HeapEntry{when, s.sequence, slot});
  sift_up(static_cast<uint32_t>(heap_.size() - 1));
  return TimeoutHandle{slot, s.generation};
}

TimeoutHandle IOLoop::call_later(Duration delay, Callback cb) {
  return call_at(time() + delay.count(), std::move(cb));
}

void IOLoop::remove_timeout(TimeoutHandle h) noexcept {
  if (!h || h.slot >= timer_slots_.size()) return;
  TimerSlot& s = timer_slots_[h.slot];
  if (s.generation != h.generation || s.sequence == kFreeSlot) return;
  free_slot(h.slot);
  ++dead_timers_;
  if (dead_timers_ == heap_.size()) {
    heap_.clear();  // all removed: nothing to look at
    dead_timers_ = 0;
  } else if (dead_timers_ > 1024 && dead_timers_ * 2 > heap_.size()) {
    compact_timers();
  }
}

TORNADO_HOT void IOLoop::run_due_timers() {
  if (heap_.empty()) return;
  const double now = monotonic_seconds();
  // Timers are taken from the heap one at a time, right before each runs, so a timer
  // due in this same iteration can still be cancelled by an earlier one (Tornado's
  // test_remove_timeout_from_timeout). Timers added while running wait for the next
  // iteration even if already due, so one that re-arms itself cannot starve I/O.
  const uint64_t limit = timer_sequence_;
  for (;;) {
    if (heap_.empty()) break;
    if (!timer_live(heap_.front())) {  // (no call while the top is live)
      drop_dead_top();
      if (heap_.empty()) break;
    }
    const HeapEntry& top = heap_.front();
    if (top.deadline > now || top.sequence >= limit) break;
    const uint32_t slot = top.slot;
    heap_pop();
    Callback cb = std::move(timer_callbacks_[slot]);
    free_slot(slot);  // before running: the callback may add timers (reusing the slot)
    invoke(cb);
  }
}

TORNADO_HOT int IOLoop::poll_timeout_ms() {
  if (!callbacks_.empty() || stop_requested_.load(std::memory_order_relaxed)) return 0;
  if (heap_.empty()) return -1;
  // A removed timer must not wake the loop (no call while the top is live).
  if (!timer_live(heap_.front())) {
    drop_dead_top();
    if (heap_.empty()) return -1;
  }
  double wait = heap_.front().deadline - monotonic_seconds();
  if (wait <= 0) return 0;
  // Round up so a timer is never polled for early and spun on.
  return static_cast<int>(std::min(std::ceil(wait * 1000.0), 3600.0 * 1000));
}

// ---- the loop -------------------------------------------------------------------------

TORNADO_HOT void IOLoop::run_once() {
  epoll_event events[kMaxEvents];
  int n = epoll_wait(epoll_fd_, events, kMaxEvents, poll_timeout_ms());
  if (n < 0) {
    if (errno == EINTR) return;
    throw std::system_error(errno, std::generic_category(), "epoll_wait");
  }
  detail::t_iteration_clock = std::chrono::steady_clock::now();
  detail::t_iteration_clock_valid = true;
  detail::tsc_clock_anchor(detail::t_iteration_clock);
  struct Invalidate {
    ~Invalidate() { detail::t_iteration_clock_valid = false; }
  } invalidate;
  dispatching_events_ = true;
  for (int i = 0; i < n; ++i) {
    const uint64_t data = events[i].data.u64;
    const int fd = static_cast<int>(static_cast<uint32_t>(data));
    const uint32_t generation = static_cast<uint32_t>(data >> 32);
    if (generation == UINT32_MAX) {
      drain_remote_callbacks();
      continue;
    }
    if (static_cast<std::size_t>(fd) >= handlers_.size()) continue;
    HandlerEntry& e = handlers_[fd];
    if (!e.registered || e.generation != generation) continue;  // stale: fd was reused
    uint32_t ev = events[i].events;
    if (ev & EPOLLRDHUP) ev |= EPOLLIN;  // peer closed: let the reader see EOF
    detail::t_inline_budget = max_inline_completions_;
    try {
      // EPOLLRDHUP is passed on (streams use it to know a FIN came with the data).
      e.target->on_events(fd, ev & (READ | WRITE | ERROR | EPOLLRDHUP));
    } catch (...) {
      app_log().error("Exception in I/O handler for fd {}: {}", fd,
                      detail::describe_exception(std::current_exception()));
    }
  }
  dispatching_events_ = false;
  if (!after_events_.empty()) run_after_events();
  // asyncio's order: callbacks queued before this iteration, then due timers. (An empty
  // queue, the usual case, costs no call.)
  if (!callbacks_.empty()) run_callbacks();
  run_due_timers();
}

TORNADO_HOT bool IOLoop::finish_after_events(FdHandler* handler, std::shared_ptr<void> keep) {
  if (!dispatching_events_) return false;
  after_events_.emplace_back(handler, std::move(keep));
  return true;
}

// Every handler's resumed work first, then every handler's writes: the sends of one
// iteration follow each other, as its receives did.
TORNADO_HOT void IOLoop::run_after_events() noexcept {
  // (Nothing joins the list meanwhile: finish_after_events refuses outside the dispatch.)
  for (auto& [handler, keep] : after_events_) {
    detail::t_inline_budget = max_inline_completions_;
    handler->resume_after_events();
  }
  for (auto& [handler, keep] : after_events_) handler->flush_after_events();
  after_events_.clear();
}

TORNADO_HOT void IOLoop::start() {
  if (closed()) throw std::logic_error("IOLoop is closed");
  if (running_) throw std::logic_error("IOLoop is already running");
  IOLoop* previous = t_current;
  t_current = this;
  running_thread_.store(std::this_thread::get_id(), std::memory_order_relaxed);
  running_ = true;
  struct Reset {
    IOLoop* self;
    IOLoop* previous;
    ~Reset() {
      self->running_thread_.store(std::thread::id(), std::memory_order_relaxed);
      self->running_ = false;
      self->stop_requested_.store(false);
      t_current = previous ? previous : self;
    }
  } reset{this, previous};
  // What was added while the loop was not running went through the locked queue: it runs
  // first, before anything this run adds.
  drain_remote_callbacks();
  while (!stop_requested_.load(std::memory_order_acquire)) run_once();
}

void IOLoop::stop() {
  stop_requested_.store(true, std::memory_order_release);
  if (!on_loop_thread()) core_->wake();
}

// ---- executor -------------------------------------------------------------------------

void IOLoop::submit_to_executor(const Executor& executor, std::function<void()> job) {
  if (executor) {
    executor(std::move(job));
  } else if (default_executor_) {
    default_executor_(std::move(job));
  } else {
    detail::ThreadPool::default_pool().submit(std::move(job));
  }
}

// ---- PeriodicCallback -----------------------------------------------------------------

PeriodicCallback::PeriodicCallback(std::function<void()> callback, Duration period, double jitter)
    : PeriodicCallback(std::function<Task<>()>([cb = std::move(callback)]() -> Task<> {
                         cb();
                         co_return;
                       }),
                       period, jitter) {}

PeriodicCallback::PeriodicCallback(std::function<Task<>()> callback, Duration period, double jitter)
    : callback_(std::make_shared<const std::function<Task<>()>>(std::move(callback))),
      period_(period.count()),
      jitter_(jitter) {
  if (!*callback_) throw std::invalid_argument("PeriodicCallback: empty callback");
  if (period_ <= 0) throw std::invalid_argument("PeriodicCallback: period must be positive");
}

PeriodicCallback::~PeriodicCallback() {
  stop();
  *alive_ = false;
}

void PeriodicCallback::start() {
  if (running_) return;
  IOLoop& loop = IOLoop::current();
  loop_ = loop.ref();
  running_ = true;
  next_timeout_ = loop.time();
  schedule_next();
}

void PeriodicCallback::stop() {
  running_ = false;
  // The loop may be gone (a fixture member destroyed after its loop): then so is the timer.
  if (IOLoop* loop = loop_.get()) loop->remove_timeout(timeout_);
  timeout_ = {};
}

void PeriodicCallback::update_next(double current_time) {
  double period = period_;
  if (jitter_ != 0) {
    // Uniform in [1 - jitter/2, 1 + jitter/2), from a per-thread generator.
    thread_local uint64_t state = 0x9E3779B97F4A7C15ull ^ static_cast<uint64_t>(::getpid());
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    double unit = static_cast<double>(state >> 11) * (1.0 / 9007199254740992.0);
    period *= 1 + jitter_ * (unit - 0.5);
  }
  if (next_timeout_ <= current_time) {
    // Skip every tick we missed and land on the next one of the grid.
    next_timeout_ += (std::floor((current_time - next_timeout_) / period) + 1) * period;
  } else {
    // The clock went backwards (or the run was early): one period from the old deadline
    // is in the future already.
    next_timeout_ += period;
  }
}

void PeriodicCallback::schedule_next() {
  if (!running_) return;
  IOLoop* loop = loop_.get();
  if (!loop) {
    running_ = false;  // the loop closed: nothing can run any more
    return;
  }
  update_next(loop->time());
  timeout_ = loop->call_at(next_timeout_, [this] { run(); });
}

void PeriodicCallback::run() {
  timeout_ = {};
  if (!running_) return;
  auto alive = alive_;
  auto callback = callback_;
  Future<void> done;
  try {
    done = spawn((*callback)());
  } catch (...) {
    // A Task-returning callback can throw before its coroutine starts; Tornado logs and
    // keeps the schedule, so do we.
    app_log().error("Exception in PeriodicCallback: {}",
                    detail::describe_exception(std::current_exception()));
    schedule_next();
    return;
  }
  done.add_done_callback([this, alive, callback](const Future<void>& f) {
    if (auto e = f.exception()) {
      app_log().error("Exception in PeriodicCallback: {}", detail::describe_exception(e));
    }
    // A stop() + start() inside the callback has already scheduled the next run.
    if (*alive && !timeout_) schedule_next();
  });
}

}  // namespace tornado
