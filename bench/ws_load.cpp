// ws_load — a WebSocket load generator, independent of tornado-cpp so that it drives every
// server (ours, Python Tornado, node ws) identically. epoll, one thread per --threads.
//
//   ws_load --mode=echo --port=8888 --path=/echo --connections=100 --seconds=5 --size=32
//       Each connection sends a masked text message, waits for its echo, checks it, sends
//       the next. Prints: messages, seconds, msgs/s, p50/p99 round trip (ms).
//   ws_load --mode=broadcast --port=8888 --sub-path=/sub --pub-path=/pub --subscribers=10000
//           --rounds=20 --size=32
//       Opens the subscribers, then a publisher; each round the publisher sends one message
//       and the round ends when every subscriber has it. Prints: deliveries, seconds,
//       deliveries/s, p50/p99 of the time until the LAST subscriber had the message (ms).
//   ws_load --mode=idle --port=8888 --path=/echo --connections=10000 --hold=5
//       Opens the connections, prints "ready N", holds them --hold seconds, then exits.
//   ws_load --mode=scale --port=8888 --path=/sub --connections=20000 --source=127.0.0.2
//           --rounds=5 --timeout=120 [--window=256]
//       One of several client processes of bench/c100k.sh: opens the subscribers from the
//       source address (several processes on several 127.0.0.x addresses get past one
//       address's ephemeral ports and one process's open files), --window handshakes in
//       flight at a time, prints "ready N open_s S",
//       then counts the rounds `--mode=publish` sends: per round, how many subscribers got it
//       and when the last one did (ms after it was published, CLOCK_MONOTONIC: one machine).
//       Prints "round R got G of N last_ms L" per round and "lost X duplicates D"; exits 1
//       if anything was lost or repeated, or --timeout seconds pass first.
//   ws_load --mode=publish --port=8888 --path=/pub --rounds=5 --interval-ms=2000 --size=32
//       Sends the rounds, each "<round>:<publish time in ns>:" padded to --size.
//
// Exits 1 if a handshake fails, a connection is lost, or a message differs.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "ws_frames.h"

namespace {

using Clock = std::chrono::steady_clock;

std::string arg(int argc, char** argv, const char* name, const char* fallback) {
  const std::string prefix = std::string("--") + name + "=";
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], prefix.c_str(), prefix.size()) == 0) return argv[i] + prefix.size();
  }
  return fallback;
}
long num(int argc, char** argv, const char* name, long fallback) {
  std::string v = arg(argc, argv, name, "");
  return v.empty() ? fallback : std::strtol(v.c_str(), nullptr, 10);
}

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "ws_load: %s (%s)\n", what, std::strerror(errno));
  std::exit(1);
}

// A socket bound to `source` (an address of 127.0.0.0/8; empty: the kernel's choice).
int client_socket(const std::string& source) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) die("socket");
  if (!source.empty()) {
    sockaddr_in local{};
    local.sin_family = AF_INET;
    if (inet_pton(AF_INET, source.c_str(), &local.sin_addr) != 1 ||
        (ntohl(local.sin_addr.s_addr) >> 24) != 127) {
      std::fprintf(stderr, "ws_load: --source=%s is not a loopback address\n", source.c_str());
      std::exit(2);
    }
    // The port is chosen at connect(), knowing the destination: a bind() to port 0 picks one
    // alone, searching the address's ports in use, which grows slow past ~10,000 of them.
    int one = 1;
    setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    if (bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0) die("bind --source");
  }
  return fd;
}

