// Behaviours of Tornado's queues_test.py for Queue, PriorityQueue and LifoQueue, plus
// Tornado 6.6's zero timeouts and the "never serve a timed-out waiter" guarantees.
#include "tornado/queues.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <memory>
#include <numeric>
#include <random>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "tornado/ioloop.h"
#include "tornado/task.h"
#include "tornado/testing_core.h"

namespace queues_test {

using namespace tornado;
using tornado::queues::LifoQueue;
using tornado::queues::PriorityQueue;
using tornado::queues::Queue;
using tornado::queues::QueueEmpty;
using tornado::queues::QueueFull;
using tornado::testing::AsyncTest;

namespace {

class QueueTest : public AsyncTest {
 protected:
  void loop_briefly() {
    run_sync([]() -> Task<> { co_await moment(); });
  }
  void pause(Duration d) {
    run_sync([d]() -> Task<> { co_await sleep(d); });
  }
  template <typename T>
  T await(Future<T> f) {
    return run_sync([f]() -> Task<T> { co_return co_await f; });
  }
  void await(Future<void> f) {
    run_sync([f]() -> Task<> { co_await f; });
  }
};

// ---- basics ---------------------------------------------------------------------------

using QueueBasicTest = QueueTest;

TEST_F(QueueBasicTest, Repr) {
  Queue<int> q(1);
  EXPECT_EQ(q.repr(), "<Queue maxsize=1>");
  Future<int> get = q.get();
  EXPECT_EQ(q.repr(), "<Queue maxsize=1 getters[1]>");
  Future<void> p0 = q.put(0);  // served to the waiting getter
  Future<void> p1 = q.put(1);
  Future<void> p2 = q.put(2);  // full: this putter blocks
  EXPECT_EQ(q.repr(), "<Queue maxsize=1 qsize=1 putters[1] tasks=2>");
  EXPECT_EQ(await(get), 0);
}

TEST_F(QueueBasicTest, FifoOrder) {
  Queue<int> q;
  for (int i : {1, 3, 2}) q.put_nowait(i);
  std::vector<int> items;
  for (int i = 0; i < 3; ++i) items.push_back(q.get_nowait());
  EXPECT_EQ(items, (std::vector<int>{1, 3, 2}));
}

TEST_F(QueueBasicTest, Maxsize) {
  EXPECT_THROW(Queue<int>(-1), std::invalid_argument);
  Queue<int> q(2);
  EXPECT_TRUE(q.empty());
  EXPECT_FALSE(q.full());
  EXPECT_EQ(q.maxsize(), 2);
  EXPECT_TRUE(q.put(0).done());
  EXPECT_TRUE(q.put(1).done());
  EXPECT_FALSE(q.empty());
  EXPECT_TRUE(q.full());
  Future<void> put2 = q.put(2);
  EXPECT_FALSE(put2.done());
  EXPECT_EQ(await(q.get()), 0);  // makes room
  EXPECT_TRUE(put2.done());
  EXPECT_FALSE(q.empty());
  EXPECT_TRUE(q.full());
  EXPECT_EQ(q.qsize(), 2u);
}

TEST_F(QueueBasicTest, UnboundedIsNeverFull) {
  Queue<int> q;
  EXPECT_EQ(q.maxsize(), 0);
  for (int i = 0; i < 10000; ++i) q.put_nowait(i);
  EXPECT_FALSE(q.full());
  EXPECT_EQ(q.qsize(), 10000u);
}

TEST_F(QueueBasicTest, MoveOnlyItemsWithNowaitCalls) {
  Queue<std::unique_ptr<int>> q(2);
  q.put_nowait(std::make_unique<int>(7));
  q.put_nowait(std::make_unique<int>(8));
  EXPECT_THROW(q.put_nowait(std::make_unique<int>(9)), QueueFull);
  EXPECT_EQ(*q.get_nowait(), 7);
  EXPECT_EQ(*q.get_nowait(), 8);
}

// ---- get ------------------------------------------------------------------------------

using QueueGetTest = QueueTest;

TEST_F(QueueGetTest, BlockingGet) {
  Queue<int> q;
  q.put_nowait(0);
  EXPECT_EQ(await(q.get()), 0);
}

TEST_F(QueueGetTest, NonblockingGet) {
  Queue<int> q;
  q.put_nowait(0);
  EXPECT_EQ(q.get_nowait(), 0);
}

TEST_F(QueueGetTest, NonblockingGetOnEmptyRaisesQueueEmpty) {
  Queue<int> q;
  EXPECT_THROW(q.get_nowait(), QueueEmpty);
}

TEST_F(QueueGetTest, GetLetsAWaitingPutterIn) {
  Queue<int> q(1);
  q.put_nowait(0);
  Future<void> put = q.put(1);
  EXPECT_EQ(await(q.get()), 0);
  EXPECT_TRUE(put.done());
  await(put);
  EXPECT_EQ(q.get_nowait(), 1);
}

TEST_F(QueueGetTest, BlockingGetWaitsForLaterPuts) {
  Queue<int> q;
  (void)q.put(0);
  io_loop().call_later(10ms, [&] { q.put_nowait(1); });
  io_loop().call_later(20ms, [&] { q.put_nowait(2); });
  EXPECT_EQ(await(q.get(1s)), 0);
  EXPECT_EQ(await(q.get(1s)), 1);
  EXPECT_EQ(await(q.get(1s)), 2);
}

TEST_F(QueueGetTest, GetTimeoutRaisesAndTheNextGetterStillWorks) {
  Queue<int> q;
  Future<int> get_timeout = q.get(10ms);
  Future<int> get = q.get();
  EXPECT_THROW(await(get_timeout), TimeoutError);
  q.put_nowait(0);
  EXPECT_EQ(await(get), 0);
}

TEST_F(QueueGetTest, GetTimeoutPreemptedByPut) {
  Queue<int> q;
  Future<int> get = q.get(10ms);
  (void)q.put(0);
  pause(20ms);
  EXPECT_EQ(await(get), 0);
  EXPECT_EQ(io_loop().pending_timeouts(), 0u);
}

TEST_F(QueueGetTest, TimedOutGetterNeverReceivesAnItem) {
  Queue<int> q;
  Future<int> timed = q.get(5ms);
  pause(10ms);
  q.put_nowait(42);
  EXPECT_EQ(q.qsize(), 1u);  // not swallowed by the dead getter
  EXPECT_THROW(timed.result(), TimeoutError);
  EXPECT_EQ(q.get_nowait(), 42);
}

TEST_F(QueueGetTest, GetDropsTimedOutPutters) {
  Queue<int> q(1);
  std::vector<Future<void>> putters;
  for (int i = 0; i < 10; ++i) putters.push_back(q.put(i, 10ms));  // the first succeeds
  Future<void> put = q.put(10);
  EXPECT_EQ(q.putter_count(), 10u);
  pause(20ms);
  EXPECT_EQ(q.putter_count(), 10u);  // dropped lazily
  EXPECT_FALSE(put.done());          // the last putter is still waiting
  Future<void> put11 = q.put(11);
  EXPECT_EQ(q.putter_count(), 2u);
  EXPECT_EQ(await(q.get()), 0);  // get() lets putter 10 in
  EXPECT_EQ(q.putter_count(), 1u);
  for (std::size_t i = 1; i < putters.size(); ++i) {
    EXPECT_THROW(putters[i].result(), TimeoutError);
  }
  EXPECT_EQ(q.get_nowait(), 10);  // 1..9 never entered the queue
  EXPECT_EQ(q.get_nowait(), 11);
  EXPECT_TRUE(put11.done());
}

TEST_F(QueueGetTest, GetDropsTimedOutGetters) {
  Queue<int> q;
  std::vector<Future<int>> getters;
  for (int i = 0; i < 10; ++i) getters.push_back(q.get(10ms));
  Future<int> get = q.get();
  EXPECT_EQ(q.getter_count(), 11u);
  pause(20ms);
  EXPECT_EQ(q.getter_count(), 11u);
  EXPECT_FALSE(get.done());
  Future<int> another = q.get();
  EXPECT_EQ(q.getter_count(), 2u);
  for (auto& g : getters) EXPECT_THROW(g.result(), TimeoutError);
  q.put_nowait(1);
  q.put_nowait(2);
  EXPECT_EQ(await(get), 1);
  EXPECT_EQ(await(another), 2);
}

TEST_F(QueueGetTest, ConsumeLoopEndsOnSentinel) {
  // Tornado's `async for item in q` loop, written with get().
  Queue<int> q;
  for (int i = 0; i < 5; ++i) (void)q.put(i);
  auto results = run_sync([&]() -> Task<std::vector<int>> {
    std::vector<int> out;
    for (;;) {
      int item = co_await q.get();
      out.push_back(item);
      if (item == 4) co_return out;
    }
  });
  EXPECT_EQ(results, (std::vector<int>{0, 1, 2, 3, 4}));
}

TEST_F(QueueGetTest, ZeroTimeoutGetReturnsOrRaisesAtOnce) {
  Queue<int> q;
  Future<int> empty = q.get(0s);
  ASSERT_TRUE(empty.done());
  EXPECT_THROW(empty.result(), TimeoutError);
  EXPECT_EQ(q.getter_count(), 0u);
  q.put_nowait(5);
  Future<int> full = q.get(0s);
  ASSERT_TRUE(full.done());
  EXPECT_EQ(full.result(), 5);
}

// ---- put ------------------------------------------------------------------------------

using QueuePutTest = QueueTest;

TEST_F(QueuePutTest, BlockingPut) {
  Queue<int> q;
  await(q.put(0));
  EXPECT_EQ(q.get_nowait(), 0);
}

TEST_F(QueuePutTest, NonblockingPutOnFullRaisesQueueFull) {
  Queue<int> q(1);
  (void)q.put(0);
  EXPECT_THROW(q.put_nowait(1), QueueFull);
  EXPECT_EQ(q.qsize(), 1u);
}

TEST_F(QueuePutTest, PutServesWaitingGettersInOrder) {
  Queue<int> q;
  Future<int> get0 = q.get();
  Future<int> get1 = q.get();
  await(q.put(0));
  EXPECT_EQ(await(get0), 0);
  await(q.put(1));
  EXPECT_EQ(await(get1), 1);
  EXPECT_TRUE(q.empty());
}

TEST_F(QueuePutTest, PutNowaitResolvesGetterOnTheNextIteration) {
  Queue<int> q;
  Future<int> get0 = q.get();
  Future<int> get1 = q.get();
  int seen = -1;
  get0.add_done_callback([&](const Future<int>& f) { seen = f.result(); });
  q.put_nowait(0);
  EXPECT_EQ(seen, -1);  // put_nowait does not run the getter's code synchronously
  loop_briefly();
  EXPECT_EQ(seen, 0);
  EXPECT_EQ(await(get0), 0);
  q.put_nowait(1);
  loop_briefly();
  EXPECT_EQ(await(get1), 1);
}

TEST_F(QueuePutTest, BlockingPutWaitsForRoom) {
  Queue<int> q(1);
  q.put_nowait(0);
  io_loop().call_later(10ms, [&] { (void)q.get(); });
  io_loop().call_later(20ms, [&] { (void)q.get(); });
  Future<void> p0 = q.put(0);
  Future<void> p1 = q.put(1);
  EXPECT_FALSE(p0.done());
  EXPECT_FALSE(p1.done());
  run_sync([&]() -> Task<> { co_await when_all(p0, p1); });
}

TEST_F(QueuePutTest, PutTimeoutDropsTheItem) {
  Queue<int> q(1);
  q.put_nowait(0);  // now it is full
  Future<void> put_timeout = q.put(1, 10ms);
  Future<void> put = q.put(2);
  EXPECT_THROW(await(put_timeout), TimeoutError);
  EXPECT_EQ(q.get_nowait(), 0);
  EXPECT_EQ(await(q.get()), 2);  // 1 never entered the queue
  await(put);                    // the last get() let this putter in
}

TEST_F(QueuePutTest, PutTimeoutPreemptedByGet) {
  Queue<int> q(1);
  q.put_nowait(0);
  Future<void> put = q.put(1, 10ms);
  (void)q.get();
  pause(20ms);
  await(put);  // no TimeoutError
  EXPECT_EQ(q.get_nowait(), 1);
}

TEST_F(QueuePutTest, PutDropsTimedOutPutters) {
  Queue<int> q(1);
  std::vector<Future<void>> putters;
  for (int i = 0; i < 10; ++i) putters.push_back(q.put(i, 10ms));
  Future<void> put = q.put(10);
  EXPECT_EQ(q.putter_count(), 10u);
  pause(20ms);
  EXPECT_EQ(q.putter_count(), 10u);
  EXPECT_FALSE(put.done());
  Future<void> put11 = q.put(11);
  EXPECT_EQ(q.putter_count(), 2u);
  for (std::size_t i = 1; i < putters.size(); ++i) {
    EXPECT_THROW(putters[i].result(), TimeoutError);
  }
  EXPECT_EQ(q.get_nowait(), 0);
  EXPECT_EQ(q.get_nowait(), 10);
  EXPECT_EQ(q.get_nowait(), 11);
  EXPECT_TRUE(put.done() && put11.done());
}

TEST_F(QueuePutTest, PutDropsTimedOutGetters) {
  Queue<int> q;
  std::vector<Future<int>> getters;
  for (int i = 0; i < 10; ++i) getters.push_back(q.get(10ms));
  Future<int> get = q.get();
  Future<int> get2 = q.get();
  EXPECT_EQ(q.getter_count(), 12u);
  pause(20ms);
  EXPECT_EQ(q.getter_count(), 12u);
  EXPECT_FALSE(get.done());
  (void)q.put(0);  // skips the ten dead getters
  EXPECT_EQ(q.getter_count(), 1u);
  EXPECT_EQ(await(get), 0);
  for (auto& g : getters) EXPECT_THROW(g.result(), TimeoutError);
  q.put_nowait(1);
  EXPECT_EQ(await(get2), 1);
}

TEST_F(QueuePutTest, ZeroTimeoutPutReturnsOrRaisesAtOnce) {
  Queue<int> q(1);
  Future<void> room = q.put(1, 0s);
  ASSERT_TRUE(room.done());
  EXPECT_NO_THROW(room.result());
  Future<void> no_room = q.put(2, 0s);
  ASSERT_TRUE(no_room.done());
  EXPECT_THROW(no_room.result(), TimeoutError);
  EXPECT_EQ(q.putter_count(), 0u);
  EXPECT_EQ(q.qsize(), 1u);
  EXPECT_EQ(q.get_nowait(), 1);
  EXPECT_THROW(q.get_nowait(), QueueEmpty);  // 2 never entered
}

TEST_F(QueuePutTest, FractionalTimeout) {
  Queue<int> q(1);
  q.put_nowait(0);
  EXPECT_THROW(await(q.put(1, Duration(0.005))), TimeoutError);
  EXPECT_THROW(await(Queue<int>().get(Duration(0.005))), TimeoutError);
}

// ---- task_done / join, for every queue kind -------------------------------------------

template <typename Q>
class QueueJoinTest : public QueueTest {};

using QueueKinds = ::testing::Types<Queue<int>, PriorityQueue<int>, LifoQueue<int>>;
TYPED_TEST_SUITE(QueueJoinTest, QueueKinds);

TYPED_TEST(QueueJoinTest, TaskDoneUnderflowThrows) {
  TypeParam q;
  try {
    q.task_done();
    FAIL() << "no exception";
  } catch (const std::logic_error& e) {
    EXPECT_STREQ(e.what(), "task_done() called too many times");
  }
}

TYPED_TEST(QueueJoinTest, TaskDoneFromTwoWorkersCompletesJoin) {
  TypeParam q;
  for (int i = 0; i < 100; ++i) q.put_nowait(i);
  int accumulator = 0;
  std::mt19937 rng(12345);
  // -1 stops a worker, so no coroutine is left suspended when the test ends.
  auto worker = [&]() -> Task<> {
    for (;;) {
      int item = co_await q.get();
      if (item < 0) {
        q.task_done();
        co_return;
      }
      accumulator += item;
      q.task_done();
      co_await sleep(Duration(std::uniform_real_distribution<double>(0, 0.002)(rng)));
    }
  };
  Future<void> w1 = spawn(worker());
  Future<void> w2 = spawn(worker());
  this->run_sync([&]() -> Task<> {
    co_await q.join();
    EXPECT_EQ(accumulator, 99 * 100 / 2);
    q.put_nowait(-1);
    q.put_nowait(-1);
    co_await when_all(w1, w2);
    co_await q.join();
  });
  EXPECT_EQ(q.unfinished_tasks(), 0u);
}

TYPED_TEST(QueueJoinTest, TaskDoneNotGetUnblocksJoin) {
  TypeParam q;
  q.put_nowait(0);
  Future<void> join = q.join();
  EXPECT_FALSE(join.done());
  EXPECT_EQ(this->await(q.get()), 0);
  EXPECT_FALSE(join.done());
  this->loop_briefly();
  EXPECT_FALSE(join.done());
  q.task_done();
  EXPECT_TRUE(join.done());
}

TYPED_TEST(QueueJoinTest, JoinOnEmptyQueueIsDone) {
  TypeParam q;
  this->await(q.join());
  this->await(q.join());
  EXPECT_TRUE(q.join(0s).done());
}

TYPED_TEST(QueueJoinTest, JoinTimeout) {
  TypeParam q;
  (void)q.put(0);
  EXPECT_THROW(this->await(q.join(10ms)), TimeoutError);
  Future<void> zero = q.join(0s);
  ASSERT_TRUE(zero.done());
  EXPECT_THROW(zero.result(), TimeoutError);
}

// ---- ordering of PriorityQueue and LifoQueue -------------------------------------------

TEST_F(QueueTest, PriorityQueueReturnsLowestFirst) {
  PriorityQueue<std::pair<int, std::string>> q(2);
  q.put_nowait({1, "a"});
  q.put_nowait({0, "b"});
  EXPECT_TRUE(q.full());
  Future<void> put_c = q.put({3, "c"});
  Future<void> put_d = q.put({2, "d"});
  using Item = std::pair<int, std::string>;
  EXPECT_EQ(q.get_nowait(), (Item{0, "b"}));
  EXPECT_EQ(await(q.get()), (Item{1, "a"}));
  EXPECT_EQ(q.get_nowait(), (Item{2, "d"}));
  EXPECT_EQ(await(q.get()), (Item{3, "c"}));
  EXPECT_TRUE(q.empty());
  EXPECT_TRUE(put_c.done() && put_d.done());
}

TEST_F(QueueTest, PriorityQueueWithCustomComparator) {
  PriorityQueue<int, std::greater<int>> q;
  for (int i : {5, 1, 9, 3, 7}) q.put_nowait(i);
  std::vector<int> out;
  while (!q.empty()) out.push_back(q.get_nowait());
  EXPECT_EQ(out, (std::vector<int>{9, 7, 5, 3, 1}));
  EXPECT_EQ(q.repr(), "<PriorityQueue maxsize=0 tasks=5>");
}

TEST_F(QueueTest, PriorityQueueManyItemsComeOutSorted) {
  PriorityQueue<int> q;
  std::mt19937 rng(7);
  std::vector<int> in(5000);
  for (int& v : in) v = static_cast<int>(rng() % 100000);
  for (int v : in) q.put_nowait(v);
  std::vector<int> out;
  while (!q.empty()) out.push_back(q.get_nowait());
  std::sort(in.begin(), in.end());
  EXPECT_EQ(out, in);
}

TEST_F(QueueTest, LifoQueueReturnsNewestFirst) {
  LifoQueue<int> q(2);
  q.put_nowait(1);
  q.put_nowait(0);
  EXPECT_TRUE(q.full());
  (void)q.put(3);
  (void)q.put(2);
  EXPECT_EQ(q.get_nowait(), 3);
  EXPECT_EQ(await(q.get()), 2);
  EXPECT_EQ(q.get_nowait(), 0);
  EXPECT_EQ(await(q.get()), 1);
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.repr(), "<LifoQueue maxsize=2 tasks=4>");
}

// ---- producer / consumer ---------------------------------------------------------------

TEST_F(QueueTest, ProducerConsumer) {
  Queue<int> q(3);
  std::vector<int> history;
  // No suspension between get() and task_done(): get() itself must resume on a later
  // iteration, or join() would complete before the producer put everything.
  auto consumer = [&]() -> Task<> {
    for (int i = 0; i < 10; ++i) {
      history.push_back(co_await q.get());
      q.task_done();
    }
  };
  auto producer = [&]() -> Task<> {
    for (int item = 0; item < 10; ++item) co_await q.put(item);
  };
  Future<void> c = spawn(consumer());
  run_sync([&]() -> Task<> {
    co_await producer();
    co_await q.join();
    co_await c;
  });
  std::vector<int> expected(10);
  std::iota(expected.begin(), expected.end(), 0);
  EXPECT_EQ(history, expected);
}

TEST_F(QueueTest, ManyProducersAndConsumersLoseNothing) {
  Queue<int> q(8);
  constexpr int kProducers = 4, kPerProducer = 2500, kConsumers = 3;
  long long sum = 0;
  int received = 0;
  auto producer = [&](int base) -> Task<> {
    for (int i = 0; i < kPerProducer; ++i) co_await q.put(base + i);
  };
  auto consumer = [&]() -> Task<> {
    for (;;) {
      int item = co_await q.get();
      q.task_done();
      if (item < 0) co_return;
      sum += item;
      ++received;
    }
  };
  run_sync([&]() -> Task<> {
    std::vector<Future<void>> consumers;
    for (int i = 0; i < kConsumers; ++i) consumers.push_back(spawn(consumer()));
    std::vector<Task<>> producers;
    for (int p = 0; p < kProducers; ++p) producers.push_back(producer(p * kPerProducer));
    co_await when_all(std::move(producers));
    co_await q.join();
    for (int i = 0; i < kConsumers; ++i) co_await q.put(-1);
    for (auto& c : consumers) co_await c;
  });
  constexpr long long n = kProducers * kPerProducer;
  EXPECT_EQ(received, n);
  EXPECT_EQ(sum, n * (n - 1) / 2);
  EXPECT_TRUE(q.empty());
}

}  // namespace

}  // namespace queues_test
