// Behaviours of Tornado's tcpclient_test.py: TCPClient over IPv4/IPv6/dual-stack, refused
// connections, source_ip/source_port, the connect timeout; and the Happy Eyeballs
// connector (TestConnectorSplit, ConnectorTest) driven with fake connections.
#include "tornado/tcpclient.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <deque>
#include <map>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "net_test_util.h"
#include "tornado/tcpserver.h"
#include "tornado/testing_core.h"

namespace tornado {
namespace tcpclient_test {

using testing::AsyncTest;

// Fake families: the connector only compares them.
constexpr int AF1 = 1;
constexpr int AF2 = 2;

// ---- split ------------------------------------------------------------------------------

struct FakeStream {
  bool closed = false;
  void close() { closed = true; }
};
using FakeConnector = detail::Connector<FakeStream, std::string>;
using Entries = std::vector<FakeConnector::Entry>;

TEST(ConnectorSplitTest, OneFamily) {
  auto [primary, secondary] = FakeConnector::split({{AF1, "a"}, {AF1, "b"}});
  EXPECT_EQ(primary, (Entries{{AF1, "a"}, {AF1, "b"}}));
  EXPECT_TRUE(secondary.empty());
}

TEST(ConnectorSplitTest, MixedFamiliesKeepTheirOrder) {
  auto [primary, secondary] =
      FakeConnector::split({{AF1, "a"}, {AF2, "b"}, {AF1, "c"}, {AF2, "d"}});
  EXPECT_EQ(primary, (Entries{{AF1, "a"}, {AF1, "c"}}));
  EXPECT_EQ(secondary, (Entries{{AF2, "b"}, {AF2, "d"}}));
}

TEST(ConnectorSplitTest, NoAddressesIsAnError) {
  EXPECT_THROW(
      FakeConnector::create({}, [](int, const std::string&) { return FakeConnector::Attempt{}; }),
      std::invalid_argument);
}

// ---- the connector state machine --------------------------------------------------------

class ConnectorTest : public AsyncTest {
 protected:
  using Key = std::pair<int, std::string>;

  void TearDown() override {
    // Unless a test checked (and popped) a stream, the connector must not have closed it.
    for (auto& [addr, stream] : streams_) EXPECT_FALSE(stream->closed) << addr;
    connect_futures_.clear();
    AsyncTest::TearDown();
  }

  FakeConnector::Attempt create_stream(int af, const std::string& addr) {
    auto stream = std::make_shared<FakeStream>();
    streams_[addr] = stream;
    Future<std::shared_ptr<FakeStream>> future;
    connect_futures_.emplace(Key{af, addr}, future);
    return {stream, future};
  }

  void assert_pending(std::vector<Key> keys) {
    std::vector<Key> pending;
    for (auto& [k, f] : connect_futures_) pending.push_back(k);
    std::sort(keys.begin(), keys.end());
    EXPECT_EQ(pending, keys);
  }

  // Lets the loop run the connector's callbacks.
  void run_loop() {
    run_sync([]() -> Task<> { co_await moment{}; });
  }

  void resolve_connect(int af, const std::string& addr, bool success) {
    auto it = connect_futures_.find({af, addr});
    ASSERT_NE(it, connect_futures_.end()) << addr << " is not pending";
    auto future = it->second;
    connect_futures_.erase(it);
    if (success) {
      future.set_result(streams_[addr]);
    } else {
      streams_.erase(addr);
      future.set_exception(std::make_exception_ptr(
          std::system_error(ECONNREFUSED, std::generic_category(), "connect " + addr)));
    }
    run_loop();
  }

  // Pops a pending attempt the connector abandoned, checking its stream was closed.
  void expect_abandoned_and_closed(int af, const std::string& addr) {
    EXPECT_EQ(connect_futures_.erase({af, addr}), 1u) << addr;
    EXPECT_TRUE(streams_.at(addr)->closed) << addr;
    streams_.erase(addr);
  }

