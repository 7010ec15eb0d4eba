// pubsub::Hub with callback subscribers: delivery once and in order, subscribe/cancel during
// delivery, loop threads, history and recovery, presence, options, stream positions.
#include "tornado/pubsub.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "tornado/testing.h"

namespace pubsub_test {

using namespace tornado;
using namespace std::chrono_literals;
using pubsub::Hub;
using pubsub::MessagePtr;
using pubsub::Recovery;
using pubsub::StreamPosition;

namespace {

class HubTest : public tornado::testing::AsyncTest {
 protected:
  // Lets the loop run the deliveries queued so far.
  void settle() {
    run_sync([]() -> Task<> { co_await sleep(5ms); });
  }
  // A subscriber that records "data@offset".
  pubsub::Subscription record(Hub& hub, std::string topic, std::vector<std::string>& out,
                              pubsub::SubscribeOptions options = {}) {
    return hub.subscribe(
        topic,
        [&out](const MessagePtr& m) {
          out.push_back(std::string(m->data()) + "@" + std::to_string(m->position().offset));
        },
        std::move(options));
  }
  Hub hub;
};

using V = std::vector<std::string>;

TEST_F(HubTest, EverySubscriberReceivesEachMessageOnceInPublishOrder) {
  V a, b, c;
  auto sa = record(hub, "t", a), sb = record(hub, "t", b), sc = record(hub, "t", c);
  V expected;
  for (int i = 1; i <= 100; ++i) {
    auto pos = hub.publish("t", "m" + std::to_string(i));
    EXPECT_EQ(pos.offset, static_cast<uint64_t>(i));
    expected.push_back("m" + std::to_string(i) + "@" + std::to_string(i));
  }
  settle();
  EXPECT_EQ(a, expected);
  EXPECT_EQ(b, expected);
  EXPECT_EQ(c, expected);
  EXPECT_EQ(hub.stats("t").published, 100u);
}

TEST_F(HubTest, OtherTopicsAreNotDelivered) {
  V a;
  auto s = record(hub, "news", a);
  hub.publish("sports", "goal");
  hub.publish("news", "flash");
  settle();
  EXPECT_EQ(a, V({"flash@1"}));
}

TEST_F(HubTest, PublishWithoutSubscribersOrHistoryGoesNowhere) {
  EXPECT_EQ(hub.publish("empty", "x"), StreamPosition{});
  EXPECT_EQ(hub.stats("empty").published, 0u);
}

TEST_F(HubTest, TextMustBeUtf8ButBinaryNeedNot) {
  V a;
  auto s = record(hub, "t", a);
  EXPECT_THROW(hub.publish("t", "\xff\xfe"), std::invalid_argument);
  EXPECT_THROW(hub.publish("t", "ab\xc3"), std::invalid_argument);  // cut code point
  hub.publish("t", std::string("\xff\x00\xfe", 3), /*binary=*/true);
  settle();
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0], std::string("\xff\x00\xfe", 3) + "@1");
}

TEST_F(HubTest, CancelledSubscriptionReceivesNothingMoreAndCountsFollow) {
  V a, b;
  auto sa = record(hub, "t", a);
  {
    auto sb = record(hub, "t", b);
    EXPECT_EQ(hub.subscriber_count("t"), 2u);
    hub.publish("t", "one");
    settle();
  }
  EXPECT_EQ(hub.subscriber_count("t"), 1u);
  sa.cancel();
  EXPECT_FALSE(sa.active());
  EXPECT_EQ(hub.subscriber_count("t"), 0u);
  hub.publish("t", "two");
  settle();
  EXPECT_EQ(a, V({"one@1"}));
  EXPECT_EQ(b, V({"one@1"}));
}

TEST_F(HubTest, MessageQueuedBeforeCancelIsNotDelivered) {
  V a;
  auto s = record(hub, "t", a);
  hub.publish("t", "queued");  // on the loop's queue, not yet delivered
  s.cancel();
  settle();
  EXPECT_TRUE(a.empty());
}

TEST_F(HubTest, ThrowingCallbackIsLoggedAndOthersStillReceive) {
  V b;
  tornado::testing::ExpectLog log(app_log(), "Exception in a pubsub callback on t: .*boom");
  auto sa = hub.subscribe("t", [](const MessagePtr&) { throw std::runtime_error("boom"); });
  auto sb = record(hub, "t", b);
  hub.publish("t", "x");
  hub.publish("t", "y");
  settle();
  EXPECT_EQ(b, V({"x@1", "y@2"}));
}

