// The moments in which a hub backed by Redis holds a subscriber's messages: a first live
// subscriber of a topic this process does not yet receive from Redis (its SUBSCRIBE is on
// its way; what another process publishes meanwhile is filled from the topic's Redis
// stream), and a subscriber recovering from a position (its live messages wait behind the
// read, within a bound). The test holds each moment open with a gate instead of hoping to
// publish inside a millisecond.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <thread>
#include <iostream>

#include "internal/pubsub_redis.h"
#include "pubsub_redis_fixture.h"

namespace pubsub_redis_gap_test {

using namespace tornado;
using namespace std::chrono_literals;
using pubsub::Hub;
using pubsub::MessagePtr;
using pubsub::Recovery;
using test::V;

namespace {

// Holds what one of the backend's test hooks gates (a SUBSCRIBE, a history read) for `topic`,
// in every hub, until open() is called.
class TopicGate {
 public:
  using Hook = std::function<Future<void>(const std::string& topic)>;
  TopicGate(Hook& hook, std::string topic) : hook_(hook), topic_(std::move(topic)) {
    hook_ = [this](const std::string& topic) {
      if (topic == topic_) ++calls_;
      if (topic != topic_ || opened_) {
        Future<void> ready;
        ready.set_result();
        return ready;
      }
      ++held_;
      return Future<void>(gate_);
    };
  }
  ~TopicGate() {
    open();
    hook_ = nullptr;
  }
  void open() {
    if (opened_) return;
    opened_ = true;
    gate_.set_result();
  }
  int held() const { return held_; }
  int calls() const { return calls_; }

 private:
  Hook& hook_;
  std::string topic_;
  Future<void> gate_;
  bool opened_ = false;
  int held_ = 0;
  int calls_ = 0;
};

// Holds the SUBSCRIBE of `topic`.
struct SubscribeGate : TopicGate {
  explicit SubscribeGate(std::string topic)
      : TopicGate(pubsub::detail::subscribe_gate_for_test, std::move(topic)) {}
};

// Holds every history read of `topic`.
struct ReadGate : TopicGate {
  explicit ReadGate(std::string topic)
      : TopicGate(pubsub::detail::read_gate_for_test, std::move(topic)) {}
  int reads() const { return calls(); }
};

class HubRedisGapTest : public test::HubRedisTest {
 protected:
  void TearDown() override {
    c.reset();
    HubRedisTest::TearDown();
  }
  // A third hub with options of its own.
  Hub& hub_c(pubsub::RedisOptions o) {
    c = std::make_unique<Hub>();
    o.port = redis->port();
    run_sync([&]() -> Task<> { co_await c->connect_redis(o); });
    return *c;
  }
  std::unique_ptr<Hub> c;

  // Hub b publishes "0", "1", "2", ... to `topic`, one every half millisecond, while this
  // runs; `issued` is how many it has published (the next number).
  Task<> publish_from_b(std::string topic, std::atomic<bool>& stop, int& issued) {
    while (!stop) {
      b->publish(topic, std::to_string(issued++));
      co_await sleep(0.5ms);
    }
  }

  // Subscribes on hub a to `topic` while hub b publishes, with the SUBSCRIBE held until 40
  // more have been published; returns the numbers received, the first number published
  // after subscribe returned, and the last one published.
  struct Run {
    std::vector<int> got;
    int first_after = 0;
    int last = 0;
    std::vector<Recovery> told;
  };
  Run subscribe_while_b_publishes(const std::string& topic, Hub* on = nullptr, int before = 20) {
    Hub& subscriber = on ? *on : *a;
    Run run;
    SubscribeGate gate(topic);
    std::atomic<bool> stop{false};
    int issued = 0;
    pubsub::Subscription s;
    run_sync([&]() -> Task<> {
      auto publisher = spawn(publish_from_b(topic, stop, issued));
      while (issued < before) co_await sleep(1ms);
      pubsub::SubscribeOptions o;
      o.on_recovery = [&run](Recovery r) { run.told.push_back(r); };
      s = subscriber.subscribe(topic, [&run](const MessagePtr& m) {
        run.got.push_back(std::stoi(std::string(m->data())));
      }, std::move(o));
      run.first_after = issued;  // the next publish is issued after subscribe returned
      while (issued < run.first_after + 40) co_await sleep(1ms);
      EXPECT_EQ(gate.held(), 1) << "the SUBSCRIBE was not held";
      gate.open();
      while (issued < run.first_after + 200) co_await sleep(1ms);
      stop = true;
      co_await Future<void>(publisher);
    }, Duration(30));
    run.last = issued - 1;
    wait_until([&] { return !run.got.empty() && run.got.back() >= run.last; });
    return run;
  }

