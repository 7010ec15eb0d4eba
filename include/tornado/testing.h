// tornado/testing.h — GoogleTest support (Tornado's `testing`). Header-only; link GTest.
//
//   class MyTest : public tornado::testing::AsyncTest {};
//   TEST_F(MyTest, Sleeps) {
//     run_sync([]() -> Task<> { co_await sleep(10ms); });   // fails after 5 s by default
//   }
//
// AsyncTest gives every test a fresh IOLoop (current on the test's thread) and fails the
// test if anything logged an error on tornado.application that no ExpectLog claimed —
// e.g. a spawned task whose exception nobody retrieved, or a throwing callback.
// The default run_sync timeout is 5 s, or ASYNC_TEST_TIMEOUT seconds from the environment.
//
// AsyncHTTPTest (and AsyncHTTPSTest) also start an HTTPServer on an unused 127.0.0.1 port
// for each test, with the application get_app() returns, and an AsyncHTTPClient:
//
//   class HelloTest : public tornado::testing::AsyncHTTPTest {
//     HTTPApp get_app() override {
//       return [](httputil::HTTPServerRequest& r) { /* answer via r.connection */ };
//     }
//   };
//   TEST_F(HelloTest, Works) { EXPECT_EQ(fetch("/").code, 200); }
#pragma once

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <sys/socket.h>
#include <unistd.h>

#include <concepts>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <regex>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "tornado/httpclient.h"
#include "tornado/httpserver.h"
#include "tornado/ioloop.h"
#include "tornado/log.h"
#include "tornado/task.h"

namespace tornado::testing {

// ASYNC_TEST_TIMEOUT from the environment, else 5 seconds.
inline double get_async_test_timeout() {
  if (const char* env = std::getenv("ASYNC_TEST_TIMEOUT")) {
    char* end = nullptr;
    double v = std::strtod(env, &end);
    if (end != env && v > 0) return v;
  }
  return 5.0;
}

namespace detail {

struct Expectation {
  std::string logger;
  std::regex pattern;
  std::optional<spdlog::level::level_enum> level;
  int matched = 0;
};

// The one sink the test loggers write to: claims records an ExpectLog expects, remembers
// unclaimed application errors, and forwards the rest to stderr.
class CaptureSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  static std::shared_ptr<CaptureSink> instance() {
    static auto sink = [] {
      auto s = std::make_shared<CaptureSink>();
      set_log_sink(s);
      return s;
    }();
    return sink;
  }
  void push(Expectation* e) {
    std::lock_guard lock(mutex_);
    expectations_.push_back(e);
  }
  void pop(Expectation* e) {
    std::lock_guard lock(mutex_);
    std::erase(expectations_, e);
  }
  std::vector<std::string> take_unexpected_errors() {
    std::lock_guard lock(mutex_);
    return std::exchange(unexpected_, {});
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    std::string text(msg.payload.data(), msg.payload.size());
    std::string name(msg.logger_name.data(), msg.logger_name.size());
    for (auto it = expectations_.rbegin(); it != expectations_.rend(); ++it) {
      Expectation* e = *it;
      if (e->logger == name && (!e->level || *e->level == msg.level) &&
          std::regex_search(text, e->pattern)) {
        ++e->matched;
        return;
      }
    }
    if (name == "tornado.application" && msg.level >= spdlog::level::err) {
      unexpected_.push_back(text);
    }
    stderr_->log(msg);
  }
  void flush_() override { stderr_->flush(); }

 private:
  std::shared_ptr<spdlog::sinks::sink> stderr_ = make_stderr_sink();
  std::vector<Expectation*> expectations_;
  std::vector<std::string> unexpected_;
};

}  // namespace detail

// Scope guard: while alive, log records on `logger` matching `regex` (and `level`, if
// given) are swallowed. On destruction the test fails if `required` and none matched.
class ExpectLog {
 public:
  ExpectLog(spdlog::logger& logger, const std::string& regex, bool required = true,
            std::optional<spdlog::level::level_enum> level = std::nullopt)
      : required_(required), sink_(detail::CaptureSink::instance()) {
    expectation_.logger = logger.name();
    expectation_.pattern = std::regex(regex);
    expectation_.level = level;
    sink_->push(&expectation_);
  }
  ~ExpectLog() {
    sink_->pop(&expectation_);
    if (required_ && expectation_.matched == 0) {
      ADD_FAILURE() << "did not get expected log message on " << expectation_.logger;
    }
  }
  ExpectLog(const ExpectLog&) = delete;
  ExpectLog& operator=(const ExpectLog&) = delete;
  int matched() const { return expectation_.matched; }

