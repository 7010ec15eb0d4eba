// tornado/locks.h — coroutine synchronization primitives (Tornado's `tornado.locks`).
//
//   Condition         wait(timeout) -> Future<bool> (true on notify, false on timeout),
//                     notify(n = 1), notify_all()
//   Event             is_set(), set(), clear(), wait(timeout) (TimeoutError on timeout)
//   Semaphore         acquire(timeout) -> awaitable yielding a Guard, FIFO; release()
//   BoundedSemaphore  a Semaphore whose release() above the initial value is an error
//   Lock              a BoundedSemaphore(1) with "release unlocked lock" on misuse
//
//   tornado::locks::Lock lock;
//   Task<> writer() {
//     auto guard = co_await lock.acquire();        // C++'s `async with lock:`
//     co_await stream.write(...);
//   }                                              // the guard releases here
//
//   tornado::locks::Condition cond;
//   Task<> waiter() { bool notified = co_await cond.wait(1s); }
//   void notifier() { cond.notify(); }              // the waiter resumes next iteration
//
// Timeouts are relative (`std::optional<Duration>`; nullopt waits forever). As in Tornado 6.6,
// a zero (or negative) timeout never waits: it returns at once if the primitive is available
// and fails at once otherwise. A waiter that timed out is never woken, served or counted
// later: notify(1) skips it and wakes the next live waiter. Timed-out waiters are dropped
// from the waiter deque lazily (when they reach the front, or in a sweep once more than 100
// have piled up and they are at least half of the deque), so every operation stays O(1)
// amortized.
//
// Results arrive through Futures, whose awaiters resume on the loop's next iteration, so
// notify()/set()/release() never run a waiter's code inside the caller.
//
// Thread rule: these are not thread-safe. Every method must be called on the thread of the
// IOLoop the waiters run on (use IOLoop::add_callback to reach it from another thread).
// An object must outlive the Guards it handed out; destroying a primitive with pending
// waiters leaves their Futures pending forever.
#pragma once

#include <coroutine>
#include <cstddef>
#include <deque>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

#include "tornado/ioloop.h"
#include "tornado/task.h"

namespace tornado::locks {

namespace detail {

// How many waiters may time out before the deque is swept (Tornado's threshold). A sweep
// also needs the timed-out waiters to be at least half of the deque, so its O(n) cost is
// always paid for by n/2 timeouts.
inline constexpr std::size_t kSweepAfterTimeouts = 100;

// One pending waiter: the Future we resolve, and the timer that fails it (if any).
template <typename T>
struct Waiter {
  explicit Waiter(Future<T> f) : future(std::move(f)) {}
  Future<T> future;
  LoopRef loop;  // the timer's loop; may close before the waiter is served
  TimeoutHandle timer;
};

// A FIFO of waiters that drops timed-out ones lazily. Entry is a Waiter<T> or derives from
// one. Always owned by a shared_ptr: timers hold a weak_ptr, so a primitive may be destroyed
// while its timers are still pending.
template <typename Entry>
class WaiterQueue : public std::enable_shared_from_this<WaiterQueue<Entry>> {
 public:
  using value_type = Entry;
  static std::shared_ptr<WaiterQueue> make() { return std::make_shared<WaiterQueue>(); }

  // Appends `entry`. With a timeout, arms a timer that calls expire(future) if the waiter
  // is still pending then; expire must make the future done (result or exception).
  template <typename Expire>
  void push(Entry entry, std::optional<Duration> timeout, Expire expire) {
    if (timeout) {
      IOLoop& loop = IOLoop::current();
      entry.loop = loop.ref();
      entry.timer = loop.call_later(
          *timeout, [fut = entry.future, weak = this->weak_from_this(), expire]() mutable {
            if (fut.done()) return;
            expire(fut);
            if (auto self = weak.lock()) self->note_expired();
          });
    }
    entries_.push_back(std::move(entry));
  }

  // The first waiter still pending (timed-out ones before it are dropped), or nullptr.
  Entry* front() {
    while (!entries_.empty() && entries_.front().future.done()) {
      if (expired_ > 0) --expired_;
      entries_.pop_front();
    }
    return entries_.empty() ? nullptr : &entries_.front();
  }

  // Removes the front waiter (call front() first) and cancels its timer.
  Entry pop() {
    Entry e = std::move(entries_.front());
    entries_.pop_front();
    if (e.timer) {
      if (IOLoop* loop = e.loop.get()) loop->remove_timeout(e.timer);
    }
    return e;
  }

