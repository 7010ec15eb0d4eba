// HTTPServer with a streaming HTTPServerConnectionDelegate: the behaviours of Tornado's
// httpserver_test that concern the delegate interface (StreamingChunkSizeTest,
// BodyLimitsTest's per-request overrides, early answers, client disconnects,
// close_all_connections). tests/httpserver_test.cpp covers the callback interface.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "http_test_util.h"
#include "internal/gzip.h"
#include "tornado/httpserver.h"
#include "tornado/iostream.h"
#include "tornado/testing.h"

namespace httpserver_delegate_test {

using namespace tornado;
using httputil::HTTPConnection;
using httputil::HTTPHeaders;
using httputil::RequestStartLine;
using httputil::ResponseStartLine;
using httputil::StartLine;
using tornado::testing::AsyncTest;
using tornado::testing::ExpectLog;

namespace {

// The body of the next response on `s`, framed by its Content-Length.
Task<std::string> read_body(IOStream& s) {
  std::string head = co_await s.read_until("\r\n\r\n");
  auto cl = head.find("Content-Length: ");
  co_return co_await s.read_bytes(std::stoul(head.substr(cl + 16)));
}

// Loop iterations counted by a callback that re-posts itself (see LoopTicker).
uint64_t loop_ticks = 0;

// What happened to one request, as its delegate saw it.
struct Trace {
  std::vector<uint64_t> ticks_at_data;  // loop_ticks at each data_received
  std::string path;
  std::vector<std::string> events;  // "headers", "data", "finish", "close"
  std::vector<std::size_t> chunk_lengths;
  std::string body;
};

struct ServerLog {
  std::vector<std::shared_ptr<Trace>> requests;
  int connections_closed = 0;
  bool throw_in_on_close = false;
};

std::string query_value(const std::string& path, const std::string& name) {
  auto pos = path.find(name + "=");
  if (pos == std::string::npos) return {};
  auto end = path.find('&', pos);
  return path.substr(pos + name.size() + 1, end == std::string::npos ? end : end - pos - 1);
}

void answer(HTTPConnection* conn, int code, const std::string& body) {
  ResponseStartLine line{"HTTP/1.1", code, ""};
  HTTPHeaders headers{{"Content-Length", std::to_string(body.size())}};
  (void)conn->write_headers(line, headers, body);
  (void)conn->finish();
}

// Streams the body; answers with the chunk lengths it saw. Paths:
//   /early            answers 401 from headers_received, before any body
//   /limit?size=N     raises this request's max_body_size to N
//   /timeout?ms=N     sets this request's body timeout
//   /slow_consumer    data_received suspends for a moment per chunk (flow control)
//   /hold             answers only once the client is gone (set_close_callback)
class StreamingDelegate final : public httputil::HTTPMessageDelegate {
 public:
  StreamingDelegate(HTTPConnection* conn, ServerLog& log)
      : conn_(conn), log_(log), trace_(std::make_shared<Trace>()) {}