  void expect_connector_streams_closed(const FakeConnector& conn) {
    for (auto& s : conn.streams()) EXPECT_TRUE(s->closed);
  }

  std::pair<std::shared_ptr<FakeConnector>, Future<FakeConnector::Result>> start_connect(
      Entries addrinfo) {
    auto conn = FakeConnector::create(
        std::move(addrinfo), [this](int af, const std::string& a) { return create_stream(af, a); });
    // Huge timeouts: the tests fire them by hand.
    auto future = conn->start(3600s, io_loop().time() + 3600);
    return {conn, future};
  }

  template <typename E>
  void expect_failed_with(const Future<FakeConnector::Result>& future) {
    ASSERT_TRUE(future.done());
    EXPECT_THROW(future.result(), E);
  }

  void expect_result(const Future<FakeConnector::Result>& future, int af, const std::string& a) {
    ASSERT_TRUE(future.done());
    const auto& r = future.result();
    EXPECT_EQ(r.family, af);
    EXPECT_EQ(r.address, a);
    EXPECT_EQ(r.stream, streams_.at(a));
  }

  Entries addrinfo_{{AF1, "a"}, {AF1, "b"}, {AF2, "c"}, {AF2, "d"}};
  std::map<Key, Future<std::shared_ptr<FakeStream>>> connect_futures_;
  std::map<std::string, std::shared_ptr<FakeStream>> streams_;
};

TEST_F(ConnectorTest, ImmediateSuccess) {
  auto [conn, future] = start_connect(addrinfo_);
  assert_pending({{AF1, "a"}});
  resolve_connect(AF1, "a", true);
  expect_result(future, AF1, "a");
}

TEST_F(ConnectorTest, ImmediateFailure) {
  auto [conn, future] = start_connect({{AF1, "a"}});
  assert_pending({{AF1, "a"}});
  resolve_connect(AF1, "a", false);
  expect_failed_with<std::system_error>(future);
}

TEST_F(ConnectorTest, OneFamilySecondTry) {
  auto [conn, future] = start_connect({{AF1, "a"}, {AF1, "b"}});
  assert_pending({{AF1, "a"}});
  resolve_connect(AF1, "a", false);
  assert_pending({{AF1, "b"}});
  resolve_connect(AF1, "b", true);
  expect_result(future, AF1, "b");
}

TEST_F(ConnectorTest, OneFamilySecondTryFailure) {
  auto [conn, future] = start_connect({{AF1, "a"}, {AF1, "b"}});
  resolve_connect(AF1, "a", false);
  assert_pending({{AF1, "b"}});
  resolve_connect(AF1, "b", false);
  expect_failed_with<std::system_error>(future);
}

TEST_F(ConnectorTest, OneFamilySecondTryTimeout) {
  auto [conn, future] = start_connect({{AF1, "a"}, {AF1, "b"}});
  assert_pending({{AF1, "a"}});
  conn->on_timeout();  // no other family: nothing happens
  assert_pending({{AF1, "a"}});
  resolve_connect(AF1, "a", false);
  assert_pending({{AF1, "b"}});
  resolve_connect(AF1, "b", true);
  expect_result(future, AF1, "b");
}

TEST_F(ConnectorTest, TwoFamiliesImmediateFailure) {
  auto [conn, future] = start_connect(addrinfo_);
  assert_pending({{AF1, "a"}});
  resolve_connect(AF1, "a", false);
  // The failure starts the secondary family at once, without waiting for the timer.
  assert_pending({{AF1, "b"}, {AF2, "c"}});
  resolve_connect(AF1, "b", false);
  resolve_connect(AF2, "c", true);
  expect_result(future, AF2, "c");
}

TEST_F(ConnectorTest, TwoFamiliesTimeout) {
  auto [conn, future] = start_connect(addrinfo_);
  assert_pending({{AF1, "a"}});
  conn->on_timeout();
  assert_pending({{AF1, "a"}, {AF2, "c"}});
  resolve_connect(AF2, "c", true);
  expect_result(future, AF2, "c");
  // 'a' failing after the race was won does not start 'b'.
  resolve_connect(AF1, "a", false);
  assert_pending({});
}

TEST_F(ConnectorTest, SuccessAfterTimeout) {
  auto [conn, future] = start_connect(addrinfo_);
  conn->on_timeout();
  assert_pending({{AF1, "a"}, {AF2, "c"}});
  resolve_connect(AF1, "a", true);
  expect_result(future, AF1, "a");
  // 'c' connecting late is closed.
  resolve_connect(AF2, "c", true);
  EXPECT_TRUE(streams_.at("c")->closed);
  streams_.erase("c");
}

TEST_F(ConnectorTest, AllFailRaisesTheLastError) {
  auto [conn, future] = start_connect(addrinfo_);
  conn->on_timeout();
  assert_pending({{AF1, "a"}, {AF2, "c"}});
  resolve_connect(AF2, "c", false);
  assert_pending({{AF1, "a"}, {AF2, "d"}});
  resolve_connect(AF2, "d", false);
  assert_pending({{AF1, "a"}});  // the secondary queue is empty now
  resolve_connect(AF1, "a", false);
  assert_pending({{AF1, "b"}});
  EXPECT_FALSE(future.done());
  resolve_connect(AF1, "b", false);
  ASSERT_TRUE(future.done());
  try {
    future.result();
    FAIL() << "expected an error";
  } catch (const std::system_error& e) {
    EXPECT_NE(std::string(e.what()).find("connect b"), std::string::npos) << e.what();
  }
}

TEST_F(ConnectorTest, OneFamilyTimeoutAfterConnectTimeout) {
  auto [conn, future] = start_connect({{AF1, "a"}, {AF1, "b"}});
  assert_pending({{AF1, "a"}});
  conn->on_connect_timeout();
  expect_abandoned_and_closed(AF1, "a");
  conn->on_timeout();
  // Timed out: the next address is not tried.
  assert_pending({});
  EXPECT_EQ(conn->streams().size(), 1u);
  expect_connector_streams_closed(*conn);
  expect_failed_with<TimeoutError>(future);
}

TEST_F(ConnectorTest, OneFamilySuccessBeforeConnectTimeout) {
  auto [conn, future] = start_connect({{AF1, "a"}, {AF1, "b"}});
  resolve_connect(AF1, "a", true);
  conn->on_connect_timeout();
  assert_pending({});
  EXPECT_FALSE(streams_.at("a")->closed);
  EXPECT_EQ(conn->streams().size(), 0u);  // the winner is handed out, not kept
  expect_result(future, AF1, "a");
}

TEST_F(ConnectorTest, OneFamilySecondTryAfterConnectTimeout) {
  auto [conn, future] = start_connect({{AF1, "a"}, {AF1, "b"}});
  resolve_connect(AF1, "a", false);
  assert_pending({{AF1, "b"}});
  conn->on_connect_timeout();
  expect_abandoned_and_closed(AF1, "b");
  assert_pending({});
  EXPECT_EQ(conn->streams().size(), 2u);
  expect_connector_streams_closed(*conn);
  expect_failed_with<TimeoutError>(future);
}

TEST_F(ConnectorTest, OneFamilySecondTryFailureBeforeConnectTimeout) {
  auto [conn, future] = start_connect({{AF1, "a"}, {AF1, "b"}});
  resolve_connect(AF1, "a", false);
  resolve_connect(AF1, "b", false);
  conn->on_connect_timeout();
  assert_pending({});
  EXPECT_EQ(conn->streams().size(), 2u);
  expect_connector_streams_closed(*conn);
  expect_failed_with<std::system_error>(future);
}

TEST_F(ConnectorTest, TwoFamilyTimeoutBeforeConnectTimeout) {
  auto [conn, future] = start_connect(addrinfo_);
  conn->on_timeout();
  assert_pending({{AF1, "a"}, {AF2, "c"}});
  conn->on_connect_timeout();
  expect_abandoned_and_closed(AF1, "a");
  expect_abandoned_and_closed(AF2, "c");
  assert_pending({});
  EXPECT_EQ(conn->streams().size(), 2u);
  expect_connector_streams_closed(*conn);
  expect_failed_with<TimeoutError>(future);
}

TEST_F(ConnectorTest, TwoFamilySuccessAfterTimeoutClosesTheOther) {
  auto [conn, future] = start_connect(addrinfo_);
  conn->on_timeout();
  assert_pending({{AF1, "a"}, {AF2, "c"}});
  resolve_connect(AF1, "a", true);
  expect_abandoned_and_closed(AF2, "c");
  assert_pending({});
  EXPECT_EQ(conn->streams().size(), 1u);
  expect_connector_streams_closed(*conn);
  expect_result(future, AF1, "a");
}

TEST_F(ConnectorTest, TwoFamilyTimeoutAfterConnectTimeout) {
  auto [conn, future] = start_connect(addrinfo_);
  conn->on_connect_timeout();
  expect_abandoned_and_closed(AF1, "a");
  assert_pending({});
  conn->on_timeout();
  assert_pending({});  // timed out: the secondary family never starts
  EXPECT_EQ(conn->streams().size(), 1u);
  expect_connector_streams_closed(*conn);
  expect_failed_with<TimeoutError>(future);
}

TEST_F(ConnectorTest, TheRealTimerStartsTheSecondaryFamily) {
  auto conn = FakeConnector::create(
      addrinfo_, [this](int af, const std::string& a) { return create_stream(af, a); });
  auto future = conn->start(10ms);
  assert_pending({{AF1, "a"}});
  run_sync([]() -> Task<> { co_await sleep(50ms); });
  assert_pending({{AF1, "a"}, {AF2, "c"}});
  resolve_connect(AF2, "c", true);
  expect_result(future, AF2, "c");
  expect_abandoned_and_closed(AF1, "a");
}

// ---- TCPClient against a real server ----------------------------------------------------

class QueueingServer : public TCPServer {
 public:
  explicit QueueingServer(int family, const std::string& host = "localhost") {
    auto fds = bind_sockets(0, host, family);
    port = sock_name(fds[0]).port();
    add_sockets(fds);
  }
  ~QueueingServer() override {
    stop();
    for (auto& s : streams) s->close();
  }
  // The next accepted stream (waits for it).
  Task<std::pair<std::shared_ptr<IOStream>, std::string>> next() {
    while (queue.empty()) co_await moment{};
    auto item = queue.front();
    queue.pop_front();
    co_return item;
  }
  int port = 0;
  std::vector<std::shared_ptr<IOStream>> streams;
  std::deque<std::pair<std::shared_ptr<IOStream>, std::string>> queue;

