// HTTPServer and HTTP1Connection over real sockets: the behaviours of Tornado's
// httpserver_test / http1connection_test, the bad-input table of issue 3 byte for byte,
// and the llhttp-derived corpus against a live server.
#include "tornado/httpserver.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "http_test_util.h"
#include "internal/gzip.h"
#include "iostream_test_util.h"
#include "tornado/iostream.h"
#include "tornado/testing.h"

extern char** environ;

namespace httpserver_test {

using namespace tornado;
using httputil::HTTPHeaders;
using httputil::HTTPServerRequest;
using httputil::ResponseStartLine;
using tornado::testing::AsyncTest;
using tornado::testing::ExpectLog;

using tornado::test::respond;
using tornado::test::status_line;

namespace {

int big_responses = 0;  // how many /big requests were answered

// The application every test talks to.
void app(HTTPServerRequest& req) {
  if (req.path == "/big") {
    ++big_responses;
    respond(req, 200, std::string(32 * 1024, 'b'));
  } else if (req.path == "/hostpath") {
    respond(req, 200, req.host + " " + req.path + " " + req.query);
  } else if (req.path == "/fields") {
    // What the request made of its target and Host field.
    std::string out = req.host + "|" + req.host_name + "|" + req.path + "|" + req.query + "|";
    for (const auto& [k, vs] : req.query_arguments) {
      for (const auto& v : vs) out += k + "=" + v + ";";
    }
    respond(req, 200, out);
  } else if (req.path == "/inject") {
    HTTPHeaders evil;
    evil.add_unchecked("X-A", "1\r\nInjected: yes");
    EXPECT_THROW(req.connection->write_headers(ResponseStartLine{"HTTP/1.1", 200, ""}, evil),
                 httputil::HTTPOutputError);
    HTTPHeaders bad_name;
    bad_name.add_unchecked("X-B\r\nInjected", "yes");
    EXPECT_THROW(req.connection->write_headers(ResponseStartLine{"HTTP/1.1", 200, ""}, bad_name),
                 httputil::HTTPOutputError);
    // A framing field's name with a CR where its '-' is (the head's scan for framing fields
    // folds case a word at a time, which folds CR onto '-'): refused all the same.
    HTTPHeaders cr_length;
    cr_length.add_unchecked("Content\rLength", "7");
    EXPECT_THROW(req.connection->write_headers(ResponseStartLine{"HTTP/1.1", 200, ""}, cr_length),
                 httputil::HTTPOutputError);
    // A good field before the bad one, and a bad length after good fields: the head is
    // assembled where it is sent, and a refusal takes all of it back.
    HTTPHeaders good_then_bad;
    good_then_bad.add("X-Good", "1");
    good_then_bad.add_unchecked("X-Bad", "a\nb");
    EXPECT_THROW(
        req.connection->write_headers(ResponseStartLine{"HTTP/1.1", 404, ""}, good_then_bad, "x"),
        httputil::HTTPOutputError);
    HTTPHeaders bad_length{{"X-Good", "2"}, {"Content-Length", "12abc"}};
    EXPECT_THROW(
        req.connection->write_headers(ResponseStartLine{"HTTP/1.1", 200, ""}, bad_length, "x"),
        httputil::HTTPOutputError);
    respond(req, 200, "refused");
  } else if (req.path == "/huge_head") {
    // A head far past the write queue's coalescing size (16 KiB) and past 64 KiB: ten
    // 8000-byte fields and one of 30000, then a 3-byte body.
    HTTPHeaders headers;
    for (int i = 0; i < 10; ++i) {
      headers.add("X-Big-" + std::to_string(i), std::string(8000, static_cast<char>('a' + i)));
    }
    headers.add("X-Huge", std::string(30000, 'H'));
    headers.add("Content-Length", "3");
    req.connection->write_headers(ResponseStartLine{"HTTP/1.1", 200, "OK"}, headers, "end");
    req.connection->finish();
  } else if (req.path == "/mixed_case_length") {
    // Framing fields are found whatever their case: a length, so no chunking, keep-alive.
    HTTPHeaders headers;
    headers.add_unchecked("cONTENT-lENGTH", "4");
    headers.add_unchecked("dATE", "Sun, 06 Nov 1994 08:49:37 GMT");
    req.connection->write_headers(ResponseStartLine{"HTTP/1.1", 200, "OK"}, headers, "abcd");
    req.connection->finish();
  } else if (req.path == "/near_framing_names") {
    // Names one byte away from framing fields frame nothing: the body goes chunked.
    HTTPHeaders headers;
    headers.add_unchecked("Transfer_Encoding", "x");
    headers.add_unchecked("Content_Length", "4");
    headers.add_unchecked("Datf", "d");
    req.connection->write_headers(ResponseStartLine{"HTTP/1.1", 200, "OK"}, headers, "abcd");
    req.connection->finish();
  } else if (req.path == "/echo") {
    respond(req, 200, req.method + " " + req.body);
  } else if (req.path == "/chunked") {
    req.connection->write_headers(ResponseStartLine{"HTTP/1.1", 200, "OK"}, HTTPHeaders{});
    req.connection->write("ab");
    req.connection->write("");  // an empty write sends no chunk
    req.connection->write("cde");
    req.connection->finish();
  } else if (req.path == "/remote") {
    respond(req, 200, req.remote_ip + " " + req.protocol);
  } else if (req.path == "/args") {
    std::string out;
    for (const auto& [k, vs] : req.arguments) {
      for (const auto& v : vs) out += k + "=" + v + ";";
    }
    respond(req, 200, out);
  } else if (req.path == "/delay") {
    auto* conn = req.connection;
    IOLoop::current().call_later(20ms, [conn] {
      std::string body = "late";
      conn->write_headers(ResponseStartLine{"HTTP/1.1", 200, "OK"},
                          HTTPHeaders{{"Content-Length", "4"}}, body);
      conn->finish();
    });
  } else if (req.path == "/detach") {
    // The protocol switch: the stream is taken and used on later iterations.
    auto stream = static_cast<HTTP1Connection*>(req.connection)->detach();
    (void)stream->write(std::string_view("HTTP/1.1 101 Switching Protocols\r\n\r\n"));
    IOLoop::current().call_later(20ms, [stream] {
      if (stream->closed()) return;
      (void)stream->write(std::string_view("still mine"));
      stream->close();
    });
  } else if (req.path == "/nocontent") {
    req.connection->write_headers(ResponseStartLine{"HTTP/1.1", 204, ""}, HTTPHeaders{});
    req.connection->finish();
  } else if (req.path == "/too_high") {
    req.connection->write_headers(ResponseStartLine{"HTTP/1.1", 200, ""},
                                  HTTPHeaders{{"Content-Length", "10"}}, "abc");
    EXPECT_THROW(req.connection->finish(), httputil::HTTPOutputError);
  } else if (req.path == "/too_low") {
    req.connection->write_headers(ResponseStartLine{"HTTP/1.1", 200, ""},
                                  HTTPHeaders{{"Content-Length", "2"}});
    EXPECT_THROW(req.connection->write("abc"), httputil::HTTPOutputError);
  } else {
    respond(req, 200, "Hello world");
  }
}

// Runs a real peer (python3, curl) to its end while the loop serves it: its exit status,
// or -1 if it could not start, died of a signal or ran past 20 s (then it is killed).
Task<int> run_peer(std::vector<std::string> argv) {
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  pid_t pid;
  if (posix_spawn(&pid, args[0], nullptr, nullptr, args.data(), environ) != 0) co_return -1;
  int status = 0;
  for (int i = 0; i < 2000; ++i) {
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      co_return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }
    co_await sleep(10ms);
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, &status, 0);
  co_return -1;
}

// python3's http.client on one keep-alive connection: the huge head whole, then /inject
// (whose refused heads must leave no trace), then an ordinary answer.
constexpr const char* kHugeHeadClient = R"(
import http.client, ssl, sys
port, scheme = int(sys.argv[1]), sys.argv[2]
if scheme == "https":
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    c = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=10)
else:
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
c.request("GET", "/huge_head")
r = c.getresponse()
body = r.read()
assert r.status == 200, r.status
for i in range(10):
    assert r.getheader("X-Big-%d" % i) == chr(97 + i) * 8000, i
