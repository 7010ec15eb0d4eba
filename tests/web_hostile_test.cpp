// The web layer attacked as a malicious peer and a careless user would: header and cookie
// injection through every setter, hostile status codes, handlers that throw from each hook,
// writes after finish, undecodable arguments and path arguments, and XSRF tokens in every
// wrong shape. Raw sockets where the exact bytes on the wire matter.
#include <gtest/gtest.h>
#include <zlib.h>

#include "http_test_util.h"
#include "tornado/escape.h"
#include "tornado/testing.h"
#include "tornado/web.h"

namespace web_hostile_test {

using namespace tornado;
using namespace std::chrono_literals;
using namespace std::string_view_literals;
using tornado::test::status_line;
using tornado::testing::ExpectLog;

namespace {

// Runs one setter chosen by ?case= and writes "refused" when it throws, "accepted" if not.
struct InjectionHandler : web::RequestHandler {
  Task<> get() override {
    const std::string which = get_argument("case");
    try {
      if (which == "cookie_path_nul") {
        set_cookie("a", "b", {.path = std::string("/\0x", 3)});
      } else if (which == "cookie_domain_ctl") {
        set_cookie("a", "b", {.domain = "example.com\x01"});
      } else if (which == "cookie_samesite_tab") {
        set_cookie("a", "b", {.samesite = "Lax\x0b"});
      } else if (which == "cookie_path_del") {
        set_cookie("a", "b", {.path = "/\x7f"});
      } else if (which == "header_name_crlf") {
        set_header("X-A\r\nX-Evil", "1");
      } else if (which == "header_value_nul") {
        set_header("X-A", std::string_view("a\0b", 3));
      } else if (which == "redirect_nul") {
        redirect(std::string_view("/x\0y", 4));
      } else {
        throw web::HTTPError(400, "unknown case");
      }
      if (!finished()) write("accepted");
    } catch (const std::invalid_argument&) {
      write("refused");
    } catch (const httputil::HTTPOutputError&) {
      write("refused");
    }
    co_return;
  }
};

// set_status with whatever the query says: codes no HTTP/1.1 status line can carry.
struct BadStatusHandler : web::RequestHandler {
  Task<> get() override {
    int code = std::stoi(get_argument("code"));
    try {
      set_status(code);
    } catch (const std::invalid_argument&) {
      write("refused");
      co_return;
    }
    write("status set");
    co_return;
  }
};

// A handler whose hook named by ?hook= throws.
struct ThrowingHooksHandler : web::RequestHandler {
  std::string hook() const { return request().query_arguments.at("hook").front(); }
  Task<> prepare() override {
    if (hook() == "prepare") throw std::runtime_error("prepare blew up");
    co_return;
  }
  nlohmann::json get_current_user() override {
    if (hook() == "current_user") throw std::runtime_error("user lookup blew up");
    return "alice";
  }
  void on_finish() override {
    if (hook() == "on_finish") throw std::runtime_error("on_finish blew up");
  }
  void write_error(int status, std::exception_ptr error) override {
    if (hook() == "write_error") {
      write("half an error page");
      throw std::runtime_error("write_error blew up");
    }
    RequestHandler::write_error(status, error);
  }
  Task<> get() override {
    const std::string h = hook();
    if (h == "current_user") {
      write(current_user().get<std::string>());
    } else if (h == "write_error") {
      throw web::HTTPError(409);
    } else if (h == "finish_twice") {
      finish("once");
      finish("twice");
    } else if (h == "write_after_finish") {
      finish("done");
      write("more");
    } else if (h == "flush_after_finish") {
      finish("done");
      co_await flush();
    } else {
      write("fine");
    }
    co_return;
  }
};

// Raises an HTTPError whose status no status line can carry.
struct BadHTTPErrorHandler : web::RequestHandler {
  Task<> get() override { throw web::HTTPError(std::stoi(get_argument("code"))); }
};

// Every response of this handler has a header the connection refuses.
struct BrokenDefaultHeadersHandler : web::RequestHandler {
  void set_default_headers() override { set_header("Content-Length", "many"); }
  Task<> get() override {
    write("never sent");
    co_return;
  }
};

struct DefaultHeadersHandler : web::RequestHandler {
  void set_default_headers() override {
    set_header("X-Frame-Options", "DENY");
    if (request().query_arguments.contains("throw")) throw std::runtime_error("defaults blew up");
  }
  Task<> get() override {
    write("with defaults");
    co_return;
  }
};

// Writes more (or fewer) bytes than the Content-Length it declared.
struct LyingLengthHandler : web::RequestHandler {
  Task<> get() override {
    set_header("Content-Length", get_argument("declared"));
    write(std::string(std::stoul(get_argument("actual")), 'x'));
    co_return;
  }
};

// Streams 64 KiB pieces with flush() until the client leaves; records what it saw.
struct StreamingState {
  int pieces = 0;
  int closes = 0;
  int finishes = 0;
  bool ended = false;
  std::string ended_by;
};
StreamingState g_streaming;

struct EndlessStreamHandler : web::RequestHandler {
  void on_connection_close() override { ++g_streaming.closes; }
  void on_finish() override { ++g_streaming.finishes; }
  ~EndlessStreamHandler() override { g_streaming.ended = true; }
  Task<> get() override {
    const std::string piece(64 * 1024, 'p');
    try {
      for (;;) {
        write(piece);
        co_await flush();
        ++g_streaming.pieces;
      }
    } catch (const StreamClosedError&) {
      g_streaming.ended_by = "StreamClosedError";
      throw;
    }
  }
};

// hostile16: a careless handler that outlives its client's reset (it swallows the
// cancellation) and only then writes its first bytes, a body past the size sent with the
// head, through flush() or finish(): the head is assembled for a closed stream (checked,
// then dropped) and the awaited write fails with StreamClosedError.
struct LateWriterState {
  bool cancelled = false;
  std::string outcome;
  bool ended = false;
};
LateWriterState g_late;

struct LateFirstWriteHandler : web::RequestHandler {
  ~LateFirstWriteHandler() override { g_late.ended = true; }
  Task<> get() override {
    try {
      co_await sleep(Duration(30));
    } catch (const CancelledError&) {
      g_late.cancelled = true;  // and carries on regardless
    }
    set_header("X-Late", "1");
    write(std::string(100 * 1024, 'l'));
    try {
      if (get_argument("how") == "finish") {
        co_await finish();
      } else {
        co_await flush();
      }
      g_late.outcome = "written";
    } catch (const StreamClosedError&) {
      g_late.outcome = "StreamClosedError";
      throw;
    }
  }
};

// Sleeps far longer than any test, under a request timeout (a pending timer of its own).
struct SleeperState {
  bool started = false;
  bool destroyed = false;
  bool cancelled = false;
};
SleeperState g_sleeper;

struct SleeperHandler : web::RequestHandler {
  std::optional<Duration> request_timeout() const override { return Duration(60); }
  ~SleeperHandler() override { g_sleeper.destroyed = true; }
  Task<> get() override {
    g_sleeper.started = true;
    try {
      co_await sleep(Duration(30));
    } catch (const CancelledError&) {
      g_sleeper.cancelled = true;
      throw;
    }
    write("woke up");
  }
};

// A text body big enough to compress, written in three flushed pieces.
struct GzipPiecesHandler : web::RequestHandler {
  Task<> get() override { return body(); }
  Task<> head() override { return body(); }
  Task<> body() {
    set_header("Content-Type", "text/plain");
    for (int i = 0; i < 3; ++i) {
      write(std::string(2000, char('a' + i)));
      co_await flush();
    }
  }
};

// hostile14: the dispatcher routes in headers_received_now (no Task) and only a streaming
// handler goes on to headers_received. Handlers for pipelined requests that mix them.
struct PipeOkHandler : web::RequestHandler {
  Task<> get() override {
    write("ok " + request().uri);
    co_return;
  }
  Task<> post() override {
    write("plain " + request().body);
    co_return;
  }
};
// Its constructor throws: routing fails in headers_received_now, before any handler exists.
struct PipeCtorThrowsHandler : web::RequestHandler {
  PipeCtorThrowsHandler() { throw std::runtime_error("constructor blew up"); }
};
struct PipeStreamHandler : web::RequestHandler {
  bool stream_request_body() const override { return true; }
  Task<> data_received(std::string_view chunk) override {
    body_.append(chunk);
    co_return;
  }
  Task<> post() override {
    write("streamed " + body_);
    co_return;
  }
  std::string body_;
};
struct PipeRejectEarlyHandler : web::RequestHandler {
  bool stream_request_body() const override { return true; }
  Task<> prepare() override { throw web::HTTPError(401); }
};

// write(json) encodes straight into the body: a refused document (invalid UTF-8, nesting
// past the limit) must leave what was written before it, and a deep one must not crash.
struct PipeJsonHandler : web::RequestHandler {
  Task<> get() override {
    write("before;");
    try {
      write(nlohmann::json{{"ok", 1}, {"bad", std::string("\xff")}});
    } catch (const std::invalid_argument&) {
      write("refused utf8;");
    }
    nlohmann::json deep = nlohmann::json::array();
    for (int i = 0; i < 100000; ++i) {
      nlohmann::json outer = nlohmann::json::array();
      outer.push_back(std::move(deep));
      deep = std::move(outer);
    }
    try {
      write(nlohmann::json{{"deep", std::move(deep)}});
    } catch (const std::invalid_argument&) {
      write("refused depth;");
    }
    if (get_argument("uncaught", "") == "1") {
      nlohmann::json again = nlohmann::json::array();
      for (int i = 0; i < 100000; ++i) {
        nlohmann::json outer = nlohmann::json::array();
        outer.push_back(std::move(again));
        again = std::move(outer);
      }
      write(nlohmann::json{{"deep", std::move(again)}});  // uncaught: a 500
    }
    write(nlohmann::json{{"after", true}});
    co_return;
  }
};

// A streaming handler that answers from its first body piece, before the rest arrives.
struct PipeEarlyFinishHandler : web::RequestHandler {
  bool stream_request_body() const override { return true; }
  Task<> data_received(std::string_view chunk) override {
    if (!finished()) finish("early " + std::string(chunk));
    co_return;
  }
  Task<> post() override {
    write("never");
    co_return;
  }
};

// Sets ?n= headers, large and overwritten many times (the text grows and is compacted),
// then clears them when ?clear=1: its response state goes back to the per-thread spares.
struct PipeManyHeadersHandler : web::RequestHandler {
  Task<> get() override {
    const int n = std::stoi(get_argument("n", "0"));
    for (int i = 0; i < n; ++i) {
      for (int k = 0; k < 5; ++k) set_header("X-Junk-" + std::to_string(i), std::string(200 + k, 'j'));
      add_header("X-Added", std::to_string(i));
    }
    if (get_argument("clear", "") == "1") clear();
    write("n=" + std::to_string(n));
    co_return;
  }
};

// The status lines of a run of responses, in order.
std::vector<std::string> status_lines(const std::string& responses) {
  std::vector<std::string> out;
  for (std::size_t at = responses.find("HTTP/1.1 "); at != std::string::npos;
       at = responses.find("HTTP/1.1 ", at + 1)) {
    out.push_back(responses.substr(at, responses.find("\r\n", at) - at));
  }
  return out;
}

std::string gunzip(const std::string& data) {
  z_stream s{};
  if (inflateInit2(&s, 15 + 16) != Z_OK) return "<inflateInit2 failed>";
  s.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  s.avail_in = static_cast<uInt>(data.size());
  std::string out;
  int rc = Z_OK;
  while (rc == Z_OK) {
    char buf[16384];
    s.next_out = reinterpret_cast<Bytef*>(buf);
    s.avail_out = sizeof buf;
    rc = inflate(&s, Z_NO_FLUSH);
    out.append(buf, sizeof buf - s.avail_out);
  }
  inflateEnd(&s);
  return rc == Z_STREAM_END ? out : "<not a complete gzip stream>";
}

// Decodes a chunked body (the raw bytes after the head).
std::string dechunk(std::string_view body) {
  std::string out;
  while (!body.empty()) {
    std::size_t eol = body.find("\r\n");
    if (eol == std::string_view::npos) return "<bad chunking>";
    std::size_t size = std::stoul(std::string(body.substr(0, eol)), nullptr, 16);
    if (size == 0) break;
    out.append(body.substr(eol + 2, size));
    body.remove_prefix(eol + 2 + size + 2);
  }
  return out;
}

class WebHostileTest : public tornado::testing::AsyncHTTPTest {
 protected:
  tornado::testing::HTTPApp get_app() override {
    return std::make_shared<web::Application>(std::vector<web::URLSpec>{
        {"/inject", web::handler<InjectionHandler>()},
        {"/status", web::handler<BadStatusHandler>()},
        {"/hooks", web::handler<ThrowingHooksHandler>()},
        {"/length", web::handler<LyingLengthHandler>()},
        {"/bad_error", web::handler<BadHTTPErrorHandler>()},
        {"/broken_defaults", web::handler<BrokenDefaultHeadersHandler>()},
        {"/defaults", web::handler<DefaultHeadersHandler>()},
        {"/endless", web::handler<EndlessStreamHandler>()},
        {"/sleeper", web::handler<SleeperHandler>()},
        {"/late", web::handler<LateFirstWriteHandler>()},
        {"/pipe/ok", web::handler<PipeOkHandler>()},
        {"/pipe/ctor", web::handler<PipeCtorThrowsHandler>()},
        {"/pipe/stream", web::handler<PipeStreamHandler>()},
        {"/pipe/reject", web::handler<PipeRejectEarlyHandler>()},
        {"/pipe/json", web::handler<PipeJsonHandler>()},
        {"/pipe/early", web::handler<PipeEarlyFinishHandler>()},
        {"/pipe/headers", web::handler<PipeManyHeadersHandler>()},
    });
  }
  // The raw response bytes to a raw request (up to the close).
  std::string raw(const std::string& request) {
    int port = get_http_port();
    return run_sync([port, request]() -> Task<std::string> {
      auto s = co_await test::connect_loopback(port);
      co_await s->write(request);
      co_return co_await s->read_until_close();
    });
  }
  std::string raw_get(const std::string& target, const std::string& headers = "") {
    return raw("GET " + target + " HTTP/1.1\r\nHost: x\r\n" + headers +
               "Connection: close\r\n\r\n");
  }
};

// A control character in a cookie attribute would only be caught as the headers go out,
// after the handler returned: too late for a clean error. set_cookie refuses it at once,
// as it refuses CR, LF and ';'.
TEST_F(WebHostileTest, CookieAttributeWithControlCharacterIsRefusedBySetCookie) {
  for (const char* c :
       {"cookie_path_nul", "cookie_domain_ctl", "cookie_samesite_tab", "cookie_path_del"}) {
    std::string response = raw_get(std::string("/inject?case=") + c);
    EXPECT_EQ(status_line(response), "HTTP/1.1 200 OK") << c;
    EXPECT_TRUE(response.ends_with("\r\n\r\nrefused")) << c << ": " << response;
    EXPECT_EQ(response.find("Set-Cookie"), std::string::npos) << c;
  }
}

TEST_F(WebHostileTest, HeaderNameAndValueInjectionIsRefused) {
  for (const char* c : {"header_name_crlf", "header_value_nul", "redirect_nul"}) {
    std::string response = raw_get(std::string("/inject?case=") + c);
    EXPECT_EQ(status_line(response), "HTTP/1.1 200 OK") << c;
    EXPECT_TRUE(response.ends_with("\r\n\r\nrefused")) << c << ": " << response;
    EXPECT_EQ(response.find("X-Evil"), std::string::npos) << c;
  }
}

TEST_F(WebHostileTest, StatusCodeOutsideThreeDigitsIsRefused) {
  for (const char* code : {"0", "-1", "99", "1000", "2147483647"}) {
    std::string response = raw_get(std::string("/status?code=") + code);
    EXPECT_EQ(status_line(response), "HTTP/1.1 200 OK") << code << ": " << response;
    EXPECT_TRUE(response.ends_with("\r\n\r\nrefused")) << code << ": " << response;
  }
  EXPECT_TRUE(raw_get("/status?code=599").starts_with("HTTP/1.1 599 Unknown\r\n"));
}

TEST_F(WebHostileTest, ExceptionInPrepareIs500) {
  ExpectLog expect(app_log(), ".*prepare blew up.*");
  EXPECT_EQ(status_line(raw_get("/hooks?hook=prepare")), "HTTP/1.1 500 Internal Server Error");
}

TEST_F(WebHostileTest, ExceptionInGetCurrentUserIs500) {
  ExpectLog expect(app_log(), ".*user lookup blew up.*");
  std::string response = raw_get("/hooks?hook=current_user");
  EXPECT_EQ(status_line(response), "HTTP/1.1 500 Internal Server Error");
  EXPECT_EQ(response.find("blew up"), std::string::npos) << "the error text leaked";
}

TEST_F(WebHostileTest, ExceptionInOnFinishKeepsTheResponseAndTheConnection) {
  ExpectLog expect(app_log(), ".*on_finish blew up.*");
  int port = get_http_port();
  run_sync([port]() -> Task<> {
    auto s = co_await test::connect_loopback(port);
    for (int i = 0; i < 2; ++i) {
      co_await s->write("GET /hooks?hook=on_finish HTTP/1.1\r\nHost: x\r\n\r\n");
      std::string head = co_await s->read_until("\r\n\r\n");
      EXPECT_TRUE(head.starts_with("HTTP/1.1 200 OK\r\n")) << head;
      EXPECT_EQ(co_await s->read_bytes(4), "fine");
    }
  });
}

TEST_F(WebHostileTest, ExceptionInWriteErrorStillEndsTheResponse) {
  ExpectLog expect(app_log(), ".*write_error blew up.*");
  std::string response = raw_get("/hooks?hook=write_error");
  EXPECT_EQ(status_line(response), "HTTP/1.1 409 Conflict");
  EXPECT_TRUE(response.ends_with("half an error page")) << response;
}

TEST_F(WebHostileTest, FinishTwiceWriteOrFlushAfterFinishAreLoggedNotSent) {
  for (const char* hook : {"finish_twice", "write_after_finish", "flush_after_finish"}) {
    ExpectLog expect(app_log(), ".*(twice|after finish).*");
    int port = get_http_port();
    std::string target = std::string("/hooks?hook=") + hook;
    run_sync([port, target]() -> Task<> {
      auto s = co_await test::connect_loopback(port);
      // Twice on one connection: the second request proves the stream is still in step.
      for (int i = 0; i < 2; ++i) {
        co_await s->write("GET " + target + " HTTP/1.1\r\nHost: x\r\n\r\n");
        std::string head = co_await s->read_until("\r\n\r\n");
        EXPECT_TRUE(head.starts_with("HTTP/1.1 200 OK\r\n")) << target << ": " << head;
        auto at = head.find("Content-Length: ");
        EXPECT_NE(at, std::string::npos) << head;
        std::size_t length = std::stoul(head.substr(at + 16));
        std::string body = co_await s->read_bytes(length);
        EXPECT_TRUE(body == "once" || body == "done") << target << ": " << body;
      }
    });
  }
}

TEST_F(WebHostileTest, BodyLongerThanTheDeclaredContentLengthIsNotSent) {
  ExpectLog expect(app_log(), ".*", false);
  ExpectLog expect_gen(gen_log(), ".*", false);
  std::string response = raw_get("/length?declared=3&actual=10");
  // Never 3 declared bytes followed by 7 more that a keep-alive peer would read as the
  // next response.
  EXPECT_EQ(response.find("xxxxxxxxxx"), std::string::npos) << response;
  EXPECT_EQ(response.find("Content-Length: 3\r\n\r\nxxx"), std::string::npos) << response;
}

TEST_F(WebHostileTest, BodyShorterThanTheDeclaredContentLengthEndsTheConnection) {
  ExpectLog expect(app_log(), ".*", false);
  ExpectLog expect_gen(gen_log(), ".*", false);
  // Pipelined: nothing of the second response may follow the short first body, or the
  // client would read it as the missing bytes.
  std::string response =
      raw("GET /length?declared=100&actual=10 HTTP/1.1\r\nHost: x\r\n\r\n"
          "GET /length?declared=2&actual=2 HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_TRUE(response.ends_with("\r\n\r\nxxxxxxxxxx")) << response;
  EXPECT_EQ(response.find("HTTP/1.1", 1), std::string::npos) << response;
}

// A header the connection refuses as it goes out (here a Content-Length that is not a
// number) must give the client a 500, not a connection that never answers.
TEST_F(WebHostileTest, HeadersRefusedOnTheWayOutGive500NotASilentConnection) {
  ExpectLog expect(app_log(), ".*Only integer Content-Length.*");
  std::string response = raw_get("/length?declared=abc&actual=3");
  EXPECT_EQ(status_line(response), "HTTP/1.1 500 Internal Server Error") << response;
  EXPECT_EQ(response.find("Content-Length: abc"), std::string::npos) << response;
}

// Tornado's RequestHandler.__init__ calls clear(), which calls the subclass's
// set_default_headers: its headers are on every response, not only on error pages.
TEST_F(WebHostileTest, SetDefaultHeadersAppliesToEveryResponse) {
  std::string response = raw_get("/defaults");
  EXPECT_EQ(status_line(response), "HTTP/1.1 200 OK") << response;
  EXPECT_NE(response.find("\r\nX-Frame-Options: DENY\r\n"), std::string::npos) << response;
}

TEST_F(WebHostileTest, SetDefaultHeadersThatThrowsIs500) {
  ExpectLog expect(app_log(), ".*defaults blew up.*");
  std::string response = raw_get("/defaults?throw=1");
  EXPECT_EQ(status_line(response), "HTTP/1.1 500 Internal Server Error") << response;
}

// When even the error page's headers are refused (set_default_headers puts a bad value in
// every response), a bare 500 still goes out.
TEST_F(WebHostileTest, BrokenDefaultHeadersGiveABare500NotASilentConnection) {
  ExpectLog expect(app_log(), ".*", false);
  std::string response = raw_get("/broken_defaults");
  EXPECT_EQ(status_line(response), "HTTP/1.1 500 Internal Server Error") << response;
  EXPECT_EQ(response.find("never sent"), std::string::npos) << response;
  EXPECT_EQ(response.find("many"), std::string::npos) << response;
}

// Pipelined on one connection: a 404, a 405, plain and streaming bodies in turns (the
// streaming handler takes the second path, headers_received, after requests that did not),
// each answered in order with its own body, the connection kept to the last.
TEST_F(WebHostileTest, PipelinedPlainStreamingAndErrorRequestsAreAnsweredInOrder) {
  const std::string r = raw(
      "GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n"
      "DELETE /pipe/ok HTTP/1.1\r\nHost: x\r\n\r\n"
      "POST /pipe/ok HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
      "POST /pipe/stream HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
      "POST /pipe/stream HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
      "2\r\nch\r\n3\r\nunk\r\n0\r\n\r\n"
      "POST /pipe/ok HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nwxyz"
      "GET /pipe/ok?last HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(status_lines(r),
            (std::vector<std::string>{"HTTP/1.1 404 Not Found", "HTTP/1.1 405 Method Not Allowed",
                                      "HTTP/1.1 200 OK", "HTTP/1.1 200 OK", "HTTP/1.1 200 OK",
                                      "HTTP/1.1 200 OK", "HTTP/1.1 200 OK"}))
      << r;
  const std::size_t plain = r.find("plain abc"), streamed = r.find("streamed hello"),
                    chunked = r.find("streamed chunk"), plain2 = r.find("plain wxyz"),
                    last = r.find("ok /pipe/ok?last");
  EXPECT_TRUE(plain < streamed && streamed < chunked && chunked < plain2 && plain2 < last &&
              last != std::string::npos)
      << r;
}

// A handler whose constructor throws, in the middle of a pipeline: routing fails in
// headers_received_now. As in Tornado (an uncaught exception in the request's delegate),
// the error is logged and the connection closed: the answers before it are sent, nothing
// after it is read; the server goes on serving other connections.
TEST_F(WebHostileTest, PipelinedRequestWhoseHandlerConstructorThrowsClosesAfterEarlierAnswers) {
  std::string r;
  {
    ExpectLog expect(app_log(), ".*constructor blew up.*");
    r = raw("GET /pipe/ok?1 HTTP/1.1\r\nHost: x\r\n\r\n"
            "GET /pipe/ctor HTTP/1.1\r\nHost: x\r\n\r\n"
            "GET /pipe/ok?3 HTTP/1.1\r\nHost: x\r\n\r\n");
  }
  EXPECT_EQ(status_lines(r), (std::vector<std::string>{"HTTP/1.1 200 OK"})) << r;
  EXPECT_TRUE(r.ends_with("ok /pipe/ok?1")) << r;
  // With a body still unread behind the head (a POST): the same.
  {
    ExpectLog expect(app_log(), ".*constructor blew up.*");
    r = raw("POST /pipe/ctor HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
            "GET /pipe/ok?3 HTTP/1.1\r\nHost: x\r\n\r\n");
  }
  EXPECT_EQ(r, "");
  EXPECT_EQ(status_line(raw_get("/pipe/ok")), "HTTP/1.1 200 OK");
}

// A streaming handler that answers in prepare(), before its body is read, in a pipeline:
// 401, and the connection closes (its body is not read: the next request's bytes cannot be
// told from it), as Tornado does.
TEST_F(WebHostileTest, PipelinedStreamingHandlerAnsweringBeforeItsBodyClosesTheConnection) {
  const std::string r = raw(
      "GET /pipe/ok?1 HTTP/1.1\r\nHost: x\r\n\r\n"
      "POST /pipe/reject HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
      "GET /pipe/ok?3 HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(status_lines(r), (std::vector<std::string>{"HTTP/1.1 200 OK", "HTTP/1.1 401 Unauthorized"}))
      << r;
}

// A streaming handler that finishes from its first body piece while the rest of the body
// is still to come, in a pipeline: its answer says Connection: close (the body was not read
// when it started) and the connection ends cleanly after it, the rest of the body read or
// not; nothing after it is answered, and the handler's method never runs.
TEST_F(WebHostileTest, PipelinedStreamingHandlerFinishingMidBodyEndsTheConnectionCleanly) {
  const int port = get_http_port();
  const std::string r = run_sync([port]() -> Task<std::string> {
    auto s = co_await test::connect_loopback(port);
    co_await s->write(
        "GET /pipe/ok?1 HTTP/1.1\r\nHost: x\r\n\r\n"
        "POST /pipe/early HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        "3\r\none\r\n");
    co_await sleep(50ms);  // the handler answers from the first piece
    co_await s->write("3\r\ntwo\r\n0\r\n\r\nGET /pipe/ok?3 HTTP/1.1\r\nHost: x\r\n\r\n");
    co_return co_await s->read_until_close();
  });
  EXPECT_EQ(status_lines(r), (std::vector<std::string>{"HTTP/1.1 200 OK", "HTTP/1.1 200 OK"})) << r;
  EXPECT_NE(r.find("\r\nConnection: close\r\n"), std::string::npos) << r;
  EXPECT_TRUE(r.ends_with("early one")) << r;
}

// Odd targets in a pipeline: each is answered (404 for what parses, 400 and a close for
// what does not), never a crash; the connection stays usable after the 404s.
TEST_F(WebHostileTest, PipelinedOddTargetsAreAnsweredAndTheConnectionKeptOrClosedCleanly) {
  std::string r = raw(
      "GET * HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET /\xff\xfe%00%ff HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET http://other.example:99/pipe/ok?abs HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET //pipe/ok HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET /pipe/ok?end HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(status_lines(r),
            (std::vector<std::string>{"HTTP/1.1 404 Not Found", "HTTP/1.1 404 Not Found",
                                      "HTTP/1.1 200 OK", "HTTP/1.1 404 Not Found",
                                      "HTTP/1.1 200 OK"}))
      << r;
  EXPECT_NE(r.find("ok http://other.example:99/pipe/ok?abs"), std::string::npos) << r;
  const std::vector<std::string> bad_heads = {
      std::string("GET /a\0b HTTP/1.1\r\nHost: x\r\n\r\n"sv),
      std::string("GET /a HTTP/1.1\r\nHost: x\r\nX\0Y: 1\r\n\r\n"sv),
      "GET /a HTTP/1.1\r\nHost: x\r\nX: a\rb\r\n\r\n",
      "GET /a HTTP/1.1\r\nHost: a b\r\n\r\n",
      "GET /a HTTP/1.1\r\nHost: x\r\nX\xc3\xa9: 1\r\n\r\n",
  };
  for (const std::string& bad : bad_heads) {
    r = raw("GET /pipe/ok?1 HTTP/1.1\r\nHost: x\r\n\r\n" + bad +
            "GET /pipe/ok?3 HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_EQ(status_lines(r),
              (std::vector<std::string>{"HTTP/1.1 200 OK", "HTTP/1.1 400 Bad Request"}))
        << ::testing::PrintToString(bad) << " -> " << r;
  }
}

// A document json_encode refuses leaves the body as it was (the text before it, nothing of
// the refused document); one nested 100,000 deep is refused (it overflowed the stack), and
// uncaught it is a 500 like any exception, the connection kept.
TEST_F(WebHostileTest, WriteJsonRefusedLeavesTheBodyAndDeepNestingIsA500NotACrash) {
  std::string r = raw_get("/pipe/json");
  EXPECT_EQ(status_line(r), "HTTP/1.1 200 OK") << r;
  EXPECT_TRUE(r.ends_with("\r\n\r\nbefore;refused utf8;refused depth;{\"after\":true}")) << r;
  {
    ExpectLog expect(app_log(), ".*nested too deep.*");
    r = raw("GET /pipe/json?uncaught=1 HTTP/1.1\r\nHost: x\r\n\r\n"
            "GET /pipe/ok HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  }
  EXPECT_EQ(status_lines(r), (std::vector<std::string>{"HTTP/1.1 500 Internal Server Error",
                                                       "HTTP/1.1 200 OK"}))
      << r;
}

// Response states (and their headers' text) are reused from request to request: a
// response after one with many large, overwritten or cleared headers carries none of them.
TEST_F(WebHostileTest, ResponseHeadersDoNotLeakIntoTheNextResponseOnARecycledState) {
  std::string pipeline;
  for (int round = 0; round < 10; ++round) {
    pipeline += "GET /pipe/headers?n=" + std::to_string(40 + round) + (round % 2 ? "&clear=1" : "") +
                " HTTP/1.1\r\nHost: x\r\n\r\n";
    pipeline += "GET /pipe/headers?n=0 HTTP/1.1\r\nHost: x\r\n\r\n";
  }
  const std::string r = raw(pipeline + "GET /pipe/headers?n=0 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  ASSERT_EQ(status_lines(r).size(), 21u) << r.substr(0, 2000);
  std::size_t at = 0;
  for (int i = 0; i < 21; ++i) {
    const std::size_t start = r.find("HTTP/1.1 ", at);
    const std::size_t end = r.find("HTTP/1.1 ", start + 1);
    const std::string one = r.substr(start, end == std::string::npos ? end : end - start);
    at = start + 1;
    const bool big = i % 2 == 0 && i < 20;
    const bool cleared = big && (i / 2) % 2 == 1;
    EXPECT_EQ(one.find("X-Junk-") != std::string::npos, big && !cleared) << i << ": " << one.substr(0, 300);
    EXPECT_EQ(one.find("X-Added") != std::string::npos, big && !cleared) << i;
    if (big && !cleared) {
      EXPECT_NE(one.find("X-Junk-0: " + std::string(204, 'j') + "\r\n"), std::string::npos) << i;
    }
    EXPECT_NE(one.find("Content-Type: text/html; charset=UTF-8\r\n"), std::string::npos) << i;
  }
}

// Expect: 100-continue is found by the one-pass field scan (a six-byte name compared as two
// overlapping four-byte words) in any case, for plain and streaming handlers; a name one
// byte away from it asks for nothing.
TEST_F(WebHostileTest, ExpectContinueInAnyCaseIsAnsweredForPlainAndStreamingHandlers) {
  const int port = get_http_port();
  for (const std::string name : {"Expect", "eXpEcT", "EXPECT"}) {
    for (const std::string path : {"/pipe/ok", "/pipe/stream"}) {
      const std::string r = run_sync([port, name, path]() -> Task<std::string> {
        auto s = co_await test::connect_loopback(port);
        co_await s->write("POST " + path + " HTTP/1.1\r\nHost: x\r\n" + name +
                          ": 100-CONTINUE\r\nContent-Length: 4\r\nConnection: close\r\n\r\n");
        std::string interim = co_await s->read_until("\r\n\r\n");
        co_await s->write("body");
        co_return interim + co_await s->read_until_close();
      });
      EXPECT_TRUE(r.starts_with("HTTP/1.1 100 (Continue)\r\n\r\nHTTP/1.1 200 OK\r\n")) << name << path << r;
      EXPECT_TRUE(r.ends_with(path == "/pipe/ok" ? "plain body" : "streamed body")) << r;
    }
  }
  for (const std::string name : {"Expecu", "Ixpect", "Expec", "Expects"}) {
    const std::string r = raw("POST /pipe/ok HTTP/1.1\r\nHost: x\r\n" + name +
                              ": 100-continue\r\nContent-Length: 4\r\nConnection: close\r\n\r\nbody");
    EXPECT_TRUE(r.starts_with("HTTP/1.1 200 OK\r\n")) << name << r;
  }
}

// Odd Host values (ports out of range or missing, brackets, several colons) and odd
// absolute-form authorities: the request is built and routed (200) or the head refused
// (400), never a connection closed without an answer.
TEST_F(WebHostileTest, OddHostsAreAnsweredNotDropped) {
  for (const std::string host :
       {"[::1]:99999", "a:", ":80", "[", "]", "a:b:c", "256.256.256.256:0", "[::1", "A.EXAMPLE.COM.:8",
        "xn--bcher-kva.example:080", "a:-1", "a:+1", "a:1e3", "%41"}) {
    for (bool absolute : {false, true}) {
      const std::string target = absolute ? "http://" + host + "/pipe/ok" : std::string("/pipe/ok");
      const std::string r = raw("GET " + target + " HTTP/1.1\r\nHost: " + host +
                                "\r\nConnection: close\r\n\r\n");
      const std::string line = status_line(r);
      EXPECT_TRUE(line == "HTTP/1.1 200 OK" || line == "HTTP/1.1 400 Bad Request")
          << host << " absolute " << absolute << ": " << r;
    }
  }
}

// A client that pipelines many requests and closes at once: the server stops cleanly (no
// crash, nothing left behind under ASan) and serves the next connection.
TEST_F(WebHostileTest, ClientClosingMidPipelineLeavesTheServerServing) {
  const int port = get_http_port();
  run_sync([port]() -> Task<> {
    for (int round = 0; round < 20; ++round) {
      auto s = co_await test::connect_loopback(port);
      std::string many;
      for (int i = 0; i < 50; ++i) {
        many += i % 3 == 0 ? "POST /pipe/stream HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nabcd"
                           : "GET /pipe/ok HTTP/1.1\r\nHost: x\r\n\r\n";
      }
      // The last request cut in its body.
      many += "POST /pipe/stream HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nab";
      co_await s->write(many.substr(0, many.size() - static_cast<std::size_t>(round) * 7));
      s->close();
    }
    co_await sleep(50ms);
  });
  EXPECT_EQ(status_line(raw_get("/pipe/ok")), "HTTP/1.1 200 OK");
}

TEST_F(WebHostileTest, HTTPErrorWithAnImpossibleStatusIs500) {
  for (const char* code : {"0", "-7", "1000"}) {
    ExpectLog expect(app_log(), ".*", false);
    ExpectLog expect_gen(gen_log(), ".*", false);
    std::string response = raw_get(std::string("/bad_error?code=") + code);
    EXPECT_EQ(status_line(response), "HTTP/1.1 500 Internal Server Error") << code << response;
  }
}

// The client reads a little of an endless flushed stream and leaves: the handler ends
// (its flush fails or it is cancelled), it finishes once and is
// destroyed, and the server goes on serving.
TEST_F(WebHostileTest, ClientLeavingAnEndlessFlushedStreamEndsTheHandler) {
  g_streaming = {};
  ExpectLog expect(app_log(), ".*", false);
  ExpectLog expect_gen(gen_log(), ".*", false);
  int port = get_http_port();
  run_sync([port]() -> Task<> {
    auto s = co_await test::connect_loopback(port, 64 * 1024);
    co_await s->write("GET /endless HTTP/1.1\r\nHost: x\r\n\r\n");
    co_await s->read_bytes(256 * 1024);
    s->close();
    for (int i = 0; i < 200 && !g_streaming.ended; ++i) co_await sleep(Duration(0.01));
  });
  EXPECT_TRUE(g_streaming.ended) << "the handler outlived its client";
  // As in Tornado, the failed flush resumes the handler before the connection's close
  // callback runs, and finish() unhooks it: on_connection_close is not guaranteed here.
  EXPECT_LE(g_streaming.closes, 1);
  EXPECT_LE(g_streaming.finishes, 1);
  EXPECT_GE(g_streaming.pieces, 3);
  EXPECT_EQ(status_line(raw_get("/inject?case=header_value_nul")), "HTTP/1.1 200 OK");
}

// hostile16: the client resets the connection while its handler sleeps; the handler swallows
// the cancellation and writes its first bytes anyway: flush() and finish() fail with
// StreamClosedError when awaited, the handler ends, and the server goes on serving.
TEST_F(WebHostileTest, FirstWriteAfterTheClientResetFailsWhenAwaited) {
  for (const std::string how : {"flush", "finish"}) {
    g_late = {};
    ExpectLog expect(app_log(), ".*", false);
    ExpectLog expect_gen(gen_log(), ".*", false);
    const int port = get_http_port();
    run_sync([port, how]() -> Task<> {
      auto s = co_await test::connect_loopback(port);
      co_await s->write("GET /late?how=" + how + " HTTP/1.1\r\nHost: x\r\n\r\n");
      co_await sleep(Duration(0.05));
      linger lg{1, 0};  // the close sends RST, as a crashed client's does
      EXPECT_EQ(setsockopt(s->fd(), SOL_SOCKET, SO_LINGER, &lg, sizeof lg), 0);
      s->close();
      for (int i = 0; i < 200 && !g_late.ended; ++i) co_await sleep(Duration(0.01));
    });
    EXPECT_TRUE(g_late.cancelled) << how;
    EXPECT_EQ(g_late.outcome, "StreamClosedError") << how;
    EXPECT_TRUE(g_late.ended) << how;
  }
  EXPECT_EQ(status_line(raw_get("/inject?case=header_value_nul")), "HTTP/1.1 200 OK");
}

// The server shuts down (TearDown: stop, close every connection, destroy the server and
// the application) while a handler sleeps with its own timeout timer: the handler is
// cancelled and destroyed while its application and loop still exist (ASan checks the rest).
class WebHostileShutdownTest : public WebHostileTest {
 protected:
  void TearDown() override {
    WebHostileTest::TearDown();
    EXPECT_TRUE(g_sleeper.destroyed) << "the handler outlived the server";
    EXPECT_TRUE(g_sleeper.cancelled);
  }
};

TEST_F(WebHostileShutdownTest, ServerShutsDownUnderASleepingHandler) {
  g_sleeper = {};
  int port = get_http_port();
  auto stream = run_sync([port]() -> Task<std::shared_ptr<IOStream>> {
    auto s = co_await test::connect_loopback(port);
    co_await s->write("GET /sleeper HTTP/1.1\r\nHost: x\r\n\r\n");
    for (int i = 0; i < 200 && !g_sleeper.started; ++i) co_await sleep(Duration(0.005));
    co_return s;
  });
  EXPECT_TRUE(g_sleeper.started);
  EXPECT_FALSE(g_sleeper.destroyed);
}

class WebHostileGzipTest : public WebHostileTest {
 protected:
  tornado::testing::HTTPApp get_app() override {
    web::Settings settings;
    settings.compress_response = true;
    return std::make_shared<web::Application>(
        std::vector<web::URLSpec>{{"/pieces", web::handler<GzipPiecesHandler>()}}, settings);
  }
};

TEST_F(WebHostileGzipTest, FlushedPiecesFormOneGzipStreamEncodedOnce) {
  std::string response = raw_get("/pieces", "Accept-Encoding: gzip\r\n");
  EXPECT_EQ(status_line(response), "HTTP/1.1 200 OK");
  std::string head = response.substr(0, response.find("\r\n\r\n") + 2);
  EXPECT_NE(head.find("\r\nContent-Encoding: gzip\r\n"), std::string::npos) << head;
  EXPECT_NE(head.find("\r\nTransfer-Encoding: chunked\r\n"), std::string::npos) << head;
  std::string body = dechunk(response.substr(response.find("\r\n\r\n") + 4));
  EXPECT_EQ(gunzip(body), std::string(2000, 'a') + std::string(2000, 'b') + std::string(2000, 'c'));
}

TEST_F(WebHostileGzipTest, HeadOfAFlushedResponseHasNoBodyAndNoEncoding) {
  std::string response =
      raw("HEAD /pieces HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(status_line(response), "HTTP/1.1 200 OK");
  EXPECT_TRUE(response.ends_with("\r\n\r\n")) << response;
  EXPECT_EQ(response.find("Content-Encoding"), std::string::npos) << response;
}

}  // namespace

}  // namespace web_hostile_test