// A connected, upgraded socket (blocking during the handshake, non-blocking after).
int open_ws(int port, const std::string& path, const std::string& source = {}) {
  int fd = client_socket(source);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
  int attempt = 0;
  while (connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    if (++attempt == 100) die("connect");
    close(fd);
    fd = client_socket(source);
    usleep(20000);
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  const std::string req = "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) +
                          "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                          "Sec-WebSocket-Version: 13\r\n\r\n";
  if (write(fd, req.data(), req.size()) != static_cast<ssize_t>(req.size())) die("write");
  std::string head;
  char c;
  while (head.size() < 4 || head.compare(head.size() - 4, 4, "\r\n\r\n") != 0) {
    if (read(fd, &c, 1) != 1) die("handshake: connection closed");
    head += c;
  }
  if (head.compare(0, 12, "HTTP/1.1 101") != 0) {
    std::fprintf(stderr, "ws_load: handshake refused: %s\n", head.c_str());
    std::exit(1);
  }
  return fd;
}

using bench::client_frame;
using bench::take_frames;

double percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(p * v.size()))];
}

double ms_since(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

// ---- echo -----------------------------------------------------------------------------------

struct EchoResult {
  long messages = 0;
  std::vector<double> latencies;
};

void echo_thread(int port, std::string path, int connections, double seconds, std::size_t size,
                 EchoResult& out) {
  const std::string payload(size, 'e');
  const std::string frame = client_frame(payload);
  std::vector<int> fds;
  std::vector<std::string> bufs(connections);
  std::vector<Clock::time_point> sent(connections);
  int ep = epoll_create1(0);
  for (int i = 0; i < connections; ++i) {
    int fd = open_ws(port, path);
    fds.push_back(fd);
    epoll_event ev{EPOLLIN, {.u32 = static_cast<uint32_t>(i)}};
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
  }
  const auto end = Clock::now() + std::chrono::duration<double>(seconds);
  for (int i = 0; i < connections; ++i) {
    sent[i] = Clock::now();
    if (write(fds[i], frame.data(), frame.size()) < 0) die("write");
  }
  std::vector<epoll_event> events(256);
  char chunk[65536];
  while (Clock::now() < end) {
    int n = epoll_wait(ep, events.data(), static_cast<int>(events.size()), 100);
    for (int e = 0; e < n; ++e) {
      const uint32_t i = events[e].data.u32;
      ssize_t r = read(fds[i], chunk, sizeof chunk);
      if (r <= 0) die("echo: connection lost");
      bufs[i].append(chunk, static_cast<std::size_t>(r));
      int got = 0;
      if (!take_frames(bufs[i], [&](std::string_view m) {
            if (m != payload) die("echo: message differs");
            ++got;
          })) {
        die("echo: closed by the server");
      }
      for (int k = 0; k < got; ++k) {
        out.latencies.push_back(ms_since(sent[i]));
        ++out.messages;
        sent[i] = Clock::now();
        if (write(fds[i], frame.data(), frame.size()) < 0) die("write");
      }
    }
  }
  for (int fd : fds) close(fd);
  close(ep);
}

int run_echo(int argc, char** argv) {
  const int port = static_cast<int>(num(argc, argv, "port", 8888));
  const std::string path = arg(argc, argv, "path", "/echo");
  const int connections = static_cast<int>(num(argc, argv, "connections", 100));
  const double seconds = static_cast<double>(num(argc, argv, "seconds", 5));
  const std::size_t size = static_cast<std::size_t>(num(argc, argv, "size", 32));
  const int threads = std::max(1, static_cast<int>(num(argc, argv, "threads", 1)));
  std::vector<EchoResult> results(threads);
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; ++t) {
    const int share = connections / threads + (t < connections % threads ? 1 : 0);
    ts.emplace_back(echo_thread, port, path, share, seconds, size, std::ref(results[t]));
  }
  for (auto& t : ts) t.join();
  EchoResult all;
  for (auto& r : results) {
    all.messages += r.messages;
    all.latencies.insert(all.latencies.end(), r.latencies.begin(), r.latencies.end());
  }
  std::printf("messages %ld seconds %.1f msgs/s %.0f p50_ms %.3f p99_ms %.3f\n", all.messages,
              seconds, static_cast<double>(all.messages) / seconds, percentile(all.latencies, 0.5),
              percentile(all.latencies, 0.99));
  return 0;
}

