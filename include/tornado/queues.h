// tornado/queues.h — queues for coordinating coroutines (Tornado's `tornado.queues`).
//
//   Queue<T>                 first in, first out
//   PriorityQueue<T, Cmp>    lowest first (by Cmp, default std::less<T>)
//   LifoQueue<T>             last in, first out
//
// Each has a maxsize (0, the default, means unbounded): put() waits while the queue is
// full, get() waits while it is empty, both in FIFO order of the callers, with an optional
// timeout raising TimeoutError. put_nowait()/get_nowait() never wait: they raise QueueFull
// / QueueEmpty. task_done()/join() count unfinished items as Python's queues do.
//
//   tornado::queues::Queue<std::string> q(/*maxsize=*/100);
//   Task<> producer() { for (auto& line : lines) co_await q.put(line); }
//   Task<> consumer() {
//     for (;;) {
//       std::string item = co_await q.get();
//       co_await handle(item);
//       q.task_done();
//     }
//   }
//   Task<> main_task() { spawn(consumer()); co_await producer(); co_await q.join(); }
//
// Timeouts are relative (`std::optional<Duration>`; nullopt waits forever). As in Tornado
// 6.6, a zero (or negative) timeout never waits: it succeeds at once or fails at once. A
// getter or putter that timed out is never served later: no item is ever handed to a
// getter that already raised TimeoutError, and a timed-out putter's item never enters the
// queue. put and get are O(1) amortized (O(log n) for PriorityQueue).
//
// get() returns a Future<T>; awaiting it copies the item out of the shared Future, so T
// must be copy-constructible to await get(). For move-only items use get_nowait() or a
// queue of std::shared_ptr.
//
// Thread rule: not thread-safe; call every method on the thread of the IOLoop the waiting
// coroutines run on (from elsewhere, go through IOLoop::add_callback).
#pragma once

#include <algorithm>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "tornado/locks.h"
#include "tornado/task.h"

namespace tornado::queues {

// Raised by get_nowait() on an empty queue.
class QueueEmpty : public std::runtime_error {
 public:
  QueueEmpty() : std::runtime_error("queue is empty") {}
};

// Raised by put_nowait() on a full queue.
class QueueFull : public std::runtime_error {
 public:
  QueueFull() : std::runtime_error("queue is full") {}
};

namespace detail {

// Item stores: the only difference between Queue, PriorityQueue and LifoQueue.
template <typename T>
class FifoStore {
 public:
  static constexpr const char* kName = "Queue";
  void push(T item) { items_.push_back(std::move(item)); }
  T pop() {
    T item = std::move(items_.front());
    items_.pop_front();
    return item;
  }
  std::size_t size() const noexcept { return items_.size(); }

 private:
  std::deque<T> items_;
};

template <typename T>
class LifoStore {
 public:
  static constexpr const char* kName = "LifoQueue";
  void push(T item) { items_.push_back(std::move(item)); }
  T pop() {
    T item = std::move(items_.back());
    items_.pop_back();
    return item;
  }
  std::size_t size() const noexcept { return items_.size(); }

 private:
  std::vector<T> items_;
};

// A binary heap whose front is the lowest item by Compare.
template <typename T, typename Compare>
class HeapStore {
 public:
  static constexpr const char* kName = "PriorityQueue";
  explicit HeapStore(Compare less = Compare()) : less_(std::move(less)) {}
  void push(T item) {
    items_.push_back(std::move(item));
    std::push_heap(items_.begin(), items_.end(), greater());
  }
  T pop() {
    std::pop_heap(items_.begin(), items_.end(), greater());
    T item = std::move(items_.back());
    items_.pop_back();
    return item;
  }
  std::size_t size() const noexcept { return items_.size(); }

