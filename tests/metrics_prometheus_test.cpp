// The /metrics endpoint (web::MetricsHandler, metrics::prometheus_text): requests by handler
// class and status code, the latency histogram, hub deliveries and drops by policy, loop lag,
// the process figures — scraped over HTTP as Prometheus would, and read back with Prometheus's
// own Python parser (python3-prometheus-client) as the real peer.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "tornado/metrics.h"
#include "tornado/pubsub.h"
#include "tornado/testing.h"
#include "tornado/web.h"
#include "tornado/websocket.h"
#include "tornado/websocket_client.h"

namespace metrics_prometheus_test {

using namespace tornado;

namespace {

struct Hello : web::RequestHandler {
  Task<> get() override {
    write("hello");
    co_return;
  }
};
struct Teapot : web::RequestHandler {
  Task<> get() override {
    set_status(418);
    co_return;
  }
};
struct Slow : web::RequestHandler {
  Task<> get() override {
    co_await sleep(Duration(0.06));
    write("slow");
  }
};
struct Subscriber : websocket::WebSocketHandler {
  pubsub::Subscription sub;
  Task<> open() override {
    sub = pubsub::Hub::instance().subscribe("metrics_prometheus_test", *this);
    co_return;
  }
  Task<> on_message(std::string, bool) override { co_return; }
};

// The samples of one scrape: "name{labels}" (labels as written) -> value.
using Samples = std::map<std::string, double>;

Samples parse(const std::string& text) {
  Samples out;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty() || line[0] == '#') continue;
    const auto space = line.rfind(' ');
    out[line.substr(0, space)] = std::stod(line.substr(space + 1));
  }
  return out;
}

double value(const Samples& s, const std::string& key) {
  auto it = s.find(key);
  return it == s.end() ? 0.0 : it->second;
}

std::string requests_key(const std::string& handler, int code) {
  return "tornado_http_requests_total{handler=\"" + handler + "\",code=\"" + std::to_string(code) +
         "\"}";
}

