// tornado/testing_http.h — the HTTP test fixtures (Tornado's AsyncHTTPTestCase and
// AsyncHTTPSTestCase). Header-only; link GTest. Usually reached through <tornado/testing.h>.
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

#include <concepts>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>

#include "tornado/httpclient.h"
#include "tornado/httpserver.h"
#include "tornado/testing_core.h"

namespace tornado::testing {

// What AsyncHTTPTest::get_app returns: a server connection delegate (web::Application
// and anything else implementing httputil::HTTPServerConnectionDelegate, as a shared_ptr)
// or a plain request callback (HTTPServer::RequestCallback, or any lambda taking
// httputil::HTTPServerRequest&).
struct HTTPApp {
  template <typename D>
  requires std::derived_from<D, httputil::HTTPServerConnectionDelegate> HTTPApp(
      std::shared_ptr<D> d)
      : delegate(std::move(d)) {}  // NOLINT: implicit on purpose
  template <typename F>
  requires std::invocable<F&, httputil::HTTPServerRequest&> HTTPApp(F f)
      : callback(std::move(f)) {}  // NOLINT: implicit on purpose

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
        "-keyout " +
        key_ + " -out " + cert_ +
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