  // The server asks for a delegate before the next head arrives: a request is logged once
  // its head is in.
  Task<> headers_received(const StartLine& start_line, HTTPHeaders&) override {
    log_.requests.push_back(trace_);
    trace_->events.push_back("headers");
    trace_->path = std::get<RequestStartLine>(start_line).path;
    const std::string& path = trace_->path;
    if (path.starts_with("/early")) {
      answer(conn_, 401, "no");
    } else if (path.starts_with("/limit")) {
      conn_->set_max_body_size(std::stoul(query_value(path, "size")));
    } else if (path == "/hold") {
      // A well-behaved application that answers late finishes its response when told the
      // client left; the connection is released only then (docs/http1connection.md).
      conn_->set_close_callback([conn = conn_, trace = trace_] {
        trace->events.push_back("conn_closed");
        answer(conn, 200, "too late");
      });
    } else if (path.starts_with("/timeout")) {
      conn_->set_body_timeout(Duration(std::stod(query_value(path, "ms")) / 1000));
    }
    co_return;
  }
  // /answer_and_close: answers on a later iteration and closes the stream in the same
  // callback, as when the peer resets the connection just as a late answer is written.
  static void answer_then_close(HTTPConnection* conn) {
    IOLoop::current().add_callback([conn] {
      answer(conn, 200, "late");
      dynamic_cast<HTTP1Connection&>(*conn).stream().close();
    });
  }
  Task<> data_received(std::string_view chunk) override {
    trace_->events.push_back("data");
    trace_->ticks_at_data.push_back(loop_ticks);
    trace_->chunk_lengths.push_back(chunk.size());
    trace_->body.append(chunk);
    if (trace_->path == "/slow_consumer") co_await sleep(1ms);
  }
  void finish() override {
    trace_->events.push_back("finish");
    if (trace_->path.starts_with("/early") || trace_->path == "/hold") return;
    if (trace_->path == "/answer_and_close") return answer_then_close(conn_);
    std::string lengths;
    for (std::size_t n : trace_->chunk_lengths) {
      lengths += (lengths.empty() ? "" : ",") + std::to_string(n);
    }
    answer(conn_, 200, "[" + lengths + "]");
  }
  void on_connection_close() override { trace_->events.push_back("close"); }

 private:
  HTTPConnection* conn_;
  ServerLog& log_;
  std::shared_ptr<Trace> trace_;
};

class StreamingApp final : public httputil::HTTPServerConnectionDelegate {
 public:
  explicit StreamingApp(ServerLog& log) : log_(log) {}
  std::unique_ptr<httputil::HTTPMessageDelegate> start_request(HTTPConnection* conn) override {
    return std::make_unique<StreamingDelegate>(conn, log_);
  }
  void on_close(HTTPConnection*) override {
    ++log_.connections_closed;
    if (log_.throw_in_on_close) throw std::runtime_error("on_close failed");
  }

 private:
  ServerLog& log_;
};

class HTTPServerDelegateTest : public AsyncTest {
 protected:
  void start(HTTPServerOptions options = {}) {
    auto [fd, port] = tornado::testing::bind_unused_port();
    port_ = port;
    server_ =
        std::make_unique<HTTPServer>(std::make_shared<StreamingApp>(log_), std::move(options));
    server_->add_socket(fd);
  }
  void TearDown() override {
    // Let the connections the test left open (keep-alive) end on the loop: destroying the
    // loop with their coroutines still suspended leaks under LeakSanitizer.
    if (server_) {
      server_->close_all_connections();
      run_sync([&]() -> Task<> {
        while (server_->connection_count() > 0) co_await sleep(1ms);
      });
    }
    server_.reset();
    AsyncTest::TearDown();
  }

  Task<std::shared_ptr<IOStream>> connect() { return test::connect_loopback(port_); }

  // One request on a fresh connection; returns the body of the response ("" if none).
  std::string post(const std::string& path, const std::string& extra_headers,
                   const std::string& body) {
    return run_sync([&]() -> Task<std::string> {
      auto s = co_await connect();
      co_await s->write("POST " + path + " HTTP/1.1\r\nHost: x\r\n" + extra_headers + "\r\n" +
                        body);
      co_return co_await read_body(*s);
    });
  }

  static std::string chunked(const std::vector<std::string>& pieces) {
    std::string out;
    char size[20];
    for (const auto& p : pieces) {
      std::snprintf(size, sizeof size, "%zx\r\n", p.size());
      out += size + p + "\r\n";
    }
    return out + "0\r\n\r\n";
  }

  // Waits (bounded) until `done` holds, running the loop meanwhile.
  template <typename F>
  void wait_for(F done) {
    run_sync([&]() -> Task<> {
      while (!done()) co_await sleep(1ms);
    });
  }