 private:
  detail::Expectation expectation_;
  bool required_;
  std::shared_ptr<detail::CaptureSink> sink_;
};

// A fixture with a fresh IOLoop per test.
class AsyncTest : public ::testing::Test {
 protected:
  void SetUp() override {
    detail::CaptureSink::instance()->take_unexpected_errors();
    loop_ = std::make_unique<IOLoop>(/*make_current=*/true);
  }
  void TearDown() override {
    loop_.reset();  // drops pending callbacks; unretrieved failures log now
    for (const auto& e : detail::CaptureSink::instance()->take_unexpected_errors()) {
      ADD_FAILURE() << "unexpected error logged on tornado.application: " << e;
    }
  }
  IOLoop& io_loop() { return *loop_; }

  // Runs fn()'s task on the test loop with the default test timeout (or `timeout`).
  template <typename F>
  auto run_sync(F&& fn, std::optional<Duration> timeout = std::nullopt) {
    return loop_->run_sync(std::forward<F>(fn),
                           timeout.value_or(Duration(get_async_test_timeout())));
  }

 private:
  std::unique_ptr<IOLoop> loop_;
};

// A listening, non-blocking TCP socket on an unused port of `address`: {fd, port}.
inline std::pair<int, int> bind_unused_port(bool reuse_port = false,
                                            const std::string& address = "127.0.0.1") {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "socket");
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (reuse_port) setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  if (inet_pton(AF_INET, address.c_str(), &sa.sin_addr) != 1) {
    ::close(fd);
    throw std::invalid_argument("bind_unused_port: not an IPv4 address: " + address);
  }
  if (::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) < 0 || ::listen(fd, 128) < 0) {
    int err = errno;
    ::close(fd);
    throw std::system_error(err, std::generic_category(), "bind_unused_port");
  }
  socklen_t len = sizeof sa;
  getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len);
  return {fd, ntohs(sa.sin_port)};
}

// What AsyncHTTPTest::get_app returns: a server connection delegate (web::Application
// and anything else implementing httputil::HTTPServerConnectionDelegate, as a shared_ptr)
// or a plain request callback (HTTPServer::RequestCallback, or any lambda taking
// httputil::HTTPServerRequest&).
struct HTTPApp {
  template <typename D>
    requires std::derived_from<D, httputil::HTTPServerConnectionDelegate>
  HTTPApp(std::shared_ptr<D> d) : delegate(std::move(d)) {}  // NOLINT: implicit on purpose
  template <typename F>
    requires std::invocable<F&, httputil::HTTPServerRequest&>
  HTTPApp(F f) : callback(std::move(f)) {}  // NOLINT: implicit on purpose

  std::shared_ptr<httputil::HTTPServerConnectionDelegate> delegate;
  HTTPServer::RequestCallback callback;
};

// An AsyncTest with an HTTP server on an unused port and a client (Tornado's
// AsyncHTTPTestCase). Override get_app(); optionally get_httpserver_options() and
// get_http_client_options(). Both are made in SetUp and closed in TearDown.
class AsyncHTTPTest : public AsyncTest {
 protected:
  virtual HTTPApp get_app() = 0;
  virtual HTTPServerOptions get_httpserver_options() { return {}; }
  virtual httpclient::AsyncHTTPClientOptions get_http_client_options() { return {}; }
  virtual std::string get_protocol() const { return "http"; }

  void SetUp() override {
    AsyncTest::SetUp();
    auto [fd, port] = bind_unused_port();
    port_ = port;
    HTTPApp app = get_app();
    HTTPServerOptions options = get_httpserver_options();
    if (app.delegate) {
      http_server_ = std::make_unique<HTTPServer>(std::move(app.delegate), std::move(options));
    } else if (app.callback) {
      http_server_ = std::make_unique<HTTPServer>(std::move(app.callback), std::move(options));
    } else {
      ::close(fd);
      throw std::logic_error("AsyncHTTPTest: get_app() returned no application");
    }
    http_server_->add_socket(fd);
    http_client_ = std::make_shared<httpclient::AsyncHTTPClient>(get_http_client_options());
  }

