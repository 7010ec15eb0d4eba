// pubsub: a loop thread that falls behind the threads publishing to it holds at most the
// topic's max_queued_bytes of undelivered messages; the rest are not queued for it, and its
// subscribers learn of them (counted as dropped, in order, nothing after a gap is lost).
#include "tornado/pubsub.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

using namespace tornado;
using namespace std::chrono_literals;
using pubsub::Hub;
using pubsub::MessagePtr;

namespace {

// A loop thread with one callback subscriber to "t" whose loop is kept busy (blocked in a
// callback) until release().
class BlockedLoop {
 public:
  explicit BlockedLoop(Hub& hub) {
    thread_ = std::thread([this, &hub] {
      IOLoop loop(true);
      auto sub = hub.subscribe("t", [this](const MessagePtr& m) {
        offsets_.push_back(m->position().offset);
        delivered_++;
      });
      loop.add_callback([this] {
        blocked_ = true;
        while (!released_) std::this_thread::sleep_for(1ms);
      });
      PeriodicCallback poll([&] {
        if (stop_) loop.stop();
      }, Duration(0.002));
      poll.start();
      loop.start();
    });
    while (!blocked_) std::this_thread::sleep_for(1ms);
  }
  ~BlockedLoop() {
    released_ = true;
    stop_ = true;
    thread_.join();
  }
  void release() { released_ = true; }
  // Waits until `n` messages were delivered (or 10 s).
  void wait_for(int n) {
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (delivered_ < n && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(2ms);
    }
    std::this_thread::sleep_for(20ms);  // and nothing more arrives
  }
  // Read after wait_for (the loop is idle then: delivered_ orders it).
  const std::vector<uint64_t>& offsets() const { return offsets_; }

 private:
  std::thread thread_;
  std::vector<uint64_t> offsets_;
  std::atomic<int> delivered_{0};
  std::atomic<bool> blocked_{false}, released_{false}, stop_{false};
};

TEST(HubQueueBoundTest, LoopBehindItsPublisherQueuesOnlyTheBoundAndCountsTheRestDropped) {
  Hub hub;
  pubsub::TopicOptions o;
  o.slow_consumer = pubsub::SlowConsumerPolicy::kDropNewest;
  o.max_queued_bytes = 64 * 1024;
  hub.configure("t", o);
  BlockedLoop loop(hub);
  const std::string kilobyte(1024, 'x');
  for (int i = 0; i < 1000; ++i) hub.publish("t", kilobyte);  // 1000 KiB for a stuck loop
  loop.release();
  loop.wait_for(64);
  // The first 64 KiB were queued and delivered in order; the other 936 were never queued.
  ASSERT_EQ(loop.offsets().size(), 64u);
  for (uint64_t i = 0; i < 64; ++i) EXPECT_EQ(loop.offsets()[i], i + 1);
  EXPECT_EQ(hub.stats("t").dropped, 936u);
  // Caught up, the loop gets the next message.
  hub.publish("t", "next");
  loop.wait_for(65);
  ASSERT_EQ(loop.offsets().size(), 65u);
  EXPECT_EQ(loop.offsets().back(), 1001u);
}

TEST(HubQueueBoundTest, MessageLargerThanTheBoundStillReachesAnIdleLoop) {
  Hub hub;
  pubsub::TopicOptions o;
  o.max_queued_bytes = 1024;
  hub.configure("t", o);
  BlockedLoop loop(hub);
  hub.publish("t", std::string(100 * 1024, 'x'));  // nothing queued: it goes
  hub.publish("t", "small");                        // behind 100 KiB: skipped
  loop.release();
  loop.wait_for(1);
  EXPECT_EQ(loop.offsets(), std::vector<uint64_t>({1}));
  EXPECT_EQ(hub.stats("t").dropped, 1u);
}

TEST(HubQueueBoundTest, DefaultBoundLeavesOrdinaryBurstsWhole) {
  Hub hub;
  BlockedLoop loop(hub);
  for (int i = 0; i < 5000; ++i) hub.publish("t", std::string(1000, 'x'));  // 5 MB < 64 MiB
  loop.release();
  loop.wait_for(5000);
  EXPECT_EQ(loop.offsets().size(), 5000u);
  EXPECT_EQ(hub.stats("t").dropped, 0u);
}

}  // namespace
