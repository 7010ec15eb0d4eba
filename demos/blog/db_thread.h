// One thread that owns the blog's Store: every database call runs there, in order, so the
// SQLite connection is used by one thread at a time and the loop thread never blocks on disk.
//
//   auto entries = co_await db.run([](Store& s) { return s.entries(5); });
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>

#include "store.h"
#include "tornado/ioloop.h"

namespace blog {

class DbThread {
 public:
  // Opens the store on the new thread (so it is made and used there only); throws the
  // opening error here.
  explicit DbThread(std::string path) : thread_([this] { work(); }) {
    auto opened = std::make_shared<std::promise<void>>();
    auto done = opened->get_future();
    post([this, path = std::move(path), opened] {
      try {
        store_ = std::make_unique<Store>(path);
        opened->set_value();
      } catch (...) {
        opened->set_exception(std::current_exception());
      }
    });
    try {
      done.get();
    } catch (...) {
      stop();
      throw;
    }
  }
  ~DbThread() { stop(); }
  DbThread(const DbThread&) = delete;
  DbThread& operator=(const DbThread&) = delete;

  // Runs fn(store) on the database thread; the result (or exception) arrives on the calling
  // loop. Loop thread only.
  template <typename F>
  auto run(F fn) {
    return tornado::IOLoop::current().run_in_executor(
        [this](std::function<void()> job) { post(std::move(job)); },
        [this, fn = std::move(fn)]() mutable { return fn(*store_); });
  }

 private:
  void post(std::function<void()> job) {
    {
      std::lock_guard lock(mutex_);
      jobs_.push_back(std::move(job));
    }
    wake_.notify_one();
  }
  void work() {
    for (;;) {
      std::function<void()> job;
      {
        std::unique_lock lock(mutex_);
        wake_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
        if (jobs_.empty()) break;  // stopping, and everything queued has run
        job = std::move(jobs_.front());
        jobs_.pop_front();
      }
      job();
    }
    store_.reset();  // closed on the thread that used it
  }
  void stop() {
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return;
      stopping_ = true;
    }
    wake_.notify_one();
    if (thread_.joinable()) thread_.join();
  }

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> jobs_;
  bool stopping_ = false;
  std::unique_ptr<Store> store_;  // touched by the database thread only
  std::thread thread_;            // last: starts after the members above exist
};

}  // namespace blog
