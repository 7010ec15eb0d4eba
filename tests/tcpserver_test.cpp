// Behaviours of Tornado's tcpserver_test.py: handle_stream as a coroutine (its exception is
// logged), stop twice, stop inside a callback while connections arrive, listen / bind+start;
// plus unix sockets, SO_REUSEPORT listeners, per-stream options and TLS via ssl_options.
#include "tornado/tcpserver.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "tornado/tcpclient.h"
#include "tornado/testing_core.h"

namespace tornado {
namespace tcpserver_test {

using testing::AsyncTest;
using testing::ExpectLog;

// A server whose handle_stream is a lambda, so each test says what it does.
class LambdaServer : public TCPServer {
 public:
  using Handler = std::function<Task<>(std::shared_ptr<IOStream>, std::string)>;
  explicit LambdaServer(Handler handler, TCPServerOptions options = {})
      : TCPServer(std::move(options)), handler_(std::move(handler)) {}

 protected:
  Task<> handle_stream(std::shared_ptr<IOStream> stream, std::string address) override {
    return handler_(std::move(stream), std::move(address));
  }

 private:
  Handler handler_;
};

class TCPServerTest : public AsyncTest {};

TEST_F(TCPServerTest, HandleStreamCoroutineExceptionIsLogged) {
  auto [fd, port] = testing::bind_unused_port();
  LambdaServer server([](std::shared_ptr<IOStream> stream, std::string) -> Task<> {
    co_await stream->read_bytes(5);
    stream->close();
    throw std::runtime_error("division by zero");
  });
  server.add_socket(fd);
  {
    ExpectLog expect(app_log(), "Exception in callback.*division by zero");
    run_sync([port = port]() -> Task<> {
      TCPClient client;
      auto stream = co_await client.connect("127.0.0.1", port);
      co_await stream->write("hello");
      co_await stream->read_until_close();
      co_await moment{};
      co_await moment{};
    });
  }
  server.stop();
}

TEST_F(TCPServerTest, HandleStreamNativeCoroutine) {
  auto [fd, port] = testing::bind_unused_port();
  LambdaServer server([](std::shared_ptr<IOStream> stream, std::string address) -> Task<> {
    EXPECT_EQ(address, "127.0.0.1");
    co_await stream->write("data");
    stream->close();
  });
  server.add_socket(fd);
  std::string result = run_sync([port = port]() -> Task<std::string> {
    TCPClient client;
    auto stream = co_await client.connect("127.0.0.1", port);
    co_return co_await stream->read_until_close();
  });
  EXPECT_EQ(result, "data");
  server.stop();
}

TEST_F(TCPServerTest, StopTwice) {
  auto [fd, port] = testing::bind_unused_port();
  TCPServer server;
  server.add_socket(fd);
  server.stop();
  server.stop();
  EXPECT_TRUE(server.listening_addresses().empty());
}

TEST_F(TCPServerTest, StopClosesListenersButKeepsConnections) {
  std::vector<std::shared_ptr<IOStream>> accepted;
  LambdaServer server([&](std::shared_ptr<IOStream> stream, std::string) -> Task<> {
    accepted.push_back(stream);
    co_return;
  });
  server.listen(0, "127.0.0.1");
  int port = server.listening_addresses().at(0).port();
  run_sync([&]() -> Task<> {
    TCPClient client;
    auto stream = co_await client.connect("127.0.0.1", port);
    while (accepted.empty()) co_await moment{};
    server.stop();
    // The established connection still works both ways.
    co_await stream->write("ping\n");
    EXPECT_EQ(co_await accepted[0]->read_until("\n"), "ping\n");
    co_await accepted[0]->write("pong\n");
    EXPECT_EQ(co_await stream->read_until("\n"), "pong\n");
    // New connections are refused.
    bool refused = false;
    try {
      co_await client.connect("127.0.0.1", port);
    } catch (const StreamClosedError&) {
      refused = true;
    }
    EXPECT_TRUE(refused);
    stream->close();
    accepted[0]->close();
  });
}

TEST_F(TCPServerTest, StopInCallbackDoesNotBreakTheAcceptLoop) {
  // Issue #2069: stop() from handle_stream while more connections are ready in the same
  // accept batch must not touch the closed listener (EBADF) or crash.
  auto [fd, port] = testing::bind_unused_port();
  std::vector<std::shared_ptr<IOStream>> server_streams;
  LambdaServer* self = nullptr;
  LambdaServer server([&](std::shared_ptr<IOStream> stream, std::string) -> Task<> {
    self->stop();
    server_streams.push_back(stream);
    try {
      co_await stream->read_until_close();
    } catch (const StreamClosedError&) {
    }
  });
  self = &server;
  server.add_socket(fd);
  ExpectLog no_accept_error(gen_log(), "accept on fd", /*required=*/false);
  constexpr int kClients = 40;
  std::vector<std::shared_ptr<IOStream>> connected;
  run_sync([&, port = port]() -> Task<> {
    TCPClient client;
    std::vector<Task<>> attempts;
    for (int i = 0; i < kClients; ++i) {
      attempts.push_back(
          [](TCPClient& c, int p, std::vector<std::shared_ptr<IOStream>>& out) -> Task<> {
            try {
              out.push_back(co_await c.connect("127.0.0.1", p));
            } catch (const StreamClosedError&) {
            }
          }(client, port, connected));
    }
    co_await when_all(std::move(attempts));
    // Let the loop run an accept pass on whatever is queued.
    co_await sleep(20ms);
  });
  EXPECT_EQ(no_accept_error.matched(), 0);
  EXPECT_GT(connected.size(), 0u) << "all clients failed connecting";
  EXPECT_EQ(server_streams.size(), 1u);  // stopped after the first connection
  for (auto& s : connected) s->close();
  for (auto& s : server_streams) s->close();
  run_sync([]() -> Task<> { co_await moment{}; });
}

TEST_F(TCPServerTest, ListenOnPortZeroReportsTheAddress) {
  TCPServer server;
  server.listen(0, "127.0.0.1");
  auto addrs = server.listening_addresses();
  ASSERT_EQ(addrs.size(), 1u);
  EXPECT_EQ(addrs[0].host(), "127.0.0.1");
  EXPECT_GT(addrs[0].port(), 0);
}

TEST_F(TCPServerTest, BindThenStartAcceptsOnlyAfterStart) {
  int accepted = 0;
  LambdaServer server([&](std::shared_ptr<IOStream> stream, std::string) -> Task<> {
    ++accepted;
    stream->close();
    co_return;
  });
  server.bind(0, "127.0.0.1");
  int port = server.listening_addresses().at(0).port();
  // The fixture's IOLoop exists, so forking workers is refused (process_test forks for real).
  EXPECT_THROW(server.start(3), std::logic_error);
  run_sync([&]() -> Task<> {
    TCPClient client;
    auto stream = co_await client.connect("127.0.0.1", port);  // queued by the kernel
    co_await sleep(20ms);
    EXPECT_EQ(accepted, 0);
    server.start();
    while (accepted == 0) co_await moment{};
    stream->close();
  });
  EXPECT_THROW(server.start(), std::logic_error);
}

TEST_F(TCPServerTest, ReusePortLetsTwoServersShareAPort) {
  TCPServer first;
  first.listen(0, "127.0.0.1", AF_INET, 128, /*reuse_port=*/true);
  int port = first.listening_addresses().at(0).port();
  TCPServer second;
  EXPECT_NO_THROW(second.listen(port, "127.0.0.1", AF_INET, 128, /*reuse_port=*/true));
  TCPServer third;
  EXPECT_THROW(third.listen(port, "127.0.0.1", AF_INET), std::system_error);
}

TEST_F(TCPServerTest, StreamsGetTheServerLimits) {
  auto [fd, port] = testing::bind_unused_port();
  std::shared_ptr<IOStream> got;
  LambdaServer server(
      [&](std::shared_ptr<IOStream> stream, std::string) -> Task<> {
        got = stream;
        co_return;
      },
      TCPServerOptions{.max_buffer_size = 4096, .read_chunk_size = 1024});
  server.add_socket(fd);
  run_sync([&, port = port]() -> Task<> {
    TCPClient client;
    auto stream = co_await client.connect("127.0.0.1", port);
    while (!got) co_await moment{};
    stream->close();
  });
  EXPECT_EQ(got->options().max_buffer_size, 4096u);
  EXPECT_EQ(got->options().read_chunk_size, 1024u);
  got->close();
}

TEST_F(TCPServerTest, UnixSocketServerGetsAnEmptyAddress) {
  std::string path = (std::filesystem::temp_directory_path() /
                      ("tornado_tcpserver_" + std::to_string(::getpid()) + ".sock"))
                         .string();
  std::string seen = "unset";
  LambdaServer server([&](std::shared_ptr<IOStream> stream, std::string address) -> Task<> {
    seen = address;
    std::string line = co_await stream->read_until("\n");
    co_await stream->write(line);
    stream->close();
  });
  server.add_socket(bind_unix_socket(path));
  std::string echoed = run_sync([&]() -> Task<std::string> {
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    auto stream = IOStream::create(fd);
    sockaddr_un sun{};
    sun.sun_family = AF_UNIX;
    std::snprintf(sun.sun_path, sizeof sun.sun_path, "%s", path.c_str());
    co_await stream->connect(reinterpret_cast<sockaddr*>(&sun), sizeof sun);
    co_await stream->write("over unix\n");
    co_return co_await stream->read_until_close();
  });
  EXPECT_EQ(echoed, "over unix\n");
  EXPECT_EQ(seen, "");
  server.stop();
  ::unlink(path.c_str());
}

TEST_F(TCPServerTest, ClientContextAsSSLOptionsIsRejected) {
  EXPECT_THROW(TCPServer(TCPServerOptions{.ssl_options = SSLContext::client()}),
               std::invalid_argument);
  EXPECT_THROW(TCPServer(TCPServerOptions{.max_buffer_size = 0}), std::invalid_argument);
}

// A self-signed certificate for "localhost", made with the openssl tool at test time.
struct TestCertificate {
  std::string dir;
  std::string cert;
  std::string key;
  bool ok = false;
  TestCertificate() {
    dir = (std::filesystem::temp_directory_path() /
           ("tornado_tcpserver_tls_" + std::to_string(::getpid())))
              .string();
    std::filesystem::create_directories(dir);
    cert = dir + "/cert.pem";
    key = dir + "/key.pem";
    std::string cmd =
        "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost "
        "-addext subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout " +
        key + " -out " + cert + " >/dev/null 2>&1";
    ok = std::system(cmd.c_str()) == 0;
  }
  ~TestCertificate() { std::filesystem::remove_all(dir); }
};

TEST_F(TCPServerTest, SSLOptionsMakeTLSStreamsAndTheClientVerifiesTheHost) {
  TestCertificate certificate;
  if (!certificate.ok) GTEST_SKIP() << "openssl could not make a certificate";
  auto [fd, port] = testing::bind_unused_port();
  bool was_tls = false;
  LambdaServer server(
      [&](std::shared_ptr<IOStream> stream, std::string) -> Task<> {
        was_tls = std::dynamic_pointer_cast<SSLIOStream>(stream) != nullptr;
        try {
          for (;;) co_await stream->write(co_await stream->read_until("\n"));
        } catch (const StreamClosedError&) {
        }
      },
      TCPServerOptions{.ssl_options = SSLContext::server(certificate.cert, certificate.key)});
  server.add_socket(fd);
  run_sync([&, port = port]() -> Task<> {
    TCPClient client;
    // Verifying against our CA, with SNI and host check on "localhost".
    SSLClientOptions verify_ours;
    verify_ours.ca_certs = certificate.cert;
    auto ctx = SSLContext::client(verify_ours);
    auto stream = co_await client.connect("localhost", port,
                                          ConnectOptions().set_af(AF_INET).set_ssl_options(ctx));
    EXPECT_NE(std::dynamic_pointer_cast<SSLIOStream>(stream), nullptr);
    co_await stream->write("secret\n");
    EXPECT_EQ(co_await stream->read_until("\n"), "secret\n");
    stream->close();
  });
  EXPECT_TRUE(was_tls);
  server.stop();
}

}  // namespace tcpserver_test
}  // namespace tornado
