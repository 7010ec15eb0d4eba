// HTTPRequest::body_producer (Tornado's streamed request bodies): a coroutine given a write
// function streams the body with backpressure, with Content-Length or chunked; its errors
// fail the fetch unchanged and never leave the connection in the pool. The server side is a
// stream_request_body handler that hashes what it receives.
#include <gtest/gtest.h>

#include "sanitizer_detect.h"
#include <openssl/evp.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "tornado/escape.h"
#include "tornado/httpclient.h"
#include "tornado/testing.h"
#include "tornado/web.h"

namespace httpclient_body_producer_test {

using namespace tornado;
using httpclient::BodyWriter;
using httpclient::HTTPRequest;
using httpclient::HTTPResponse;

namespace {

// Incremental SHA-256 through OpenSSL's EVP interface, as lowercase hex.
class Sha256 {
 public:
  Sha256() : ctx_(EVP_MD_CTX_new()) { EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr); }
  ~Sha256() { EVP_MD_CTX_free(ctx_); }
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void update(std::string_view bytes) { EVP_DigestUpdate(ctx_, bytes.data(), bytes.size()); }
  std::string hex() {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    EVP_DigestFinal_ex(ctx_, digest, &length);
    static const char* const kDigits = "0123456789abcdef";
    std::string out;
    for (unsigned int i = 0; i < length; ++i) {
      out += kDigits[digest[i] >> 4];
      out += kDigits[digest[i] & 15];
    }
    return out;
  }

 private:
  EVP_MD_CTX* ctx_;
};

// AddressSanitizer keeps freed memory in quarantine (256 MiB by default): under it RSS grows
// with every piece freed, so the RSS check is left to the other builds (the backpressure
// itself is checked by SlowServerHoldsTheProducerBack in every build).
constexpr bool kRssIsMeaningful = !TORNADO_TEST_ASAN;

// Resident set size of this process, in bytes (VmRSS), or 0 if unreadable.
std::size_t resident_bytes() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.starts_with("VmRSS:")) return std::stoul(line.substr(6)) * 1024;
  }
  return 0;
}

// What the server saw of the last upload; `gate_open` = false holds data_received.
struct ServerSide {
  std::size_t received = 0;
  bool gate_open = true;
  std::string transfer_encoding;
};
ServerSide server;

// Answers "<bytes> <sha256>" for the streamed body.
struct HashUpload : web::RequestHandler {
  bool stream_request_body() const override { return true; }
  Task<> prepare() override {
    server.transfer_encoding = request().headers.get("Transfer-Encoding", "-");
    co_return;
  }
  Task<> data_received(std::string_view chunk) override {
    server.received += chunk.size();
    sha_.update(chunk);
    while (!server.gate_open) co_await sleep(1ms);
  }
  Task<> put() override { return answer(); }
  Task<> post() override { return answer(); }
  Task<> answer() {
    write(std::to_string(server.received) + " " + sha_.hex());
    co_return;
  }

 private:
  Sha256 sha_;
};

struct Hello : web::RequestHandler {
  Task<> get() override {
    write("hello");
    co_return;
  }
};

// 307 back to /hash with the same method (and so the same body).
struct Redirect307 : web::RequestHandler {
  Task<> put() override {
    redirect("/hash", false, 307);
    co_return;
  }
};

// Deterministic pseudo-random bytes (the same for a seed), in pieces of `piece`.
std::string random_piece(std::mt19937_64& rng, std::size_t piece) {
  std::string out(piece, '\0');
  for (std::size_t i = 0; i + 8 <= piece; i += 8) {
    uint64_t v = rng();
    std::memcpy(out.data() + i, &v, 8);
  }
  return out;
}

class BodyProducerTest : public tornado::testing::AsyncHTTPTest {
 protected:
  void SetUp() override {
    server = ServerSide{};
    AsyncHTTPTest::SetUp();
  }
  tornado::testing::HTTPApp get_app() override {
    return std::make_shared<web::Application>(std::vector<web::URLSpec>{
        {"/hash", web::handler<HashUpload>()},
        {"/hello", web::handler<Hello>()},
        {"/redirect307", web::handler<Redirect307>()},
    });
  }
  HTTPServerOptions get_httpserver_options() override {
    HTTPServerOptions o;
    o.max_body_size = std::size_t(1) << 30;
    return o;
  }
};

