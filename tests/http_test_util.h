// Helpers shared by the HTTP test files: a whole response in one call, a request's argument,
// a raw response's status line, and a raw client connection to a loopback port.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <memory>
#include <string>

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

}  // namespace tornado::test
