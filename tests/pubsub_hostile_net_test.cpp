// WebSocket and SSE hub subscribers against hostile peers and careless handlers: a client
// that never reads (memory stays bounded under each slow-consumer policy, with many topics on
// one connection, and under conflate with growing replacements), one connection subscribed
// twice to a topic, an idle event stream whose client never reads (the heartbeat), an SSE
// handler whose open() throws or that closes from on_close, a half-closing client, pipelined
// requests behind an event stream and a huge Last-Event-ID.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tornado/pubsub.h"
#include "tornado/testing.h"
#include "tornado/web/event_source.h"
#include "tornado/websocket.h"
#include "websocket_test_util.h"

namespace pubsub_hostile_net_test {

using namespace tornado;
using namespace std::chrono_literals;
using tornado::test::RawWebSocket;

namespace {

pubsub::Hub* g_hub = nullptr;
websocket::WebSocketHandler* g_ws = nullptr;
web::EventSourceHandler* g_sse = nullptr;
std::vector<std::string> g_events;
int g_topics = 1;

// Watches every message of some topics without keeping one: after the loop has run, the
// messages still alive are those a connection's hub backlog holds (exact, unlike RSS under
// a sanitizer's allocator).
class LiveMessages {
 public:
  void watch(pubsub::Hub& hub, const std::string& topic) {
    subs_.push_back(
        hub.subscribe(topic, [this](const pubsub::MessagePtr& m) { seen_.push_back(m); }));
  }
  // The bytes they are written as: WebSocket frames, or SSE events.
  std::size_t bytes(bool sse = false) {
    std::erase_if(seen_, [](const auto& w) { return w.expired(); });
    std::size_t n = 0;
    for (const auto& w : seen_) {
      if (auto m = w.lock()) n += sse ? m->sse_event().size() : m->websocket_frame().size();
    }
    return n;
  }

