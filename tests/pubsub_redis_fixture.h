// The fixture of the hub's Redis tests: a redis-server of the test's own (a free port, its
// own directory) and two hubs, each with its own Redis connections, as two processes would
// have.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "internal/redis.h"
#include "redis_test_util.h"
#include "tornado/pubsub.h"
#include "tornado/testing.h"

namespace tornado::test {

using namespace std::chrono_literals;
using pubsub::Hub;
using pubsub::MessagePtr;
using V = std::vector<std::string>;

class HubRedisTest : public tornado::testing::AsyncTest {
 protected:
  void SetUp() override {
    AsyncTest::SetUp();
    redis = std::make_unique<test::RedisServer>();
    a = std::make_unique<Hub>();
    b = std::make_unique<Hub>();
    connect(*a);
    connect(*b);
  }
  void TearDown() override {
    a.reset();
    b.reset();
    settle(20ms);
    AsyncTest::TearDown();
  }
  void connect(Hub& hub, std::size_t outbox = 10000) {
    pubsub::RedisOptions o;
    o.port = redis->port();
    o.outbox_limit = outbox;
    run_sync([&]() -> Task<> { co_await hub.connect_redis(o); });
  }
  void settle(Duration d = Duration(0.1)) {
    run_sync([d]() -> Task<> { co_await sleep(d); });
  }
  // Waits until `out` has `n` entries (or 8 s).
  // Lets the loop run until `done` or `limit` has passed (by the clock: a loaded machine
  // stretches a count of sleeps), within run_sync's own timeout.
  void wait_until(const std::function<bool()>& done, Duration limit = Duration(8)) {
    run_sync([&]() -> Task<> {
      const auto deadline = std::chrono::steady_clock::now() + limit;
      while (!done() && std::chrono::steady_clock::now() < deadline) co_await sleep(10ms);
    }, limit + Duration(5));
  }
  void wait_for(const V& out, std::size_t n) {
    wait_until([&] { return out.size() >= n; });
  }
  pubsub::Subscription record(Hub& hub, const std::string& topic, V& out) {
    return hub.subscribe(topic, [&out](const MessagePtr& m) {
      out.push_back(std::string(m->data()) + "@" + std::to_string(m->position().offset));
    });
  }
  // How many Redis subscribers the topic's channel has (PUBSUB NUMSUB).
  int64_t channel_subscribers(const std::string& topic) {
    return command({"PUBSUB", "NUMSUB", "tornado:" + topic}).elements.at(1).integer;
  }
  // One command on a connection of the test's own.
  redis::Reply command(std::vector<std::string> args) {
    return run_sync([&]() -> Task<redis::Reply> {
      auto c = co_await redis::Connection::connect("127.0.0.1", redis->port(), Duration(5));
      redis::Reply r = co_await c->command(std::move(args));
      c->close();
      co_return r;
    });
  }
  std::unique_ptr<test::RedisServer> redis;
  std::unique_ptr<Hub> a, b;
};

}  // namespace tornado::test
