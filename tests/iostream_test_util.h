// Helpers shared by iostream_test.cpp and ssl_test.cpp: connected stream pairs (plain or
// TLS) over a real TCP socket, and a throwaway certificate made by the openssl CLI.
#pragma once

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>

#include "tornado/iostream.h"
#include "tornado/testing_core.h"

namespace tornado::test {

// A self-signed certificate for CN/SAN "localhost", generated once per test binary.
struct TestCert {
  std::string dir, cert, key;

  static const TestCert& get() {
    static TestCert c;  // built in place: a copy's destructor would delete the files
    return c;
  }
  ~TestCert() {
    // Only in the process that made it: a forked copy that exits normally (a process test's
    // child) runs this static's destructor too, and must not take the files from its parent.
    if (::getpid() != owner_pid) return;
    std::error_code ignored;
    if (!dir.empty()) std::filesystem::remove_all(dir, ignored);
  }

 private:
  static void run(const std::string& cmd) {
    if (std::system((cmd + " >/dev/null 2>&1").c_str()) != 0) {
      throw std::runtime_error("command failed: " + cmd);
    }
  }
  pid_t owner_pid = ::getpid();
  TestCert() {
    TestCert& c = *this;
    char tmpl[] = "/tmp/tornado-cert-XXXXXX";
    if (!mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
    c.dir = tmpl;
    c.cert = c.dir + "/cert.pem";
    c.key = c.dir + "/key.pem";
    auto req = [](const std::string& cert, const std::string& key, const std::string& cn) {
      return "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 "
             "-keyout " + key + " -out " + cert + " -subj /CN=" + cn +
             " -addext subjectAltName=DNS:" + cn;
    };
    run(req(c.cert, c.key, "localhost"));
  }
  TestCert(const TestCert&) = delete;
};

inline std::shared_ptr<SSLContext> server_context() {
  static auto ctx = SSLContext::server(TestCert::get().cert, TestCert::get().key);
  return ctx;
}

// A client that trusts the test certificate (and checks the host name).
inline std::shared_ptr<SSLContext> trusting_client_context() {
  SSLClientOptions o;
  o.ca_certs = TestCert::get().cert;
  return SSLContext::client(o);
}

inline std::shared_ptr<SSLContext> nonverifying_client_context() {
  SSLClientOptions o;
  o.verify = false;
  return SSLContext::client(o);
}

inline sockaddr_in loopback(int port) {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(port));
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return sa;
}

inline int tcp_socket() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::system_error(errno, std::system_category(), "socket");
  return fd;
}

struct StreamPair {
  std::shared_ptr<IOStream> server;
  std::shared_ptr<IOStream> client;
};

struct PairOptions {
  bool tls = false;
  IOStreamOptions server_options{};
  IOStreamOptions client_options{};
  std::shared_ptr<SSLContext> server_ctx;  // default: server_context()
  std::shared_ptr<SSLContext> client_ctx;  // default: non-verifying
  std::string hostname = "localhost";
};

// Accepts one connection on a listener registered with the current loop.
class Acceptor {
 public:
  Acceptor() {
    auto [fd, port] = testing::bind_unused_port();
    fd_ = fd;
    port_ = port;
    IOLoop::current().add_handler(
        fd_,
        [this](int fd, uint32_t) {
          for (;;) {
            int s = ::accept4(fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
            if (s < 0) return;
            if (accepted_.done()) {
              ::close(s);
            } else {
              accepted_.set_result(s);
            }
          }
        },
        IOLoop::READ);
  }
  ~Acceptor() {
    if (IOLoop* loop = IOLoop::current_or_null(); loop && !loop->closed()) {
      loop->remove_handler(fd_);
    }
    ::close(fd_);
    if (accepted_.done() && !taken_) ::close(accepted_.result());
  }
  int port() const { return port_; }
  Task<int> accept() {
    int fd = co_await accepted_;
    taken_ = true;
    co_return fd;
  }

 private:
  int fd_ = -1;
  int port_ = 0;
  bool taken_ = false;
  Future<int> accepted_;
};

// A connected pair over loopback TCP; with tls, both handshakes have completed.
inline Task<StreamPair> make_pair(PairOptions o) {
  Acceptor acceptor;
  sockaddr_in sa = loopback(acceptor.port());
  std::shared_ptr<IOStream> client;
  if (o.tls) {
    client = SSLIOStream::create(tcp_socket(), false,
                                 o.client_ctx ? o.client_ctx : nonverifying_client_context(),
                                 o.hostname, o.client_options);
  } else {
    client = IOStream::create(tcp_socket(), o.client_options);
  }
  auto connected =
      spawn(client->connect(reinterpret_cast<const sockaddr*>(&sa), sizeof sa));
  int fd = co_await acceptor.accept();
  std::shared_ptr<IOStream> server;
  if (o.tls) {
    auto s = SSLIOStream::create(fd, true, o.server_ctx ? o.server_ctx : server_context(), {},
                                 o.server_options);
    server = s;
    co_await connected;
    co_await s->wait_for_handshake();
  } else {
    server = IOStream::create(fd, o.server_options);
    co_await connected;
  }
  co_return StreamPair{server, client};
}

// (Not a default argument: g++ 12 mis-destroys defaulted coroutine parameters.)
inline Task<StreamPair> make_pair() { return make_pair(PairOptions{}); }

// The real_error of a StreamClosedError, rethrown as its own type for EXPECT_THROW.
template <typename E>
bool real_error_is(const StreamClosedError& e) {
  if (!e.real_error()) return false;
  try {
    std::rethrow_exception(e.real_error());
  } catch (const E&) {
    return true;
  } catch (...) {
    return false;
  }
}

inline int system_error_code(const std::exception_ptr& p) {
  try {
    if (p) std::rethrow_exception(p);
  } catch (const std::system_error& e) {
    return e.code().value();
  } catch (...) {
  }
  return 0;
}

}  // namespace tornado::test
