// EventSourceHandler (Server-Sent Events): the response head, the encoding of events (data
// split into lines, event/id/retry fields), Last-Event-ID, the heartbeat, backpressure and
// ends from either side; and an event stream as a hub subscriber, with recovery from
// Last-Event-ID. The client is a raw socket that decodes the chunked body itself.
#include "tornado/web/event_source.h"

#include <gtest/gtest.h>

#include "http_test_util.h"
#include "tornado/pubsub.h"
#include "tornado/testing.h"
#include "tornado/web.h"

namespace event_source_test {

using namespace tornado;
using namespace std::chrono_literals;

namespace {

struct Log {
  std::vector<std::string> events;
  std::optional<std::string> last_event_id;
  bool send_raised_after_close = false;
};
Log g;

pubsub::Hub* g_hub = nullptr;

// Sends three events in open(), then waits for the client to go away.
struct Events : web::EventSourceHandler {
  Task<> open() override {
    g.last_event_id = last_event_id();
    g.events.push_back("open");
    co_await send("plain");
    co_await send("line one\nline two\r\nline three\rlast", "update", "7", Duration(2.5));
    co_await send("", "empty");
    (void)send("trailing newline\n");
  }
  void on_close() override { g.events.push_back("close"); }
  std::optional<Duration> heartbeat_interval() const override { return std::nullopt; }
};

struct Quiet : web::EventSourceHandler {
  std::optional<Duration> heartbeat_interval() const override { return Duration(0.03); }
  void on_close() override { g.events.push_back("close"); }
};

struct ClosesItself : web::EventSourceHandler {
  Task<> open() override {
    co_await send("bye");
    close();
    try {
      (void)send("after");
    } catch (const StreamClosedError&) {
      g.send_raised_after_close = true;
    }
  }
  void on_close() override { g.events.push_back("close"); }
};

struct BadFields : web::EventSourceHandler {
  Task<> open() override {
    using P = std::pair<std::string_view, std::string_view>;
    for (auto [event, id] : {P{"a\nb", ""}, P{"", "1\r2"}, P{"", std::string_view("x\0y", 3)}}) {
      try {
        (void)send("data", event, id);
        g.events.push_back("sent");
      } catch (const std::invalid_argument&) {
        g.events.push_back("invalid");
      }
    }
    close();
    co_return;
  }
};

// Sends 16 KiB events without awaiting them, one every half millisecond, until a send
// raises; records the unsent bytes then and what was raised.
struct Flood : web::EventSourceHandler {
  static inline std::size_t unsent_before = 0;
  static inline std::size_t unsent_max = 0;
  static inline std::string raised;
  static inline bool later_send_raised = false;
  static inline std::size_t sent = 0;
  Task<> open() override {
    const std::string data(16 * 1024 - 16, 'x');
    for (int i = 0; i < 100000; ++i) {
      unsent_before = buffered_amount();
      unsent_max = std::max(unsent_max, unsent_before);
      try {
        (void)send(data);
        ++sent;
      } catch (const StreamClosedError& e) {
        try {
          if (e.real_error()) std::rethrow_exception(e.real_error());
          raised = "closed";
        } catch (const StreamBufferFullError&) {
          raised = "buffer full";
        } catch (...) {
          raised = "other";
        }
        break;
      }
      co_await sleep(0.5ms);
    }
    try {
      (void)send("after");
    } catch (const StreamClosedError&) {
      later_send_raised = true;
    }
  }
  void on_close() override { g.events.push_back("close"); }
  std::optional<Duration> heartbeat_interval() const override { return std::nullopt; }
};

// One event of 2 MiB, twice the default bound, to a client with nothing unsent (the response
// head is still queued when open() begins: it does not count).
struct Large : web::EventSourceHandler {
  Task<> open() override {
    std::string data(2 * 1024 * 1024, 'y');
    data += "end";
    co_await send(data);
    g.events.push_back("sent");
  }
};

struct Subscriber : web::EventSourceHandler {
  pubsub::Subscription sub;
  Task<> open() override {
    pubsub::SubscribeOptions o;
    if (last_event_id()) o.since = pubsub::StreamPosition::parse(*last_event_id());
    sub = g_hub->subscribe("feed", *this, o);
    g.events.push_back(sub.recovery() == pubsub::Recovery::kRecovered       ? "recovered"
                       : sub.recovery() == pubsub::Recovery::kUnrecoverable ? "unrecoverable"
                                                                            : "fresh");
    co_return;
  }
  void on_close() override { g.events.push_back("close"); }
};

// A raw client: the head, then the body's chunks decoded as they come.
class RawEventStream {
 public:
  static Task<std::shared_ptr<RawEventStream>> open(int port, std::string path,
                                                    std::string extra = {},
                                                    std::string version = "1.1") {
    auto s = std::make_shared<RawEventStream>();
    s->stream = co_await test::connect_loopback(port);
    co_await s->stream->write("GET " + path + " HTTP/" + version + "\r\nHost: 127.0.0.1\r\n" +
                              extra + "\r\n");
    s->head = co_await s->stream->read_until("\r\n\r\n", 65536);
    s->chunked = s->head.find("Transfer-Encoding: chunked") != std::string::npos;
    co_return s;
  }
  // Body bytes until `text` appears in what was read (or EOF); returns everything so far.
  Task<std::string> read_until_text(std::string_view text) {
    while (body.find(text) == std::string::npos && !eof) co_await read_some();
    co_return body;
  }
  Task<std::string> read_to_end() {
    while (!eof) co_await read_some();
    co_return body;
  }
  Task<> read_some() {
    try {
      if (!chunked) {
        body += co_await stream->read_bytes(1, /*partial=*/true);
        co_return;
      }
      std::string line = co_await stream->read_until("\r\n", 100);
      const std::size_t n = std::stoul(line, nullptr, 16);
      std::string data = co_await stream->read_bytes(n + 2);
      EXPECT_EQ(data.substr(n), "\r\n");
      if (n == 0) {
        ended_cleanly = true;
        eof = true;
      }
      body += data.substr(0, n);
    } catch (const StreamClosedError&) {
      eof = true;
    }
  }
  std::shared_ptr<IOStream> stream;
  std::string head;
  std::string body;
  bool chunked = false;
  bool eof = false;
  bool ended_cleanly = false;
};

class EventSourceTest : public tornado::testing::AsyncHTTPTest {
 protected:
  void SetUp() override {
    g = Log();
    // Flood's figures are static (its handler object is made per request): from zero for
    // each test, also under --gtest_repeat.
    Flood::unsent_before = Flood::unsent_max = Flood::sent = 0;
    Flood::raised.clear();
    Flood::later_send_raised = false;
    hub = std::make_unique<pubsub::Hub>();
    g_hub = hub.get();
    pubsub::TopicOptions o;
    o.history_size = 10;
    hub->configure("feed", o);
    AsyncHTTPTest::SetUp();
  }
  tornado::testing::HTTPApp get_app() override {
    return std::make_shared<web::Application>(std::vector<web::URLSpec>{
        {"/events", web::handler<Events>()},
        {"/quiet", web::handler<Quiet>()},
        {"/closes", web::handler<ClosesItself>()},
        {"/bad", web::handler<BadFields>()},
        {"/feed", web::handler<Subscriber>()},
        {"/flood", web::handler<Flood>()},
        {"/large", web::handler<Large>()},
    });
  }
  std::shared_ptr<RawEventStream> open(const std::string& path, const std::string& extra = {},
                                       const std::string& version = "1.1") {
    return run_sync([&]() -> Task<std::shared_ptr<RawEventStream>> {
      return RawEventStream::open(get_http_port(), path, extra, version);
    });
  }
  std::string read_until_text(RawEventStream& s, std::string_view text) {
    return run_sync([&]() -> Task<std::string> { return s.read_until_text(text); });
  }
  void settle() {
    run_sync([]() -> Task<> { co_await sleep(20ms); });
  }
  std::unique_ptr<pubsub::Hub> hub;
};

TEST_F(EventSourceTest, HeadAndEventsAreEncodedAsTheSpecSays) {
  auto s = open("/events");
  EXPECT_TRUE(s->head.starts_with("HTTP/1.1 200 OK\r\n")) << s->head;
  EXPECT_NE(s->head.find("Content-Type: text/event-stream\r\n"), std::string::npos);
  EXPECT_NE(s->head.find("Cache-Control: no-cache\r\n"), std::string::npos);
  EXPECT_TRUE(s->chunked);
  EXPECT_EQ(s->head.find("Content-Length"), std::string::npos);
  const std::string body = read_until_text(*s, "trailing newline\ndata: \n\n");
  EXPECT_EQ(body,
            "data: plain\n\n"
            "event: update\nid: 7\nretry: 2500\n"
            "data: line one\ndata: line two\ndata: line three\ndata: last\n\n"
            "event: empty\ndata: \n\n"
            "data: trailing newline\ndata: \n\n");
  EXPECT_FALSE(g.last_event_id);
  s->stream->close();
  settle();
  EXPECT_EQ(g.events, (std::vector<std::string>{"open", "close"}));
}

TEST_F(EventSourceTest, LastEventIdIsHandedToTheHandler) {
  auto s = open("/events", "Last-Event-ID: 41\r\n");
  read_until_text(*s, "plain");
  EXPECT_EQ(g.last_event_id, "41");
}

TEST_F(EventSourceTest, Http10ClientGetsABodyThatEndsAtTheClose) {
  auto s = open("/closes", "", "1.0");
  EXPECT_FALSE(s->chunked);
  EXPECT_NE(s->head.find("Connection: close"), std::string::npos);
  const std::string body = run_sync([&]() -> Task<std::string> { return s->read_to_end(); });
  EXPECT_EQ(body, "data: bye\n\n");
}

TEST_F(EventSourceTest, HeartbeatCommentsKeepAnIdleStreamAlive) {
  auto s = open("/quiet");
  const std::string body = read_until_text(*s, ":\n\n:\n\n");
  EXPECT_EQ(body, ":\n\n:\n\n");
}

TEST_F(EventSourceTest, CloseEndsTheChunkedBodyAndLaterSendsRaise) {
  auto s = open("/closes");
  const std::string body = run_sync([&]() -> Task<std::string> { return s->read_to_end(); });
  EXPECT_EQ(body, "data: bye\n\n");
  EXPECT_TRUE(s->ended_cleanly);  // the last chunk came before the close
  EXPECT_TRUE(g.send_raised_after_close);
  settle();
  EXPECT_EQ(g.events, (std::vector<std::string>{"close"}));
}

TEST_F(EventSourceTest, FieldsWithLineBreaksOrNulAreRefused) {
  auto s = open("/bad");
  run_sync([&]() -> Task<> { co_await s->read_to_end(); });
  EXPECT_EQ(g.events, (std::vector<std::string>{"invalid", "invalid", "invalid"}));
  EXPECT_EQ(s->body, "");
}

TEST_F(EventSourceTest, ClientThatSendsTooMuchIsCutOff) {
  auto s = open("/quiet");
  tornado::testing::ExpectLog log(gen_log(), "Event stream client .* sent .* bytes: closing");
  run_sync([&]() -> Task<> {
    co_await s->stream->write(std::string(70 * 1024, 'x'));
    co_await s->read_to_end();
  });
  settle();
  EXPECT_EQ(g.events, (std::vector<std::string>{"close"}));
}

TEST_F(EventSourceTest, SendsPastTheBoundToAClientThatNeverReadsEndTheStream) {
  // The client reads the head and nothing more: the kernel's buffers fill, then the
  // handler's queue, up to 1 MiB; the next send ends the stream and says why.
  tornado::testing::ExpectLog log(gen_log(), "Event stream client .* bytes unsent.*closing");
  auto s = open("/flood");
  run_sync([&]() -> Task<> {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (Flood::raised.empty() && std::chrono::steady_clock::now() < deadline) {
      co_await sleep(10ms);
    }
  }, Duration(30));
  EXPECT_EQ(Flood::raised, "buffer full");
  EXPECT_LE(Flood::unsent_max, 1024u * 1024u) << "queued past the bound";
  EXPECT_GT(Flood::unsent_before + 16 * 1024, 1024u * 1024u) << "ended before the bound";
  EXPECT_TRUE(Flood::later_send_raised);
  // The client reads again: it gets every event queued before the bound, whole, then the
  // body's end (close() flushes what is queued), and on_close runs.
  const std::string body = run_sync([&]() -> Task<std::string> { return s->read_to_end(); },
                                    Duration(20));
  EXPECT_TRUE(s->ended_cleanly);
  EXPECT_EQ(body.size(), Flood::sent * (16 * 1024 - 16 + 8));  // "data: ", the data, "\n\n"
  settle();
  EXPECT_EQ(g.events, (std::vector<std::string>{"close"}));
  std::cout << "[ figures  ] " << Flood::sent << " events of 16 KiB sent before the bound ("
            << Flood::unsent_before << " bytes unsent then)\n";
}

TEST_F(EventSourceTest, OneEventLargerThanTheBoundStillGoesToAClientWithNothingUnsent) {
  auto s = open("/large");
  const std::string body = read_until_text(*s, "end\n\n");
  EXPECT_EQ(body.size(), 2u * 1024 * 1024 + 3 + 8);  // "data: ", the data, "\n\n"
  settle();
  EXPECT_EQ(g.events, (std::vector<std::string>{"sent"}));
}

TEST_F(EventSourceTest, OnlyGetOpensAStream) {
  tornado::testing::ExpectLog log(access_log(), "405 (HEAD|POST) /events");
  for (const char* method : {"HEAD", "POST"}) {
    httpclient::HTTPRequest req;
    req.method = method;
    if (std::string_view(method) == "POST") req.body = "x";
    EXPECT_EQ(fetch("/events", req, false).code, 405) << method;
  }
  EXPECT_TRUE(g.events.empty());
}

// ---- as a hub subscriber ------------------------------------------------------------------

TEST_F(EventSourceTest, HubMessagesArriveAsEventsWithTheirPositionAsId) {
  auto s = open("/feed");
  settle();
  EXPECT_EQ(hub->subscriber_count("feed"), 1u);
  const auto p1 = hub->publish("feed", "hello\nworld");
  hub->publish("feed", std::string("\x01\x02", 2), /*binary=*/true);  // not for SSE
  const auto p3 = hub->publish("feed", "third");
  const std::string body = read_until_text(*s, "third");
  EXPECT_EQ(body, "id: " + p1.to_string() + "\ndata: hello\ndata: world\n\n" +
                      "id: " + p3.to_string() + "\ndata: third\n\n");
  EXPECT_EQ(hub->stats("feed").undeliverable, 1u);
  s->stream->close();
  settle();
  EXPECT_EQ(hub->subscriber_count("feed"), 0u);  // the subscription ended with the stream
  EXPECT_EQ(g.events, (std::vector<std::string>{"fresh", "close"}));
}

TEST_F(EventSourceTest, ReconnectWithLastEventIdRecoversExactlyTheMissedEvents) {
  hub->publish("feed", "m1");
  const auto seen = hub->publish("feed", "m2");
  hub->publish("feed", "m3");  // published while the client was away
  const auto p4 = hub->publish("feed", "m4");
  auto s = open("/feed", "Last-Event-ID: " + seen.to_string() + "\r\n");
  const std::string body = read_until_text(*s, "m4");
  EXPECT_EQ(body.find("m1"), std::string::npos);
  EXPECT_EQ(body.find("m2"), std::string::npos);
  EXPECT_NE(body.find("data: m3\n"), std::string::npos);
  EXPECT_NE(body.find("id: " + p4.to_string() + "\ndata: m4\n\n"), std::string::npos);
  EXPECT_EQ(g.events[0], "recovered");
  auto bad = open("/feed", "Last-Event-ID: 1-1\r\n");  // another epoch
  settle();
  EXPECT_EQ(g.events[1], "unrecoverable");
}

}  // namespace

}  // namespace event_source_test