class PrometheusTest : public tornado::testing::AsyncHTTPTest {
 protected:
  tornado::testing::HTTPApp get_app() override {
    return std::make_shared<web::Application>(
        std::vector<web::URLSpec>{{"/hello", web::handler<Hello>()},
                                  {"/teapot", web::handler<Teapot>()},
                                  {"/slow", web::handler<Slow>()},
                                  {"/ws", web::handler<Subscriber>()},
                                  {"/metrics", web::handler<web::MetricsHandler>()}});
  }
  std::string scrape() {
    auto r = fetch("/metrics");
    EXPECT_EQ(r.code, 200);
    EXPECT_EQ(r.headers.get("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
    return r.body;
  }
  void settle(double seconds) {
    run_sync([seconds]() -> Task<> { co_await sleep(Duration(seconds)); });
  }
};

TEST_F(PrometheusTest, RequestsAreCountedByHandlerClassAndStatusCode) {
  const Samples before = parse(scrape());
  for (int i = 0; i < 3; ++i) EXPECT_EQ(fetch("/hello").code, 200);
  for (int i = 0; i < 2; ++i) EXPECT_EQ(fetch("/teapot").code, 418);
  EXPECT_EQ(fetch("/no/such/page").code, 404);
  const Samples after = parse(scrape());
  auto delta = [&](const std::string& key) { return value(after, key) - value(before, key); };
  // The class's name, its namespace kept and the anonymous one left out.
  EXPECT_EQ(delta(requests_key("metrics_prometheus_test::Hello", 200)), 3);
  EXPECT_EQ(delta(requests_key("metrics_prometheus_test::Teapot", 418)), 2);
  EXPECT_EQ(delta(requests_key("metrics_prometheus_test::Teapot", 200)), 0);
  // No rule matched: the application's own not-found handler.
  EXPECT_EQ(delta(requests_key("tornado::web::NotFoundHandler", 404)), 1);
  // The first scrape is counted by the second.
  EXPECT_GE(value(after, requests_key("tornado::web::MetricsHandler", 200)), 1);
}

// (Figures compared with the ones before, as the counts live for the process: the test holds
// under --gtest_repeat.)
TEST_F(PrometheusTest, LatencyHistogramIsCumulativeAndPlacesASlowRequestAboveItsTime) {
  const Samples before = parse(scrape());
  EXPECT_EQ(fetch("/slow").code, 200);
  const Samples s = parse(scrape());
  const std::string h = "handler=\"metrics_prometheus_test::Slow\"";
  auto key = [&](const std::string& le) {
    return "tornado_http_request_duration_seconds_bucket{" + h + ",le=\"" + le + "\"}";
  };
  auto bucket = [&](const std::string& le) { return value(s, key(le)) - value(before, key(le)); };
  // The request slept 60 ms: no bucket up to 50 ms holds it, +Inf and the count do.
  for (const char* le : {"0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05"}) {
    EXPECT_EQ(bucket(le), 0) << le;
  }
  EXPECT_EQ(bucket("+Inf"), 1);
  const std::string count = "tornado_http_request_duration_seconds_count{" + h + "}";
  const std::string sum = "tornado_http_request_duration_seconds_sum{" + h + "}";
  EXPECT_EQ(value(s, count) - value(before, count), 1);
  EXPECT_GE(value(s, sum) - value(before, sum), 0.06);
  // Cumulative: never decreasing along the bounds.
  double last = 0;
  for (double bound : metrics::kLatencyBounds) {
    char le[32];
    std::snprintf(le, sizeof le, "%g", bound);
    EXPECT_GE(bucket(le), last) << le;
    last = bucket(le);
  }
  EXPECT_GE(bucket("+Inf"), last);
}

TEST_F(PrometheusTest, HubDeliveriesAndDropsAreCountedByPolicy) {
  const Samples before = parse(scrape());
  // A callback subscriber whose loop can take one message at a time: 1 delivered, 9 dropped.
  pubsub::Hub hub;
  pubsub::TopicOptions o;
  o.slow_consumer = pubsub::SlowConsumerPolicy::kDropNewest;
  o.max_queued_bytes = 4;
  hub.configure("t", o);
  int got = 0;
  auto sub = hub.subscribe("t", [&](const pubsub::MessagePtr&) { ++got; });
  for (int i = 0; i < 10; ++i) hub.publish("t", "12345");
  settle(0.01);
  EXPECT_EQ(got, 1);
  // A WebSocket subscriber (the sink's path): one delivery.
  const std::string url = "ws://127.0.0.1:" + std::to_string(get_http_port()) + "/ws";
  auto ws = run_sync([url]() -> Task<std::shared_ptr<websocket::WebSocketClientConnection>> {
    co_return co_await websocket::websocket_connect(url);
  });
  for (int i = 0;
       i < 200 && pubsub::Hub::instance().subscriber_count("metrics_prometheus_test") == 0; ++i) {
    settle(0.005);
  }
  pubsub::Hub::instance().publish("metrics_prometheus_test", "to the socket");
  auto m = run_sync([ws]() -> Task<std::optional<websocket::WebSocketMessage>> {
    co_return co_await ws->read_message();
  });
  ASSERT_TRUE(m.has_value());
  const Samples after = parse(scrape());
  auto delta = [&](const std::string& key) { return value(after, key) - value(before, key); };
  EXPECT_EQ(delta("tornado_hub_delivered_total"), 2);
  EXPECT_EQ(delta("tornado_hub_dropped_total{policy=\"drop_newest\"}"), 9);
  EXPECT_EQ(delta("tornado_hub_dropped_total{policy=\"drop_oldest\"}"), 0);
  EXPECT_EQ(delta("tornado_websocket_messages_sent_total"), 1);
  EXPECT_EQ(value(after, "tornado_connections_open{transport=\"websocket\"}"), 1);
  ws->close();
}

// Each topic policy's label counts its own drops: a loop that takes one message at a time
// (max_queued_bytes 4: the first 5-byte message is queued for the loop, the next nine are
// skipped) reports the skipped ones as dropped for its callback subscriber under the topic's
// policy. (A callback is never disconnected; sockets' policies are pubsub_test's.)
TEST_F(PrometheusTest, LoopSkipsAreCountedUnderEachTopicsPolicyLabel) {
  const Samples before = parse(scrape());
  auto run = [&](const char* topic, pubsub::SlowConsumerPolicy policy) {
    pubsub::Hub hub;
    pubsub::TopicOptions o;
    o.slow_consumer = policy;
    o.max_queued_bytes = 4;
    hub.configure(topic, o);
    std::vector<std::string> got;
    auto sub = hub.subscribe(topic, [&](const pubsub::MessagePtr& m) { got.emplace_back(m->data()); });
    for (int i = 0; i < 10; ++i) hub.publish(topic, "1234" + std::to_string(i), false, "k");
    settle(0.01);
    return got;
  };
  const std::vector<std::string> first{"12340"};
  EXPECT_EQ(run("old", pubsub::SlowConsumerPolicy::kDropOldest), first);
  EXPECT_EQ(run("conf", pubsub::SlowConsumerPolicy::kConflate), first);
  EXPECT_EQ(run("cut", pubsub::SlowConsumerPolicy::kDisconnect), first);
  const Samples after = parse(scrape());
  auto delta = [&](const std::string& key) { return value(after, key) - value(before, key); };
  EXPECT_EQ(delta("tornado_hub_dropped_total{policy=\"drop_oldest\"}"), 9);
  EXPECT_EQ(delta("tornado_hub_dropped_total{policy=\"conflate\"}"), 9);
  EXPECT_EQ(delta("tornado_hub_dropped_total{policy=\"disconnect\"}"), 9);
  EXPECT_EQ(delta("tornado_hub_dropped_total{policy=\"drop_newest\"}"), 0);
  EXPECT_EQ(delta("tornado_hub_disconnected_total"), 0);
  EXPECT_EQ(delta("tornado_hub_delivered_total"), 3);
}

TEST_F(PrometheusTest, AWatchedLoopReportsItsLagAndQueuedCallbacks) {
  metrics::watch_loop();
  metrics::watch_loop();  // a second call is a no-op: one probe per loop
  const std::size_t watched = metrics::snapshot().loops.size();
  // 100 callbacks that each queue themselves again keep the queue 100 deep for 400 ms; one
  // 250 ms busy callback makes the probe late; a timer reads the figures during the storm.
  auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(400);
  std::function<void()> spin = [&] {
    if (std::chrono::steady_clock::now() < until) IOLoop::current().add_callback(spin);
  };
  for (int i = 0; i < 100; ++i) IOLoop::current().add_callback(spin);
  IOLoop::current().add_callback(
      [] { std::this_thread::sleep_for(std::chrono::milliseconds(250)); });
  std::vector<metrics::LoopFigures> during;
  IOLoop::current().call_later(Duration(0.35), [&] { during = metrics::snapshot().loops; });
  settle(0.5);
  ASSERT_FALSE(during.empty());
  const auto& mine = during.back();  // the loop watched last
  EXPECT_GE(mine.lag_seconds, 0.1);
  EXPECT_LT(mine.lag_seconds, 5.0);
  EXPECT_GE(mine.callbacks, 50u);
  EXPECT_LE(mine.callbacks, 101u);
  const auto after = metrics::snapshot().loops;
  EXPECT_EQ(after.size(), watched);
  const Samples s = parse(scrape());
  EXPECT_GE(value(s, "tornado_ioloop_lag_seconds{loop=\"" + std::to_string(mine.id) + "\"}"), 0.1);
}

TEST_F(PrometheusTest, ProcessFiguresAreReadFromProc) {
  const auto p = metrics::process_figures();
  EXPECT_GT(p.resident_bytes, 1u << 20);
  EXPECT_GE(p.virtual_bytes, p.resident_bytes);
  EXPECT_GE(p.open_fds, 3u);
  EXPECT_GT(p.max_fds, p.open_fds);
  const double now =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  EXPECT_GT(p.start_time_seconds, now - 3600);  // this test binary started under an hour ago
  EXPECT_LE(p.start_time_seconds, now + 1);
  const Samples s = parse(scrape());
  EXPECT_GT(value(s, "process_resident_memory_bytes"), 1 << 20);
  EXPECT_GT(value(s, "process_open_fds"), 3);
}

TEST_F(PrometheusTest, ApplicationGaugesAndCountersAreExposedUnderTheirNames) {
  metrics::gauge("metrics_prometheus_test_waiters").set(7);
  metrics::Counter& posts = metrics::counter("metrics_prometheus_test_posts_total");
  const uint64_t posts_before = posts.value();  // 0, or 3 per earlier repeat of the test
  posts.add(3);
  const std::string text = scrape();
  EXPECT_NE(text.find("# TYPE metrics_prometheus_test_waiters gauge\n"
                      "metrics_prometheus_test_waiters 7\n"),
            std::string::npos);
  EXPECT_NE(text.find("# TYPE metrics_prometheus_test_posts_total counter\n"
                      "metrics_prometheus_test_posts_total " +
                          std::to_string(posts_before + 3) + "\n"),
            std::string::npos);
}

}  // namespace

// Two classes whose names print alike once the anonymous namespace is left out:
// metrics_prometheus_test::dup::Same, here and in the anonymous namespace below.
namespace dup {
struct Same {};
}  // namespace dup
using OuterSame = dup::Same;

namespace {

namespace dup {
struct Same {};
}  // namespace dup
using InnerSame = dup::Same;

// Registered when the program starts: the registry holds 255 classes (the rest count as
// "other"), and this test must not depend on how many the binary's other tests registered.
const int g_outer_same_id = metrics::detail::handler_id(typeid(OuterSame));
const int g_inner_same_id = metrics::detail::handler_id(typeid(InnerSame));

// Two classes whose names print alike keep separate series.
TEST(PrometheusTextTest, HandlerClassesThatPrintAlikeGetDistinctNames) {
  const int a = g_outer_same_id;
  const int b = g_inner_same_id;
  EXPECT_NE(a, 0);  // not "other"
  EXPECT_NE(a, b);
  EXPECT_EQ(metrics::detail::handler_id(typeid(OuterSame)), a);  // registered once
  metrics::detail::count_handler_request(a, 200, std::chrono::milliseconds(1));
  metrics::detail::count_handler_request(b, 200, std::chrono::milliseconds(1));
  std::set<std::string> names;
  for (const auto& h : metrics::snapshot().handlers) {
    EXPECT_TRUE(names.insert(h.name).second) << "two handlers named " << h.name;
  }
}

template <int N>
struct Numbered {};
template <int... N>
std::vector<int> register_numbered(std::integer_sequence<int, N...>) {
  return {metrics::detail::handler_id(typeid(Numbered<N>))...};
}

// Past kMaxHandlers classes, the rest share id 0, exposed as "other". In a child process:
// the registry stays full for the life of the process, and the other tests of this binary
// (run in any order) need its room for their classes.
TEST(PrometheusTextTest, HandlerClassesPastTheBoundCountAsOther) {
  EXPECT_EXIT(
      {
        const auto ids = register_numbered(std::make_integer_sequence<int, 300>());
        bool ok = ids.size() == 300u && ids.back() == 0;  // 300 more cannot all fit in 256
        for (int id : ids) ok &= static_cast<std::size_t>(id) < metrics::detail::kMaxHandlers;
        metrics::detail::count_handler_request(ids.back(), 200, std::chrono::milliseconds(1));
        bool other = false;
        for (const auto& h : metrics::snapshot().handlers) other |= h.name == "other";
        if (!ok || !other) std::fprintf(stderr, "ids or the \"other\" series wrong\n");
        std::_Exit(ok && other ? 0 : 1);
      },
      ::testing::ExitedWithCode(0), "");
}

TEST(PrometheusTextTest, LabelValuesAreEscaped) {
  metrics::Snapshot s;
  metrics::HandlerFigures h;
  h.name = "odd\"name\\with\nnewline";
  h.by_status = {{200, 1}};
  h.latency[0] = 1;
  s.handlers.push_back(h);
  const std::string text = metrics::prometheus_text(s, {});
  EXPECT_NE(text.find("tornado_http_requests_total{handler=\"odd\\\"name\\\\with\\nnewline\","
                      "code=\"200\"} 1\n"),
            std::string::npos)
      << text;
}

// An application figure named like one of the scrape's own families would declare that
// family a second time (Prometheus's text parser refuses a second TYPE line; its scraper
// keeps one of two samples of a series): refused with a clear error when it is made. Every
// family of a scrape is checked, so that a family added later is covered too.
TEST(PrometheusTextTest, ApplicationNamesClashingWithTheScrapesFamiliesAreRefused) {
  metrics::Snapshot s;
  metrics::HandlerFigures h;
  h.name = "H";
  h.by_status = {{200, 1}};
  h.latency[0] = 1;
  s.handlers.push_back(h);
  s.loops.push_back({});
  const std::string text = metrics::prometheus_text(s, metrics::process_figures());
  std::istringstream lines(text);
  std::string line;
  int families = 0;
  while (std::getline(lines, line)) {
    if (!line.starts_with("# TYPE ")) continue;
    const std::string name = line.substr(7, line.find(' ', 7) - 7);
    ++families;
    EXPECT_THROW(metrics::gauge(name), std::invalid_argument) << name;
    EXPECT_THROW(metrics::counter(name), std::invalid_argument) << name;
    for (const char* suffix : {"_bucket", "_sum", "_count"}) {
      if (line.ends_with(" histogram")) {
        EXPECT_THROW(metrics::gauge(name + suffix), std::invalid_argument) << name << suffix;
      }
    }
  }
  EXPECT_GE(families, 18);
  // The names near them stay the application's.
  EXPECT_NO_THROW(metrics::gauge("process_jobs_waiting"));
  EXPECT_NO_THROW(metrics::counter("app_tornado_requests_total"));
}

// Every sample belongs to a family declared by # HELP and # TYPE before it, and Prometheus's
// own parser (python3-prometheus-client) reads the whole scrape.
TEST_F(PrometheusTest, PrometheusOwnParserReadsTheScrape) {
  EXPECT_EQ(fetch("/hello").code, 200);
  const std::string text = scrape();
  std::istringstream lines(text);
  std::string line;
  std::set<std::string> typed;
  const std::regex type_line(R"(# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram)$)");
  std::smatch m;
  while (std::getline(lines, line)) {
    if (std::regex_match(line, m, type_line)) {
      EXPECT_TRUE(typed.insert(m[1]).second) << "declared twice: " << line;
      continue;
    }
    if (line.starts_with("# HELP ")) continue;
    ASSERT_TRUE(std::regex_match(line, m, std::regex(R"(([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? \S+)")))
        << line;
    std::string family = m[1];
    for (const char* suffix : {"_bucket", "_sum", "_count"}) {
      if (!typed.contains(family) && family.ends_with(suffix)) {
        family.resize(family.size() - std::strlen(suffix));
      }
    }
    EXPECT_TRUE(typed.contains(family)) << "no # TYPE before: " << line;
  }
  if (std::system("/usr/bin/python3 -c 'import prometheus_client' 2>/dev/null") != 0) {
    GTEST_SKIP() << "python3-prometheus-client is not installed (scripts/packages.txt)";
  }
  const std::string path = ::testing::TempDir() + "metrics_prometheus_test_scrape.txt";
  std::ofstream(path) << text;
  const std::string check =
      "/usr/bin/python3 -c 'import sys\n"
      "from prometheus_client.parser import text_string_to_metric_families as parse\n"
      "fams = {f.name: f for f in parse(open(sys.argv[1]).read())}\n"
      "assert fams[\"tornado_http_request_duration_seconds\"].type == \"histogram\", fams.keys()\n"
      "assert fams[\"tornado_http_requests\"].type == \"counter\"\n"
      "assert any(s.labels.get(\"handler\") == \"metrics_prometheus_test::Hello\" for s in "
      "fams[\"tornado_http_requests\"].samples)\n"
      "assert fams[\"process_resident_memory_bytes\"].samples[0].value > 0\n' " +
      path;
  EXPECT_EQ(std::system(check.c_str()), 0) << text;
  std::remove(path.c_str());
}

}  // namespace

}  // namespace metrics_prometheus_test
