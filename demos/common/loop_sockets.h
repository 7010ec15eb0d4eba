// Listening sockets for N loop threads on one port: the first loop's sockets fix the port
// (a free one for port 0), the others bind the same port with SO_REUSEPORT.
#pragma once

#include <string>
#include <vector>

namespace demo {

struct LoopSockets {
  int port = 0;                       // the port bound (the one chosen, for port 0)
  std::vector<std::vector<int>> fds;  // one set per loop
};

// `reuse_port`: the first loop's sockets take SO_REUSEPORT too (always with loops > 1), so
// that other processes can bind the same port (bench/c100k.sh runs several).
LoopSockets bind_loop_sockets(int port, const std::string& address, int loops,
                              bool reuse_port = false);

}  // namespace demo
