// tornado/task.h — coroutines and futures (Tornado's `gen` and `concurrent`).
//
//   Task<T>    a lazy coroutine: nothing runs until it is awaited (or spawned).
//              Awaiting tasks costs no stack however they nest: a million sequential or
//              a million nested synchronous awaits run at constant depth (see Awaiter).
//   Future<T>  a shared, settable result: any number of awaiters and done-callbacks,
//              which run on the IOLoop one iteration after the result is set
//              (asyncio's call_soon semantics, so `notify()` never re-enters the caller).
//   spawn      starts a task now and returns its Future. A failure nobody retrieves is
//              logged on `tornado.application` when the last reference goes away.
//   cancel     Future::cancel() on a spawned task's Future raises CancelledError inside
//              the task at its suspension point (asyncio's Task.cancel()).
//   sleep, moment; with_timeout, when_all (alias multi), when_any, WaitIterator (gen.h).
//
//   Task<int> answer() { co_await sleep(10ms); co_return 42; }
//   Task<> main_task() {
//     auto [a, b] = co_await when_all(answer(), answer());
//     int c = co_await with_timeout(1s, answer());   // TimeoutError after 1 s (cancelled)
//     Future<int> f = spawn(answer());
//     f.cancel();                                    // answer() gets CancelledError
//   }
//
// Ownership: every coroutine owns its arguments. A Task may be stored and awaited later,
// so coroutines take their arguments by value (never a reference, string_view or pointer
// to a caller's temporary); member coroutines need their object alive until they finish.
//
// Frames: Task and spawn frames come from a small per-thread cache of freed frames
// (frame_alloc.h), not from malloc each time.
//
// Thread rule: Tasks and Futures belong to the thread of the IOLoop they run on. To hand
// a result from another thread, use IOLoop::add_callback (or run_in_executor).
#pragma once

#include <chrono>
#include <coroutine>
#include <cstddef>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>

#include "tornado/frame_alloc.h"
#include "tornado/hot.h"

