// The signalfd behind IOLoop::add_signal_handler (see signal_watcher.cpp). Not public.
#pragma once

#include <signal.h>

#include <map>

#include "tornado/ioloop.h"

namespace tornado::detail {

// The handled signals of one loop: one signalfd whose mask is the set of handled signals.
// Loop thread only.
class SignalWatcher {
 public:
  SignalWatcher();
  ~SignalWatcher();  // restores the thread's mask and closes the fd
  SignalWatcher(const SignalWatcher&) = delete;
  SignalWatcher& operator=(const SignalWatcher&) = delete;

  int fd() const noexcept { return fd_; }
  // Sets (or replaces) the handler of `signum`, blocking it in this thread. True when the
  // fd was just created: the caller registers it with the loop. Throws std::system_error.
  bool add(int signum, IOLoop::Callback callback);
  // False if `signum` had no handler.
  bool remove(int signum);
  // Reads every pending record and runs the handlers, each guarded like a loop callback.
  void dispatch();

 private:
  struct Entry {
    IOLoop::Callback callback;
    bool was_blocked = false;  // in the thread's mask before we blocked it
  };
  static void restore(int signum, const Entry& entry);

  int fd_ = -1;
  sigset_t mask_;
  std::map<int, Entry> handlers_;
};

}  // namespace tornado::detail