  // The run received is contiguous, begins at or before `first_after`, ends at `last`.
  static void expect_no_gap(const Run& run) {
    ASSERT_FALSE(run.got.empty());
    EXPECT_LE(run.got.front(), run.first_after) << "the first messages after subscribe were lost";
    EXPECT_EQ(run.got.back(), run.last);
    for (std::size_t i = 1; i < run.got.size(); ++i) {
      ASSERT_EQ(run.got[i], run.got[i - 1] + 1) << "a gap or a repeat at " << i;
    }
    EXPECT_TRUE(run.told.empty()) << "told of a gap";
  }
};

TEST_F(HubRedisGapTest, FirstSubscriberWithoutHistoryGetsEveryMessagePublishedAfterSubscribe) {
  Run run = subscribe_while_b_publishes("live");
  expect_no_gap(run);
}

TEST_F(HubRedisGapTest, FirstSubscriberOfTopicWithHistoryGetsEveryMessagePublishedAfterSubscribe) {
  pubsub::TopicOptions o;
  o.history_size = 1000;
  a->configure("kept", o);
  b->configure("kept", o);
  Run run = subscribe_while_b_publishes("kept", nullptr, 400);
  expect_no_gap(run);
  // A live subscriber is not handed the history (400 messages, 200 ms of it), only what the
  // clock's margin admits (a few ms: the last TIME reply's latency, 2 ms, 0.1 %).
  EXPECT_GE(run.got.front(), run.first_after - 100);
  std::cout << "[ figures  ] received from " << run.got.front() << ", first after subscribe "
            << run.first_after << "\n";
}

TEST_F(HubRedisGapTest, JoinersOfOneTopicShareOneReadAndEachGetsEveryMessage) {
  // Three subscribers arrive while the SUBSCRIBE is held, with messages published between
  // them: one read (from the earliest floor) fills all three, each from at or before the
  // first message published after its own subscribe.
  SubscribeGate gate("live");
  ReadGate reads("live");
  reads.open();  // not held: counted
  std::vector<std::vector<int>> got(3);
  std::vector<int> first_after(3);
  std::vector<pubsub::Subscription> subs;
  int issued = 0;
  run_sync([&]() -> Task<> {
    for (int k = 0; k < 3; ++k) {
      subs.push_back(a->subscribe("live", [&got, k](const MessagePtr& m) {
        got[k].push_back(std::stoi(std::string(m->data())));
      }));
      first_after[k] = issued;
      for (int i = 0; i < 10; ++i) b->publish("live", std::to_string(issued++));
      co_await sleep(5ms);
    }
    gate.open();
    for (int i = 0; i < 10; ++i) b->publish("live", std::to_string(issued++));
  });
  wait_until([&] {
    return std::all_of(got.begin(), got.end(),
                       [&](const auto& g) { return !g.empty() && g.back() == issued - 1; });
  });
  EXPECT_EQ(reads.reads(), 1);
  for (int k = 0; k < 3; ++k) {
    ASSERT_FALSE(got[k].empty()) << k;
    EXPECT_LE(got[k].front(), first_after[k]) << k;
    EXPECT_EQ(got[k].back(), issued - 1) << k;
    for (std::size_t i = 1; i < got[k].size(); ++i) ASSERT_EQ(got[k][i], got[k][i - 1] + 1) << k;
  }
}

TEST_F(HubRedisGapTest, JoinerOnAnotherLoopThreadIsFilledOnItsOwnLoop) {
  // The hub's Redis connections live on the test's loop; the subscriber on a loop thread of
  // its own. Its fill is read on the home loop and handed over to its loop.
  SubscribeGate gate("live");
  std::mutex mu;
  std::vector<int> got;
  std::atomic<bool> other_thread_called{false};
  std::atomic<bool> subscribed{false};
  std::atomic<bool> stop{false};
  std::thread other([&] {
    IOLoop loop(true);
    const auto me = std::this_thread::get_id();
    pubsub::Subscription s = a->subscribe("live", [&](const MessagePtr& m) {
      if (std::this_thread::get_id() != me) other_thread_called = true;
      std::lock_guard lock(mu);
      got.push_back(std::stoi(std::string(m->data())));
    });
    subscribed = true;
    PeriodicCallback poll([&] {
      if (stop) loop.stop();
    }, Duration(0.005));
    poll.start();
    loop.start();
    s.cancel();
  });
  int issued = 0;
  int first_after = 0;
  run_sync([&]() -> Task<> {
    while (!subscribed) co_await sleep(1ms);
    first_after = issued;  // every publish from here is issued after subscribe returned
    for (int i = 0; i < 10; ++i) b->publish("live", std::to_string(issued++));
    co_await sleep(20ms);
    gate.open();
    for (int i = 0; i < 10; ++i) b->publish("live", std::to_string(issued++));
  });
  wait_until([&] {
    std::lock_guard lock(mu);
    return !got.empty() && got.back() == issued - 1;
  });
  stop = true;
  other.join();
  EXPECT_EQ(gate.held(), 1);
  EXPECT_FALSE(other_thread_called);
  std::lock_guard lock(mu);
  ASSERT_FALSE(got.empty());
  EXPECT_LE(got.front(), first_after);
  EXPECT_EQ(got.back(), issued - 1);
  for (std::size_t i = 1; i < got.size(); ++i) ASSERT_EQ(got[i], got[i - 1] + 1) << i;
}

TEST_F(HubRedisGapTest, FirstSubscriberIsToldWhenTheJoinWindowCannotFillItsGap) {
  // The join window keeps 5 messages: the 40 published while the SUBSCRIBE is held are not
  // all there. The subscriber is told (kUnrecoverable, once) and goes on live, gapless.
  pubsub::RedisOptions o;
  o.join_window_entries = 5;
  Hub& small = hub_c(o);
  Run run = subscribe_while_b_publishes("live", &small);
  ASSERT_EQ(run.told, std::vector<Recovery>({Recovery::kUnrecoverable}));
  ASSERT_FALSE(run.got.empty());
  EXPECT_GT(run.got.front(), run.first_after + 5);  // none of the read was delivered
  for (std::size_t i = 1; i < run.got.size(); ++i) ASSERT_EQ(run.got[i], run.got[i - 1] + 1);
  EXPECT_EQ(run.got.back(), run.last);
}

TEST_F(HubRedisGapTest, WithoutJoinWindowTopicWithoutHistoryKeepsNothingInRedis) {
  pubsub::RedisOptions o;
  o.join_window = Duration(0);
  Hub& plain = hub_c(o);
  V out;
  auto s = record(plain, "live", out);
  settle();
  plain.publish("live", "m1");
  wait_for(out, 1);
  EXPECT_EQ(out, V({"m1@1"}));
  EXPECT_EQ(command({"EXISTS", "tornado:history:live"}).integer, 0);
  // With the default window the same topic's messages stay in Redis for it.
  a->publish("live", "m2");
  wait_for(out, 2);
  EXPECT_EQ(command({"XLEN", "tornado:history:live"}).integer, 1);
  EXPECT_GT(command({"PTTL", "tornado:history:live"}).integer, 0);
}

TEST_F(HubRedisGapTest, SubscribingAgainAtOnceAfterTheLastLeftLosesNothing) {
  // The last subscriber leaving and a new one arriving in one loop turn: the hub's
  // UNSUBSCRIBE and SUBSCRIBE would cross; the Redis subscription is kept instead.
  std::atomic<bool> stop{false};
  int issued = 0;
  std::vector<int> got;
  int first_after = 0;
  pubsub::Subscription s;
  run_sync([&]() -> Task<> {
    auto publisher = spawn(publish_from_b("live", stop, issued));
    s = a->subscribe("live", [](const MessagePtr&) {});
    co_await sleep(50ms);
    s.cancel();
    s = a->subscribe("live", [&got](const MessagePtr& m) {
      got.push_back(std::stoi(std::string(m->data())));
    });
    first_after = issued;
    while (issued < first_after + 100) co_await sleep(1ms);
    stop = true;
    co_await Future<void>(publisher);
  }, Duration(30));
  wait_until([&] { return !got.empty() && got.back() >= issued - 1; });
  ASSERT_FALSE(got.empty());
  EXPECT_LE(got.front(), first_after);
  for (std::size_t i = 1; i < got.size(); ++i) ASSERT_EQ(got[i], got[i - 1] + 1) << i;
  EXPECT_EQ(got.back(), issued - 1);
  EXPECT_EQ(channel_subscribers("live"), 1);
}

// A recovering subscriber's live messages wait behind the Redis read, up to the topic's
// max_pending_bytes (10 KiB here); the read is held by the gate while hub a publishes.
class HubRedisHeldTest : public HubRedisGapTest {
 protected:
  void SetUp() override {
    HubRedisGapTest::SetUp();
    pubsub::TopicOptions o;
    o.history_size = 1000;
    o.max_pending_bytes = 10 * 1024;
    a->configure("room", o);
    b->configure("room", o);
  }
  // m1..m3 are in Redis; b subscribes from m1 with its read held, a publishes `count` more
  // messages of 1 KiB while it is held, then the gate opens and one more follows.
  void recover_while_held(int count, V& out, std::vector<Recovery>& told,
                          pubsub::Subscription& s) {
    V on_a;
    auto sa = record(*a, "room", on_a);
    settle();
    for (int i = 1; i <= 3; ++i) a->publish("room", "m" + std::to_string(i));
    wait_for(on_a, 3);
    ReadGate gate("room");
    pubsub::SubscribeOptions o;
    o.since = pubsub::StreamPosition{a->stats("room").position.epoch, 1};
    o.on_recovery = [&told](Recovery r) { told.push_back(r); };
    s = b->subscribe("room", [&out](const MessagePtr& m) {
      out.push_back(std::string(m->data().substr(0, m->data().find(':'))) + "@" +
                    std::to_string(m->position().offset));
    }, std::move(o));
    wait_until([&] { return gate.held() == 1; });
    ASSERT_EQ(gate.held(), 1);
    for (int i = 4; i < 4 + count; ++i) {
      std::string data = "m" + std::to_string(i) + ":";
      data.resize(1024, 'x');
      a->publish("room", data);
    }
    wait_for(on_a, static_cast<std::size_t>(3 + count));
    wait_until([&] { return b->stats("room").published >= static_cast<uint64_t>(count); });
    ASSERT_EQ(b->stats("room").published, static_cast<uint64_t>(count));  // all held or dropped
    EXPECT_TRUE(told.empty());
    EXPECT_TRUE(out.empty()) << "delivered before the recovery";
    gate.open();
    wait_until([&] { return !told.empty(); });
    a->publish("room", "last");
    wait_until([&] { return !out.empty() && out.back().starts_with("last"); });
  }
};

TEST_F(HubRedisHeldTest, LiveMessagesHeldWithinTheBoundFollowTheRecovery) {
  V out;
  std::vector<Recovery> told;
  pubsub::Subscription s;
  recover_while_held(8, out, told, s);  // 8 KiB held
  ASSERT_EQ(told, std::vector<Recovery>({Recovery::kRecovered}));
  V want;
  for (int i = 2; i <= 11; ++i) want.push_back("m" + std::to_string(i) + "@" + std::to_string(i));
  want.push_back("last@12");
  EXPECT_EQ(out, want);
  EXPECT_EQ(b->stats("room").dropped, 0u);
}

TEST_F(HubRedisHeldTest, LiveMessagesPastTheBoundAreDroppedCountedAndTheRecoveryUnrecoverable) {
  V out;
  std::vector<Recovery> told;
  pubsub::Subscription s;
  recover_while_held(30, out, told, s);  // 30 KiB: past 10 KiB at the 10th
  ASSERT_EQ(told, std::vector<Recovery>({Recovery::kUnrecoverable}));
  EXPECT_EQ(out, V({"last@34"}));  // neither the history nor a part of what was held
  EXPECT_EQ(b->stats("room").dropped, 30u);
  EXPECT_EQ(s.recovery(), Recovery::kUnrecoverable);
}

TEST_F(HubRedisHeldTest, NewSubscriberWhoseHeldMessagesPassTheBoundIsToldAndCounted) {
  // A first live subscriber's fill read held: what arrives live meanwhile waits within the
  // same bound; past it, dropped, counted, and told.
  pubsub::TopicOptions o;
  o.max_pending_bytes = 10 * 1024;
  a->configure("live", o);
  ReadGate gate("live");
  V out;
  std::vector<Recovery> told;
  pubsub::SubscribeOptions so;
  so.on_recovery = [&told](Recovery r) { told.push_back(r); };
  auto s = a->subscribe("live", [&out](const MessagePtr& m) {
    out.push_back(std::string(m->data().substr(0, m->data().find(':'))));
  }, std::move(so));
  wait_until([&] { return gate.held() == 1; });  // the SUBSCRIBE landed, the read is held
  ASSERT_EQ(gate.held(), 1);
  for (int i = 1; i <= 30; ++i) {
    std::string data = "m" + std::to_string(i) + ":";
    data.resize(1024, 'x');
    b->publish("live", data);
  }
  wait_until([&] { return a->stats("live").published >= 30; });  // all arrived, held or dropped
  EXPECT_TRUE(out.empty());
  gate.open();
  wait_until([&] { return !told.empty(); });
  ASSERT_EQ(told, std::vector<Recovery>({Recovery::kUnrecoverable}));
  EXPECT_EQ(a->stats("live").dropped, 30u);
  b->publish("live", "last");
  wait_for(out, 1);
  EXPECT_EQ(out, V({"last"}));
}

}  // namespace

}  // namespace pubsub_redis_gap_test
