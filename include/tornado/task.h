// tornado/task.h — coroutines and futures (Tornado's `gen` and `concurrent`).
//
//   Task<T>    a lazy coroutine: nothing runs until it is awaited (or spawned).
//              Awaiting a task that completes synchronously costs no stack: the awaiter
//              runs it inline and carries on without suspending, so a loop of a million
//              awaits is fine at any optimisation level and under ASan (see Awaiter).
//   Future<T>  a shared, settable result: any number of awaiters and done-callbacks,
//              which run on the IOLoop one iteration after the result is set
//              (asyncio's call_soon semantics, so `notify()` never re-enters the caller).
//   spawn      starts a task now and returns its Future. A failure nobody retrieves is
//              logged on `tornado.application` when the last reference goes away.
//   sleep, moment, with_timeout, when_all (alias multi), when_any.
//
//   Task<int> answer() { co_await sleep(10ms); co_return 42; }
//   Task<> main_task() {
//     auto [a, b] = co_await when_all(answer(), answer());
//     int c = co_await with_timeout(1s, answer());   // TimeoutError after 1 s
//   }
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
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

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

template <typename T = void>
class Task;
template <typename T = void>
class Future;

namespace detail {

// Runs `fn` on the current thread's IOLoop at its next iteration (defined in ioloop.cpp).
void post(std::function<void()> fn);
// Logs an exception nobody retrieved (defined in task.cpp, on tornado.application).
void log_unretrieved(const std::exception_ptr& e, const char* context) noexcept;

template <typename T>
using Stored = std::conditional_t<std::is_void_v<T>, std::monostate, T>;

// ---- Task ---------------------------------------------------------------------------

struct TaskPromiseBase {
  // Where the task is relative to its awaiter's await_suspend (see Task::Awaiter).
  enum class Run : unsigned char {
    kDetached,      // suspended once: whoever resumes it later must resume the awaiter
    kInline,        // running inside the awaiter's await_suspend
    kDoneInline,    // finished inside await_suspend: the awaiter continues without suspending
  };
  std::coroutine_handle<> continuation = std::noop_coroutine();
  std::exception_ptr exception;
  Run run = Run::kDetached;

