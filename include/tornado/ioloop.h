// tornado/ioloop.h — the event loop (Tornado's `ioloop`).
//
// One IOLoop per thread: epoll (edge-triggered for fd handlers), a timer heap with
// O(log n) cancellation, a callback queue, and an eventfd so other threads can hand
// work in with add_callback(). Exceptions escaping callbacks are logged on
// tornado.application and never stop the loop.
//
//   IOLoop loop;                          // becomes current on this thread if none is
//   loop.call_later(1s, [&] { loop.stop(); });
//   loop.start();
//   int v = IOLoop::current().run_sync([]() -> Task<int> { co_return 7; });
//
// Thread rule: add_callback() and stop() may be called from any thread; everything
// else from the loop's thread only.
#pragma once

#include <sys/epoll.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>
#include <vector>

#include "tornado/task.h"

namespace tornado {

class IOLoop;

namespace detail {
// The loop's liveness token: its cross-thread queue, eventfd and "open" flag, shared with
// every LoopRef (see below). Defined in ioloop.cpp.
class LoopCore;
// Queues `cb` for the loop owning `core`, from any thread; dropped if that loop closed.
void post_to(const std::shared_ptr<LoopCore>& core, std::function<void()> cb);
}  // namespace detail

namespace detail {
class SignalWatcher;  // src/internal/signal_watcher.h
}  // namespace detail

// A weak reference to an IOLoop: what an object that may outlive its loop keeps instead of
// an IOLoop* (PeriodicCallback, lock and queue waiters, IOStream, accept handlers, the TCP
// connector). It is the loop's one liveness token: get() gives the loop until close() (or
// the destructor, which closes) and nullptr from then on, so a holder destroyed or used
// after its loop never touches freed memory. Copying is cheap (a shared_ptr).
class LoopRef {
 public:
  LoopRef() = default;
  // The loop while it is open, else nullptr (also for an empty ref). Call it on the loop's
  // thread (or while the loop is not running), like the loop's own methods.
  IOLoop* get() const noexcept;
  explicit operator bool() const noexcept { return get() != nullptr; }
  // Queues `cb` on the loop from any thread. Returns false, and drops `cb`, if the ref is
  // empty or the loop closed.
  bool add_callback(std::function<void()> cb) const;
  // True if this refers to `loop` (open or not).
  bool refers_to(const IOLoop& loop) const noexcept;

 private:
  friend class IOLoop;
  explicit LoopRef(std::shared_ptr<detail::LoopCore> core) : core_(std::move(core)) {}
  std::shared_ptr<detail::LoopCore> core_;
};

// Receives readiness events for one fd. Lower overhead than a std::function handler;
// what IOStream uses. The object must outlive its registration.
class FdHandler {
 public:
  virtual ~FdHandler() = default;
  virtual void on_events(int fd, uint32_t events) = 0;
  // For a handler that asked for it during on_events (IOLoop::finish_after_events): called
  // once every fd of the iteration had its events, first resume_after_events on each such
  // handler, then flush_after_events on each. IOStream resumes the coroutines its reads
  // completed, then sends what they wrote: an iteration's receives, then the work they
  // start, then its sends, so that the work runs between two system calls once for many
  // connections instead of once for each (docs/performance.md, "Reads, work, writes").
  virtual void resume_after_events() noexcept {}
  virtual void flush_after_events() noexcept {}
};

// Names a pending timer; safe to remove after it fired or was removed (then a no-op).
struct TimeoutHandle {
  uint32_t slot = UINT32_MAX;
  uint32_t generation = 0;
  explicit operator bool() const noexcept { return slot != UINT32_MAX; }
};

namespace detail {
// IOLoop::iteration_clock()'s reading, valid while an iteration runs on this thread (inline
// here so that code using it links without the loop, e.g. httputil in the fuzzers).
inline thread_local bool t_iteration_clock_valid = false;
inline thread_local std::chrono::steady_clock::time_point t_iteration_clock;

// Fairness for I/O awaits that complete at once (a write the kernel takes whole, a read the
// buffer already satisfies): how many more may complete without suspending before the
// coroutine must give the loop a turn. The loop refills it before each fd handler, callback
// and timer it runs (IOLoop::set_max_inline_completions); IOStream's awaiters take from it.
inline constexpr unsigned kDefaultMaxInlineCompletions = 32;
inline thread_local unsigned t_inline_budget = kDefaultMaxInlineCompletions;
// True, and one completion taken from the budget, if an I/O await whose result is ready may
// complete inline; false when the budget is spent: the awaiter then suspends and resumes
// from the loop's callback queue.
inline bool take_inline_completion() noexcept {
  if (t_inline_budget == 0) return false;
  --t_inline_budget;
  return true;
}
}  // namespace detail

class IOLoop {
 public:
  // Event bits, the same values as Tornado's (and epoll's).
  static constexpr uint32_t READ = EPOLLIN;               // 0x1
  static constexpr uint32_t WRITE = EPOLLOUT;             // 0x4
  static constexpr uint32_t ERROR = EPOLLERR | EPOLLHUP;  // 0x18