  void TearDown() override {
    if (http_server_) {
      http_server_->stop();
      http_server_->close_all_connections();
    }
    if (http_client_) http_client_->close();
    // Let closed connections' callbacks and the server's coroutines run down.
    try {
      run_sync([]() -> Task<> { co_await sleep(Duration(0.001)); });
    } catch (...) {
    }
    http_client_.reset();
    http_server_.reset();
    AsyncTest::TearDown();
  }

  int get_http_port() const { return port_; }
  // An absolute URL for `path` on the test server.
  std::string get_url(const std::string& path) const {
    return get_protocol() + "://127.0.0.1:" + std::to_string(port_) + path;
  }
  HTTPServer& http_server() { return *http_server_; }
  httpclient::AsyncHTTPClient& http_client() { return *http_client_; }

  // Fetches `path` (relative to the server, or an absolute URL) with the test's client,
  // running the loop until the response arrives. Unlike AsyncHTTPClient::fetch,
  // raise_error defaults to false (as Tornado's AsyncHTTPTestCase.fetch): an error
  // response is returned; a 599 still raises HTTPClientError.
  httpclient::HTTPResponse fetch(const std::string& path) {
    return fetch(path, httpclient::HTTPRequest{}, false);
  }
  httpclient::HTTPResponse fetch(const std::string& path, httpclient::HTTPRequest options,
                                 bool raise_error = false) {
    options.url = path.starts_with("http:") || path.starts_with("https:") ? path : get_url(path);
    auto request = std::make_shared<httpclient::HTTPRequest>(std::move(options));
    auto client = http_client_;
    return run_sync([client, request, raise_error]() -> Task<httpclient::HTTPResponse> {
      return client->fetch(*request, raise_error);
    });
  }

 private:
  int port_ = 0;
  std::unique_ptr<HTTPServer> http_server_;
  std::shared_ptr<httpclient::AsyncHTTPClient> http_client_;
};

namespace detail {
// A self-signed certificate for 127.0.0.1 and localhost made by the openssl command at
// first use, deleted at exit.
class TestCertificate {
 public:
  static const TestCertificate& get() {
    static TestCertificate cert;
    return cert;
  }
  const std::string& certfile() const { return cert_; }
  const std::string& keyfile() const { return key_; }
  ~TestCertificate() {
    std::error_code ignored;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ignored);
  }
  TestCertificate(const TestCertificate&) = delete;
  TestCertificate& operator=(const TestCertificate&) = delete;

 private:
  TestCertificate() {
    char tmpl[] = "/tmp/tornado-https-test-XXXXXX";
    if (!::mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
    dir_ = tmpl;
    cert_ = dir_ + "/cert.pem";
    key_ = dir_ + "/key.pem";
    std::string cmd =
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 "
        "-keyout " + key_ + " -out " + cert_ +
        " -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 >/dev/null 2>&1";
    if (std::system(cmd.c_str()) != 0) {
      throw std::runtime_error("AsyncHTTPSTest: openssl could not make a test certificate");
    }
  }
  std::string dir_, cert_, key_;
};
}  // namespace detail

// AsyncHTTPTest over TLS with a throwaway self-signed certificate (for 127.0.0.1 and
// localhost). Fetch with validate_cert = false, or ca_certs = get_ssl_certfile().
class AsyncHTTPSTest : public AsyncHTTPTest {
 protected:
  HTTPServerOptions get_httpserver_options() override {
    HTTPServerOptions o;
    o.ssl_options = get_ssl_options();
    return o;
  }
  virtual std::shared_ptr<SSLContext> get_ssl_options() {
    const auto& cert = detail::TestCertificate::get();
    return SSLContext::server(cert.certfile(), cert.keyfile());
  }
  std::string get_protocol() const override { return "https"; }
  static std::string get_ssl_certfile() { return detail::TestCertificate::get().certfile(); }
};

}  // namespace tornado::testing
