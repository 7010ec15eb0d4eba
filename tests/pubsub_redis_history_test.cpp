// The hub's history in Redis streams: recovery across processes (a subscriber of one hub
// recovers what another hub published while it was away, exactly, or is told it cannot),
// fetch_history, the history's size and age bounds, the catch-up of live subscribers after
// a lost Redis connection, and malformed data met in Redis.
#include <gtest/gtest.h>

#include "pubsub_redis_fixture.h"

namespace pubsub_redis_history_test {

using namespace tornado;
using namespace std::chrono_literals;
using pubsub::Hub;
using pubsub::MessagePtr;
using pubsub::Recovery;
using pubsub::StreamPosition;

namespace {

using test::V;

class HubRedisHistoryTest : public test::HubRedisTest {
 protected:
  void SetUp() override {
    HubRedisTest::SetUp();
    keep_history(100);
  }
  void keep_history(std::size_t size, std::optional<Duration> ttl = std::nullopt) {
    pubsub::TopicOptions o;
    o.history_size = size;
    o.history_ttl = ttl;
    a->configure("room", o);
    b->configure("room", o);
  }
  // Publishes from hub a and waits until a's own subscriber has them all: then they are in
  // Redis's history. Returns the position of each.
  std::vector<StreamPosition> publish_from_a(int from, int to) {
    std::vector<StreamPosition> got;
    auto s = a->subscribe("room", [&](const MessagePtr& m) { got.push_back(m->position()); });
    settle();
    for (int i = from; i <= to; ++i) a->publish("room", "m" + std::to_string(i));
    const std::size_t n = static_cast<std::size_t>(to - from + 1);
    wait_until([&] { return got.size() >= n; });
    EXPECT_EQ(got.size(), n);
    return got;
  }
  // Subscribes on hub b from `since`, recording each message and the recovery's result.
  pubsub::Subscription recover_on_b(StreamPosition since, V& out, std::vector<Recovery>& told) {
    pubsub::SubscribeOptions o;
    o.since = since;
    o.on_recovery = [&told](Recovery r) { told.push_back(r); };
    return b->subscribe(
        "room",
        [&out](const MessagePtr& m) {
          out.push_back(std::string(m->data()) + "@" + std::to_string(m->position().offset));
        },
        std::move(o));
  }
  void wait_told(const std::vector<Recovery>& told) {
    wait_until([&] { return !told.empty(); });
  }
};

TEST_F(HubRedisHistoryTest, SubscriberOfAnotherHubRecoversExactlyWhatItMissed) {
  auto positions = publish_from_a(1, 10);
  ASSERT_EQ(positions.size(), 10u);
  V out;
  std::vector<Recovery> told;
  auto s = recover_on_b(positions[3], out, told);  // it had m4
  EXPECT_EQ(s.recovery(), Recovery::kPending);  // Redis is asked; nothing delivered yet
  EXPECT_TRUE(out.empty());
  wait_told(told);
  ASSERT_EQ(told, std::vector<Recovery>({Recovery::kRecovered}));
  EXPECT_EQ(s.recovery(), Recovery::kRecovered);
  EXPECT_EQ(out, V({"m5@5", "m6@6", "m7@7", "m8@8", "m9@9", "m10@10"}));
  EXPECT_EQ(s.position(), (StreamPosition{positions[0].epoch, 10}));
  a->publish("room", "m11");  // and then live
  wait_for(out, 7);
  EXPECT_EQ(out.back(), "m11@11");
  EXPECT_EQ(out.size(), 7u);
}

TEST_F(HubRedisHistoryTest, HistoryLargerThanOneRedisReplyIsReadInPages) {
  // 72 messages of 1 MiB: 72 MiB, past the 64 MiB a Redis reply may hold. Read whole, the
  // reply broke the connection, and the recovery asked again after each reconnection.
  constexpr int kCount = 72;
  std::vector<StreamPosition> positions;
  auto s = a->subscribe("room", [&](const MessagePtr& m) { positions.push_back(m->position()); });
  settle();
  for (int i = 1; i <= kCount; ++i) {
    std::string data = "m" + std::to_string(i) + ":";
    data.resize(1024 * 1024, 'x');
    a->publish("room", data);
  }
  wait_until([&] { return positions.size() >= kCount; }, Duration(30));
  // Redis may drop a's subscriber connection here (past its 32 MiB output buffer limit for
  // subscribers, when a reads slower than it publishes: under ASan): a then catches up from
  // the history, and the publishes in flight at the drop are not lost.
  ASSERT_EQ(positions.size(), static_cast<std::size_t>(kCount));
  EXPECT_EQ(a->redis_lost(), 0u);
  std::vector<std::string> got;
  std::vector<Recovery> told;
  pubsub::SubscribeOptions o;
  o.since = positions[0];
  o.on_recovery = [&told](Recovery r) { told.push_back(r); };
  auto sub = b->subscribe(
      "room",
      [&got](const MessagePtr& m) {
        got.push_back(std::string(m->data().substr(0, m->data().find(':'))) + "@" +
                      std::to_string(m->position().offset) + "/" + std::to_string(m->data().size()));
      },
      std::move(o));
  wait_until([&] { return !told.empty(); }, Duration(30));
  ASSERT_EQ(told, std::vector<Recovery>({Recovery::kRecovered}));
  V want;
  for (int i = 2; i <= kCount; ++i) {
    want.push_back("m" + std::to_string(i) + "@" + std::to_string(i) + "/1048576");
  }
  EXPECT_EQ(got, want);
  // The newest messages are one page (8 MiB): the newest that fit, in order.
  auto history = run_sync([&]() -> Task<std::vector<MessagePtr>> {
    co_return co_await b->fetch_history("room");
  }, Duration(30));
  ASSERT_FALSE(history.empty());
  EXPECT_LE(history.size(), 8u);
  EXPECT_EQ(history.back()->position().offset, static_cast<uint64_t>(kCount));
  for (std::size_t i = 1; i < history.size(); ++i) {
    EXPECT_EQ(history[i]->position().offset, history[i - 1]->position().offset + 1);
  }
}

TEST_F(HubRedisHistoryTest, RecoveryWhileAnotherHubPublishesNeitherRepeatsNorSkips) {
  auto positions = publish_from_a(1, 5);
  ASSERT_EQ(positions.size(), 5u);
  V out;
  std::vector<Recovery> told;
  pubsub::Subscription s;
  // Hub a publishes 300 more, one per loop turn; b recovers from m2 when 50 are out.
  run_sync([&]() -> Task<> {
    for (int i = 6; i <= 305; ++i) {
      a->publish("room", "m" + std::to_string(i));
      if (i == 55) s = recover_on_b(positions[1], out, told);
      co_await sleep(0.5ms);
    }
  }, Duration(20));
  wait_for(out, 303);
  ASSERT_EQ(told, std::vector<Recovery>({Recovery::kRecovered}));
  ASSERT_EQ(out.size(), 303u);
  for (int i = 0; i < 303; ++i) {
    EXPECT_EQ(out[i], "m" + std::to_string(i + 3) + "@" + std::to_string(i + 3));
  }
}

TEST_F(HubRedisHistoryTest, PositionsRedisCannotServeAreUnrecoverableAndLiveGoesOn) {
  keep_history(5);
  auto positions = publish_from_a(1, 10);
  ASSERT_EQ(positions.size(), 10u);
  const uint64_t epoch = positions[0].epoch;
  struct Case {
    const char* what;
    StreamPosition since;
  };
  const std::vector<Case> cases = {
      {"older than the history keeps", {epoch, 2}},
      {"another epoch", {epoch + 1, 8}},
      {"later than the last message", {epoch, 11}},
      {"the largest offset", {epoch, UINT64_MAX}},
  };
  for (const auto& c : cases) {
    V out;
    std::vector<Recovery> told;
    auto s = recover_on_b(c.since, out, told);
    wait_told(told);
    EXPECT_EQ(told, std::vector<Recovery>({Recovery::kUnrecoverable})) << c.what;
    EXPECT_TRUE(out.empty()) << c.what << ": a partial history was delivered";
    EXPECT_EQ(s.position(), (StreamPosition{epoch, 10})) << c.what;
  }
  // From the oldest it keeps (m6..m10: since m5) it recovers.
  V out;
  std::vector<Recovery> told;
  auto s = recover_on_b({epoch, 5}, out, told);
  wait_told(told);
  EXPECT_EQ(told, std::vector<Recovery>({Recovery::kRecovered}));
  EXPECT_EQ(out, V({"m6@6", "m7@7", "m8@8", "m9@9", "m10@10"}));
}

TEST_F(HubRedisHistoryTest, UpToDatePositionRecoversNothingAndStaysLive) {
  auto positions = publish_from_a(1, 3);
  ASSERT_EQ(positions.size(), 3u);
  V out;
  std::vector<Recovery> told;
  auto s = recover_on_b(positions[2], out, told);
  wait_told(told);
  EXPECT_EQ(told, std::vector<Recovery>({Recovery::kRecovered}));
  EXPECT_TRUE(out.empty());
  a->publish("room", "m4");
  wait_for(out, 1);
  EXPECT_EQ(out, V({"m4@4"}));
}

TEST_F(HubRedisHistoryTest, FetchHistoryReadsTheNewestFromRedis) {
  keep_history(4);
  publish_from_a(1, 10);
  auto history = run_sync([&]() -> Task<std::vector<MessagePtr>> {
    co_return co_await b->fetch_history("room");  // b received none of them
  });
  V got;
  for (const auto& m : history) {
    got.push_back(std::string(m->data()) + "@" + std::to_string(m->position().offset));
  }
  EXPECT_EQ(got, V({"m7@7", "m8@8", "m9@9", "m10@10"}));
  EXPECT_TRUE(b->history("room").empty());  // the local history: b heard nothing
  // The stream itself is trimmed to the size.
  EXPECT_EQ(command({"XLEN", "tornado:history:room"}).integer, 4);
}

TEST_F(HubRedisHistoryTest, HistoryTtlForgetsOldMessagesInRedis) {
  // A ttl long enough that m4 is still young when read back on a loaded machine.
  keep_history(100, Duration(1.5));
  auto positions = publish_from_a(1, 3);
  ASSERT_EQ(positions.size(), 3u);
  settle(Duration(1.8));
  publish_from_a(4, 4);
  auto history = run_sync([&]() -> Task<std::vector<MessagePtr>> {
    co_return co_await b->fetch_history("room");
  });
  ASSERT_EQ(history.size(), 1u);
  EXPECT_EQ(history[0]->data(), "m4");
  EXPECT_EQ(command({"XLEN", "tornado:history:room"}).integer, 1);  // trimmed at the publish
  EXPECT_GT(command({"PTTL", "tornado:history:room"}).integer, 0);  // and the stream expires
  V out;
  std::vector<Recovery> told;
  auto s = recover_on_b(positions[0], out, told);  // m2 and m3 are too old
  wait_told(told);
  EXPECT_EQ(told, std::vector<Recovery>({Recovery::kUnrecoverable}));
  EXPECT_TRUE(out.empty());
}

TEST_F(HubRedisHistoryTest, LostRedisConnectionIsCaughtUpFromTheHistory) {
  V out;
  auto s = record(*b, "room", out);
  settle();
  a->publish("room", "m1");
  wait_for(out, 1);
  ASSERT_EQ(out, V({"m1@1"}));
  // Redis drops every pub/sub connection: hubs a and b reconnect after their backoff (100
  // ms). Meanwhile a third hub, connected after the drop, publishes: nobody receives those
  // live, and b's subscriber gets them from the history when b is back, in order.
  command({"CLIENT", "KILL", "TYPE", "pubsub"});
  Hub c;
  connect(c);
  pubsub::TopicOptions o;
  o.history_size = 100;
  c.configure("room", o);
  for (int i = 2; i <= 20; ++i) c.publish("room", "m" + std::to_string(i));
  wait_for(out, 20);
  ASSERT_EQ(out.size(), 20u);
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(out[i], "m" + std::to_string(i + 1) + "@" + std::to_string(i + 1));
  }
  EXPECT_EQ(a->redis_lost(), 0u);
}

TEST_F(HubRedisHistoryTest, PublishesInFlightWhenTheSubscriberConnectionDropsAreNotLost) {
  V on_a, on_b;
  auto sa = record(*a, "room", on_a);
  auto sb = record(*b, "room", on_b);
  settle();
  a->publish("room", "m1");
  wait_for(on_b, 1);
  // Redis holds writes (the publish script) for 500 ms: m2 and m3 are sent and unanswered
  // when Redis drops the subscriber connections (as it drops one that falls behind its
  // output buffer limit). Closed with the lost one, a's other connection took them with it:
  // never run, counted lost, and nobody received them.
  command({"CLIENT", "PAUSE", "500", "WRITE"});
  a->publish("room", "m2");
  a->publish("room", "m3");
  settle(50ms);
  command({"CLIENT", "KILL", "TYPE", "pubsub"});
  wait_for(on_a, 3);
  wait_for(on_b, 3);
  EXPECT_EQ(on_a, V({"m1@1", "m2@2", "m3@3"}));
  EXPECT_EQ(on_b, V({"m1@1", "m2@2", "m3@3"}));
  EXPECT_EQ(a->redis_lost(), 0u);
}

TEST_F(HubRedisHistoryTest, HubDestroyedWhileItsGivenUpConnectionWaitsForReplies) {
  V on_b;
  auto sb = record(*b, "room", on_b);
  settle();
  command({"CLIENT", "PAUSE", "300", "WRITE"});
  a->publish("room", "m1");
  settle(50ms);
  command({"CLIENT", "KILL", "TYPE", "pubsub"});
  settle(50ms);  // a has given up its publishing connection, m1 still unanswered on it
  a.reset();     // closes it: the publish fails after the hub is gone (ASan: no use of it)
  settle(400ms);
  Hub c;
  connect(c);
  pubsub::TopicOptions o;
  o.history_size = 100;
  c.configure("room", o);
  c.publish("room", "after");
  wait_until([&] { return !on_b.empty() && on_b.back().starts_with("after@"); });
  ASSERT_FALSE(on_b.empty());
  EXPECT_TRUE(on_b.back().starts_with("after@")) << on_b.back();
}

TEST_F(HubRedisHistoryTest, MalformedMessagesInRedisAreDroppedAndTheRestDelivered) {
  V out;
  auto s = record(*b, "room", out);
  settle();
  // Not "<epoch> <offset> <t|b><key length>:<key><data>", or text that is not UTF-8.
  const V bads = {"",          "junk",        "1f 1",       "1f 1 x0:",
                  "1f 1 t9:ab", "1f 1 tx:",    "1f 1 t-1:",  "zz 1 t0:a",
                  "1f 1 t2x:ab", std::string("1f 1 t0:\xff\xfe", 10)};
  for (const std::string& bad : bads) {
    command({"PUBLISH", "tornado:room", bad});
  }
  a->publish("room", "fine");
  wait_for(out, 1);
  EXPECT_EQ(out, V({"fine@1"}));
  // A history entry that is not ours fails the read: the recovery is unrecoverable, not
  // a gap and not a crash.
  command({"XADD", "tornado:history:room", "2-0", "x", "y"});
  command({"SET", "tornado:offset:room", "2"});
  V recovered;
  std::vector<Recovery> told;
  auto r = recover_on_b({b->stats("room").position.epoch, 1}, recovered, told);
  wait_told(told);
  EXPECT_EQ(told, std::vector<Recovery>({Recovery::kUnrecoverable}));
  EXPECT_TRUE(recovered.empty());
}

}  // namespace

}  // namespace pubsub_redis_history_test