namespace tornado {

using namespace std::chrono_literals;

// Relative time spans everywhere in the API: accepts 100ms, 2s, Duration(0.25).
using Duration = std::chrono::duration<double>;

// Raised by with_timeout, run_sync, locks and queues when a deadline passes.
class TimeoutError : public std::runtime_error {
 public:
  explicit TimeoutError(const std::string& what = "Timeout") : std::runtime_error(what) {}
};

// Misuse of a Future: result() before it is done, or set_result() twice.
class InvalidStateError : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

// Raised at the suspension point of a cancelled task (and by a cancelled Future).
// asyncio's CancelledError. A task may catch it and carry on; it is then not cancelled.
class CancelledError : public std::runtime_error {
 public:
  explicit CancelledError(const std::string& what = "Cancelled") : std::runtime_error(what) {}
};

template <typename T = void>
class Task;
template <typename T = void>
class Future;

namespace detail {

struct FutureAccess;

// Runs `fn` on the current thread's IOLoop at its next iteration (defined in ioloop.cpp).
void post(std::function<void()> fn);
// Logs an exception nobody retrieved (defined in task.cpp, on tornado.application).
void log_unretrieved(const std::exception_ptr& e, const char* context) noexcept;

template <typename T>
using Stored = std::conditional_t<std::is_void_v<T>, std::monostate, T>;

// ---- the driver: flat stacks for nested awaits ---------------------------------------
//
// Awaiting a task starts it inline (the common, cheap case) up to kMaxInlineDepth nested
// levels; deeper, the awaiting coroutine suspends and hands the task to the driver, a loop
// further down the stack that resumes one handle at a time. A task that completes after
// having suspended hands its awaiter to the driver the same way. No handle is ever
// returned from await_suspend, so nothing depends on the compiler making tail calls (GCC
// 12 does not at -O0/-O1 nor under ASan).
struct Driver {
  bool active = false;  // a driver loop is on this thread's stack
  unsigned depth = 0;   // tasks started inline above the innermost driver
};
inline thread_local Driver t_driver;
inline constexpr unsigned kMaxInlineDepth = 64;
// Resumes `h` and then every handle handed over meanwhile, until none is left.
void drive(std::coroutine_handle<> h) noexcept;
// Queues `h` for the innermost driver (one must be active).
void hand_to_driver(std::coroutine_handle<> h);

// A fresh driver context for code that must run to its first suspension before returning
// (spawn), whatever the depth of its caller.
struct DriverScope {
  Driver saved = t_driver;
  DriverScope() noexcept { t_driver = {}; }
  ~DriverScope() { t_driver = saved; }
  DriverScope(const DriverScope&) = delete;
  DriverScope& operator=(const DriverScope&) = delete;
};

// ---- cancellation --------------------------------------------------------------------
//
// Each spawned task has one CancelState, shared by every frame of its await chain. An
// awaiter that can be cancelled registers itself as the state's hook while suspended
// (two stores: the common path costs ~nothing). Cancelling calls the hook, which cancels
// what the task waits on and arranges its resumption with CancelledError. With no hook
// (running, or suspended somewhere that cannot be cancelled) the request waits for the
// next cancellable suspension; a task that finishes with a request pending ends cancelled.
struct CancelHook {
  // Cancels what the awaiter waits on. False if that can no longer be done (its result is
  // already on the way); true if done now or earlier.
  bool (*try_cancel)(CancelHook*);
};
struct CancelState {
  CancelHook* hook = nullptr;
  bool requested = false;
};
inline void request_cancel(CancelState& s) {
  if (s.hook && s.hook->try_cancel(s.hook)) return;
  s.requested = true;
}
// Promises that carry a task's CancelState (Task's and spawn's).
struct CancelScope {
  CancelState* cancel_state = nullptr;
};
template <typename P>
CancelState* cancel_state_of(std::coroutine_handle<P> h) noexcept {
  if constexpr (std::is_base_of_v<CancelScope, P>) {
    return h.promise().cancel_state;
  } else {
    return nullptr;
  }
}
// Base of cancellable awaiters: arm() in await_suspend, disarm() in await_resume and the
// destructor.
struct Cancellable : CancelHook {
  CancelState* scope = nullptr;
  explicit Cancellable(bool (*fn)(CancelHook*)) noexcept : CancelHook{fn} {}
  TORNADO_HOT void arm(CancelState* s) {
    if (!s) return;
    scope = s;
    s->hook = this;
    // A request made while the task was running is delivered at this suspension.
    if (s->requested && try_cancel(this)) s->requested = false;
  }
  void disarm() noexcept {
    if (scope && scope->hook == this) scope->hook = nullptr;
    scope = nullptr;
  }
  // Throws CancelledError if a request is pending (for awaiters that resume on their own).
  void deliver_pending() {
    if (scope && scope->requested) {
      scope->requested = false;
      disarm();
      throw CancelledError();
    }
    disarm();
  }
};

// ---- Task ---------------------------------------------------------------------------

struct TaskPromiseBase : CancelScope, PooledFrame {
  // Where the task is relative to its awaiter's await_suspend (see Task::Awaiter).
  enum class Run : unsigned char {
    kDetached,    // suspended once: whoever resumes it later must resume the awaiter
    kInline,      // started by the awaiter's await_suspend (or its driver), not finished
    kDoneInline,  // finished that way: the awaiter continues without suspending
  };
  std::coroutine_handle<> continuation = std::noop_coroutine();
  std::exception_ptr exception;
  Run run = Run::kDetached;

