// add_accept_handler (tornado/netutil.h): the accept loop of every listening socket.
//
// The loop is edge-triggered, so a readiness event must be followed by accepting until
// EAGAIN. Doing all of it at once would let one flooded listener starve the loop, so at
// most max_per_event connections are accepted per turn and the rest are picked up by a
// callback on the next iteration. Running out of descriptors (EMFILE) cannot be waited
// out on the fd (the pending connection keeps it readable, and the edge never re-fires),
// so accepting is retried on a timer with exponential backoff.
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <memory>
#include <system_error>

#include "internal/describe_exception.h"
#include "tornado/log.h"
#include "tornado/netutil.h"

namespace tornado {

namespace {

struct AcceptState : std::enable_shared_from_this<AcceptState> {
  int fd = -1;
  LoopRef loop;  // the loop the listener is registered with
  AcceptCallback callback;
  AcceptOptions options;
  bool removed = false;
  bool continuation_queued = false;  // a next-iteration accept_some() is pending
  TimeoutHandle retry;               // backoff timer after EMFILE
  Duration current_backoff{0};

  void accept_some();
  void schedule_retry(int err);
};

void AcceptState::accept_some() {
  // Keep this state alive while callbacks may call the remover.
  auto self = shared_from_this();
  for (int i = 0; i < options.max_per_event; ++i) {
    if (removed) return;
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    int conn = ::accept4(fd, reinterpret_cast<sockaddr*>(&ss), &len,
                         SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (conn < 0) {
      int err = errno;
      if (err == EAGAIN || err == EWOULDBLOCK) {
        current_backoff = Duration(0);
        return;
      }
      // The peer gave up (ECONNABORTED) or a network error belongs to that connection,
      // not to the listener: skip it (accept(2), "Error handling").
      if (err == ECONNABORTED || err == EINTR || err == EPROTO || err == ENETDOWN ||
          err == ENOPROTOOPT || err == EHOSTDOWN || err == ENONET || err == EHOSTUNREACH ||
          err == EOPNOTSUPP || err == ENETUNREACH || err == EPERM) {
        continue;
      }
      if (err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM) {
        schedule_retry(err);
        return;
      }
      // EBADF/EINVAL: the listener was closed under us (e.g. stop() without the remover).
      gen_log().error("accept on fd {} failed: {}; no longer accepting", fd,
                      std::system_category().message(err));
      if (IOLoop* l = loop.get()) l->remove_handler(fd);
      removed = true;
      return;
    }
    if (current_backoff.count() > 0) {
      gen_log().info("accept on fd {} recovered", fd);
      current_backoff = Duration(0);
    }
    ResolvedAddress peer;
    try {
      peer = ResolvedAddress::from_sockaddr(reinterpret_cast<sockaddr*>(&ss), len);
      if (peer.family == AF_UNSPEC) peer.family = AF_UNIX;  // unnamed unix peer
    } catch (...) {
      peer = ResolvedAddress{};
    }
    try {
      callback(conn, peer);
    } catch (...) {
      app_log().error("Exception in accept callback for {}: {}", peer.to_string(),
                      detail::describe_exception(std::current_exception()));
    }
  }
  // Budget spent with connections possibly still queued: continue next iteration.
  if (!removed && !continuation_queued) {
    continuation_queued = true;
    IOLoop* l = loop.get();
    if (!l) return;
    l->add_callback([weak = weak_from_this()] {
      if (auto s = weak.lock()) {
        s->continuation_queued = false;
        s->accept_some();
      }
    });
  }
}

void AcceptState::schedule_retry(int err) {
  if (retry) return;
  if (current_backoff.count() == 0) {
    current_backoff = options.backoff;
    gen_log().error("accept on fd {}: {}; pausing accepts for {:.3f}s", fd,
                    std::system_category().message(err), current_backoff.count());
  } else {
    current_backoff = std::min(current_backoff * 2, options.max_backoff);
  }
  IOLoop* l = loop.get();
  if (!l) return;
  retry = l->call_later(current_backoff, [weak = weak_from_this()] {
    if (auto s = weak.lock()) {
      s->retry = TimeoutHandle{};
      s->accept_some();
    }
  });
}

}  // namespace

std::function<void()> add_accept_handler(int fd, AcceptCallback callback,
                                         AcceptOptions options) {
  if (!callback) throw std::invalid_argument("add_accept_handler: callback is empty");
  if (options.max_per_event < 1) {
    throw std::invalid_argument("add_accept_handler: max_per_event must be positive");
  }
  if (options.backoff.count() <= 0 || options.max_backoff < options.backoff) {
    throw std::invalid_argument("add_accept_handler: need 0 < backoff <= max_backoff");
  }
  auto state = std::make_shared<AcceptState>();
  state->fd = fd;
  IOLoop& loop = IOLoop::current();
  state->loop = loop.ref();
  state->callback = std::move(callback);
  state->options = options;
  // The loop holds the state through the handler; the remover drops that reference.
  loop.add_handler(
      fd, [state](int, uint32_t) { state->accept_some(); }, IOLoop::READ);
  return [weak = std::weak_ptr<AcceptState>(state)] {
    auto s = weak.lock();
    if (!s || s->removed) return;
    s->removed = true;
    IOLoop* loop = s->loop.get();
    if (!loop) return;  // the loop closed: the timer and the registration went with it
    loop->remove_timeout(s->retry);
    s->retry = TimeoutHandle{};
    // remove_handler destroys the handler holding `state`; `s` keeps it alive here.
    loop->remove_handler(s->fd);
  };
}

}  // namespace tornado
