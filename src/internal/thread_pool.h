// The default executor behind IOLoop::run_in_executor: a fixed pool of worker threads
// fed from one queue. Sized like Python's ThreadPoolExecutor: min(32, cores + 4).
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <sys/types.h>
#include <thread>
#include <vector>

namespace tornado::detail {

class ThreadPool {
 public:
  explicit ThreadPool(unsigned threads);
  // Finishes queued jobs, then joins. In a process forked after the pool started (whose
  // copy has none of the threads) it only lets go of them: joining would wait forever.
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  // Any thread. Jobs must not throw (run_in_executor's wrapper catches everything).
  void submit(std::function<void()> job);

  static ThreadPool& default_pool();

 private:
  void work();

  std::mutex mutex_;
  // On the heap: a forked copy lets go of it (its destructor would wait for the parent's
  // waiting threads, which the copy does not have).
  std::unique_ptr<std::condition_variable> ready_ = std::make_unique<std::condition_variable>();
  std::deque<std::function<void()>> jobs_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
  pid_t owner_pid_;  // the process the threads run in
};

}  // namespace tornado::detail
