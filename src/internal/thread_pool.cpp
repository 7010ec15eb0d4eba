#include "internal/thread_pool.h"

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>

namespace tornado::detail {

namespace {
// Condition variables let go of in forked copies (their destructors must not run), kept
// reachable from here so that a leak checker does not report them.
std::array<std::condition_variable*, 8> g_abandoned{};
std::atomic<std::size_t> g_abandoned_count{0};

void abandon(std::condition_variable* cv) noexcept {
  const std::size_t i = g_abandoned_count.fetch_add(1, std::memory_order_relaxed);
  g_abandoned[std::min(i, g_abandoned.size() - 1)] = cv;
}
}  // namespace

ThreadPool::ThreadPool(unsigned threads) : owner_pid_(::getpid()) {
  // Workers start with every asynchronous signal blocked (they inherit this thread's mask
  // while it is widened), so a process-directed signal that an IOLoop handles through a
  // signalfd is never delivered to a pool thread instead.
  sigset_t all, old;
  sigfillset(&all);
  for (int sync : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGABRT, SIGSYS}) {
    sigdelset(&all, sync);
  }
  pthread_sigmask(SIG_BLOCK, &all, &old);
  threads_.reserve(threads);
  for (unsigned i = 0; i < threads; ++i) threads_.emplace_back([this] { work(); });
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
}

ThreadPool::~ThreadPool() {
  if (::getpid() != owner_pid_) {
    // A forked copy (a child that exits normally runs this static's destructor): the threads
    // stayed in the parent, the mutex may have been copied locked and the condition variable
    // with the parent's waiters on it. Touch none of them.
    for (auto& t : threads_) t.detach();
    abandon(ready_.release());
    return;
  }
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  ready_->notify_all();
  for (auto& t : threads_) t.join();
}

void ThreadPool::submit(std::function<void()> job) {
  {
    std::lock_guard lock(mutex_);
    jobs_.push_back(std::move(job));
  }
  ready_->notify_one();
}

void ThreadPool::work() {
  for (;;) {
    std::function<void()> job;
    {
      std::unique_lock lock(mutex_);
      ready_->wait(lock, [this] { return stopping_ || !jobs_.empty(); });
      if (jobs_.empty()) return;  // stopping and drained
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    job();
  }
}

ThreadPool& ThreadPool::default_pool() {
  static ThreadPool pool(std::min(32u, std::max(1u, std::thread::hardware_concurrency()) + 4));
  return pool;
}

}  // namespace tornado::detail
