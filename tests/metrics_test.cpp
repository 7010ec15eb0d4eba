// metrics.h: the process-wide counters move with real requests, WebSocket connections and
// messages, and event streams against a real server, on one loop thread and on two; the
// named gauges; and counting from many threads while another reads (no lost update).
#include "tornado/metrics.h"

#include <gtest/gtest.h>

#include <set>
#include <thread>
#include <utility>

#include "http_test_util.h"
#include "tornado/pubsub.h"
#include "tornado/testing.h"
#include "tornado/web.h"
#include "tornado/web/event_source.h"
#include "tornado/websocket.h"
#include "tornado/websocket_client.h"

namespace metrics_test {

using namespace tornado;
using metrics::Transport;

namespace {

struct Ok : web::RequestHandler {
  Task<> get() override {
    write("ok");
    co_return;
  }
};
struct Moved : web::RequestHandler {
  Task<> get() override {
    redirect("/ok");
    co_return;
  }
};
struct Boom : web::RequestHandler {
  Task<> get() override {
    throw std::runtime_error("boom (expected by the test)");
    co_return;
  }
};
struct Echo : websocket::WebSocketHandler {
  pubsub::Subscription sub;
  Task<> open() override {
    sub = pubsub::Hub::instance().subscribe("metrics_test", *this);
    co_return;
  }
  Task<> on_message(std::string m, bool binary) override {
    (void)write_message(m, binary);
    co_return;
  }
};
// Hub deliveries as "<position>\n<data>" (SubscribeOptions::send_position).
struct Positioned : websocket::WebSocketHandler {
  pubsub::Subscription sub;
  Task<> open() override {
    pubsub::SubscribeOptions o;
    o.send_position = true;
    sub = pubsub::Hub::instance().subscribe("metrics_test", *this, o);
    co_return;
  }
  Task<> on_message(std::string, bool) override { co_return; }
};
struct Stream : web::EventSourceHandler {};

std::shared_ptr<web::Application> make_app() {
  return std::make_shared<web::Application>(
      std::vector<web::URLSpec>{{"/ok", web::handler<Ok>()},
                                {"/moved", web::handler<Moved>()},
                                {"/boom", web::handler<Boom>()},
                                {"/ws", web::handler<Echo>()},
                                {"/positioned", web::handler<Positioned>()},
                                {"/sse", web::handler<Stream>()}});
}

class MetricsTest : public tornado::testing::AsyncHTTPTest {
 protected:
  tornado::testing::HTTPApp get_app() override { return make_app(); }