// ---- broadcast --------------------------------------------------------------------------------

int run_broadcast(int argc, char** argv) {
  const int port = static_cast<int>(num(argc, argv, "port", 8888));
  const std::string sub_path = arg(argc, argv, "sub-path", "/sub");
  const std::string pub_path = arg(argc, argv, "pub-path", "/pub");
  const int subscribers = static_cast<int>(num(argc, argv, "subscribers", 10000));
  const int rounds = static_cast<int>(num(argc, argv, "rounds", 20));
  const std::size_t size = static_cast<std::size_t>(num(argc, argv, "size", 32));
  std::vector<int> fds;
  int ep = epoll_create1(0);
  for (int i = 0; i < subscribers; ++i) {
    int fd = open_ws(port, sub_path);
    fds.push_back(fd);
    epoll_event ev{EPOLLIN, {.u32 = static_cast<uint32_t>(i)}};
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
  }
  const int pub = open_ws(port, pub_path);
  usleep(200000);  // let the server finish the subscriptions
  std::vector<std::string> bufs(subscribers);
  std::vector<int> got_round(subscribers, -1);
  std::vector<double> fanout;
  std::vector<epoll_event> events(1024);
  char chunk[65536];
  long deliveries = 0;
  const auto start = Clock::now();
  for (int round = 0; round < rounds; ++round) {
    std::string payload = std::to_string(round) + ":";
    payload.resize(size, 'b');
    const std::string frame = client_frame(payload);
    const auto sent = Clock::now();
    if (write(pub, frame.data(), frame.size()) < 0) die("write");
    int remaining = subscribers;
    while (remaining > 0) {
      int n = epoll_wait(ep, events.data(), static_cast<int>(events.size()), 10000);
      if (n == 0) {
        std::fprintf(stderr, "ws_load: round %d: %d subscribers got nothing in 10 s\n", round,
                     remaining);
        return 1;
      }
      for (int e = 0; e < n; ++e) {
        const uint32_t i = events[e].data.u32;
        ssize_t r = read(fds[i], chunk, sizeof chunk);
        if (r <= 0) die("broadcast: subscriber lost");
        bufs[i].append(chunk, static_cast<std::size_t>(r));
        if (!take_frames(bufs[i], [&](std::string_view m) {
              if (m != payload) die("broadcast: message differs");
              if (got_round[i] == round) die("broadcast: message received twice");
              got_round[i] = round;
              ++deliveries;
              --remaining;
            })) {
          die("broadcast: closed by the server");
        }
      }
    }
    fanout.push_back(ms_since(sent));
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  std::printf(
      "deliveries %ld seconds %.3f deliveries/s %.0f fanout_p50_ms %.3f fanout_p99_ms %.3f\n",
      deliveries, seconds, static_cast<double>(deliveries) / seconds, percentile(fanout, 0.5),
      percentile(fanout, 0.99));
  for (int fd : fds) close(fd);
  close(pub);
  return 0;
}

// ---- idle -------------------------------------------------------------------------------------

int run_idle(int argc, char** argv) {
  const int port = static_cast<int>(num(argc, argv, "port", 8888));
  const std::string path = arg(argc, argv, "path", "/echo");
  const int connections = static_cast<int>(num(argc, argv, "connections", 10000));
  const long hold = num(argc, argv, "hold", 5);
  std::vector<int> fds;
  for (int i = 0; i < connections; ++i) fds.push_back(open_ws(port, path));
  std::printf("ready %d\n", connections);
  std::fflush(stdout);
  sleep(static_cast<unsigned>(hold));
  for (int fd : fds) close(fd);
  return 0;
}

// ---- scale: one client process of several (bench/c100k.sh) ----------------------------------

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
      .count();
}

// The handshake request every connection sends.
std::string upgrade_request(int port, const std::string& path) {
  return "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) +
         "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
}

