// HTTP1Connection on its own, both sides: Tornado's http1connection_test (an HTTP/1.0
// response without Content-Length) and direct exchanges over a socketpair, where one side
// writes with write_headers/write/finish and the other reads with read_message.
#include "tornado/http1connection.h"

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "tornado/iostream.h"
#include "tornado/testing.h"

namespace http1connection_test {

using namespace tornado;
using httputil::HTTPHeaders;
using httputil::HTTPInputError;
using httputil::RequestStartLine;
using httputil::ResponseStartLine;
using httputil::StartLine;
using tornado::testing::AsyncTest;

namespace {

// Records what the connection hands it, in order.
class Recorder final : public httputil::HTTPMessageDelegate {
 public:
  Task<> headers_received(const StartLine& start_line, HTTPHeaders& headers) override {
    events.push_back("headers");
    if (const auto* req = std::get_if<RequestStartLine>(&start_line)) {
      request = *req;
    } else {
      response = std::get<ResponseStartLine>(start_line);
    }
    this->headers = headers;
    co_return;
  }
  Task<> data_received(std::string_view chunk) override {
    events.push_back("data");
    chunks.emplace_back(chunk);
    body.append(chunk);
    co_return;
  }
  void finish() override {
    events.push_back("finish");
    if (on_finish) on_finish();
  }
  void on_connection_close() override { events.push_back("close"); }

  std::vector<std::string> events;
  RequestStartLine request;
  ResponseStartLine response;
  HTTPHeaders headers;
  std::vector<std::string> chunks;
  std::string body;
  std::function<void()> on_finish;
};

class HTTP1ConnectionTest : public AsyncTest {
 protected:
  void SetUp() override {
    AsyncTest::SetUp();
    int fds[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds), 0);
    client_stream_ = IOStream::create(fds[0]);
    server_stream_ = IOStream::create(fds[1]);
  }
  void TearDown() override {
    client_stream_->close();
    server_stream_->close();
    client_stream_.reset();
    server_stream_.reset();
    AsyncTest::TearDown();
  }

  // The client's side of most tests: GET / with a Host, whole.
  static Task<> send_get(HTTP1Connection& client) {
    RequestStartLine req_line{"GET", "/", "HTTP/1.1"};
    HTTPHeaders req_headers{{"Host", "x"}};
    (void)client.write_headers(req_line, req_headers);
    co_await client.finish();
  }

  std::shared_ptr<IOStream> client_stream_;
  std::shared_ptr<IOStream> server_stream_;
};

}  // namespace

// Tornado's test_http10_no_content_length: an HTTP/1.0 response without Content-Length is
// delimited by the close, and the connection is not kept.
TEST_F(HTTP1ConnectionTest, Http10ResponseWithoutContentLengthReadsUntilClose) {
  run_sync([&]() -> Task<> {
    HTTP1Connection conn(client_stream_, /*is_client=*/true);
    (void)server_stream_->write(std::string("HTTP/1.0 200 Not Modified\r\n\r\nhello"));
    co_await server_stream_->write(std::string());
    server_stream_->close();
    Recorder d;
    bool keep_alive = co_await conn.read_message(d, "GET");
    EXPECT_FALSE(keep_alive);
    EXPECT_EQ(d.response.code, 200);
    EXPECT_EQ(d.response.reason, "Not Modified");
    EXPECT_EQ(d.body, "hello");
    EXPECT_EQ(d.events.back(), "finish");
  });
}

