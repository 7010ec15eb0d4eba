#include "tornado/task.h"

#include <cmath>
#include <stdexcept>
#include <typeinfo>
#include <vector>

#include "internal/describe_exception.h"
#include "tornado/hot.h"
#include "tornado/ioloop.h"
#include "tornado/log.h"

namespace tornado {
namespace detail {

void log_unretrieved(const std::exception_ptr& e, const char* context) noexcept {
  try {
    app_log().error("{}: {}", context, describe_exception(e));
  } catch (...) {
    // Logging must never throw out of a destructor.
  }
}

// ---- the driver -----------------------------------------------------------------------

namespace {
// Handles waiting for the innermost driver on this thread (a stack: each driver resumes
// only what was queued above the point where it started).
thread_local std::vector<std::coroutine_handle<>> t_ready;
}  // namespace

TORNADO_HOT void drive(std::coroutine_handle<> h) noexcept {
  Driver& d = t_driver;
  const Driver saved = d;
  const std::size_t base = t_ready.size();
  d.active = true;
  for (;;) {
    d.depth = 0;
    h.resume();
    if (t_ready.size() == base) break;
    h = t_ready.back();
    t_ready.pop_back();
  }
  d = saved;
}

void hand_to_driver(std::coroutine_handle<> h) { t_ready.push_back(h); }

// ---- Future state ---------------------------------------------------------------------

namespace {

// A done-callback entry, owned by the state until it runs.
struct CallbackNode : FutureNode {
  std::function<void()> fn;
  explicit CallbackNode(std::function<void()> f) : FutureNode(&run), fn(std::move(f)) {}
  static void run(FutureNode* n) {
    std::unique_ptr<CallbackNode> self(static_cast<CallbackNode*>(n));
    self->fn();
  }
};

}  // namespace

FutureStateBase::~FutureStateBase() {
  // Only callback entries can be left: an awaiter holds the state alive while linked.
  while (waiters.linked()) {
    FutureNode* n = waiters.front();
    n->unlink();
    delete static_cast<CallbackNode*>(n);
  }
  if (exception && !retrieved) log_unretrieved(exception, "Future exception was never retrieved");
}

void FutureStateBase::mark_done() {
  if (done) throw InvalidStateError("Future result already set");
  done = true;
  if (waiters.linked()) post([self = shared_from_this()] { self->dispatch(); });
}

void FutureStateBase::dispatch() noexcept {
  // One entry at a time from the front: an entry may destroy a frame whose awaiter is
  // further down the list, which then unlinks itself.
  while (waiters.linked()) {
    FutureNode* n = waiters.front();
    n->unlink();
    try {
      n->fire(n);
    } catch (...) {
      app_log().error("Exception in callback: {}", describe_exception(std::current_exception()));
    }
  }
}

void FutureStateBase::add_callback(std::function<void()> cb) {
  if (done) {
    post([cb = std::move(cb), self = shared_from_this()] { cb(); });
  } else {
    (new CallbackNode(std::move(cb)))->link_before(&waiters);
  }
}

bool FutureStateBase::cancel() {
  if (done) return false;
  if (task) {
    request_cancel(*task);
    return true;
  }
  if (on_cancel) on_cancel(this);
  finish_cancelled(std::make_exception_ptr(CancelledError()));
  return true;
}

void FutureStateBase::finish_cancelled(std::exception_ptr e) {
  if (done) throw InvalidStateError("Future result already set");
  exception = std::move(e);
  cancelled = true;
  retrieved = true;  // cancellation is an outcome, not a lost failure
  mark_done();
}

// ---- combinators ----------------------------------------------------------------------

Future<void> wait_all(const std::vector<std::shared_ptr<FutureStateBase>>& states) {
  Future<void> all;
  if (states.empty()) {
    all.set_result();
    return all;
  }
  auto remaining = std::make_shared<std::size_t>(states.size());
  for (const auto& st : states) {
    st->add_callback([all, remaining, s = st.get()]() mutable {
      // `s` is alive here: a posted callback holds its state.
      if (s->exception) {
        if (!all.done()) {
          all.set_exception(s->exception);
        } else if (!s->cancelled) {
          log_unretrieved(s->exception, "Multiple exceptions in yield list");
        }
        s->retrieved = true;
      }
      if (--*remaining == 0 && !all.done()) all.set_result();
    });
  }
  return all;
}

Future<std::size_t> wait_any(const std::vector<std::shared_ptr<FutureStateBase>>& states) {
  Future<std::size_t> first;
  for (std::size_t i = 0; i < states.size(); ++i) {
    states[i]->add_callback([first, i]() mutable {
      if (!first.done()) first.set_result(i);
    });
  }
  return first;
}

Future<void> settled(const std::shared_ptr<FutureStateBase>& state) {
  Future<void> out;
  state->add_callback([out]() mutable {
    if (!out.done()) out.set_result();
  });
  return out;
}

void cancel_all(const std::vector<std::shared_ptr<FutureStateBase>>& states) {
  for (const auto& s : states) s->cancel();
}

double deadline_after(Duration timeout) {
  // Refused here, before the work starts (call_at would refuse it only after).
  if (std::isnan(timeout.count())) throw std::invalid_argument("with_timeout: timeout is NaN");
  return IOLoop::current().time() + timeout.count();
}

std::function<void()> arm_timeout(double deadline, Duration timeout, Future<void> waiter,
                                  std::function<void()> on_timeout) {
  IOLoop& loop = IOLoop::current();
  TimeoutHandle h = loop.call_at(deadline, [waiter, timeout, on_timeout = std::move(on_timeout)]() mutable {
    if (!waiter.done()) {
      waiter.set_exception(TimeoutError("Timeout after " + std::to_string(timeout.count()) + "s"));
      if (on_timeout) on_timeout();
    }
  });
  return [&loop, h] { loop.remove_timeout(h); };
}

}  // namespace detail

namespace {
// A sleep's Future knows its timer, so that cancelling it removes the timer at once instead
// of leaving it in the heap until its deadline. The loop is held through its LoopRef: the
// Future may be cancelled after the loop closed (its timer went with it).
struct SleepState : detail::FutureState<void> {
  LoopRef loop;
  TimeoutHandle timer;
  static void remove_timer(detail::FutureStateBase* base) noexcept {
    auto* self = static_cast<SleepState*>(base);
    if (IOLoop* loop = self->loop.get()) loop->remove_timeout(self->timer);
  }
};
}  // namespace

Future<void> sleep(Duration delay) {
  IOLoop& loop = IOLoop::current();
  auto state = std::make_shared<SleepState>();
  state->on_cancel = &SleepState::remove_timer;
  state->loop = loop.ref();
  // The timer holds the state (not a cycle: cancelling or firing releases the timer).
  state->timer = loop.call_later(delay, [state]() {
    if (!state->done) detail::FutureAccess::make<void>(state).set_result();
  });
  return detail::FutureAccess::make<void>(std::move(state));
}

}  // namespace tornado