TEST_F(HubTest, SubscribeAndCancelInsideADeliveryAreSafe) {
  V late, victim_got;
  std::vector<pubsub::Subscription> made;
  pubsub::Subscription victim;
  auto killer = hub.subscribe("t", [&](const MessagePtr& m) {
    victim.cancel();  // a later entry of the list being walked
    if (m->position().offset == 1) made.push_back(record(hub, "t", late));
  });
  victim = record(hub, "t", victim_got);
  hub.publish("t", "a");
  hub.publish("t", "b");
  settle();
  EXPECT_TRUE(victim_got.empty());
  // Subscribed while "a" was delivered, after "b" was published: gets neither.
  EXPECT_TRUE(late.empty());
  hub.publish("t", "c");
  settle();
  EXPECT_EQ(late, V({"c@3"}));
  EXPECT_EQ(hub.subscriber_count("t"), 2u);
}

TEST_F(HubTest, SubscriptionMoveAssignmentCancelsTheOldOne) {
  V a, b;
  auto s = record(hub, "t", a);
  s = record(hub, "u", b);
  EXPECT_EQ(hub.subscriber_count("t"), 0u);
  EXPECT_EQ(hub.subscriber_count("u"), 1u);
}

// ---- loop threads ---------------------------------------------------------------------------

// Subscribers on two loop threads; two publisher threads. Every subscriber sees every
// message once, offsets 1..N with no gap, and each publisher's messages in its order.
TEST(HubThreadsTest, SubscribersOnTwoLoopThreadsReceiveEveryMessageOnceInOrder) {
  Hub hub;
  constexpr int kPerPublisher = 2000;
  constexpr int kSubsPerLoop = 5;
  struct Seen {
    std::vector<uint64_t> offsets;
    std::vector<std::string> data;
  };
  std::vector<Seen> seen(2 * kSubsPerLoop);
  std::atomic<int> ready{0};
  std::atomic<bool> stop{false};
  std::atomic<int> delivered{0};
  std::vector<std::thread> loops;
  for (int l = 0; l < 2; ++l) {
    loops.emplace_back([&, l] {
      IOLoop loop(true);
      std::vector<pubsub::Subscription> subs;
      for (int i = 0; i < kSubsPerLoop; ++i) {
        Seen& s = seen[l * kSubsPerLoop + i];
        subs.push_back(hub.subscribe("t", [&s, &delivered](const MessagePtr& m) {
          s.offsets.push_back(m->position().offset);
          s.data.emplace_back(m->data());
          delivered++;
        }));
      }
      ready++;
      PeriodicCallback poll([&] {
        if (stop) loop.stop();
      }, Duration(0.005));
      poll.start();
      loop.start();
      subs.clear();
    });
  }
  while (ready < 2) std::this_thread::yield();
  std::vector<std::thread> publishers;
  for (int p = 0; p < 2; ++p) {
    publishers.emplace_back([&, p] {
      for (int i = 0; i < kPerPublisher; ++i) {
        hub.publish("t", std::to_string(p) + ":" + std::to_string(i));
      }
    });
  }
  for (auto& t : publishers) t.join();
  // Every message was queued on both loops; wait until they were all delivered.
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (delivered < 2 * kSubsPerLoop * 2 * kPerPublisher &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(5ms);
  }
  stop = true;
  for (auto& t : loops) t.join();
  for (const Seen& s : seen) {
    ASSERT_EQ(s.offsets.size(), 2u * kPerPublisher);
    for (std::size_t i = 0; i < s.offsets.size(); ++i) ASSERT_EQ(s.offsets[i], i + 1);
    int next[2] = {0, 0};
    for (const auto& d : s.data) {
      const int p = d[0] - '0';
      ASSERT_EQ(d, std::to_string(p) + ":" + std::to_string(next[p]));
      ++next[p];
    }
  }
  EXPECT_EQ(hub.subscriber_count("t"), 0u);
}

// ---- history and recovery -------------------------------------------------------------------

class HubHistoryTest : public HubTest {
 protected:
  void SetUp() override {
    HubTest::SetUp();
    pubsub::TopicOptions o;
    o.history_size = 5;
    hub.configure("h", o);
  }
};

