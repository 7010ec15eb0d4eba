// SSLIOStream and SSLContext: verification, SNI, ALPN, start_tls, close_notify, handshake
// failures (after Tornado's TestIOStreamStartTLS and WaitForHandshakeTest). The generic
// stream behaviours run over TLS in iostream_test.cpp.
#include <sys/socket.h>
#include <unistd.h>

#include "iostream_test_util.h"

namespace tornado {
namespace ssl_test {

using test::make_pair;
using test::PairOptions;
using test::real_error_is;
using testing::ExpectLog;

class SSLTest : public testing::AsyncTest {
 public:
  static void SetUpTestSuite() { test::TestCert::get(); }
};

// Connects a client with `client_ctx` to a fresh TLS server stream; returns both (handshake
// not awaited).
struct TLSAttempt {
  std::shared_ptr<SSLIOStream> server;
  std::shared_ptr<SSLIOStream> client;
  Future<void> connected;
};

Task<TLSAttempt> attempt(std::shared_ptr<SSLContext> client_ctx, std::string hostname,
                         std::shared_ptr<SSLContext> server_ctx) {
  test::Acceptor acceptor;
  auto client = SSLIOStream::create(test::tcp_socket(), false, client_ctx, hostname);
  sockaddr_in sa = test::loopback(acceptor.port());
  auto connected = spawn(client->connect(reinterpret_cast<sockaddr*>(&sa), sizeof sa));
  int fd = co_await acceptor.accept();
  auto server = SSLIOStream::create(fd, true, server_ctx ? server_ctx : test::server_context(), {});
  co_return TLSAttempt{server, client, connected};
}

// (No default argument: g++ 12 mis-destroys defaulted coroutine parameters.)
Task<TLSAttempt> attempt(std::shared_ptr<SSLContext> client_ctx, std::string hostname) {
  return attempt(std::move(client_ctx), std::move(hostname), nullptr);
}

TEST_F(SSLTest, VerifyingClientAcceptsTrustedCertificate) {
  run_sync([&]() -> Task<> {
    auto a = co_await attempt(test::trusting_client_context(), "localhost");
    co_await a.connected;
    co_await a.server->wait_for_handshake();
    EXPECT_TRUE(a.client->handshake_done());
    a.client->write("ping");
    EXPECT_EQ(co_await a.server->read_bytes(4), "ping");
    a.client->close();
    a.server->close();
  });
}

TEST_F(SSLTest, UnknownCAFailsOnlyThatStream) {
  run_sync([&]() -> Task<> {
    // A non-verifying client on the same loop, connected before and used after.
    PairOptions ok;
    ok.tls = true;
    auto good = co_await make_pair(ok);
    {
      ExpectLog expect(gen_log(), "SSL Error");
      // Default client context: the system CA store, which does not know our certificate.
      auto a = co_await attempt(SSLContext::client(), "localhost");
      try {
        co_await a.connected;
        ADD_FAILURE() << "handshake with an unknown CA should fail";
      } catch (const StreamClosedError& e) {
        EXPECT_TRUE(real_error_is<SSLError>(e)) << e.what();
        EXPECT_NE(std::string(e.what()).find("certificate verify failed"), std::string::npos)
            << e.what();
      }
      EXPECT_THROW(co_await a.server->wait_for_handshake(), StreamClosedError);
    }
    good.client->write("fine\n");
    EXPECT_EQ(co_await good.server->read_until("\n"), "fine\n");
    good.client->close();
    good.server->close();
  });
}

TEST_F(SSLTest, NonVerifyingClientAcceptsSelfSignedCertificate) {
  run_sync([&]() -> Task<> {
    auto a = co_await attempt(test::nonverifying_client_context(), "whatever.invalid");
    co_await a.connected;
    co_await a.server->wait_for_handshake();
    a.client->close();
    a.server->close();
  });
}

TEST_F(SSLTest, HostnameMismatchFails) {
  run_sync([&]() -> Task<> {
    ExpectLog expect(gen_log(), "SSL Error");
    auto a = co_await attempt(test::trusting_client_context(), "example.com");
    try {
      co_await a.connected;
      ADD_FAILURE() << "a certificate for localhost must not pass for example.com";
    } catch (const StreamClosedError& e) {
      EXPECT_TRUE(real_error_is<SSLError>(e)) << e.what();
    }
    EXPECT_THROW(co_await a.server->wait_for_handshake(), StreamClosedError);
  });
}

TEST_F(SSLTest, IPAddressDoesNotMatchDnsName) {
  run_sync([&]() -> Task<> {
    ExpectLog expect(gen_log(), "SSL Error");
    auto a = co_await attempt(test::trusting_client_context(), "127.0.0.1");
    EXPECT_THROW(co_await a.connected, StreamClosedError);
    EXPECT_THROW(co_await a.server->wait_for_handshake(), StreamClosedError);
  });
}

TEST_F(SSLTest, VerifyingClientWithoutHostnameIsRejected) {
  EXPECT_THROW(SSLIOStream::create(test::tcp_socket(), false, SSLContext::client(), ""),
               std::invalid_argument);
}

TEST_F(SSLTest, ContextMismatchIsRejected) {
  EXPECT_THROW(SSLIOStream::create(test::tcp_socket(), true, test::nonverifying_client_context()),
               std::invalid_argument);
}

TEST_F(SSLTest, MissingCertificateFileRaisesSSLError) {
  EXPECT_THROW(SSLContext::server("/nonexistent/cert.pem"), SSLError);
  SSLClientOptions o;
  o.ca_certs = "/nonexistent/ca.pem";
  EXPECT_THROW(SSLContext::client(o), SSLError);
}

TEST_F(SSLTest, SNIAndALPNAreNegotiated) {
  run_sync([&]() -> Task<> {
    auto server_ctx = SSLContext::server(test::TestCert::get().cert, test::TestCert::get().key);
    server_ctx->set_alpn_protocols({"http/1.1", "h2"});
    auto client_ctx = test::trusting_client_context();
    client_ctx->set_alpn_protocols({"h2", "http/1.1"});
    auto a = co_await attempt(client_ctx, "localhost", server_ctx);
    co_await a.connected;
    co_await a.server->wait_for_handshake();
    EXPECT_EQ(a.server->server_hostname(), "localhost");  // what the client sent by SNI
    EXPECT_EQ(a.client->server_hostname(), "localhost");
    // The server's preference wins.
    EXPECT_EQ(a.server->selected_alpn_protocol(), "http/1.1");
    EXPECT_EQ(a.client->selected_alpn_protocol(), "http/1.1");
    a.client->close();
    a.server->close();
  });
}

TEST_F(SSLTest, NoCommonALPNProtocolContinuesWithout) {
  run_sync([&]() -> Task<> {
    auto server_ctx = SSLContext::server(test::TestCert::get().cert, test::TestCert::get().key);
    server_ctx->set_alpn_protocols({"http/1.1"});
    auto client_ctx = test::nonverifying_client_context();
    client_ctx->set_alpn_protocols({"spdy/1"});
    auto a = co_await attempt(client_ctx, "localhost", server_ctx);
    co_await a.connected;
    co_await a.server->wait_for_handshake();
    EXPECT_EQ(a.client->selected_alpn_protocol(), "");
    a.client->close();
    a.server->close();
  });
}

TEST_F(SSLTest, BadALPNNameIsRejected) {
  auto ctx = test::nonverifying_client_context();
  EXPECT_THROW(ctx->set_alpn_protocols({""}), std::invalid_argument);
  EXPECT_THROW(ctx->set_alpn_protocols({std::string(256, 'a')}), std::invalid_argument);
}

TEST_F(SSLTest, WaitForHandshakeTwiceAndConcurrently) {
  run_sync([&]() -> Task<> {
    auto a = co_await attempt(test::nonverifying_client_context(), "localhost");
    auto first = spawn(a.server->wait_for_handshake());
    try {
      co_await a.server->wait_for_handshake();
      ADD_FAILURE() << "a second concurrent waiter must be refused";
    } catch (const std::logic_error&) {
    }
    co_await first;
    co_await a.server->wait_for_handshake();  // already done: returns at once
    co_await a.connected;
    a.client->close();
    a.server->close();
  });
}

TEST_F(SSLTest, CloseNotifyMakesACleanClose) {
  run_sync([&]() -> Task<> {
    PairOptions o;
    o.tls = true;
    auto p = co_await make_pair(o);
    p.client->write("last words");
    p.client->close();  // sends close_notify
    EXPECT_EQ(co_await p.server->read_until_close(), "last words");
    EXPECT_EQ(p.server->error(), nullptr);
  });
}

TEST_F(SSLTest, TruncationWithoutCloseNotifyIsAnError) {
  run_sync([&]() -> Task<> {
    PairOptions o;
    o.tls = true;
    auto p = co_await make_pair(o);
    co_await p.client->write("partial");
    ::shutdown(p.client->fd(), SHUT_WR);  // a TCP FIN with no close_notify before it
    EXPECT_EQ(co_await p.server->read_until_close(), "partial");
    try {
      if (p.server->error()) std::rethrow_exception(p.server->error());
      ADD_FAILURE() << "an EOF without close_notify must be reported";
    } catch (const SSLError& e) {
      EXPECT_NE(std::string(e.what()).find("close_notify"), std::string::npos) << e.what();
    }
    p.client->close();
  });
}

// RFC 3207's STARTTLS exchange, as in Tornado's test_start_tls_smtp.
TEST_F(SSLTest, StartTLSUpgradesAPlainStream) {
  run_sync([&]() -> Task<> {
    auto p = co_await make_pair();
    std::shared_ptr<IOStream> server = p.server, client = p.client;
    auto line = [](std::shared_ptr<IOStream> from, std::shared_ptr<IOStream> to,
                   std::string text) -> Task<> {
      from->write(text);
      EXPECT_EQ(co_await to->read_until("\r\n"), text);
    };
    co_await line(server, client, "220 mail.example.com ready\r\n");
    co_await line(client, server, "EHLO mail.example.com\r\n");
    co_await line(server, client, "250 STARTTLS\r\n");
    co_await line(client, server, "STARTTLS\r\n");
    co_await line(server, client, "220 Go ahead\r\n");
    bool closed = false;
    server->set_close_callback([&] { closed = true; });
    auto client_tls = spawn(client->start_tls(false, test::trusting_client_context(), "localhost"));
    auto server_tls = spawn(server->start_tls(true, test::server_context()));
    std::shared_ptr<IOStream> c = co_await client_tls;
    std::shared_ptr<IOStream> s = co_await server_tls;
    EXPECT_TRUE(client->closed());  // the plain streams are detached
    EXPECT_TRUE(server->closed());
    EXPECT_NE(dynamic_cast<SSLIOStream*>(c.get()), nullptr);
    co_await line(c, s, "EHLO mail.example.com\r\n");
    co_await line(s, c, "250 mail.example.com welcome\r\n");
    EXPECT_FALSE(closed);
    c->close();
    co_await s->read_until_close();
    co_await moment{};
    EXPECT_TRUE(closed);  // the close callback moved to the TLS stream
  });
}

TEST_F(SSLTest, StartTLSHandshakeFailureRaises) {
  run_sync([&]() -> Task<> {
    auto p = co_await make_pair();
    ExpectLog expect(gen_log(), "SSL Error");
    auto server_tls = spawn(p.server->start_tls(true, test::server_context()));
    // A null context means the verifying default, which does not trust our certificate.
    try {
      co_await p.client->start_tls(false, nullptr, "localhost");
      ADD_FAILURE() << "start_tls should fail verification";
    } catch (const StreamClosedError& e) {
      EXPECT_TRUE(real_error_is<SSLError>(e)) << e.what();
    }
    EXPECT_THROW(co_await server_tls, StreamClosedError);
  });
}

TEST_F(SSLTest, StartTLSWithPendingReadIsRefused) {
  run_sync([&]() -> Task<> {
    auto p = co_await make_pair();
    auto pending = spawn(p.server->read_bytes(1));
    EXPECT_THROW(co_await p.server->start_tls(true, test::server_context()), std::logic_error);
    p.client->write("x");
    EXPECT_EQ(co_await pending, "x");
    p.server->close();
    p.client->close();
  });
}

}  // namespace ssl_test
}  // namespace tornado