 private:
  // std heaps keep the greatest first; invert the order to keep the lowest first.
  auto greater() const {
    return [this](const T& a, const T& b) { return less_(b, a); };
  }
  Compare less_;
  std::vector<T> items_;
};

template <typename T>
struct Putter : locks::detail::Waiter<void> {
  Putter(Future<void> f, T i) : locks::detail::Waiter<void>(std::move(f)), item(std::move(i)) {}
  T item;
};

}  // namespace detail

// The queue machinery shared by Queue, PriorityQueue and LifoQueue; Store holds the items.
template <typename T, typename Store>
class BasicQueue {
 public:
  // maxsize 0 (default) is unbounded. Throws std::invalid_argument if maxsize < 0.
  explicit BasicQueue(std::ptrdiff_t maxsize = 0, Store store = Store())
      : maxsize_(checked_maxsize(maxsize)),
        store_(std::move(store)),
        getters_(Getters::make()),
        putters_(Putters::make()) {
    finished_.set();
  }
  BasicQueue(const BasicQueue&) = delete;
  BasicQueue& operator=(const BasicQueue&) = delete;

  // The bound given at construction (0: unbounded).
  std::ptrdiff_t maxsize() const noexcept { return maxsize_; }
  // Items in the queue now.
  std::size_t qsize() const noexcept { return store_.size(); }
  bool empty() const noexcept { return store_.size() == 0; }
  bool full() const noexcept {
    return maxsize_ > 0 && store_.size() >= static_cast<std::size_t>(maxsize_);
  }

  // Puts `item`, waiting while the queue is full. The Future is done once the item is in
  // the queue (at once if there is room). With a timeout (default: none; zero or negative:
  // do not wait) it fails with TimeoutError and the item is dropped, never enqueued.
  Future<void> put(T item, std::optional<Duration> timeout = std::nullopt) {
    Future<void> fut;
    if (try_put(item)) {
      fut.set_result();
    } else if (locks::detail::no_wait(timeout)) {
      fut.set_exception(TimeoutError());
    } else {
      putters_->front();  // drop timed-out putters at the front before queueing behind them
      putters_->push(detail::Putter<T>(fut, std::move(item)), timeout, expire<void>);
    }
    return fut;
  }

  // Puts `item` without waiting (a waiting getter receives it). Throws QueueFull.
  void put_nowait(T item) {
    if (!try_put(item)) throw QueueFull();
  }

  // Removes and returns an item, waiting while the queue is empty. With a timeout (default:
  // none; zero or negative: do not wait) the Future fails with TimeoutError, and no item
  // is taken for it afterwards.
  Future<T> get(std::optional<Duration> timeout = std::nullopt) {
    Future<T> fut;
    if (std::optional<T> item = try_get()) {
      fut.set_result(std::move(*item));
    } else if (locks::detail::no_wait(timeout)) {
      fut.set_exception(TimeoutError());
    } else {
      getters_->front();  // drop timed-out getters at the front before queueing behind them
      getters_->push(locks::detail::Waiter<T>(fut), timeout, expire<T>);
    }
    return fut;
  }

  // Removes and returns an item without waiting (a waiting putter's item then enters the
  // queue). Throws QueueEmpty.
  T get_nowait() {
    std::optional<T> item = try_get();
    if (!item) throw QueueEmpty();
    return std::move(*item);
  }

  // Marks one item taken by get() as processed; join() completes when every item put has
  // been marked. Throws std::logic_error if called more times than items were put.
  void task_done() {
    if (unfinished_tasks_ == 0) throw std::logic_error("task_done() called too many times");
    if (--unfinished_tasks_ == 0) finished_.set();
  }

  // Done when every item put so far has been marked with task_done() (at once if none is
  // unfinished). With a timeout (default: none; zero or negative: do not wait) it fails
  // with TimeoutError.
  Future<void> join(std::optional<Duration> timeout = std::nullopt) {
    return finished_.wait(timeout);
  }

  // Items put but not yet marked by task_done().
  std::size_t unfinished_tasks() const noexcept { return unfinished_tasks_; }
  // Waiting getters/putters, including timed-out ones not dropped yet (Tornado's
  // len(_getters) / len(_putters)); for tests and metrics.
  std::size_t getter_count() const noexcept { return getters_->size(); }
  std::size_t putter_count() const noexcept { return putters_->size(); }

