// The server's request step over real sockets, for what serving a request without a
// coroutine frame could get wrong (docs/performance.md, "The frameless request"): pipelined
// batches that mix requests served at once with ones that have a body, Expect: 100-continue,
// an answer given later, an exception, a malformed request or the end of keep-alive; a head
// that arrives in pieces; the delegate reused for a connection's next request; the
// backpressure bound; and what an idle connection keeps.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "http_test_util.h"
#include "raw_server_test.h"
#include "tornado/httpserver.h"
#include "tornado/iostream.h"
#include "tornado/testing.h"
#include "tornado/web.h"

namespace httpserver_pipeline_test {

using namespace tornado;
using httputil::HTTPConnection;
using httputil::HTTPHeaders;
using httputil::HTTPServerRequest;
using httputil::ResponseStartLine;
using httputil::StartLine;
using tornado::testing::AsyncTest;
using tornado::testing::ExpectLog;
using tornado::test::respond;
using tornado::test::without_dates;

namespace {

int late_big_answers = 0;  // /big_later answers given

// The callback every HTTPServer test here serves:
//   /echo       "<method> <body>"
//   /later      answered on a later loop iteration (add_callback), "later <path>"
//   /big_later  32 KiB, answered on a later iteration
//   /throw      the callback throws
//   /state      what the request holds: method, path, query, arguments, body, X-First
//   anything else: its path and query
void app(HTTPServerRequest& req) {
  if (req.path == "/echo") {
    respond(req, 200, req.method + " " + req.body);
  } else if (req.path == "/later") {
    // The request lives until its answer is finished: captured by reference.
    IOLoop::current().add_callback([&req] { respond(req, 200, "later " + req.query); });
  } else if (req.path == "/big_later") {
    IOLoop::current().add_callback([&req] {
      ++late_big_answers;
      respond(req, 200, std::string(32 * 1024, 'b'));
    });
  } else if (req.path == "/throw") {
    throw std::runtime_error("the callback failed");
  } else if (req.path == "/state") {
    std::size_t arguments = 0;
    for (const auto& [name, values] : req.arguments) arguments += values.size();
    respond(req, 200,
            req.method + " " + req.path + "?" + req.query + " args=" + std::to_string(arguments) +
                " body=" + req.body + " x-first=" + req.headers.get("X-First").value_or("-"));
  } else {
    respond(req, 200, req.path + "?" + req.query);
  }
}

// The raw bytes of an answer "HTTP/1.1 200 OK" with `body` and Content-Length (no Date).
std::string ok(const std::string& body, const std::string& more_fields = "") {
  return "HTTP/1.1 200 OK\r\n" + more_fields + "Content-Length: " + std::to_string(body.size()) +
         "\r\n\r\n" + body;
}

class PipelineTest : public test::RawServerTest {
 protected:
  void start(HTTPServerOptions options = {}) { start_server(app, std::move(options)); }
};

}  // namespace

// Requests served at once (GET, HEAD) between requests with a body (by length, chunked, and
// one with Expect: 100-continue whose body is already here): every answer in order, the
// interim 100 before the answer it belongs to, HEAD's answer without its body, and the
// connection closed after the request that asked for it.
TEST_F(PipelineTest, BatchMixingBodilessGetsWithBodiesAndExpectContinueIsAnsweredInOrder) {
  start();
  const std::string r = exchange(
      "GET /a?1 HTTP/1.1\r\nHost: x\r\n\r\n"
      "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
      "GET /b HTTP/1.1\r\nHost: x\r\n\r\n"
      "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\nhello"
      "HEAD /c HTTP/1.1\r\nHost: x\r\n\r\n"
      "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nxyz\r\n0\r\n\r\n"
      "GET /d?2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
      "GET /never HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(without_dates(r), ok("/a?1") + ok("POST abc") + ok("/b?") +
                                  "HTTP/1.1 100 (Continue)\r\n\r\n" + ok("POST hello") +
                                  "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n" +
                                  ok("POST xyz") + ok("/d?2", "Connection: close\r\n"));
}

// An answer given on a later iteration in the middle of a batch: the requests after it wait
// for it, and are then served (at once again) in order.
TEST_F(PipelineTest, AnswerGivenLaterMidBatchKeepsTheOrderOfTheBatch) {
  start();
  const std::string r = exchange(
      "GET /1 HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET /later?a HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET /2 HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET /later?b HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET /later?c HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET /3 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(without_dates(r), ok("/1?") + ok("later a") + ok("/2?") + ok("later b") +
                                  ok("later c") + ok("/3?", "Connection: close\r\n"));
}

// A callback that throws in the middle of a batch: logged, the answers before it still sent,
// the connection closed without serving what follows (Tornado's "Uncaught exception").
TEST_F(PipelineTest, CallbackThrowingMidBatchIsLoggedAndClosesAfterTheAnswersBeforeIt) {
  start();
  ExpectLog log(app_log(), "Uncaught exception serving.*the callback failed");
  const std::string r = exchange(
      "GET /1 HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET /2 HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET /throw HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET /3 HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(without_dates(r), ok("/1?") + ok("/2?"));
  // The server goes on serving other connections.
  EXPECT_EQ(without_dates(exchange("GET /4 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")),
            ok("/4?", "Connection: close\r\n"));
}

// A malformed request after requests served at once: they are answered, then the 400, then
// the connection closes.
TEST_F(PipelineTest, MalformedRequestAfterServedOnesGets400AfterTheirAnswers) {
  start();
  ExpectLog log(gen_log(), "Malformed HTTP message");
  const std::string r = exchange(
      "GET /1 HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET /2 HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET /3 HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"
      "GET /4 HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(without_dates(r), ok("/1?") + ok("/2?") +
                                  "HTTP/1.1 400 Bad Request\r\nConnection: close\r\n"
                                  "Content-Length: 0\r\n\r\n");
}

// HTTP/1.0 without keep-alive in the middle of a batch ends it; with keep-alive it does not.
TEST_F(PipelineTest, Http10RequestWithoutKeepAliveEndsTheBatch) {
  start();
  const std::string r = exchange(
      "GET /1 HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET /2 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
      "GET /3 HTTP/1.0\r\n\r\n"
      "GET /4 HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(without_dates(r), ok("/1?") + ok("/2?", "Connection: Keep-Alive\r\n") +
                                  ok("/3?", "Connection: close\r\n"));
}

// The next request's head cut in two by the network, after a request served at once: the
// server waits for the rest of it and serves it.
TEST_F(PipelineTest, HeadArrivingInPiecesAfterAServedRequestIsServed) {
  start();
  const std::string r = run_sync([&]() -> Task<std::string> {
    auto s = co_await test::connect_loopback(port_);
    co_await s->write("GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2?cut HTTP/1.1\r\nHo");
    co_await sleep(30ms);
    co_await s->write("st: x\r\nConnection: close\r\n\r\n");
    co_return co_await with_timeout(3s, s->read_until_close());
  });
  EXPECT_EQ(without_dates(r), ok("/1?") + ok("/2?cut", "Connection: close\r\n"));
}

// The callback server hands a connection's next request to the same delegate: nothing of the
// previous request (arguments, header fields, body, method) is seen by the next, whether the
// previous was served at once or had a body.
TEST_F(PipelineTest, ReusedDelegateKeepsNothingOfThePreviousRequest) {
  start();
  const std::string r = exchange(
      "GET /state?a=1&a=2 HTTP/1.1\r\nHost: x\r\nX-First: yes\r\n\r\n"
      "GET /state HTTP/1.1\r\nHost: x\r\n\r\n"
      "POST /state HTTP/1.1\r\nHost: x\r\nX-First: post\r\n"
      "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 3\r\n\r\nb=3"
      "GET /state HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET /state?c=4 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(without_dates(r), ok("GET /state?a=1&a=2 args=2 body= x-first=yes") +
                                  ok("GET /state? args=0 body= x-first=-") +
                                  ok("POST /state? args=1 body=b=3 x-first=post") +
                                  ok("GET /state? args=0 body= x-first=-") +
                                  ok("GET /state?c=4 args=1 body= x-first=-",
                                     "Connection: close\r\n"));
}

// A client that pipelines requests answered on later iterations and never reads: the bound
// on unsent output holds there too (the wait comes after the late answer).
TEST_F(PipelineTest, BackpressureBoundsLateAnswersToAClientThatDoesNotRead) {
  start();
  late_big_answers = 0;
  run_sync([&]() -> Task<> {
    auto hostile = co_await test::connect_loopback(port_, /*receive_buffer=*/4096);
    std::string requests;
    for (int i = 0; i < 1000; ++i) requests += "GET /big_later HTTP/1.1\r\nHost: x\r\n\r\n";
    (void)hostile->write(requests);  // never read; 1000 answers would be 32 MiB
    co_await sleep(500ms);
    EXPECT_LT(late_big_answers, 200) << "answers queued for a client that does not read";
    EXPECT_GT(late_big_answers, 0);
    hostile->close();
  });
}

namespace {

// Delegates that count themselves, for the server's connection-delegate interface.
struct Counts {
  int started = 0;        // start_request calls
  int live = 0;           // delegates alive now
  int most_live = 0;      // the most alive at once
  int reused = 0;         // reuse_request calls that said yes
  int finished = 0;       // requests finished
};

class CountedDelegate final : public httputil::HTTPMessageDelegate {
 public:
  CountedDelegate(HTTPConnection* conn, Counts& counts) : conn_(conn), counts_(counts) {
    counts_.most_live = std::max(counts_.most_live, ++counts_.live);
  }
  ~CountedDelegate() override { --counts_.live; }
  Task<> headers_received(const StartLine& start_line, HTTPHeaders&) override {
    path_ = std::get<httputil::RequestStartLine>(start_line).path;
    co_return;
  }
  bool headers_received_now(const StartLine& start_line, HTTPHeaders&) override {
    path_ = std::get<httputil::RequestStartLine>(start_line).path;
    return true;
  }
  Task<> data_received(std::string_view) override { co_return; }
  void finish() override {
    ++counts_.finished;
    const std::string body = "served " + path_ + " #" + std::to_string(++served_);
    (void)conn_->write_headers(ResponseStartLine{"HTTP/1.1", 200, "OK"},
                               HTTPHeaders{{"Content-Length", std::to_string(body.size())}},
                               body);
    (void)conn_->finish();
  }
  void on_connection_close() override {}
  void reset() {
    path_.clear();
    served_ = 0;
  }

 private:
  HTTPConnection* conn_;
  Counts& counts_;
  std::string path_;
  int served_ = 0;  // requests this object answered since made or reset
};

class CountingApp final : public httputil::HTTPServerConnectionDelegate {
 public:
  CountingApp(Counts& counts, bool reuse) : counts_(counts), reuse_(reuse) {}
  std::unique_ptr<httputil::HTTPMessageDelegate> start_request(HTTPConnection* conn) override {
    ++counts_.started;
    return std::make_unique<CountedDelegate>(conn, counts_);
  }
  bool reuse_request(httputil::HTTPMessageDelegate& finished) override {
    if (!reuse_) return false;
    static_cast<CountedDelegate&>(finished).reset();
    ++counts_.reused;
    return true;
  }

 private:
  Counts& counts_;
  bool reuse_;
};

class PipelineDelegateTest : public AsyncTest {
 protected:
  void start(bool reuse, HTTPServerOptions options = {}) {
    auto [fd, port] = tornado::testing::bind_unused_port();
    port_ = port;
    server_ = std::make_unique<HTTPServer>(std::make_shared<CountingApp>(counts_, reuse),
                                           std::move(options));
    server_->add_socket(fd);
  }
  void TearDown() override {
    server_.reset();
    AsyncTest::TearDown();
  }
  // Five pipelined requests in one write; returns the five answers' bytes once all are in
  // and the connection has been idle for a moment (it stays open).
  std::string batch_then_idle() {
    return run_sync([&]() -> Task<std::string> {
      auto s = co_await test::connect_loopback(port_);
      std::string requests;
      for (int i = 1; i <= 5; ++i) {
        requests += "GET /" + std::to_string(i) + " HTTP/1.1\r\nHost: x\r\n\r\n";
      }
      co_await s->write(requests);
      std::string got;
      for (int i = 1; i <= 5; ++i) {
        got += co_await with_timeout(3s, s->read_until("#1"));
      }
      co_await sleep(20ms);
      idle_live_ = counts_.live;
      s->close();
      co_return got;
    });
  }

  Counts counts_;
  int idle_live_ = -1;
  int port_ = 0;
  std::unique_ptr<HTTPServer> server_;
};

}  // namespace

// A connection delegate that does not opt in (the default reuse_request) gets a start_request
// per request, and each request's delegate is gone before the next one is made (what
// XHeadersDelegate's restoring of the connection's context relies on).
TEST_F(PipelineDelegateTest, WithoutReuseEachRequestGetsItsOwnDelegateMadeAfterThePreviousWent) {
  start(/*reuse=*/false);
  const std::string got = batch_then_idle();
  for (int i = 1; i <= 5; ++i) {
    EXPECT_NE(got.find("served /" + std::to_string(i) + " #1"), std::string::npos) << got;
  }
  EXPECT_EQ(counts_.started, 5);
  EXPECT_EQ(counts_.finished, 5);
  EXPECT_EQ(counts_.most_live, 1);
  EXPECT_EQ(idle_live_, 0);
}

// A connection delegate whose reuse_request says yes gets the pipelined requests of one read
// in the delegate it made for the first (each answer says "#1": the delegate was reset), and
// an idle connection keeps none.
TEST_F(PipelineDelegateTest, ReusedDelegateServesTheBatchAndIsDroppedWhenTheConnectionIsIdle) {
  start(/*reuse=*/true);
  const std::string got = batch_then_idle();
  for (int i = 1; i <= 5; ++i) {
    EXPECT_NE(got.find("served /" + std::to_string(i) + " #1"), std::string::npos) << got;
  }
  EXPECT_EQ(counts_.finished, 5);
  EXPECT_LT(counts_.started, 5);  // the five arrive in one write on loopback: 1 in practice
  EXPECT_GE(counts_.reused, 5 - counts_.started);  // each request after the first: reused
  EXPECT_EQ(counts_.most_live, 1);
  EXPECT_EQ(idle_live_, 0);
}

// With xheaders the server wraps each request's delegate in its own: never reused (the
// wrapper restores the connection's context when it goes).
TEST_F(PipelineDelegateTest, XHeadersServerDoesNotReuseDelegates) {
  start(/*reuse=*/true, {.xheaders = true});
  const std::string got = batch_then_idle();
  EXPECT_EQ(counts_.started, 5);
  EXPECT_EQ(counts_.reused, 0);
  EXPECT_EQ(idle_live_, 0);
}

namespace {

// Handlers for the Application's batch: a plain answer, a streamed body, a form body.
struct Plain : web::RequestHandler {
  Task<> get() override {
    write("plain " + get_argument("n", "-"));
    co_return;
  }
};

struct Streamed : web::RequestHandler {
  bool stream_request_body() const override { return true; }
  Task<> data_received(std::string_view chunk) override {
    received_.append(chunk);
    co_return;
  }
  Task<> put() override {
    write("streamed " + received_);
    co_return;
  }
  std::string received_;
};

struct Form : web::RequestHandler {
  Task<> post() override {
    write("form " + get_argument("f", "-"));
    co_return;
  }
};

// (status, body) of each response in `r`, read by Content-Length.
std::vector<std::pair<int, std::string>> responses(const std::string& r) {
  std::vector<std::pair<int, std::string>> out;
  for (std::size_t at = 0; at < r.size();) {
    const std::size_t end = r.find("\r\n\r\n", at);
    if (end == std::string::npos) break;
    const std::string head = r.substr(at, end - at);
    const std::size_t cl = head.find("Content-Length: ");
    const std::size_t n = cl == std::string::npos ? 0 : std::stoul(head.substr(cl + 16));
    out.emplace_back(std::stoi(head.substr(9, 3)), r.substr(end + 4, n));
    at = end + 4 + n;
  }
  return out;
}

class PipelineApplicationTest : public tornado::testing::AsyncHTTPTest {
 protected:
  tornado::testing::HTTPApp get_app() override {
    return std::make_shared<web::Application>(std::vector<web::URLSpec>{
        {"/plain", web::handler<Plain>()},
        {"/streamed", web::handler<Streamed>()},
        {"/form", web::handler<Form>()},
    });
  }
};

}  // namespace

// The Application's dispatcher serves a connection's pipelined requests in turn: handlers
// answered at once, a streamed body, a form body and a 404 between them, each answered in
// order with nothing of the one before (no argument, no body, no handler).
TEST_F(PipelineApplicationTest, ApplicationServesAMixedBatchInOrderWithNothingCarriedOver) {
  const int port = get_http_port();
  const std::string r = run_sync([port]() -> Task<std::string> {
    auto s = co_await test::connect_loopback(port);
    co_await s->write(
        "GET /plain?n=1 HTTP/1.1\r\nHost: x\r\n\r\n"
        "PUT /streamed HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nbody"
        "GET /plain HTTP/1.1\r\nHost: x\r\n\r\n"
        "POST /form HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
        "Content-Length: 3\r\n\r\nf=5"
        "GET /missing HTTP/1.1\r\nHost: x\r\n\r\n"
        "PUT /streamed HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"
        "GET /plain?n=7 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    co_return co_await with_timeout(3s, s->read_until_close());
  });
  const auto got = responses(r);
  ASSERT_EQ(got.size(), 7u) << r;
  EXPECT_EQ(got[0], std::make_pair(200, std::string("plain 1")));
  EXPECT_EQ(got[1], std::make_pair(200, std::string("streamed body")));
  EXPECT_EQ(got[2], std::make_pair(200, std::string("plain -")));
  EXPECT_EQ(got[3], std::make_pair(200, std::string("form 5")));
  EXPECT_EQ(got[4].first, 404);
  EXPECT_EQ(got[5], std::make_pair(200, std::string("streamed ")));
  EXPECT_EQ(got[6], std::make_pair(200, std::string("plain 7")));
}

}  // namespace httpserver_pipeline_test
