// The server's fast path (tornado/httputil_view.h) over real sockets: what the view callback
// sees of a request, the bytes its Responder sends, the requests that go on to the ordinary
// callback (unanswered, with a body, a head in pieces, xheaders on), keep-alive and draining,
// refused fields, a callback that throws, and the backpressure bound.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <ctime>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "http_test_util.h"
#include "raw_server_test.h"
#include "tornado/httpserver.h"
#include "tornado/httputil_view.h"
#include "tornado/iostream.h"
#include "tornado/testing.h"

namespace httpserver_view_test {

using namespace tornado;
using httputil::HTTPServerRequest;
using httputil::RequestView;
using httputil::Responder;
using tornado::test::respond;
using tornado::test::without_dates;
using tornado::testing::AsyncTest;
using tornado::testing::ExpectLog;

namespace {

// What the view callback saw, one line per request offered.
std::vector<std::string> offered;
int views_answered = 0;

// The view callback every test here serves:
//   /v          "view <method> <path>?<query> host=<host>"
//   /v/fields   the request's fields, "name=value;" in order, and X-Case looked up
//   /v/extra    two more response fields
//   /v/204 /v/304   that status (no body, no Content-Length)
//   /v/bad-value    a response field with a CR LF in its value (refused)
//   /v/reserved     a Content-Length field (refused)
//   /v/twice        send() twice (the second refused, caught: the first answer stands)
//   /v/throw        throws
//   /v/big          32 KiB
//   /v/8k?<n>       8 KiB, then n
//   /v/huge         2 MiB
//   anything else: not answered (the callback gets it)
void views(const RequestView& req, Responder& res) {
  offered.push_back(std::string(req.method()) + " " + std::string(req.uri()));
  const std::string_view path = req.path();
  if (path == "/v") {
    res.send(200, "text/plain",
             "view " + std::string(req.method()) + " " + std::string(path) + "?" +
                 std::string(req.query()) + " host=" + std::string(req.host()));
  } else if (path == "/v/fields") {
    std::string body;
    for (std::size_t i = 0; i < req.header_count(); ++i) {
      auto [name, value] = req.header_at(i);
      body += std::string(name) + "=" + std::string(value) + ";";
    }
    body += " x-case=" + std::string(req.header("x-CASE").value_or("-"));
    body += " version=" + std::string(req.version());
    res.send(200, "text/plain", body);
  } else if (path == "/v/extra") {
    res.send(201, "application/json", {{"X-One", "1"}, {"Cache-Control", "no-cache"}}, "{}");
  } else if (path == "/v/204") {
    res.send(204, "", "ignored");
  } else if (path == "/v/304") {
    res.send(304, "text/plain", "ignored");
  } else if (path == "/v/bad-value") {
    res.send(200, "text/plain", {{"X-Split", "a\r\nSet-Cookie: evil=1"}}, "x");
  } else if (path == "/v/bad-runtime") {
    // Strings built at run time are checked when written (literals when compiled).
    const std::string value = "a\nb", name = "Bad Name";
    if (req.query() == "value") res.send(200, "text/plain", {{"X-Split", value}}, "x");
    if (req.query() == "name") res.send(200, "text/plain", {{name, "v"}}, "x");
    if (req.query() == "type") res.send(200, std::string("text/plain\r\nX: y"), "x");
  } else if (path == "/v/reserved") {
    res.send(200, "text/plain", {{"content-length", "99"}}, "x");
  } else if (path == "/v/twice") {
    res.send(200, "text/plain", "first");
    try {
      res.send(200, "text/plain", "second");
    } catch (const httputil::HTTPOutputError&) {
    }
  } else if (path == "/v/throw") {
    throw std::runtime_error("the view failed");
  } else if (path == "/v/huge") {
    res.send(200, "text/plain", std::string(2 * 1024 * 1024, 'h'));
  } else if (path == "/v/big") {
    res.send(200, "text/plain", std::string(32 * 1024, 'b'));
  } else if (path == "/v/8k") {
    res.send(200, "text/plain", std::string(8 * 1024, 'k') + std::string(req.query()));
  } else {
    return;
  }
  if (res.sent()) ++views_answered;
}

void app(HTTPServerRequest& req) {
  respond(req, 200, "callback " + req.method + " " + req.path + " body=" + req.body);
}

// A view answer's bytes without Date: the status line, `more` fields, Content-Length, body.
std::string view_ok(const std::string& body, const std::string& more = "",
                    const std::string& content_type = "text/plain") {
  return "HTTP/1.1 200 OK\r\n" + more + "Content-Type: " + content_type +
         "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

// The callback's answer (tests/http_test_util.h's respond: Content-Length only).
std::string callback_ok(const std::string& body, const std::string& more = "") {
  return "HTTP/1.1 200 OK\r\n" + more + "Content-Length: " + std::to_string(body.size()) +
         "\r\n\r\n" + body;
}

class ViewTest : public test::RawServerTest {
 protected:
  void SetUp() override {
    AsyncTest::SetUp();
    offered.clear();
    views_answered = 0;
  }
  void start(HTTPServerOptions options = {}) { start_server(views, app, std::move(options)); }
};

}  // namespace

// The exact bytes of a view answer: status line, Date, Content-Type, Content-Length, body;
// the Date field is an IMF-fixdate.
TEST_F(ViewTest, ViewAnswerIsStatusDateTypeLengthAndBody) {
  start();
  const std::string r =
      exchange("GET /v?a=1 HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(without_dates(r), view_ok("view GET /v?a=1 host=example.com", "Connection: close\r\n"));
  EXPECT_NE(r.find("\r\nDate: "), std::string::npos);
  EXPECT_NE(r.find(" GMT\r\n"), std::string::npos);
  EXPECT_EQ(offered, std::vector<std::string>{"GET /v?a=1"});
}

// The Date field is the wall clock's second, and a response after the next second's boundary
// carries the new second: the line is cached per second and, in a loop, refreshed by the
// iteration's clock reading, never left stale (http1connection.cpp, cached_date_line).
TEST_F(ViewTest, DateFieldFollowsTheWallClockAcrossASecondBoundary) {
  start();
  auto date_of = [](const std::string& r) {
    const auto at = r.find("\r\nDate: ");
    if (at == std::string::npos) return std::string();
    return r.substr(at + 8, r.find("\r\n", at + 2) - at - 8);
  };
  auto now_seconds = [] {
    timespec t{};
    clock_gettime(CLOCK_REALTIME, &t);
    return t;
  };
  for (int round = 0; round < 2; ++round) {
    // Well inside a second, so that the request and the reading of the clock share it.
    timespec t = now_seconds();
    if (t.tv_nsec > 700'000'000) {
      std::this_thread::sleep_for(std::chrono::nanoseconds(1'050'000'000 - t.tv_nsec));
      t = now_seconds();
    }
    const std::string r = exchange("GET /v HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    const timespec after = now_seconds();
    const std::string date = date_of(r);
    EXPECT_TRUE(date == httputil::format_timestamp(static_cast<int64_t>(t.tv_sec)) ||
                date == httputil::format_timestamp(static_cast<int64_t>(after.tv_sec)))
        << "round " << round << ": Date " << date << ", clock " << t.tv_sec;
    // Past the next boundary before the next round.
    std::this_thread::sleep_for(std::chrono::nanoseconds(1'100'000'000 - now_seconds().tv_nsec));
  }
}

// Requests the view leaves unanswered, and requests with a body (never offered), reach the
// ordinary callback, pipelined in one batch with view answers, all in order.
TEST_F(ViewTest, UnansweredAndBodiedRequestsGoToTheCallbackInOrder) {
  start();
  const std::string r = exchange(
      "GET /v HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET /other HTTP/1.1\r\nHost: x\r\n\r\n"
      "POST /v HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
      "DELETE /v HTTP/1.1\r\nHost: x\r\n\r\n"
      "POST /v HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nxy\r\n0\r\n\r\n"
      "GET /v?last HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(without_dates(r),
            view_ok("view GET /v? host=x") + callback_ok("callback GET /other body=") +
                callback_ok("callback POST /v body=abc") + view_ok("view DELETE /v? host=x") +
                callback_ok("callback POST /v body=xy") +
                view_ok("view GET /v?last host=x", "Connection: close\r\n"));
  // Only the body-less ones were offered.
  EXPECT_EQ(offered,
            (std::vector<std::string>{"GET /v", "GET /other", "DELETE /v", "GET /v?last"}));
}

// The fields as received, in order, repeated names kept; a case-insensitive look-up.
TEST_F(ViewTest, ViewSeesFieldsInOrderAndLooksThemUpIgnoringCase) {
  start();
  const std::string r = exchange(
      "GET /v/fields HTTP/1.1\r\nHost: h\r\nX-Case: Yes\r\nA: 1\r\nA: 2\r\n"
      "Connection: close\r\n\r\n");
  EXPECT_EQ(without_dates(r),
            view_ok("Host=h;X-Case=Yes;A=1;A=2;Connection=close; x-case=Yes version=HTTP/1.1",
                    "Connection: close\r\n"));
}

// An absolute-form target names the host (RFC 9112 3.2.2), and its path is what follows
// the authority ("/" when nothing does); no Host field in HTTP/1.0 gives 127.0.0.1.
TEST_F(ViewTest, AbsoluteFormTargetGivesHostAndPathAsTheRequestObjectDoes) {
  start();
  EXPECT_EQ(without_dates(exchange("GET http://example.org:8080/v?q=1 HTTP/1.1\r\nHost: other\r\n"
                                   "Connection: close\r\n\r\n")),
            view_ok("view GET /v?q=1 host=example.org:8080", "Connection: close\r\n"));
  // "http://host" alone: the path "/" is not /v, so the callback gets it, with the same split.
  EXPECT_EQ(without_dates(exchange("GET http://example.org HTTP/1.1\r\nHost: other\r\n"
                                   "Connection: close\r\n\r\n")),
            callback_ok("callback GET / body=", "Connection: close\r\n"));
  EXPECT_EQ(without_dates(exchange("GET /v HTTP/1.0\r\n\r\n")),
            view_ok("view GET /v? host=127.0.0.1", "Connection: close\r\n"));
}

// HEAD gets the head with the body's Content-Length and no body; 204 and 304 get neither
// Content-Length nor body.
TEST_F(ViewTest, HeadAnd204And304CarryNoBody) {
  start();
  const std::string r = exchange(
      "HEAD /v HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET /v/204 HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET /v/304 HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET /v HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(without_dates(r),
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 20\r\n\r\n"
            "HTTP/1.1 204 No Content\r\n\r\n"
            "HTTP/1.1 304 Not Modified\r\nContent-Type: text/plain\r\n\r\n" +
                view_ok("view GET /v? host=x", "Connection: close\r\n"));
}

// More fields after Content-Type, and a status other than 200 with its standard reason.
TEST_F(ViewTest, ExtraFieldsFollowContentTypeWithTheStatusReason) {
  start();
  EXPECT_EQ(
      without_dates(exchange("GET /v/extra HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")),
      "HTTP/1.1 201 Created\r\nConnection: close\r\nContent-Type: application/json\r\n"
      "X-One: 1\r\nCache-Control: no-cache\r\nContent-Length: 2\r\n\r\n{}");
}

// HTTP/1.0: kept open with keep-alive (and told so), closed without it, and the requests
// after the close are not served.
TEST_F(ViewTest, Http10KeepAliveIsToldAndItsAbsenceClosesTheConnection) {
  start();
  const std::string r = exchange(
      "GET /v HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
      "GET /v?2 HTTP/1.0\r\n\r\n"
      "GET /v?never HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(without_dates(r), view_ok("view GET /v? host=127.0.0.1", "Connection: Keep-Alive\r\n") +
                                  view_ok("view GET /v?2 host=127.0.0.1", "Connection: close\r\n"));
}

// A response field with CR LF in its value, or a field the server writes itself, is refused
// with nothing sent: the exception leaves the view as a callback's does (logged, the
// connection closed after the answers before it); the server goes on serving.
TEST_F(ViewTest, RefusedResponseFieldSendsNothingAndClosesAfterEarlierAnswers) {
  start();
  {
    ExpectLog log(app_log(), "Uncaught exception serving.*control character");
    const std::string r = exchange(
        "GET /v?1 HTTP/1.1\r\nHost: x\r\n\r\n"
        "GET /v/bad-value HTTP/1.1\r\nHost: x\r\n\r\n"
        "GET /v?never HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_EQ(without_dates(r), view_ok("view GET /v?1 host=x"));
    EXPECT_EQ(r.find("evil"), std::string::npos);
  }
  for (const char* what : {"value", "name", "type"}) {
    ExpectLog log(app_log(), "Uncaught exception serving.*(control character|Invalid header name)");
    EXPECT_EQ(exchange("GET /v/bad-runtime?" + std::string(what) + " HTTP/1.1\r\nHost: x\r\n\r\n"),
              "")
        << what;
  }
  {
    ExpectLog log(app_log(), "Uncaught exception serving.*content-length is written by the server");
    EXPECT_EQ(exchange("GET /v/reserved HTTP/1.1\r\nHost: x\r\n\r\n"), "");
  }
  EXPECT_EQ(without_dates(exchange("GET /v HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")),
            view_ok("view GET /v? host=x", "Connection: close\r\n"));
}

// A second send() is refused; the first answer stands and the connection goes on.
TEST_F(ViewTest, SecondSendIsRefusedAndTheFirstAnswerStands) {
  start();
  const std::string r = exchange(
      "GET /v/twice HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET /v HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(without_dates(r),
            view_ok("first") + view_ok("view GET /v? host=x", "Connection: close\r\n"));
}

// A view that throws: logged as Tornado logs a failing callback, the answers before it sent,
// nothing after it served.
TEST_F(ViewTest, ThrowingViewIsLoggedAndClosesAfterTheAnswersBeforeIt) {
  start();
  ExpectLog log(app_log(), "Uncaught exception serving.*the view failed");
  const std::string r = exchange(
      "GET /v?1 HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET /v/throw HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET /v?2 HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(without_dates(r), view_ok("view GET /v?1 host=x"));
}

// A head that arrives in pieces is offered to the view all the same once complete (else a
// route answered only by the view would reach the callback depending on the network).
TEST_F(ViewTest, HeadArrivingInPiecesIsOfferedToTheView) {
  start();
  const std::string r = run_sync([&]() -> Task<std::string> {
    auto s = co_await test::connect_loopback(port_);
    co_await s->write("GET /v?1 HTTP/1.1\r\nHost: x\r\n\r\nGET /v?cut HTTP/1.1\r\nHo");
    co_await sleep(30ms);
    co_await s->write("st: x\r\nConnection: close\r\n\r\n");
    co_return co_await with_timeout(3s, s->read_until_close());
  });
  EXPECT_EQ(without_dates(r), view_ok("view GET /v?1 host=x") +
                                  view_ok("view GET /v?cut host=x", "Connection: close\r\n"));
  EXPECT_EQ(offered.size(), 2u);
}

// Bad requests never reach the view: answered 400 by the server.
TEST_F(ViewTest, MalformedRequestIsAnswered400WithoutReachingTheView) {
  start();
  ExpectLog log(gen_log(), "Malformed HTTP message");
  const std::string r = exchange("GET /v HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n");
  EXPECT_EQ(r.rfind("HTTP/1.1 400 Bad Request\r\n", 0), 0u) << r;
  EXPECT_TRUE(offered.empty());
}

// With xheaders on, the view is not called: the forwarded address applies to request
// objects only, so every request goes to the callback.
TEST_F(ViewTest, XheadersServerDoesNotOfferViews) {
  HTTPServerOptions options;
  options.xheaders = true;
  start(options);
  EXPECT_EQ(without_dates(exchange("GET /v HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")),
            callback_ok("callback GET /v body=", "Connection: close\r\n"));
  EXPECT_TRUE(offered.empty());
}

namespace {

// A request delegate answering "delegate <path>" (the ordinary path of ViewingDelegate).
class PathDelegate final : public httputil::HTTPMessageDelegate {
 public:
  explicit PathDelegate(httputil::HTTPConnection* conn) : conn_(conn) {}
  Task<> headers_received(const httputil::StartLine& start_line, httputil::HTTPHeaders&) override {
    path_ = std::get<httputil::RequestStartLine>(start_line).path;
    co_return;
  }
  Task<> data_received(std::string_view) override { co_return; }
  void finish() override {
    const std::string body = "delegate " + path_;
    (void)conn_->write_headers(
        httputil::ResponseStartLine{"HTTP/1.1", 200, "OK"},
        httputil::HTTPHeaders{{"Content-Length", std::to_string(body.size())}}, body);
    (void)conn_->finish();
  }
  void on_connection_close() override {}

 private:
  httputil::HTTPConnection* conn_;
  std::string path_;
};

// A server delegate that offers views itself (the extension point HTTPServer's view
// callback is built on): "/d" is answered from views, anything else through start_request.
class ViewingDelegate final : public httputil::HTTPServerConnectionDelegate {
 public:
  ViewingDelegate() { offers_views_ = true; }
  std::unique_ptr<httputil::HTTPMessageDelegate> start_request(
      httputil::HTTPConnection* conn) override {
    ++started;
    return std::make_unique<PathDelegate>(conn);
  }
  void serve_view(const RequestView& req, Responder& res) override {
    if (req.path() == "/d") res.send(200, "text/plain", "delegate view");
  }
  int started = 0;  // start_request calls
};

}  // namespace

// A delegate that offers views answers from them without start_request; what it leaves gets
// a request delegate as usual.
TEST_F(ViewTest, DelegateOfferingViewsAnswersWithoutARequestDelegate) {
  auto delegate = std::make_shared<ViewingDelegate>();
  start_server(delegate);
  const std::string r = exchange(
      "GET /d HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET /x HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET /d HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(without_dates(r), view_ok("delegate view") + callback_ok("delegate /x") +
                                  view_ok("delegate view", "Connection: close\r\n"));
  EXPECT_EQ(delegate->started, 1);
}

// In front of such a delegate the server's view callback goes first; what it leaves goes to
// the delegate's views, then to its start_request.
TEST_F(ViewTest, ViewCallbackGoesFirstThenTheDelegatesViewsThenItsRequests) {
  auto delegate = std::make_shared<ViewingDelegate>();
  start_server(views, delegate);
  const std::string r = exchange(
      "GET /v HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET /d HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET /x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(without_dates(r), view_ok("view GET /v? host=x") + view_ok("delegate view") +
                                  callback_ok("delegate /x", "Connection: close\r\n"));
  EXPECT_EQ(offered, (std::vector<std::string>{"GET /v", "GET /d", "GET /x"}));
  EXPECT_EQ(delegate->started, 1);
}

// A draining server says Connection: close in a view answer and ends the connection after it.
TEST_F(ViewTest, DrainingServerClosesAfterAViewAnswer) {
  start();
  server_->start_draining();
  const std::string r = exchange(
      "GET /v HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET /v?never HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(without_dates(r), view_ok("view GET /v? host=x", "Connection: close\r\n"));
}

// A head past max_header_size (a 70 KB field) is answered 431 before any view sees it.
TEST_F(ViewTest, HeadPastTheLimitIsAnswered431WithoutReachingTheView) {
  start();
  ExpectLog log(gen_log(), "Malformed HTTP message");
  const std::string r =
      exchange("GET /v HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(70 * 1024, 'a') + "\r\n\r\n");
  EXPECT_EQ(r.rfind("HTTP/1.1 431 ", 0), 0u) << r.substr(0, 80);
  EXPECT_TRUE(offered.empty());
}

// A 2 MiB answer (far past the 2 KiB a head shares its write with) arrives whole, after an
// answer before it and before one after it.
TEST_F(ViewTest, LargeAnswerArrivesWholeBetweenOthers) {
  start();
  const std::string r = exchange(
      "GET /v?1 HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET /v/huge HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET /v?2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(without_dates(r), view_ok("view GET /v?1 host=x") +
                                  view_ok(std::string(2 * 1024 * 1024, 'h')) +
                                  view_ok("view GET /v?2 host=x", "Connection: close\r\n"));
}

// header_at past header_count() is refused, not read out of bounds.
TEST_F(ViewTest, HeaderAtPastTheCountThrowsOutOfRange) {
  std::string seen;
  start_server(
      [&seen](const RequestView& req, Responder& res) {
        try {
          (void)req.header_at(req.header_count());
        } catch (const std::out_of_range& e) {
          seen = e.what();
        }
        res.send(200, "text/plain", "x");
      },
      app);
  exchange("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_NE(seen.find("header_at"), std::string::npos) << seen;
}

// A client that pipelines requests the view answers with 32 KiB each and never reads: the
// server stops reading at the unsent-output bound instead of answering them all.
TEST_F(ViewTest, BackpressureBoundsViewAnswersToAClientThatDoesNotRead) {
  start();
  run_sync([&]() -> Task<> {
    auto hostile = co_await test::connect_loopback(port_, /*receive_buffer=*/4096);
    std::string requests;
    for (int i = 0; i < 1000; ++i) requests += "GET /v/big HTTP/1.1\r\nHost: x\r\n\r\n";
    (void)hostile->write(requests);  // never read; 1000 answers would be 32 MiB
    co_await sleep(500ms);
    EXPECT_LT(views_answered, 200) << "answers queued for a client that does not read";
    EXPECT_GT(views_answered, 0);
    hostile->close();
  });
}

// Requests sent one at a time by a client that reads nothing until the end: each is the last
// request buffered, so its answer is sent at once from the thread's scratch (a view's, and
// the callback's whole response with its body of up to 2 KiB); once the client's window is
// full, the kernel takes part of one and none of the next, and the rest is queued behind.
// Every answer still arrives whole, once, in order.
class SentAtOnceTest : public ViewTest {
 protected:
  // As start(), with the accepted sockets' send buffer at its smallest (inherited from the
  // listening socket), so that the kernel soon takes only part of an answer.
  void start_with_small_send_buffer() {
    auto [fd, port] = tornado::testing::bind_unused_port();
    const int small = 4096;
    ASSERT_EQ(setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof small), 0);
    port_ = port;
    server_ = std::make_unique<HTTPServer>(views, app);
    server_->add_socket(fd);
  }
  void send_one_at_a_time_then_read(int count, const std::function<std::string(int)>& target,
                                    const std::function<std::string(int)>& answer_body) {
    std::string got;
    run_sync([&]() -> Task<> {
      auto client = co_await test::connect_loopback(port_, /*receive_buffer=*/4096);
      for (int i = 0; i < count; ++i) {
        const bool last = i == count - 1;
        (void)client->write("GET " + target(i) + " HTTP/1.1\r\nHost: x\r\n" +
                            (last ? "Connection: close\r\n" : "") + "\r\n");
        co_await sleep(1ms);  // answered alone, before the next arrives
      }
      got = co_await client->read_until_close();
    });
    std::size_t at = 0;
    for (int i = 0; i < count; ++i) {
      const std::size_t head_end = got.find("\r\n\r\n", at);
      ASSERT_NE(head_end, std::string::npos) << "answer " << i << " missing";
      ASSERT_EQ(got.compare(at, 17, "HTTP/1.1 200 OK\r\n"), 0) << "answer " << i;
      const std::string body = answer_body(i);
      ASSERT_EQ(got.compare(head_end + 4, body.size(), body), 0) << "answer " << i;
      at = head_end + 4 + body.size();
    }
    EXPECT_EQ(at, got.size()) << "bytes after the last answer";
  }
};

TEST_F(SentAtOnceTest, ViewAnswersToAClientThatReadsLateArriveWholeInOrder) {
  start_with_small_send_buffer();
  // 2.4 MiB of answers against a 4 KiB receive buffer.
  send_one_at_a_time_then_read(
      300, [](int i) { return "/v/8k?" + std::to_string(i); },
      [](int i) { return std::string(8 * 1024, 'k') + std::to_string(i); });
}

TEST_F(SentAtOnceTest, CallbackAnswersToAClientThatReadsLateArriveWholeInOrder) {
  start_with_small_send_buffer();
  // 1.2 MiB of answers of about 2 KiB (each sent with its head) against 4 KiB.
  const std::string padding(1900, 'p');
  send_one_at_a_time_then_read(
      600, [&](int i) { return "/c/" + std::to_string(i) + "/" + padding; },
      [&](int i) { return "callback GET /c/" + std::to_string(i) + "/" + padding + " body="; });
}

}  // namespace httpserver_view_test