  using Callback = std::function<void()>;
  using Handler = std::function<void(int fd, uint32_t events)>;

  // Creates a loop; it becomes this thread's current loop if the thread has none
  // (or always, when make_current is true).
  explicit IOLoop(bool make_current = false);
  ~IOLoop();
  IOLoop(const IOLoop&) = delete;
  IOLoop& operator=(const IOLoop&) = delete;

  // The current thread's loop, created on first use if the thread has none.
  static IOLoop& current();
  // The current thread's loop or nullptr, without creating one.
  static IOLoop* current_or_null() noexcept;
  void make_current();
  // A weak reference to this loop, for objects that may outlive it (see LoopRef).
  LoopRef ref() const { return LoopRef(core_); }

  // Runs until stop(). Throws std::logic_error if already running or closed.
  void start();
  // Asks the loop to return from start() after the current iteration. Any thread.
  void stop();
  bool running() const noexcept { return running_; }
  // Releases the epoll fd and the eventfd; with all_fds, also closes every fd still
  // registered. Pending callbacks and timers are dropped. The loop cannot be used
  // afterwards; a second close is a no-op. Throws std::logic_error while running.
  void close(bool all_fds = false);
  bool closed() const noexcept { return epoll_fd_ < 0; }

  // Runs `fn()`'s task to completion on this loop (current while it runs) and returns its
  // result (or rethrows). `fn` is kept alive until its task ends. Throws std::logic_error
  // if the loop is running. With a timeout, the task is cancelled when the time is up
  // (CancelledError at its suspension point); the loop runs on until it has unwound (its
  // destructors have run) and TimeoutError is raised — unless it finished with a result
  // anyway, which is returned. A task that ignores the cancellation keeps run_sync waiting.
  template <typename F>
  auto run_sync(F&& fn, std::optional<Duration> timeout = std::nullopt);

  // ---- file descriptors (edge-triggered: a handler must read/write until EAGAIN) ----
  // Registers `handler` for `events` (READ|WRITE; ERROR is always reported).
  // Throws std::system_error if epoll refuses the fd.
  void add_handler(int fd, Handler handler, uint32_t events);
  void add_handler(int fd, FdHandler* handler, uint32_t events);
  void update_handler(int fd, uint32_t events);
  // Stops watching fd; a no-op if it is not registered. Does not close it.
  void remove_handler(int fd);
  // From `handler`'s on_events only: call its resume_after_events and flush_after_events
  // once every event of this iteration was dispatched (`keep` holds it alive till then).
  // False (and nothing done) outside the loop's dispatch of events.
  bool finish_after_events(FdHandler* handler, std::shared_ptr<void> keep);
  // Number of fds registered with add_handler (for tests and metrics; O(highest fd)).
  std::size_t handler_count() const noexcept;

  // ---- signals (a signalfd; see docs/ioloop.md "Signals") ----
  // Runs `callback` on this loop each time signal `signum` arrives (replacing an earlier
  // handler for it). A signalfd only sees blocked signals, so `signum` is blocked in the
  // calling thread; every other thread must have it blocked too, or the kernel may deliver
  // it there with its usual action: add handlers (or block the signals in main()) before
  // starting threads, which inherit the mask. The executor's pool threads block them all.
  // Throws std::invalid_argument for SIGKILL, SIGSTOP, an invalid number or an empty
  // callback; std::system_error if signalfd fails. Loop thread only.
  void add_signal_handler(int signum, Callback callback);
  // Stops handling `signum`: an instance not yet handled is discarded, and the thread's
  // mask for it is restored (close() does the same for all). False if none was set.
  bool remove_signal_handler(int signum);

