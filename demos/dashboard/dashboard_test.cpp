// demos/dashboard without a browser: the sampler's figures and its life (once per process,
// stopped, its loop stopping and closing), the history-then-live delivery over WebSocket and
// SSE (no gap, no repeat), and the hostile cases: a client that never reads (conflation keeps
// it to the latest sample, memory bounded), and many clients at once.
#include "dashboard.h"

#include <gtest/gtest.h>

#include <thread>

#include "http_test_util.h"
#include "tornado/metrics.h"
#include "tornado/pubsub.h"
#include "tornado/testing.h"
#include "tornado/websocket_client.h"
#include "websocket_test_util.h"

// ASan keeps freed memory in quarantine (256 MB by default): RSS bounds mean nothing there.
#if defined(__SANITIZE_ADDRESS__)
#define DASHBOARD_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define DASHBOARD_TEST_ASAN 1
#endif
#endif
#ifndef DASHBOARD_TEST_ASAN
#define DASHBOARD_TEST_ASAN 0
#endif

namespace dashboard_test {

using namespace tornado;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

int g_topic_counter = 0;

class DashboardTest : public tornado::testing::AsyncHTTPTest {
 protected:
  // Each test its own topic: the hub is the process's.
  std::string topic = "dashboard_test_" + std::to_string(++g_topic_counter);