  std::suspend_always initial_suspend() noexcept { return {}; }
  struct FinalAwaiter {
    bool await_ready() noexcept { return false; }
    template <typename P>
    std::coroutine_handle<> await_suspend(std::coroutine_handle<P> h) noexcept {
      TaskPromiseBase& p = h.promise();
      if (p.run == Run::kInline) {
        // Return into the awaiter's await_suspend, which resumes nothing: no stack grows.
        p.run = Run::kDoneInline;
        return std::noop_coroutine();
      }
      return p.continuation;  // completed later, from the loop: resume the awaiter
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
  // Why not plain symmetric transfer (return h from await_suspend, and the continuation
  // from final_suspend)? It only keeps the stack flat if the compiler turns the resume
  // into a tail call. GCC 12 does so at -O2 but not at -O0/-O1 nor under ASan (its
  // redzones stop the sibling call), and a loop of a million synchronous awaits then
  // overflows the stack. So the task runs inline here; if it finishes before suspending,
  // final_suspend hands control back and await_suspend returns false: the awaiter goes
  // on in the same frame, every iteration on the same stack depth. If the task suspends,
  // it is marked detached and, when it finishes later, resumes the awaiter itself.
  struct Awaiter {
    std::coroutine_handle<promise_type> h;
    bool await_ready() const noexcept { return !h || h.done(); }
    bool await_suspend(std::coroutine_handle<> awaiting) noexcept {
      auto& p = h.promise();
      p.continuation = awaiting;
      p.run = detail::TaskPromiseBase::Run::kInline;
      h.resume();
      if (p.run == detail::TaskPromiseBase::Run::kDoneInline) return false;
      p.run = detail::TaskPromiseBase::Run::kDetached;
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

// Callbacks are stored without a reference to their own state (that would be a cycle that
// leaks a Future nobody completes); the state keeps itself alive only once they are posted.
struct FutureStateBase : std::enable_shared_from_this<FutureStateBase> {
  bool done = false;
  bool retrieved = false;  // someone looked at the exception (or it had none)
  std::exception_ptr exception;
  std::vector<std::function<void()>> callbacks;

  FutureStateBase() = default;
  FutureStateBase(const FutureStateBase&) = delete;
  FutureStateBase& operator=(const FutureStateBase&) = delete;
  ~FutureStateBase() {
    if (exception && !retrieved) log_unretrieved(exception, "Future exception was never retrieved");
  }
  void mark_done() {
    if (done) throw InvalidStateError("Future result already set");
    done = true;
    auto cbs = std::move(callbacks);
    callbacks.clear();
    for (auto& cb : cbs) post_holding_self(std::move(cb));
  }
  void add_callback(std::function<void()> cb) {
    if (done) {
      post_holding_self(std::move(cb));
    } else {
      callbacks.push_back(std::move(cb));
    }
  }

 private:
  void post_holding_self(std::function<void()> cb) {
    post([cb = std::move(cb), self = shared_from_this()] { cb(); });
  }
};

template <typename T>
struct FutureState : FutureStateBase {
  std::optional<Stored<T>> value;
};

}  // namespace detail

// A shared result, settable once. Copies refer to the same result.
template <typename T>
class Future {
 public:
  using value_type = T;

  Future() : state_(std::make_shared<detail::FutureState<T>>()) {}

  bool done() const noexcept { return state_->done; }

  // Sets the result and schedules awaiters and callbacks. Throws InvalidStateError if done.
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
    // The state is alive when this runs (the posted callback holds it): a raw pointer here
    // avoids a state -> callback -> state cycle.
    state_->add_callback([state = state_.get(), fn = std::move(fn)] {
      fn(Future(std::static_pointer_cast<detail::FutureState<T>>(state->shared_from_this())));
    });
  }

  auto operator co_await() const noexcept { return Awaiter{*this}; }

  // The type-erased state, for combinators.
  const std::shared_ptr<detail::FutureStateBase> base() const { return state_; }

 private:
  struct Awaiter {
    Future fut;
    bool await_ready() const noexcept { return fut.done(); }
    void await_suspend(std::coroutine_handle<> h) {
      fut.state_->add_callback([h] { h.resume(); });
    }
    T await_resume() const {
      if constexpr (std::is_void_v<T>) {
        fut.result();
      } else {
        return fut.result();
      }
    }
  };
  explicit Future(std::shared_ptr<detail::FutureState<T>> state) : state_(std::move(state)) {}
  std::shared_ptr<detail::FutureState<T>> state_;
};

namespace detail {

// Spawned frames are linked into their IOLoop's list, so that frames still suspended when
// the loop closes are destroyed with it (their locals' destructors run; they never resume)
// instead of leaking. Intrusive: no allocation per spawn.
struct DetachedNode {
  DetachedNode* prev = this;
  DetachedNode* next = this;
  std::coroutine_handle<> handle;

  DetachedNode() = default;
  DetachedNode(const DetachedNode&) = delete;
  DetachedNode& operator=(const DetachedNode&) = delete;
  void unlink() noexcept {
    prev->next = next;
    next->prev = prev;
    prev = next = this;
  }
  void link_after(DetachedNode* head) noexcept {
    next = head->next;
    prev = head;
    head->next->prev = this;
    head->next = this;
  }
};
// Links `node` into the current IOLoop's list (defined in ioloop.cpp).
void link_detached(DetachedNode* node);

// A coroutine that starts at once and frees itself when done: the body of spawn().
struct Detached {
  struct promise_type : DetachedNode {
    promise_type() {
      handle = std::coroutine_handle<promise_type>::from_promise(*this);
      link_detached(this);
    }
    ~promise_type() { unlink(); }
    Detached get_return_object() noexcept { return {}; }
    std::suspend_never initial_suspend() noexcept { return {}; }
    std::suspend_never final_suspend() noexcept { return {}; }
    void return_void() noexcept {}
    void unhandled_exception() noexcept { std::terminate(); }
  };
};

template <typename T>
Detached run_into(Task<T> task, Future<T> fut) {
  try {
    if constexpr (std::is_void_v<T>) {
      co_await std::move(task);
      fut.set_result();
    } else {
      fut.set_result(co_await std::move(task));
    }
  } catch (...) {
    fut.set_exception(std::current_exception());
  }
}

}  // namespace detail

// Starts `task` now (it runs until its first suspension before spawn returns) and
// returns its Future. Dropping the Future is fine: the task runs on, and a failure
// nobody retrieves is logged. Loop thread only.
template <typename T>
Future<T> spawn(Task<T> task) {
  Future<T> fut;
  detail::run_into(std::move(task), fut);
  return fut;
}

// A Future that completes after `delay` on the current IOLoop.
Future<void> sleep(Duration delay);

// Yields to the IOLoop for one iteration (Tornado's gen.moment).
struct moment {
  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> h) const {
    detail::post([h] { h.resume(); });
  }
  void await_resume() const noexcept {}
};

namespace detail {
// Completes when every state is done, or fails with the first failure in time;
// later failures are logged. Defined in task.cpp.
Future<void> wait_all(const std::vector<std::shared_ptr<FutureStateBase>>& states);
// Completes with the index of the first state to finish. Defined in task.cpp.
Future<std::size_t> wait_any(const std::vector<std::shared_ptr<FutureStateBase>>& states);
// Arms a timer that fails `waiter` with TimeoutError; returns a canceller.
std::function<void()> arm_timeout(Duration timeout, Future<void> waiter);

template <typename T>
Future<T> to_future(Task<T>&& t) {
  return spawn(std::move(t));
}
template <typename T>
Future<T> to_future(const Future<T>& f) {
  return f;
}
template <typename A>
struct awaitable_traits;
template <typename T>
struct awaitable_traits<Task<T>> {
  using type = T;
};
template <typename T>
struct awaitable_traits<Future<T>> {
  using type = T;
};
template <typename A>
using result_of_t = typename awaitable_traits<std::remove_cvref_t<A>>::type;

template <typename T>
Stored<T> stored_result(const Future<T>& f) {
  if constexpr (std::is_void_v<T>) {
    f.result();
    return {};
  } else {
    return f.result();
  }
}
}  // namespace detail

// Waits for `awaitable` (a Task or a Future) at most `timeout`; then raises TimeoutError.
// A task that times out keeps running to completion in the background (C++ cannot
// abandon a frame mid-flight safely); its later failure is logged, never lost.
template <typename A>
Task<detail::result_of_t<A>> with_timeout(Duration timeout, A&& awaitable) {
  using T = detail::result_of_t<A>;
  Future<T> fut = detail::to_future(std::forward<A>(awaitable));
  if (!fut.done()) {
    Future<void> waiter;
    auto cancel = detail::arm_timeout(timeout, waiter);
    fut.add_done_callback([waiter](const Future<T>&) mutable {
      if (!waiter.done()) waiter.set_result();
    });
    try {
      co_await waiter;
    } catch (...) {
      cancel();
      throw;
    }
    cancel();
  }
  co_return co_await fut;
}

// Runs every task concurrently and returns their results in order. The first failure
// (in time) is raised as soon as it happens; later failures are logged.
// Tornado's gen.multi.
template <typename T>
Task<std::conditional_t<std::is_void_v<T>, void, std::vector<T>>> when_all(
    std::vector<Task<T>> tasks) {
  std::vector<Future<T>> futs;
  std::vector<std::shared_ptr<detail::FutureStateBase>> states;
  futs.reserve(tasks.size());
  for (auto& t : tasks) {
    futs.push_back(spawn(std::move(t)));
    states.push_back(futs.back().base());
  }
  co_await detail::wait_all(states);
  if constexpr (std::is_void_v<T>) {
    co_return;
  } else {
    std::vector<T> out;
    out.reserve(futs.size());
    for (auto& f : futs) out.push_back(f.result());
    co_return out;
  }
}

// Tuple form: co_await when_all(task_a(), future_b, ...) -> std::tuple of results
// (void results become std::monostate).
template <typename... A>
  requires(sizeof...(A) > 1)
Task<std::tuple<detail::Stored<detail::result_of_t<A>>...>> when_all(A&&... awaitables) {
  // Braced initialisation evaluates left to right (function arguments, as in make_tuple,
  // need not): tasks start in argument order, as Tornado's multi starts them.
  std::tuple<Future<detail::result_of_t<A>>...> futs{
      detail::to_future(std::forward<A>(awaitables))...};
  std::vector<std::shared_ptr<detail::FutureStateBase>> states;
  std::apply([&](auto&... f) { (states.push_back(f.base()), ...); }, futs);
  co_await detail::wait_all(states);
  co_return std::apply([](auto&... f) { return std::make_tuple(detail::stored_result(f)...); },
                       futs);
}

template <typename... A>
auto multi(A&&... a) {
  return when_all(std::forward<A>(a)...);
}

// Runs every task concurrently and returns {index, result} of the first to finish
// (rethrowing if that one failed). The others run on in the background.
template <typename T>
Task<std::pair<std::size_t, detail::Stored<T>>> when_any(std::vector<Task<T>> tasks) {
  if (tasks.empty()) throw std::invalid_argument("when_any of no tasks");
  std::vector<Future<T>> futs;
  std::vector<std::shared_ptr<detail::FutureStateBase>> states;
  for (auto& t : tasks) {
    futs.push_back(spawn(std::move(t)));
    states.push_back(futs.back().base());
  }
  std::size_t i = co_await detail::wait_any(states);
  co_return std::pair<std::size_t, detail::Stored<T>>{i, detail::stored_result(futs[i])};
}

}  // namespace tornado