TEST_F(BodyProducerTest, Streams64MiBWithContentLengthInFlatMemory) {
  constexpr std::size_t kPiece = 64 * 1024;
  constexpr std::size_t kSize = 64 * 1024 * 1024;
  Sha256 sent;
  std::size_t rss_start = resident_bytes(), rss_peak = rss_start;
  HTTPRequest req;
  req.method = "PUT";
  req.headers.set("Content-Length", std::to_string(kSize));
  req.request_timeout = Duration(120);
  req.body_producer = [&](BodyWriter write) -> Task<> {
    std::mt19937_64 rng(7);
    for (std::size_t done = 0; done < kSize; done += kPiece) {
      std::string piece = random_piece(rng, kPiece);
      sent.update(piece);
      co_await write(piece);
      if ((done / kPiece) % 64 == 0) rss_peak = std::max(rss_peak, resident_bytes());
    }
  };
  HTTPResponse r = fetch("/hash", req);
  ASSERT_EQ(r.code, 200) << r.body;
  EXPECT_EQ(r.body, std::to_string(kSize) + " " + sent.hex());
  EXPECT_EQ(server.transfer_encoding, "-");
  // The whole body held anywhere (client or server) would add 64 MiB.
  if (kRssIsMeaningful) {
    EXPECT_LT(rss_peak - rss_start, std::size_t(24) << 20)
        << "start " << rss_start << " peak " << rss_peak;
  }
  // The connection was left reusable.
  EXPECT_EQ(http_client().idle_connection_count(), 1u);
}

TEST_F(BodyProducerTest, WithoutContentLengthTheBodyIsChunked) {
  Sha256 sent;
  std::size_t total = 0;
  HTTPRequest req;
  req.method = "POST";
  req.body_producer = [&](BodyWriter write) -> Task<> {
    for (int i = 0; i < 100; ++i) {
      std::string piece(std::size_t(i) * 37 + 1, char('a' + i % 26));
      sent.update(piece);
      total += piece.size();
      co_await write(piece);
      if (i % 10 == 0) co_await sleep(1ms);  // pieces arrive over time
    }
    co_await write("");  // an empty write sends nothing (no premature last-chunk)
  };
  HTTPResponse r = fetch("/hash", req);
  ASSERT_EQ(r.code, 200) << r.body;
  EXPECT_EQ(server.transfer_encoding, "chunked");
  EXPECT_EQ(r.body, std::to_string(total) + " " + sent.hex());
  EXPECT_EQ(fetch("/hello").body, "hello");  // the connection is still in step
  EXPECT_EQ(http_client().connections_opened(), 1u);
}