 private:
  std::vector<std::weak_ptr<const pubsub::Message>> seen_;
  std::vector<pubsub::Subscription> subs_;
};

// Subscribes to t0..t<g_topics - 1>.
struct MultiSub : websocket::WebSocketHandler {
  std::vector<pubsub::Subscription> subs;
  Task<> open() override {
    g_ws = this;
    for (int i = 0; i < g_topics; ++i)
      subs.push_back(g_hub->subscribe("t" + std::to_string(i), *this));
    co_return;
  }
  Task<> on_message(std::string, bool) override { co_return; }
  void on_close() override { g_ws = nullptr; }
};

// Subscribes twice to the same topic.
struct TwiceSub : websocket::WebSocketHandler {
  pubsub::Subscription a, b;
  Task<> open() override {
    a = g_hub->subscribe("t0", *this);
    try {
      b = g_hub->subscribe("t0", *this);
      g_events.push_back("subscribed twice");
    } catch (const std::invalid_argument&) {
      g_events.push_back("refused");
    }
    co_return;
  }
  Task<> on_message(std::string, bool) override { co_return; }
};

// Recovers "room" from g_since as member "alice".
std::optional<pubsub::StreamPosition> g_since;
struct MemberSub : websocket::WebSocketHandler {
  pubsub::Subscription sub;
  Task<> open() override {
    pubsub::SubscribeOptions o;
    o.since = g_since;
    o.member = pubsub::Member{"alice", nullptr};
    sub = g_hub->subscribe("room", *this, o);
    co_return;
  }
  Task<> on_message(std::string, bool) override { co_return; }
};

// An event stream that sends one large event at once, then only heartbeats.
struct BigThenIdle : web::EventSourceHandler {
  Task<> open() override {
    g_sse = this;
    (void)send(std::string(4 << 20, 'x'));
    co_return;
  }
  std::optional<Duration> heartbeat_interval() const override { return Duration(0.001); }
  void on_close() override { g_sse = nullptr; }
};

// Subscribes the stream to "lines".
struct LinesSub : web::EventSourceHandler {
  pubsub::Subscription sub;
  Task<> open() override {
    g_sse = this;
    sub = g_hub->subscribe("lines", *this);
    co_return;
  }
  void on_close() override { g_sse = nullptr; }
};

struct OpenThrows : web::EventSourceHandler {
  Task<> open() override {
    co_await send("before");
    throw std::runtime_error("open failed");
  }
  void on_close() override {
    g_events.push_back("close");
    close();  // from on_close: a no-op
    close();
  }
};

struct Idle : web::EventSourceHandler {
  Task<> open() override {
    g_events.push_back("open " + last_event_id().value_or("-").substr(0, 8));
    co_await send("hello");
  }
  void on_close() override { g_events.push_back("close"); }
};

struct Plain : web::RequestHandler {
  Task<> get() override {
    g_events.push_back("plain served");
    finish("plain");
    co_return;
  }
};

class HostileNetTest : public tornado::testing::AsyncHTTPTest {
 protected:
  void SetUp() override {
    hub = std::make_unique<pubsub::Hub>();
    g_hub = hub.get();
    g_ws = nullptr;
    g_sse = nullptr;
    g_events.clear();
    g_topics = 1;
    g_since.reset();
    AsyncHTTPTest::SetUp();
  }
  tornado::testing::HTTPApp get_app() override {
    return std::make_shared<web::Application>(std::vector<web::URLSpec>{
        {"/multi", web::handler<MultiSub>()},
        {"/twice", web::handler<TwiceSub>()},
        {"/member", web::handler<MemberSub>()},
        {"/big", web::handler<BigThenIdle>()},
        {"/throws", web::handler<OpenThrows>()},
        {"/lines", web::handler<LinesSub>()},
        {"/idle", web::handler<Idle>()},
        {"/plain", web::handler<Plain>()},
    });
  }
  // A client socket with a tiny receive window that has sent `request`.
  std::shared_ptr<IOStream> raw(const std::string& request, int receive_buffer = 4096) {
    auto s = run_sync([&]() -> Task<std::shared_ptr<IOStream>> {
      auto stream = co_await test::connect_loopback(get_http_port(), receive_buffer);
      co_await stream->write(request);
      co_return stream;
    });
    settle();
    return s;
  }
  std::shared_ptr<IOStream> ws_client(const std::string& path) {
    auto s =
        raw("GET " + path +
            " HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
    return s;
  }
  void settle(Duration d = Duration(0.02)) {
    run_sync([d]() -> Task<> { co_await sleep(d); });
  }
  // Publishes until the server's socket queue for g_ws holds at least `bytes` (the kernel's
  // buffers toward the client are full).
  void fill_socket(const std::string& topic, std::size_t bytes) {
    for (int i = 0; i < 4000 && g_ws && g_ws->buffered_amount() < bytes; ++i) {
      hub->publish(topic, std::string(64 * 1024, 'f'), false, "fill");
      settle(Duration(0.001));
    }
    ASSERT_TRUE(g_ws);
    ASSERT_GE(g_ws->buffered_amount(), bytes);
  }
  std::unique_ptr<pubsub::Hub> hub;
};

// ---- a WebSocket client that never reads ----------------------------------------------------

// A replacement larger than the message it replaces must not escape the limit: 400 queued
// 100-byte values replaced by 200 KB ones would hold 80 MB for one client.
TEST_F(HostileNetTest, ConflateReplacementsStayWithinTheLimit) {
  pubsub::TopicOptions o;
  o.slow_consumer = pubsub::SlowConsumerPolicy::kConflate;  // max_pending_bytes 1 MiB
  hub->configure("t0", o);
  auto client = ws_client("/multi");
  LiveMessages live;
  live.watch(*hub, "t0");
  fill_socket("t0", 16 * 1024);
  for (int k = 0; k < 400; ++k) hub->publish("t0", std::string(100, 's'), false, std::to_string(k));
  settle();
  for (int k = 0; k < 400; ++k) {
    hub->publish("t0", std::string(200 * 1024, 'B'), false, std::to_string(k));
    settle(Duration(0.0005));  // delivered now: the loop's own queue holds none of them
  }
  settle();
  // Unsent bytes for this one client: its socket queue and its backlog.
  const std::size_t pending = g_ws->buffered_amount() + live.bytes();
  EXPECT_LE(pending, o.max_pending_bytes + 200 * 1024 + 16) << (pending >> 20) << " MiB";
  EXPECT_GT(hub->stats("t0").dropped, 0u);
}

// One connection on 10 topics under each policy, never reading: its memory is bounded by the
// limit (plus one message), whatever is published.
TEST_F(HostileNetTest, ManyTopicsOnOneSilentConnectionStayBoundedUnderEveryPolicy) {
  using P = pubsub::SlowConsumerPolicy;
  for (P policy : {P::kDisconnect, P::kDropNewest, P::kDropOldest, P::kConflate}) {
    g_topics = 10;
    pubsub::TopicOptions o;
    o.slow_consumer = policy;
    o.max_pending_bytes = 256 * 1024;
    for (int t = 0; t < g_topics; ++t) hub->configure("t" + std::to_string(t), o);
    std::optional<tornado::testing::ExpectLog> log;
    if (policy == P::kDisconnect) log.emplace(gen_log(), "disconnecting a slow subscriber");
    auto client = ws_client("/multi");
    ASSERT_TRUE(g_ws);
    LiveMessages live;
    for (int t = 0; t < g_topics; ++t) live.watch(*hub, "t" + std::to_string(t));
    std::size_t most = 0;  // the most unsent bytes seen
    for (int i = 0; i < 150; ++i) {
      for (int t = 0; t < g_topics; ++t) {
        hub->publish("t" + std::to_string(t), std::string(48 * 1024, 'p'), false,
                     std::to_string(i % 3));
      }
      settle(Duration(0.0005));
      if (g_ws) most = std::max(most, g_ws->buffered_amount() + live.bytes());
    }
    settle();
    // 72 MB published; unsent at any time: the limit and one message.
    EXPECT_LE(most, o.max_pending_bytes + 48 * 1024 + 16) << "policy " << static_cast<int>(policy);
    EXPECT_GT(most, 0u);
    // The watcher, and the client unless it was disconnected (with the close frame sent).
    EXPECT_EQ(hub->subscriber_count("t0"), policy == P::kDisconnect ? 1u : 2u);
    client->close();
    settle();
    EXPECT_EQ(hub->subscriber_count("t0"), 1u);
  }
}

TEST_F(HostileNetTest, SameConnectionSubscribingTwiceToATopicIsRefused) {
  auto client = ws_client("/twice");
  EXPECT_EQ(g_events, std::vector<std::string>{"refused"});
  EXPECT_EQ(hub->subscriber_count("t0"), 1u);
}

// The recovery itself overflows a slow client, which is disconnected inside subscribe(): its
// presence must read join then leave, never leave then join (a member shown forever).
TEST_F(HostileNetTest, MemberDisconnectedDuringItsRecoveryJoinsBeforeItLeaves) {
  pubsub::TopicOptions o;
  o.history_size = 50;
  o.track_members = true;
  o.max_pending_bytes = 64 * 1024;  // policy: disconnect
  hub->configure("room", o);
  std::vector<std::string> presence;
  auto watcher = hub->subscribe(pubsub::Hub::presence_topic("room"), [&](const auto& m) {
    presence.push_back(nlohmann::json::parse(m->data())["event"]);
  });
  for (int i = 0; i < 50; ++i) hub->publish("room", std::string(60 * 1024, 'h'));
  g_since = pubsub::StreamPosition{hub->stats("room").position.epoch, 0};
  tornado::testing::ExpectLog log(gen_log(), "disconnecting a slow subscriber of room");
  auto client = ws_client("/member");
  settle();
  EXPECT_EQ(hub->subscriber_count("room"), 0u);
  EXPECT_TRUE(hub->members("room").empty());
  EXPECT_EQ(presence, (std::vector<std::string>{"join", "leave"}));
}

// ---- event streams ----------------------------------------------------------------------------

// The heartbeat of a stream whose client reads nothing must not pile up behind the unsent
// bytes: one heartbeat is enough to notice a lost client.
TEST_F(HostileNetTest, HeartbeatsDoNotPileUpBehindAClientThatNeverReads) {
  auto client = raw("GET /big HTTP/1.1\r\nHost: x\r\n\r\n");
  settle(Duration(0.05));
  ASSERT_TRUE(g_sse);
  const std::size_t queued = g_sse->buffered_amount();
  ASSERT_GT(queued, 0u);
  settle(Duration(0.3));  // about 300 heartbeat periods
  ASSERT_TRUE(g_sse);
  EXPECT_LE(g_sse->buffered_amount(), queued);
}

// A message of many short lines is about 7 times larger as an event ("data: " per line):
// the limit must count what is written, not the message's size.
TEST_F(HostileNetTest, EventStreamLimitCountsTheEncodedEventNotTheMessage) {
  pubsub::TopicOptions o;
  o.slow_consumer = pubsub::SlowConsumerPolicy::kDropNewest;
  o.max_pending_bytes = 64 * 1024;
  hub->configure("lines", o);
  LiveMessages live;
  live.watch(*hub, "lines");
  auto client = raw("GET /lines HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(g_sse);
  std::string data(999, '\n');  // 1,000 empty lines
  std::size_t most = 0;
  for (int i = 0; i < 2000; ++i) {
    hub->publish("lines", data);
    if (i % 8 != 7) continue;
    settle(Duration(0.0005));  // the loop's queue delivered: what lives is in the backlog
    most = std::max(most, g_sse->buffered_amount() + live.bytes(/*sse=*/true));
  }
  EXPECT_GT(hub->stats("lines").dropped, 0u);
  const std::size_t event = 7 * 1000 + 64;
  EXPECT_LE(most, o.max_pending_bytes + event) << most;
}

TEST_F(HostileNetTest, OpenThatThrowsIsLoggedAndEndsTheStreamCleanly) {
  tornado::testing::ExpectLog log(app_log(), "Uncaught exception GET /throws");
  auto client = raw("GET /throws HTTP/1.1\r\nHost: x\r\n\r\n", 0);
  auto body = run_sync([&]() -> Task<std::string> {
    std::string all;
    try {
      for (;;) all += co_await client->read_bytes(65536, true);
    } catch (const StreamClosedError&) {
    }
    co_return all;
  });
  EXPECT_NE(body.find("data: before\n"), std::string::npos);
  EXPECT_TRUE(body.ends_with("0\r\n\r\n")) << body;
  EXPECT_EQ(g_events, std::vector<std::string>{"close"});
}

TEST_F(HostileNetTest, HalfClosingClientEndsTheStreamOnce) {
  auto client = raw("GET /idle HTTP/1.1\r\nHost: x\r\n\r\n", 0);
  ::shutdown(client->fd(), SHUT_WR);
  settle(Duration(0.05));
  EXPECT_EQ(g_events, (std::vector<std::string>{"open -", "close"}));
}

TEST_F(HostileNetTest, PipelinedRequestBehindAnEventStreamIsNeverServed) {
  auto client =
      raw("GET /idle HTTP/1.1\r\nHost: x\r\n\r\nGET /plain HTTP/1.1\r\nHost: x\r\n\r\n", 0);
  auto got = run_sync([&]() -> Task<std::string> {
    co_return co_await client->read_until("data: hello\n\n", 65536);
  });
  settle(Duration(0.05));
  EXPECT_EQ(g_events, std::vector<std::string>{"open -"});
  client->close();
  settle();
  EXPECT_EQ(g_events, (std::vector<std::string>{"open -", "close"}));
}

TEST_F(HostileNetTest, HugeLastEventIdIsRefusedBeforeTheHandler) {
  auto client = raw(
      "GET /idle HTTP/1.1\r\nHost: x\r\nLast-Event-ID: " + std::string(70 * 1024, '7') + "\r\n\r\n",
      0);
  auto head = run_sync([&]() -> Task<std::string> {
    try {
      co_return co_await client->read_until("\r\n", 4096);
    } catch (const StreamClosedError&) {
      co_return std::string("closed");
    }
  });
  EXPECT_TRUE(head.starts_with("HTTP/1.1 431") || head == "closed") << head;
  EXPECT_TRUE(g_events.empty());
}

}  // namespace

}  // namespace pubsub_hostile_net_test
