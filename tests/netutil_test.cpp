// Behaviours of Tornado's netutil_test.py: is_valid_ip, port allocation across addresses,
// SO_REUSEPORT, resolvers (the system one and OverrideResolver); plus unix sockets and the
// accept loop (budget per event, removal from inside the callback, EMFILE backoff).
#include "tornado/netutil.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>
#include <vector>

#include "net_test_util.h"
#include "tornado/testing_core.h"

namespace tornado {
namespace netutil_test {

using testing::AsyncTest;
using testing::ExpectLog;

struct FdCloser {
  std::vector<int> fds;
  ~FdCloser() {
    for (int fd : fds) ::close(fd);
  }
};

// A blocking client socket connected to `addr` (the listener's backlog accepts it).
int connect_to(const ResolvedAddress& addr) {
  int fd = ::socket(addr.family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "socket");
  if (::connect(fd, addr.sockaddr_ptr(), addr.length) < 0) {
    int err = errno;
    ::close(fd);
    throw std::system_error(err, std::generic_category(), "connect");
  }
  return fd;
}

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() /
          ("tornado_netutil_" + std::to_string(::getpid()) + "_" + name))
      .string();
}

// ---- is_valid_ip ----------------------------------------------------------------------

TEST(IsValidIPTest, AcceptsNumericAddressesOnly) {
  EXPECT_TRUE(is_valid_ip("127.0.0.1"));
  EXPECT_TRUE(is_valid_ip("4.4.4.4"));
  EXPECT_TRUE(is_valid_ip("::1"));
  EXPECT_TRUE(is_valid_ip("2620:0:1cfe:face:b00c::3"));
  EXPECT_TRUE(is_valid_ip("fe80::1%lo"));
  EXPECT_FALSE(is_valid_ip("www.google.com"));
  EXPECT_FALSE(is_valid_ip("localhost"));
  EXPECT_FALSE(is_valid_ip("4.4.4.4<"));
  EXPECT_FALSE(is_valid_ip(" 127.0.0.1"));
  EXPECT_FALSE(is_valid_ip(""));
  EXPECT_FALSE(is_valid_ip(" "));
  EXPECT_FALSE(is_valid_ip("\n"));
  EXPECT_FALSE(is_valid_ip(std::string("\0", 1)));
  EXPECT_FALSE(is_valid_ip(std::string("127.0.0.1\0", 10)));
  EXPECT_FALSE(is_valid_ip(std::string(100, 'a')));
  EXPECT_FALSE(is_valid_ip("fe80::1%"));
}

TEST(ResolvedAddressTest, FormatsHostPortAndRejectsNames) {
  auto v4 = ResolvedAddress::from_ip("127.0.0.1", 8080);
  EXPECT_EQ(v4.family, AF_INET);
  EXPECT_EQ(v4.host(), "127.0.0.1");
  EXPECT_EQ(v4.port(), 8080);
  EXPECT_EQ(v4.to_string(), "127.0.0.1:8080");
  auto v6 = ResolvedAddress::from_ip("::1", 443);
  EXPECT_EQ(v6.family, AF_INET6);
  EXPECT_EQ(v6.to_string(), "[::1]:443");
  EXPECT_THROW(ResolvedAddress::from_ip("localhost", 80), std::invalid_argument);
  EXPECT_THROW(ResolvedAddress::from_ip("127.0.0.1", 70000), std::invalid_argument);
}

// ---- bind_sockets ---------------------------------------------------------------------

TEST(BindSocketsTest, PortZeroGivesTheSamePortToEveryAddress) {
  // "" is every interface: 0.0.0.0 and, with IPv6, :: — two sockets, one port.
  FdCloser c{bind_sockets(0, "")};
  ASSERT_FALSE(c.fds.empty());
  int port = sock_name(c.fds[0]).port();
  EXPECT_GT(port, 0);
  for (int fd : c.fds) EXPECT_EQ(sock_name(fd).port(), port);
  if (test::ipv6_loopback_available()) {
    ASSERT_EQ(c.fds.size(), 2u);
    std::vector<int> families;
    for (int fd : c.fds) families.push_back(sock_name(fd).family);
    std::sort(families.begin(), families.end());
    EXPECT_EQ(families, (std::vector<int>{AF_INET, AF_INET6}));
  }
}

TEST(BindSocketsTest, LocalhostBindsEveryAddressOnOnePort) {
  FdCloser c{bind_sockets(0, "localhost")};
  ASSERT_FALSE(c.fds.empty());
  int port = sock_name(c.fds[0]).port();
  for (int fd : c.fds) EXPECT_EQ(sock_name(fd).port(), port);
}

