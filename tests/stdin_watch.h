// For the servers that test scripts start (tests/interop/*, tests/browser/): stop the loop
// when stdin reaches EOF, i.e. when the script that started the server is gone (or closes
// the pipe to ask for a clean exit, so that the sanitizers' leak check runs).
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "tornado/ioloop.h"

namespace tornado::test {

// The loop is edge-triggered: each event drains stdin until EAGAIN.
inline void stop_loop_at_stdin_eof(IOLoop& loop) {
  ::fcntl(STDIN_FILENO, F_SETFL, ::fcntl(STDIN_FILENO, F_GETFL) | O_NONBLOCK);
  loop.add_handler(
      STDIN_FILENO,
      [&loop](int fd, uint32_t) {
        char buf[256];
        for (;;) {
          ssize_t n = ::read(fd, buf, sizeof buf);
          if (n > 0 || (n < 0 && errno == EINTR)) continue;
          if (n < 0 && errno == EAGAIN) return;
          loop.remove_handler(fd);
          loop.stop();
          return;
        }
      },
      IOLoop::READ);
}

}  // namespace tornado::test
