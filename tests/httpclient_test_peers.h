// Test peers for the HTTP client tests: a raw TCP server run by a coroutine function, and a
// minimal forward proxy (absolute-form requests and CONNECT tunnels).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "internal/http_url.h"
#include "tornado/httputil.h"
#include "tornado/iostream.h"
#include "tornado/tcpclient.h"
#include "tornado/tcpserver.h"
#include "tornado/testing.h"

namespace tornado::test {

// A TCP server whose connections a coroutine function handles (raw HTTP peers).
class RawServer : public TCPServer {
 public:
  using Handler = std::function<Task<>(std::shared_ptr<IOStream>)>;
  explicit RawServer(Handler h) : handler_(std::move(h)) {
    auto [fd, port] = tornado::testing::bind_unused_port();
    port_ = port;
    add_socket(fd);
  }
  int port() const { return port_; }
  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }

 protected:
  Task<> handle_stream(std::shared_ptr<IOStream> stream, std::string) override {
    return handler_(std::move(stream));
  }

 private:
  Handler handler_;
  int port_;
};

// Relays bytes one way until either side closes.
inline Task<> pump(std::shared_ptr<IOStream> from, std::shared_ptr<IOStream> to) {
  try {
    for (;;) {
      std::string data = co_await from->read_bytes(64 * 1024, true);
      co_await to->write(std::move(data));
    }
  } catch (const std::exception&) {
  }
  to->close();
  from->close();
}

// A minimal forward proxy: absolute-form requests (one per connection) and CONNECT.
class TinyProxy : public TCPServer {
 public:
  TinyProxy() {
    auto [fd, port] = tornado::testing::bind_unused_port();
    port_ = port;
    add_socket(fd);
  }
  int port() const { return port_; }
  std::vector<std::string> request_lines;
  std::vector<std::string> auths;
  std::string required_auth;  // "Basic ..." or empty

 protected:
  Task<> handle_stream(std::shared_ptr<IOStream> client, std::string) override {
    try {
      std::string head = co_await client->read_until("\r\n\r\n", 64 * 1024);
      std::string first = head.substr(0, head.find("\r\n"));
      httputil::HTTPHeaders headers = httputil::HTTPHeaders::parse(head.substr(first.size() + 2));
      request_lines.push_back(first);
      auths.push_back(headers.get("Proxy-Authorization", ""));
      if (!required_auth.empty() && auths.back() != required_auth) {
        co_await client->write(
            "HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n"
            "Connection: close\r\n\r\n");
        client->close();
        co_return;
      }
      auto line = httputil::parse_request_start_line(first);
      TCPClient tcp;
      if (line.method == "CONNECT") {
        auto [host, port] = httputil::split_host_and_port(line.path);
        auto upstream = co_await tcp.connect(host, port.value_or(443));
        co_await client->write("HTTP/1.1 200 Connection established\r\n\r\n");
        co_await when_all(pump(client, upstream), pump(upstream, client));
      } else {
        auto url = httpclient::detail::parse_url(line.path);
        auto upstream = co_await tcp.connect(url.host, url.port);
        headers.remove("Proxy-Authorization");
        headers.set("Connection", "close");
        std::string out = line.method + " " + url.target + " " + line.version + "\r\n";
        headers.write_to(out);
        out += "\r\n";
        co_await upstream->write(std::move(out));
        co_await when_all(pump(client, upstream), pump(upstream, client));
      }
    } catch (const std::exception&) {
    }
    client->close();
  }

 private:
  int port_;
};

}  // namespace tornado::test