  // "<Queue maxsize=1 qsize=1 getters[1] putters[2] tasks=3>", like Tornado's str() (the
  // items themselves are not printed: T need not be printable).
  std::string repr() const {
    std::string out = std::string("<") + Store::kName + " maxsize=" + std::to_string(maxsize_);
    if (!empty()) out += " qsize=" + std::to_string(qsize());
    if (!getters_->empty()) out += " getters[" + std::to_string(getters_->size()) + "]";
    if (!putters_->empty()) out += " putters[" + std::to_string(putters_->size()) + "]";
    if (unfinished_tasks_ != 0) out += " tasks=" + std::to_string(unfinished_tasks_);
    return out + ">";
  }

 private:
  using Getters = locks::detail::WaiterQueue<locks::detail::Waiter<T>>;
  using Putters = locks::detail::WaiterQueue<detail::Putter<T>>;

  static std::ptrdiff_t checked_maxsize(std::ptrdiff_t maxsize) {
    if (maxsize < 0) {
      throw std::invalid_argument("queue maxsize can't be negative, got " +
                                  std::to_string(maxsize));
    }
    return maxsize;
  }

  template <typename R>
  static void expire(Future<R>& fut) {
    fut.set_exception(TimeoutError());
  }

  void put_internal(T&& item) {
    ++unfinished_tasks_;
    finished_.clear();
    store_.push(std::move(item));
  }

  // Enqueues `item` (moving from it) if it can go in without waiting: a live getter takes
  // it, or there is room. Leaves `item` untouched and returns false when full.
  bool try_put(T& item) {
    if (getters_->front() != nullptr) {
      // Live getters wait only on an empty queue; going through the store keeps the
      // task accounting identical to the non-waiting path.
      Future<T> fut = getters_->pop().future;
      put_internal(std::move(item));
      fut.set_result(store_.pop());
      return true;
    }
    if (full()) return false;
    put_internal(std::move(item));
    return true;
  }

  // Takes an item if one is available without waiting; a live putter's item is moved into
  // the queue first (it was waiting for exactly this room).
  std::optional<T> try_get() {
    if (putters_->front() != nullptr) {
      detail::Putter<T> putter = putters_->pop();
      put_internal(std::move(putter.item));
      putter.future.set_result();
      return std::optional<T>(store_.pop());
    }
    if (store_.size() == 0) return std::nullopt;
    return std::optional<T>(store_.pop());
  }

  std::ptrdiff_t maxsize_;
  Store store_;
  std::shared_ptr<Getters> getters_;
  std::shared_ptr<Putters> putters_;
  std::size_t unfinished_tasks_ = 0;
  locks::Event finished_;
};

// First in, first out. Tornado's queues.Queue.
template <typename T>
class Queue : public BasicQueue<T, detail::FifoStore<T>> {
 public:
  // maxsize 0 (default) is unbounded. Throws std::invalid_argument if maxsize < 0.
  explicit Queue(std::ptrdiff_t maxsize = 0) : BasicQueue<T, detail::FifoStore<T>>(maxsize) {}
};

// Lowest item first, by `Compare` (default std::less<T>; for pairs and tuples that compares
// the first member first, as Python's tuples do). Tornado's queues.PriorityQueue.
template <typename T, typename Compare = std::less<T>>
class PriorityQueue : public BasicQueue<T, detail::HeapStore<T, Compare>> {
 public:
  // maxsize 0 (default) is unbounded. Throws std::invalid_argument if maxsize < 0.
  explicit PriorityQueue(std::ptrdiff_t maxsize = 0, Compare less = Compare())
      : BasicQueue<T, detail::HeapStore<T, Compare>>(
            maxsize, detail::HeapStore<T, Compare>(std::move(less))) {}
};

// Last in, first out. Tornado's queues.LifoQueue.
template <typename T>
class LifoQueue : public BasicQueue<T, detail::LifoStore<T>> {
 public:
  // maxsize 0 (default) is unbounded. Throws std::invalid_argument if maxsize < 0.
  explicit LifoQueue(std::ptrdiff_t maxsize = 0) : BasicQueue<T, detail::LifoStore<T>>(maxsize) {}
};

}  // namespace tornado::queues