TEST(BindSocketsTest, SocketsAreNonBlockingListeningAndV6Only) {
  FdCloser c{bind_sockets(0, "", AF_UNSPEC, 64)};
  for (int fd : c.fds) {
    EXPECT_TRUE(::fcntl(fd, F_GETFL) & O_NONBLOCK);
    EXPECT_TRUE(::fcntl(fd, F_GETFD) & FD_CLOEXEC);
    int value = 0;
    socklen_t len = sizeof value;
    ASSERT_EQ(::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &value, &len), 0);
    EXPECT_EQ(value, 1);
    ASSERT_EQ(::getsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &value, &len), 0);
    EXPECT_EQ(value, 1);
    if (sock_name(fd).family == AF_INET6) {
      ASSERT_EQ(::getsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &value, &len), 0);
      EXPECT_EQ(value, 1);
    }
  }
}

TEST(BindSocketsTest, FamilyRestrictsTheAddresses) {
  FdCloser c{bind_sockets(0, "", AF_INET)};
  ASSERT_EQ(c.fds.size(), 1u);
  EXPECT_EQ(sock_name(c.fds[0]).family, AF_INET);
  EXPECT_EQ(sock_name(c.fds[0]).host(), "0.0.0.0");
}

TEST(BindSocketsTest, ReusePortSharesAPort) {
  auto [fd, port] = testing::bind_unused_port(/*reuse_port=*/true);
  FdCloser c{{fd}};
  auto more = bind_sockets(port, "127.0.0.1", AF_UNSPEC, 128, /*reuse_port=*/true);
  c.fds.insert(c.fds.end(), more.begin(), more.end());
  ASSERT_EQ(more.size(), 1u);
  EXPECT_EQ(sock_name(more[0]).port(), port);
}

TEST(BindSocketsTest, PortInUseWithoutReusePortThrows) {
  auto [fd, port] = testing::bind_unused_port();
  FdCloser c{{fd}};
  try {
    auto fds = bind_sockets(port, "127.0.0.1");
    c.fds.insert(c.fds.end(), fds.begin(), fds.end());
    FAIL() << "bind_sockets bound a port already in use";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code().value(), EADDRINUSE);
  }
}

TEST(BindSocketsTest, BadArgumentsAreRejected) {
  EXPECT_THROW(bind_sockets(-1), std::invalid_argument);
  EXPECT_THROW(bind_sockets(65536), std::invalid_argument);
  EXPECT_THROW(bind_sockets(0, "127.0.0.1", AF_INET, 0), std::invalid_argument);
  EXPECT_THROW(bind_sockets(0, "127.0.0.1", AF_UNIX), std::invalid_argument);
  EXPECT_THROW(bind_sockets(0, "an invalid domain"), std::system_error);
}

// ---- bind_unix_socket -----------------------------------------------------------------

