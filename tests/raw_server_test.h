// A test fixture for an HTTPServer on a loopback port driven by raw bytes: start it with the
// server's constructor arguments, send a batch in one write, read what comes back until the
// server closes. The server goes before the loop (TearDown).
#pragma once

#include <memory>
#include <string>
#include <utility>

#include "http_test_util.h"
#include "tornado/httpserver.h"
#include "tornado/testing.h"

namespace tornado::test {

class RawServerTest : public testing::AsyncTest {
 protected:
  // HTTPServer(args...), listening on an unused loopback port.
  template <class... Args>
  void start_server(Args&&... args) {
    auto [fd, port] = tornado::testing::bind_unused_port();
    port_ = port;
    server_ = std::make_unique<HTTPServer>(std::forward<Args>(args)...);
    server_->add_socket(fd);
  }
  void TearDown() override {
    server_.reset();
    AsyncTest::TearDown();
  }
  // Writes `bytes` in one write and returns everything until the server closes.
  std::string exchange(const std::string& bytes) {
    return run_sync([&] { return exchange_raw(port_, bytes); });
  }

  int port_ = 0;
  std::unique_ptr<HTTPServer> server_;
};

}  // namespace tornado::test