  ServerLog log_;
  int port_ = 0;
  std::unique_ptr<HTTPServer> server_;
};

const std::string kBody = "01234567890123456789012345678901234567890123456789";  // 50 bytes

}  // namespace

TEST_F(HTTPServerDelegateTest, FixedBodyStreamsInChunkSizePieces) {
  start({.decompress_request = true, .chunk_size = 16});
  EXPECT_EQ(post("/", "Content-Length: 50\r\n", kBody), "[16,16,16,2]");
  ASSERT_EQ(log_.requests.size(), 1u);
  EXPECT_EQ(log_.requests[0]->events,
            (std::vector<std::string>{"headers", "data", "data", "data", "data", "finish"}));
  EXPECT_EQ(log_.requests[0]->body, kBody);
}

TEST_F(HTTPServerDelegateTest, ChunkedBodyKeepsChunkBoundaries) {
  start({.decompress_request = true, .chunk_size = 16});
  std::string body = chunked({kBody.substr(0, 20), kBody.substr(20)});
  EXPECT_EQ(post("/", "Transfer-Encoding: chunked\r\n", body), "[16,4,16,14]");
  EXPECT_EQ(log_.requests[0]->events.front(), "headers");
  EXPECT_EQ(log_.requests[0]->events.back(), "finish");
}

TEST_F(HTTPServerDelegateTest, GzipBodiesStreamInBoundedNonEmptyPieces) {
  start({.decompress_request = true, .chunk_size = 16});
  std::string gz = detail::gzip_compress(kBody);
  ASSERT_LT(gz.size(), kBody.size());
  ASSERT_GT(gz.size(), 20u);
  const std::string fixed =
      "Content-Encoding: gzip\r\nContent-Length: " + std::to_string(gz.size()) + "\r\n";
  const std::string chunked_headers = "Content-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n";
  post("/", fixed, gz);
  post("/", chunked_headers, chunked({gz.substr(0, 20), gz.substr(20)}));
  ASSERT_EQ(log_.requests.size(), 2u);
  for (const auto& trace : log_.requests) {
    std::size_t total = 0;
    for (std::size_t n : trace->chunk_lengths) {
      EXPECT_GT(n, 0u);
      EXPECT_LE(n, 16u);
      total += n;
    }
    EXPECT_EQ(total, 50u);
    EXPECT_EQ(trace->body, kBody);
    EXPECT_EQ(trace->events.back(), "finish");
  }
}

// Counts loop iterations into loop_ticks until stopped.
struct LoopTicker : std::enable_shared_from_this<LoopTicker> {
  bool stopped = false;
  void tick() {
    if (stopped) return;
    ++loop_ticks;
    IOLoop::current().add_callback([self = shared_from_this()] { self->tick(); });
  }
};

// A request gzip bomb (64 MiB of zeros in ~64 KiB) against an 8 MiB limit: the inflated
// body reaches the application in chunk_size pieces as it is inflated, the loop gets a
// turn between pieces, and inflation stops at the limit with a 413.
TEST_F(HTTPServerDelegateTest, GzipBombInflatesInPiecesWithLoopTurnsAndStopsAtLimit) {
  const std::size_t limit = 8 * 1024 * 1024, chunk = 64 * 1024;
  start({.decompress_request = true, .chunk_size = chunk, .max_body_size = limit});
  ExpectLog log(gen_log(), "Body too large after decompression");
  std::string bomb = detail::gzip_compress(std::string(64 * 1024 * 1024, '\0'));
  auto ticker = std::make_shared<LoopTicker>();
  ticker->tick();
  std::string reply = run_sync([&]() -> Task<std::string> {
    auto s = co_await connect();
    co_await s->write("POST / HTTP/1.1\r\nHost: x\r\nContent-Encoding: gzip\r\nContent-Length: " +
                      std::to_string(bomb.size()) + "\r\n\r\n" + bomb);
    co_return co_await with_timeout(10s, s->read_until_close());
  });
  ticker->stopped = true;
  EXPECT_EQ(reply.substr(0, 12), "HTTP/1.1 413") << reply.substr(0, 40);
  ASSERT_EQ(log_.requests.size(), 1u);
  const Trace& trace = *log_.requests[0];
  // Handed on as inflated: the application saw the body up to the limit, piece by piece.
  EXPECT_GE(trace.chunk_lengths.size(), limit / chunk);
  std::size_t total = 0;
  for (std::size_t n : trace.chunk_lengths) {
    EXPECT_LE(n, chunk);
    total += n;
  }
  EXPECT_LE(total, limit);
  for (std::size_t i = 1; i < trace.ticks_at_data.size(); ++i) {
    EXPECT_GT(trace.ticks_at_data[i], trace.ticks_at_data[i - 1])
        << "no loop turn before piece " << i;
    if (trace.ticks_at_data[i] == trace.ticks_at_data[i - 1]) break;
  }
  EXPECT_EQ(trace.events.back(), "close");
}

TEST_F(HTTPServerDelegateTest, SuspendingDataReceivedKeepsOrder) {
  start({.chunk_size = 1000});
  std::string body;
  for (int i = 0; i < 2000; ++i) body += std::to_string(i % 10);
  post("/slow_consumer", "Content-Length: 2000\r\n", body);
  EXPECT_EQ(log_.requests[0]->body, body);
  EXPECT_EQ(log_.requests[0]->events.back(), "finish");
}

TEST_F(HTTPServerDelegateTest, EarlyAnswerSkipsBodyAndContinueAndCloses) {
  start();
  run_sync([&]() -> Task<> {
    auto s = co_await connect();
    // The client waits for 100 before sending its megabyte; the application refuses first.
    co_await s->write(
        "POST /early HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n"
        "Expect: 100-continue\r\n\r\n");
    std::string all = co_await with_timeout(3s, s->read_until_close());
    EXPECT_EQ(all.substr(0, 27), "HTTP/1.1 401 Unauthorized\r\n");
    EXPECT_EQ(all.find("100"), std::string::npos) << all;
    EXPECT_NE(all.find("\r\nConnection: close\r\n"), std::string::npos) << all;
    EXPECT_TRUE(all.ends_with("\r\n\r\nno"));
  });
  ASSERT_EQ(log_.requests.size(), 1u);
  EXPECT_EQ(log_.requests[0]->chunk_lengths.size(), 0u);  // not a byte of the body read
}

TEST_F(HTTPServerDelegateTest, AnswerFromHeadersReceivedWithoutBodyKeepsAlive) {
  start();
  run_sync([&]() -> Task<> {
    auto s = co_await connect();
    for (int i = 0; i < 2; ++i) {
      co_await s->write("GET /early HTTP/1.1\r\nHost: x\r\n\r\n");
      std::string head = co_await s->read_until("\r\n\r\n");
      EXPECT_EQ(head.find("Connection: close"), std::string::npos) << head;
      EXPECT_EQ(co_await s->read_bytes(2), "no");
    }
  });
  EXPECT_EQ(log_.requests.size(), 2u);
}

TEST_F(HTTPServerDelegateTest, EarlyAnswerWithBodyInFlightCloses) {
  start();
  run_sync([&]() -> Task<> {
    auto s = co_await connect();
    co_await s->write("PUT /early HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc");
    std::string all = co_await with_timeout(3s, s->read_until_close());
    EXPECT_EQ(all.substr(0, 12), "HTTP/1.1 401");
  });
  EXPECT_EQ(log_.requests.size(), 1u);  // the body was never taken for a second request
}

TEST_F(HTTPServerDelegateTest, ClientLeavingMidUploadCallsOnConnectionClose) {
  start({.chunk_size = 4});
  run_sync([&]() -> Task<> {
    auto s = co_await connect();
    co_await s->write("PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabcdefgh");
    while (log_.requests.empty() || log_.requests[0]->body.size() < 8) co_await sleep(1ms);
    s->close();
  });
  wait_for([&] { return log_.connections_closed == 1; });
  const auto& events = log_.requests[0]->events;
  EXPECT_EQ(events, (std::vector<std::string>{"headers", "data", "data", "close"}));
}

TEST_F(HTTPServerDelegateTest, ClientLeavingMidChunkedUploadCallsOnConnectionClose) {
  start();
  run_sync([&]() -> Task<> {
    auto s = co_await connect();
    co_await s->write(
        "PUT / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n");
    while (log_.requests.empty() || log_.requests[0]->body.size() < 3) co_await sleep(1ms);
    s->close();
  });
  wait_for([&] { return log_.connections_closed == 1; });
  EXPECT_EQ(log_.requests[0]->events.back(), "close");
}

TEST_F(HTTPServerDelegateTest, MaxBodySizeOverrideResetsForNextRequest) {
  start({.max_body_size = 4096});
  ExpectLog expect(gen_log(), "Malformed HTTP message.*Content-Length too long");
  run_sync([&]() -> Task<> {
    auto s = co_await connect();
    co_await s->write("PUT /limit?size=10240 HTTP/1.1\r\nHost: x\r\nContent-Length: 10240\r\n\r\n" +
                      std::string(10240, 'a'));
    std::string head = co_await s->read_until("\r\n\r\n");
    EXPECT_EQ(head.substr(0, 15), "HTTP/1.1 200 OK");
    co_await s->read_bytes(std::stoul(head.substr(head.find("Length: ") + 8)));
    EXPECT_EQ(log_.requests.at(0)->body.size(), 10240u);
    // Same connection, no override: the server-wide limit is back.
    co_await s->write("PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 10240\r\n\r\n");
    std::string rest = co_await with_timeout(3s, s->read_until_close());
    EXPECT_EQ(rest.substr(0, 12), "HTTP/1.1 413");
  });
}

TEST_F(HTTPServerDelegateTest, MaxBodySizeOverrideAppliesToChunkedBodies) {
  start({.max_body_size = 4096});
  std::string body = chunked({std::string(6000, 'a'), std::string(4240, 'b')});
  EXPECT_EQ(post("/limit?size=10240", "Transfer-Encoding: chunked\r\n", body), "[6000,4240]");
}

TEST_F(HTTPServerDelegateTest, BodyTimeoutOverrideDropsSlowUpload) {
  start({.body_timeout = Duration(3600)});
  run_sync([&]() -> Task<> {
    auto s = co_await connect();
    co_await s->write("PUT /timeout?ms=50 HTTP/1.0\r\nContent-Length: 42\r\n\r\n");
    EXPECT_EQ(co_await with_timeout(3s, s->read_until_close()), "");
  });
  EXPECT_EQ(log_.requests[0]->events.back(), "close");
}

TEST_F(HTTPServerDelegateTest, CloseAllConnectionsClosesIdleAndBusyOnes) {
  start();
  run_sync([&]() -> Task<> {
    auto idle = co_await connect();
    co_await idle->write("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nz");
    co_await idle->read_until("[1]");
    auto mid_body = co_await connect();
    co_await mid_body->write("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 9\r\n\r\nab");
    while (log_.requests.size() < 2) co_await sleep(1ms);  // keeps the traces in order
    auto waiting = co_await connect();
    co_await waiting->write("GET /hold HTTP/1.1\r\nHost: x\r\n\r\n");
    while (server_->connection_count() < 3 || log_.requests.size() < 3) co_await sleep(1ms);
    server_->close_all_connections();
    for (auto* s : {&idle, &mid_body, &waiting}) {
      EXPECT_EQ(co_await with_timeout(3s, (*s)->read_until_close()), "");
    }
    while (server_->connection_count() > 0) co_await sleep(1ms);
  });
  EXPECT_EQ(log_.connections_closed, 3);
  EXPECT_EQ(log_.requests[1]->events.back(), "close");  // the one cut mid-body
  // The one waiting for its answer had its whole request: finish ran, then the
  // connection's close callback told the application.
  EXPECT_EQ(log_.requests[2]->events,
            (std::vector<std::string>{"headers", "finish", "conn_closed"}));
}

// The stream's close callback (set while the application answers late) runs on a later
// iteration than the serve loop's resumption: the connection may be gone by then, and the
// callback must not reach it (a use after free under ASan before the fix).
TEST_F(HTTPServerDelegateTest, StreamClosedAsALateAnswerFinishesLeavesNoDanglingCallback) {
  start();
  run_sync([&]() -> Task<> {
    auto s = co_await connect();
    co_await s->write("GET /answer_and_close HTTP/1.1\r\nHost: x\r\n\r\n");
    std::string response = co_await with_timeout(3s, s->read_until_close());
    EXPECT_TRUE(response.ends_with("\r\n\r\nlate")) << response;
    while (server_->connection_count() > 0) co_await sleep(1ms);
    co_await sleep(5ms);  // the close callback's turn
  });
  EXPECT_EQ(log_.connections_closed, 1);
}

TEST_F(HTTPServerDelegateTest, OnCloseOncePerConnectionAfterKeepAlive) {
  start();
  run_sync([&]() -> Task<> {
    auto s = co_await connect();
    for (int i = 0; i < 3; ++i) {
      co_await s->write("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi");
      co_await s->read_until("[2]");
    }
    s->close();
    while (log_.connections_closed == 0) co_await sleep(1ms);
  });
  EXPECT_EQ(log_.requests.size(), 3u);
  EXPECT_EQ(log_.connections_closed, 1);
}

// A connection is served as a root frame with nobody to rethrow to: an application whose
// on_close throws gets a log line, and the server (and its other connections) go on.
TEST_F(HTTPServerDelegateTest, OnCloseThatThrowsIsLoggedAndServingGoesOn) {
  start();
  log_.throw_in_on_close = true;
  ExpectLog expect(app_log(), "Uncaught exception in on_close.*on_close failed");
  run_sync([&]() -> Task<> {
    auto other = co_await connect();
    for (int i = 0; i < 2; ++i) {
      auto s = co_await connect();
      co_await s->write("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi");
      co_await s->read_until("[2]");
      s->close();
      while (log_.connections_closed < i + 1) co_await sleep(1ms);
    }
    co_await other->write("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nz");
    co_await with_timeout(3s, other->read_until("[1]"));
  });
  // (The third connection may have been closed too by now: it leaves with the task.)
  EXPECT_GE(log_.connections_closed, 2);
  EXPECT_EQ(expect.matched(), log_.connections_closed);
  log_.throw_in_on_close = false;
}

namespace {

// A request handler run as a spawned task that the connection's close callback cancels:
// how an application stops work for a client that went away (Tornado users ask for it;
// asyncio gives it with task.cancel()).
struct HandlerRecord {
  bool started = false;
  bool cancelled = false;       // the handler saw CancelledError at its suspension point
  bool frame_released = false;  // the handler frame's locals were destroyed
};

class CancellingDelegate final : public httputil::HTTPMessageDelegate {
 public:
  CancellingDelegate(HTTPConnection* conn, HandlerRecord& record) : conn_(conn), record_(record) {}
  Task<> headers_received(const StartLine&, HTTPHeaders&) override { co_return; }
  Task<> data_received(std::string_view) override { co_return; }
  void finish() override {
    Future<void> handler = spawn(handle(conn_, record_));
    conn_->set_close_callback([handler]() mutable { handler.cancel(); });
  }
  void on_connection_close() override {}