assert r.getheader("X-Huge") == "H" * 30000
assert body == b"end", body
c.request("GET", "/inject")
r = c.getresponse()
body = r.read()
assert (r.status, body) == (200, b"refused"), (r.status, body)
assert r.getheader("X-Good") is None and r.getheader("Injected") is None, r.getheaders()
c.request("GET", "/")
r = c.getresponse()
assert r.read() == b"Hello world"
)";

class HTTPServerTest : public AsyncTest {
 protected:
  void start(HTTPServerOptions options = {}) {
    auto [fd, port] = tornado::testing::bind_unused_port();
    port_ = port;
    server_ = std::make_unique<HTTPServer>(app, std::move(options));
    server_->add_socket(fd);
  }
  void TearDown() override {
    server_.reset();
    AsyncTest::TearDown();
  }

  Task<std::shared_ptr<IOStream>> connect() { return test::connect_loopback(port_); }

  // Sends raw bytes, half-closes, and returns everything until the server closes.
  std::string exchange(const std::string& bytes, bool half_close = true) {
    return run_sync([&]() -> Task<std::string> {
      auto s = co_await connect();
      co_await s->write(bytes);
      if (half_close) ::shutdown(s->fd(), SHUT_WR);
      co_return co_await with_timeout(3s, s->read_until_close());
    });
  }

