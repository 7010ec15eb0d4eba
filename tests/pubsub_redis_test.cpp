// The hub's Redis backend against a real redis-server the test starts: two hubs (as two
// processes would be: each with its own Redis connections) deliver each other's messages in
// one order; one Redis subscription per topic in use; a Redis restart is survived, with the
// messages published meanwhile buffered, and those past the outbox counted as lost.
#include <gtest/gtest.h>

#include "pubsub_redis_fixture.h"
#include "tornado/metrics.h"

namespace pubsub_redis_test {

using namespace tornado;
using namespace std::chrono_literals;
using pubsub::Hub;
using pubsub::MessagePtr;

namespace {

using test::HubRedisTest;
using test::V;

TEST_F(HubRedisTest, MessagesCrossBetweenHubsInOneOrder) {
  V on_a, on_b;
  auto sa = record(*a, "t", on_a);
  auto sb = record(*b, "t", on_b);
  settle();  // the SUBSCRIBEs reach Redis
  EXPECT_TRUE(a->redis_connected());
  for (int i = 0; i < 50; ++i) {
    (i % 2 ? a : b)->publish("t", "m" + std::to_string(i));
  }
  wait_for(on_a, 50);
  wait_for(on_b, 50);
  ASSERT_EQ(on_a.size(), 50u);
  EXPECT_EQ(on_a, on_b);  // the same order everywhere, numbered 1..50 by Redis
  for (int i = 0; i < 50; ++i) {
    EXPECT_TRUE(on_a[i].ends_with("@" + std::to_string(i + 1))) << on_a[i];
  }
  EXPECT_EQ(a->stats("t").position.epoch, b->stats("t").position.epoch);
}

TEST_F(HubRedisTest, BinaryKeysAndBytesSurviveTheTrip) {
  std::vector<std::tuple<std::string, bool, std::string>> got;
  auto s = b->subscribe("t", [&](const MessagePtr& m) {
    got.emplace_back(std::string(m->data()), m->binary(), m->key());
  });
  settle();
  const std::string bytes("\0 1 2:x\r\n\xff", 10);
  a->publish("t", bytes, true, "k:e y");
  a->publish("t", "text", false);
  wait_until([&] { return got.size() >= 2; });
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0], std::make_tuple(bytes, true, std::string("k:e y")));
  EXPECT_EQ(got[1], std::make_tuple(std::string("text"), false, std::string()));
}

TEST_F(HubRedisTest, OneRedisSubscriptionPerTopicInUse) {
  V x, y, z;
  auto s1 = record(*a, "room", x);
  auto s2 = record(*a, "room", y);
  auto s3 = record(*a, "room", z);
  settle();
  EXPECT_EQ(channel_subscribers("room"), 1);  // three subscribers, one Redis subscription
  s1.cancel();
  s2.cancel();
  settle();
  EXPECT_EQ(channel_subscribers("room"), 1);
  s3.cancel();
  settle();
  EXPECT_EQ(channel_subscribers("room"), 0);  // no longer in use here
}

TEST_F(HubRedisTest, RedisRestartIsSurvivedAndTheOutboxSent) {
  V on_b;
  auto sb = record(*b, "t", on_b);
  settle();
  a->publish("t", "before");
  wait_for(on_b, 1);
  ASSERT_EQ(on_b, V({"before@1"}));
  const int port = redis->port();
  const uint64_t reconnects = metrics::snapshot().redis_reconnects;
  redis->stop();
  settle(Duration(0.2));
  EXPECT_FALSE(a->redis_connected());
  a->publish("t", "while-away-1");
  a->publish("t", "while-away-2");
  redis->start();  // same port, no data: Redis starts the topic's numbering again
  EXPECT_EQ(redis->port(), port);
  wait_until([&] { return a->redis_connected() && b->redis_connected(); }, Duration(15));
  EXPECT_TRUE(a->redis_connected());
  // Both hubs reconnected once each, in the process's metrics (tornado_redis_reconnects_total).
  EXPECT_EQ(metrics::snapshot().redis_reconnects - reconnects, 2u);
  wait_for(on_b, 3);
  // b resubscribed before or after a flushed its outbox: what it missed in between is lost
  // to it (Redis pub/sub keeps nothing), never duplicated or reordered.
  ASSERT_GE(on_b.size(), 1u);
  a->publish("t", "after");
  wait_for(on_b, on_b.size() + 1);
  EXPECT_TRUE(on_b.back().starts_with("after@")) << on_b.back();
  for (std::size_t i = 1; i < on_b.size(); ++i) EXPECT_NE(on_b[i], on_b[i - 1]);
  EXPECT_EQ(a->redis_lost(), 0u);
  // The new Redis numbered the two buffered messages, then "after": the outbox was sent.
  EXPECT_EQ(on_b.back(), "after@3");
  const auto counter = run_sync([&]() -> Task<std::string> {
    auto c = co_await redis::Connection::connect("127.0.0.1", redis->port(), Duration(5));
    auto r = co_await c->command("GET", "tornado:offset:t");
    c->close();
    co_return r.str;
  });
  EXPECT_EQ(counter, "3");
}

TEST_F(HubRedisTest, PublishesPastTheOutboxWhileRedisIsAwayAreCountedLost) {
  Hub c;
  connect(c, /*outbox=*/3);
  redis->stop();
  settle(Duration(0.2));
  for (int i = 0; i < 10; ++i) c.publish("t", std::to_string(i));
  settle(Duration(0.05));
  EXPECT_EQ(c.redis_lost(), 7u);  // 3 kept for the reconnect, 7 reported
}

TEST_F(HubRedisTest, ConnectToNoRedisRaises) {
  Hub c;
  pubsub::RedisOptions o;
  o.port = redis->port();
  redis->stop();
  EXPECT_THROW(run_sync([&]() -> Task<> { co_await c.connect_redis(o); }), StreamClosedError);
  EXPECT_FALSE(c.redis_connected());
}

}  // namespace

}  // namespace pubsub_redis_test
