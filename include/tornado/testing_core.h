// tornado/testing_core.h — GoogleTest support for the runtime (Tornado's `testing`, minus HTTP).
// Header-only; link GTest. Includes no HTTP header: the runtime's own tests and a user of only
// the loop, streams and TCP use it. <tornado/testing.h> adds the HTTP fixtures.
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
// ExpectLog claims expected log lines; bind_unused_port gives a listening socket.
#pragma once

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <memory>
#include <mutex>
#include <optional>
#include <regex>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

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

}  // namespace tornado::testing
