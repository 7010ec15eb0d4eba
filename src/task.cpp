#include "tornado/task.h"

#include <typeinfo>

#include "internal/describe_exception.h"
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
        } else {
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

std::function<void()> arm_timeout(Duration timeout, Future<void> waiter) {
  IOLoop& loop = IOLoop::current();
  TimeoutHandle h = loop.call_later(timeout, [waiter, timeout]() mutable {
    if (!waiter.done()) {
      waiter.set_exception(TimeoutError("Timeout after " + std::to_string(timeout.count()) + "s"));
    }
  });
  return [&loop, h] { loop.remove_timeout(h); };
}

}  // namespace detail

Future<void> sleep(Duration delay) {
  Future<void> fut;
  IOLoop::current().call_later(delay, [fut]() mutable { fut.set_result(); });
  return fut;
}

}  // namespace tornado
