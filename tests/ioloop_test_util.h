// The fixture shared by the IOLoop test files (ioloop_test.cpp, ioloop_timer_test.cpp).
#pragma once

#include <gtest/gtest.h>

#include "tornado/ioloop.h"
#include "tornado/testing_core.h"

namespace tornado::test {

class IOLoopTest : public tornado::testing::AsyncTest {
 protected:
  // Starts the loop with a safety net: a guard timer stops it after `limit` and the
  // test fails, instead of hanging, if nothing else stopped it.
  void start_with_guard(Duration limit = 5s) {
    bool guard_fired = false;
    TimeoutHandle guard = io_loop().call_later(limit, [&] {
      guard_fired = true;
      io_loop().stop();
    });
    io_loop().start();
    io_loop().remove_timeout(guard);
    ASSERT_FALSE(guard_fired) << "the loop was not stopped by the test's own logic";
  }
};

}  // namespace tornado::test