  // Reads one response with Content-Length or chunked framing from `s`.
  static Task<std::pair<std::string, std::string>> read_response(std::shared_ptr<IOStream> s) {
    std::string head = co_await s->read_until("\r\n\r\n");
    std::string body;
    auto cl = head.find("Content-Length: ");
    if (cl != std::string::npos) {
      std::size_t n = std::stoul(head.substr(cl + 16));
      body = co_await s->read_bytes(n);
    } else if (head.find("Transfer-Encoding: chunked") != std::string::npos) {
      for (;;) {
        std::string size_line = co_await s->read_until("\r\n");
        std::size_t n = std::stoul(size_line, nullptr, 16);
        std::string data = co_await s->read_bytes(n + 2);
        if (n == 0) break;
        body += data.substr(0, n);
      }
    }
    co_return std::make_pair(head, body);
  }

  int port_ = 0;
  std::unique_ptr<HTTPServer> server_;
};

}  // namespace

TEST_F(HTTPServerTest, HelloWorld) {
  start();
  std::string r = exchange("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(status_line(r), "HTTP/1.1 200 OK");
  EXPECT_NE(r.find("\r\nDate: "), std::string::npos);
  EXPECT_EQ(r.substr(r.size() - 11), "Hello world");
}

// Before the ws branch the serve loop closed a detached stream when it ended, so the new
// owner's later writes never went out.
TEST_F(HTTPServerTest, DetachedStreamStaysOpenForItsNewOwner) {
  start();
  std::string r = exchange("GET /detach HTTP/1.1\r\nHost: x\r\n\r\n", /*half_close=*/false);
  EXPECT_EQ(r, "HTTP/1.1 101 Switching Protocols\r\n\r\nstill mine");
}

TEST_F(HTTPServerTest, MalformedFirstLineIs400AndClose) {
  start();
  ExpectLog log(gen_log(), "Malformed HTTP message");
  std::string r = exchange("asdf\r\n\r\n");
  EXPECT_EQ(status_line(r), "HTTP/1.1 400 Bad Request");
  EXPECT_NE(r.find("Connection: close"), std::string::npos);
}

TEST_F(HTTPServerTest, BadInputTable) {
  start();
  ExpectLog log(gen_log(), "Malformed HTTP message");
  struct Case {
    const char* name;
    std::string request;
    const char* status;
  };
  std::vector<Case> cases = {
      {"header without colon", "GET / HTTP/1.1\r\nHost: x\r\nasdf\r\n\r\n", "400"},
      {"host with space", "GET / HTTP/1.1\r\nHost: foo bar\r\n\r\n", "400"},
      {"missing host", "GET / HTTP/1.1\r\n\r\n", "400"},
      {"method not a token", "FOO,BAR / HTTP/1.1\r\nHost: x\r\n\r\n", "400"},
      {"CL with TE",
       "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"
       "0\r\n\r\n",
       "400"},
      {"two CL", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
       "400"},
      {"CL not numeric", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: foo\r\n\r\n", "400"},
      {"CL signed", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +10\r\n\r\n", "400"},
      {"CL negative", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", "400"},
      {"CL underscore", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1_0\r\n\r\n", "400"},
      {"bad chunk size", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1_a\r\n",
       "400"},
      {"unknown coding", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
       "400"},
      {"duplicate TE",
       "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: "
       "chunked\r\n\r\n0\r\n\r\n",
       "400"},
      {"HTTP/2.0", "GET / HTTP/2.0\r\nHost: x\r\n\r\n", "505"},
  };
  for (const auto& c : cases) {
    std::string r = exchange(c.request);
    EXPECT_EQ(status_line(r).substr(9, 3), c.status) << c.name << ": " << r;
    EXPECT_EQ(r.find("Hello"), std::string::npos) << c.name;
  }
}

TEST_F(HTTPServerTest, UnknownMethodReachesApplication) {
  start();
  EXPECT_EQ(status_line(exchange("FOO /echo HTTP/1.1\r\nHost: x\r\n\r\n")), "HTTP/1.1 200 OK");
}

TEST_F(HTTPServerTest, HeadersTooLargeIs431) {
  start({.max_header_size = 1024});
  ExpectLog log(gen_log(), "Malformed HTTP message");
  std::string ok =
      exchange("GET / HTTP/1.1\r\nHost: x\r\nX: " + std::string(100, 'a') + "\r\n\r\n");
  EXPECT_EQ(status_line(ok), "HTTP/1.1 200 OK");
  std::string big =
      exchange("GET / HTTP/1.1\r\nHost: x\r\nX: " + std::string(1000, 'a') + "\r\n\r\n");
  EXPECT_EQ(status_line(big), "HTTP/1.1 431 Request Header Fields Too Large");
}

TEST_F(HTTPServerTest, BodyTooLargeIs413ByLengthAndChunked) {
  start({.max_body_size = 4096});
  ExpectLog log(gen_log(), "Malformed HTTP message");
  std::string ok = exchange("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4096\r\n\r\n" +
                            std::string(4096, 'a'));
  EXPECT_EQ(status_line(ok), "HTTP/1.1 200 OK");
  std::string by_length = exchange(
      "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10240\r\n\r\n" + std::string(10240, 'a'));
  EXPECT_EQ(status_line(by_length).substr(9, 3), "413");
  std::string chunked = "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 10; ++i) chunked += "400\r\n" + std::string(1024, 'a') + "\r\n";
  chunked += "0\r\n\r\n";
  EXPECT_EQ(status_line(exchange(chunked)).substr(9, 3), "413");
}

// 100 KiB of trailer fields after the last chunk, against a 64 KiB header limit: 431.
TEST_F(HTTPServerTest, TrailerSectionPastHeaderLimitIs431) {
  start();
  ExpectLog log(gen_log(), "Trailer section too large");
  std::string request =
      "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n";
  for (int i = 0; i < 2000; ++i) request += "X-T: " + std::string(45, 't') + "\r\n";
  request += "\r\n";
  EXPECT_EQ(status_line(exchange(request)), "HTTP/1.1 431 Request Header Fields Too Large");
  // A small trailer section is still accepted.
  std::string small =
      "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n"
      "X-T: 1\r\n\r\n";
  EXPECT_EQ(status_line(exchange(small)), "HTTP/1.1 200 OK");
}

TEST_F(HTTPServerTest, ChunkedRequestBodyCaseInsensitive) {
  start();
  std::string r = exchange(
      "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: Chunked\r\n\r\n"
      "4\r\nfoo=\r\n3\r\nbar\r\n0\r\n\r\n");
  EXPECT_EQ(status_line(r), "HTTP/1.1 200 OK");
  EXPECT_EQ(r.substr(r.size() - 12), "POST foo=bar");
}

TEST_F(HTTPServerTest, FormBodyArguments) {
  start();
  std::string r = exchange(
      "POST /args?q=1 HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
      "Content-Length: 7\r\n\r\nfoo=bar");
  EXPECT_NE(r.find("foo=bar;q=1;"), std::string::npos) << r;
}

TEST_F(HTTPServerTest, ChunkedResponseAndEmptyWritesSkipped) {
  start();
  std::string r = exchange("GET /chunked HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_NE(r.find("Transfer-Encoding: chunked"), std::string::npos);
  EXPECT_EQ(r.substr(r.find("\r\n\r\n") + 4), "2\r\nab\r\n3\r\ncde\r\n0\r\n\r\n");
}

TEST_F(HTTPServerTest, Http10GetsNoChunkingAndCloses) {
  start();
  std::string r = exchange("GET /chunked HTTP/1.0\r\n\r\n", /*half_close=*/false);
  EXPECT_EQ(r.find("Transfer-Encoding"), std::string::npos);
  // The status line says HTTP/1.1, so the close is announced (RFC 9112 9.3; Tornado omits it).
  EXPECT_NE(r.find("\r\nConnection: close\r\n"), std::string::npos);
  EXPECT_EQ(r.substr(r.find("\r\n\r\n") + 4), "abcde");
}

TEST_F(HTTPServerTest, NoContentHasNoFraming) {
  start();
  std::string r = exchange("GET /nocontent HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(status_line(r), "HTTP/1.1 204 No Content");
  EXPECT_EQ(r.find("Content-Length"), std::string::npos);
  EXPECT_EQ(r.find("Transfer-Encoding"), std::string::npos);
}

TEST_F(HTTPServerTest, HeadHasHeadersButNoBody) {
  start();
  std::string r = exchange("HEAD / HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_NE(r.find("Content-Length: 11"), std::string::npos);
  EXPECT_EQ(r.substr(r.size() - 4), "\r\n\r\n");
}

TEST_F(HTTPServerTest, KeepAliveTwoRequestsThenClose) {
  start();
  run_sync([&]() -> Task<> {
    auto s = co_await connect();
    co_await s->write("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    auto [h1, b1] = co_await read_response(s);
    EXPECT_EQ(b1, "Hello world");
    co_await s->write("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    auto [h2, b2] = co_await read_response(s);
    EXPECT_NE(h2.find("Connection: close"), std::string::npos);
    EXPECT_EQ(co_await s->read_until_close(), "");
  });
}

TEST_F(HTTPServerTest, Http10KeepAlive) {
  start();
  run_sync([&]() -> Task<> {
    auto s = co_await connect();
    co_await s->write("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    auto [h1, b1] = co_await read_response(s);
    EXPECT_NE(h1.find("Connection: Keep-Alive"), std::string::npos);
    // An extra CRLF between requests is tolerated (RFC 9112 2.2).
    co_await s->write("\r\nGET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    auto [h2, b2] = co_await read_response(s);
    EXPECT_NE(h2.find("Connection: Keep-Alive"), std::string::npos);
  });
}

// An HTTP/1.0 keep-alive request whose answer has no Content-Length (so no framing but
// the close): the server closes instead of promising keep-alive and leaving the client
// waiting for the idle timeout.
TEST_F(HTTPServerTest, Http10KeepAliveAnswerWithoutLengthCloses) {
  start();
  std::string r = exchange("GET /chunked HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
                           /*half_close=*/false);
  EXPECT_EQ(status_line(r), "HTTP/1.1 200 OK");
  EXPECT_NE(r.find("Connection: close\r\n"), std::string::npos) << r;
  EXPECT_EQ(r.find("Keep-Alive"), std::string::npos) << r;
  EXPECT_EQ(r.substr(r.find("\r\n\r\n") + 4), "abcde");
}

// RFC 9112 3.2.2: an absolute-form target names the host (the Host field is ignored) and
// its path is the request's path.
TEST_F(HTTPServerTest, AbsoluteFormTargetGivesHostAndPath) {
  start();
  std::string r =
      exchange("GET http://Example.com:8080/hostpath?a=1 HTTP/1.1\r\nHost: other\r\n\r\n");
  EXPECT_EQ(r.substr(r.find("\r\n\r\n") + 4), "Example.com:8080 /hostpath a=1");
  r = exchange("GET HTTPS://example.com HTTP/1.1\r\nHost: other\r\n\r\n");
  EXPECT_EQ(r.substr(r.find("\r\n\r\n") + 4), "Hello world");  // path "/"
  ExpectLog log(gen_log(), "Malformed HTTP message");
  r = exchange("GET http://a\"b/hostpath HTTP/1.1\r\nHost: other\r\n\r\n");
  EXPECT_EQ(status_line(r), "HTTP/1.1 400 Bad Request");
}

// What a request makes of its target and Host field through the server's connection (which
// hands it the Host field found while checking the head): Tornado's host (an absolute-form
// target's authority, else Host, else 127.0.0.1), host_name (no port, lower case), path,
// query and query_arguments; the Host field found whatever its spelling and position.
TEST_F(HTTPServerTest, RequestHostPathAndQueryFromTargetAndHostField) {
  start();
  auto body = [&](const std::string& request) {
    std::string r = exchange(request);
    return r.substr(r.find("\r\n\r\n") + 4);
  };
  EXPECT_EQ(body("GET /fields HTTP/1.1\r\nHost: Example.COM:8080\r\n\r\n"),
            "Example.COM:8080|example.com|/fields||");
  EXPECT_EQ(body("GET /fields?a=1&b=x+y&a=2 HTTP/1.1\r\nhost: localhost\r\n\r\n"),
            "localhost|localhost|/fields|a=1&b=x+y&a=2|a=1;a=2;b=x y;");
  EXPECT_EQ(body("GET /fields? HTTP/1.1\r\nHOST: [::1]:8888\r\n\r\n"), "[::1]:8888|::1|/fields||");
  EXPECT_EQ(body("GET /fields HTTP/1.1\r\nX-A: 1\r\nHost: [::1]\r\nX-B: 2\r\n\r\n"),
            "[::1]|::1|/fields||");
  EXPECT_EQ(body("GET /fields HTTP/1.1\r\nHost: 127.0.0.1:80\r\n\r\n"),
            "127.0.0.1:80|127.0.0.1|/fields||");
  // HTTP/1.0 may leave Host out or empty: the host is then 127.0.0.1.
  EXPECT_EQ(body("GET /fields?x=&y=2 HTTP/1.0\r\n\r\n"),
            "127.0.0.1|127.0.0.1|/fields|x=&y=2|x=;y=2;");
  EXPECT_EQ(body("GET /fields HTTP/1.0\r\nHost: \r\n\r\n"), "127.0.0.1|127.0.0.1|/fields||");
  // An absolute-form target's authority is the host, whatever the Host field says.
  EXPECT_EQ(body("GET http://Target.Example:81/fields?q=1 HTTP/1.1\r\nHost: other\r\n\r\n"),
            "Target.Example:81|target.example|/fields|q=1|q=1;");
}

// Fields added through add_unchecked are checked when written: no CR/LF reaches the wire.
TEST_F(HTTPServerTest, UncheckedHeaderWithCrLfRefusedAtWriteTime) {
  start();
  std::string r = exchange("GET /inject HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(status_line(r), "HTTP/1.1 200 OK");
  EXPECT_EQ(r.find("Injected"), std::string::npos) << r;
  EXPECT_EQ(r.substr(r.find("\r\n\r\n") + 4), "refused");
  EXPECT_EQ(r.find("X-Good"), std::string::npos) << r;
  // Behind a pipelined response still queued: the refused heads leave it whole and add
  // nothing after it.
  r = exchange(
      "GET /hostpath HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET /inject HTTP/1.1\r\nHost: x\r\n\r\n");
  const std::size_t second = r.find("HTTP/1.1 200 OK", 1);
  ASSERT_NE(second, std::string::npos) << r;
  EXPECT_EQ(r.substr(r.find("\r\n\r\n") + 4, second - r.find("\r\n\r\n") - 4), "x /hostpath ");
  EXPECT_EQ(r.substr(r.find("\r\n\r\n", second) + 4), "refused");
  EXPECT_EQ(r.find("X-Good"), std::string::npos) << r;
  EXPECT_EQ(r.find("404"), std::string::npos) << r;
}

// The response's framing fields are recognised in any case: a Content-Length and a Date
// spelled oddly are the length (no chunking, the connection kept) and the date (no second);
// names one byte away from them (Transfer_Encoding, Content_Length, Datf) are not.
TEST_F(HTTPServerTest, ResponseFramingFieldsFoundInAnyCase) {
  start();
  std::string r = exchange(
      "GET /mixed_case_length HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET /mixed_case_length HTTP/1.1\r\nHost: x\r\n\r\n");
  const std::string one =
      "HTTP/1.1 200 OK\r\ncONTENT-lENGTH: 4\r\ndATE: Sun, 06 Nov 1994 08:49:37 GMT\r\n\r\nabcd";
  EXPECT_EQ(r, one + one);
  r = exchange("GET /near_framing_names HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_NE(r.find("\r\nTransfer_Encoding: x\r\nContent_Length: 4\r\nDatf: d\r\n"
                   "Transfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n0\r\n\r\n"),
            std::string::npos)
      << r;
  EXPECT_NE(r.find("\r\nDate: "), std::string::npos) << r;
}

TEST_F(HTTPServerTest, PipelinedRequestsAnsweredInOrder) {
  start();
  run_sync([&]() -> Task<> {
    auto s = co_await connect();
    co_await s->write(
        "GET /delay HTTP/1.1\r\nHost: x\r\n\r\n"
        "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
        "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    auto [h1, b1] = co_await read_response(s);
    auto [h2, b2] = co_await read_response(s);
    auto [h3, b3] = co_await read_response(s);
    EXPECT_EQ(b1, "late");
    EXPECT_EQ(b2, "POST abc");
    EXPECT_EQ(b3, "Hello world");
  });
}

// hostile16: a response head of 110 KB (past the write queue's 16 KiB coalescing size and
// 64 KiB), assembled where it is sent, reaches real clients whole, over TCP and TLS: python3's
// http.client on a keep-alive connection (followed by refused heads and another answer),
// and curl.
TEST_F(HTTPServerTest, HugeResponseHeadReachesRealClientsWholeOverTcpAndTls) {
  for (const bool tls : {false, true}) {
    HTTPServerOptions options;
    if (tls) {
      const auto& cert = test::TestCert::get();
      options.ssl_options = SSLContext::server(cert.cert, cert.key);
    }
    start(std::move(options));
    const std::string scheme = tls ? "https" : "http";
    const std::string port = std::to_string(port_);
    // One file per process: two runs of this binary at once must not share it.
    const std::string headers_file = ::testing::TempDir() + "httpserver_test_huge_head." +
                                     std::to_string(::getpid()) + ".txt";
    run_sync(
        [&]() -> Task<> {
          // (The argument lists are built apart: g++ 12 and braced temporaries in co_await.)
          std::vector<std::string> python{"/usr/bin/python3", "-c", kHugeHeadClient, port,
                                          scheme};
          EXPECT_EQ(co_await run_peer(std::move(python)), 0) << scheme;
          std::vector<std::string> curl{"/usr/bin/curl", "-sSfk", "--max-time", "10",
                                        "-o", "/dev/null", "-D", headers_file,
                                        scheme + "://127.0.0.1:" + port + "/huge_head"};
          EXPECT_EQ(co_await run_peer(std::move(curl)), 0) << scheme;
        },
        30s);
    std::ifstream in(headers_file);
    const std::string head((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_NE(head.find("\r\nX-Huge: " + std::string(30000, 'H') + "\r\n"), std::string::npos)
        << scheme;
    EXPECT_NE(head.find("\r\nX-Big-9: " + std::string(8000, 'j') + "\r\n"), std::string::npos)
        << scheme;
    std::remove(headers_file.c_str());
    server_.reset();
  }
}

// hostile16: the huge head behind a small pipelined answer still queued (the room goes on a
// chunk of its own after the small one) and before another: every byte in order.
TEST_F(HTTPServerTest, HugeHeadBetweenPipelinedAnswersKeepsTheirBytesInOrder) {
  start();
  const std::string r = exchange(
      "GET /hostpath HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET /huge_head HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET /hostpath?z HTTP/1.1\r\nHost: x\r\n\r\n");
  const std::size_t first = r.find("x /hostpath HTTP/1.1");
  ASSERT_NE(first, std::string::npos) << r.substr(0, 200);
  const std::size_t huge = r.find("HTTP/1.1 200 OK", first);
  ASSERT_NE(huge, std::string::npos);
  const std::size_t body = r.find("\r\n\r\n", huge);
  ASSERT_NE(body, std::string::npos);
  const std::string head = r.substr(huge, body - huge);
  for (int i = 0; i < 10; ++i) {
    EXPECT_NE(head.find("X-Big-" + std::to_string(i) + ": " +
                        std::string(8000, static_cast<char>('a' + i)) + "\r\n"),
              std::string::npos)
        << i;
  }
  EXPECT_NE(head.find("X-Huge: " + std::string(30000, 'H')), std::string::npos);
  EXPECT_EQ(r.substr(body + 4, 3), "end");
  EXPECT_TRUE(r.ends_with("x /hostpath z")) << r.substr(r.size() - 100);
}

// A client that pipelines requests and never reads the answers: the server stops reading
// once the unsent answers pass max_unsent_output, instead of answering every request into
// memory; another client is served meanwhile.
TEST_F(HTTPServerTest, PipeliningWithoutReadingIsBoundedByUnsentOutput) {
  start();
  big_responses = 0;
  run_sync([&]() -> Task<> {
    // A small receive window: the kernel holds few answers for us.
    auto hostile = co_await test::connect_loopback(port_, /*receive_buffer=*/4096);
    std::string requests;
    for (int i = 0; i < 1000; ++i) requests += "GET /big HTTP/1.1\r\nHost: x\r\n\r\n";
    (void)hostile->write(requests);  // never read; 1000 answers would be 32 MiB
    co_await sleep(500ms);
    // Bounded by the kernel's socket buffers plus max_unsent_output (64 KiB = 2 answers).
    EXPECT_LT(big_responses, 200) << "answers queued for a client that does not read";
    EXPECT_GT(big_responses, 0);
    // Another connection is not disturbed.
    auto other = co_await connect();
    co_await other->write("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    auto [h, b] = co_await with_timeout(2s, read_response(other));
    EXPECT_EQ(b, "Hello world");
    hostile->close();
  });
}

TEST_F(HTTPServerTest, PipelinedClientClosingEarlyIsSafe) {
  start();
  run_sync([&]() -> Task<> {
    auto s = co_await connect();
    co_await s->write(
        "GET /delay HTTP/1.1\r\nHost: x\r\n\r\nGET /delay HTTP/1.1\r\nHost: x\r\n\r\n");
    s->close();
    co_await sleep(60ms);
  });
  EXPECT_EQ(status_line(exchange("GET / HTTP/1.1\r\nHost: x\r\n\r\n")), "HTTP/1.1 200 OK");
}

TEST_F(HTTPServerTest, Expect100Continue) {
  start();
  run_sync([&]() -> Task<> {
    auto s = co_await connect();
    co_await s->write(
        "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
    std::string interim = co_await s->read_until("\r\n\r\n");
    EXPECT_EQ(interim, "HTTP/1.1 100 (Continue)\r\n\r\n");
    co_await s->write("hello");
    auto [h, b] = co_await read_response(s);
    EXPECT_EQ(b, "POST hello");
  });
}

TEST_F(HTTPServerTest, GzipRequestBodyDecompressed) {
  start({.decompress_request = true});
  std::string gz = detail::gzip_compress("foo=bar");
  std::string r = exchange(
      "POST /args HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
      "Content-Encoding: gzip\r\nContent-Length: " +
      std::to_string(gz.size()) + "\r\n\r\n" + gz);
  EXPECT_NE(r.find("foo=bar;"), std::string::npos) << r;
}

TEST_F(HTTPServerTest, GzipLimitAppliesToInflatedSize) {
  start({.decompress_request = true, .max_body_size = 1000});
  ExpectLog log(gen_log(), "Malformed HTTP message");
  std::string gz = detail::gzip_compress(std::string(100000, 'a'));
  ASSERT_LT(gz.size(), 1000u);
  std::string r = exchange(
      "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Encoding: gzip\r\n"
      "Content-Length: " +
      std::to_string(gz.size()) + "\r\n\r\n" + gz);
  EXPECT_EQ(status_line(r).substr(9, 3), "413");
}

TEST_F(HTTPServerTest, XHeaders) {
  start({.xheaders = true, .trusted_downstream = {"5.5.5.5"}});
  auto body = [&](const std::string& extra) {
    std::string r = exchange("GET /remote HTTP/1.1\r\nHost: x\r\n" + extra + "\r\n");
    return r.substr(r.find("\r\n\r\n") + 4);
  };
  EXPECT_EQ(body(""), "127.0.0.1 http");
  EXPECT_EQ(body("X-Real-Ip: 4.4.4.4\r\n"), "4.4.4.4 http");
  EXPECT_EQ(body("X-Real-Ip: not-an-ip\r\n"), "127.0.0.1 http");
  EXPECT_EQ(body("X-Forwarded-For: 4.4.4.4, 5.5.5.5\r\n"), "4.4.4.4 http");
  EXPECT_EQ(body("X-Forwarded-For: 4.4.4.4, 2620:0:1cfe:face:b00c::3\r\n"),
            "2620:0:1cfe:face:b00c::3 http");
  EXPECT_EQ(body("X-Scheme: https\r\n"), "127.0.0.1 https");
  EXPECT_EQ(body("X-Forwarded-Proto: http, https\r\n"), "127.0.0.1 https");
  EXPECT_EQ(body("X-Forwarded-Proto: unknown\r\n"), "127.0.0.1 http");
}

TEST_F(HTTPServerTest, ContentLengthMismatchClosesConnection) {
  start();
  std::string high = exchange("GET /too_high HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(high.substr(high.find("\r\n\r\n") + 4), "abc");  // cut short, never mis-framed
  std::string low = exchange("GET /too_low HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(low.substr(low.find("\r\n\r\n") + 4), "");
}

TEST_F(HTTPServerTest, IdleConnectionTimeout) {
  start({.idle_connection_timeout = Duration(0.05)});
  run_sync([&]() -> Task<> {
    auto s = co_await connect();
    co_await s->write("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    co_await read_response(s);
    // No second request: the server drops the connection at the timeout.
    EXPECT_EQ(co_await with_timeout(2s, s->read_until_close()), "");
  });
}

TEST_F(HTTPServerTest, SlowHeadersDropped) {
  start({.idle_connection_timeout = Duration(0.05)});
  run_sync([&]() -> Task<> {
    auto s = co_await connect();
    co_await s->write("GET / HTTP/1.1\r\nHo");
    EXPECT_EQ(co_await with_timeout(2s, s->read_until_close()), "");
  });
}

// Slowloris: a head trickled a byte at a time is cut at the timeout counted from when the
// wait for it began; each byte does not restart the clock.
TEST_F(HTTPServerTest, TrickledHeadIsDroppedAtTheTimeoutNotRestartedByEachByte) {
  start({.idle_connection_timeout = Duration(0.2)});
  run_sync([&]() -> Task<> {
    auto s = co_await connect();
    const std::string head = "GET / HTTP/1.1\r\nHost: x\r\nX-Pad: " + std::string(100, 'p');
    const auto began = std::chrono::steady_clock::now();
    try {
      for (char c : head) {  // 100+ bytes, one per 10 ms: over a second if never cut
        co_await s->write(std::string(1, c));
        co_await sleep(10ms);
      }
    } catch (const StreamClosedError&) {
    }
    EXPECT_EQ(co_await with_timeout(2s, s->read_until_close()), "");
    EXPECT_LT(std::chrono::steady_clock::now() - began, 900ms);
  });
}

// The one header timer re-arms itself: a keep-alive connection whose requests come more
// often than the timeout, over several timeouts, is never dropped.
TEST_F(HTTPServerTest, BusyKeepAliveConnectionOutlivesManyIdleTimeouts) {
  start({.idle_connection_timeout = Duration(0.3)});
  run_sync([&]() -> Task<> {
    auto s = co_await connect();
    for (int i = 0; i < 35; ++i) {  // over a second: several timeouts, gaps of 30 ms
      co_await s->write("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
      co_await read_response(s);
      co_await sleep(30ms);
    }
    EXPECT_FALSE(s->closed());
    // Then left idle, it is dropped.
    EXPECT_EQ(co_await with_timeout(2s, s->read_until_close()), "");
  });
}

TEST_F(HTTPServerTest, SlowBodyDroppedAtBodyTimeout) {
  start({.body_timeout = Duration(0.05)});
  run_sync([&]() -> Task<> {
    auto s = co_await connect();
    co_await s->write("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc");
    EXPECT_EQ(co_await with_timeout(2s, s->read_until_close()), "");
  });
  // Other connections are unaffected.
  EXPECT_EQ(status_line(exchange("GET / HTTP/1.1\r\nHost: x\r\n\r\n")), "HTTP/1.1 200 OK");
}

TEST_F(HTTPServerTest, CorpusAgainstLiveServer) {
  start();
  ExpectLog log(gen_log(), "Malformed HTTP message|closed while reading", /*required=*/false);
  std::ifstream in(std::string(TORNADO_SOURCE_DIR) + "/tests/data/http_corpus/requests.jsonl");
  ASSERT_TRUE(in);
  std::string line;
  std::map<std::string, int> either;
  const std::string rejected_codes = "400 411 413 414 431 501 505";
  while (std::getline(in, line)) {
    auto j = nlohmann::json::parse(line);
    std::string b64 = j["request_b64"];
    std::string raw(b64.size(), '\0');
    int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(raw.data()),
                            reinterpret_cast<const unsigned char*>(b64.data()),
                            static_cast<int>(b64.size()));
    raw.resize(static_cast<std::size_t>(n) - (b64.ends_with("==")  ? 2
                                              : b64.ends_with("=") ? 1
                                                                   : 0));
    std::string r = exchange(raw);
    std::string outcome = r.empty()                    ? "close"
                          : r.rfind("HTTP/1.", 0) == 0 ? r.substr(9, 3)
                                                       : "junk";
    bool rejected = outcome == "close" || rejected_codes.find(outcome) != std::string::npos;
    std::string expect = j["expect"];
    if (expect == "reject") {
      EXPECT_TRUE(rejected) << j["id"] << " got " << outcome << ": " << j["why"];
    } else if (expect == "accept") {
      EXPECT_FALSE(rejected) << j["id"] << " got " << outcome << ": " << j["why"];
    } else {
      ++either[outcome];
    }
  }
  for (const auto& [k, v] : either) std::cout << "either: " << k << " x" << v << "\n";
}

}  // namespace httpserver_test
