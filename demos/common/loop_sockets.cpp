#include "loop_sockets.h"

#include <netinet/in.h>
#include <sys/socket.h>

#include "tornado/netutil.h"

namespace demo {

namespace {

int bound_port(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return 0;
  if (ss.ss_family == AF_INET6) return ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
  return ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
}

}  // namespace

LoopSockets bind_loop_sockets(int port, const std::string& address, int loops, bool reuse_port) {
  LoopSockets out;
  const bool shared = loops > 1 || reuse_port;
  out.fds.push_back(tornado::bind_sockets(port, address, AF_UNSPEC, 4096, shared));
  out.port = bound_port(out.fds[0].front());
  for (int i = 1; i < loops; ++i) {
    out.fds.push_back(tornado::bind_sockets(out.port, address, AF_UNSPEC, 4096, true));
  }
  return out;
}

}  // namespace demo
