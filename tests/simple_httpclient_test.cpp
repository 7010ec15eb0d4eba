// The behaviours of Tornado's simple_httpclient_test.py (limits, queueing, timeouts,
// framing edge cases, 100-continue, TLS), plus what this client adds: keep-alive pooling
// and HTTP proxies (with a tiny proxy written here).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <deque>
#include <functional>
#include <regex>
#include <string>
#include <system_error>
#include <vector>

#include "http_test_util.h"
#include "httpclient_test_peers.h"
#include "internal/gzip.h"
#include "internal/http_url.h"
#include "tornado/escape.h"
#include "tornado/http1connection.h"
#include "tornado/httpclient.h"
#include "tornado/tcpclient.h"
#include "tornado/tcpserver.h"
#include "tornado/testing.h"

namespace simple_httpclient_test {

using namespace tornado;
using httpclient::AsyncHTTPClient;
using httpclient::AsyncHTTPClientOptions;
using httpclient::HTTPClientError;
using httpclient::HTTPRequest;
using httpclient::HTTPResponse;
using httputil::HTTPHeaders;
using httputil::HTTPServerRequest;
using httputil::ResponseStartLine;
using tornado::test::RawServer;
using tornado::test::TinyProxy;
using tornado::testing::AsyncHTTPSTest;
using tornado::testing::AsyncHTTPTest;
using tornado::testing::ExpectLog;
using tornado::testing::HTTPApp;

using tornado::test::arg;
using tornado::test::respond;

namespace {

std::string q(std::string_view s) { return escape::url_escape(s, true); }

// The error a fetch raised (fails the test if it raised nothing or something else).
template <typename F>
HTTPClientError expect_client_error(F&& f) {
  try {
    f();
  } catch (const HTTPClientError& e) {
    return e;
  }
  ADD_FAILURE() << "no HTTPClientError";
  return HTTPClientError(0, "none");
}

// Runs the loop (polling each millisecond) until `cond` holds; fails after 5 s.
template <typename Test, typename C>
void wait_for(Test& t, C cond) {
  t.run_sync([&]() -> Task<> {
    while (!cond()) co_await sleep(1ms);
  });
}

// The application both the plain and the TLS fixtures serve.
template <typename Base>
class SimpleClientFixture : public Base {
 public:
  using Base::run_sync;

 protected:
  HTTPApp get_app() override {
    return [this](HTTPServerRequest& req) { handle(req); };
  }

  void handle(HTTPServerRequest& req) {
    const std::string& p = req.path;
    if (p == "/hello") {
      respond(req, 200, "Hello world!");
    } else if (p == "/trigger") {
      auto* conn = req.connection;
      triggers_.push_back([conn] {
        conn->write_headers(ResponseStartLine{"HTTP/1.1", 200, "OK"},
                            HTTPHeaders{{"Content-Length", "9"}}, "triggered");
        conn->finish();
      });
    } else if (p.starts_with("/countdown/")) {
      int n = std::stoi(p.substr(11));
      if (n > 0) {
        HTTPHeaders h{{"Location", "/countdown/" + std::to_string(n - 1)}};
        respond(req, 302, "", h);
      } else {
        respond(req, 200, "Zero");
      }
    } else if (p == "/connection") {
      // The client's port names the connection that carried the request.
      respond(req, 200, std::to_string(peer_port(req)));
    } else if (p == "/echo") {
      respond(req, 200, req.body + "|" + req.headers.get("Expect", ""));
    } else if (p == "/head") {
      respond(req, 200, "ignored");
    } else if (p == "/options") {
      HTTPHeaders h{{"Access-Control-Allow-Origin", "*"}};
      respond(req, 200, "ok", h);
    } else if (p == "/no_content") {
      req.connection->write_headers(ResponseStartLine{"HTTP/1.1", 204, ""}, HTTPHeaders{});
      req.connection->finish();
    } else if (p == "/user_agent") {
      respond(req, 200, req.headers.get("User-Agent", ""));
    } else if (p == "/host_echo") {
      respond(req, 200, req.headers.get("Host", ""));
    } else if (p == "/proxy_header") {
      respond(req, 200, req.headers.get("Proxy-Authorization", "-") + " " + req.uri);
    } else if (p == "/size") {
      respond(req, 200, std::string(std::stoul(arg(req, "n")), 'a'));
    } else if (p == "/header_size") {
      HTTPHeaders h{{"X-Filler", std::string(std::stoul(arg(req, "n")), 'a')}};
      respond(req, 200, "ok", h);
    } else if (p == "/gzip") {
      HTTPHeaders h{{"Content-Encoding", "gzip"}};
      std::string plain(std::stoul(arg(req, "n")), 'a');
      if (arg(req, "chunked") == "1") {
        req.connection->write_headers(ResponseStartLine{"HTTP/1.1", 200, ""}, h);
        req.connection->write(tornado::detail::gzip_compress(plain));
        req.connection->finish();
      } else {
        respond(req, 200, tornado::detail::gzip_compress(plain), h);
      }
    } else if (p == "/raw") {
      auto stream = static_cast<HTTP1Connection*>(req.connection)->detach();
      (void)stream->write(arg(req, "r"));
      spawn([](std::shared_ptr<IOStream> s) -> Task<> {
        co_await s->write(std::string());
        s->close();
      }(stream));
    } else {
      respond(req, 404, "not found");
    }
  }