  // Waiters held, including timed-out ones not yet dropped (Tornado's len(_waiters)).
  std::size_t size() const noexcept { return entries_.size(); }
  bool empty() const noexcept { return entries_.empty(); }

 private:
  void note_expired() {
    ++expired_;
    if (expired_ > kSweepAfterTimeouts && expired_ * 2 >= entries_.size()) {
      std::erase_if(entries_, [](const Entry& e) { return e.future.done(); });
      expired_ = 0;
    }
  }

  std::deque<Entry> entries_;
  std::size_t expired_ = 0;  // timeouts since the last sweep (a hint, not an exact count)
};

// True when a timeout asks not to wait at all (Tornado 6.6: zero returns or raises at once).
inline bool no_wait(const std::optional<Duration>& timeout) {
  return timeout && timeout->count() <= 0;
}

}  // namespace detail

// Lets coroutines wait until notified. Tornado's locks.Condition.
class Condition {
 public:
  Condition();
  Condition(const Condition&) = delete;
  Condition& operator=(const Condition&) = delete;

  // A Future that resolves to true when notified, or to false once `timeout` passes
  // (default: wait forever; zero or negative: false at once). Never throws.
  Future<bool> wait(std::optional<Duration> timeout = std::nullopt);
  // Wakes the `n` (default 1) oldest waiters that have not timed out.
  void notify(std::size_t n = 1);
  // Wakes every waiter that has not timed out.
  void notify_all();

  // Waiters held, including timed-out ones not dropped yet (for tests and metrics).
  std::size_t waiter_count() const noexcept { return waiters_->size(); }
  // "<Condition>" or "<Condition waiters[N]>", like Tornado's repr.
  std::string repr() const;

 private:
  using Queue = detail::WaiterQueue<detail::Waiter<bool>>;
  std::shared_ptr<Queue> waiters_;
};

// A flag coroutines can wait on; starts clear. Tornado's locks.Event.
class Event {
 public:
  Event();
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;

  bool is_set() const noexcept { return value_; }
  // Sets the flag and wakes every waiter. Setting a set event does nothing.
  void set();
  // Clears the flag; later wait() calls block until the next set().
  void clear() noexcept { value_ = false; }
  // A Future done once the flag is set (at once if it is). Fails with TimeoutError after
  // `timeout` (default: wait forever; zero or negative: fails at once unless set).
  Future<void> wait(std::optional<Duration> timeout = std::nullopt);

  // Waiters held, including timed-out ones not dropped yet.
  std::size_t waiter_count() const noexcept { return waiters_->size(); }
  // "<Event set>" or "<Event clear>".
  std::string repr() const;

 private:
  using Queue = detail::WaiterQueue<detail::Waiter<void>>;
  bool value_ = false;
  std::shared_ptr<Queue> waiters_;
};

class Semaphore;

// Owns one unit of a Semaphore (or a Lock) and releases it when destroyed: the C++ form
// of `async with sem:`. Move-only. Obtained with `auto guard = co_await sem.acquire();`.
// Note: a Guard that is not kept (`co_await sem.acquire();` as a statement) releases at
// the end of that statement; to keep the unit and release by hand, call detach().
class [[nodiscard]] Guard {
 public:
  Guard() noexcept = default;
  Guard(Guard&& o) noexcept : sem_(std::exchange(o.sem_, nullptr)) {}
  Guard& operator=(Guard&& o) noexcept;
  Guard(const Guard&) = delete;
  Guard& operator=(const Guard&) = delete;
  // Releases the unit if still owned. Never throws: a failing release (the unit was already
  // released by hand) is logged on tornado.application.
  ~Guard();

  // Releases now instead of at destruction; a no-op if the guard owns nothing. Throws
  // std::logic_error if the semaphore refuses (BoundedSemaphore/Lock over-release).
  void release();
  // Gives up ownership without releasing: the caller must call release() on the semaphore.
  void detach() noexcept { sem_ = nullptr; }
  bool owns() const noexcept { return sem_ != nullptr; }
  explicit operator bool() const noexcept { return owns(); }

 private:
  friend class Acquire;
  explicit Guard(Semaphore* sem) noexcept : sem_(sem) {}
  Semaphore* sem_ = nullptr;
};

// What Semaphore::acquire() and Lock::acquire() return: the acquisition is already queued
// (or done) when acquire() returns; `co_await` it to get the Guard. Awaiting rethrows
// TimeoutError if the timeout passed first. Move-only; await it at most once.
// An Acquire that completes but is never awaited keeps its unit (as an un-awaited acquire
// does in Tornado): release it by hand.
class [[nodiscard]] Acquire {
 public:
  Acquire(Acquire&&) noexcept = default;
  Acquire& operator=(Acquire&&) noexcept = default;
  Acquire(const Acquire&) = delete;
  Acquire& operator=(const Acquire&) = delete;