  // ---- callbacks and timers ----
  // Runs `cb` on the next iteration. The only method safe from any thread (with stop).
  // On the thread running the loop it is a plain queue push; from any other thread (or
  // while the loop is not running) it goes through a mutex and wakes the loop. FIFO per
  // calling thread. Dropped once the loop closed.
  void add_callback(Callback cb);
  // Alias kept for Tornado users.
  void spawn_callback(Callback cb) { add_callback(std::move(cb)); }
  // Monotonic clock in seconds; the time base of call_at.
  double time() const noexcept;
  // The steady clock as read once when the current iteration's events arrived, on the
  // thread running a loop; a fresh reading anywhere else. For timestamps that need no
  // finer grain than one iteration (a request's start): one clock read per iteration.
  static std::chrono::steady_clock::time_point iteration_clock() noexcept {
    return detail::t_iteration_clock_valid ? detail::t_iteration_clock
                                           : std::chrono::steady_clock::now();
  }
  // Fairness: a coroutine resumed by this loop (from an fd handler, a callback or a timer)
  // may complete at most `n` I/O awaits without suspending (IOStream writes the kernel takes
  // at once, reads the buffer satisfies, and so WebSocket and HTTP writes); the next such
  // await suspends and resumes from the callback queue, after the I/O and timers of the
  // loop's other work. 0: every I/O await goes through the loop (asyncio's behaviour).
  // Default 32. Loop thread only.
  void set_max_inline_completions(unsigned n) noexcept;
  unsigned max_inline_completions() const noexcept { return max_inline_completions_; }

  // Throws std::invalid_argument for a NaN deadline.
  TimeoutHandle call_at(double when, Callback cb);
  TimeoutHandle call_later(Duration delay, Callback cb);
  // Same as call_at; Tornado's older name.
  TimeoutHandle add_timeout(double deadline, Callback cb) {
    return call_at(deadline, std::move(cb));
  }
  // Cancels a timer in O(1) (its callback is released at once; its heap entry is dropped
  // later, see docs/ioloop.md). Safe with a fired, removed or empty handle.
  void remove_timeout(TimeoutHandle h) noexcept;
  // Callbacks queued on this thread for the next iteration (those from other threads
  // waiting in the locked queue are not counted). For metrics; loop thread only.
  std::size_t pending_callbacks() const noexcept { return callbacks_.size(); }
  // Number of pending timers (for tests and metrics).
  std::size_t pending_timeouts() const noexcept { return heap_.size() - dead_timers_; }
  // Entries in the timer heap, removed timers not yet dropped included (for tests: it stays
  // under twice pending_timeouts() plus 1,024).
  std::size_t timer_heap_entries() const noexcept { return heap_.size(); }

  // Runs callback(future) on this loop once `future` is done (Tornado's add_future): at
  // the earliest on the iteration after the future's own callbacks. Dropped if this loop
  // is closed first. Exceptions from the callback are logged. Loop thread only.
  template <typename T>
  void add_future(const Future<T>& future, std::function<void(const Future<T>&)> callback) {
    future.add_done_callback([core = core_, cb = std::move(callback)](const Future<T>& f) {
      detail::post_to(core, [cb, f] { cb(f); });
    });
  }

  // ---- executors ----
  // Runs a job on some other thread; called from the loop's thread, must not block long.
  // A thread pool's submit, say: [pool](auto job) { pool->submit(std::move(job)); }.
  using Executor = std::function<void(std::function<void()> job)>;
  // Runs `fn` on `executor` (or, empty, this loop's default executor); its result or
  // exception arrives in the returned Future on this loop. An exception thrown by the
  // executor itself (refusing the job) propagates. Loop thread only.
  template <typename F>
  auto run_in_executor(const Executor& executor, F&& fn) -> Future<std::invoke_result_t<F>>;
  template <typename F>
  auto run_in_executor(F&& fn) -> Future<std::invoke_result_t<F>> {
    return run_in_executor(Executor(), std::forward<F>(fn));
  }
  // The executor run_in_executor uses when given none (Tornado's set_default_executor);
  // an empty one restores the built-in pool (min(32, cores + 4) threads). Loop thread only.
  void set_default_executor(Executor executor) { default_executor_ = std::move(executor); }

 private:
  struct HandlerEntry {
    FdHandler* target = nullptr;
    std::unique_ptr<FdHandler> owned;  // wraps a std::function handler
    uint32_t generation = 0;
    bool registered = false;
  };
  // A timer's identity. Its heap entry is live while `sequence` matches the entry's (a
  // sequence is never reused; a free slot has kFreeSlot). Sifting never touches slots.
  // The callbacks live apart (timer_callbacks_) and are touched once per timer.
  static constexpr uint64_t kFreeSlot = UINT64_MAX;
  struct TimerSlot {
    uint64_t sequence = kFreeSlot;
    uint32_t generation = 0;  // for handles: bumped when the timer fires or is removed
  };