TEST_F(HTTP1ConnectionTest, ClientRequestReadByServerAndAnswered) {
  run_sync([&]() -> Task<> {
    HTTP1Connection client(client_stream_, /*is_client=*/true);
    HTTP1Connection server(server_stream_, /*is_client=*/false);
    RequestStartLine req_line{"POST", "/submit?x=1", "HTTP/1.1"};
    HTTPHeaders req_headers{{"Host", "example.com"}, {"Content-Length", "5"}};
    (void)client.write_headers(req_line, req_headers, "hel");
    (void)client.write("lo");
    co_await client.finish();

    Recorder at_server;
    at_server.on_finish = [&] {
      ResponseStartLine line{"HTTP/1.1", 201, "Created"};
      HTTPHeaders headers{{"Content-Length", "2"}, {"X-Thing", "a"}};
      (void)server.write_headers(line, headers, "ok");
      (void)server.finish();
    };
    EXPECT_TRUE(co_await server.read_message(at_server));
    EXPECT_EQ(at_server.request.method, "POST");
    EXPECT_EQ(at_server.request.path, "/submit?x=1");
    EXPECT_EQ(at_server.request.version, "HTTP/1.1");
    EXPECT_EQ(at_server.headers.get("host", ""), "example.com");
    EXPECT_EQ(at_server.body, "hello");
    EXPECT_EQ(at_server.events.front(), "headers");
    EXPECT_EQ(at_server.events.back(), "finish");

    Recorder at_client;
    EXPECT_TRUE(co_await client.read_message(at_client, "POST"));
    EXPECT_EQ(at_client.response.code, 201);
    EXPECT_EQ(at_client.response.reason, "Created");
    EXPECT_EQ(at_client.headers.get("X-Thing", ""), "a");
    EXPECT_TRUE(at_client.headers.contains("Date"));
    EXPECT_EQ(at_client.body, "ok");
  });
}

TEST_F(HTTP1ConnectionTest, ChunkedBothWays) {
  run_sync([&]() -> Task<> {
    HTTP1Connection client(client_stream_, /*is_client=*/true);
    HTTP1Connection server(server_stream_, /*is_client=*/false);
    // A POST without Content-Length goes out chunked; each write is one chunk and the
    // reader sees the chunk boundaries.
    RequestStartLine req_line{"POST", "/up", "HTTP/1.1"};
    HTTPHeaders req_headers{{"Host", "x"}};
    (void)client.write_headers(req_line, req_headers);
    (void)client.write("abc");
    (void)client.write("");  // no empty chunk: that would end the body
    (void)client.write("defg");
    co_await client.finish();

    Recorder at_server;
    at_server.on_finish = [&] {
      ResponseStartLine line{"HTTP/1.1", 200, "OK"};
      HTTPHeaders none;
      (void)server.write_headers(line, none, "first");
      (void)server.write("second");
      (void)server.finish();
    };
    EXPECT_TRUE(co_await server.read_message(at_server));
    EXPECT_EQ(at_server.headers.get("Transfer-Encoding", ""), "chunked");
    EXPECT_EQ(at_server.chunks, (std::vector<std::string>{"abc", "defg"}));

    Recorder at_client;
    EXPECT_TRUE(co_await client.read_message(at_client, "POST"));
    EXPECT_EQ(at_client.headers.get("Transfer-Encoding", ""), "chunked");
    EXPECT_EQ(at_client.chunks, (std::vector<std::string>{"first", "second"}));
  });
}

TEST_F(HTTP1ConnectionTest, HeadResponseHasNoBodyAndConnectionStaysUsable) {
  run_sync([&]() -> Task<> {
    HTTP1Connection client(client_stream_, /*is_client=*/true);
    HTTP1Connection server(server_stream_, /*is_client=*/false);
    for (const char* method : {"HEAD", "GET"}) {
      RequestStartLine req_line{method, "/", "HTTP/1.1"};
      HTTPHeaders req_headers{{"Host", "x"}};
      (void)client.write_headers(req_line, req_headers);
      co_await client.finish();
      Recorder at_server;
      at_server.on_finish = [&] {
        // The same code answers both: for HEAD the body bytes are dropped, the length kept.
        ResponseStartLine line{"HTTP/1.1", 200, "OK"};
        HTTPHeaders headers{{"Content-Length", "10"}};
        (void)server.write_headers(line, headers, "0123456789");
        (void)server.finish();
      };
      EXPECT_TRUE(co_await server.read_message(at_server));
      Recorder at_client;
      EXPECT_TRUE(co_await client.read_message(at_client, method));
      EXPECT_EQ(at_client.headers.get("Content-Length", ""), "10");
      EXPECT_EQ(at_client.body, std::string(method) == "HEAD" ? "" : "0123456789") << method;
      EXPECT_EQ(at_client.events.back(), "finish");
    }
    // Nothing stray is left on the wire after the HEAD exchange.
    EXPECT_TRUE(client_stream_->read_buffer().empty());
  });
}