 protected:
  Task<> handle_stream(std::shared_ptr<IOStream> stream, std::string address) override {
    streams.push_back(stream);
    queue.emplace_back(stream, address);
    co_return;
  }
};

bool localhost_has_ipv6() {
  try {
    for (auto& a : getaddrinfo_blocking("localhost", 80)) {
      if (a.family == AF_INET6) return true;
    }
  } catch (const std::exception&) {
  }
  return false;
}

class TCPClientTest : public AsyncTest {
 protected:
  // Connects through TCPClient, checks bytes flow, returns the server-side peer address.
  ResolvedAddress do_test_connect(int family, const std::string& host,
                                  ConnectOptions options = {}) {
    QueueingServer server(family);
    return run_sync([&]() -> Task<ResolvedAddress> {
      TCPClient client;
      auto stream = co_await client.connect(host, server.port, options);
      auto [server_stream, address] = co_await server.next();
      co_await stream->write("hello");
      std::string data = co_await server_stream->read_bytes(5);
      EXPECT_EQ(data, "hello");
      ResolvedAddress peer = peer_name(server_stream->fd());
      EXPECT_EQ(address, peer.host());
      stream->close();
      co_return peer;
    });
  }
};

TEST_F(TCPClientTest, ConnectIPv4ToIPv4) { do_test_connect(AF_INET, "127.0.0.1"); }

TEST_F(TCPClientTest, ConnectIPv4ServerByLocalhost) { do_test_connect(AF_INET, "localhost"); }

TEST_F(TCPClientTest, ConnectIPv6ToIPv6) {
  if (!test::ipv6_loopback_available()) GTEST_SKIP() << "no IPv6 loopback";
  if (!localhost_has_ipv6()) GTEST_SKIP() << "localhost does not resolve to IPv6";
  do_test_connect(AF_INET6, "::1");
}

TEST_F(TCPClientTest, ConnectIPv6ByLiteralToAnIPv6Server) {
  if (!test::ipv6_loopback_available()) GTEST_SKIP() << "no IPv6 loopback";
  QueueingServer server(AF_INET6, "::1");
  run_sync([&]() -> Task<> {
    TCPClient client;
    auto stream = co_await client.connect("::1", server.port);
    auto [server_stream, address] = co_await server.next();
    EXPECT_EQ(address, "::1");
    co_await stream->write("hello");
    EXPECT_EQ(co_await server_stream->read_bytes(5), "hello");
    stream->close();
  });
}

TEST_F(TCPClientTest, ConnectIPv6ServerByLocalhost) {
  if (!test::ipv6_loopback_available()) GTEST_SKIP() << "no IPv6 loopback";
  if (!localhost_has_ipv6()) GTEST_SKIP() << "localhost does not resolve to IPv6";
  do_test_connect(AF_INET6, "localhost");
}

TEST_F(TCPClientTest, ConnectUnspecServerByIPv4) { do_test_connect(AF_UNSPEC, "127.0.0.1"); }

TEST_F(TCPClientTest, ConnectUnspecServerByIPv6) {
  if (!test::ipv6_loopback_available()) GTEST_SKIP() << "no IPv6 loopback";
  if (!localhost_has_ipv6()) GTEST_SKIP() << "localhost does not resolve to IPv6";
  do_test_connect(AF_UNSPEC, "::1");
}

TEST_F(TCPClientTest, ConnectUnspecServerByLocalhost) { do_test_connect(AF_UNSPEC, "localhost"); }

// A port where nothing listens: bound (so nobody else takes it) but not listening.
std::pair<int, int> refusing_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
  return {fd, sock_name(fd).port()};
}

int system_error_code(const StreamClosedError& e) {
  try {
    if (e.real_error()) std::rethrow_exception(e.real_error());
  } catch (const std::system_error& se) {
    return se.code().value();
  } catch (...) {
  }
  return 0;
}

TEST_F(TCPClientTest, RefusedConnectionRaisesWithTheRealError) {
  auto [fd, port] = refusing_port();
  try {
    run_sync([port = port]() -> Task<> {
      TCPClient client;
      co_await client.connect("127.0.0.1", port);
    });
    FAIL() << "connected to a refusing port";
  } catch (const StreamClosedError& e) {
    EXPECT_EQ(system_error_code(e), ECONNREFUSED);
  }
  ::close(fd);
}

TEST_F(TCPClientTest, SourceIPThatIsNotLocalFails) {
  try {
    do_test_connect(AF_INET, "127.0.0.1", ConnectOptions().set_source_ip("8.8.8.8"));
    FAIL() << "bound a source address that is not ours";
  } catch (const StreamClosedError& e) {
    EXPECT_EQ(system_error_code(e), EADDRNOTAVAIL);
  }
}

TEST_F(TCPClientTest, SourceIPIsUsed) {
  // All of 127.0.0.0/8 is local: 127.0.0.2 shows the address really was bound.
  auto peer = do_test_connect(AF_INET, "127.0.0.1", ConnectOptions().set_source_ip("127.0.0.2"));
  EXPECT_EQ(peer.host(), "127.0.0.2");
  peer = do_test_connect(AF_INET, "127.0.0.1", ConnectOptions().set_source_ip("127.0.0.1"));
  EXPECT_EQ(peer.host(), "127.0.0.1");
}

TEST_F(TCPClientTest, SourcePortIsUsed) {
  auto [probe, port] = testing::bind_unused_port();
  ::close(probe);
  auto peer = do_test_connect(AF_INET, "127.0.0.1", ConnectOptions().set_source_port(port));
  EXPECT_EQ(peer.port(), port);
}

TEST_F(TCPClientTest, SourcePortInUseFails) {
  auto [busy, port] = testing::bind_unused_port();
  try {
    do_test_connect(AF_INET, "127.0.0.1",
                    ConnectOptions().set_source_ip("127.0.0.1").set_source_port(port));
    FAIL() << "bound a source port that is in use";
  } catch (const StreamClosedError& e) {
    EXPECT_EQ(system_error_code(e), EADDRINUSE);
  }
  ::close(busy);
}

// A resolver that never answers until released.
class StuckResolver : public Resolver {
 public:
  Task<std::vector<ResolvedAddress>> resolve(std::string, int, int) override {
    co_return co_await answer;
  }
  Future<std::vector<ResolvedAddress>> answer;
};

TEST_F(TCPClientTest, ConnectTimeoutRaisesTimeoutError) {
  auto resolver = std::make_shared<StuckResolver>();
  EXPECT_THROW(run_sync([&]() -> Task<> {
                 TCPClient client(resolver);
                 // Built inline with the setters: a class temporary, safe inside co_await with
                 // g++ 12.
                 co_await client.connect("1.2.3.4", 12345, ConnectOptions().set_timeout(50ms));
               }),
               TimeoutError);
  // The timeout cancelled the lookup (with_timeout cancels the task it owns), which
  // cancelled the Future it was waiting on: nothing is left suspended.
  EXPECT_TRUE(resolver->answer.cancelled());
}

TEST_F(TCPClientTest, BadArgumentsAreRejected) {
  EXPECT_THROW(run_sync([]() -> Task<> {
                 TCPClient client;
                 co_await client.connect("127.0.0.1", 0);
               }),
               std::invalid_argument);
  EXPECT_THROW(run_sync([]() -> Task<> {
                 TCPClient client;
                 co_await client.connect("127.0.0.1", 80, ConnectOptions().set_af(AF_UNIX));
               }),
               std::invalid_argument);
}

TEST_F(TCPClientTest, FamilyRestrictsTheResolvedAddresses) {
  QueueingServer server(AF_INET, "127.0.0.1");
  // "localhost" restricted to IPv4 reaches the IPv4-only server.
  run_sync([&]() -> Task<> {
    TCPClient client;
    ConnectOptions options;  // the named-object form
    options.af = AF_INET;
    auto stream = co_await client.connect("localhost", server.port, options);
    auto [server_stream, address] = co_await server.next();
    EXPECT_EQ(address, "127.0.0.1");
    stream->close();
  });
}

TEST_F(TCPClientTest, ConnectTaskStoredPastItsClient) {
  // The task owns what it needs (the resolver too): the client may be gone before it runs.
  QueueingServer server(AF_INET, "127.0.0.1");
  run_sync([&]() -> Task<> {
    Task<std::shared_ptr<IOStream>> connecting = TCPClient().connect("127.0.0.1", server.port);
    auto stream = co_await std::move(connecting);
    auto [server_stream, address] = co_await server.next();
    co_await stream->write("hi");
    EXPECT_EQ(co_await server_stream->read_bytes(2), "hi");
    stream->close();
  });
}

}  // namespace tcpclient_test
}  // namespace tornado