TEST_F(HubHistoryTest, RecoveryDeliversExactlyTheMissedMessagesThenLiveOnes) {
  for (int i = 1; i <= 4; ++i) hub.publish("h", "m" + std::to_string(i));
  const auto epoch = hub.stats("h").position.epoch;
  V got;
  pubsub::SubscribeOptions o;
  o.since = StreamPosition{epoch, 2};
  auto s = record(hub, "h", got, o);
  EXPECT_EQ(s.recovery(), Recovery::kRecovered);
  EXPECT_EQ(got, V({"m3@3", "m4@4"}));  // at once, before subscribe returned
  EXPECT_EQ(s.position(), (StreamPosition{epoch, 4}));
  hub.publish("h", "m5");
  settle();
  EXPECT_EQ(got, V({"m3@3", "m4@4", "m5@5"}));
}

TEST_F(HubHistoryTest, RecoveryAtTheCurrentPositionIsRecoveredWithNothing) {
  hub.publish("h", "a");
  V got;
  pubsub::SubscribeOptions o;
  o.since = hub.stats("h").position;
  auto s = record(hub, "h", got, o);
  EXPECT_EQ(s.recovery(), Recovery::kRecovered);
  EXPECT_TRUE(got.empty());
}

TEST_F(HubHistoryTest, PositionOlderThanTheHistoryIsUnrecoverable) {
  for (int i = 1; i <= 9; ++i) hub.publish("h", std::to_string(i));  // keeps 5..9
  const auto epoch = hub.stats("h").position.epoch;
  V got;
  pubsub::SubscribeOptions o;
  o.since = StreamPosition{epoch, 3};  // 4 is gone: a silent gap is never given
  auto s = record(hub, "h", got, o);
  EXPECT_EQ(s.recovery(), Recovery::kUnrecoverable);
  EXPECT_TRUE(got.empty());
  o.since = StreamPosition{epoch, 4};  // 5..9 are all there
  V got2;
  auto s2 = record(hub, "h", got2, o);
  EXPECT_EQ(s2.recovery(), Recovery::kRecovered);
  EXPECT_EQ(got2, V({"5@5", "6@6", "7@7", "8@8", "9@9"}));
}

TEST_F(HubHistoryTest, PositionOfAnotherEpochOrFromTheFutureIsUnrecoverable) {
  hub.publish("h", "a");
  const auto pos = hub.stats("h").position;
  V got;
  pubsub::SubscribeOptions o;
  o.since = StreamPosition{pos.epoch + 1, 1};
  EXPECT_EQ(record(hub, "h", got, o).recovery(), Recovery::kUnrecoverable);
  o.since = StreamPosition{pos.epoch, 7};
  EXPECT_EQ(record(hub, "h", got, o).recovery(), Recovery::kUnrecoverable);
  EXPECT_TRUE(got.empty());
}

// A message on the loop's queue (published before the subscribe) is also in the history:
// the recovery delivers it and the queued delivery is skipped.
TEST_F(HubHistoryTest, MessageQueuedDuringRecoveryIsDeliveredOnce) {
  V other, got;
  auto s1 = record(hub, "h", other);
  hub.publish("h", "a");
  const auto epoch = hub.stats("h").position.epoch;
  hub.publish("h", "b");  // both queued for this loop
  pubsub::SubscribeOptions o;
  o.since = StreamPosition{epoch, 0};
  auto s2 = record(hub, "h", got, o);
  settle();
  EXPECT_EQ(got, V({"a@1", "b@2"}));
  EXPECT_EQ(other, V({"a@1", "b@2"}));
}

TEST_F(HubHistoryTest, HistoryListsTheKeptMessagesOldestFirst) {
  EXPECT_TRUE(hub.history("h").empty());
  for (int i = 1; i <= 7; ++i) hub.publish("h", std::to_string(i));
  auto h = hub.history("h");
  ASSERT_EQ(h.size(), 5u);
  for (std::size_t i = 0; i < h.size(); ++i) {
    EXPECT_EQ(h[i]->data(), std::to_string(i + 3));
    EXPECT_EQ(h[i]->position().offset, i + 3);
  }
}

TEST_F(HubHistoryTest, HistoryTtlForgetsOldMessages) {
  pubsub::TopicOptions o;
  o.history_size = 100;
  o.history_ttl = Duration(0.05);
  hub.configure("ttl", o);
  hub.publish("ttl", "old");
  run_sync([]() -> Task<> { co_await sleep(80ms); });
  hub.publish("ttl", "new");
  const auto epoch = hub.stats("ttl").position.epoch;
  V got;
  pubsub::SubscribeOptions so;
  so.since = StreamPosition{epoch, 0};
  EXPECT_EQ(record(hub, "ttl", got, so).recovery(), Recovery::kUnrecoverable);
  so.since = StreamPosition{epoch, 1};
  EXPECT_EQ(record(hub, "ttl", got, so).recovery(), Recovery::kRecovered);
  EXPECT_EQ(got, V({"new@2"}));
}