  // True once acquired or timed out.
  bool done() const noexcept { return future_.done(); }
  // The underlying Future (done when acquired; TimeoutError on timeout). Whoever uses it
  // instead of awaiting the Acquire takes on the release.
  const Future<void>& future() const noexcept { return future_; }

  auto operator co_await() & noexcept { return Awaiter{this}; }
  auto operator co_await() && noexcept { return Awaiter{this}; }

 private:
  friend class Semaphore;
  Acquire(Semaphore* sem, Future<void> future) : sem_(sem), future_(std::move(future)) {}

  struct Awaiter {
    Acquire* self;
    bool await_ready() const noexcept { return self->future_.done(); }
    void await_suspend(std::coroutine_handle<> h) const {
      self->future_.base()->add_callback([h] { h.resume(); });
    }
    Guard await_resume() const { return self->take_guard(); }
  };
  Guard take_guard();

  Semaphore* sem_;
  Future<void> future_;
  bool guard_taken_ = false;
};

// A counter: acquire() decrements it, waiting (FIFO) while it is zero; release()
// increments it and hands the unit to the oldest live waiter. Tornado's locks.Semaphore.
class Semaphore {
 public:
  // Throws std::invalid_argument if value < 0.
  explicit Semaphore(int value = 1);
  Semaphore(const Semaphore&) = delete;
  Semaphore& operator=(const Semaphore&) = delete;
  virtual ~Semaphore() = default;

  // Takes one unit: at once if available, else after the waiters queued before this one.
  // With a timeout (default: none; zero or negative: do not wait) the acquisition fails
  // with TimeoutError if the unit did not arrive in time, and never takes a unit later.
  Acquire acquire(std::optional<Duration> timeout = std::nullopt);
  // Takes one unit if available without waiting; no Guard (release by hand). Never throws.
  bool try_acquire() noexcept;
  // Returns one unit, waking the oldest live waiter if any. Unbounded semaphores allow any
  // number of releases. Throws std::logic_error on a BoundedSemaphore released above its
  // initial value ("Semaphore released too many times").
  void release();

  // Units available now.
  int value() const noexcept { return value_; }
  // Waiters held, including timed-out ones not dropped yet.
  std::size_t waiter_count() const noexcept { return waiters_->size(); }
  // "<Semaphore [unlocked,value:1]>", "<Semaphore [locked,waiters:2]>", like Tornado.
  std::string repr() const;

 protected:
  Semaphore(int value, int bound);
  virtual const char* type_name() const noexcept { return "Semaphore"; }

 private:
  using Queue = detail::WaiterQueue<detail::Waiter<void>>;
  int value_;
  int bound_;  // -1: unbounded
  std::shared_ptr<Queue> waiters_;
};

// A Semaphore that may not be released above its initial value. Tornado's
// locks.BoundedSemaphore.
class BoundedSemaphore : public Semaphore {
 public:
  // Throws std::invalid_argument if value < 0.
  explicit BoundedSemaphore(int value = 1) : Semaphore(value, value) {}

 protected:
  const char* type_name() const noexcept override { return "BoundedSemaphore"; }
};

// A mutual-exclusion lock for coroutines, handed out FIFO. Tornado's locks.Lock.
class Lock {
 public:
  Lock() = default;
  Lock(const Lock&) = delete;
  Lock& operator=(const Lock&) = delete;

  // Takes the lock: `auto guard = co_await lock.acquire();`. With a timeout (default: none;
  // zero or negative: do not wait) awaiting raises TimeoutError if the lock did not come.
  Acquire acquire(std::optional<Duration> timeout = std::nullopt) {
    return block_.acquire(timeout);
  }
  // Takes the lock if free, without waiting; release by hand. Never throws.
  bool try_acquire() noexcept { return block_.try_acquire(); }
  // Unlocks, handing the lock to the oldest live waiter. Throws std::logic_error
  // ("release unlocked lock") if the lock is not held.
  void release();
  bool locked() const noexcept { return block_.value() == 0; }
  std::size_t waiter_count() const noexcept { return block_.waiter_count(); }
  // "<Lock _block=<BoundedSemaphore [locked]>>".
  std::string repr() const;

 private:
  BoundedSemaphore block_{1};
};

}  // namespace tornado::locks
