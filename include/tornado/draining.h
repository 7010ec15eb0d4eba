// tornado/draining.h — the "this loop is draining" signal that a graceful shutdown raises on
// each loop thread (see tornado/drain.h for the shutdown itself, docs/drain.md).
//
// Application code that holds a client waiting (a long poll, a producer loop) watches it and
// answers early, so that the client reconnects to another process:
//
//   auto watch = draining::watch([w] { w->ready.set(); });   // fires once, on this loop
//   co_await w->ready.wait(timeout);                          // the handler's own event
//   if (draining::active()) { /* answer now: "come back" */ }
//
//   co_await draining::wait();   // or simply wait for it (completes at once when draining)
//
// Long-lived connections that the HTTP server no longer tracks (WebSockets, SSE streams) are
// draining::Participants: the drain asks each to end (on_drain: close 1001, end the stream),
// waits for them to leave, and past its deadline cuts them (on_drain_deadline).
//
// State is per thread (one loop per thread): a drain started on a loop is seen by the code
// that loop runs. Thread rule: loop thread only.
#pragma once

#include <cstddef>
#include <functional>

#include "tornado/task.h"

namespace tornado::draining {

// True once a drain started on this thread's loop.
bool active() noexcept;

// Completes when this thread's loop starts draining (at once if it has).
Task<> wait();

// A callback run once, on this thread, when its loop starts draining (from a callback of the
// loop, never inside watch() itself: at the next iteration if the loop drains already).
// Destroying the Watch (or reset()) cancels it. Move-only.
class Watch {
 public:
  Watch() = default;
  explicit Watch(std::function<void()> callback);
  ~Watch() { reset(); }
  Watch(Watch&& other) noexcept;
  Watch& operator=(Watch&& other) noexcept;
  Watch(const Watch&) = delete;
  Watch& operator=(const Watch&) = delete;
  void reset() noexcept;
  explicit operator bool() const noexcept { return node_ != nullptr; }

 private:
  friend struct State;
  struct Node;
  Node* node_ = nullptr;
};
[[nodiscard]] inline Watch watch(std::function<void()> callback) {
  return Watch(std::move(callback));
}

// Something the drain must end and wait for. Intrusive: enrolling allocates nothing.
class Participant {
 public:
  Participant() = default;
  virtual ~Participant() { leave(); }
  Participant(const Participant&) = delete;
  Participant& operator=(const Participant&) = delete;

  // Joins this thread's list (when already draining, on_drain runs at the next iteration).
  void enroll();
  // Leaves it (the drain no longer waits for this one). Idempotent.
  void leave() noexcept;
  bool enrolled() const noexcept { return enrolled_; }

 protected:
  // Begin ending (a close handshake, a last event). Leave once really ended.
  virtual void on_drain() = 0;
  // The drain's deadline passed and this one is still here: end now, hard.
  virtual void on_drain_deadline() = 0;

 private:
  friend struct State;
  Participant* prev_ = nullptr;
  Participant* next_ = nullptr;
  bool enrolled_ = false;
  bool drained_ = false;  // on_drain ran
};

// ---- for the drain (tornado/drain.h) and tests ----
// Marks this thread's loop as draining: watches fire, participants are asked to end.
// Idempotent. Call on the loop thread.
void begin();
// Participants still enrolled on this thread.
std::size_t participant_count() noexcept;
// Calls on_drain_deadline on every participant still enrolled.
void cut_participants();
// Back to "not draining" (for tests that reuse a thread; participants stay).
void reset_for_tests() noexcept;

}  // namespace tornado::draining