TEST_F(HubHistoryTest, TopicWithoutHistoryStartsANewEpochWhenReused) {
  V a;
  auto s = record(hub, "plain", a);
  hub.publish("plain", "x");
  const auto first = hub.stats("plain").position;
  s.cancel();  // no subscriber, no history: the topic is forgotten
  auto s2 = record(hub, "plain", a);
  EXPECT_NE(hub.stats("plain").position.epoch, first.epoch);
  pubsub::SubscribeOptions o;
  o.since = first;
  EXPECT_EQ(record(hub, "plain", a, o).recovery(), Recovery::kUnrecoverable);
}

TEST(StreamPositionTest, TextFormRoundTripsAndRejectsGarbage) {
  StreamPosition p{0xabcdef0123, 42};
  EXPECT_EQ(p.to_string(), "abcdef0123-42");
  EXPECT_EQ(StreamPosition::parse("abcdef0123-42"), p);
  for (const char* bad : {"", "-", "12", "12-", "-12", "zz-1", "1-x", "1-2-3", "1 -2",
                          "ffffffffffffffffff-1", "1-99999999999999999999"}) {
    EXPECT_FALSE(StreamPosition::parse(bad)) << bad;
  }
}

// ---- presence -------------------------------------------------------------------------------

TEST_F(HubTest, MembersJoinWithTheFirstSubscriptionAndLeaveWithTheLast) {
  pubsub::TopicOptions o;
  o.track_members = true;
  hub.configure("room", o);
  V events;
  auto watcher = record(hub, Hub::presence_topic("room"), events);
  pubsub::SubscribeOptions alice;
  alice.member = pubsub::Member{"alice", {{"name", "Alice"}}};
  auto a1 = hub.subscribe("room", [](const MessagePtr&) {}, alice);
  auto a2 = hub.subscribe("room", [](const MessagePtr&) {}, alice);  // a second tab
  pubsub::SubscribeOptions bob;
  bob.member = pubsub::Member{"bob", nullptr};
  auto b = hub.subscribe("room", [](const MessagePtr&) {}, bob);
  EXPECT_EQ(hub.subscriber_count("room"), 3u);
  auto members = hub.members("room");
  ASSERT_EQ(members.size(), 2u);
  EXPECT_EQ(members[0].client_id, "alice");
  EXPECT_EQ(members[0].info["name"], "Alice");
  a1.cancel();
  EXPECT_EQ(hub.members("room").size(), 2u);  // alice still has a tab open
  a2.cancel();
  b.cancel();
  EXPECT_TRUE(hub.members("room").empty());
  settle();
  ASSERT_EQ(events.size(), 4u);
  EXPECT_EQ(nlohmann::json::parse(events[0].substr(0, events[0].find('@'))),
            nlohmann::json({{"event", "join"}, {"client_id", "alice"}, {"info", {{"name", "Alice"}}}}));
  EXPECT_NE(events[1].find("\"join\""), std::string::npos);
  EXPECT_NE(events[1].find("bob"), std::string::npos);
  EXPECT_NE(events[2].find("\"leave\""), std::string::npos);
  EXPECT_NE(events[2].find("alice"), std::string::npos);
  EXPECT_NE(events[3].find("bob"), std::string::npos);
}

TEST_F(HubTest, TopicsWithoutTrackMembersKeepOnlyCounts) {
  pubsub::SubscribeOptions o;
  o.member = pubsub::Member{"x", nullptr};
  auto s = hub.subscribe("t", [](const MessagePtr&) {}, o);
  EXPECT_EQ(hub.subscriber_count("t"), 1u);
  EXPECT_TRUE(hub.members("t").empty());
}

TEST_F(HubTest, ConfigureRejectsAnInvalidDisconnectCode) {
  pubsub::TopicOptions o;
  o.disconnect_code = 1005;  // reserved: never sent
  EXPECT_THROW(hub.configure("t", o), std::invalid_argument);
  o.disconnect_code = 4001;
  EXPECT_NO_THROW(hub.configure("t", o));
}

TEST_F(HubTest, SubscriptionOutlivingTheHubIsSafe) {
  V a;
  pubsub::Subscription s;
  {
    Hub local;
    s = record(local, "t", a);
  }
  s.cancel();
  SUCCEED();
}

}  // namespace

}  // namespace pubsub_test