  // True only on the thread inside start(). Only that thread ever stores its own id in
  // running_thread_ (and clears it before start() returns), so a thread can read its own id
  // there only while it runs the loop: the check is exact even with a relaxed load.
  bool on_loop_thread() const noexcept {
    return std::this_thread::get_id() == running_thread_.load(std::memory_order_relaxed);
  }
  void register_fd(int fd, FdHandler* target, std::unique_ptr<FdHandler> owned, uint32_t events);
  void run_once();
  void run_after_events() noexcept;
  int poll_timeout_ms();
  void run_due_timers();
  void run_callbacks();
  void drain_remote_callbacks();
  void invoke(Callback& cb) noexcept;
  void submit_to_executor(const Executor& executor, std::function<void()> job);

  // timer heap helpers
  struct HeapEntry {
    double deadline;
    uint64_t sequence;  // FIFO among equal deadlines
    uint32_t slot;
  };
  static bool timer_less(const HeapEntry& x, const HeapEntry& y) noexcept {
    return x.deadline < y.deadline || (x.deadline == y.deadline && x.sequence < y.sequence);
  }
  bool timer_live(const HeapEntry& e) const noexcept {
    return timer_slots_[e.slot].sequence == e.sequence;
  }
  void sift_up(uint32_t i) noexcept;
  void sift_down(uint32_t i) noexcept;
  void heap_pop() noexcept;
  void drop_dead_top() noexcept;   // pops removed timers off the top
  void compact_timers() noexcept;  // drops every removed timer's entry, re-heapifies
  void free_slot(uint32_t slot) noexcept;

  void destroy_detached_frames() noexcept;

  int epoll_fd_ = -1;
  detail::DetachedNode detached_;  // sentinel of the spawned frames living on this loop
  // The thread inside start(), or id{} when none is: add_callback's unlocked path is for it
  // alone. (Keying on the constructing thread let that thread race a loop run elsewhere.)
  std::atomic<std::thread::id> running_thread_;
  bool running_ = false;
  std::atomic<bool> stop_requested_{false};
  unsigned max_inline_completions_ = detail::kDefaultMaxInlineCompletions;

  std::vector<HandlerEntry> handlers_;  // indexed by fd
  // finish_after_events' handlers, in the order they asked, for this iteration.
  std::vector<std::pair<FdHandler*, std::shared_ptr<void>>> after_events_;
  bool dispatching_events_ = false;  // inside run_once's loop over the events
  std::vector<Callback> callbacks_;     // loop-thread queue
  std::vector<Callback> running_callbacks_;
  // Other threads' queue, the eventfd, and the liveness flag LoopRefs read.
  std::shared_ptr<detail::LoopCore> core_;

  Executor default_executor_;                       // empty: the built-in pool
  std::unique_ptr<detail::SignalWatcher> signals_;  // made by the first add_signal_handler

  std::vector<TimerSlot> timer_slots_;
  // Parallel to timer_slots_. A deque: growing it never moves (so never re-constructs) the
  // callbacks already stored, which was most of a cold million-timer start.
  std::deque<Callback> timer_callbacks_;
  std::vector<uint32_t> free_timer_slots_;
  // Binary min-heap on (deadline, sequence). The keys live in the heap itself, not in the
  // slots, so sifting compares neighbouring entries instead of chasing slot indices. (A
  // 4-ary heap measured no faster on the million-timer benchmark: docs/performance.md.)
  // Removed timers leave their entry behind (dead_timers_ of them) until it reaches the
  // top or they outnumber the live ones, when compact_timers() drops them all: removal
  // touches no heap memory, and the heap stays under twice the live timers (plus 1,024).
  std::vector<HeapEntry> heap_;
  std::size_t dead_timers_ = 0;
  uint64_t timer_sequence_ = 0;

  friend class PeriodicCallback;
  friend class LoopRef;
  friend void detail::link_detached(detail::DetachedNode*);
};

// Calls `callback` every `period` (start to start). With jitter j, each period is
// scaled by a random factor in [1 - j/2, 1 + j/2]. A run that overruns skips the
// ticks it missed instead of bunching them. A callback returning Task<> is awaited
// before the next run is scheduled. Loop thread only. It keeps a LoopRef, not the loop:
// it may be stopped or destroyed after its loop closed (its timer went with the loop).
class PeriodicCallback {
 public:
  PeriodicCallback(std::function<void()> callback, Duration period, double jitter = 0);
  PeriodicCallback(std::function<Task<>()> callback, Duration period, double jitter = 0);
  ~PeriodicCallback();
  PeriodicCallback(const PeriodicCallback&) = delete;
  PeriodicCallback& operator=(const PeriodicCallback&) = delete;

