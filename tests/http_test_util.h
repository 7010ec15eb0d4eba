// Helpers shared by the HTTP test files: a whole response in one call, a request's argument,
// a raw response's status line, a raw client connection to a loopback port, and a raw
// exchange over one (its responses without their Date fields).
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <memory>
#include <string>

#include "tornado/gen.h"
#include "tornado/httputil.h"
#include "tornado/iostream.h"
#include "tornado/task.h"

namespace tornado::test {

// Answers `req` with `code`, `body` (Content-Length set) and `extra` headers, and finishes.
inline void respond(httputil::HTTPServerRequest& req, int code, const std::string& body,
                    httputil::HTTPHeaders extra = {}) {
  extra.set("Content-Length", std::to_string(body.size()));
  req.connection->write_headers(httputil::ResponseStartLine{"HTTP/1.1", code, ""}, extra, body);
  req.connection->finish();
}

// The last value of query or body argument `name`, or `fallback` when there is none.
inline std::string arg(const httputil::HTTPServerRequest& req, const std::string& name,
                       std::string fallback = {}) {
  auto it = req.arguments.find(name);
  if (it == req.arguments.end() || it->second.empty()) return fallback;
  return it->second.back();
}

// The first line of a raw HTTP response ("HTTP/1.1 200 OK").
inline std::string status_line(const std::string& response) {
  return response.substr(0, response.find("\r\n"));
}

// A plain IOStream connected to 127.0.0.1:`port`; a non-zero `receive_buffer` sets SO_RCVBUF
// before the connect (the window is fixed at the handshake).
inline Task<std::shared_ptr<IOStream>> connect_loopback(int port, int receive_buffer = 0) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (receive_buffer > 0) {
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
  }
  auto stream = IOStream::create(fd);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
  co_await stream->connect(reinterpret_cast<sockaddr*>(&sa), sizeof sa);
  co_return stream;
}

// Writes `bytes` to 127.0.0.1:`port` in one write and returns everything the server sends
// until it closes (3 s at most).
inline Task<std::string> exchange_raw(int port, std::string bytes) {
  auto s = co_await connect_loopback(port);
  co_await s->write(bytes);
  co_return co_await with_timeout(std::chrono::seconds(3), s->read_until_close());
}

// A raw response stream with its Date fields taken out (their value changes by the second).
inline std::string without_dates(std::string r) {
  for (std::size_t at; (at = r.find("\r\nDate: ")) != std::string::npos;) {
    r.erase(at, r.find("\r\n", at + 2) - at);
  }
  return r;
}

}  // namespace tornado::test