  // Fetches with a client of its own (options of the test), raise_error false.
  HTTPResponse fetch_with(AsyncHTTPClient& client, const std::string& path,
                          HTTPRequest options = {}, bool raise_error = false) {
    options.url = path.starts_with("http") ? path : this->get_url(path);
    auto request = std::make_shared<HTTPRequest>(std::move(options));
    return run_sync([&client, request, raise_error]() -> Task<HTTPResponse> {
      return client.fetch(*request, raise_error);
    });
  }

  static int peer_port(HTTPServerRequest& req) {
    sockaddr_storage sa{};
    socklen_t len = sizeof sa;
    int fd = static_cast<HTTP1Connection*>(req.connection)->stream().fd();
    if (::getpeername(fd, reinterpret_cast<sockaddr*>(&sa), &len) != 0) return -1;
    return ntohs(reinterpret_cast<sockaddr_in*>(&sa)->sin_port);
  }

  std::deque<std::function<void()>> triggers_;
};

class SimpleHTTPClientTest : public SimpleClientFixture<AsyncHTTPTest> {};

// ---- queueing and limits -------------------------------------------------------------------

TEST_F(SimpleHTTPClientTest, ConnectionLimitQueuesInOrder) {
  AsyncHTTPClientOptions o;
  o.max_clients = 2;
  AsyncHTTPClient client(o);
  EXPECT_EQ(client.options().max_clients, 2u);
  std::vector<int> seen;
  std::vector<Future<HTTPResponse>> futures;
  for (int i = 0; i < 4; ++i) {
    HTTPRequest r;
    r.url = get_url("/trigger");
    futures.push_back(spawn(client.fetch(r)));
    futures.back().add_done_callback(
        [&seen, i](const Future<HTTPResponse>&) { seen.push_back(i); });
  }
  wait_for(*this, [&] { return triggers_.size() == 2; });
  EXPECT_EQ(client.queue_size(), 2u);
  EXPECT_EQ(client.active_count(), 2u);
  triggers_.front()();
  triggers_.pop_front();
  triggers_.front()();
  triggers_.pop_front();
  wait_for(*this, [&] { return triggers_.size() == 2 && seen.size() == 2; });
  std::sort(seen.begin(), seen.end());
  EXPECT_EQ(seen, (std::vector<int>{0, 1}));
  EXPECT_EQ(client.queue_size(), 0u);
  while (!triggers_.empty()) {
    triggers_.front()();
    triggers_.pop_front();
  }
  wait_for(*this, [&] { return seen.size() == 4; });
  for (auto& f : futures) EXPECT_EQ(f.result().body, "triggered");
  EXPECT_EQ(client.active_count(), 0u);
}

TEST_F(SimpleHTTPClientTest, RedirectsDoNotTakeExtraSlots) {
  AsyncHTTPClientOptions o;
  o.max_clients = 1;
  AsyncHTTPClient client(o);
  HTTPRequest r;
  r.max_redirects = 3;
  HTTPResponse resp = fetch_with(client, "/countdown/3", r, true);
  EXPECT_EQ(resp.body, "Zero");
}

TEST_F(SimpleHTTPClientTest, QueueTimeout) {
  AsyncHTTPClientOptions o;
  o.max_clients = 1;
  AsyncHTTPClient client(o);
  HTTPRequest first;
  first.url = get_url("/trigger");
  first.request_timeout = Duration(10);
  Future<HTTPResponse> fut1 = spawn(client.fetch(first));
  wait_for(*this, [&] { return triggers_.size() == 1; });
  HTTPRequest second;
  second.connect_timeout = Duration(0.1);
  HTTPClientError e = expect_client_error([&] { fetch_with(client, "/hello", second, true); });
  EXPECT_EQ(e.code(), 599);
  EXPECT_EQ(e.message(), "Timeout in request queue");
  EXPECT_EQ(client.queue_size(), 0u);
  triggers_.front()();
  HTTPResponse r1 = run_sync([fut1]() -> Task<HTTPResponse> { co_return co_await fut1; });
  EXPECT_EQ(r1.body, "triggered");
  // The slot was not leaked by the timed-out waiter.
  EXPECT_EQ(fetch_with(client, "/hello").code, 200);
}

// A resolver that never answers.
class HangingResolver : public Resolver {
 public:
  Task<std::vector<ResolvedAddress>> resolve(std::string, int, int) override {
    co_await never_;
    co_return std::vector<ResolvedAddress>{};
  }
  Future<void> never_;
};

TEST_F(SimpleHTTPClientTest, ConnectTimeout) {
  AsyncHTTPClientOptions o;
  auto resolver = std::make_shared<HangingResolver>();
  o.resolver = resolver;
  AsyncHTTPClient client(o);
  HTTPRequest r;
  r.connect_timeout = Duration(0.1);
  r.request_timeout = Duration(3600);
  HTTPClientError e = expect_client_error([&] { fetch_with(client, "/hello", r); });
  EXPECT_EQ(e.code(), 599);
  EXPECT_EQ(e.message(), "Timeout while connecting");
  // The connect timeout cancelled the lookup (with_timeout cancels the task it owns), and
  // with it the Future the lookup waited on: nothing is left pending.
  EXPECT_TRUE(resolver->never_.cancelled());
}

TEST_F(SimpleHTTPClientTest, RequestTimeout) {
  HTTPRequest r;
  r.request_timeout = Duration(0.1);
  HTTPClientError e = expect_client_error([&] { fetch("/trigger", r); });
  EXPECT_EQ(e.code(), 599);
  EXPECT_EQ(e.message(), "Timeout during request");
  triggers_.front()();  // the server answers a client that is gone
}

TEST_F(SimpleHTTPClientTest, ConnectionRefusedIs599WithTheSystemError) {
  auto [fd, port] = tornado::testing::bind_unused_port();
  ::close(fd);  // nothing listens there now
  HTTPClientError e =
      expect_client_error([&] { fetch("http://127.0.0.1:" + std::to_string(port) + "/"); });
  EXPECT_EQ(e.code(), 599);
  EXPECT_NE(e.message().find(std::strerror(ECONNREFUSED)), std::string::npos) << e.message();
  ASSERT_TRUE(e.cause());
  try {
    std::rethrow_exception(e.cause());
  } catch (const std::system_error& se) {
    EXPECT_EQ(se.code().value(), ECONNREFUSED);
  } catch (...) {
    ADD_FAILURE() << "cause is not a std::system_error";
  }
}

TEST_F(SimpleHTTPClientTest, MaxHeaderSize) {
  AsyncHTTPClientOptions o;
  o.max_header_size = 1024;
  AsyncHTTPClient client(o);
  EXPECT_EQ(fetch_with(client, "/header_size?n=100").body, "ok");
  ExpectLog log(gen_log(), "Malformed HTTP response");
  HTTPClientError e = expect_client_error([&] { fetch_with(client, "/header_size?n=1000"); });
  EXPECT_EQ(e.code(), 599);
}

TEST_F(SimpleHTTPClientTest, MaxBodySize) {
  AsyncHTTPClientOptions o;
  o.max_body_size = 64 * 1024;
  AsyncHTTPClient client(o);
  EXPECT_EQ(fetch_with(client, "/size?n=65536").body, std::string(65536, 'a'));
  ExpectLog log(gen_log(), "Content-Length too long");
  HTTPClientError e = expect_client_error([&] { fetch_with(client, "/size?n=102400"); });
  EXPECT_EQ(e.code(), 599);
  EXPECT_EQ(e.message(), "Content-Length too long");
}

TEST_F(SimpleHTTPClientTest, MaxBodySizeBoundsTheInflatedSize) {
  AsyncHTTPClientOptions o;
  o.max_body_size = 64 * 1024;
  AsyncHTTPClient client(o);
  // 60 KiB of 'a' compresses to a few hundred bytes: fine. 100 KiB inflated: refused,
  // although its compressed size is far below the limit.
  EXPECT_EQ(fetch_with(client, "/gzip?n=61440").body.size(), 61440u);
  for (const char* chunked : {"0", "1"}) {
    ExpectLog log(gen_log(), "decompression");
    HTTPClientError e = expect_client_error(
        [&] { fetch_with(client, std::string("/gzip?n=102400&chunked=") + chunked); });
    EXPECT_EQ(e.code(), 599);
  }
}

TEST_F(SimpleHTTPClientTest, MaxBufferSizeSmallerThanBody) {
  AsyncHTTPClientOptions o;
  o.max_body_size = 100 * 1024;
  o.max_buffer_size = 64 * 1024;
  AsyncHTTPClient client(o);
  HTTPResponse r = fetch_with(client, "/size?n=102400", {}, true);
  EXPECT_EQ(r.body, std::string(100 * 1024, 'a'));
}

// ---- framing ---------------------------------------------------------------------------------

TEST_F(SimpleHTTPClientTest, MultipleEqualContentLengthsAccepted) {
  auto raw = [&](const std::string& cl) {
    return fetch("/raw?r=" + q("HTTP/1.1 200 OK\r\nContent-Length: " + cl + "\r\n\r\nok"));
  };
  EXPECT_EQ(raw("2,2").body, "ok");
  EXPECT_EQ(raw("2, 2,2").body, "ok");
  ExpectLog log(gen_log(), "Malformed HTTP response");
  EXPECT_EQ(expect_client_error([&] { raw("2,4"); }).code(), 599);
  EXPECT_EQ(expect_client_error([&] { raw("2, 2,3"); }).code(), 599);
}

TEST_F(SimpleHTTPClientTest, ChunkedWithContentLengthRefused) {
  ExpectLog log(gen_log(), "both Transfer-Encoding and Content-Length");
  std::string raw =
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 11\r\n\r\n"
      "b\r\nHello world\r\n0\r\n\r\n";
  EXPECT_EQ(expect_client_error([&] { fetch("/raw?r=" + q(raw)); }).code(), 599);
}

TEST_F(SimpleHTTPClientTest, NoContentLengthReadsUntilClose) {
  HTTPResponse r = fetch("/raw?r=" + q("HTTP/1.1 200 OK\r\n\r\nhello"));
  EXPECT_EQ(r.code, 200);
  EXPECT_EQ(r.body, "hello");
  EXPECT_EQ(http_client().idle_connection_count(), 0u);  // that connection cannot be reused
}

TEST_F(SimpleHTTPClientTest, HeadRequest) {
  HTTPRequest r;
  r.method = "HEAD";
  HTTPResponse resp = fetch("/head", r);
  EXPECT_EQ(resp.code, 200);
  EXPECT_EQ(resp.headers.get("content-length", ""), "7");
  EXPECT_EQ(resp.body, "");
  EXPECT_EQ(fetch("/hello").body, "Hello world!");  // the connection is still in step
}

TEST_F(SimpleHTTPClientTest, OptionsRequest) {
  HTTPRequest r;
  r.method = "OPTIONS";
  HTTPResponse resp = fetch("/options", r);
  EXPECT_EQ(resp.code, 200);
  EXPECT_EQ(resp.headers.get("content-length", ""), "2");
  EXPECT_EQ(resp.headers.get("access-control-allow-origin", ""), "*");
  EXPECT_EQ(resp.body, "ok");
}

TEST_F(SimpleHTTPClientTest, NoContent) {
  HTTPResponse r = fetch("/no_content");
  EXPECT_EQ(r.code, 204);
  EXPECT_FALSE(r.headers.contains("Content-Length"));
  EXPECT_EQ(r.body, "");
}

TEST_F(SimpleHTTPClientTest, NoContentWithZeroLengthAndNoClose) {
  // A 204 has no body even without a length and with the connection left open.
  HTTPResponse r = fetch("/raw?r=" + q("HTTP/1.1 204 No content\r\nContent-Length: 0\r\n\r\n"));
  EXPECT_EQ(r.code, 204);
  EXPECT_EQ(r.body, "");
}

TEST_F(SimpleHTTPClientTest, NoContentWithBodyLengthRefused) {
  ExpectLog log(gen_log(), "Response with code 204 should not have body");
  std::string raw = "HTTP/1.1 204 No content\r\nContent-Length: 5\r\n\r\n";
  EXPECT_EQ(expect_client_error([&] { fetch("/raw?r=" + q(raw)); }).code(), 599);
}

TEST_F(SimpleHTTPClientTest, InterimResponseIsSkipped) {
  std::string raw = "HTTP/1.1 100 CONTINUE\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nA";
  EXPECT_EQ(fetch("/raw?r=" + q(raw)).body, "A");
}

// A server that sends interim responses without end: refused after 100 (Tornado reads
// them one by one too; without a cap the client grows without bound).
TEST_F(SimpleHTTPClientTest, EndlessInterimResponsesAre599) {
  std::string interims;
  for (int i = 0; i < 101; ++i) interims += "HTTP/1.1 100 Continue\r\n\r\n";
  std::string ok = interims.substr(0, 100 * 25) + "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nA";
  EXPECT_EQ(fetch("/raw?r=" + q(ok)).body, "A");
  ExpectLog log(gen_log(), "Malformed HTTP response");
  std::string endless = interims + "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nA";
  HTTPClientError e = expect_client_error([&] { fetch("/raw?r=" + q(endless)); });
  EXPECT_EQ(e.code(), 599);
  EXPECT_NE(e.message().find("More than 100 interim"), std::string::npos) << e.message();
}

TEST_F(SimpleHTTPClientTest, InterimResponseCapIsAnOption) {
  AsyncHTTPClientOptions o;
  o.max_interim_responses = 3;
  AsyncHTTPClient client(o);
  std::string four;
  for (int i = 0; i < 4; ++i) four += "HTTP/1.1 100 Continue\r\n\r\n";
  ExpectLog log(gen_log(), "Malformed HTTP response");
  HTTPClientError e = expect_client_error([&] {
    fetch_with(client, "/raw?r=" + q(four + "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nA"), {},
               /*raise_error=*/true);
  });
  EXPECT_EQ(e.code(), 599);
  EXPECT_NE(e.message().find("More than 3 interim"), std::string::npos) << e.message();
}

// A redirect to a Location that is no URL (a space in it) fails the fetch with 599, like
// any other bad response, instead of std::invalid_argument.
TEST_F(SimpleHTTPClientTest, RedirectToInvalidLocationIs599) {
  std::string raw = "HTTP/1.1 302 Found\r\nLocation: /a b\r\nContent-Length: 0\r\n\r\n";
  HTTPClientError e = expect_client_error([&] { fetch("/raw?r=" + q(raw)); });
  EXPECT_EQ(e.code(), 599);
  EXPECT_NE(e.message().find("Invalid redirect Location"), std::string::npos) << e.message();
}

// A gzip bomb read with a streaming_callback: the inflated body arrives in chunk_size
// pieces as it is inflated, with a loop turn between pieces (not inflated whole first).
TEST_F(SimpleHTTPClientTest, GzipBombStreamsInBoundedPiecesWithLoopTurns) {
  uint64_t ticks = 0;
  bool ticking = true;
  std::function<void()> tick = [&] {
    if (!ticking) return;
    ++ticks;
    IOLoop::current().add_callback(tick);
  };
  tick();
  std::vector<std::pair<std::size_t, uint64_t>> pieces;  // (size, ticks) per callback
  HTTPRequest r;
  r.decompress_response = true;
  r.streaming_callback = [&](std::string_view chunk) { pieces.emplace_back(chunk.size(), ticks); };
  HTTPResponse resp = fetch("/gzip?n=" + std::to_string(16 * 1024 * 1024), r);
  ticking = false;
  run_sync([]() -> Task<> { co_await moment{}; });  // let the ticker see it stopped
  EXPECT_EQ(resp.code, 200);
  std::size_t total = 0;
  for (std::size_t i = 0; i < pieces.size(); ++i) {
    EXPECT_LE(pieces[i].first, 64u * 1024);
    total += pieces[i].first;
    if (i > 0 && pieces[i].second == pieces[i - 1].second) {
      ADD_FAILURE() << "no loop turn before piece " << i;
      break;
    }
  }
  EXPECT_EQ(total, 16u * 1024 * 1024);
}

TEST_F(SimpleHTTPClientTest, HostHeader) {
  std::regex host_re("^127\\.0\\.0\\.1:[0-9]+$");
  EXPECT_TRUE(std::regex_match(fetch("/host_echo").body, host_re));
  std::string url = get_url("/host_echo");
  url.replace(0, 7, "http://me:secret@");
  EXPECT_TRUE(std::regex_match(fetch(url).body, host_re));
  HTTPRequest r;
  r.headers.set("Host", "example.com");
  EXPECT_EQ(fetch("/host_echo", r).body, "example.com");
}

TEST_F(SimpleHTTPClientTest, DefaultUserAgent) {
  EXPECT_EQ(fetch("/user_agent").body, "tornado-cpp/0.1.0");
  HTTPRequest r;
  r.headers.set("User-Agent", "Foo");
  EXPECT_EQ(fetch("/user_agent", r).body, "Foo");
  r.user_agent = "Bar";  // the option wins over a header
  EXPECT_EQ(fetch("/user_agent", r).body, "Bar");
}

// ---- 100-continue --------------------------------------------------------------------------

TEST_F(SimpleHTTPClientTest, Expect100Continue) {
  HTTPRequest r;
  r.method = "POST";
  r.body = "1234";
  r.expect_100_continue = true;
  HTTPResponse resp = fetch("/echo", r);
  EXPECT_EQ(resp.body, "1234|100-continue");
  EXPECT_EQ(fetch("/hello").body, "Hello world!");
}

TEST_F(SimpleHTTPClientTest, Expect100ContinueEarlyResponse) {
  // The server refuses before the body: the client must not send it, and must not reuse
  // the connection (the request was never completed).
  std::string received_after_head;
  bool done = false;
  RawServer server([&](std::shared_ptr<IOStream> s) -> Task<> {
    try {
      std::string head = co_await s->read_until("\r\n\r\n");
      EXPECT_NE(head.find("Expect: 100-continue"), std::string::npos);
      co_await s->write("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n");
      received_after_head = co_await s->read_until_close();
    } catch (const StreamClosedError&) {
    }
    done = true;
  });
  HTTPRequest r;
  r.method = "POST";
  r.body = "should not be sent";
  r.expect_100_continue = true;
  HTTPResponse resp = fetch(server.url("/"), r);
  EXPECT_EQ(resp.code, 403);
  wait_for(*this, [&] { return done; });  // the client closed the connection
  EXPECT_EQ(received_after_head, "");
  EXPECT_EQ(http_client().idle_connection_count(), 0u);
}

// ---- keep-alive pool -----------------------------------------------------------------------

TEST_F(SimpleHTTPClientTest, SequentialRequestsReuseOneConnection) {
  std::string first = fetch("/connection").body;
  HTTPResponse second = fetch("/connection");
  EXPECT_EQ(second.body, first);
  EXPECT_TRUE(second.reused_connection);
  EXPECT_EQ(second.time_info["connect"], 0);
  EXPECT_EQ(fetch("/connection").body, first);
  EXPECT_EQ(http_client().connections_opened(), 1u);
  EXPECT_EQ(http_client().idle_connection_count(), 1u);
  EXPECT_EQ(http_server().connection_count(), 1u);
}

TEST_F(SimpleHTTPClientTest, ConcurrentRequestsUseSeparateConnections) {
  run_sync([&]() -> Task<> {
    HTTPRequest a, b;
    a.url = b.url = get_url("/connection");
    auto [ra, rb] = co_await when_all(http_client().fetch(a), http_client().fetch(b));
    EXPECT_NE(ra.body, rb.body);
  });
  EXPECT_EQ(http_client().connections_opened(), 2u);
  EXPECT_EQ(http_client().idle_connection_count(), 2u);
}

TEST_F(SimpleHTTPClientTest, IdleBoundPerHost) {
  AsyncHTTPClientOptions o;
  o.max_idle_per_host = 1;
  AsyncHTTPClient client(o);
  run_sync([&]() -> Task<> {
    HTTPRequest a, b;
    a.url = b.url = get_url("/hello");
    co_await when_all(client.fetch(a), client.fetch(b));
  });
  EXPECT_EQ(client.connections_opened(), 2u);
  EXPECT_EQ(client.idle_connection_count(), 1u);
}

TEST_F(SimpleHTTPClientTest, IdleBoundOverall) {
  AsyncHTTPClientOptions o;
  o.max_idle_total = 1;
  AsyncHTTPClient client(o);
  fetch_with(client, "/hello");
  fetch_with(client, "http://localhost:" + std::to_string(get_http_port()) + "/hello");
  EXPECT_EQ(client.connections_opened(), 2u);
  EXPECT_EQ(client.idle_connection_count(), 1u);  // the older one was closed
  fetch_with(client, "http://localhost:" + std::to_string(get_http_port()) + "/hello");
  EXPECT_EQ(client.connections_opened(), 2u);  // the newer one (localhost) was kept
}

TEST_F(SimpleHTTPClientTest, IdleConnectionsExpire) {
  AsyncHTTPClientOptions o;
  o.idle_timeout = Duration(0.05);
  AsyncHTTPClient client(o);
  fetch_with(client, "/hello");
  EXPECT_EQ(client.idle_connection_count(), 1u);
  wait_for(*this, [&] { return client.idle_connection_count() == 0; });
  EXPECT_EQ(fetch_with(client, "/hello").code, 200);
  EXPECT_EQ(client.connections_opened(), 2u);
}

TEST_F(SimpleHTTPClientTest, KeepAliveOffSendsConnectionClose) {
  AsyncHTTPClientOptions o;
  o.keep_alive = false;
  AsyncHTTPClient client(o);
  EXPECT_NE(fetch_with(client, "/connection").body, fetch_with(client, "/connection").body);
  EXPECT_EQ(client.connections_opened(), 2u);
  EXPECT_EQ(client.idle_connection_count(), 0u);
}

class IdleClosingServerTest : public SimpleClientFixture<AsyncHTTPTest> {
 protected:
  HTTPServerOptions get_httpserver_options() override {
    HTTPServerOptions o;
    o.idle_connection_timeout = Duration(0.05);
    return o;
  }
};

TEST_F(IdleClosingServerTest, ServerClosingIdleConnectionDoesNotBreakNextFetch) {
  EXPECT_EQ(fetch("/hello").code, 200);
  EXPECT_EQ(http_client().idle_connection_count(), 1u);
  // The server drops the idle connection; the pool notices and forgets it.
  wait_for(*this, [&] { return http_client().idle_connection_count() == 0; });
  EXPECT_EQ(fetch("/hello").body, "Hello world!");
  EXPECT_EQ(http_client().connections_opened(), 2u);
}

class NoKeepAliveServerTest : public SimpleClientFixture<AsyncHTTPTest> {
 protected:
  HTTPServerOptions get_httpserver_options() override {
    HTTPServerOptions o;
    o.no_keep_alive = true;
    return o;
  }
};

TEST_F(NoKeepAliveServerTest, ConnectionCloseResponseIsNotPooled) {
  EXPECT_EQ(fetch("/hello").code, 200);
  EXPECT_EQ(fetch("/hello").code, 200);
  EXPECT_EQ(http_client().idle_connection_count(), 0u);
  EXPECT_EQ(http_client().connections_opened(), 2u);
}

// A server that answers the first request of a connection and silently closes it when the
// second arrives: the race of a keep-alive connection closed as it is reused.
Task<> answer_once_then_close(std::shared_ptr<IOStream> s, int* connections) {
  ++*connections;
  try {
    std::string head = co_await s->read_until("\r\n\r\n");
    auto cl = head.find("Content-Length: ");
    if (cl != std::string::npos) co_await s->read_bytes(std::stoul(head.substr(cl + 16)));
    co_await s->write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    co_await s->read_until("\r\n\r\n");
  } catch (const StreamClosedError&) {
  }
  s->close();
}

TEST_F(SimpleHTTPClientTest, ReusedConnectionClosedByServerIsRetriedForIdempotentMethods) {
  int connections = 0;
  RawServer server(
      [&](std::shared_ptr<IOStream> s) { return answer_once_then_close(s, &connections); });
  EXPECT_EQ(fetch(server.url("/a")).body, "ok");
  HTTPResponse again = fetch(server.url("/b"));  // reused, closed, retried on a new one
  EXPECT_EQ(again.body, "ok");
  EXPECT_FALSE(again.reused_connection);
  EXPECT_EQ(connections, 2);
}

TEST_F(SimpleHTTPClientTest, ReusedConnectionClosedByServerFailsPost) {
  int connections = 0;
  RawServer server(
      [&](std::shared_ptr<IOStream> s) { return answer_once_then_close(s, &connections); });
  HTTPRequest r;
  r.method = "POST";
  r.body = "x";
  EXPECT_EQ(fetch(server.url("/a"), r).body, "ok");
  HTTPClientError e = expect_client_error([&] { fetch(server.url("/b"), r); });
  EXPECT_EQ(e.code(), 599);
  EXPECT_EQ(e.message(), "Stream closed");
  EXPECT_EQ(connections, 1);
}

// ---- HTTP proxy -----------------------------------------------------------------------------

TEST_F(SimpleHTTPClientTest, HttpThroughProxyUsesAbsoluteForm) {
  TinyProxy proxy;
  HTTPRequest r;
  r.proxy_host = "127.0.0.1";
  r.proxy_port = proxy.port();
  HTTPResponse resp = fetch("/proxy_header?x=1", r);
  EXPECT_EQ(resp.code, 200);
  EXPECT_EQ(resp.body, "- /proxy_header?x=1");
  ASSERT_EQ(proxy.request_lines.size(), 1u);
  EXPECT_EQ(proxy.request_lines[0], "GET " + get_url("/proxy_header?x=1") + " HTTP/1.1");
  EXPECT_EQ(proxy.auths[0], "");
}

TEST_F(SimpleHTTPClientTest, ProxyAuthorization) {
  TinyProxy proxy;
  proxy.required_auth = "Basic " + httputil::encode_basic_auth("puser", "ppass");
  HTTPRequest r;
  r.proxy_host = "127.0.0.1";
  r.proxy_port = proxy.port();
  EXPECT_EQ(fetch("/hello", r).code, 407);
  r.proxy_username = "puser";
  r.proxy_password = "ppass";
  HTTPResponse ok = fetch("/hello", r);
  EXPECT_EQ(ok.code, 200);
  EXPECT_EQ(ok.body, "Hello world!");
  EXPECT_EQ(proxy.auths.back(), proxy.required_auth);
}

TEST_F(SimpleHTTPClientTest, ProxyRequiresPort) {
  HTTPRequest r;
  r.proxy_host = "127.0.0.1";
  EXPECT_THROW(fetch("/hello", r), std::invalid_argument);
}

// ---- TLS -------------------------------------------------------------------------------------

class SimpleHTTPSClientTest : public SimpleClientFixture<AsyncHTTPSTest> {};

TEST_F(SimpleHTTPSClientTest, ValidateCertFalseWorks) {
  HTTPRequest r;
  r.validate_cert = false;
  HTTPResponse resp = fetch("/hello", r);
  EXPECT_EQ(resp.code, 200);
  EXPECT_EQ(resp.body, "Hello world!");
  EXPECT_TRUE(resp.effective_url.starts_with("https://"));
}

TEST_F(SimpleHTTPSClientTest, UntrustedCertificateFailsClearly) {
  HTTPClientError e = expect_client_error([&] { fetch("/hello"); });
  EXPECT_EQ(e.code(), 599);
  EXPECT_NE(e.message().find("certificate verify failed"), std::string::npos) << e.message();
}

TEST_F(SimpleHTTPSClientTest, CaCertsMakesItPass) {
  HTTPRequest r;
  r.ca_certs = get_ssl_certfile();
  EXPECT_EQ(fetch("/hello", r).body, "Hello world!");
  EXPECT_EQ(fetch("https://localhost:" + std::to_string(get_http_port()) + "/hello", r).body,
            "Hello world!");
}

TEST_F(SimpleHTTPSClientTest, KeepAliveReuseOverTlsIsPerTlsSettings) {
  HTTPRequest trusting;
  trusting.ca_certs = get_ssl_certfile();
  HTTPRequest lax;
  lax.validate_cert = false;
  std::string first = fetch("/connection", trusting).body;
  EXPECT_EQ(fetch("/connection", trusting).body, first);
  EXPECT_EQ(http_client().connections_opened(), 1u);
  // Different TLS settings never share a connection.
  EXPECT_NE(fetch("/connection", lax).body, first);
  EXPECT_EQ(http_client().connections_opened(), 2u);
  EXPECT_EQ(fetch("/connection", trusting).body, first);
}

TEST_F(SimpleHTTPSClientTest, HttpsThroughProxyUsesConnect) {
  TinyProxy proxy;
  proxy.required_auth = "Basic " + httputil::encode_basic_auth("u", "p");
  HTTPRequest r;
  r.ca_certs = get_ssl_certfile();
  r.proxy_host = "127.0.0.1";
  r.proxy_port = proxy.port();
  r.proxy_username = "u";
  r.proxy_password = "p";
  HTTPResponse resp = fetch("/proxy_header", r);
  EXPECT_EQ(resp.code, 200);
  // Proxy credentials go to the proxy in CONNECT, never to the origin.
  EXPECT_EQ(resp.body, "- /proxy_header");
  ASSERT_EQ(proxy.request_lines.size(), 1u);
  EXPECT_EQ(proxy.request_lines[0],
            "CONNECT 127.0.0.1:" + std::to_string(get_http_port()) + " HTTP/1.1");
  // The tunnel is kept alive and reused.
  EXPECT_EQ(fetch("/hello", r).body, "Hello world!");
  EXPECT_EQ(proxy.request_lines.size(), 1u);
}

TEST_F(SimpleHTTPSClientTest, ProxyRefusingConnectIs599) {
  TinyProxy proxy;
  proxy.required_auth = "Basic " + httputil::encode_basic_auth("u", "p");
  HTTPRequest r;
  r.validate_cert = false;
  r.proxy_host = "127.0.0.1";
  r.proxy_port = proxy.port();
  HTTPClientError e = expect_client_error([&] { fetch("/hello", r); });
  EXPECT_EQ(e.code(), 599);
  EXPECT_NE(e.message().find("407"), std::string::npos) << e.message();
}

class MutualTLSTest : public SimpleClientFixture<AsyncHTTPSTest> {
 protected:
  std::shared_ptr<SSLContext> get_ssl_options() override {
    SSLServerOptions o;
    o.certfile = get_ssl_certfile();
    o.keyfile = tornado::testing::detail::TestCertificate::get().keyfile();
    o.ca_certs = get_ssl_certfile();  // the self-signed certificate also signs clients
    o.require_client_cert = true;
    return SSLContext::server(o);
  }
};

TEST_F(MutualTLSTest, ClientCertificateIsPresented) {
  HTTPRequest r;
  r.ca_certs = get_ssl_certfile();
  {
    ExpectLog log(gen_log(), "SSL Error", /*required=*/false);
    EXPECT_EQ(expect_client_error([&] { fetch("/hello", r); }).code(), 599);
  }
  r.client_cert = get_ssl_certfile();
  r.client_key = tornado::testing::detail::TestCertificate::get().keyfile();
  EXPECT_EQ(fetch("/hello", r).body, "Hello world!");
}

}  // namespace

}  // namespace simple_httpclient_test
