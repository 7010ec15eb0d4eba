// The default executor behind IOLoop::run_in_executor: a fixed pool of worker threads
// fed from one queue. Sized like Python's ThreadPoolExecutor: min(32, cores + 4).
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace tornado::detail {

class ThreadPool {
 public:
  explicit ThreadPool(unsigned threads);
  ~ThreadPool();  // finishes queued jobs, then joins
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  // Any thread. Jobs must not throw (run_in_executor's wrapper catches everything).
  void submit(std::function<void()> job);

  static ThreadPool& default_pool();

 private:
  void work();

  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<std::function<void()>> jobs_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace tornado::detail
