// The Redis client under the hub's Redis backend: the RESP reply reader (every type, every
// split, bounds, garbage) and a connection to a real redis-server (pipelining, error
// replies, pub/sub push messages, a server that goes away).
#include <gtest/gtest.h>

#include "internal/redis.h"
#include "redis_test_util.h"
#include "tornado/testing.h"

namespace redis_test {

using namespace tornado;
using namespace std::chrono_literals;
using redis::ProtocolError;
using redis::Reply;
using redis::ReplyReader;

namespace {

std::vector<std::string> parse_all(std::string_view bytes, std::size_t piece) {
  ReplyReader reader;
  std::vector<std::string> out;
  for (std::size_t i = 0; i < bytes.size(); i += piece) {
    reader.feed(bytes.substr(i, piece));
    while (auto r = reader.next()) out.push_back(r->describe());
  }
  return out;
}

TEST(RedisReplyReaderTest, EveryTypeAtEverySplit) {
  const std::string wire =
      "+OK\r\n-ERR wrong type\r\n:42\r\n:-7\r\n$5\r\nhello\r\n$0\r\n\r\n$-1\r\n*-1\r\n*0\r\n"
      "*3\r\n$1\r\na\r\n*2\r\n:1\r\n$-1\r\n+s\r\n$5\r\nb\r\nin\r\n";
  const std::vector<std::string> expected = {
      "OK", "(error) ERR wrong type", "(integer) 42", "(integer) -7", "\"hello\"", "\"\"",
      "(nil)", "(nil)", "[]", "[\"a\", [(integer) 1, (nil)], s]", "\"b\r\nin\"",
  };
  for (std::size_t piece = 1; piece <= wire.size(); ++piece) {
    ASSERT_EQ(parse_all(wire, piece), expected) << "piece " << piece;
  }
}

TEST(RedisReplyReaderTest, BulkStringsAreBinarySafe) {
  ReplyReader reader;
  const std::string wire = std::string("$4\r\n\0\r\n\xff\r\n", 10);
  reader.feed(wire);
  auto r = reader.next();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->type, Reply::Type::kString);
  EXPECT_EQ(r->str, std::string("\0\r\n\xff", 4));
  EXPECT_FALSE(reader.next());
}

TEST(RedisReplyReaderTest, GarbageIsAProtocolError) {
  for (const char* bad : {"?what\r\n", ":12x\r\n", "$abc\r\n", "*x\r\n"}) {
    ReplyReader reader;
    EXPECT_THROW(
        {
          reader.feed(bad);
          (void)reader.next();
        },
        ProtocolError)
        << bad;
  }
}

TEST(RedisReplyReaderTest, IncompleteReplyPastTheByteLimitIsAProtocolError) {
  redis::Limits limits;
  limits.max_reply_bytes = 1024;
  ReplyReader reader(limits);
  reader.feed("$100000\r\n");
  EXPECT_FALSE(reader.next());  // waiting for the data
  reader.feed(std::string(2000, 'x'));
  EXPECT_THROW((void)reader.next(), ProtocolError);
  // Many small replies fed at once are not one large reply.
  ReplyReader batch(limits);
  std::string many;
  for (int i = 0; i < 1000; ++i) many += ":1\r\n";
  batch.feed(many);
  int n = 0;
  while (batch.next()) ++n;
  EXPECT_EQ(n, 1000);
}

TEST(RedisReplyReaderTest, ArrayCountBombIsRefusedWithoutAllocatingIt) {
  redis::Limits limits;
  limits.max_array_elements = 1000;
  ReplyReader reader(limits);
  reader.feed("*2000000000\r\n");  // 2e9 elements: 16 GB of pointers if believed
  EXPECT_THROW((void)reader.next(), ProtocolError);
  ReplyReader fine(limits);
  fine.feed("*1000\r\n");
  EXPECT_FALSE(fine.next());
}

TEST(RedisReplyReaderTest, NestingPastHiredisDepthIsAProtocolError) {
  ReplyReader reader;
  std::string wire;
  for (int i = 0; i < 20; ++i) wire += "*1\r\n";
  reader.feed(wire + ":1\r\n");
  EXPECT_THROW((void)reader.next(), ProtocolError);
}

TEST(RedisEncodeTest, CommandIsAnArrayOfBulkStrings) {
  EXPECT_EQ(redis::encode_command({"SET", "k", std::string("a\r\nb\0", 5)}),
            std::string("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\na\r\nb\0\r\n", 31));
  EXPECT_EQ(redis::encode_command({"PING"}), "*1\r\n$4\r\nPING\r\n");
}

// ---- a connection to a real redis-server -----------------------------------------------------

class RedisConnectionTest : public tornado::testing::AsyncTest {
 protected:
  std::shared_ptr<redis::Connection> connect() {
    return run_sync([&]() -> Task<std::shared_ptr<redis::Connection>> {
      return redis::Connection::connect("127.0.0.1", server.port(), Duration(5));
    });
  }
  Reply command(redis::Connection& c, std::vector<std::string> args) {
    return run_sync([&]() -> Task<Reply> { return c.command(args); });
  }
  test::RedisServer server;
};

TEST_F(RedisConnectionTest, SetGetAndNil) {
  auto c = connect();
  EXPECT_EQ(command(*c, {"SET", "k", std::string("v\0\r\n", 4)}).describe(), "OK");
  EXPECT_EQ(command(*c, {"GET", "k"}).str, std::string("v\0\r\n", 4));
  EXPECT_TRUE(command(*c, {"GET", "missing"}).is_nil());
  c->close();
}

TEST_F(RedisConnectionTest, PipelinedCommandsGetTheirOwnRepliesInOrder) {
  auto c = connect();
  auto got = run_sync([&]() -> Task<std::vector<int64_t>> {
    std::vector<Future<Reply>> futures;
    for (int i = 0; i < 1000; ++i) futures.push_back(spawn(c->command({"INCR", "n"})));
    std::vector<int64_t> out;
    for (auto& f : futures) out.push_back((co_await f).integer);
    co_return out;
  });
  ASSERT_EQ(got.size(), 1000u);
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(got[i], i + 1);
  c->close();
}

TEST_F(RedisConnectionTest, ErrorReplyRaisesAndTheConnectionGoesOn) {
  auto c = connect();
  command(*c, {"SET", "s", "text"});
  EXPECT_THROW(command(*c, {"INCR", "s"}), redis::RedisError);
  EXPECT_EQ(command(*c, {"PING"}).describe(), "PONG");
  c->close();
}

TEST_F(RedisConnectionTest, SubscribedConnectionGetsPublishedMessages) {
  auto sub = connect();
  auto pub = connect();
  std::vector<std::string> got;
  sub->set_message_callback([&](std::string_view channel, std::string_view payload) {
    got.push_back(std::string(channel) + "=" + std::string(payload));
  });
  auto confirm = command(*sub, {"SUBSCRIBE", "news"});
  EXPECT_EQ(confirm.describe(), "[\"subscribe\", \"news\", (integer) 1]");
  EXPECT_EQ(command(*pub, {"PUBLISH", "news", "one"}).integer, 1);
  EXPECT_EQ(command(*pub, {"PUBLISH", "other", "x"}).integer, 0);
  EXPECT_EQ(command(*pub, {"PUBLISH", "news", std::string("t\0o", 3)}).integer, 1);
  run_sync([]() -> Task<> { co_await sleep(50ms); });
  EXPECT_EQ(got, (std::vector<std::string>{"news=one", "news=" + std::string("t\0o", 3)}));
  sub->close();
  pub->close();
}

TEST_F(RedisConnectionTest, ServerGoingAwayFailsPendingCommandsAndCallsBack) {
  auto c = connect();
  bool closed = false;
  c->set_close_callback([&] { closed = true; });
  auto f = run_sync([&]() -> Task<Future<Reply>> {
    // BLPOP waits on the server: pending when the server dies.
    co_return spawn(c->command({"BLPOP", "never", "0"}));
  });
  run_sync([]() -> Task<> { co_await sleep(20ms); });
  server.stop();
  EXPECT_THROW(run_sync([&]() -> Task<Reply> { co_return co_await f; }), StreamClosedError);
  run_sync([]() -> Task<> { co_await sleep(10ms); });
  EXPECT_TRUE(closed);
  EXPECT_TRUE(c->closed());
  EXPECT_THROW(command(*c, {"PING"}), StreamClosedError);
}

TEST_F(RedisConnectionTest, CloseWhenAnsweredWaitsForTheRepliesToWhatWasSent) {
  auto c = connect();
  auto other = connect();
  bool closed = false;
  c->set_close_callback([&] { closed = true; });
  // BLPOP waits on the server; INCR is pipelined behind it. Neither is given up.
  Future<Reply> pop, incr;
  run_sync([&]() -> Task<> {
    pop = spawn(c->command({"BLPOP", "list", "0"}));
    incr = spawn(c->command({"INCR", "n"}));
    co_await sleep(20ms);
    c->close_when_answered(Duration(5));
  });
  EXPECT_THROW(command(*c, {"PING"}), StreamClosedError);  // nothing more is sent
  EXPECT_FALSE(c->closed());
  command(*other, {"RPUSH", "list", "x"});
  EXPECT_EQ(run_sync([&]() -> Task<Reply> { co_return co_await pop; }).describe(),
            "[\"list\", \"x\"]");
  EXPECT_EQ(run_sync([&]() -> Task<Reply> { co_return co_await incr; }).integer, 1);
  run_sync([]() -> Task<> { co_await sleep(20ms); });
  EXPECT_TRUE(c->closed());  // the last reply closed it
  EXPECT_TRUE(closed);
  EXPECT_EQ(command(*other, {"GET", "n"}).str, "1");
  other->close();
}

TEST_F(RedisConnectionTest, CloseWhenAnsweredGivesUpAfterItsLimit) {
  auto c = connect();
  Future<Reply> pop;
  const auto start = std::chrono::steady_clock::now();
  run_sync([&]() -> Task<> {
    pop = spawn(c->command({"BLPOP", "never", "0"}));
    co_await sleep(20ms);
    c->close_when_answered(Duration(0.2));
  });
  EXPECT_THROW(run_sync([&]() -> Task<Reply> { co_return co_await pop; }, Duration(5)),
               StreamClosedError);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 200ms);
  EXPECT_TRUE(c->closed());
}

TEST_F(RedisConnectionTest, CloseWhenAnsweredWithNothingPendingClosesAtOnce) {
  auto c = connect();
  command(*c, {"PING"});
  c->close_when_answered(Duration(5));
  EXPECT_TRUE(c->closed());
}

TEST_F(RedisConnectionTest, ConnectToNothingListeningFails) {
  const int port = server.port();
  server.stop();
  EXPECT_THROW(run_sync([&]() -> Task<std::shared_ptr<redis::Connection>> {
                 return redis::Connection::connect("127.0.0.1", port, Duration(2));
               }),
               StreamClosedError);
}

}  // namespace

}  // namespace redis_test