// Opens `connections` WebSockets with up to `window` handshakes in flight (non-blocking
// connects on `ep`, the u32 of each event its index); bytes read past a 101's head are left
// in bufs. Dies on a refused handshake or after 100 failed connects of one connection.
void open_many(int ep, int port, const std::string& path, const std::string& source,
               int connections, int window, std::vector<int>& fds, std::vector<std::string>& bufs) {
  const std::string request = upgrade_request(port, path);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
  enum State : uint8_t { kConnecting, kHandshaking, kOpen };
  std::vector<State> state(static_cast<std::size_t>(connections), kConnecting);
  std::vector<int> attempts(static_cast<std::size_t>(connections), 0);
  fds.assign(static_cast<std::size_t>(connections), -1);
  bufs.assign(static_cast<std::size_t>(connections), std::string());
  auto start = [&](int i) {
    if (++attempts[static_cast<std::size_t>(i)] > 100) die("connect: 100 attempts");
    int fd = client_socket(source);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 && errno != EINPROGRESS) {
      die("connect");
    }
    fds[static_cast<std::size_t>(i)] = fd;
    state[static_cast<std::size_t>(i)] = kConnecting;
    epoll_event ev{EPOLLOUT, {.u32 = static_cast<uint32_t>(i)}};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) die("epoll_ctl");
  };
  int next = 0, open = 0;
  for (; next < std::min(window, connections); ++next) start(next);
  std::vector<epoll_event> events(1024);
  char chunk[4096];
  while (open < connections) {
    const int n = epoll_wait(ep, events.data(), static_cast<int>(events.size()), 1000);
    for (int e = 0; e < n; ++e) {
      const int i = static_cast<int>(events[e].data.u32);
      const auto k = static_cast<std::size_t>(i);
      int fd = fds[k];
      if (state[k] == kConnecting) {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err != 0) {  // refused or reset while the server's backlog was full: again
          epoll_ctl(ep, EPOLL_CTL_DEL, fd, nullptr);
          close(fd);
          usleep(1000);
          start(i);
          continue;
        }
        if (write(fd, request.data(), request.size()) != static_cast<ssize_t>(request.size())) {
          die("write handshake");
        }
        state[k] = kHandshaking;
        epoll_event ev{EPOLLIN, {.u32 = static_cast<uint32_t>(i)}};
        epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
        continue;
      }
      if (state[k] != kHandshaking) continue;
      const ssize_t r = read(fd, chunk, sizeof chunk);
      if (r < 0 && errno == EAGAIN) continue;
      if (r <= 0) die("handshake: connection closed");
      bufs[k].append(chunk, static_cast<std::size_t>(r));
      const auto end = bufs[k].find("\r\n\r\n");
      if (end == std::string::npos) continue;
      if (bufs[k].compare(0, 12, "HTTP/1.1 101") != 0) {
        std::fprintf(stderr, "ws_load: handshake refused: %s\n", bufs[k].substr(0, end).c_str());
        std::exit(1);
      }
      bufs[k].erase(0, end + 4);
      state[k] = kOpen;
      ++open;
      if (next < connections) start(next++);
    }
  }
}

