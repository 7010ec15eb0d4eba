// pubsub::Hub against careless and hostile use with callback subscribers: a callback that
// destroys subscriptions (its own included), configure() racing deliveries, a topic released
// by its last subscriber while another thread subscribes, a loop destroyed with subscriptions
// still active (and a new loop at the same address), presence of one client on two loop
// threads, and recovery positions at the edges.
#include <gtest/gtest.h>

#include <atomic>
#include <new>
#include <thread>

#include "tornado/pubsub.h"
#include "tornado/testing.h"

namespace pubsub_hostile_test {

using namespace tornado;
using namespace std::chrono_literals;
using pubsub::Hub;
using pubsub::MessagePtr;
using pubsub::Recovery;
using pubsub::StreamPosition;

namespace {

class HubHostileTest : public tornado::testing::AsyncTest {
 protected:
  void settle() {
    run_sync([]() -> Task<> { co_await sleep(5ms); });
  }
  Hub hub;
};

// Destroyed with the callback that owns it: tells whether the closure died while it ran.
bool g_closure_destroyed = false;
struct ClosureGuard {
  ~ClosureGuard() { g_closure_destroyed = true; }
};

TEST_F(HubHostileTest, CallbackThatDestroysEverySubscriptionLivesUntilItReturns) {
  std::vector<pubsub::Subscription> subs;
  int calls = 0;
  bool alive_after_clear = false;
  g_closure_destroyed = false;
  auto guard = std::make_shared<ClosureGuard>();
  subs.push_back(hub.subscribe("t", [&, guard](const MessagePtr&) {
    ++calls;
    subs.clear();  // its own subscription included: the closure must not die under it
    alive_after_clear = !g_closure_destroyed;
  }));
  subs.push_back(hub.subscribe("t", [&](const MessagePtr&) { ++calls; }));
  guard.reset();
  hub.publish("t", "x");
  hub.publish("t", "y");
  settle();
  EXPECT_EQ(calls, 1);  // the second was cancelled before its turn; "y" reached nobody
  EXPECT_TRUE(alive_after_clear);
  EXPECT_TRUE(g_closure_destroyed);  // and it is gone once it returned
  EXPECT_EQ(hub.subscriber_count("t"), 0u);
}

TEST_F(HubHostileTest, CallbackPublishingToItsOwnTopicIsQueuedNotRecursive) {
  std::vector<uint64_t> seen;
  int depth = 0, max_depth = 0;
  auto s = hub.subscribe("t", [&](const MessagePtr& m) {
    max_depth = std::max(max_depth, ++depth);
    seen.push_back(m->position().offset);
    if (seen.size() < 50) hub.publish("t", "again");
    --depth;
  });
  hub.publish("t", "first");
  run_sync([]() -> Task<> { co_await sleep(50ms); });
  EXPECT_EQ(max_depth, 1);
  ASSERT_EQ(seen.size(), 50u);
  for (std::size_t i = 0; i < seen.size(); ++i) EXPECT_EQ(seen[i], i + 1);
}

TEST_F(HubHostileTest, RecoveryPositionsAtTheEdgesAreUnrecoverableNotWrapped) {
  pubsub::TopicOptions o;
  o.history_size = 3;
  hub.configure("h", o);
  hub.publish("h", "a");
  const uint64_t epoch = hub.stats("h").position.epoch;
  std::vector<std::string> got;
  auto cb = [&](const MessagePtr& m) { got.emplace_back(m->data()); };
  for (StreamPosition since : {StreamPosition{0, 0}, StreamPosition{epoch, UINT64_MAX},
                               StreamPosition{UINT64_MAX, UINT64_MAX}, StreamPosition{epoch, 2}}) {
    pubsub::SubscribeOptions so;
    so.since = since;
    EXPECT_EQ(hub.subscribe("h", cb, so).recovery(), Recovery::kUnrecoverable) << since.to_string();
  }
  EXPECT_TRUE(got.empty());
  EXPECT_EQ(StreamPosition::parse(StreamPosition{UINT64_MAX, UINT64_MAX}.to_string()),
            (StreamPosition{UINT64_MAX, UINT64_MAX}));
}

TEST_F(HubHostileTest, HistoryShrunkByConfigureWhileInUseNeverGivesAGap) {
  pubsub::TopicOptions o;
  o.history_size = 10;
  hub.configure("h", o);
  for (int i = 1; i <= 8; ++i) hub.publish("h", std::to_string(i));
  const uint64_t epoch = hub.stats("h").position.epoch;
  o.history_size = 2;  // keeps 7, 8 from now on
  hub.configure("h", o);
  std::vector<std::string> got;
  auto cb = [&](const MessagePtr& m) { got.emplace_back(m->data()); };
  pubsub::SubscribeOptions so;
  so.since = StreamPosition{epoch, 3};
  EXPECT_EQ(hub.subscribe("h", cb, so).recovery(), Recovery::kUnrecoverable);
  EXPECT_TRUE(got.empty());
  so.since = StreamPosition{epoch, 6};
  EXPECT_EQ(hub.subscribe("h", cb, so).recovery(), Recovery::kRecovered);
  EXPECT_EQ(got, (std::vector<std::string>{"7", "8"}));
}

// Deliveries queued on the loop outlive the Hub that published them; the subscription ends
// later, on a hub that is gone.
TEST_F(HubHostileTest, HubDestroyedWithDeliveriesQueuedIsSafe) {
  auto local = std::make_unique<Hub>();
  pubsub::TopicOptions o;
  o.history_size = 4;
  o.track_members = true;
  local->configure("t", o);
  std::vector<std::string> got;
  pubsub::SubscribeOptions so;
  so.member = pubsub::Member{"m", nullptr};
  auto s = local->subscribe(
      "t", [&](const MessagePtr& m) { got.emplace_back(m->data()); }, so);
  local->publish("t", "a");
  local->publish("t", "b");
  local.reset();
  settle();
  EXPECT_EQ(got, (std::vector<std::string>{"a", "b"}));  // published before it went
  s.cancel();
  EXPECT_FALSE(s.active());
}

TEST_F(HubHostileTest, DefaultOptionsRejectAnInvalidDisconnectCodeLikeConfigure) {
  pubsub::TopicOptions o;
  o.disconnect_code = 1005;  // reserved: a close frame never carries it
  EXPECT_THROW(hub.set_default_options(o), std::invalid_argument);
  o.disconnect_code = 999;
  EXPECT_THROW(hub.set_default_options(o), std::invalid_argument);
  o.disconnect_code = 4000;
  EXPECT_NO_THROW(hub.set_default_options(o));
}

// ---- threads ----------------------------------------------------------------------------------

// A loop thread that runs until told to stop, with work posted to it.
struct LoopThread {
  LoopThread() {
    thread = std::thread([this] {
      IOLoop l(true);
      loop.store(&l);
      l.start();
      loop.store(nullptr);
    });
    while (!loop.load()) std::this_thread::yield();
    ref = loop.load()->ref();
  }
  ~LoopThread() {
    ref.add_callback([this] { loop.load()->stop(); });
    thread.join();
  }
  // Runs `f` on the loop and waits for it.
  void run(std::function<void()> f) {
    std::atomic<bool> done{false};
    ref.add_callback([&] {
      f();
      done = true;
    });
    while (!done) std::this_thread::yield();
  }
  std::atomic<IOLoop*> loop{nullptr};
  LoopRef ref;
  std::thread thread;
};

// configure() replaces a topic's options from any thread while loops read them to deliver
// (a data race on the options pointer without the fix: seen by ThreadSanitizer).
TEST(HubHostileThreadsTest, ConfigureWhileDeliveringOnOtherLoops) {
  Hub hub;
  std::atomic<int> delivered{0};
  LoopThread a, b;
  pubsub::Subscription sa, sb;
  a.run([&] { sa = hub.subscribe("t", [&](const MessagePtr&) { delivered++; }); });
  b.run([&] { sb = hub.subscribe("t", [&](const MessagePtr&) { delivered++; }); });
  std::atomic<bool> stop{false};
  std::thread configurer([&] {
    pubsub::TopicOptions o;
    while (!stop) {
      o.max_pending_bytes = o.max_pending_bytes % 4096 + 1024;
      hub.configure("t", o);
    }
  });
  constexpr int kMessages = 3000;
  for (int i = 0; i < kMessages; ++i) hub.publish("t", "m");
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (delivered < 2 * kMessages && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(1ms);
  }
  stop = true;
  configurer.join();
  EXPECT_EQ(delivered, 2 * kMessages);
  a.run([&] { sa.cancel(); });
  b.run([&] { sb.cancel(); });
}

// The last subscriber of a topic without history leaves (the topic is forgotten) while
// another loop subscribes to it: the new subscriber must be on the topic that publish finds,
// else it never receives anything.
TEST(HubHostileThreadsTest, SubscribeRacingTheLastCancelStaysOnTheLiveTopic) {
  Hub hub;
  LoopThread churn_loop, probe_loop;
  std::atomic<bool> stop{false};
  std::thread churn([&] {
    while (!stop) {
      churn_loop.run([&] {
        for (int i = 0; i < 50; ++i) hub.subscribe("t", [](const MessagePtr&) {}).cancel();
      });
    }
  });
  int lost = 0;
  constexpr int kRounds = 3000;
  for (int round = 0; round < kRounds && lost == 0; ++round) {
    std::atomic<bool> got{false};
    pubsub::Subscription s;
    probe_loop.run([&] { s = hub.subscribe("t", [&](const MessagePtr&) { got = true; }); });
    hub.publish("t", "probe");
    const auto deadline = std::chrono::steady_clock::now() + 2s;
    while (!got && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
    if (!got) ++lost;
    probe_loop.run([&] { s.cancel(); });
  }
  stop = true;
  churn.join();
  EXPECT_EQ(lost, 0);
}

// A loop destroyed while a subscription on it is active and messages are queued for it; then
// a new loop built at the very same address subscribes. Its subscriber must receive (the old
// loop's per-thread list must not be mistaken for the new loop's).
TEST(HubHostileThreadsTest, NewLoopAtTheAddressOfADestroyedOneStillReceives) {
  Hub hub;
  alignas(IOLoop) unsigned char storage[sizeof(IOLoop)];
  pubsub::Subscription old_sub;
  int old_got = 0;
  std::thread([&] {
    auto* loop = new (storage) IOLoop(true);
    old_sub = hub.subscribe("t", [&](const MessagePtr&) { ++old_got; });
    hub.publish("t", "queued for a loop about to die");
    loop->~IOLoop();
  }).join();
  EXPECT_EQ(old_got, 0);
  std::thread([&] {
    auto* loop = new (storage) IOLoop(true);
    std::vector<std::string> got;
    {
      auto s = hub.subscribe("t", [&](const MessagePtr& m) { got.emplace_back(m->data()); });
      hub.publish("t", "live");
      loop->run_sync([]() -> Task<> { co_await sleep(20ms); });
      EXPECT_EQ(got, (std::vector<std::string>{"live"}));
      old_sub.cancel();  // the dead loop's subscription, ended late on another thread
    }
    loop->~IOLoop();
  }).join();
  EXPECT_EQ(hub.subscriber_count("t"), 0u);
}

// A subscription cancelled (or destroyed) on another thread than its loop while messages
// flow to it: its loop ends it (without the fix, a data race on the loop's list).
TEST(HubHostileThreadsTest, SubscriptionCancelledOnAnotherThreadEndsOnItsLoop) {
  Hub hub;
  LoopThread a;
  std::atomic<int> got{0};
  pubsub::Subscription s1, s2;
  a.run([&] {
    s1 = hub.subscribe("t", [&](const MessagePtr&) { got++; });
    s2 = hub.subscribe("t", [&](const MessagePtr&) { got++; });
  });
  std::atomic<bool> stop{false};
  std::thread publisher([&] {
    while (!stop) {
      hub.publish("t", "m");
      std::this_thread::sleep_for(20us);
    }
  });
  while (got < 1000) std::this_thread::yield();
  s1.cancel();                    // this thread is not a's
  { auto gone = std::move(s2); }  // nor is this destructor
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (hub.subscriber_count("t") != 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::yield();
  }
  stop = true;
  publisher.join();
  EXPECT_EQ(hub.subscriber_count("t"), 0u);
  a.run([] {});  // what was queued for the ended subscriptions ran
  const int after = got;
  hub.publish("t", "late");
  a.run([] {});
  EXPECT_EQ(got, after);
}

// One client id subscribed on two loop threads: listed once, joins once, leaves once.
TEST(HubHostileThreadsTest, SameClientOnTwoLoopThreadsJoinsAndLeavesOnce) {
  Hub hub;
  pubsub::TopicOptions o;
  o.track_members = true;
  hub.configure("room", o);
  LoopThread a, b;
  std::mutex mu;
  std::vector<std::string> events;
  pubsub::Subscription watcher, sa, sb;
  a.run([&] {
    watcher = hub.subscribe(Hub::presence_topic("room"), [&](const MessagePtr& m) {
      std::lock_guard lock(mu);
      events.push_back(nlohmann::json::parse(m->data())["event"]);
    });
  });
  pubsub::SubscribeOptions so;
  so.member = pubsub::Member{"alice", {{"tab", 1}}};
  a.run([&] {
    sa = hub.subscribe(
        "room", [](const MessagePtr&) {}, so);
  });
  b.run([&] {
    sb = hub.subscribe(
        "room", [](const MessagePtr&) {}, so);
  });
  EXPECT_EQ(hub.members("room").size(), 1u);
  EXPECT_EQ(hub.subscriber_count("room"), 2u);
  a.run([&] { sa.cancel(); });
  EXPECT_EQ(hub.members("room").size(), 1u);
  b.run([&] { sb.cancel(); });
  EXPECT_TRUE(hub.members("room").empty());
  a.run([] {});  // the presence events queued on a
  std::this_thread::sleep_for(20ms);
  a.run([&] { watcher.cancel(); });
  std::lock_guard lock(mu);
  EXPECT_EQ(events, (std::vector<std::string>{"join", "leave"}));
}

}  // namespace

}  // namespace pubsub_hostile_test
