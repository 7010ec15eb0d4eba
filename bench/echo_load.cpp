// echo_load — a closed-loop line-echo load generator, independent of tornado-cpp so it
// drives every server (ours, Python Tornado's) identically.
//
//   echo_load --port=8888 --connections=100 --seconds=5 --size=32
//
// Each connection sends one `size`-byte line ("x...x\n"), waits for the whole echo, checks
// it, and sends the next. Prints one line: messages, seconds, msgs/s, p50/p99 latency (ms).
// Exits 1 if any connection fails or an echo differs.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Conn {
  int fd = -1;
  std::size_t received = 0;
  Clock::time_point sent_at;
};

long arg(int argc, char** argv, const char* name, long fallback) {
  std::string prefix = std::string("--") + name + "=";
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], prefix.c_str(), prefix.size()) == 0) {
      return std::strtol(argv[i] + prefix.size(), nullptr, 10);
    }
  }
  return fallback;
}

int connect_to(const char* host, int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, host, &sa.sin_addr);
  for (int attempt = 0; attempt < 50; ++attempt) {
    if (connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0) {
      int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      return fd;
    }
    usleep(20000);
  }
  return -1;
}

}  // namespace

int main(int argc, char** argv) {
  const int port = static_cast<int>(arg(argc, argv, "port", 8888));
  const long connections = arg(argc, argv, "connections", 100);
  const long seconds = arg(argc, argv, "seconds", 5);
  const std::size_t size = static_cast<std::size_t>(std::max(2L, arg(argc, argv, "size", 32)));
  const char* host = "127.0.0.1";

  std::string message(size - 1, 'x');
  message.push_back('\n');

  int ep = epoll_create1(0);
  std::vector<Conn> conns(connections);
  for (long i = 0; i < connections; ++i) {
    conns[i].fd = connect_to(host, port);
    if (conns[i].fd < 0) {
      std::fprintf(stderr, "echo_load: connect %ld failed: %s\n", i, std::strerror(errno));
      return 1;
    }
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = static_cast<uint64_t>(i);
    epoll_ctl(ep, EPOLL_CTL_ADD, conns[i].fd, &ev);
  }

  std::vector<double> latencies;
  latencies.reserve(1 << 20);
  const auto start = Clock::now();
  const auto end = start + std::chrono::seconds(seconds);
  for (auto& c : conns) {
    c.sent_at = Clock::now();
    if (write(c.fd, message.data(), message.size()) != static_cast<ssize_t>(message.size())) {
      std::fprintf(stderr, "echo_load: write failed\n");
      return 1;
    }
  }
  long messages = 0;
  std::vector<char> buf(size * 4);
  std::vector<epoll_event> events(1024);
  bool stopping = false;
  long outstanding = connections;
  while (outstanding > 0) {
    int n = epoll_wait(ep, events.data(), static_cast<int>(events.size()), 1000);
    if (n < 0 && errno != EINTR) return 1;
    auto now = Clock::now();
    if (now >= end) stopping = true;
    for (int i = 0; i < n; ++i) {
      Conn& c = conns[events[i].data.u64];
      ssize_t got = read(c.fd, buf.data(), buf.size());
      if (got <= 0) {
        std::fprintf(stderr, "echo_load: connection closed by server\n");
        return 1;
      }
      if (std::memcmp(buf.data(), message.data() + c.received % size, 1) != 0) {
        std::fprintf(stderr, "echo_load: echo differs\n");
        return 1;
      }
      c.received += static_cast<std::size_t>(got);
      if (c.received < size) continue;
      if (c.received > size) {
        std::fprintf(stderr, "echo_load: more bytes than sent\n");
        return 1;
      }
      c.received = 0;
      ++messages;
      latencies.push_back(std::chrono::duration<double, std::milli>(now - c.sent_at).count());
      if (stopping) {
        --outstanding;
        continue;
      }
      c.sent_at = now;
      if (write(c.fd, message.data(), message.size()) != static_cast<ssize_t>(message.size())) {
        std::fprintf(stderr, "echo_load: write failed\n");
        return 1;
      }
    }
  }
  double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  std::sort(latencies.begin(), latencies.end());
  auto pct = [&](double p) {
    return latencies.empty() ? 0.0 : latencies[static_cast<std::size_t>(p * (latencies.size() - 1))];
  };
  std::printf("messages=%ld seconds=%.3f msgs_per_s=%.0f p50_ms=%.3f p99_ms=%.3f\n", messages,
              elapsed, messages / elapsed, pct(0.50), pct(0.99));
  for (auto& c : conns) close(c.fd);
  return 0;
}
