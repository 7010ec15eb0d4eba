// Drain (tornado/drain.h): one coroutine per registered loop, run on that loop.
#include "tornado/drain.h"

#include <pthread.h>

#include <algorithm>
#include <memory>
#include <stdexcept>
#include <system_error>

#include "internal/describe_exception.h"
#include "tornado/log.h"

namespace tornado {

namespace {

// How often a draining loop looks whether its connections are gone (and the deadline).
constexpr Duration kCheckInterval = std::chrono::milliseconds(10);

}  // namespace

Drain::Drain(DrainOptions options) : options_(options) {
  if (options_.timeout < Duration::zero() || options_.accept_settle < Duration::zero() ||
      options_.idle_grace < Duration::zero()) {
    throw std::invalid_argument("DrainOptions: timeout, accept_settle and idle_grace "
                                "must not be negative");
  }
}

Drain::~Drain() {
  // A handler left behind would run on a destroyed Drain at the next signal. Only the current
  // thread's loop can be touched here; the others must have ended (the thread rule).
  if (IOLoop* here = IOLoop::current_or_null()) {
    for (const auto& [loop, signum] : signal_handlers_) {
      if (loop == here) here->remove_signal_handler(signum);
    }
  }
}

Drain::Loop& Drain::current_loop() {
  IOLoop* loop = &IOLoop::current();
  for (Loop& l : loops_) {
    if (l.loop == loop) return l;
  }
  if (started_) throw std::logic_error("Drain: a loop added after the drain started");
  Loop& l = loops_.emplace_back();
  l.loop = loop;
  return l;
}

void Drain::add(HTTPServer& server) {
  std::lock_guard lock(mutex_);
  Loop& l = current_loop();
  l.http.push_back(&server);
  l.tcp.push_back(&server);
}

void Drain::add(TCPServer& server) {
  std::lock_guard lock(mutex_);
  current_loop().tcp.push_back(&server);
}

void Drain::add_loop() {
  std::lock_guard lock(mutex_);
  (void)current_loop();
}

void Drain::block_signals(const std::vector<int>& signals) {
  sigset_t set;
  sigemptyset(&set);
  for (int s : signals) sigaddset(&set, s);
  if (int err = ::pthread_sigmask(SIG_BLOCK, &set, nullptr); err != 0) {
    throw std::system_error(err, std::generic_category(), "pthread_sigmask");
  }
}

void Drain::handle_signals(const std::vector<int>& signals) {
  IOLoop& loop = IOLoop::current();
  // The loop that takes the signals is drained too (add_loop): the signalfd replaces the
  // signal's default action, so a drain that stopped no loop would swallow SIGTERM.
  add_loop();
  for (int signum : signals) {
    {
      std::lock_guard lock(mutex_);
      signal_handlers_.emplace_back(&loop, signum);
    }
    loop.add_signal_handler(signum, [this, signum] {
      if (!started()) {
        gen_log().info("drain: signal {}: draining (deadline {:.1f} s)", signum,
                       options_.timeout.count());
        start();
      } else {
        gen_log().warn("drain: signal {} again: closing what is left now", signum);
        cut();
      }
    });
  }
}

void Drain::start() {
  if (started_.exchange(true)) return;
  std::lock_guard lock(mutex_);
  for (Loop& l : loops_) {
    Loop* entry = &l;
    l.loop->add_callback([this, entry] {
      spawn_detached(drain_loop(*entry), [](std::exception_ptr e) {
        app_log().error("drain: {}", detail::describe_exception(e));
      });
    });
  }
}

void Drain::cut() {
  cut_ = true;
  start();
}

bool Drain::finished() const noexcept {
  std::lock_guard lock(mutex_);
  return started_ && std::all_of(loops_.begin(), loops_.end(), [](const Loop& l) { return l.done; });
}

Task<> Drain::drain_loop(Loop& entry) {
  IOLoop& loop = IOLoop::current();
  const double began = loop.time();
  const double deadline = began + options_.timeout.count();
  const double grace_until = began + options_.idle_grace.count();

  draining::begin();  // watches, WebSockets (1001), SSE streams: from the next iteration
  for (HTTPServer* s : entry.http) s->start_draining();

  // Stop accepting, all servers at once; each stop completes on its own.
  auto stopping = std::make_shared<std::size_t>(entry.tcp.size());
  for (TCPServer* s : entry.tcp) {
    spawn_detached(
        [](TCPServer* server, Duration settle, bool drop, std::shared_ptr<std::size_t> left)
            -> Task<> {
          try {
            co_await server->stop_gracefully(settle, drop);
          } catch (...) {
            server->stop();
            --*left;
            throw;
          }
          --*left;
        }(s, options_.accept_settle, options_.drop_new_syns, stopping),
        [](std::exception_ptr e) {
          app_log().error("drain: stopping a server: {}", detail::describe_exception(e));
        });
  }

  bool was_cut = false;
  for (;;) {
    const double now = loop.time();
    std::size_t open = draining::participant_count();
    for (HTTPServer* s : entry.http) {
      if (now >= grace_until) s->close_idle_connections();
      open += s->connection_count();
    }
    if (open == 0) break;
    if (now >= deadline || cut_) {
      was_cut = true;
      cut_count_ += open;
      gen_log().warn("drain: {} connection(s) still open after {:.1f} s: closing them", open,
                     now - began);
      for (HTTPServer* s : entry.http) s->close_all_connections();
      draining::cut_participants();
      break;
    }
    co_await sleep(kCheckInterval);
  }
  // The listening sockets' stops end within 11 settles; a cut does not wait for them.
  if (was_cut) {
    for (TCPServer* s : entry.tcp) s->stop();
  }
  while (*stopping > 0) co_await sleep(kCheckInterval);
  gen_log().info("drain: loop done in {:.3f} s", loop.time() - began);
  {
    std::lock_guard lock(mutex_);
    entry.done = true;
  }
  if (options_.stop_loops) loop.stop();
}

}  // namespace tornado
