// pubsub::Hub::totals: the hub's counts over every topic, kept when a topic is forgotten
// (its own stats start again), as a dashboard samples them.
#include <gtest/gtest.h>

#include "tornado/pubsub.h"
#include "tornado/testing.h"

namespace pubsub_totals_test {

using namespace tornado;
using pubsub::Hub;
using pubsub::MessagePtr;

namespace {

class HubTotalsTest : public tornado::testing::AsyncTest {
 protected:
  void settle() {
    run_sync([]() -> Task<> { co_await sleep(Duration(0.005)); });
  }
};

TEST_F(HubTotalsTest, TotalsCountEveryTopicAndOutliveAForgottenOne) {
  Hub hub;
  int got = 0;
  auto a = hub.subscribe("a", [&](const MessagePtr&) { ++got; });
  auto b1 = hub.subscribe("b", [&](const MessagePtr&) { ++got; });
  auto b2 = hub.subscribe("b", [&](const MessagePtr&) { ++got; });
  EXPECT_EQ(hub.totals().subscribers, 3u);
  for (int i = 0; i < 3; ++i) hub.publish("a", "x");
  for (int i = 0; i < 2; ++i) hub.publish("b", "y");
  hub.publish("nobody", "z");  // no subscriber, no history: goes nowhere, not counted
  settle();
  EXPECT_EQ(got, 7);
  EXPECT_EQ(hub.totals().published, 5u);
  a.cancel();  // "a" has no subscriber and no history left: forgotten
  EXPECT_EQ(hub.stats("a").published, 0u);
  EXPECT_EQ(hub.totals().published, 5u);
  EXPECT_EQ(hub.totals().subscribers, 2u);
  auto again = hub.subscribe("a", [&](const MessagePtr&) { ++got; });
  hub.publish("a", "x");
  settle();
  EXPECT_EQ(hub.stats("a").published, 1u);  // a new stream
  EXPECT_EQ(hub.totals().published, 6u);
  b1.cancel();
  b2.cancel();
  again.cancel();
  EXPECT_EQ(hub.totals().subscribers, 0u);
}

TEST_F(HubTotalsTest, TotalsCountDropsAndUndeliverableMessages) {
  Hub hub;
  pubsub::TopicOptions o;
  o.slow_consumer = pubsub::SlowConsumerPolicy::kDropNewest;
  o.max_queued_bytes = 4;  // one queued message at a time for the loop
  hub.configure("t", o);
  int got = 0;
  auto s = hub.subscribe("t", [&](const MessagePtr&) { ++got; });
  for (int i = 0; i < 10; ++i) hub.publish("t", "12345");  // before the loop runs
  settle();
  EXPECT_EQ(got, 1);
  EXPECT_EQ(hub.stats("t").dropped, 9u);
  EXPECT_EQ(hub.totals().dropped, 9u);
  s.cancel();  // forgotten
  EXPECT_EQ(hub.stats("t").dropped, 0u);
  EXPECT_EQ(hub.totals().dropped, 9u);
}

}  // namespace

}  // namespace pubsub_totals_test