  std::suspend_always initial_suspend() noexcept { return {}; }
  struct FinalAwaiter {
    bool await_ready() noexcept { return false; }
    template <typename P>
    void await_suspend(std::coroutine_handle<P> h) noexcept {
      TaskPromiseBase& p = h.promise();
      if (p.run == Run::kInline) {
        // Back into the awaiter's await_suspend (or its driver), which carries on.
        p.run = Run::kDoneInline;
        return;
      }
      // Completed after suspending: the awaiter must be resumed. `h` may be destroyed as
      // soon as the awaiter runs, so nothing of it is touched after this point.
      std::coroutine_handle<> awaiter = p.continuation;
      if (t_driver.active) {
        hand_to_driver(awaiter);
      } else {
        drive(awaiter);
      }
    }
    void await_resume() noexcept {}
  };
  FinalAwaiter final_suspend() noexcept { return {}; }
  void unhandled_exception() noexcept { exception = std::current_exception(); }
};

template <typename T>
struct TaskPromise : TaskPromiseBase {
  std::optional<T> value;
  Task<T> get_return_object() noexcept;
  template <typename U>
  void return_value(U&& v) {
    value.emplace(std::forward<U>(v));
  }
  T take() {
    if (exception) std::rethrow_exception(exception);
    return std::move(*value);
  }
};

template <>
struct TaskPromise<void> : TaskPromiseBase {
  Task<void> get_return_object() noexcept;
  void return_void() noexcept {}
  void take() {
    if (exception) std::rethrow_exception(exception);
  }
};

}  // namespace detail

// A lazy coroutine returning T. Move-only; owns its frame. Await it exactly once.
template <typename T>
class [[nodiscard]] Task {
 public:
  using promise_type = detail::TaskPromise<T>;
  using value_type = T;

  Task() noexcept = default;
  explicit Task(std::coroutine_handle<promise_type> h) noexcept : handle_(h) {}
  Task(Task&& o) noexcept : handle_(std::exchange(o.handle_, {})) {}
  Task& operator=(Task&& o) noexcept {
    if (this != &o) {
      if (handle_) handle_.destroy();
      handle_ = std::exchange(o.handle_, {});
    }
    return *this;
  }
  Task(const Task&) = delete;
  Task& operator=(const Task&) = delete;
  ~Task() {
    if (handle_) handle_.destroy();
  }

  bool valid() const noexcept { return static_cast<bool>(handle_); }

  auto operator co_await() && noexcept { return Awaiter{handle_}; }
  auto operator co_await() & noexcept { return Awaiter{handle_}; }

 private:
  // The task starts inline here; if it finishes before suspending, final_suspend hands
  // control back and await_suspend returns false: the awaiter goes on in the same frame,
  // so sequential awaits never grow the stack. Nested awaits are inline up to
  // kMaxInlineDepth levels, then handed to the driver (see detail::Driver). A task that
  // suspends is marked detached; when it finishes later it hands its awaiter to a driver.
  struct Awaiter {
    std::coroutine_handle<promise_type> h;
    bool await_ready() const noexcept { return !h || h.done(); }
    template <typename P>
    bool await_suspend(std::coroutine_handle<P> awaiting) {
      using Run = detail::TaskPromiseBase::Run;
      auto& p = h.promise();
      p.continuation = awaiting;
      p.cancel_state = detail::cancel_state_of(awaiting);
      detail::Driver& d = detail::t_driver;
      if (!d.active) {
        p.run = Run::kInline;
        detail::drive(h);
      } else if (d.depth < detail::kMaxInlineDepth) {
        p.run = Run::kInline;
        ++d.depth;
        h.resume();
        --d.depth;
      } else {
        p.run = Run::kDetached;
        detail::hand_to_driver(h);
        return true;
      }
      if (p.run == Run::kDoneInline) return false;
      p.run = Run::kDetached;
      return true;
    }
    T await_resume() {
      if (!h) throw InvalidStateError("await of an empty Task");
      return h.promise().take();
    }
  };
  std::coroutine_handle<promise_type> handle_;
};

namespace detail {
template <typename T>
Task<T> TaskPromise<T>::get_return_object() noexcept {
  return Task<T>(std::coroutine_handle<TaskPromise<T>>::from_promise(*this));
}
inline Task<void> TaskPromise<void>::get_return_object() noexcept {
  return Task<void>(std::coroutine_handle<TaskPromise<void>>::from_promise(*this));
}

// ---- Future state -------------------------------------------------------------------

// A circular doubly linked list node whose list head (a sentinel) is a node too: what a
// Future's waiters and a loop's spawned frames are kept in. Intrusive, so linking never
// allocates and an entry can unlink itself in O(1) when its owner goes.
template <typename Entry>
struct ListNode {
  ListNode* prev = this;
  ListNode* next = this;

