// The per-thread drain signal (tornado/draining.h): watches and participants in intrusive
// lists, so that enrolling a connection allocates nothing and a drain is O(connections).
#include "tornado/draining.h"

#include <utility>

#include "internal/describe_exception.h"
#include "tornado/ioloop.h"
#include "tornado/locks.h"
#include "tornado/log.h"

namespace tornado::draining {

struct Watch::Node {
  std::function<void()> callback;
  Node* prev = nullptr;
  Node* next = nullptr;
  Watch* owner = nullptr;
  bool linked = false;
};

namespace {

// A doubly linked list through the participants' own pointers.
struct ParticipantList {
  Participant* first = nullptr;
  std::size_t size = 0;
};

}  // namespace

// Everything a thread's loop knows about its drain. Trivially destructible parts only, so a
// participant leaving during thread exit finds it usable.
struct State {
  bool active = false;
  bool firing_scheduled = false;
  Watch::Node* watches = nullptr;
  ParticipantList pending;  // not yet asked to end
  ParticipantList drained;  // asked (on_drain ran), not gone yet

  static State& get() noexcept {
    thread_local constinit State state{};
    return state;
  }

  static void link(ParticipantList& list, Participant& p) noexcept {
    p.prev_ = nullptr;
    p.next_ = list.first;
    if (list.first) list.first->prev_ = &p;
    list.first = &p;
    ++list.size;
  }
  static void unlink(ParticipantList& list, Participant& p) noexcept {
    if (p.prev_) {
      p.prev_->next_ = p.next_;
    } else {
      list.first = p.next_;
    }
    if (p.next_) p.next_->prev_ = p.prev_;
    p.prev_ = p.next_ = nullptr;
    --list.size;
  }
  ParticipantList& list_of(const Participant& p) noexcept { return p.drained_ ? drained : pending; }

  void unlink_watch(Watch::Node& n) noexcept {
    if (!n.linked) return;
    if (n.prev) {
      n.prev->next = n.next;
    } else {
      watches = n.next;
    }
    if (n.next) n.next->prev = n.prev;
    n.prev = n.next = nullptr;
    n.linked = false;
  }

  // Runs (from the loop) every watch and asks every pending participant to end. Each is
  // unlinked before its callback, so callbacks may add, remove or destroy any of them.
  void fire() {
    firing_scheduled = false;
    if (!active) return;
    while (Watch::Node* n = watches) {
      unlink_watch(*n);
      auto callback = std::move(n->callback);
      try {
        if (callback) callback();
      } catch (...) {
        app_log().error("Exception in a draining watch: {}",
                        detail::describe_exception(std::current_exception()));
      }
    }
    while (Participant* p = pending.first) {
      unlink(pending, *p);
      p->drained_ = true;
      link(drained, *p);
      try {
        p->on_drain();
      } catch (...) {
        app_log().error("Exception in on_drain: {}",
                        detail::describe_exception(std::current_exception()));
      }
    }
  }

  // Ends every participant now. Each leaves before its callback (which may end others).
  void cut() {
    for (ParticipantList* list : {&pending, &drained}) {
      while (Participant* p = list->first) {
        p->leave();
        try {
          p->on_drain_deadline();
        } catch (...) {
          app_log().error("Exception in on_drain_deadline: {}",
                          detail::describe_exception(std::current_exception()));
        }
      }
    }
  }

  void schedule_fire() {
    if (firing_scheduled) return;
    IOLoop* loop = IOLoop::current_or_null();
    if (!loop) return;
    firing_scheduled = true;
    loop->add_callback([] { State::get().fire(); });
  }
};

bool active() noexcept { return State::get().active; }

Task<> wait() {
  if (active()) co_return;
  locks::Event started;
  Watch w([&started] { started.set(); });
  co_await started.wait();
}

// ---- Watch ---------------------------------------------------------------------------

Watch::Watch(std::function<void()> callback) : node_(new Node) {
  node_->callback = std::move(callback);
  node_->owner = this;
  State& s = State::get();
  node_->next = s.watches;
  if (s.watches) s.watches->prev = node_;
  s.watches = node_;
  node_->linked = true;
  if (s.active) s.schedule_fire();
}

Watch::Watch(Watch&& other) noexcept : node_(std::exchange(other.node_, nullptr)) {
  if (node_) node_->owner = this;
}

Watch& Watch::operator=(Watch&& other) noexcept {
  if (this != &other) {
    reset();
    node_ = std::exchange(other.node_, nullptr);
    if (node_) node_->owner = this;
  }
  return *this;
}

void Watch::reset() noexcept {
  if (!node_) return;
  State::get().unlink_watch(*node_);
  delete std::exchange(node_, nullptr);
}

// ---- Participant -----------------------------------------------------------------------

void Participant::enroll() {
  if (enrolled_) return;
  State& s = State::get();
  drained_ = false;
  State::link(s.pending, *this);
  enrolled_ = true;
  if (s.active) s.schedule_fire();
}

void Participant::leave() noexcept {
  if (!enrolled_) return;
  State& s = State::get();
  State::unlink(s.list_of(*this), *this);
  enrolled_ = false;
}

// ---- the drain's side --------------------------------------------------------------------

void begin() {
  State& s = State::get();
  if (s.active) return;
  s.active = true;
  s.schedule_fire();
}

std::size_t participant_count() noexcept {
  const State& s = State::get();
  return s.pending.size + s.drained.size;
}

void cut_participants() { State::get().cut(); }

void reset_for_tests() noexcept { State::get().active = false; }

}  // namespace tornado::draining
