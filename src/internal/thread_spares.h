// A per-thread stack of up to N spare objects for reuse (parsed heads, read buffers): what a
// request gives back, the next one takes, so a warm server allocates nothing for them
// while its idle connections hold none.
//
//   using Heads = internal::ThreadSpares<MessageHead*, 64, delete_head>;
//   MessageHead* h = Heads::empty() ? new MessageHead() : Heads::take();
//   if (!Heads::keep(h)) delete h;
//
// The state is trivially destructible, so that an object given back during thread exit or
// static destruction (a frame of a static loop) finds it still usable: a releaser frees the
// spares at thread exit and closes the stack, after which keep() refuses (the caller frees).
#pragma once

#include <cstddef>

namespace tornado::internal {

template <class T, std::size_t N, void (*Free)(T&) noexcept>
class ThreadSpares {
 public:
  static bool empty() noexcept { return state_.count == 0; }
  // The spare take() would return (not empty()).
  static T& top() noexcept { return state_.items[state_.count - 1]; }
  static T take() noexcept { return static_cast<T&&>(state_.items[--state_.count]); }
  // Keeps `item` (moved from) unless the stack is full or the thread is exiting: false,
  // and the caller keeps it.
  static bool keep(T& item) noexcept {
    State& s = state_;
    if (s.closed || s.count == N) return false;
    if (!s.open) {
      [[maybe_unused]] Releaser* registered = &releaser_;  // registers its destructor
      s.open = true;
    }
    s.items[s.count++] = static_cast<T&&>(item);
    return true;
  }

 private:
  struct State {
    T items[N];
    std::size_t count;
    bool open;    // the releaser is registered
    bool closed;  // the thread is exiting: nothing is kept
  };
  struct Releaser {
    ~Releaser() {
      State& s = state_;
      s.closed = true;
      while (s.count > 0) Free(s.items[--s.count]);
    }
  };
  static inline thread_local constinit State state_{};
  static inline thread_local Releaser releaser_;
};

}  // namespace tornado::internal