 private:
  static Task<> handle(HTTPConnection* conn, HandlerRecord& record) {
    struct Guard {
      HandlerRecord& r;
      ~Guard() { r.frame_released = true; }
    } guard{record};
    record.started = true;
    try {
      co_await sleep(60s);  // slow work: a query, an upstream call
    } catch (const CancelledError&) {
      record.cancelled = true;
      // The exchange ends with finish() whoever left: the connection object stays until
      // then, since the handler still holds it. Nothing is sent to a closed stream.
      answer(conn, 503, "");
      throw;
    }
    answer(conn, 200, "late");
  }
  HTTPConnection* conn_;
  HandlerRecord& record_;
};

class CancellingApp final : public httputil::HTTPServerConnectionDelegate {
 public:
  explicit CancellingApp(HandlerRecord& record) : record_(record) {}
  std::unique_ptr<httputil::HTTPMessageDelegate> start_request(HTTPConnection* conn) override {
    return std::make_unique<CancellingDelegate>(conn, record_);
  }

 private:
  HandlerRecord& record_;
};

}  // namespace

TEST_F(HTTPServerDelegateTest, HandlerTaskIsCancelledWhenItsClientGoesAway) {
  HandlerRecord record;
  auto [fd, port] = tornado::testing::bind_unused_port();
  HTTPServer server(std::make_shared<CancellingApp>(record));
  server.add_socket(fd);
  run_sync([&]() -> Task<> {
    auto client = co_await test::connect_loopback(port);
    co_await client->write("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n");
    while (!record.started) co_await sleep(1ms);
    client->close();
    for (int i = 0; i < 2000 && !record.frame_released; ++i) co_await sleep(1ms);
  });
  EXPECT_TRUE(record.cancelled);
  EXPECT_TRUE(record.frame_released);
  EXPECT_EQ(server.connection_count(), 0u);
}

// headers_received_now, the synchronous form of headers_received (Tornado's may return
// None): a delegate that takes the head there returning true is not asked again through
// headers_received; one that returns false (the default's answer) is, after it. Its body
// still arrives through data_received and finish; with xheaders the wrapping delegate keeps
// the default, so the inner one is reached through headers_received.
namespace {
struct NowLog {
  std::vector<std::string> events;
};
// What both delegates below share: the body collected, the answer (path and body) at finish,
// every step logged.
class LoggingDelegate : public httputil::HTTPMessageDelegate {
 public:
  LoggingDelegate(HTTPConnection* conn, NowLog& log) : conn_(conn), log_(log) {}
  Task<> data_received(std::string_view chunk) override {
    body_.append(chunk);
    co_return;
  }
  void finish() override {
    log_.events.push_back("finish " + path_ + " " + body_);
    answer(conn_, 200, path_ + body_);
  }
  void on_connection_close() override { log_.events.push_back("close"); }

