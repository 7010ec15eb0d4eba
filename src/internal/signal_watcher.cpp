// IOLoop::add_signal_handler / remove_signal_handler (tornado/ioloop.h) on a signalfd.
//
// A signalfd reports only signals that are blocked: each handled signal is blocked in the
// thread that adds the handler (the loop's thread), the fd's mask is widened, and the
// loop reads siginfo records when it turns readable. Removing the last handler of a signal
// consumes a pending instance and restores that thread's mask, so the signal's normal
// disposition applies again (asyncio's remove_signal_handler restores SIG_DFL likewise).
#include "internal/signal_watcher.h"

#include <pthread.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>
#include <string>
#include <system_error>

#include "internal/describe_exception.h"
#include "tornado/ioloop.h"
#include "tornado/log.h"

namespace tornado {

namespace detail {

SignalWatcher::SignalWatcher() { sigemptyset(&mask_); }

SignalWatcher::~SignalWatcher() {
  for (auto& [signum, entry] : handlers_) restore(signum, entry);
  if (fd_ >= 0) ::close(fd_);
}

bool SignalWatcher::add(int signum, IOLoop::Callback callback) {
  auto it = handlers_.find(signum);
  if (it != handlers_.end()) {
    it->second.callback = std::move(callback);
    return false;
  }
  sigset_t one, old;
  sigemptyset(&one);
  sigaddset(&one, signum);
  pthread_sigmask(SIG_BLOCK, &one, &old);
  Entry entry{std::move(callback), sigismember(&old, signum) == 1};
  sigaddset(&mask_, signum);
  const bool created = fd_ < 0;
  int fd = ::signalfd(fd_, &mask_, SFD_NONBLOCK | SFD_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    sigdelset(&mask_, signum);
    restore(signum, entry);
    throw std::system_error(err, std::generic_category(), "signalfd");
  }
  fd_ = fd;
  handlers_.emplace(signum, std::move(entry));
  return created;
}

bool SignalWatcher::remove(int signum) {
  auto it = handlers_.find(signum);
  if (it == handlers_.end()) return false;
  sigdelset(&mask_, signum);
  ::signalfd(fd_, &mask_, SFD_NONBLOCK | SFD_CLOEXEC);
  restore(signum, it->second);
  handlers_.erase(it);
  return true;
}

void SignalWatcher::dispatch() {
  signalfd_siginfo info[16];
  for (;;) {
    ssize_t n = ::read(fd_, info, sizeof info);
    if (n <= 0) return;  // EAGAIN: drained (edge-triggered: read to the end)
    for (std::size_t i = 0; i < static_cast<std::size_t>(n) / sizeof info[0]; ++i) {
      auto it = handlers_.find(static_cast<int>(info[i].ssi_signo));
      if (it == handlers_.end()) continue;
      IOLoop::Callback cb = it->second.callback;  // the handler may remove itself
      try {
        cb();
      } catch (...) {
        app_log().error("Exception in signal handler for signal {}: {}", info[i].ssi_signo,
                        describe_exception(std::current_exception()));
      }
    }
  }
}

// Drops a pending instance (it was meant for the handler going away) and unblocks the
// signal again in this thread if we were the ones who blocked it.
void SignalWatcher::restore(int signum, const Entry& entry) {
  if (entry.was_blocked) return;
  sigset_t one;
  sigemptyset(&one);
  sigaddset(&one, signum);
  const timespec zero{};
  while (sigtimedwait(&one, nullptr, &zero) > 0) {
  }
  pthread_sigmask(SIG_UNBLOCK, &one, nullptr);
}

}  // namespace detail

void IOLoop::add_signal_handler(int signum, Callback callback) {
  if (signum <= 0 || signum >= NSIG || signum == SIGKILL || signum == SIGSTOP) {
    throw std::invalid_argument("add_signal_handler: signal " + std::to_string(signum) +
                                " cannot be handled");
  }
  if (!callback) throw std::invalid_argument("add_signal_handler: empty callback");
  if (closed()) throw std::logic_error("add_signal_handler: the loop is closed");
  if (!signals_) signals_ = std::make_unique<detail::SignalWatcher>();
  if (signals_->add(signum, std::move(callback))) {
    detail::SignalWatcher* watcher = signals_.get();
    add_handler(
        watcher->fd(), [watcher](int, uint32_t) { watcher->dispatch(); }, READ);
  }
}

bool IOLoop::remove_signal_handler(int signum) {
  if (!signals_) return false;
  return signals_->remove(signum);
}

}  // namespace tornado