TEST_F(BodyProducerTest, AnEmptyProducerSendsAnEmptyBody) {
  HTTPRequest req;
  req.method = "PUT";
  req.body_producer = [](BodyWriter) -> Task<> { co_return; };
  HTTPResponse r = fetch("/hash", req);
  EXPECT_EQ(r.body, "0 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST_F(BodyProducerTest, SlowServerHoldsTheProducerBack) {
  constexpr std::size_t kPiece = 64 * 1024;
  constexpr std::size_t kSize = 32 * 1024 * 1024;
  server.gate_open = false;
  std::size_t written = 0;
  std::size_t written_while_held = 0;
  HTTPRequest req;
  req.method = "PUT";
  req.headers.set("Content-Length", std::to_string(kSize));
  req.body_producer = [&](BodyWriter write) -> Task<> {
    std::string piece(kPiece, 'p');
    for (; written < kSize; written += kPiece) co_await write(piece);
  };
  req.url = get_url("/hash");
  std::string body = run_sync([&]() -> Task<std::string> {
    auto pending = spawn(http_client().fetch(req));
    while (server.received == 0) co_await sleep(1ms);
    co_await sleep(300ms);
    written_while_held = written;
    server.gate_open = true;
    HTTPResponse r = co_await std::move(pending);
    co_return r.body;
  });
  // Held by the server, the producer got no further than the socket buffers allow.
  EXPECT_LT(written_while_held, kSize / 2) << written_while_held;
  EXPECT_EQ(body.substr(0, body.find(' ')), std::to_string(kSize));
}

TEST_F(BodyProducerTest, ProducerExceptionFailsTheFetchUnchangedAndClosesTheConnection) {
  EXPECT_EQ(fetch("/hello").body, "hello");  // one pooled connection
  ASSERT_EQ(http_client().idle_connection_count(), 1u);
  HTTPRequest req;
  req.method = "PUT";
  req.body_producer = [](BodyWriter write) -> Task<> {
    co_await write("some bytes");
    throw std::runtime_error("the disk is on fire");
  };
  try {
    fetch("/hash", req);
    ADD_FAILURE() << "no exception";
  } catch (const httpclient::HTTPClientError& e) {
    ADD_FAILURE() << "wrapped: " << e.what();
  } catch (const std::runtime_error& e) {
    EXPECT_EQ(std::string(e.what()), "the disk is on fire");
  }
  EXPECT_EQ(http_client().idle_connection_count(), 0u);
  EXPECT_EQ(http_client().active_count(), 0u);
  EXPECT_EQ(fetch("/hello").body, "hello");
  EXPECT_EQ(http_client().connections_opened(), 2u);  // the broken one was not reused
}

TEST_F(BodyProducerTest, WritingMoreThanContentLengthFails) {
  HTTPRequest req;
  req.method = "PUT";
  req.headers.set("Content-Length", "5");
  req.body_producer = [](BodyWriter write) -> Task<> {
    co_await write("abc");
    co_await write("def");
  };
  try {
    fetch("/hash", req);
    ADD_FAILURE() << "no exception";
  } catch (const httputil::HTTPOutputError& e) {
    EXPECT_NE(std::string(e.what()).find("more data than Content-Length"), std::string::npos)
        << e.what();
  }
  EXPECT_EQ(http_client().idle_connection_count(), 0u);
}

TEST_F(BodyProducerTest, WritingLessThanContentLengthFails) {
  HTTPRequest req;
  req.method = "PUT";
  req.headers.set("Content-Length", "10");
  req.body_producer = [](BodyWriter write) -> Task<> { co_await write("abc"); };
  try {
    fetch("/hash", req);
    ADD_FAILURE() << "no exception";
  } catch (const httputil::HTTPOutputError& e) {
    EXPECT_NE(std::string(e.what()).find("7 bytes less than Content-Length"), std::string::npos)
        << e.what();
  }
  EXPECT_EQ(http_client().idle_connection_count(), 0u);
  EXPECT_EQ(fetch("/hello").body, "hello");
}

TEST_F(BodyProducerTest, ExpectContinueRunsTheProducerAfterThe100) {
  bool ran = false;
  HTTPRequest req;
  req.method = "PUT";
  req.expect_100_continue = true;
  req.body_producer = [&](BodyWriter write) -> Task<> {
    ran = true;
    co_await write("after the 100");
  };
  HTTPResponse r = fetch("/hash", req);
  EXPECT_TRUE(ran);
  Sha256 expected;
  expected.update("after the 100");
  EXPECT_EQ(r.body, "13 " + expected.hex());
}

// The last chunk goes out in its own write after the producer's: with Nagle on, it waited
// for the server's delayed ACK (40 ms per request).
TEST_F(BodyProducerTest, TheLastChunkIsNotHeldBackByNagle) {
  HTTPRequest req;
  req.method = "PUT";
  req.body_producer = [](BodyWriter write) -> Task<> { co_await write("small"); };
  // Each request on the same pooled connection; the median is what a user sees.
  std::vector<double> times;
  for (int i = 0; i < 7; ++i) times.push_back(fetch("/hash", req).request_time);
  std::sort(times.begin(), times.end());
  EXPECT_LT(times[3], 0.02) << "median " << times[3] << " s";
}

TEST_F(BodyProducerTest, Redirect307RunsTheProducerAgain) {
  int calls = 0;
  HTTPRequest req;
  req.method = "PUT";
  req.body_producer = [&](BodyWriter write) -> Task<> {
    ++calls;
    co_await write("again");
  };
  HTTPResponse r = fetch("/redirect307", req);
  EXPECT_EQ(calls, 2);
  Sha256 expected;
  expected.update("again");
  EXPECT_EQ(r.body, "5 " + expected.hex());
}

TEST_F(BodyProducerTest, WriteAfterTheProducerEndedIsALogicError) {
  BodyWriter kept;
  HTTPRequest req;
  req.method = "PUT";
  req.body_producer = [&](BodyWriter write) -> Task<> {
    kept = write;
    co_return;
  };
  EXPECT_EQ(fetch("/hash", req).code, 200);
  EXPECT_THROW((void)kept("late"), std::logic_error);
}

TEST_F(BodyProducerTest, InvalidCombinationsAreRefused) {
  auto producer = [](BodyWriter) -> Task<> { co_return; };
  HTTPRequest both;
  both.method = "PUT";
  both.body = "x";
  both.body_producer = producer;
  EXPECT_THROW(fetch("/hash", both), std::invalid_argument);
  HTTPRequest get;  // GET with a body needs allow_nonstandard_methods
  get.body_producer = producer;
  EXPECT_THROW(fetch("/hash", get), std::invalid_argument);
  HTTPRequest unframed;  // a method the connection would not chunk, and no Content-Length
  unframed.method = "DELETE";
  unframed.allow_nonstandard_methods = true;
  unframed.body_producer = producer;
  EXPECT_THROW(fetch("/hash", unframed), std::invalid_argument);
}

}  // namespace

}  // namespace httpclient_body_producer_test
