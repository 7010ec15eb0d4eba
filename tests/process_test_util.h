// Helpers shared by the process test files: a blocking HTTP/1.0 GET (no loop, no thread:
// usable in a forked worker and beside loops on other threads) and a line pipe from
// forked processes back to the test.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <optional>
#include <string>
#include <system_error>
#include <utility>

namespace tornado::test {

struct HttpReply {
  int status = 0;
  std::string body;
};

// GET `path` from 127.0.0.1:`port` on a new connection (HTTP/1.0: the server closes it).
// Empty if the connection failed or closed before a whole status line arrived (a worker
// that exits while answering). Every socket call is bounded by 5 s.
inline std::optional<HttpReply> http_get(int port, const std::string& path) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::nullopt;
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(port));
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string response;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0) {
    std::string request = "GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
        static_cast<ssize_t>(request.size())) {
      char buf[4096];
      ssize_t n;
      while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) response.append(buf, static_cast<size_t>(n));
    }
  }
  ::close(fd);
  auto head_end = response.find("\r\n\r\n");
  if (response.compare(0, 5, "HTTP/") != 0 || head_end == std::string::npos) return std::nullopt;
  HttpReply reply;
  reply.status = std::stoi(response.substr(response.find(' ') + 1, 3));
  reply.body = response.substr(head_end + 4);
  return reply;
}

// A pipe whose write end forked processes inherit and write lines to.
class LinePipe {
 public:
  LinePipe() {
    if (::pipe2(fds_, O_CLOEXEC) != 0) throw std::system_error(errno, std::generic_category());
  }
  ~LinePipe() {
    close_write();
    ::close(fds_[0]);
  }
  LinePipe(const LinePipe&) = delete;
  LinePipe& operator=(const LinePipe&) = delete;
  // In a forked process: one line (written whole: under PIPE_BUF bytes).
  void write_line(const std::string& line) const {
    std::string s = line + "\n";
    [[maybe_unused]] ssize_t n = ::write(fds_[1], s.data(), s.size());
  }
  // In the test, after forking: so that EOF comes when every writer is gone.
  void close_write() {
    if (fds_[1] >= 0) ::close(fds_[1]);
    fds_[1] = -1;
  }
  // The next line, or empty at EOF or after `timeout`.
  std::optional<std::string> read_line(std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      auto nl = buffer_.find('\n');
      if (nl != std::string::npos) {
        std::string line = buffer_.substr(0, nl);
        buffer_.erase(0, nl + 1);
        return line;
      }
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return std::nullopt;
      pollfd p{fds_[0], POLLIN, 0};
      int r = ::poll(&p, 1, static_cast<int>(left.count()));
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) return std::nullopt;
      char buf[512];
      ssize_t n = ::read(fds_[0], buf, sizeof buf);
      if (n <= 0) return std::nullopt;
      buffer_.append(buf, static_cast<size_t>(n));
    }
  }

 private:
  int fds_[2];
  std::string buffer_;
};

}  // namespace tornado::test