  ListNode() = default;
  ListNode(const ListNode&) = delete;
  ListNode& operator=(const ListNode&) = delete;
  bool linked() const noexcept { return next != this; }
  // The first entry after this head (the list must not be empty).
  Entry* front() const noexcept { return static_cast<Entry*>(next); }
  void unlink() noexcept {
    prev->next = next;
    next->prev = prev;
    prev = next = this;
  }
  void link_before(ListNode* head) noexcept {
    prev = head->prev;
    next = head;
    head->prev->next = this;
    head->prev = this;
  }
  void link_after(ListNode* head) noexcept {
    next = head->next;
    prev = head;
    head->next->prev = this;
    head->next = this;
  }
};

// One entry of a Future's waiter list: an awaiting coroutine (owned by its awaiter, in the
// coroutine frame) or a done-callback (owned by the state). An awaiter unlinks itself when
// its frame is destroyed (by IOLoop::close(), say), so a destroyed frame is never resumed.
struct FutureNode : ListNode<FutureNode> {
  void (*fire)(FutureNode*) = nullptr;  // runs the entry; a callback entry frees itself

  FutureNode() = default;
  explicit FutureNode(void (*f)(FutureNode*)) noexcept : fire(f) {}
};

// An awaiting coroutine's entry; unlinks itself when destroyed.
struct WaiterNode : FutureNode {
  std::coroutine_handle<> handle;
  WaiterNode() noexcept : FutureNode(&resume) {}
  ~WaiterNode() { unlink(); }
  static void resume(FutureNode* n) { static_cast<WaiterNode*>(n)->handle.resume(); }
};

// Entries never hold a reference to their own state (that would be a cycle that leaks a
// Future nobody completes); the state keeps itself alive once its entries are posted.
struct FutureStateBase : std::enable_shared_from_this<FutureStateBase> {
  bool done = false;
  bool retrieved = false;  // someone looked at the exception (or it had none)
  bool cancelled = false;  // the failure is a CancelledError from cancel()
  std::exception_ptr exception;
  FutureNode waiters;           // sentinel: awaiters and callbacks, in the order added
  CancelState* task = nullptr;  // the spawned task that completes this Future, if any
  // Run by cancel() just before it fails a Future that has no task: releases what would
  // have produced the result (sleep's timer).
  void (*on_cancel)(FutureStateBase*) noexcept = nullptr;

  FutureStateBase() = default;
  FutureStateBase(const FutureStateBase&) = delete;
  FutureStateBase& operator=(const FutureStateBase&) = delete;
  ~FutureStateBase();

  // Marks done and posts one loop callback that runs every entry (defined in task.cpp).
  void mark_done();
  // Runs `cb` on the loop once done (next iteration if already done).
  void add_callback(std::function<void()> cb);
  // Links an awaiter (the Future is not done).
  void add_waiter(WaiterNode* n) noexcept { n->link_before(&waiters); }
  // Fails the Future with CancelledError, or asks its task to cancel. False if done.
  bool cancel();
  // Completes with a CancelledError raised by the task (not logged as unretrieved).
  void finish_cancelled(std::exception_ptr e);
  // Runs the entries (the posted callback).
  void dispatch() noexcept;
};

template <typename T>
struct FutureState : FutureStateBase {
  std::optional<Stored<T>> value;
};

// Makes a Future on a state of a derived type (sleep's, which knows its timer).
struct FutureAccess {
  template <typename T>
  static Future<T> make(std::shared_ptr<FutureState<T>> state) {
    return Future<T>(std::move(state));
  }
};

}  // namespace detail

// A shared result, settable once. Copies refer to the same result.
template <typename T>
class Future {
 public:
  using value_type = T;

  Future() : state_(std::make_shared<detail::FutureState<T>>()) {}

  bool done() const noexcept { return state_->done; }
  // Done through cancel() (or its task ended with CancelledError).
  bool cancelled() const noexcept { return state_->cancelled; }

  // Sets the result and schedules awaiters and callbacks. Throws InvalidStateError if done
  // (which includes cancelled: a producer that may race with cancel() checks done()).
  template <typename U = detail::Stored<T>>
  void set_result(U&& v = {}) {
    if (state_->done) throw InvalidStateError("Future result already set");
    state_->value.emplace(std::forward<U>(v));
    state_->mark_done();
  }
  // Sets a failure. Throws InvalidStateError if done.
  void set_exception(std::exception_ptr e) {
    if (state_->done) throw InvalidStateError("Future result already set");
    state_->exception = std::move(e);
    state_->mark_done();
  }
  template <typename E>
  void set_exception(E e) {
    set_exception(std::make_exception_ptr(std::move(e)));
  }

