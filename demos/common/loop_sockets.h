// Listening sockets for N loop threads on one port: the first loop's sockets fix the port
// (a free one for port 0), the others bind the same port with SO_REUSEPORT. `reuse_port`
// sets it on the first loop's too (so that another process may bind the port beside this
// one: a restart behind a second process, docs/drain.md).
#pragma once

#include <string>
#include <vector>

namespace demo {

struct LoopSockets {
  int port = 0;                       // the port bound (the one chosen, for port 0)
  std::vector<std::vector<int>> fds;  // one set per loop
};

LoopSockets bind_loop_sockets(int port, const std::string& address, int loops,
                              bool reuse_port = false);

}  // namespace demo
