// AsyncHTTPClient against our own HTTPServer: the behaviours of Tornado's
// httpclient_test.py (HTTPClientCommonTestCase, HTTPRequest/HTTPResponse/HTTPError cases),
// plus URL resolution and the request validation rules.
#include "tornado/httpclient.h"

#include <gtest/gtest.h>

#include <deque>
#include <functional>
#include <string>
#include <vector>

#include "http_test_util.h"
#include "httpclient_test_peers.h"
#include "internal/gzip.h"
#include "internal/http_url.h"
#include "tornado/escape.h"
#include "tornado/http1connection.h"
#include "tornado/testing.h"

namespace httpclient_test {

using namespace tornado;
using httpclient::AsyncHTTPClient;
using httpclient::HTTPClientError;
using httpclient::HTTPRequest;
using httpclient::HTTPResponse;
using httputil::HTTPHeaders;
using httputil::HTTPServerRequest;
using httputil::ResponseStartLine;
using tornado::testing::AsyncHTTPTest;
using tornado::testing::ExpectLog;
using tornado::testing::HTTPApp;

using tornado::test::arg;
using tornado::test::respond;

namespace {

void redirect(HTTPServerRequest& req, int code, const std::string& location) {
  HTTPHeaders h{{"Location", location}};
  respond(req, code, "", h);
}

class HTTPClientTest : public AsyncHTTPTest {
 protected:
  HTTPApp get_app() override {
    return [this](HTTPServerRequest& req) { handle(req); };
  }

  void handle(HTTPServerRequest& req) {
    const std::string& p = req.path;
    if (p == "/hello") {
      respond(req, 200, "Hello " + arg(req, "name", "world") + "!");
    } else if (p == "/post") {
      respond(req, 200, "Post arg1: " + arg(req, "arg1") + ", arg2: " + arg(req, "arg2"));
    } else if (p == "/put" || p == "/echopost") {
      respond(req, 200, req.method + " " + req.body);
    } else if (p == "/chunk") {
      req.connection->write_headers(ResponseStartLine{"HTTP/1.1", 200, "OK"}, HTTPHeaders{});
      req.connection->write("asdf");
      req.connection->write("qwer");
      req.connection->finish();
    } else if (p == "/auth" || p == "/headers/authorization") {
      respond(req, 200, req.headers.get("Authorization", ""));
    } else if (p == "/cookie") {
      respond(req, 200, req.headers.get("Cookie", ""));
    } else if (p.starts_with("/countdown/")) {
      int n = std::stoi(p.substr(11));
      if (n > 0) {
        redirect(req, 302, "/countdown/" + std::to_string(n - 1));
      } else {
        respond(req, 200, "Zero");
      }
    } else if (p == "/redirect") {
      redirect(req, std::stoi(arg(req, "status", "302")), arg(req, "url"));
    } else if (p == "/redirect_no_location") {
      respond(req, 302, "");
    } else if (p == "/see_other_post") {
      redirect(req, std::stoi(req.body), "/see_other_get");
    } else if (p == "/see_other_get") {
      respond(req, req.body.empty() && req.method == "GET" ? 200 : 500, "ok " + req.method);
    } else if (p == "/method") {
      respond(req, 200,
              req.method + (req.body.empty() ? "" : " " + req.body) + " " +
                  req.headers.get("Content-Type", "-"));
    } else if (p == "/user_agent") {
      respond(req, 200, req.headers.get("User-Agent", ""));
    } else if (p == "/host_echo") {
      respond(req, 200, req.headers.get("Host", ""));
    } else if (p == "/echo_headers") {
      std::string out;
      for (const auto& [k, v] : req.headers.get_all()) out += k + ": " + v + "\n";
      respond(req, 200, out);
    } else if (p == "/gzip") {
      std::string plain(std::stoul(arg(req, "size", "6")), 'a');
      if (plain.size() == 6) plain = "asdfqwer";
      HTTPHeaders h{{"Content-Encoding", "gzip"}};
      respond(req, 200, tornado::detail::gzip_compress(plain), h);
    } else if (p == "/invalid_gzip") {
      HTTPHeaders h{{"Content-Encoding", "gzip"}};
      respond(req, 200, "not gzip at all", h);
    } else if (p == "/304_with_content_length") {
      req.connection->write_headers(ResponseStartLine{"HTTP/1.1", 304, ""},
                                    HTTPHeaders{{"Content-Length", "42"}});
      req.connection->finish();
    } else if (p == "/no_content") {
      req.connection->write_headers(ResponseStartLine{"HTTP/1.1", 204, ""}, HTTPHeaders{});
      req.connection->finish();
    } else if (p == "/head") {
      respond(req, 200, "ignored");
    } else if (p == "/options") {
      HTTPHeaders h{{"Access-Control-Allow-Origin", "*"}};
      respond(req, 200, "ok", h);
    } else if (p == "/error") {
      respond(req, std::stoi(arg(req, "code", "500")), "error body");
    } else if (p == "/trigger") {
      auto* conn = req.connection;
      triggers_.push_back([conn] {
        conn->write_headers(ResponseStartLine{"HTTP/1.1", 200, "OK"},
                            HTTPHeaders{{"Content-Length", "9"}}, "triggered");
        conn->finish();
      });
    } else if (p == "/large") {
      respond(req, 200, std::string(100 * 1024, 'a'));
    } else if (p == "/raw") {
      // Writes the bytes of ?r= verbatim and closes (for malformed or unusual responses).
      auto stream = static_cast<HTTP1Connection*>(req.connection)->detach();
      std::string raw = arg(req, "r");
      (void)stream->write(raw);
      spawn([](std::shared_ptr<IOStream> s) -> Task<> {
        co_await s->write(std::string());
        s->close();
      }(stream));
    } else {
      respond(req, 404, "not found");
    }
  }

