// tornado/gen.h — combinators over Tasks and Futures (Tornado's `gen`). Included by
// tornado/task.h; include that.
//
//   with_timeout(d, x)      x's result, or TimeoutError after d (a Task x is cancelled)
//   when_all(v) / multi     every result, in order; when_all(a, b, ...) gives a tuple
//   when_any(v)             {index, result} of the first to finish
//   WaitIterator            results in the order they finish (Tornado's gen.WaitIterator)
//
// Every combinator owns its arguments (by value): the Task it returns may be stored and
// awaited later. Cancelling a combinator's task cancels the children it started.
#pragma once

#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "tornado/task.h"

namespace tornado {

namespace detail {
// Completes when every state is done, or fails with the first failure in time;
// later failures are logged. Defined in task.cpp.
Future<void> wait_all(const std::vector<std::shared_ptr<FutureStateBase>>& states);
// Completes with the index of the first state to finish. Defined in task.cpp.
Future<std::size_t> wait_any(const std::vector<std::shared_ptr<FutureStateBase>>& states);
// Completes (never fails) once `state` is done.
Future<void> settled(const std::shared_ptr<FutureStateBase>& state);
// The current loop's time plus `timeout`: a with_timeout deadline.
double deadline_after(Duration timeout);
// Arms a timer at `deadline` that fails `waiter` with TimeoutError (saying `timeout`) and
// then runs `on_timeout` (if any); returns a canceller.
std::function<void()> arm_timeout(double deadline, Duration timeout, Future<void> waiter,
                                  std::function<void()> on_timeout = nullptr);
// Cancels every state that is not done.
void cancel_all(const std::vector<std::shared_ptr<FutureStateBase>>& states);

template <typename T>
Future<T> to_future(Task<T> t) {
  return spawn(std::move(t));
}
template <typename T>
Future<T> to_future(Future<T> f) {
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

// Awaits every state (the first failure is raised at once, later ones are logged). If the
// awaiting task is cancelled, so is every state: when_all's children go with it.
inline Task<> await_all(std::vector<std::shared_ptr<FutureStateBase>> states) {
  Future<void> all = wait_all(states);
  try {
    co_await all;
  } catch (const CancelledError&) {
    if (all.cancelled()) cancel_all(states);  // this task was cancelled, not a child
    throw;
  }
}

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

// Waits for `awaitable` (a Task or a Future, taken by value) at most `timeout`, then
// raises TimeoutError. A Task is owned by with_timeout: when the time is up it is
// cancelled (CancelledError at its suspension point) and TimeoutError is raised once it
// has unwound (its destructors have run) — unless it finished with a result anyway, which
// is then returned. A Future is not cancelled (its producer may still set it, as in
// Tornado). Cancelling the with_timeout task cancels a Task argument too. A Future already
// done wins even with a zero timeout.
template <typename A>
Task<detail::result_of_t<A>> with_timeout(Duration timeout, A awaitable) {
  using T = detail::result_of_t<A>;
  constexpr bool kOwnsTask = std::is_same_v<A, Task<T>>;
  // The deadline is taken before the work starts: a timer the work arms for later cannot
  // come due before it, however long this thread is held up between the two.
  const double deadline = detail::deadline_after(timeout);
  Future<T> fut = detail::to_future(std::move(awaitable));
  if (!fut.done()) {
    Future<void> waiter;
    // An owned Task is cancelled by the timer itself: work whose own timers came due in the
    // same loop turn does not get to run on before this frame resumes.
    std::function<void()> on_timeout;
    if constexpr (kOwnsTask) on_timeout = [fut]() mutable { fut.cancel(); };
    auto cancel_timer = detail::arm_timeout(deadline, timeout, waiter, std::move(on_timeout));
    fut.add_done_callback([waiter](const Future<T>&) mutable {
      if (!waiter.done()) waiter.set_result();
    });
    bool timed_out = false;
    try {
      co_await waiter;
    } catch (const TimeoutError&) {
      timed_out = true;
    } catch (...) {  // this task was cancelled: so is the work it owns
      cancel_timer();
      if constexpr (kOwnsTask) fut.cancel();
      throw;
    }
    cancel_timer();
    if (timed_out) {
      if constexpr (kOwnsTask) {
        fut.cancel();
        co_await detail::settled(fut.base());
      }
      if (!kOwnsTask || fut.cancelled()) {
        throw TimeoutError("Timeout after " + std::to_string(timeout.count()) + "s");
      }
    }
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
  co_await detail::await_all(std::move(states));
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
// (void results become std::monostate). Arguments are taken by value.
template <typename... A>
  requires(sizeof...(A) > 1)
Task<std::tuple<detail::Stored<detail::result_of_t<A>>...>> when_all(A... awaitables) {
  // Braced initialisation evaluates left to right (function arguments, as in make_tuple,
  // need not): tasks start in argument order, as Tornado's multi starts them.
  std::tuple<Future<detail::result_of_t<A>>...> futs{
      detail::to_future(std::move(awaitables))...};
  std::vector<std::shared_ptr<detail::FutureStateBase>> states;
  std::apply([&](auto&... f) { (states.push_back(f.base()), ...); }, futs);
  co_await detail::await_all(std::move(states));
  co_return std::apply([](auto&... f) { return std::make_tuple(detail::stored_result(f)...); },
                       futs);
}

template <typename... A>
auto multi(A&&... a) {
  return when_all(std::forward<A>(a)...);
}

// Runs every task concurrently and returns {index, result} of the first to finish
// (rethrowing if that one failed). The others run on in the background (cancelling the
// when_any task before that cancels them all).
template <typename T>
Task<std::pair<std::size_t, detail::Stored<T>>> when_any(std::vector<Task<T>> tasks) {
  if (tasks.empty()) throw std::invalid_argument("when_any of no tasks");
  std::vector<Future<T>> futs;
  std::vector<std::shared_ptr<detail::FutureStateBase>> states;
  for (auto& t : tasks) {
    futs.push_back(spawn(std::move(t)));
    states.push_back(futs.back().base());
  }
  Future<std::size_t> first = detail::wait_any(states);
  std::size_t i;
  try {
    i = co_await first;
  } catch (const CancelledError&) {
    detail::cancel_all(states);  // only this task's cancellation fails `first`
    throw;
  }
  co_return std::pair<std::size_t, detail::Stored<T>>{i, detail::stored_result(futs[i])};
}

// Yields results in the order they finish (Tornado's gen.WaitIterator):
//
//   WaitIterator<int> it({f1, f2, f3});          // Futures, or a vector of Tasks (spawned)
//   while (!it.done()) {
//     try {
//       int r = co_await it.next();
//       use(r, *it.current_index());              // which input produced it
//     } catch (const std::exception& e) { ... }   // that input failed
//   }
//
// next() returns a Future of the next result to finish (inputs already done come first, in
// order). Only one next() may be outstanding. The Future of next() completes even if the
// iterator itself is destroyed meanwhile. Loop thread only.
template <typename T>
class WaitIterator {
 public:
  explicit WaitIterator(std::vector<Future<T>> futures)
      : futures_(std::move(futures)), state_(std::make_shared<State>()) {
    state_->unfinished = futures_.size();
    for (std::size_t i = 0; i < futures_.size(); ++i) {
      futures_[i].add_done_callback(
          [state = state_, i](const Future<T>& f) { state->on_done(i, f); });
    }
  }
  explicit WaitIterator(std::vector<Task<T>> tasks) : WaitIterator(spawn_all(std::move(tasks))) {}
  WaitIterator(const WaitIterator&) = delete;
  WaitIterator& operator=(const WaitIterator&) = delete;

  // True when every result has been handed out; then current_index() is cleared.
  bool done() {
    if (!state_->finished.empty() || state_->unfinished > 0) return false;
    state_->current_index.reset();
    return true;
  }

  // A Future of the next result to finish (its value, or its failure). Throws
  // InvalidStateError when done() or while a previous next() is pending.
  Future<T> next() {
    if (state_->running && !state_->running->done()) {
      throw InvalidStateError("WaitIterator::next: the previous next() is still pending");
    }
    if (state_->finished.empty() && state_->unfinished == 0) {
      throw InvalidStateError("WaitIterator::next: no more results");
    }
    Future<T> out;
    state_->running = out;
    if (!state_->finished.empty()) {
      auto [i, f] = std::move(state_->finished.front());
      state_->finished.pop_front();
      state_->deliver(i, f);
    }
    return out;
  }

  // The input whose result next() delivered last (nullopt before the first, and once done).
  std::optional<std::size_t> current_index() const noexcept { return state_->current_index; }
  std::optional<Future<T>> current_future() const {
    if (!state_->current_index) return std::nullopt;
    return futures_[*state_->current_index];
  }

 private:
  struct State {
    std::deque<std::pair<std::size_t, Future<T>>> finished;  // done, not yet handed out
    std::optional<Future<T>> running;                        // the pending next()
    std::optional<std::size_t> current_index;
    std::size_t unfinished = 0;

    void on_done(std::size_t i, const Future<T>& f) {
      --unfinished;
      if (running && !running->done()) {
        deliver(i, f);
      } else {
        finished.emplace_back(i, f);  // includes a next() cancelled by its awaiter
      }
    }
    void deliver(std::size_t i, const Future<T>& f) {
      current_index = i;
      Future<T> out = std::move(*running);
      running.reset();
      if (std::exception_ptr e = f.exception()) {
        out.set_exception(e);
      } else if constexpr (std::is_void_v<T>) {
        out.set_result();
      } else {
        out.set_result(f.result());
      }
    }
  };
  static std::vector<Future<T>> spawn_all(std::vector<Task<T>> tasks) {
    std::vector<Future<T>> out;
    out.reserve(tasks.size());
    for (auto& t : tasks) out.push_back(spawn(std::move(t)));
    return out;
  }

  std::vector<Future<T>> futures_;
  std::shared_ptr<State> state_;  // also held by the inputs' callbacks until they run
};

}  // namespace tornado