  // Runs the loop until `done()` (the server's side of things happens on this loop).
  template <typename F>
  void wait_until(F done) {
    for (int i = 0; i < 500 && !done(); ++i) {
      run_sync([]() -> Task<> { co_await sleep(Duration(0.01)); });
    }
    ASSERT_TRUE(done());
  }
  int64_t open_now(Transport t) { return metrics::snapshot().open_of(t); }
};

TEST_F(MetricsTest, RequestsAreCountedByStatusClass) {
  const auto before = metrics::snapshot();
  EXPECT_EQ(fetch("/ok").code, 200);
  EXPECT_EQ(fetch("/ok").code, 200);
  httpclient::HTTPRequest no_follow;
  no_follow.follow_redirects = false;
  EXPECT_EQ(fetch("/moved", no_follow).code, 302);
  EXPECT_EQ(fetch("/missing").code, 404);
  {
    tornado::testing::ExpectLog expect(app_log(), "Uncaught exception");
    EXPECT_EQ(fetch("/boom").code, 500);
  }
  const auto after = metrics::snapshot();
  EXPECT_EQ(after.requests[0] - before.requests[0], 0u);
  EXPECT_EQ(after.requests[1] - before.requests[1], 2u);
  EXPECT_EQ(after.requests[2] - before.requests[2], 1u);
  EXPECT_EQ(after.requests[3] - before.requests[3], 1u);
  EXPECT_EQ(after.requests[4] - before.requests[4], 1u);
  EXPECT_EQ(after.requests_total() - before.requests_total(), 5u);
}

TEST_F(MetricsTest, AKeepAliveConnectionIsOpenUntilItCloses) {
  const int64_t base = open_now(Transport::kHttp);
  const uint64_t opened = metrics::snapshot().opened[0];
  const int port = get_http_port();
  auto stream = run_sync([port]() -> Task<std::shared_ptr<IOStream>> {
    auto s = co_await test::connect_loopback(port);
    for (int i = 0; i < 2; ++i) {  // two requests on one connection
      co_await s->write("GET /ok HTTP/1.1\r\nHost: x\r\n\r\n");
      co_await s->read_until("ok", 4096);
    }
    co_return s;
  });
  EXPECT_EQ(open_now(Transport::kHttp), base + 1);
  EXPECT_EQ(metrics::snapshot().opened[0], opened + 1);
  stream->close();
  wait_until([&] { return open_now(Transport::kHttp) == base; });
}

TEST_F(MetricsTest, WebSocketConnectionsAndMessagesAreCounted) {
  const auto before = metrics::snapshot();
  const std::string url = "ws://127.0.0.1:" + std::to_string(get_http_port()) + "/ws";
  auto ws = run_sync([url]() -> Task<std::shared_ptr<websocket::WebSocketClientConnection>> {
    auto c = co_await websocket::websocket_connect(url);
    for (int i = 0; i < 3; ++i) {
      co_await c->write_message("m" + std::to_string(i));
      auto back = co_await c->read_message();
      EXPECT_TRUE(back.has_value());
    }
    co_return c;
  });
  // The upgraded connection is a WebSocket, no longer an HTTP connection.
  wait_until([&] { return open_now(Transport::kHttp) == before.open_of(Transport::kHttp); });
  auto mid = metrics::snapshot();
  EXPECT_EQ(mid.open_of(Transport::kWebSocket), before.open_of(Transport::kWebSocket) + 1);
  EXPECT_EQ(mid.requests[0] - before.requests[0], 1u);  // the 101
  EXPECT_EQ(mid.websocket_messages_in - before.websocket_messages_in, 3u);
  EXPECT_EQ(mid.websocket_messages_out - before.websocket_messages_out, 3u);
  // A hub delivery is a message out too.
  pubsub::Hub::instance().publish("metrics_test", "from the hub");
  auto got = run_sync([ws]() -> Task<std::optional<websocket::WebSocketMessage>> {
    co_return co_await ws->read_message();
  });
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(metrics::snapshot().websocket_messages_out - before.websocket_messages_out, 4u);
  // A delivery with its position is one message too.
  const std::string positioned_url = url.substr(0, url.size() - 3) + "/positioned";
  auto p =
      run_sync([positioned_url]() -> Task<std::shared_ptr<websocket::WebSocketClientConnection>> {
        co_return co_await websocket::websocket_connect(positioned_url);
      });
  wait_until([] { return pubsub::Hub::instance().subscriber_count("metrics_test") == 2; });
  pubsub::Hub::instance().publish("metrics_test", "to both");
  auto both = run_sync([ws, p]() -> Task<bool> {
    auto a = co_await ws->read_message();
    auto b = co_await p->read_message();
    co_return a&& b && b->data.ends_with("\nto both");
  });
  EXPECT_TRUE(both);
  EXPECT_EQ(metrics::snapshot().websocket_messages_out - before.websocket_messages_out, 6u);
  p->close();
  ws->close();
  wait_until(
      [&] { return open_now(Transport::kWebSocket) == before.open_of(Transport::kWebSocket); });
}

TEST_F(MetricsTest, AnEventStreamIsCountedWhileOpen) {
  const int64_t base = open_now(Transport::kSse);
  const int port = get_http_port();
  auto stream = run_sync([port]() -> Task<std::shared_ptr<IOStream>> {
    auto s = co_await test::connect_loopback(port);
    co_await s->write("GET /sse HTTP/1.1\r\nHost: x\r\n\r\n");
    co_await s->read_until("\r\n\r\n", 4096);
    co_return s;
  });
  wait_until([&] { return open_now(Transport::kSse) == base + 1; });
  stream->close();
  wait_until([&] { return open_now(Transport::kSse) == base; });
}

// A second loop thread serving its own Application: both threads' counts add up, and they
// stay counted after that thread has exited.
TEST_F(MetricsTest, TwoLoopThreadsAddUpAndOutliveTheirThread) {
  const auto before = metrics::snapshot();
  std::atomic<int> other_port{0};
  IOLoop* other_loop = nullptr;
  std::thread other([&] {
    IOLoop loop;
    auto [fd, port] = tornado::testing::bind_unused_port();
    HTTPServer server(make_app());
    server.add_socket(fd);
    other_loop = &loop;
    loop.add_callback([&, port = port] { other_port = port; });
    loop.start();
    server.stop();
    server.close_all_connections();
    loop.run_sync([]() -> Task<> { co_await sleep(Duration(0.01)); });
  });
  while (other_port == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(fetch("http://127.0.0.1:" + std::to_string(other_port.load()) + "/ok").code, 200);
  }
  EXPECT_EQ(fetch("/missing").code, 404);
  // The other loop counts a request in log_request(), after its response is written: this
  // thread can read the response first (the 404 is counted on this thread's loop before
  // fetch returns).
  wait_until([&] { return metrics::snapshot().requests[1] - before.requests[1] >= 3; });
  auto mid = metrics::snapshot();
  EXPECT_EQ(mid.requests[1] - before.requests[1], 3u);
  EXPECT_EQ(mid.requests[3] - before.requests[3], 1u);
  // The client keeps both connections alive: one on each loop.
  EXPECT_EQ(mid.open_of(Transport::kHttp), before.open_of(Transport::kHttp) + 2);
  other_loop->stop();
  other.join();
  http_client().close();
  wait_until([&] { return open_now(Transport::kHttp) == before.open_of(Transport::kHttp); });
  const auto after = metrics::snapshot();
  EXPECT_EQ(after.requests[1] - before.requests[1], 3u);  // kept after the thread exited
  EXPECT_EQ(after.requests[3] - before.requests[3], 1u);
}

// (Named metrics live for the process: the figures are compared with the ones before, so
// the test holds under --gtest_repeat.)
TEST(MetricsNamedTest, GaugesAndCountersByName) {
  auto find = [](const auto& list, std::string_view name) {
    for (const auto& [n, v] : list) {
      if (n == name) return static_cast<int64_t>(v);
    }
    return int64_t{-1};
  };
  metrics::Gauge& g = metrics::gauge("metrics_test_waiters");
  EXPECT_EQ(&g, &metrics::gauge("metrics_test_waiters"));
  metrics::Counter& events = metrics::counter("metrics_test_events");
  const auto before = metrics::snapshot();
  const int64_t waiters_before = find(before.gauges, "metrics_test_waiters");
  const int64_t events_before = find(before.counters, "metrics_test_events");
  ASSERT_GE(waiters_before, 0);  // listed from the first use on, at 0
  ASSERT_GE(events_before, 0);
  g.add(3);
  g.add(-1);
  events.add(5);
  const auto s = metrics::snapshot();
  EXPECT_EQ(find(s.gauges, "metrics_test_waiters") - waiters_before, 2);
  EXPECT_EQ(find(s.counters, "metrics_test_events") - events_before, 5);
  EXPECT_THROW(metrics::gauge(""), std::invalid_argument);
  EXPECT_THROW(metrics::gauge("9lives"), std::invalid_argument);
  EXPECT_THROW(metrics::gauge("a-b"), std::invalid_argument);
  EXPECT_THROW(metrics::counter("metrics_test_waiters"), std::invalid_argument);
  EXPECT_THROW(metrics::gauge("metrics_test_events"), std::invalid_argument);
  EXPECT_EQ(metrics::transport_name(Transport::kSse), "sse");
}

// Threads counting (some exiting and others taking over their shards) while another reads:
// every count arrives, and the readings never go down.
TEST(MetricsThreadsTest, NoCountIsLostAcrossThreadsAndShardReuse) {
  const auto before = metrics::snapshot();
  std::atomic<bool> done{false};
  std::thread reader([&] {
    uint64_t last = 0;
    while (!done) {
      const uint64_t now = metrics::snapshot().requests[1];
      EXPECT_GE(now, last);
      last = now;
    }
  });
  constexpr int kRounds = 4, kThreads = 4, kCounts = 20000;
  for (int round = 0; round < kRounds; ++round) {
    std::vector<std::thread> workers;
    for (int t = 0; t < kThreads; ++t) {
      workers.emplace_back([] {
        for (int i = 0; i < kCounts; ++i) {
          metrics::detail::request_finished(200);
          metrics::OpenConnection c(Transport::kWebSocket);
          metrics::detail::websocket_message_in();
        }
      });
    }
    for (auto& w : workers) w.join();
  }
  done = true;
  reader.join();
  const auto after = metrics::snapshot();
  const uint64_t expected = uint64_t{kRounds} * kThreads * kCounts;
  EXPECT_EQ(after.requests[1] - before.requests[1], expected);
  EXPECT_EQ(after.websocket_messages_in - before.websocket_messages_in, expected);
  EXPECT_EQ(after.opened[1] - before.opened[1], expected);
  EXPECT_EQ(after.open_of(Transport::kWebSocket), before.open_of(Transport::kWebSocket));
}

// Handler classes registered for the first time on several threads at once (each thread's
// first request of a class makes that class's counts in its shard) while another thread
// scrapes: every request is in the final figures, under one name per class.
template <int N>
struct Registered {};

// Each bound is its own bucket's upper edge (Prometheus `le`): a duration equal to it counts
// there, one nanosecond more in the next; past the last bound is the +Inf bucket.
TEST(MetricsLatencyTest, BucketOfEachBoundAndOneNanosecondPast) {
  using std::chrono::nanoseconds;
  EXPECT_EQ(metrics::detail::latency_bucket(nanoseconds(0)), 0u);
  EXPECT_EQ(metrics::detail::latency_bucket(nanoseconds(-5)), 0u);  // a clock that stepped back
  for (std::size_t i = 0; i < metrics::kLatencyBounds.size(); ++i) {
    const auto bound = std::chrono::duration_cast<nanoseconds>(
        std::chrono::duration<double>(metrics::kLatencyBounds[i]) + std::chrono::duration<double>(5e-10));
    EXPECT_EQ(metrics::detail::latency_bucket(bound), i) << metrics::kLatencyBounds[i];
    EXPECT_EQ(metrics::detail::latency_bucket(bound + nanoseconds(1)), i + 1) << metrics::kLatencyBounds[i];
    EXPECT_EQ(metrics::detail::latency_bucket(bound - nanoseconds(1)), i) << metrics::kLatencyBounds[i];
  }
  EXPECT_EQ(metrics::detail::latency_bucket(std::chrono::hours(1)), metrics::kLatencyBounds.size());
  EXPECT_EQ(metrics::kLatencyBuckets, metrics::kLatencyBounds.size() + 1);
}

template <int... I>
void count_each(std::integer_sequence<int, I...>) {
  (metrics::detail::count_handler_request(metrics::detail::handler_id(typeid(Registered<I>)),
                                          200 + I % 3, std::chrono::microseconds(100 * I)),
   ...);
}

// The requests counted under the Registered<...> classes so far.
uint64_t registered_total() {
  uint64_t total = 0;
  for (const auto& h : metrics::snapshot().handlers) {
    if (h.name.find("Registered<") != std::string::npos) total += h.count();
  }
  return total;
}

TEST(MetricsThreadsTest, ScrapesWhileHandlerClassesRegisterOnSeveralThreads) {
  constexpr int kThreads = 4, kRounds = 20, kClasses = 48;
  const uint64_t total_before = registered_total();  // (a repeat finds the classes made)
  std::atomic<bool> done{false};
  std::thread scraper([&] {
    while (!done) {
      const std::string text = metrics::prometheus_text(metrics::snapshot(), {});
      EXPECT_NE(text.find("# TYPE tornado_http_requests_total counter"), std::string::npos);
    }
  });
  std::vector<std::thread> workers;
  for (int t = 0; t < kThreads; ++t) {
    workers.emplace_back([] {
      for (int r = 0; r < kRounds; ++r) count_each(std::make_integer_sequence<int, kClasses>{});
    });
  }
  for (auto& w : workers) w.join();
  done = true;
  scraper.join();
  uint64_t total = 0;
  std::set<std::string> names;
  for (const auto& h : metrics::snapshot().handlers) {
    if (h.name.find("Registered<") == std::string::npos) continue;
    EXPECT_TRUE(names.insert(h.name).second) << h.name;
    total += h.count();
  }
  EXPECT_EQ(names.size(), std::size_t{kClasses});
  EXPECT_EQ(total - total_before, uint64_t{kThreads} * kRounds * kClasses);
}

}  // namespace

}  // namespace metrics_test