int run_scale(int argc, char** argv) {
  const int port = static_cast<int>(num(argc, argv, "port", 8888));
  const std::string path = arg(argc, argv, "path", "/sub");
  const std::string source = arg(argc, argv, "source", "");
  const int connections = static_cast<int>(num(argc, argv, "connections", 20000));
  const int rounds = static_cast<int>(num(argc, argv, "rounds", 5));
  const long timeout = num(argc, argv, "timeout", 120);
  const int window = static_cast<int>(num(argc, argv, "window", 256));
  std::vector<int> fds;
  std::vector<std::string> bufs;
  int ep = epoll_create1(0);
  const auto open_start = Clock::now();
  open_many(ep, port, path, source, connections, window, fds, bufs);
  std::printf("ready %d open_s %.3f\n", connections,
              std::chrono::duration<double>(Clock::now() - open_start).count());
  std::fflush(stdout);
  // Per connection, the rounds it got (a bit each: up to 64 rounds).
  std::vector<uint64_t> got(static_cast<std::size_t>(connections), 0);
  std::vector<long> round_count(static_cast<std::size_t>(rounds), 0);
  std::vector<int64_t> round_last_ns(static_cast<std::size_t>(rounds), 0);
  long duplicates = 0, delivered = 0;
  const long expected = static_cast<long>(connections) * rounds;
  const auto deadline = Clock::now() + std::chrono::seconds(timeout);
  std::vector<epoll_event> events(1024);
  char chunk[65536];
  while (delivered + duplicates < expected && Clock::now() < deadline) {
    int n = epoll_wait(ep, events.data(), static_cast<int>(events.size()), 200);
    for (int e = 0; e < n; ++e) {
      const uint32_t i = events[e].data.u32;
      ssize_t r = read(fds[i], chunk, sizeof chunk);
      if (r < 0 && errno == EAGAIN) continue;
      if (r <= 0) die("scale: subscriber lost");
      bufs[i].append(chunk, static_cast<std::size_t>(r));
      const int64_t at = now_ns();
      if (!take_frames(bufs[i], [&](std::string_view m) {
            const auto colon = m.find(':');
            const int round = std::atoi(std::string(m.substr(0, colon)).c_str());
            const int64_t sent = std::atoll(std::string(m.substr(colon + 1)).c_str());
            if (round < 0 || round >= rounds || round >= 64) die("scale: unknown round");
            const uint64_t bit = uint64_t{1} << round;
            if (got[i] & bit) {
              ++duplicates;
              return;
            }
            got[i] |= bit;
            ++delivered;
            ++round_count[static_cast<std::size_t>(round)];
            round_last_ns[static_cast<std::size_t>(round)] =
                std::max(round_last_ns[static_cast<std::size_t>(round)], at - sent);
          })) {
        die("scale: closed by the server");
      }
    }
  }
  for (int r = 0; r < rounds; ++r) {
    std::printf("round %d got %ld of %d last_ms %.3f\n", r,
                round_count[static_cast<std::size_t>(r)], connections,
                static_cast<double>(round_last_ns[static_cast<std::size_t>(r)]) / 1e6);
  }
  std::printf("lost %ld duplicates %ld\n", expected - delivered, duplicates);
  for (int fd : fds) close(fd);
  close(ep);
  return delivered == expected && duplicates == 0 ? 0 : 1;
}

int run_publish(int argc, char** argv) {
  const int port = static_cast<int>(num(argc, argv, "port", 8888));
  const std::string path = arg(argc, argv, "path", "/pub");
  const int rounds = static_cast<int>(num(argc, argv, "rounds", 5));
  const long interval_ms = num(argc, argv, "interval-ms", 2000);
  const std::size_t size = static_cast<std::size_t>(num(argc, argv, "size", 32));
  const int pub = open_ws(port, path);
  for (int round = 0; round < rounds; ++round) {
    if (round > 0) usleep(static_cast<useconds_t>(interval_ms * 1000));
    std::string payload = std::to_string(round) + ":" + std::to_string(now_ns()) + ":";
    if (payload.size() < size) payload.resize(size, 'b');
    const std::string frame = client_frame(payload);
    if (write(pub, frame.data(), frame.size()) != static_cast<ssize_t>(frame.size())) die("write");
  }
  usleep(200000);  // the last frame is read before the close
  close(pub);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = arg(argc, argv, "mode", "echo");
  if (mode == "echo") return run_echo(argc, argv);
  if (mode == "broadcast") return run_broadcast(argc, argv);
  if (mode == "idle") return run_idle(argc, argv);
  if (mode == "scale") return run_scale(argc, argv);
  if (mode == "publish") return run_publish(argc, argv);
  std::fprintf(stderr, "ws_load: unknown --mode=%s (echo, broadcast, idle, scale, publish)\n",
               mode.c_str());
  return 2;
}