TEST_F(HTTP1ConnectionTest, ClientReadsResponseUntilClose) {
  run_sync([&]() -> Task<> {
    HTTP1Connection client(client_stream_, /*is_client=*/true);
    (void)server_stream_->write(std::string("HTTP/1.1 200 OK\r\nServer: raw\r\n\r\nabc"));
    co_await sleep(10ms);
    co_await server_stream_->write(std::string("def"));
    server_stream_->close();
    Recorder d;
    EXPECT_FALSE(co_await client.read_message(d, "GET"));
    EXPECT_EQ(d.body, "abcdef");
    EXPECT_EQ(d.events.back(), "finish");
  });
}

TEST_F(HTTP1ConnectionTest, ClientSkipsInterimContinue) {
  run_sync([&]() -> Task<> {
    HTTP1Connection client(client_stream_, /*is_client=*/true);
    (void)server_stream_->write(
        std::string("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"));
    Recorder d;
    EXPECT_TRUE(co_await client.read_message(d, "POST"));
    EXPECT_EQ(d.response.code, 200);
    EXPECT_EQ(d.body, "ok");
    EXPECT_EQ(d.events.back(), "finish");
  });
}

// The cap on interim responses is a parameter: with 3, a fourth 1xx is refused, and three
// are read through to the final response.
TEST_F(HTTP1ConnectionTest, ClientRefusesMoreInterimResponsesThanItsParameterAllows) {
  run_sync([&]() -> Task<> {
    HTTP1ConnectionParameters params;
    params.max_interim_responses = 3;
    HTTP1Connection client(client_stream_, /*is_client=*/true, params);
    std::string four;
    for (int i = 0; i < 4; ++i) four += "HTTP/1.1 100 Continue\r\n\r\n";
    (void)server_stream_->write(four + "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    Recorder d;
    bool refused = false;
    try {
      (void)co_await client.read_message(d, "POST");
    } catch (const HTTPInputError& e) {
      refused = std::string(e.what()).find("More than 3 interim") != std::string::npos;
    }
    EXPECT_TRUE(refused);
    EXPECT_NE(d.body, "ok");
  });
}

TEST_F(HTTP1ConnectionTest, ClientReadsAsManyInterimResponsesAsItsParameterAllows) {
  run_sync([&]() -> Task<> {
    HTTP1ConnectionParameters params;
    params.max_interim_responses = 3;
    HTTP1Connection client(client_stream_, /*is_client=*/true, params);
    std::string three;
    for (int i = 0; i < 3; ++i) three += "HTTP/1.1 100 Continue\r\n\r\n";
    (void)server_stream_->write(three + "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    Recorder d;
    EXPECT_TRUE(co_await client.read_message(d, "POST"));
    EXPECT_EQ(d.response.code, 200);
    EXPECT_EQ(d.body, "ok");
  });
}

// A coroutine owns its arguments: a read stored before it is awaited still knows its
// request's method after the caller's string is gone (ASan: heap-use-after-free before).
TEST_F(HTTP1ConnectionTest, ClientReadStoredAfterItsMethodStringIsGoneStillSkipsHeadBody) {
  run_sync([&]() -> Task<> {
    HTTP1Connection client(client_stream_, /*is_client=*/true);
    (void)server_stream_->write(
        std::string("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"
                    "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nz"));
    Recorder head;
    auto method = std::make_unique<std::string>("HEAD");
    Task<bool> read = client.read_message(head, *method);
    method.reset();
    EXPECT_TRUE(co_await std::move(read));
    EXPECT_EQ(head.body, "");
    Recorder next;
    EXPECT_TRUE(co_await client.read_message(next, "GET"));
    EXPECT_EQ(next.body, "z");
  });
}

TEST_F(HTTP1ConnectionTest, ClientNotModifiedHasNoBodyDespiteLength) {
  run_sync([&]() -> Task<> {
    HTTP1Connection client(client_stream_, /*is_client=*/true);
    (void)server_stream_->write(
        std::string("HTTP/1.1 304 Not Modified\r\nContent-Length: 50\r\n\r\n"
                    "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nz"));
    Recorder first;
    EXPECT_TRUE(co_await client.read_message(first, "GET"));
    EXPECT_EQ(first.body, "");
    Recorder second;
    EXPECT_TRUE(co_await client.read_message(second, "GET"));
    EXPECT_EQ(second.body, "z");
  });
}

TEST_F(HTTP1ConnectionTest, ClientMalformedResponseThrows) {
  run_sync([&]() -> Task<> {
    HTTP1Connection client(client_stream_, /*is_client=*/true);
    (void)server_stream_->write(std::string("HTTP/1.1 abc Broken\r\n\r\n"));
    Recorder d;
    bool threw = false;
    try {
      co_await client.read_message(d, "GET");
    } catch (const HTTPInputError&) {
      threw = true;
    }
    EXPECT_TRUE(threw);
    EXPECT_TRUE(d.events.empty());
  });
}

TEST_F(HTTP1ConnectionTest, ClientConnectionCloseEndsKeepAlive) {
  run_sync([&]() -> Task<> {
    HTTP1Connection client(client_stream_, /*is_client=*/true);
    (void)server_stream_->write(
        std::string("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\nz"));
    Recorder d;
    EXPECT_FALSE(co_await client.read_message(d, "GET"));
    EXPECT_EQ(d.body, "z");
  });
}

TEST_F(HTTP1ConnectionTest, ServerStreamClosedBeforeHeadRaises) {
  run_sync([&]() -> Task<> {
    HTTP1Connection server(server_stream_, /*is_client=*/false);
    client_stream_->close();
    Recorder d;
    bool threw = false;
    try {
      co_await server.read_message(d);
    } catch (const StreamClosedError&) {
      threw = true;
    }
    EXPECT_TRUE(threw);
    EXPECT_TRUE(d.events.empty());
  });
}

TEST_F(HTTP1ConnectionTest, ServerPeerLeavingMidBodyCallsOnConnectionClose) {
  run_sync([&]() -> Task<> {
    HTTP1Connection server(server_stream_, /*is_client=*/false);
    co_await client_stream_->write(
        std::string("PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\npartial"));
    client_stream_->close();
    Recorder d;
    EXPECT_FALSE(co_await server.read_message(d));
    EXPECT_EQ(d.body, "partial");
    EXPECT_EQ(d.events.back(), "close");
  });
}

TEST_F(HTTP1ConnectionTest, ServerMalformedRequestAnswers400) {
  run_sync([&]() -> Task<> {
    tornado::testing::ExpectLog log(gen_log(), "Malformed HTTP message");
    HTTP1Connection server(server_stream_, /*is_client=*/false);
    co_await client_stream_->write(std::string("GET / HTTP/1.1\r\nBad Header\r\n\r\n"));
    Recorder d;
    EXPECT_FALSE(co_await server.read_message(d));
    EXPECT_TRUE(d.events.empty());
    std::string answer = co_await client_stream_->read_until("\r\n\r\n");
    EXPECT_EQ(answer.substr(0, 25), "HTTP/1.1 400 Bad Request\r");
  });
}

// Pieces past the write queue's small-write size (16 KiB), including the first piece given
// to write_headers, are framed (size line, piece, CRLF) and read back intact.
TEST_F(HTTP1ConnectionTest, LargeChunkedPiecesAreFramedAndReadBackIntact) {
  run_sync([&]() -> Task<> {
    HTTP1Connection client(client_stream_, /*is_client=*/true);
    HTTP1Connection server(server_stream_, /*is_client=*/false);
    co_await send_get(client);

    const std::string first(100'000, 'a'), second(20'000, 'b'), third(5, 'c');
    Recorder at_server;
    at_server.on_finish = [&] {
      ResponseStartLine line{"HTTP/1.1", 200, "OK"};
      HTTPHeaders none;
      (void)server.write_headers(line, none, first);
      (void)server.write(second);
      (void)server.write(third);
      (void)server.finish();
    };
    EXPECT_TRUE(co_await server.read_message(at_server));
    Recorder at_client;
    EXPECT_TRUE(co_await client.read_message(at_client, "GET"));
    EXPECT_EQ(at_client.headers.get("Transfer-Encoding", ""), "chunked");
    std::string body;
    for (const auto& c : at_client.chunks) body += c;
    EXPECT_EQ(body, first + second + third);
  });
}

// A first piece longer than the declared Content-Length is refused before anything of the
// response is queued.
TEST_F(HTTP1ConnectionTest, FirstPiecePastContentLengthQueuesNothing) {
  run_sync([&]() -> Task<> {
    HTTP1Connection client(client_stream_, /*is_client=*/true);
    RequestStartLine line{"PUT", "/", "HTTP/1.1"};
    HTTPHeaders headers{{"Host", "x"}, {"Content-Length", "3"}};
    EXPECT_THROW((void)client.write_headers(line, headers, "abcd"), httputil::HTTPOutputError);
    EXPECT_EQ(client_stream_->write_buffer_size(), 0u);
    co_return;
  });
}

TEST_F(HTTP1ConnectionTest, WritesPastContentLengthAreRefused) {
  run_sync([&]() -> Task<> {
    HTTP1Connection client(client_stream_, /*is_client=*/true);
    RequestStartLine line{"PUT", "/", "HTTP/1.1"};
    HTTPHeaders headers{{"Host", "x"}, {"Content-Length", "3"}};
    (void)client.write_headers(line, headers, "ab");
    EXPECT_THROW((void)client.write("cd"), httputil::HTTPOutputError);
    co_return;
  });
}

// A status line carries three digits (RFC 9110 15): a raw delegate's status 0 or 1000 is
// refused before anything is queued, and the response can still be written.
TEST_F(HTTP1ConnectionTest, ResponseStatusOutsideThreeDigitsIsRefused) {
  run_sync([&]() -> Task<> {
    HTTP1Connection client(client_stream_, /*is_client=*/true);
    HTTP1Connection server(server_stream_, /*is_client=*/false);
    co_await send_get(client);
    Recorder at_server;
    at_server.on_finish = [&] {
      HTTPHeaders none{{"Content-Length", "0"}};
      for (int code : {0, 99, 1000, -200}) {
        ResponseStartLine bad{"HTTP/1.1", code, "X"};
        EXPECT_THROW((void)server.write_headers(bad, none), httputil::HTTPOutputError) << code;
      }
      EXPECT_EQ(server_stream_->write_buffer_size(), 0u);
      ResponseStartLine good{"HTTP/1.1", 200, "OK"};
      (void)server.write_headers(good, none);
      (void)server.finish();
    };
    EXPECT_TRUE(co_await server.read_message(at_server));
    std::string answer = co_await client_stream_->read_until("\r\n\r\n");
    EXPECT_EQ(answer.substr(0, 17), "HTTP/1.1 200 OK\r\n");
  });
}

// The response's start line is checked like a field value (a CR or LF in the reason would
// split the head) whichever way it is passed, before anything is queued; an empty reason is
// the standard one; and the three ways of passing a start line write the same head.
TEST_F(HTTP1ConnectionTest, ResponseStartLineCheckedAndWrittenAlikeThroughEachForm) {
  run_sync([&]() -> Task<> {
    HTTP1Connection client(client_stream_, /*is_client=*/true);
    HTTP1Connection server(server_stream_, /*is_client=*/false);
    std::vector<std::string> heads;
    for (int form = 0; form < 3; ++form) {
      co_await send_get(client);
      Recorder at_server;
      at_server.on_finish = [&] {
        HTTPHeaders fields{{"Content-Length", "2"}, {"Date", "Sun, 06 Nov 1994 08:49:37 GMT"}};
        for (const char* bad : {"Not\r\nInjected: 1", "A\nB", "A\rB", "A\x7f"}) {
          const ResponseStartLine line{"HTTP/1.1", 404, bad};
          EXPECT_THROW((void)server.write_headers(line, fields, "no"), httputil::HTTPOutputError)
              << bad;
          EXPECT_THROW((void)server.write_headers(StartLine(line), fields, "no"),
                       httputil::HTTPOutputError)
              << bad;
        }
        EXPECT_EQ(server_stream_->write_buffer_size(), 0u);
        const ResponseStartLine line{"HTTP/1.1", 404, ""};
        httputil::HTTPConnection& base = server;
        if (form == 0) (void)base.write_headers(line, fields, "ok");           // the overload
        if (form == 1) (void)server.write_headers(line, fields, "ok");         // HTTP1Connection's
        if (form == 2) (void)base.write_headers(StartLine(line), fields, "ok");  // the variant
        (void)server.finish();
      };
      EXPECT_TRUE(co_await server.read_message(at_server));
      heads.push_back(co_await client_stream_->read_until("\r\n\r\nok"));
    }
    EXPECT_EQ(heads[0],
              "HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n"
              "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n\r\nok");
    EXPECT_EQ(heads[1], heads[0]);
    EXPECT_EQ(heads[2], heads[0]);
    // A client's connection writes requests: a response's start line is refused.
    EXPECT_THROW((void)client.write_headers(ResponseStartLine{"HTTP/1.1", 200, "OK"}, {}),
                 std::bad_variant_access);
  });
}

// hostile16: write_headers on a stream that is already closed (the peer left) still checks
// the head (a field added unchecked with a CR LF, a Content-Length that is not a number, a
// first piece past it: refused as on an open stream) and returns an awaiter that fails with
// StreamClosedError when awaited, whatever the head's size.
TEST_F(HTTP1ConnectionTest, WriteHeadersOnAClosedStreamChecksThenFailsWhenAwaited) {
  run_sync([&]() -> Task<> {
    HTTP1Connection client(client_stream_, /*is_client=*/true);
    client_stream_->close();
    const RequestStartLine get{"GET", "/", "HTTP/1.1"};
    const RequestStartLine put{"PUT", "/", "HTTP/1.1"};
    HTTPHeaders injected{{"Host", "x"}};
    injected.add_unchecked("X-Bad", "1\r\nInjected: yes");
    EXPECT_THROW((void)client.write_headers(get, injected), httputil::HTTPOutputError);
    HTTPHeaders bad_length{{"Host", "x"}, {"Content-Length", "2x"}};
    EXPECT_THROW((void)client.write_headers(put, bad_length, "ab"), httputil::HTTPOutputError);
    HTTPHeaders huge{{"Host", "x"}, {"X-Huge", std::string(100 * 1024, 'h')}};
    auto head = client.write_headers(get, huge);
    EXPECT_THROW(co_await std::move(head), StreamClosedError);
    EXPECT_THROW(co_await client.finish(), StreamClosedError);
    // (A first piece past Content-Length ends the exchange: it comes last.)
    HTTPHeaders short_length{{"Host", "x"}, {"Content-Length", "1"}};
    EXPECT_THROW((void)client.write_headers(put, short_length, "ab"), httputil::HTTPOutputError);
  });
}

// hostile16: a head (with its first body piece) that fills max_write_buffer_size exactly
// is queued and sent; one byte more is refused with StreamBufferFullError before anything
// is queued or the connection's state changes, so a smaller head can still be written.
TEST_F(HTTP1ConnectionTest, HeadFillingTheWriteLimitExactlyIsSentAndOneByteMoreIsRefused) {
  const std::string expected =
      "PUT /p HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nab";  // 49 bytes
  for (const std::size_t limit : {expected.size(), expected.size() - 1}) {
    run_sync([&]() -> Task<> {
      int fds[2];
      EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds), 0);
      IOStreamOptions options;
      options.max_write_buffer_size = limit;
      auto ours = IOStream::create(fds[0], options);
      auto peer = IOStream::create(fds[1]);
      HTTP1Connection client(ours, /*is_client=*/true);
      const RequestStartLine put{"PUT", "/p", "HTTP/1.1"};
      HTTPHeaders headers{{"Host", "x"}, {"Content-Length", "2"}};
      if (limit == expected.size()) {
        auto head = client.write_headers(put, headers, "ab");
        co_await std::move(head);
        co_await client.finish();
        EXPECT_EQ(co_await peer->read_bytes(expected.size()), expected);
      } else {
        EXPECT_THROW((void)client.write_headers(put, headers, "ab"), StreamBufferFullError);
        EXPECT_EQ(ours->write_buffer_size(), 0u);
        EXPECT_FALSE(ours->closed());
        HTTPHeaders empty_body{{"Host", "x"}, {"Content-Length", "0"}};
        (void)client.write_headers(put, empty_body);
        co_await client.finish();
        const std::string smaller = "PUT /p HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n";
        EXPECT_EQ(co_await peer->read_bytes(smaller.size()), smaller);
      }
      ours->close();
      peer->close();
    });
  }
}

}  // namespace http1connection_test