 protected:
  HTTPConnection* conn_;
  NowLog& log_;
  std::string path_, body_;
};
template <typename Delegate>
class LoggingApp final : public httputil::HTTPServerConnectionDelegate {
 public:
  explicit LoggingApp(NowLog& log) : log_(log) {}
  std::unique_ptr<httputil::HTTPMessageDelegate> start_request(HTTPConnection* conn) override {
    return std::make_unique<Delegate>(conn, log_);
  }

 private:
  NowLog& log_;
};
class NowDelegate final : public LoggingDelegate {
 public:
  using LoggingDelegate::LoggingDelegate;
  bool headers_received_now(const StartLine& start_line, HTTPHeaders&) override {
    path_ = std::get<RequestStartLine>(start_line).path;
    log_.events.push_back("now " + path_);
    return path_ != "/task";
  }
  Task<> headers_received(const StartLine& start_line, HTTPHeaders&) override {
    path_ = std::get<RequestStartLine>(start_line).path;
    log_.events.push_back("task " + path_);
    co_return;
  }
};
using NowApp = LoggingApp<NowDelegate>;
}  // namespace

TEST_F(HTTPServerDelegateTest, HeadersReceivedNowTakesTheHeadWithoutTheTask) {
  for (bool xheaders : {false, true}) {
    NowLog log;
    auto [fd, port] = tornado::testing::bind_unused_port();
    HTTPServerOptions options;
    options.xheaders = xheaders;
    HTTPServer server(std::make_shared<NowApp>(log), options);
    server.add_socket(fd);
    std::string got = run_sync([&, port = port]() -> Task<std::string> {
      auto s = co_await test::connect_loopback(port);
      co_await s->write(
          "GET /now HTTP/1.1\r\nHost: x\r\n\r\n"
          "POST /body HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
          "GET /task HTTP/1.1\r\nHost: x\r\n\r\n");
      std::string bodies;
      for (int i = 0; i < 3; ++i) bodies += co_await read_body(*s) + ";";
      co_return bodies;
    });
    EXPECT_EQ(got, "/now;/bodyabc;/task;");
    const std::vector<std::string> direct = {"now /now",  "finish /now ",     "now /body",
                                             "finish /body abc", "now /task", "task /task",
                                             "finish /task "};
    // Through XHeadersDelegate (default: false), every head goes to headers_received.
    const std::vector<std::string> wrapped = {"task /now",        "finish /now ", "task /body",
                                              "finish /body abc", "task /task",   "finish /task "};
    EXPECT_EQ(log.events, xheaders ? wrapped : direct) << "xheaders " << xheaders;
    server.close_all_connections();
    run_sync([&]() -> Task<> {
      while (server.connection_count() > 0) co_await sleep(1ms);
    });
  }
}

// request_head_now, the server connection's first call: the request line as views into the
// read buffer (right for each of several pipelined requests in one read), the headers to
// take; returning false with the line filled in has headers_received called with it, and an
// HTTPInputError thrown there is answered 400 like one from headers_received (the head's
// bytes released either way: the request after it is read normally).
namespace {
class ViewDelegate final : public LoggingDelegate {
 public:
  using LoggingDelegate::LoggingDelegate;
  bool request_head_now(const httputil::RequestLineView& line, HTTPHeaders& headers,
                        StartLine& start_line) override {
    path_ = std::string(line.path);
    log_.events.push_back("view " + std::string(line.method) + " " + path_ + " " +
                          std::string(line.version) + " host=" +
                          std::string(headers.get_first("Host").value_or("-")));
    if (path_ == "/throw") throw httputil::HTTPInputError("refused by the delegate", 400);
    if (path_ != "/task") return true;
    start_line.emplace<RequestStartLine>(httputil::to_start_line(line));
    return false;
  }
  Task<> headers_received(const StartLine& start_line, HTTPHeaders&) override {
    const auto& line = std::get<RequestStartLine>(start_line);
    log_.events.push_back("task " + line.method + " " + line.path + " " + line.version);
    co_return;
  }
};
using ViewApp = LoggingApp<ViewDelegate>;
}  // namespace

TEST_F(HTTPServerDelegateTest, RequestHeadNowGetsTheLineAsViewsOfEachPipelinedRequest) {
  NowLog log;
  auto [fd, port] = tornado::testing::bind_unused_port();
  HTTPServer server(std::make_shared<ViewApp>(log));
  server.add_socket(fd);
  ExpectLog refused(gen_log(), "refused by the delegate");
  std::string got = run_sync([&, port = port]() -> Task<std::string> {
    auto s = co_await test::connect_loopback(port);
    co_await s->write(
        "GET /a?x=1 HTTP/1.1\r\nHost: one\r\n\r\n"
        "POST /body HTTP/1.1\r\nHost: two\r\nContent-Length: 3\r\n\r\nabc"
        "PUT /task HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n"
        "GET /throw HTTP/1.1\r\nHost: x\r\n\r\n");
    std::string bodies;
    for (int i = 0; i < 3; ++i) bodies += co_await read_body(*s) + ";";
    bodies += (co_await s->read_until("\r\n")).substr(0, 24);
    co_return bodies;
  });
  EXPECT_EQ(got, "/a?x=1;/bodyabc;/task;HTTP/1.1 400 Bad Request");
  const std::vector<std::string> expected = {
      "view GET /a?x=1 HTTP/1.1 host=one", "finish /a?x=1 ",
      "view POST /body HTTP/1.1 host=two", "finish /body abc",
      "view PUT /task HTTP/1.0 host=-",    "task PUT /task HTTP/1.0",
      "finish /task ",                     "view GET /throw HTTP/1.1 host=x",
      "close"};
  EXPECT_EQ(log.events, expected);
  server.close_all_connections();
  run_sync([&]() -> Task<> {
    while (server.connection_count() > 0) co_await sleep(1ms);
  });
}

}  // namespace httpserver_delegate_test