  tornado::testing::HTTPApp get_app() override {
    return std::make_shared<web::Application>(dashboard::routes("/dash", topic));
  }
  void TearDown() override {
    dashboard::stop_sampler();
    AsyncHTTPTest::TearDown();
  }
  dashboard::SamplerOptions fast(std::string pid = "p1") {
    dashboard::SamplerOptions o;
    o.topic = topic;
    o.interval = Duration(0.05);
    o.process_id = std::move(pid);
    o.history = Duration(3.0);
    return o;
  }
  void run_for(Duration d) {
    run_sync([d]() -> Task<> { co_await sleep(d); });
  }
  template <typename F>
  void wait_until(F done, double seconds = 5) {
    for (int i = 0; i < seconds * 100 && !done(); ++i) run_for(Duration(0.01));
    ASSERT_TRUE(done());
  }
  std::vector<json> history() {
    std::vector<json> out;
    for (const auto& m : pubsub::Hub::instance().history(topic))
      out.push_back(json::parse(m->data()));
    return out;
  }
};

TEST_F(DashboardTest, TheSamplerPublishesTheProcessFigures) {
  ASSERT_TRUE(dashboard::start_sampler(fast()));
  wait_until([&] { return history().size() >= 2; });
  for (int i = 0; i < 20; ++i) EXPECT_EQ(fetch("/dash/").code, 200);
  EXPECT_EQ(fetch("/dash/nothing").code, 404);
  const auto total = metrics::snapshot().requests_total();
  wait_until([&] { return history().back()["requests_total"].get<uint64_t>() >= total; });
  const auto h = history();
  // Somewhere after the requests, a sample counted them as a rate.
  double peak = 0, peak_4xx = 0;
  for (const auto& s : h) {
    peak = std::max(peak, s["requests_per_s"].get<double>());
    peak_4xx = std::max(peak_4xx, s["status_per_s"]["4xx"].get<double>());
  }
  EXPECT_GT(peak, 20.0);  // 21 requests within a 50 ms sample at most: > 20/s whatever it was
  EXPECT_GT(peak_4xx, 0.0);
  const json& last = h.back();
  EXPECT_EQ(last["pid"], "p1");
  for (std::size_t i = 1; i < h.size(); ++i) EXPECT_EQ(h[i]["seq"], h[i - 1]["seq"].get<int>() + 1);
  EXPECT_GT(last["rss_bytes"].get<uint64_t>(), 1u << 20);
  EXPECT_GE(last["cpu_percent"].get<double>(), 0.0);
  EXPECT_GE(last["hub_published_per_s"].get<double>(), 1.0);  // its own samples at least
  EXPECT_TRUE(last["connections"].contains("websocket"));
  EXPECT_EQ(dashboard::latest_sample()["seq"], last["seq"]);
  const auto options = pubsub::Hub::instance().stats(topic);
  EXPECT_EQ(options.dropped, 0u);
}

TEST_F(DashboardTest, OneSamplerPerProcessAndAStoppedOneCanBeReplaced) {
  ASSERT_TRUE(dashboard::start_sampler(fast("first")));
  EXPECT_FALSE(dashboard::start_sampler(fast("second")));
  EXPECT_TRUE(dashboard::sampler_running());
  wait_until([&] { return !history().empty(); });
  dashboard::stop_sampler();
  EXPECT_FALSE(dashboard::sampler_running());
  const auto n = history().size();
  run_for(Duration(0.3));
  EXPECT_EQ(history().size(), n);  // a stopped sampler publishes nothing more
  ASSERT_TRUE(dashboard::start_sampler(fast("second")));
  wait_until([&] { return history().back()["pid"] == "second"; });
  EXPECT_THROW(dashboard::start_sampler({.interval = Duration(0)}), std::invalid_argument);
}

TEST_F(DashboardTest, LoopLagIsMeasured) {
  ASSERT_TRUE(dashboard::start_sampler(fast()));
  wait_until([&] { return history().size() >= 2; });
  IOLoop::current().add_callback([] { std::this_thread::sleep_for(300ms); });
  wait_until([&] {
    for (const auto& s : history()) {
      if (s["loop_lag_ms"].get<double>() >= 200) return true;
    }
    return false;
  });
}

// A page's WebSocket: one {"history": [...]} message, then each later sample once, in order.
TEST_F(DashboardTest, TheWebSocketSendsTheHistoryThenEverySampleOnce) {
  ASSERT_TRUE(dashboard::start_sampler(fast()));
  wait_until([&] { return history().size() >= 5; });
  const std::string url = "ws://127.0.0.1:" + std::to_string(get_http_port()) + "/dash/ws";
  auto seqs = run_sync([url]() -> Task<std::vector<int>> {
    auto ws = co_await websocket::websocket_connect(url);
    std::vector<int> out;
    auto first = co_await ws->read_message();
    const json h = json::parse(first->data);
    for (const auto& s : h["history"]) out.push_back(s["seq"].get<int>());
    for (int i = 0; i < 5; ++i) {
      auto m = co_await ws->read_message();
      out.push_back(json::parse(m->data)["seq"].get<int>());
    }
    ws->close();
    co_return out;
  });
  ASSERT_GE(seqs.size(), 10u);
  for (std::size_t i = 1; i < seqs.size(); ++i) EXPECT_EQ(seqs[i], seqs[i - 1] + 1) << i;
}

TEST_F(DashboardTest, TheEventStreamSendsTheHistoryThenEverySampleOnce) {
  ASSERT_TRUE(dashboard::start_sampler(fast()));
  wait_until([&] { return history().size() >= 5; });
  const int port = get_http_port();
  auto body = run_sync([port]() -> Task<std::string> {
    auto s = co_await test::connect_loopback(port);
    co_await s->write("GET /dash/events HTTP/1.1\r\nHost: x\r\n\r\n");
    std::string all = co_await s->read_until("\r\n\r\n", 65536);
    EXPECT_NE(all.find("text/event-stream"), std::string::npos);
    std::string body;
    for (int events = 0; events < 6;) {
      body += co_await s->read_bytes(1, /*partial=*/true);
      events = 0;
      for (std::size_t p = 0; (p = body.find("\ndata: ", p)) != std::string::npos; ++p) ++events;
      if (body.starts_with("event:")) ++events;
    }
    s->close();
    co_return body;
  });
  ASSERT_TRUE(body.find("event: history") != std::string::npos) << body.substr(0, 200);
  std::vector<int> seqs;
  for (std::size_t p = 0; (p = body.find("data: ", p)) != std::string::npos;) {
    const std::size_t end = body.find('\n', p);
    if (end == std::string::npos) break;
    const json j = json::parse(body.substr(p + 6, end - p - 6));
    if (j.is_array()) {
      for (const auto& s : j) seqs.push_back(s["seq"].get<int>());
    } else {
      seqs.push_back(j["seq"].get<int>());
    }
    p = end;
  }
  ASSERT_GE(seqs.size(), 8u);
  for (std::size_t i = 1; i < seqs.size(); ++i) EXPECT_EQ(seqs[i], seqs[i - 1] + 1) << i;
}

uint64_t rss_bytes() {
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  unsigned long long size = 0, resident = 0;
  if (f) {
    if (std::fscanf(f, "%llu %llu", &size, &resident) != 2) resident = 0;
    std::fclose(f);
  }
  return resident * static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
}

// A browser that never reads: 3,000 samples of 8 KiB (24 MB) published while it does not
// read. The conflation policy keeps what waits for it to a few samples: the hub drops the
// rest, the process does not grow by the 24 MB, and when it reads again it gets the latest
// sample after at most what the socket buffers held, in order.
TEST_F(DashboardTest, AClientThatNeverReadsGetsTheLatestSampleNotABacklog) {
  auto options = fast();
  options.interval = Duration(60);  // the test publishes the samples itself
  ASSERT_TRUE(dashboard::start_sampler(options));
  auto& hub = pubsub::Hub::instance();
  const int port = get_http_port();
  auto ws = run_sync([port]() -> Task<std::shared_ptr<test::RawWebSocket>> {
    auto stream = co_await test::connect_loopback(port, /*receive_buffer=*/4096);
    co_await stream->write(
        "GET /dash/ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
    std::string head = co_await stream->read_until("\r\n\r\n", 65536);
    EXPECT_TRUE(head.starts_with("HTTP/1.1 101"));
    co_return std::make_shared<test::RawWebSocket>(stream);
  });
  wait_until([&] { return hub.subscriber_count(topic) == 1; });
  const uint64_t rss_before = rss_bytes();
  const uint64_t dropped_before = hub.stats(topic).dropped;
  constexpr int kSamples = 3000;
  const std::string pad(8192, 'x');
  for (int i = 1; i <= kSamples; ++i) {
    hub.publish(topic, json{{"pid", "p1"}, {"seq", i}, {"pad", pad}}.dump(), false, "p1");
    if (i % 50 == 0) run_for(Duration(0.001));  // the loop delivers between bursts
  }
  run_for(Duration(0.05));
  const uint64_t grown = rss_bytes() - std::min(rss_bytes(), rss_before);
  if (!DASHBOARD_TEST_ASAN) {
    EXPECT_LT(grown, 12u << 20) << "the process grew by " << grown << " bytes";
  }
  EXPECT_GE(hub.stats(topic).dropped - dropped_before, 2000u);
  // Now it reads: the history message, then a few samples in order, ending with the latest.
  auto seqs = run_sync([ws]() -> Task<std::vector<int>> {
    std::vector<int> out;
    while (out.empty() || out.back() != kSamples) {
      auto frame = co_await ws->read_frame();
      if (!frame) break;
      const json j = json::parse(frame->payload);
      if (j.contains("seq")) out.push_back(j["seq"].get<int>());
    }
    co_return out;
  });
  ASSERT_FALSE(seqs.empty());
  std::printf("never-reading client: received %zu of %d samples; %llu dropped; RSS grew %llu KiB\n",
              seqs.size(), kSamples,
              static_cast<unsigned long long>(hub.stats(topic).dropped - dropped_before),
              static_cast<unsigned long long>(grown >> 10));
  EXPECT_EQ(seqs.back(), kSamples);
  EXPECT_LT(seqs.size(), 1000u) << "a backlog was delivered";
  for (std::size_t i = 1; i < seqs.size(); ++i) EXPECT_LT(seqs[i - 1], seqs[i]);
}

TEST_F(DashboardTest, TwoHundredClientsAllGetTheLiveSamples) {
  ASSERT_TRUE(dashboard::start_sampler(fast()));
  wait_until([&] { return history().size() >= 2; });
  const int64_t base = metrics::snapshot().open_of(metrics::Transport::kWebSocket);
  const std::string url = "ws://127.0.0.1:" + std::to_string(get_http_port()) + "/dash/ws";
  auto got = run_sync([url]() -> Task<int> {
    std::vector<std::shared_ptr<websocket::WebSocketClientConnection>> clients;
    for (int i = 0; i < 200; ++i) clients.push_back(co_await websocket::websocket_connect(url));
    int live = 0;
    for (auto& c : clients) {
      auto history = co_await c->read_message();  // {"history": ...}
      auto sample = co_await c->read_message();   // a live one
      if (history && sample && json::parse(sample->data).contains("seq")) ++live;
    }
    for (auto& c : clients) c->close();
    co_return live;
  });
  EXPECT_EQ(got, 200);
  wait_until([&] { return metrics::snapshot().open_of(metrics::Transport::kWebSocket) == base; });
}

// The sampler's loop stops: no samples (and no crash) while it is stopped, the process
// still has its one sampler; the loop closes: the sampler ends with it and another starts.
TEST_F(DashboardTest, ASamplerWhoseLoopStopsSamplesNothingAndEndsWhenItCloses) {
  std::atomic<IOLoop*> other{nullptr};
  std::atomic<bool> may_close{false};
  const auto options = fast("looped");
  std::thread thread([&] {
    auto loop = std::make_unique<IOLoop>();
    loop->add_callback([&] { EXPECT_TRUE(dashboard::start_sampler(options)); });
    other = loop.get();
    loop->start();
    while (!may_close) std::this_thread::sleep_for(1ms);
    loop.reset();  // closes: the sampler's pending timer goes with it
  });
  while (!other) std::this_thread::sleep_for(1ms);
  wait_until([&] { return history().size() >= 2; });
  other.load()->stop();
  run_for(Duration(0.1));
  const auto n = history().size();
  run_for(Duration(0.3));
  EXPECT_EQ(history().size(), n);
  EXPECT_TRUE(dashboard::sampler_running());
  EXPECT_FALSE(dashboard::start_sampler(fast("other")));
  may_close = true;
  thread.join();
  EXPECT_FALSE(dashboard::sampler_running());
  ASSERT_TRUE(dashboard::start_sampler(fast("after")));
  wait_until([&] { return history().back()["pid"] == "after"; });
}

}  // namespace

}  // namespace dashboard_test