  void start();
  void stop();
  bool is_running() const noexcept { return running_; }

  // The next deadline after `current_time` on the grid (exposed for tests).
  void update_next(double current_time);
  double next_timeout() const noexcept { return next_timeout_; }

 private:
  void schedule_next();
  void run();

  // Shared with each run in flight: a coroutine callback's closure must outlive its frame
  // even if the PeriodicCallback is destroyed while the run is suspended.
  std::shared_ptr<const std::function<Task<>()>> callback_;
  double period_;
  double jitter_;
  LoopRef loop_;
  bool running_ = false;
  double next_timeout_ = 0;
  TimeoutHandle timeout_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

// ---- templates ----------------------------------------------------------------------

template <typename F>
auto IOLoop::run_sync(F&& fn, std::optional<Duration> timeout) {
  using TaskT = std::invoke_result_t<F>;
  using T = typename TaskT::value_type;
  // The task's first steps run inside spawn, before start(): make this loop current for
  // them too, or their timers and callbacks would land on another thread-current loop.
  struct Current {
    IOLoop* previous;
    ~Current() {
      if (previous) previous->make_current();
    }
  } current{current_or_null()};
  make_current();
  // A lambda coroutine's frame refers to its closure: keep the closure alive until the
  // task ends, which after a timeout may be long after run_sync (and its caller's
  // temporary) returned.
  auto callable = std::make_shared<std::decay_t<F>>(std::forward<F>(fn));
  // The deadline counts from here, before the task's first steps (as with_timeout's); a
  // NaN is refused before the task starts (call_at would refuse it with the task suspended).
  if (timeout && std::isnan(timeout->count())) {
    throw std::invalid_argument("run_sync: timeout is NaN");
  }
  const double deadline = timeout ? time() + timeout->count() : 0.0;
  auto fut = spawn((*callable)());
  // Shared with the callbacks below: a task still running when start() returned (the loop
  // was stopped by someone else) may finish during a later start(), and must not stop that
  // run (nor write to this returned frame).
  struct Waiting {
    bool active = true;
    bool timed_out = false;
  };
  auto waiting = std::make_shared<Waiting>();
  if (!fut.done()) {
    fut.add_done_callback([this, waiting, callable](const Future<T>&) {
      if (waiting->active) stop();
    });
    TimeoutHandle timer;
    if (timeout) {
      // The done-callback above stops the loop once the cancelled task has unwound.
      timer = call_at(deadline, [waiting, fut]() mutable {
        waiting->timed_out = true;
        fut.cancel();
      });
    }
    struct Disarm {
      IOLoop* loop;
      TimeoutHandle timer;
      Waiting* waiting;
      ~Disarm() {
        waiting->active = false;
        loop->remove_timeout(timer);
      }
    } disarm{this, timer, waiting.get()};
    start();
  }
  if (!fut.done() || (waiting->timed_out && fut.cancelled())) {
    if (waiting->timed_out) {
      throw TimeoutError("Operation timed out after " + std::to_string(timeout->count()) +
                         " seconds");
    }
    throw InvalidStateError("run_sync: loop stopped before the task finished");
  }
  if constexpr (std::is_void_v<T>) {
    fut.result();
  } else {
    return T(fut.result());
  }
}

template <typename F>
auto IOLoop::run_in_executor(const Executor& executor, F&& fn) -> Future<std::invoke_result_t<F>> {
  using R = std::invoke_result_t<F>;
  Future<R> fut;
  // The job holds the loop's core, not the loop: a loop closed meanwhile drops the result.
  submit_to_executor(executor, [remote = core_, fut, fn = std::forward<F>(fn)]() mutable {
    Callback deliver;
    try {
      if constexpr (std::is_void_v<R>) {
        fn();
        deliver = [fut = std::move(fut)]() mutable {
          if (!fut.done()) fut.set_result();  // done already if cancelled
        };
      } else {
        auto r = std::make_shared<R>(fn());
        deliver = [fut = std::move(fut), r]() mutable {
          if (!fut.done()) fut.set_result(std::move(*r));
        };
      }
    } catch (...) {
      deliver = [fut = std::move(fut), e = std::current_exception()]() mutable {
        if (!fut.done()) fut.set_exception(e);
      };
    }
    detail::post_to(remote, std::move(deliver));
  });
  return fut;
}

}  // namespace tornado
