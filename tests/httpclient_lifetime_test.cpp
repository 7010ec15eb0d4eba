// An AsyncHTTPClient that outlives its IOLoop: the keep-alive pool and the fetch watchdog
// keep the loop's LoopRef, not the loop, so closing or destroying the client after the loop
// is gone touches no freed memory (before LoopRef: an ASan heap-use-after-free in the pool's
// remove_timeout). Meaningful under the ASan build (scripts/test --sanitize).
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "http_test_util.h"
#include "tornado/httpclient.h"
#include "tornado/httpserver.h"
#include "tornado/ioloop.h"
#include "tornado/testing_core.h"

namespace httpclient_lifetime_test {

using namespace tornado;
using namespace tornado::httpclient;

namespace {

// A loop with an HTTP server on it that answers every request with "ok" (kept alive).
struct LoopWithServer {
  std::unique_ptr<IOLoop> loop = std::make_unique<IOLoop>(/*make_current=*/true);
  std::unique_ptr<HTTPServer> server;
  int port = 0;
  LoopWithServer() {
    auto [fd, p] = tornado::testing::bind_unused_port();
    port = p;
    server = std::make_unique<HTTPServer>(
        [](httputil::HTTPServerRequest& req) { test::respond(req, 200, "ok"); });
    server->add_socket(fd);
  }
  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port) + path;
  }
  // Stops the server and destroys the loop (which closes what is left on it).
  void destroy_loop() {
    server->stop();
    server->close_all_connections();
    server.reset();
    loop.reset();
  }
};

TEST(HTTPClientLifetimeTest, ClientWithAnIdleConnectionDestroyedAfterItsLoop) {
  LoopWithServer env;
  auto client = std::make_unique<AsyncHTTPClient>();
  HTTPResponse r = env.loop->run_sync(
      [&]() -> Task<HTTPResponse> { co_return co_await client->fetch(env.url("/")); });
  EXPECT_EQ(r.body, "ok");
  ASSERT_EQ(client->idle_connection_count(), 1u) << "the connection is pooled, its timer armed";
  env.destroy_loop();
  client->close();  // closes the pooled stream and removes its timer: the loop is gone
  EXPECT_EQ(client->idle_connection_count(), 0u);
  client.reset();
}

TEST(HTTPClientLifetimeTest, ClientWithAnIdleConnectionClosedByItsDestructorAfterItsLoop) {
  LoopWithServer env;
  auto client = std::make_unique<AsyncHTTPClient>();
  env.loop->run_sync([&]() -> Task<> { (void)co_await client->fetch(env.url("/")); });
  ASSERT_EQ(client->idle_connection_count(), 1u);
  env.destroy_loop();
  client.reset();
}

// A fetch suspended with its request-timeout watchdog armed when the loop goes: the loop
// destroys the fetch's frames; the client, destroyed later, finds nothing of the loop. (This
// one passed with the raw IOLoop* too — nothing cancels the watchdog on that path — and is
// kept as the contract for the watchdog's LoopRef.)
TEST(HTTPClientLifetimeTest, FetchInFlightWithATimeoutWhenItsLoopIsDestroyed) {
  LoopWithServer env;
  // A server that never answers: the fetch waits for the response head.
  auto [silent_fd, silent_port] = tornado::testing::bind_unused_port();
  auto client = std::make_unique<AsyncHTTPClient>();
  HTTPRequest request;
  request.url = "http://127.0.0.1:" + std::to_string(silent_port) + "/";
  request.request_timeout = 3600s;
  Future<HTTPResponse> f = spawn(client->fetch(request));
  env.loop->run_sync([]() -> Task<> { co_await sleep(50ms); });
  ASSERT_FALSE(f.done());
  env.destroy_loop();
  client.reset();
  ::close(silent_fd);
}

}  // namespace

}  // namespace httpclient_lifetime_test
