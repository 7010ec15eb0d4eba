// WebSocket connections as hub subscribers: the shared frame (and the shared deflated frame
// for no-context-takeover peers), the end of the subscription with the connection, and each
// slow-consumer policy against a client that stops reading while another keeps up.
#include <gtest/gtest.h>
#include <zlib.h>

#include <thread>

#include "tornado/pubsub.h"
#include "tornado/testing.h"
#include "tornado/websocket.h"
#include "websocket_test_util.h"

namespace pubsub_websocket_test {

using namespace tornado;
using namespace std::chrono_literals;
using tornado::test::RawWebSocket;
using tornado::test::ServerFrame;

namespace {

pubsub::Hub* g_hub = nullptr;
int g_closed = 0;

// /sub/<topic>: subscribes in open(); /sub-deflate/<topic> also accepts permessage-deflate.
struct Sub : websocket::WebSocketHandler {
  pubsub::Subscription sub;
  Task<> open() override {
    sub = g_hub->subscribe(path_arg(0), *this);
    co_return;
  }
  Task<> on_message(std::string, bool) override { co_return; }
  void on_close() override { ++g_closed; }
};
struct SubDeflate : Sub {
  std::optional<websocket::CompressionOptions> get_compression_options() override {
    return websocket::CompressionOptions();
  }
};
// /sub-pos/<topic>?since=<position>: messages carry their position; recovery from `since`.
struct SubPositioned : SubDeflate {
  Task<> open() override {
    pubsub::SubscribeOptions o;
    o.send_position = true;
    if (auto since = get_query_argument("since", std::string()); !since.empty()) {
      o.since = pubsub::StreamPosition::parse(since);
    }
    sub = g_hub->subscribe(path_arg(0), *this, o);
    co_return;
  }
};

// Raw inflate of one permessage-deflate message (RFC 7692: the 00 00 FF FF tail restored).
std::string inflate_message(std::string payload) {
  payload.append("\x00\x00\xff\xff", 4);
  z_stream z{};
  inflateInit2(&z, -15);
  std::string out(1 << 20, '\0');
  z.next_in = reinterpret_cast<Bytef*>(payload.data());
  z.avail_in = static_cast<uInt>(payload.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  inflate(&z, Z_SYNC_FLUSH);
  out.resize(z.total_out);
  inflateEnd(&z);
  return out;
}

class PubsubWebSocketTest : public tornado::testing::AsyncHTTPTest {
 protected:
  void SetUp() override {
    hub = std::make_unique<pubsub::Hub>();
    g_hub = hub.get();
    g_closed = 0;
    AsyncHTTPTest::SetUp();
  }
  tornado::testing::HTTPApp get_app() override {
    return std::make_shared<web::Application>(std::vector<web::URLSpec>{
        {"/sub/(.+)", web::handler<Sub>()},
        {"/sub-deflate/(.+)", web::handler<SubDeflate>()},
        {"/sub-pos/([^?]+)", web::handler<SubPositioned>()},
    });
  }
  // A subscriber; `receive_buffer` > 0 makes its socket's window that small (a reader that
  // stops reading then backs up into the server quickly).
  std::shared_ptr<RawWebSocket> subscribe(const std::string& path, int receive_buffer = 0,
                                          const std::string& extra = {}) {
    auto ws = run_sync([&]() -> Task<std::shared_ptr<RawWebSocket>> {
      auto stream = co_await test::connect_loopback(get_http_port(), receive_buffer);
      co_await stream->write("GET " + path +
                             " HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                             "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                             "Sec-WebSocket-Version: 13\r\n" +
                             extra + "\r\n");
      std::string head = co_await stream->read_until("\r\n\r\n", 65536);
      EXPECT_TRUE(head.starts_with("HTTP/1.1 101")) << head;
      co_return std::make_shared<RawWebSocket>(stream);
    });
    settle();
    return ws;
  }
  ServerFrame next(RawWebSocket& ws) {
    auto f = run_sync([&]() -> Task<std::optional<ServerFrame>> { return ws.read_frame(); });
    EXPECT_TRUE(f);
    return f.value_or(ServerFrame{});
  }
  void settle(Duration d = Duration(0.02)) {
    run_sync([d]() -> Task<> { co_await sleep(d); });
  }
  // Publishes `count` numbered messages of `size` bytes ("<n>:xxx..."), letting the loop run
  // between them so the sockets fill as they would in life.
  void publish_numbered(const std::string& topic, int count, std::size_t size,
                        const std::string& key_prefix = {}) {
    for (int i = 0; i < count; ++i) {
      std::string data = std::to_string(i) + ":";
      data.resize(size, 'x');
      hub->publish(topic, data, false, key_prefix.empty() ? "" : key_prefix + std::to_string(i % 2));
      if (i % 16 == 15) settle(Duration(0.001));
    }
    settle();
  }
  // Reads numbered text frames until `last` arrives or the connection ends; returns the
  // numbers in arrival order (and minus the code of a close frame).
  std::vector<int> read_numbers(RawWebSocket& ws, int last) {
    return run_sync([&]() -> Task<std::vector<int>> {
      std::vector<int> got;
      for (;;) {
        auto f = co_await ws.read_frame();
        if (!f) break;
        if (f->opcode() == 8) {  // -code
          got.push_back(f->payload.size() < 2 ? -1
                                              : -((static_cast<unsigned char>(f->payload[0]) << 8) |
                                                  static_cast<unsigned char>(f->payload[1])));
          break;
        }
        got.push_back(std::stoi(f->payload.substr(0, f->payload.find(':'))));
        if (got.back() == last) break;
      }
      co_return got;
    }, Duration(20));
  }
  void configure(pubsub::SlowConsumerPolicy policy) {
    pubsub::TopicOptions o;
    o.slow_consumer = policy;
    o.max_pending_bytes = 64 * 1024;
    hub->configure("t", o);
  }
  std::unique_ptr<pubsub::Hub> hub;
};

TEST_F(PubsubWebSocketTest, EverySubscriberGetsTheMessageAsATextOrBinaryFrame) {
  auto a = subscribe("/sub/t");
  auto b = subscribe("/sub/t");
  EXPECT_EQ(hub->subscriber_count("t"), 2u);
  hub->publish("t", "hello");
  hub->publish("t", std::string("\x00\xff", 2), true);
  for (auto* ws : {a.get(), b.get()}) {
    EXPECT_EQ(RawWebSocket::describe(next(*ws)), "text:hello");
    EXPECT_EQ(RawWebSocket::describe(next(*ws)), "binary:" + std::string("\x00\xff", 2));
  }
}

TEST_F(PubsubWebSocketTest, SubscriptionEndsWhenTheConnectionCloses) {
  auto a = subscribe("/sub/t");
  auto b = subscribe("/sub/t");
  a->stream().close();
  settle();
  EXPECT_EQ(g_closed, 1);
  EXPECT_EQ(hub->subscriber_count("t"), 1u);
  hub->publish("t", "still here");
  EXPECT_EQ(RawWebSocket::describe(next(*b)), "text:still here");
}

TEST_F(PubsubWebSocketTest, NoContextTakeoverPeersShareOneDeflatedFrame) {
  auto plain = subscribe("/sub-deflate/t");  // offered nothing: uncompressed
  auto shared = subscribe("/sub-deflate/t", 0,
                          "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover\r\n");
  auto own = subscribe("/sub-deflate/t", 0, "Sec-WebSocket-Extensions: permessage-deflate\r\n");
  const std::string text(2000, 'a');
  hub->publish("t", text);
  hub->publish("t", text);
  auto p = next(*plain);
  EXPECT_FALSE(p.rsv1());
  EXPECT_EQ(p.payload, text);
  auto s1 = next(*shared), s2 = next(*shared);
  EXPECT_TRUE(s1.rsv1());
  EXPECT_EQ(s1.payload, s2.payload);  // each compressed alone: the same bytes both times
  EXPECT_EQ(inflate_message(s1.payload), text);
  EXPECT_LT(s1.payload.size(), 100u);
  // With context takeover the connection deflates with its own window: the second message
  // refers to the first and comes out smaller.
  auto o1 = next(*own), o2 = next(*own);
  EXPECT_TRUE(o1.rsv1());
  EXPECT_LT(o2.payload.size(), o1.payload.size());
}

TEST_F(PubsubWebSocketTest, SendPositionPrefixesEachMessageWithItsPositionAndRecoversFromIt) {
  pubsub::TopicOptions history;
  history.history_size = 10;
  hub->configure("t", history);
  const auto p1 = hub->publish("t", "one");
  const auto p2 = hub->publish("t", "two");
  const auto p3 = hub->publish("t", "three");
  // Recovers what came after p1, then the live message; each as "<position>\n<data>".
  auto plain = subscribe("/sub-pos/t?since=" + p1.to_string());
  auto shared = subscribe("/sub-pos/t?since=" + p1.to_string(), 0,
                          "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover\r\n");
  auto own = subscribe("/sub-pos/t?since=" + p1.to_string(), 0,
                       "Sec-WebSocket-Extensions: permessage-deflate\r\n");
  auto unpositioned = subscribe("/sub/t");
  const auto p4 = hub->publish("t", "four");
  const std::vector<std::string> expected = {p2.to_string() + "\ntwo", p3.to_string() + "\nthree",
                                             p4.to_string() + "\nfour"};
  for (const auto& want : expected) {
    EXPECT_EQ(RawWebSocket::describe(next(*plain)), "text:" + want);
    auto s = next(*shared);
    EXPECT_TRUE(s.rsv1());
    EXPECT_EQ(inflate_message(s.payload), want);
  }
  // With its own context, the connection's inflater keeps its window across messages.
  z_stream z{};
  inflateInit2(&z, -15);
  for (const auto& want : expected) {
    auto f = next(*own);
    EXPECT_TRUE(f.rsv1());
    std::string in = f.payload + std::string("\x00\x00\xff\xff", 4), out(4096, '\0');
    z.next_in = reinterpret_cast<Bytef*>(in.data());
    z.avail_in = static_cast<uInt>(in.size());
    z.next_out = reinterpret_cast<Bytef*>(out.data());
    z.avail_out = static_cast<uInt>(out.size());
    inflate(&z, Z_SYNC_FLUSH);
    out.resize(out.size() - z.avail_out);
    EXPECT_EQ(out, want);
  }
  inflateEnd(&z);
  // A subscriber that did not ask gets the data alone, from the same message.
  EXPECT_EQ(RawWebSocket::describe(next(*unpositioned)), "text:four");
  // The position it was sent can be passed back: nothing after p4 yet, so only new ones.
  auto again = subscribe("/sub-pos/t?since=" + p4.to_string());
  const auto p5 = hub->publish("t", "five");
  EXPECT_EQ(RawWebSocket::describe(next(*again)), "text:" + p5.to_string() + "\nfive");
}

// ---- slow consumers: one client stops reading, the other keeps up -----------------------------

TEST_F(PubsubWebSocketTest, DisconnectPolicyClosesTheSlowSubscriberWith1008) {
  configure(pubsub::SlowConsumerPolicy::kDisconnect);
  tornado::testing::ExpectLog log(gen_log(), "disconnecting a slow subscriber of t", false);
  auto slow = subscribe("/sub/t", 4096);
  auto fast = subscribe("/sub/t");
  constexpr int kCount = 3000;
  spawn([](std::shared_ptr<RawWebSocket> ws) -> Task<> {
    for (;;) {  // keeps reading
      auto f = co_await ws->read_frame();
      if (!f) break;
    }
  }(fast));
  publish_numbered("t", kCount, 1024);
  const auto stats = hub->stats("t");
  EXPECT_EQ(stats.disconnected, 1u);
  EXPECT_EQ(hub->subscriber_count("t"), 1u);
  // The slow one gets what was sent before the cut, in order, then close 1008.
  auto got = read_numbers(*slow, kCount - 1);
  ASSERT_FALSE(got.empty());
  EXPECT_EQ(got.back(), -1008);
  for (std::size_t i = 0; i + 1 < got.size(); ++i) ASSERT_EQ(got[i], static_cast<int>(i));
  EXPECT_LT(got.size(), static_cast<std::size_t>(kCount));
}

// The loop itself falls behind: another thread publishes 100 KiB while this loop is busy.
// Past max_queued_bytes nothing more is queued for it, and its connection, which missed
// messages, is closed 1008 after the ones that were queued, in order.
TEST_F(PubsubWebSocketTest, LoopBehindItsPublisherDisconnectsItsConnectionsAfterTheQueued) {
  pubsub::TopicOptions o;  // kDisconnect
  o.max_queued_bytes = 16 * 1024;
  hub->configure("t", o);
  // One line for the loop, not one per connection (a loop may hold thousands).
  tornado::testing::ExpectLog log(gen_log(), "disconnected 3 subscriber\\(s\\) of t whose loop fell 84 messages behind");
  std::vector<std::shared_ptr<RawWebSocket>> sockets;
  for (int i = 0; i < 3; ++i) sockets.push_back(subscribe("/sub/t"));
  // A callback on the same loop keeps the topic (and its counters) after the cut: it cannot
  // be disconnected, so the 84 messages count as dropped for it.
  auto keep = hub->subscribe("t", [](const pubsub::MessagePtr&) {});
  run_sync([&]() -> Task<> {
    std::thread publisher([&] {
      for (int i = 0; i < 100; ++i) {
        std::string data = std::to_string(i) + ":";
        data.resize(1024, 'x');
        hub->publish("t", data);
      }
    });
    publisher.join();  // this loop is blocked meanwhile: its deliveries queue up
    co_return;
  });
  for (auto& ws : sockets) {
    auto got = read_numbers(*ws, 99);
    ASSERT_EQ(got.size(), 17u);  // 16 KiB queued, then the close
    for (int i = 0; i < 16; ++i) EXPECT_EQ(got[i], i);
    EXPECT_EQ(got.back(), -1008);
  }
  EXPECT_EQ(log.matched(), 1);
  EXPECT_EQ(hub->stats("t").disconnected, 3u);
  EXPECT_EQ(hub->stats("t").dropped, 84u);
  EXPECT_EQ(hub->subscriber_count("t"), 1u);
}

TEST_F(PubsubWebSocketTest, DropNewestKeepsTheOldestAndCountsEveryDrop) {
  configure(pubsub::SlowConsumerPolicy::kDropNewest);
  auto slow = subscribe("/sub/t", 4096);
  auto fast = subscribe("/sub/t");
  constexpr int kCount = 3000;
  auto fast_got = spawn([](std::shared_ptr<RawWebSocket> ws) -> Task<int> {
    int n = 0;
    for (;;) {
      auto f = co_await ws->read_frame();
      if (!f || ++n == kCount) break;
    }
    co_return n;
  }(fast));
  publish_numbered("t", kCount, 1024);
  EXPECT_EQ(run_sync([&]() -> Task<int> { co_return co_await fast_got; }), kCount);
  const auto stats = hub->stats("t");
  EXPECT_GT(stats.dropped, 0u);
  EXPECT_EQ(stats.disconnected, 0u);
  // The slow reader now reads: a run from 0 with no gap (the newest were dropped), and what
  // it missed is exactly the counter. "end" is published once its queue drained.
  auto slow_got = spawn([](std::shared_ptr<RawWebSocket> ws) -> Task<std::vector<int>> {
    std::vector<int> got;
    for (;;) {
      auto f = co_await ws->read_frame();
      if (!f || f->payload == "end") break;
      got.push_back(std::stoi(f->payload.substr(0, f->payload.find(':'))));
    }
    co_return got;
  }(slow));
  settle(Duration(0.2));
  hub->publish("t", "end");
  auto got = run_sync([&]() -> Task<std::vector<int>> { co_return co_await slow_got; });
  ASSERT_FALSE(got.empty());
  for (std::size_t i = 0; i < got.size(); ++i) ASSERT_EQ(got[i], static_cast<int>(i));
  EXPECT_EQ(got.size() + stats.dropped, static_cast<std::size_t>(kCount));
}

TEST_F(PubsubWebSocketTest, DropOldestAlwaysDeliversTheNewestMessages) {
  configure(pubsub::SlowConsumerPolicy::kDropOldest);
  auto slow = subscribe("/sub/t", 4096);
  constexpr int kCount = 3000;
  publish_numbered("t", kCount, 1024);
  const auto dropped = hub->stats("t").dropped;
  EXPECT_GT(dropped, 0u);
  auto got = read_numbers(*slow, kCount - 1);
  ASSERT_FALSE(got.empty());
  EXPECT_EQ(got.back(), kCount - 1);  // the last one published arrived
  for (std::size_t i = 1; i < got.size(); ++i) ASSERT_LT(got[i - 1], got[i]);  // in order
  EXPECT_EQ(got.size() + dropped, static_cast<std::size_t>(kCount));  // nothing else lost
}

TEST_F(PubsubWebSocketTest, ConflateKeepsTheLatestValuePerKey) {
  configure(pubsub::SlowConsumerPolicy::kConflate);
  auto slow = subscribe("/sub/t", 4096);
  constexpr int kCount = 3000;
  publish_numbered("t", kCount, 1024, "key");  // keys alternate: key0, key1
  const auto dropped = hub->stats("t").dropped;
  EXPECT_GT(dropped, 0u);
  auto got = read_numbers(*slow, kCount - 1);
  ASSERT_GE(got.size(), 2u);
  EXPECT_EQ(got.back(), kCount - 1);
  EXPECT_EQ(got[got.size() - 2], kCount - 2);  // the latest of the other key too
  for (std::size_t i = 1; i < got.size(); ++i) ASSERT_LT(got[i - 1], got[i]);
  EXPECT_EQ(got.size() + dropped, static_cast<std::size_t>(kCount));
}

}  // namespace

}  // namespace pubsub_websocket_test