  // asyncio's Future.cancel(). Returns false if already done (a no-op). For the Future of
  // a spawned task, asks the task to cancel: it gets CancelledError at its suspension
  // point and this Future completes with the task's outcome (normally CancelledError).
  // Otherwise fails the Future with CancelledError now. Loop thread only.
  bool cancel() { return state_->cancel(); }

  // The result; rethrows the failure. Throws InvalidStateError if not done.
  decltype(auto) result() const {
    if (!state_->done) throw InvalidStateError("Future result is not ready");
    state_->retrieved = true;
    if (state_->exception) std::rethrow_exception(state_->exception);
    if constexpr (!std::is_void_v<T>) return static_cast<const T&>(*state_->value);
  }
  // The failure, or null. Marks it retrieved. Throws InvalidStateError if not done.
  std::exception_ptr exception() const {
    if (!state_->done) throw InvalidStateError("Future exception is not ready");
    state_->retrieved = true;
    return state_->exception;
  }

  // Runs fn(future) on the loop once done (next iteration if already done).
  void add_done_callback(std::function<void(const Future&)> fn) const {
    // The state is alive when this runs (the posted dispatch holds it): a raw pointer here
    // avoids a state -> callback -> state cycle.
    state_->add_callback([state = state_.get(), fn = std::move(fn)] {
      fn(Future(std::static_pointer_cast<detail::FutureState<T>>(state->shared_from_this())));
    });
  }

  // Awaiting a Future: the value, or rethrows. Cancelling the awaiting task cancels this
  // Future (asyncio semantics; a Future shared with others is cancelled for them too).
  class Awaiter : detail::Cancellable {
   public:
    explicit Awaiter(Future f) noexcept : Cancellable(&cancel_awaited), fut_(std::move(f)) {}
    Awaiter(const Awaiter&) = delete;
    Awaiter& operator=(const Awaiter&) = delete;
    ~Awaiter() { disarm(); }  // node_ (declared last) unlinks before fut_ goes
    bool await_ready() const noexcept { return fut_.done(); }
    template <typename P>
    void await_suspend(std::coroutine_handle<P> h) {
      node_.handle = h;
      fut_.state_->add_waiter(&node_);
      arm(detail::cancel_state_of(h));
    }
    T await_resume() {
      disarm();
      if constexpr (std::is_void_v<T>) {
        fut_.result();
      } else {
        return fut_.result();
      }
    }

   private:
    static bool cancel_awaited(detail::CancelHook* hook) {
      auto* self = static_cast<Awaiter*>(hook);
      return self->fut_.cancelled() || self->fut_.cancel();
    }
    Future fut_;
    detail::WaiterNode node_;
  };
  Awaiter operator co_await() const noexcept { return Awaiter(*this); }

  // The type-erased state, for combinators.
  const std::shared_ptr<detail::FutureStateBase> base() const { return state_; }