  std::deque<std::function<void()>> triggers_;
};

// quote_plus: '/' ':' '?' are escaped too, so a URL fits in one query argument.
std::string escape_url(std::string_view s) { return escape::url_escape(s, true); }

HTTPRequest post(std::string body) {
  HTTPRequest r;
  r.method = "POST";
  r.body = std::move(body);
  return r;
}

// ---- HTTPClientCommonTestCase ----------------------------------------------------------

TEST_F(HTTPClientTest, HelloWorld) {
  HTTPResponse r = fetch("/hello");
  EXPECT_EQ(r.code, 200);
  EXPECT_EQ(r.reason, "OK");
  EXPECT_EQ(r.headers.get("Content-Length", ""), "12");
  EXPECT_EQ(r.body, "Hello world!");
  EXPECT_GT(r.request_time, 0);
  EXPECT_EQ(r.effective_url, get_url("/hello"));
  EXPECT_EQ(r.request->url, get_url("/hello"));
  EXPECT_FALSE(r.error);
  EXPECT_EQ(fetch("/hello?name=Ben").body, "Hello Ben!");
}

TEST_F(HTTPClientTest, StreamingCallback) {
  std::vector<std::string> chunks;
  HTTPRequest o;
  o.streaming_callback = [&](std::string_view c) { chunks.emplace_back(c); };
  HTTPResponse r = fetch("/hello", o);
  EXPECT_EQ(r.code, 200);
  EXPECT_EQ(r.body, "");  // the body went to the callback
  std::string all;
  for (auto& c : chunks) all += c;
  EXPECT_EQ(all, "Hello world!");
}

TEST_F(HTTPClientTest, PostFormBody) {
  HTTPResponse r = fetch("/post", post("arg1=foo&arg2=bar"));
  EXPECT_EQ(r.code, 200);
  EXPECT_EQ(r.body, "Post arg1: foo, arg2: bar");
}

TEST_F(HTTPClientTest, PostGetsDefaultContentType) {
  EXPECT_EQ(fetch("/method", post("x")).body, "POST x application/x-www-form-urlencoded");
  HTTPRequest put;
  put.method = "PUT";
  put.body = "y";
  EXPECT_EQ(fetch("/method", put).body, "PUT y -");
}

TEST_F(HTTPClientTest, PatchReceivesPayload) {
  HTTPRequest o;
  o.method = "PATCH";
  o.body = "some patch data";
  HTTPResponse r = fetch("/echopost", o);
  EXPECT_EQ(r.code, 200);
  EXPECT_EQ(r.body, "PATCH some patch data");
}

TEST_F(HTTPClientTest, ChunkedResponse) {
  HTTPResponse r = fetch("/chunk");
  EXPECT_EQ(r.body, "asdfqwer");
  std::vector<std::string> chunks;
  HTTPRequest o;
  o.streaming_callback = [&](std::string_view c) { chunks.emplace_back(c); };
  fetch("/chunk", o);
  EXPECT_EQ(chunks, (std::vector<std::string>{"asdf", "qwer"}));
}

TEST_F(HTTPClientTest, ChunkedCloseIsStreamClosed) {
  // A chunked body cut off by the server: the client must not report success.
  std::string raw =
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\n1\r\n1\r\n2\r\n0\r\n";
  HTTPRequest o;
  o.url = get_url("/raw?r=") + escape_url(raw);
  EXPECT_THROW(fetch(o.url), HTTPClientError);
}

TEST_F(HTTPClientTest, BasicAuth) {
  HTTPRequest o;
  o.auth_username = "Aladdin";
  o.auth_password = "open sesame";
  EXPECT_EQ(fetch("/auth", o).body, "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
}

TEST_F(HTTPClientTest, BasicAuthUnicode) {
  HTTPRequest o;
  o.auth_username = "test";
  o.auth_password = "123£";
  EXPECT_EQ(fetch("/auth", o).body, "Basic dGVzdDoxMjPCow==");
}

TEST_F(HTTPClientTest, UnsupportedAuthModeRaises) {
  HTTPRequest o;
  o.auth_username = "Aladdin";
  o.auth_password = "open sesame";
  o.auth_mode = "asdf";
  EXPECT_THROW(fetch("/auth", o), std::invalid_argument);
}

TEST_F(HTTPClientTest, CredentialsInUrl) {
  std::string url = get_url("/auth");
  url.replace(0, 7, "http://me:secret@");
  EXPECT_EQ(fetch(url).body, "Basic " + httputil::encode_basic_auth("me", "secret"));
}

TEST_F(HTTPClientTest, FollowRedirect) {
  HTTPRequest no;
  no.follow_redirects = false;
  HTTPResponse r = fetch("/countdown/2", no);
  EXPECT_EQ(r.code, 302);
  EXPECT_TRUE(r.headers.get("Location", "").ends_with("/countdown/1"));
  r = fetch("/countdown/2");
  EXPECT_EQ(r.code, 200);
  EXPECT_TRUE(r.effective_url.ends_with("/countdown/0"));
  EXPECT_EQ(r.body, "Zero");
}

TEST_F(HTTPClientTest, RedirectWithoutLocationIsReturned) {
  HTTPResponse r = fetch("/redirect_no_location");
  EXPECT_EQ(r.code, 302);
}

TEST_F(HTTPClientTest, RedirectPutKeepsBody) {
  HTTPRequest o;
  o.method = "PUT";
  o.body = "hello";
  HTTPResponse r = fetch("/redirect?url=/put&status=307", o);
  EXPECT_EQ(r.body, "PUT hello");
  r = fetch("/redirect?url=/put&status=302", o);  // 302 changes only POST
  EXPECT_EQ(r.body, "PUT hello");
}

TEST_F(HTTPClientTest, Redirect307And308KeepPost) {
  for (const char* status : {"307", "308"}) {
    HTTPResponse r = fetch(std::string("/redirect?url=/echopost&status=") + status, post("data"));
    EXPECT_EQ(r.code, 200);
    EXPECT_EQ(r.body, "POST data") << status;
  }
}

TEST_F(HTTPClientTest, MethodAfterRedirect) {
  // 301/302 turn POST into GET; 303 turns everything but HEAD into GET.
  for (const char* status : {"301", "302", "303"}) {
    HTTPResponse r = fetch(std::string("/redirect?url=/see_other_get&status=") + status, post(""));
    EXPECT_EQ(r.body, "ok GET") << status;
  }
  HTTPRequest del;
  del.method = "DELETE";
  EXPECT_EQ(fetch("/redirect?url=/see_other_get&status=303", del).body, "ok GET");
  HTTPRequest head;
  head.method = "HEAD";
  EXPECT_EQ(fetch("/redirect?url=/see_other_get&status=303", head).code, 500);  // still HEAD
  EXPECT_EQ(fetch("/redirect?url=/method&status=301", del).body, "DELETE -");
}

TEST_F(HTTPClientTest, SeeOtherRedirectKeepsOriginalRequest) {
  for (const char* code : {"302", "303"}) {
    HTTPResponse r = fetch("/see_other_post", post(code));
    EXPECT_EQ(r.code, 200);
    EXPECT_TRUE(r.request->url.ends_with("/see_other_post"));
    EXPECT_TRUE(r.effective_url.ends_with("/see_other_get"));
    EXPECT_EQ(r.request->method, "POST");
  }
}

TEST_F(HTTPClientTest, MaxRedirectsGivesLastRedirect) {
  HTTPRequest o;
  o.max_redirects = 3;
  HTTPResponse r = fetch("/countdown/5", o);
  EXPECT_EQ(r.code, 302);
  EXPECT_TRUE(r.request->url.ends_with("/countdown/5"));
  EXPECT_TRUE(r.effective_url.ends_with("/countdown/2"));
  EXPECT_TRUE(r.headers.get("Location", "").ends_with("/countdown/1"));
  try {
    fetch("/countdown/5", o, /*raise_error=*/true);
    ADD_FAILURE() << "no exception";
  } catch (const HTTPClientError& e) {
    EXPECT_EQ(e.code(), 302);
    ASSERT_TRUE(e.response());
    EXPECT_TRUE(e.response()->effective_url.ends_with("/countdown/2"));
  }
}

TEST_F(HTTPClientTest, RedirectWithinOriginKeepsCredentials) {
  HTTPRequest o;
  o.headers.set("Authorization", "Bearer xyz");
  o.headers.set("Cookie", "a=1");
  EXPECT_EQ(fetch("/redirect?url=/auth", o).body, "Bearer xyz");
  EXPECT_EQ(fetch("/redirect?url=/cookie", o).body, "a=1");
}

TEST_F(HTTPClientTest, CrossOriginRedirectDropsAuthorizationAndCookie) {
  // localhost and 127.0.0.1 are different origins (same server).
  std::string other = "http://localhost:" + std::to_string(get_http_port());
  for (const char* path : {"/auth", "/cookie"}) {
    HTTPRequest o;
    o.headers.set("Authorization", "Bearer xyz");
    o.headers.set("Cookie", "a=1");
    HTTPResponse r = fetch("/redirect?url=" + escape_url(other + path), o);
    EXPECT_EQ(r.code, 200);
    EXPECT_EQ(r.body, "") << path;
  }
  HTTPRequest basic;
  basic.auth_username = "user";
  basic.auth_password = "pw";
  EXPECT_EQ(fetch("/redirect?url=" + escape_url(other + "/auth"), basic).body, "");
  EXPECT_NE(fetch("/redirect?url=/auth", basic).body, "");
}

TEST_F(HTTPClientTest, RelativeRedirectResolvesAgainstCurrentUrl) {
  HTTPResponse r = fetch("/redirect?url=hello%3Fname%3DRel");
  EXPECT_EQ(r.body, "Hello Rel!");
  EXPECT_EQ(r.effective_url, get_url("/hello?name=Rel"));
}

// The Location comes from the server: an unusable one fails the fetch like any other bad
// response (599), not as a programming error (std::invalid_argument).
TEST_F(HTTPClientTest, RedirectToUnsupportedSchemeIs599) {
  try {
    fetch("/redirect?url=ftp%3A%2F%2Fexample.com%2F");
    ADD_FAILURE() << "no HTTPClientError";
  } catch (const HTTPClientError& e) {
    EXPECT_EQ(e.code(), 599);
    EXPECT_NE(std::string(e.what()).find("Unsupported url scheme"), std::string::npos);
  }
}

TEST_F(HTTPClientTest, BodyIsSentAsBytes) {
  HTTPRequest o = post("\xe9");
  o.method = "PUT";
  HTTPResponse r = fetch("/put", o);
  EXPECT_EQ(r.body, "PUT \xe9");
  EXPECT_EQ(r.headers.get("Content-Length", ""), "5");
}

TEST_F(HTTPClientTest, GzipIsDecompressed) {
  HTTPResponse r = fetch("/gzip");
  EXPECT_EQ(r.body, "asdfqwer");
  EXPECT_FALSE(r.headers.contains("Content-Encoding"));
  EXPECT_EQ(r.headers.get("X-Consumed-Content-Encoding", ""), "gzip");
  HTTPRequest raw;
  raw.decompress_response = false;
  r = fetch("/gzip", raw);
  EXPECT_EQ(r.headers.get("Content-Encoding", ""), "gzip");
  EXPECT_NE(r.body, "asdfqwer");
  EXPECT_EQ(tornado::detail::gzip_compress("asdfqwer").size(), r.body.size());
}

TEST_F(HTTPClientTest, AcceptEncodingFollowsDecompressResponse) {
  EXPECT_NE(fetch("/echo_headers").body.find("Accept-Encoding: gzip\n"), std::string::npos);
  HTTPRequest raw;
  raw.decompress_response = false;
  EXPECT_EQ(fetch("/echo_headers", raw).body.find("Accept-Encoding"), std::string::npos);
}

TEST_F(HTTPClientTest, InvalidGzipIs599) {
  ExpectLog log(gen_log(), "Malformed HTTP response");
  try {
    fetch("/invalid_gzip");
    ADD_FAILURE() << "no exception";
  } catch (const HTTPClientError& e) {
    EXPECT_EQ(e.code(), 599);
  }
}

TEST_F(HTTPClientTest, HeaderCallback) {
  std::vector<std::string> lines;
  HTTPRequest o;
  o.header_callback = [&](std::string_view l) { lines.emplace_back(l); };
  HTTPResponse r = fetch("/chunk", o);
  ASSERT_GE(lines.size(), 3u);
  EXPECT_EQ(lines.front(), "HTTP/1.1 200 OK\r\n");
  EXPECT_EQ(lines.back(), "\r\n");
  bool saw_te = false;
  for (std::size_t i = 1; i + 1 < lines.size(); ++i) {
    EXPECT_TRUE(lines[i].ends_with("\r\n"));
    EXPECT_NE(lines[i].find(": "), std::string::npos);
    if (lines[i] == "Transfer-Encoding: chunked\r\n") saw_te = true;
  }
  EXPECT_TRUE(saw_te);
  EXPECT_EQ(r.body, "asdfqwer");
}

TEST_F(HTTPClientTest, StreamingAndHeaderCallbacksSeeOnlyTheFinalResponse) {
  std::vector<std::string> headers, chunks;
  HTTPRequest o;
  o.header_callback = [&](std::string_view l) { headers.emplace_back(l); };
  o.streaming_callback = [&](std::string_view c) { chunks.emplace_back(c); };
  fetch("/redirect?url=/hello", o);
  EXPECT_EQ(chunks, std::vector<std::string>{"Hello world!"});
  int start_lines = 0;
  for (auto& h : headers) start_lines += h.starts_with("HTTP/");
  EXPECT_EQ(start_lines, 1);
}

TEST_F(HTTPClientTest, CallbackExceptionPropagatesUnchanged) {
  HTTPRequest o;
  o.streaming_callback = [](std::string_view) { throw std::runtime_error("stop here"); };
  try {
    fetch("/hello", o);
    ADD_FAILURE() << "no exception";
  } catch (const std::runtime_error& e) {
    EXPECT_EQ(std::string(e.what()), "stop here");
  }
  EXPECT_EQ(http_client().active_count(), 0u);  // the slot was given back
  EXPECT_EQ(fetch("/hello").body, "Hello world!");
}

TEST_F(HTTPClientTest, HeaderWithCRLFIsRefused) {
  HTTPRequest o;
  EXPECT_THROW(o.headers.add("X-Bad", "a\r\nInjected: 1"), httputil::HTTPOutputError);
  EXPECT_THROW(o.headers.add("Bad Name", "v"), httputil::HTTPOutputError);
}

TEST_F(HTTPClientTest, Response304WithContentLength) {
  HTTPResponse r = fetch("/304_with_content_length");
  EXPECT_EQ(r.code, 304);
  EXPECT_EQ(r.headers.get("Content-Length", ""), "42");
  EXPECT_EQ(r.body, "");
}

TEST_F(HTTPClientTest, FutureHTTPErrorRaisesAndNoRaiseReturns) {
  try {
    fetch("/error?code=404", HTTPRequest{}, /*raise_error=*/true);
    ADD_FAILURE() << "no exception";
  } catch (const HTTPClientError& e) {
    EXPECT_EQ(e.code(), 404);
    EXPECT_EQ(std::string(e.what()), "HTTP 404: Not Found");
    ASSERT_TRUE(e.response());
    EXPECT_EQ(e.response()->body, "error body");
  }
  HTTPResponse r = fetch("/error?code=500");
  EXPECT_EQ(r.code, 500);
  EXPECT_EQ(r.body, "error body");
  ASSERT_TRUE(r.error);
  EXPECT_THROW(r.rethrow(), HTTPClientError);
}

TEST_F(HTTPClientTest, ReuseRequestFromResponse) {
  HTTPResponse r = fetch("/hello");
  EXPECT_EQ(r.request->url, get_url("/hello"));
  HTTPResponse again = run_sync([&]() -> Task<HTTPResponse> {
    HTTPRequest copy = *r.request;
    co_return co_await http_client().fetch(copy);
  });
  EXPECT_EQ(again.body, "Hello world!");
}

TEST_F(HTTPClientTest, HeadersOfTheRequestAreNotModified) {
  HTTPRequest o;
  o.headers.set("User-Agent", "Foo");
  auto before = o.headers;
  run_sync([&]() -> Task<> {
    o.url = get_url("/hello");
    co_await http_client().fetch(o);
  });
  EXPECT_EQ(o.headers, before);
}

TEST_F(HTTPClientTest, BindSourceIp) {
  HTTPRequest o;
  o.network_interface = "127.0.0.1";
  EXPECT_EQ(fetch("/hello", o).code, 200);
  o.network_interface = "192.0.2.1";  // TEST-NET: not a local address
  try {
    fetch("/hello", o);
    ADD_FAILURE() << "no exception";
  } catch (const HTTPClientError& e) {
    EXPECT_EQ(e.code(), 599);
  }
}

TEST_F(HTTPClientTest, AllMethods) {
  for (const char* m : {"GET", "DELETE", "OPTIONS"}) {
    HTTPRequest o;
    o.method = m;
    EXPECT_EQ(fetch("/method", o).body, std::string(m) + " -");
  }
  HTTPRequest head;
  head.method = "HEAD";
  HTTPResponse r = fetch("/head", head);
  EXPECT_EQ(r.code, 200);
  EXPECT_EQ(r.headers.get("Content-Length", ""), "7");
  EXPECT_EQ(r.body, "");
  for (const char* m : {"POST", "PUT", "PATCH"}) {
    HTTPRequest o;
    o.method = m;
    o.body = "body";
    EXPECT_EQ(fetch("/method", o).body.substr(0, std::string(m).size() + 5),
              std::string(m) + " body");
  }
}

TEST_F(HTTPClientTest, BodySanityChecks) {
  for (const char* m : {"POST", "PUT", "PATCH"}) {
    HTTPRequest o;
    o.method = m;  // no body
    EXPECT_THROW(fetch("/method", o), std::invalid_argument) << m;
  }
  for (const char* m : {"GET", "DELETE", "OPTIONS"}) {
    HTTPRequest o;
    o.method = m;
    o.body = "data";
    EXPECT_THROW(fetch("/method", o), std::invalid_argument) << m;
  }
  HTTPRequest empty_get;
  empty_get.body = "";  // an empty body is still a body
  EXPECT_THROW(fetch("/method", empty_get), std::invalid_argument);
}

TEST_F(HTTPClientTest, AllowNonstandardMethods) {
  HTTPRequest o;
  o.method = "POST";
  o.allow_nonstandard_methods = true;  // POST without a body: sent chunked and empty
  EXPECT_EQ(fetch("/method", o).body, "POST application/x-www-form-urlencoded");
  HTTPRequest get_body;
  get_body.body = "xyz";
  get_body.allow_nonstandard_methods = true;
  EXPECT_EQ(fetch("/method", get_body).body, "GET xyz -");
  HTTPRequest custom;
  custom.method = "PROPFIND";
  EXPECT_THROW(fetch("/method", custom), std::invalid_argument);
  custom.allow_nonstandard_methods = true;
  EXPECT_EQ(fetch("/method", custom).body, "PROPFIND -");
  HTTPRequest bad;
  bad.method = "GET /x";
  bad.allow_nonstandard_methods = true;
  EXPECT_THROW(fetch("/method", bad), std::invalid_argument);
}

TEST_F(HTTPClientTest, ResponseTimesAreFilled) {
  double before =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  HTTPResponse r = fetch("/hello");
  EXPECT_GE(r.start_time, before - 1);
  EXPECT_GT(r.request_time, 0);
  EXPECT_LT(r.request_time, 5);
  EXPECT_TRUE(r.time_info.contains("queue"));
  EXPECT_TRUE(r.time_info.contains("connect"));
  EXPECT_TRUE(r.time_info.contains("starttransfer"));
  EXPECT_DOUBLE_EQ(r.time_info["total"], r.request_time);
}

TEST_F(HTTPClientTest, ZeroTimeoutMeansNone) {
  HTTPRequest o;
  o.connect_timeout = Duration(0);
  o.request_timeout = Duration(0);
  EXPECT_EQ(fetch("/hello", o).code, 200);
  o.connect_timeout.reset();
  o.request_timeout.reset();
  EXPECT_EQ(fetch("/hello", o).code, 200);
}

TEST_F(HTTPClientTest, FetchByUrlAndOptions) {
  HTTPResponse r = run_sync([&]() -> Task<HTTPResponse> {
    HTTPRequest o;
    o.method = "PUT";
    o.body = "x";
    co_return co_await http_client().fetch(get_url("/put"), o);
  });
  EXPECT_EQ(r.body, "PUT x");
}

TEST_F(HTTPClientTest, UnsupportedSchemeAndBadUrl) {
  EXPECT_THROW(run_sync([&]() -> Task<> { co_await http_client().fetch("ftp://127.0.0.1/"); }),
               std::invalid_argument);
  EXPECT_THROW(fetch("http://"), std::invalid_argument);
  EXPECT_THROW(fetch("http://127.0.0.1:99999/"), std::invalid_argument);
  EXPECT_THROW(fetch("http://127.0.0.1/a b"), std::invalid_argument);
}

TEST_F(HTTPClientTest, ClosedClientRefusesFetch) {
  AsyncHTTPClient client;
  client.close();
  EXPECT_THROW(run_sync([&]() -> Task<> { co_await client.fetch(get_url("/hello")); }),
               std::logic_error);
}

// ---- the shared instance -----------------------------------------------------------------

class AsyncHTTPClientSingletonTest : public tornado::testing::AsyncTest {};

TEST_F(AsyncHTTPClientSingletonTest, OnePerLoopUnlessForced) {
  auto a = AsyncHTTPClient::current();
  auto b = AsyncHTTPClient::current();
  EXPECT_EQ(a, b);
  AsyncHTTPClient forced;
  EXPECT_NE(&forced, a.get());
  std::shared_ptr<AsyncHTTPClient> other;
  {
    IOLoop loop2;
    loop2.make_current();
    other = AsyncHTTPClient::current();
    EXPECT_NE(other, a);
    io_loop().make_current();
  }
  // The second loop is gone: its client was closed with it.
  EXPECT_TRUE(other->closed());
  EXPECT_FALSE(a->closed());
  EXPECT_EQ(AsyncHTTPClient::current(), a);
}

// ---- HTTPResponse / HTTPClientError ------------------------------------------------------

TEST(HTTPClientErrorTest, StrAndCopy) {
  HTTPClientError e(403);
  EXPECT_EQ(std::string(e.what()), "HTTP 403: Forbidden");
  EXPECT_EQ(e.message(), "Forbidden");
  HTTPClientError copy = e;
  EXPECT_EQ(copy.code(), 403);
  HTTPClientError plain(599, "Timeout while connecting");
  EXPECT_EQ(std::string(plain.what()), "HTTP 599: Timeout while connecting");
  EXPECT_FALSE(plain.response());
}

TEST(HTTPResponseTest, RethrowOnlyWithError) {
  HTTPResponse r;
  r.code = 200;
  EXPECT_NO_THROW(r.rethrow());
  r.error = std::make_exception_ptr(HTTPClientError(500));
  EXPECT_THROW(r.rethrow(), HTTPClientError);
}

TEST(HTTPRequestTest, Defaults) {
  HTTPRequest r;
  EXPECT_EQ(r.method, "GET");
  EXPECT_EQ(r.connect_timeout->count(), 20);
  EXPECT_EQ(r.request_timeout->count(), 20);
  EXPECT_TRUE(r.follow_redirects);
  EXPECT_EQ(r.max_redirects, 5);
  EXPECT_TRUE(r.decompress_response);
  EXPECT_TRUE(r.validate_cert);
  EXPECT_FALSE(r.body);
  EXPECT_EQ(httpclient::default_user_agent(), "tornado-cpp/0.1.0");
}

// ---- URLs ----------------------------------------------------------------------------------

TEST(HTTPUrlTest, ParseUrl) {
  using httpclient::detail::parse_url;
  auto u = parse_url("HTTP://User:p%40ss@Example.COM:8080/a/b?x=1#frag");
  EXPECT_EQ(u.scheme, "http");
  EXPECT_EQ(*u.username, "User");
  EXPECT_EQ(*u.password, "p@ss");
  EXPECT_EQ(u.host, "example.com");
  EXPECT_EQ(u.port, 8080);
  EXPECT_EQ(u.target, "/a/b?x=1");
  EXPECT_EQ(u.host_header(), "example.com:8080");
  EXPECT_EQ(u.absolute(), "http://example.com:8080/a/b?x=1");
  auto v6 = parse_url("https://[::1]/");
  EXPECT_EQ(v6.host, "::1");
  EXPECT_EQ(v6.port, 443);
  EXPECT_EQ(v6.host_header(), "[::1]");
  EXPECT_EQ(parse_url("http://h:80").host_header(), "h");
  EXPECT_EQ(parse_url("http://h?q").target, "/?q");
  EXPECT_THROW(parse_url("http://[::1/"), std::invalid_argument);
  EXPECT_THROW(parse_url("http://h:0/"), std::invalid_argument);
  EXPECT_THROW(parse_url("http://h:8x/"), std::invalid_argument);
  EXPECT_THROW(parse_url("mailto:a@b"), std::invalid_argument);
}

TEST(HTTPUrlTest, ResolveRfc3986Examples) {
  using httpclient::detail::resolve_url;
  const std::string base = "http://a/b/c/d;p?q";
  std::vector<std::pair<std::string, std::string>> cases = {
      {"g", "http://a/b/c/g"},        {"./g", "http://a/b/c/g"},    {"g/", "http://a/b/c/g/"},
      {"/g", "http://a/g"},           {"//g", "http://g"},          {"?y", "http://a/b/c/d;p?y"},
      {"g?y", "http://a/b/c/g?y"},    {"#s", "http://a/b/c/d;p?q"}, {"", "http://a/b/c/d;p?q"},
      {".", "http://a/b/c/"},         {"./", "http://a/b/c/"},      {"..", "http://a/b/"},
      {"../g", "http://a/b/g"},       {"../..", "http://a/"},       {"../../g", "http://a/g"},
      {"../../../g", "http://a/g"},   {"/./g", "http://a/g"},       {"g/../h", "http://a/b/c/h"},
      {"https://x/y", "https://x/y"},
  };
  for (const auto& [ref, want] : cases) EXPECT_EQ(resolve_url(base, ref), want) << ref;
}

// ---- the g++ 12 rule: requests built inline inside the co_await ---------------------

// HTTPRequest is not an aggregate; the setters build a class temporary, which g++ 12 keeps
// intact inside a co_await expression (docs/task.md, "the g++ 12 rule"). The body is longer
// than std::string's small buffer, so a double destruction would free it twice.
TEST_F(HTTPClientTest, RequestBuiltInlineWithSettersSurvivesTheCoAwait) {
  const std::string body(100, 'x');
  std::vector<std::string> chunks;
  auto [echoed, streamed] = run_sync([&]() -> Task<std::pair<HTTPResponse, HTTPResponse>> {
    HTTPResponse a = co_await http_client().fetch(
        HTTPRequest(get_url("/echopost")).set_method("POST").set_body(body).set_header("X-A", "1"));
    HTTPResponse b = co_await http_client().fetch(
        HTTPRequest(get_url("/hello")).set_streaming_callback([&chunks](std::string_view c) {
          chunks.emplace_back(c);
        }));
    co_return std::pair{std::move(a), std::move(b)};
  });
  EXPECT_EQ(echoed.body, "POST " + body);
  EXPECT_EQ(echoed.request->headers.get("X-A", ""), "1");
  EXPECT_EQ(streamed.body, "");
  std::string all;
  for (auto& c : chunks) all += c;
  EXPECT_EQ(all, "Hello world!");
}


// ---- hostname_mapping (Tornado's HostnameMappingTestCase) ---------------------------------

// The client connects where the mapping says, while the request keeps its URL's name.
class HostnameMappingTest : public HTTPClientTest {
 protected:
  httpclient::AsyncHTTPClientOptions get_http_client_options() override {
    httpclient::AsyncHTTPClientOptions o;
    o.hostname_mapping.host["www.example.invalid"] = "127.0.0.1";
    o.hostname_mapping.host["proxy.example.invalid"] = "127.0.0.1";
    o.hostname_mapping.host_port[{"foo.example.invalid", 8000}] = {"127.0.0.1",
                                                                    get_http_port()};
    return o;
  }
};

TEST_F(HostnameMappingTest, HostIsMappedAndHostHeaderKeepsTheName) {
  const std::string port = std::to_string(get_http_port());
  HTTPResponse r = fetch("http://www.example.invalid:" + port + "/hello");
  EXPECT_EQ(r.code, 200);
  EXPECT_EQ(r.body, "Hello world!");
  HTTPResponse host = fetch("http://www.example.invalid:" + port + "/host_echo");
  EXPECT_EQ(host.body, "www.example.invalid:" + port);
  EXPECT_EQ(host.effective_url, "http://www.example.invalid:" + port + "/host_echo");
}

TEST_F(HostnameMappingTest, HostAndPortAreMapped) {
  HTTPResponse r = fetch("http://foo.example.invalid:8000/host_echo");
  EXPECT_EQ(r.code, 200);
  EXPECT_EQ(r.body, "foo.example.invalid:8000");
}

TEST_F(HostnameMappingTest, RedirectsFollowTheMappingToo) {
  // The Location names the mapped host: the next hop is mapped as well.
  HTTPResponse r = fetch("http://foo.example.invalid:8000/redirect?url=" +
                         escape_url("http://foo.example.invalid:8000/host_echo"));
  EXPECT_EQ(r.code, 200);
  EXPECT_EQ(r.body, "foo.example.invalid:8000");
  EXPECT_EQ(r.effective_url, "http://foo.example.invalid:8000/host_echo");
}

TEST_F(HostnameMappingTest, AProxyHostIsMappedToo) {
  // The client connects to the proxy, so the proxy's name is the one looked up.
  tornado::test::TinyProxy proxy;
  HTTPRequest r;
  r.proxy_host = "proxy.example.invalid";
  r.proxy_port = proxy.port();
  HTTPResponse resp = fetch("/host_echo", r);
  EXPECT_EQ(resp.code, 200);
  ASSERT_EQ(proxy.request_lines.size(), 1u);
  EXPECT_EQ(proxy.request_lines[0], "GET " + get_url("/host_echo") + " HTTP/1.1");
}

TEST_F(HostnameMappingTest, UnmappedNamesResolveAsUsual) {
  // Only the mapped (host, port) pair is redirected: another port of the same name is not.
  HTTPRequest bounded;
  bounded.connect_timeout = Duration(5);  // .invalid never resolves; bound a slow resolver
  EXPECT_THROW(fetch("http://foo.example.invalid:8001/hello", bounded), HTTPClientError);
  HTTPResponse r = fetch(get_url("/hello"));
  EXPECT_EQ(r.code, 200);
}

// Over TLS, the certificate is checked against the URL's name, not the mapped address: the
// test certificate names localhost and 127.0.0.1, so a mapped localhost verifies while a
// mapped other name is refused although both connect to the same server.
class HostnameMappingTLSTest : public tornado::testing::AsyncHTTPSTest {
 protected:
  HTTPApp get_app() override {
    return [](HTTPServerRequest& req) { respond(req, 200, req.headers.get("Host", "")); };
  }
  httpclient::AsyncHTTPClientOptions get_http_client_options() override {
    httpclient::AsyncHTTPClientOptions o;
    o.hostname_mapping.host_port[{"localhost", 443}] = {"127.0.0.1", get_http_port()};
    o.hostname_mapping.host_port[{"other.example.invalid", 443}] = {"127.0.0.1",
                                                                      get_http_port()};
    return o;
  }
};

TEST_F(HostnameMappingTLSTest, CertificateIsCheckedAgainstTheOriginalName) {
  HTTPRequest options;
  options.ca_certs = get_ssl_certfile();
  HTTPResponse ok = fetch("https://localhost/", options);
  EXPECT_EQ(ok.code, 200);
  EXPECT_EQ(ok.body, "localhost");
  // Both ends log the refused handshake.
  ExpectLog handshake(gen_log(), "SSL Error", /*required=*/false);
  try {
    fetch("https://other.example.invalid/", options);
    ADD_FAILURE() << "a certificate without the name was accepted";
  } catch (const HTTPClientError& e) {
    EXPECT_EQ(e.code(), 599);
    EXPECT_NE(e.message().find("certificate verify failed"), std::string::npos) << e.message();
  }
}

}  // namespace

}  // namespace httpclient_test