TEST(BindUnixSocketTest, ListensWithModeAndAcceptsConnections) {
  std::string path = temp_path("listen.sock");
  int fd = bind_unix_socket(path, 0600);
  FdCloser c{{fd}};
  struct stat st {};
  ASSERT_EQ(::lstat(path.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_TRUE(::fcntl(fd, F_GETFL) & O_NONBLOCK);

  sockaddr_un sun{};
  sun.sun_family = AF_UNIX;
  std::snprintf(sun.sun_path, sizeof sun.sun_path, "%s", path.c_str());
  c.fds.push_back(
      connect_to(ResolvedAddress::from_sockaddr(reinterpret_cast<sockaddr*>(&sun), sizeof sun)));
  int conn = ::accept(fd, nullptr, nullptr);
  EXPECT_GE(conn, 0);
  c.fds.push_back(conn);
  ::unlink(path.c_str());
}

TEST(BindUnixSocketTest, ReplacesAStaleSocketFile) {
  std::string path = temp_path("stale.sock");
  ::close(bind_unix_socket(path));  // a server that died without unlinking
  int fd = bind_unix_socket(path, 0660);
  FdCloser c{{fd}};
  struct stat st {};
  ASSERT_EQ(::lstat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0660u);
  ::unlink(path.c_str());
}

TEST(BindUnixSocketTest, RefusesToClobberARegularFile) {
  std::string path = temp_path("regular.txt");
  { std::ofstream(path) << "precious"; }
  EXPECT_THROW(bind_unix_socket(path), std::invalid_argument);
  std::ifstream in(path);
  std::string content;
  in >> content;
  EXPECT_EQ(content, "precious");
  ::unlink(path.c_str());
}

TEST(BindUnixSocketTest, RejectsAPathTooLong) {
  EXPECT_THROW(bind_unix_socket("/tmp/" + std::string(200, 'x')), std::invalid_argument);
  EXPECT_THROW(bind_unix_socket(""), std::invalid_argument);
}

// ---- add_accept_handler ---------------------------------------------------------------

class AcceptHandlerTest : public AsyncTest {};

TEST_F(AcceptHandlerTest, AcceptsEveryPendingConnectionBeyondThePerEventBudget) {
  auto [lfd, port] = testing::bind_unused_port();
  FdCloser c{{lfd}};
  auto target = ResolvedAddress::from_ip("127.0.0.1", port);
  std::vector<int> client_ports;
  for (int i = 0; i < 7; ++i) {
    int fd = connect_to(target);
    c.fds.push_back(fd);
    client_ports.push_back(sock_name(fd).port());
  }
  std::vector<int> peer_ports;
  auto remove = add_accept_handler(
      lfd,
      [&](int conn, const ResolvedAddress& peer) {
        c.fds.push_back(conn);
        EXPECT_TRUE(::fcntl(conn, F_GETFL) & O_NONBLOCK);
        EXPECT_EQ(peer.host(), "127.0.0.1");
        peer_ports.push_back(peer.port());
      },
      AcceptOptions{.max_per_event = 2});
  run_sync([&]() -> Task<> {
    while (peer_ports.size() < client_ports.size()) co_await moment{};
  });
  std::sort(peer_ports.begin(), peer_ports.end());
  std::sort(client_ports.begin(), client_ports.end());
  EXPECT_EQ(peer_ports, client_ports);
  remove();
  remove();  // idempotent
}

TEST_F(AcceptHandlerTest, RemoverCalledInsideTheCallbackStopsAccepting) {
  auto [lfd, port] = testing::bind_unused_port();
  FdCloser c{{lfd}};
  auto target = ResolvedAddress::from_ip("127.0.0.1", port);
  for (int i = 0; i < 3; ++i) c.fds.push_back(connect_to(target));
  int accepted = 0;
  std::function<void()> remove;
  remove = add_accept_handler(lfd, [&](int conn, const ResolvedAddress&) {
    c.fds.push_back(conn);
    ++accepted;
    remove();
  });
  run_sync([&]() -> Task<> { co_await sleep(50ms); });
  EXPECT_EQ(accepted, 1);
  // The other two are still queued in the kernel, not lost.
  int more = ::accept4(lfd, nullptr, nullptr, SOCK_CLOEXEC);
  EXPECT_GE(more, 0);
  c.fds.push_back(more);
}

TEST_F(AcceptHandlerTest, ExceptionInCallbackIsLoggedAndAcceptingGoesOn) {
  auto [lfd, port] = testing::bind_unused_port();
  FdCloser c{{lfd}};
  auto target = ResolvedAddress::from_ip("127.0.0.1", port);
  c.fds.push_back(connect_to(target));
  c.fds.push_back(connect_to(target));
  int calls = 0;
  ExpectLog expect(app_log(), "Exception in accept callback");
  auto remove = add_accept_handler(lfd, [&](int conn, const ResolvedAddress&) {
    c.fds.push_back(conn);
    if (++calls == 1) throw std::runtime_error("boom");
  });
  run_sync([&]() -> Task<> {
    while (calls < 2) co_await moment{};
  });
  EXPECT_EQ(calls, 2);
  remove();
}

TEST_F(AcceptHandlerTest, OutOfDescriptorsBacksOffAndRecovers) {
  auto [lfd, port] = testing::bind_unused_port();
  FdCloser c{{lfd}};
  auto target = ResolvedAddress::from_ip("127.0.0.1", port);
  c.fds.push_back(connect_to(target));
  rlimit saved{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &saved), 0);
  // The lowest free descriptor number becomes the limit, so accept4 gets EMFILE.
  int probe = ::dup(0);
  ASSERT_GE(probe, 0);
  ::close(probe);
  int accepted = 0;
  {
    ExpectLog expect(gen_log(), "pausing accepts");
    std::function<void()> remove;
    run_sync([&]() -> Task<> {
      rlimit low = saved;
      low.rlim_cur = static_cast<rlim_t>(probe);
      ::setrlimit(RLIMIT_NOFILE, &low);
      remove = add_accept_handler(
          lfd,
          [&](int conn, const ResolvedAddress&) {
            c.fds.push_back(conn);
            ++accepted;
          },
          AcceptOptions{.backoff = 20ms, .max_backoff = 40ms});
      co_await sleep(60ms);  // several retries, all out of descriptors
      EXPECT_EQ(accepted, 0);
      ::setrlimit(RLIMIT_NOFILE, &saved);
      for (int i = 0; i < 100 && accepted == 0; ++i) co_await sleep(10ms);
    });
    ::setrlimit(RLIMIT_NOFILE, &saved);
    remove();
  }
  EXPECT_EQ(accepted, 1);
}

// ---- resolvers ------------------------------------------------------------------------

class ResolverTest : public AsyncTest {};

bool contains(const std::vector<ResolvedAddress>& addrs, int family, const std::string& host,
              int port) {
  return std::any_of(addrs.begin(), addrs.end(), [&](const ResolvedAddress& a) {
    return a.family == family && a.host() == host && a.port() == port;
  });
}

TEST_F(ResolverTest, LocalhostResolvesToLoopback) {
  auto addrs = run_sync([]() -> Task<std::vector<ResolvedAddress>> {
    DefaultExecutorResolver resolver;
    co_return co_await resolver.resolve("localhost", 80, AF_UNSPEC);
  });
  EXPECT_TRUE(contains(addrs, AF_INET, "127.0.0.1", 80));
}

TEST_F(ResolverTest, FamilyFiltersResults) {
  auto addrs = run_sync([]() -> Task<std::vector<ResolvedAddress>> {
    DefaultExecutorResolver resolver;
    co_return co_await resolver.resolve("127.0.0.1", 8080, AF_INET);
  });
  ASSERT_EQ(addrs.size(), 1u);
  EXPECT_TRUE(contains(addrs, AF_INET, "127.0.0.1", 8080));
  auto v6 = run_sync([]() -> Task<std::vector<ResolvedAddress>> {
    DefaultExecutorResolver resolver;
    co_return co_await resolver.resolve("::1", 8080, AF_INET6);
  });
  EXPECT_TRUE(contains(v6, AF_INET6, "::1", 8080));
}

TEST_F(ResolverTest, BadHostRaisesWithTheResolverMessage) {
  try {
    run_sync([]() -> Task<> {
      DefaultExecutorResolver resolver;
      co_await resolver.resolve("an invalid domain", 80, AF_UNSPEC);
    });
    FAIL() << "resolved an invalid name";
  } catch (const std::system_error& e) {
    EXPECT_EQ(&e.code().category(), &gai_category());
    EXPECT_NE(std::string(e.what()).find("an invalid domain"), std::string::npos);
  }
}

TEST_F(ResolverTest, OverrideResolverMapsHostPortAndFamily) {
  OverrideResolver::Mapping mapping;
  mapping.host_port[{"google.com", 80}] = {"1.2.3.4", 80};
  mapping.host_port_family[{"google.com", 80, AF_INET}] = {"1.2.3.4", 80};
  mapping.host_port_family[{"google.com", 80, AF_INET6}] = {"2a02:6b8:7c:40c:c51e:495f:e23a:3", 80};
  mapping.host["example.test"] = "127.0.0.1";
  auto resolver =
      std::make_shared<OverrideResolver>(std::make_shared<DefaultExecutorResolver>(), mapping);
  run_sync([&]() -> Task<> {
    auto v4 = co_await resolver->resolve("google.com", 80, AF_INET);
    EXPECT_TRUE(contains(v4, AF_INET, "1.2.3.4", 80));
    auto v6 = co_await resolver->resolve("google.com", 80, AF_INET6);
    EXPECT_TRUE(contains(v6, AF_INET6, "2a02:6b8:7c:40c:c51e:495f:e23a:3", 80));
    auto unspec = co_await resolver->resolve("google.com", 80, AF_UNSPEC);
    EXPECT_TRUE(contains(unspec, AF_INET, "1.2.3.4", 80));
    auto by_host = co_await resolver->resolve("example.test", 9999, AF_UNSPEC);
    EXPECT_TRUE(contains(by_host, AF_INET, "127.0.0.1", 9999));
    auto passthrough = co_await resolver->resolve("localhost", 81, AF_INET);
    EXPECT_TRUE(contains(passthrough, AF_INET, "127.0.0.1", 81));
  });
}

}  // namespace netutil_test
}  // namespace tornado