 private:
  friend struct detail::FutureAccess;
  explicit Future(std::shared_ptr<detail::FutureState<T>> state) : state_(std::move(state)) {}
  std::shared_ptr<detail::FutureState<T>> state_;
};

namespace detail {

// Spawned frames are linked into their IOLoop's list, so that frames still suspended when
// the loop closes are destroyed with it (their locals' destructors run; they never resume)
// instead of leaking. Intrusive: no allocation per spawn.
struct DetachedNode : ListNode<DetachedNode> {
  std::coroutine_handle<> handle;
};
// Links `node` into the current IOLoop's list (defined in ioloop.cpp).
void link_detached(DetachedNode* node);

// A coroutine that starts at once and frees itself when done: the body of spawn(). Its
// promise holds the task's CancelState and lends it to the Future it completes.
struct Detached {
  struct promise_type : DetachedNode, CancelScope, PooledFrame {
    CancelState state;
    FutureStateBase* future = nullptr;  // alive while the frame is (a parameter holds it)
    template <typename T>
    promise_type(Task<T>&, Future<T>& fut) : future(fut.base().get()) {
      handle = std::coroutine_handle<promise_type>::from_promise(*this);
      cancel_state = &state;
      future->task = &state;
      link_detached(this);
    }
    ~promise_type() {
      future->task = nullptr;
      unlink();
    }
    Detached get_return_object() noexcept { return {}; }
    std::suspend_never initial_suspend() noexcept { return {}; }
    std::suspend_never final_suspend() noexcept { return {}; }
    void return_void() noexcept {}
    void unhandled_exception() noexcept { std::terminate(); }
  };
};

template <typename T>
Detached run_into(Task<T> task, Future<T> fut) {
  // A local, destroyed before the promise: a frame torn down by IOLoop::close() unwinds the
  // task (whose awaiters refer to the promise's CancelState) first.
  Task<T> body = std::move(task);
  const CancelState& cancel = *fut.base()->task;
  try {
    if constexpr (std::is_void_v<T>) {
      co_await std::move(body);
      if (cancel.requested) throw CancelledError();  // asyncio: cancelled right before the end
      fut.set_result();
    } else {
      auto value = co_await std::move(body);
      if (cancel.requested) throw CancelledError();
      fut.set_result(std::move(value));
    }
  } catch (const CancelledError&) {
    fut.base()->finish_cancelled(std::current_exception());
  } catch (...) {
    fut.set_exception(std::current_exception());
  }
}

// The body of spawn_detached: like run_into, with no Future to complete.
struct DetachedRoot {
  struct promise_type : DetachedNode, CancelScope, PooledFrame {
    CancelState state;
    template <typename... Args>
    explicit promise_type(Args&...) {
      handle = std::coroutine_handle<promise_type>::from_promise(*this);
      cancel_state = &state;
      link_detached(this);
    }
    ~promise_type() { unlink(); }
    DetachedRoot get_return_object() noexcept { return {}; }
    std::suspend_never initial_suspend() noexcept { return {}; }
    std::suspend_never final_suspend() noexcept { return {}; }
    void return_void() noexcept {}
    void unhandled_exception() noexcept { std::terminate(); }
  };
};

template <typename OnError>
DetachedRoot run_detached(Task<void> task, OnError on_error) {
  Task<void> body = std::move(task);  // destroyed before the promise, as in run_into
  try {
    co_await std::move(body);
  } catch (...) {
    try {
      on_error(std::current_exception());
    } catch (...) {
    }
  }
}

}  // namespace detail

// Starts `task` now, like spawn, with no Future: an exception that escapes it is passed to
// `on_error(std::exception_ptr)`. For a task per connection, where a Future would be an
// allocation nobody reads (an idle server connection is then one frame less). Loop thread
// only.
template <typename OnError>
void spawn_detached(Task<void> task, OnError on_error) {
  detail::DriverScope scope;
  detail::run_detached(std::move(task), std::move(on_error));
}

// Starts `task` now (it runs until its first suspension before spawn returns) and
// returns its Future; Future::cancel() cancels the task. Dropping the Future is fine: the
// task runs on, and a failure nobody retrieves is logged. Loop thread only.
template <typename T>
Future<T> spawn(Task<T> task) {
  Future<T> fut;
  detail::DriverScope scope;
  detail::run_into(std::move(task), fut);
  return fut;
}

// A Future that completes after `delay` on the current IOLoop. Cancelling it (or the task
// awaiting it) removes its timer from the loop at once.
Future<void> sleep(Duration delay);

// Yields to the IOLoop for one iteration (Tornado's gen.moment). A cancelled task gets
// CancelledError when it resumes.
struct moment {
  detail::CancelState* scope = nullptr;
  bool await_ready() const noexcept { return false; }
  template <typename P>
  void await_suspend(std::coroutine_handle<P> h) {
    scope = detail::cancel_state_of(h);
    detail::post([h] { h.resume(); });
  }
  void await_resume() const {
    if (scope && scope->requested) {
      scope->requested = false;
      throw CancelledError();
    }
  }
};

}  // namespace tornado

#include "tornado/gen.h"  // with_timeout, when_all/multi, when_any, WaitIterator
