// IOLoop::add_signal_handler / remove_signal_handler: signals delivered through a signalfd run
// their callback on the loop. Its own binary: the process-wide signals sent here must not
// meet threads of other tests that left them unblocked.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <stdexcept>
#include <vector>

#include "tornado/ioloop.h"
#include "tornado/testing_core.h"

namespace ioloop_signal_test {

using namespace tornado;
using tornado::testing::AsyncTest;
using tornado::testing::ExpectLog;

namespace {

bool blocked_in_this_thread(int signum) {
  sigset_t mask;
  pthread_sigmask(SIG_SETMASK, nullptr, &mask);
  return sigismember(&mask, signum) == 1;
}

class SignalHandlerTest : public AsyncTest {};

TEST_F(SignalHandlerTest, RaisedSignalRunsItsCallbackOnTheLoop) {
  std::vector<int> got;
  io_loop().add_signal_handler(SIGUSR1, [&] {
    got.push_back(SIGUSR1);
    io_loop().stop();
  });
  io_loop().add_callback([] { ::raise(SIGUSR1); });
  io_loop().start();
  EXPECT_EQ(got, std::vector<int>{SIGUSR1});
}

TEST_F(SignalHandlerTest, SigtermSentToTheProcessStartsAGracefulStop) {
  bool draining = false;
  io_loop().add_signal_handler(SIGTERM, [&] {
    draining = true;
    io_loop().call_later(Duration(0.001), [&] { io_loop().stop(); });
  });
  io_loop().add_callback([] { ::kill(::getpid(), SIGTERM); });
  io_loop().start();
  EXPECT_TRUE(draining);
}

TEST_F(SignalHandlerTest, TwoSignalsEachReachTheirHandler) {
  int usr1 = 0, usr2 = 0;
  io_loop().add_signal_handler(SIGUSR1, [&] { ++usr1; });
  io_loop().add_signal_handler(SIGUSR2, [&] {
    ++usr2;
    io_loop().stop();
  });
  io_loop().add_callback([] {
    ::kill(::getpid(), SIGUSR1);
    ::kill(::getpid(), SIGUSR2);
  });
  io_loop().start();
  EXPECT_EQ(usr1, 1);
  EXPECT_EQ(usr2, 1);
}

TEST_F(SignalHandlerTest, ReplacingAHandlerKeepsOneRegistration) {
  int first = 0, second = 0;
  io_loop().add_signal_handler(SIGUSR1, [&] { ++first; });
  io_loop().add_signal_handler(SIGUSR1, [&] {
    ++second;
    io_loop().stop();
  });
  io_loop().add_callback([] { ::raise(SIGUSR1); });
  io_loop().start();
  EXPECT_EQ(first, 0);
  EXPECT_EQ(second, 1);
}

TEST_F(SignalHandlerTest, RemoveRestoresTheThreadsMask) {
  ASSERT_FALSE(blocked_in_this_thread(SIGUSR1));
  io_loop().add_signal_handler(SIGUSR1, [] {});
  EXPECT_TRUE(blocked_in_this_thread(SIGUSR1));
  EXPECT_TRUE(io_loop().remove_signal_handler(SIGUSR1));
  EXPECT_FALSE(blocked_in_this_thread(SIGUSR1));
  EXPECT_FALSE(io_loop().remove_signal_handler(SIGUSR1));
}

TEST_F(SignalHandlerTest, CloseRestoresTheThreadsMask) {
  io_loop().add_signal_handler(SIGUSR2, [] {});
  EXPECT_TRUE(blocked_in_this_thread(SIGUSR2));
  io_loop().close();
  EXPECT_FALSE(blocked_in_this_thread(SIGUSR2));
}

TEST_F(SignalHandlerTest, ExceptionInHandlerIsLoggedAndLoopContinues) {
  ExpectLog expected(app_log(), "Exception in signal handler for signal");
  bool after = false;
  io_loop().add_signal_handler(SIGUSR1, [] { throw std::runtime_error("boom"); });
  io_loop().add_callback([&] {
    ::raise(SIGUSR1);
    io_loop().call_later(Duration(0.01), [&] {
      after = true;
      io_loop().stop();
    });
  });
  io_loop().start();
  EXPECT_TRUE(after);
}

TEST_F(SignalHandlerTest, UnhandleableSignalsAreRejected) {
  EXPECT_THROW(io_loop().add_signal_handler(SIGKILL, [] {}), std::invalid_argument);
  EXPECT_THROW(io_loop().add_signal_handler(SIGSTOP, [] {}), std::invalid_argument);
  EXPECT_THROW(io_loop().add_signal_handler(0, [] {}), std::invalid_argument);
  EXPECT_THROW(io_loop().add_signal_handler(SIGUSR1, nullptr), std::invalid_argument);
}

}  // namespace

}  // namespace ioloop_signal_test
