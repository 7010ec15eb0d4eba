// A raw WebSocket client for the tests: it writes frames built by hand (any bit pattern,
// any split) and decodes the server's frames with its own small reader, so the server is
// checked against bytes, not against our own parser.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "http_test_util.h"
#include "tornado/iostream.h"
#include "tornado/task.h"
#include "websocket_frame_builder.h"

namespace tornado::test {

// A close frame's payload.
inline std::string ws_close_payload(int code, std::string_view reason = {}) {
  std::string p{static_cast<char>(code >> 8), static_cast<char>(code & 0xff)};
  p += reason;
  return p;
}

struct ServerFrame {
  uint8_t first_byte = 0;
  std::string payload;
  int opcode() const { return first_byte & 0x0f; }
  bool rsv1() const { return (first_byte & 0x40) != 0; }
};

class RawWebSocket {
 public:
  explicit RawWebSocket(std::shared_ptr<IOStream> stream) : stream_(std::move(stream)) {}

  // Connects and sends an upgrade request for `path` with the standard headers and `extra`
  // lines ("Name: value\r\n..."); returns the response head ("HTTP/1.1 101 ...").
  static Task<std::shared_ptr<RawWebSocket>> connect(int port, std::string path,
                                                     std::string extra = {},
                                                     bool standard_headers = true) {
    auto stream = co_await connect_loopback(port);
    auto ws = std::make_shared<RawWebSocket>(stream);
    std::string request =
        "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) + "\r\n";
    if (standard_headers) {
      request +=
          "Upgrade: websocket\r\nConnection: Upgrade\r\n"
          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n";
    }
    request += extra + "\r\n";
    co_await stream->write(request);
    ws->head_ = co_await stream->read_until("\r\n\r\n", 65536);
    co_return ws;
  }

  const std::string& head() const { return head_; }
  bool upgraded() const { return head_.starts_with("HTTP/1.1 101 "); }
  IOStream& stream() { return *stream_; }

  Task<> send(std::string bytes) { co_await stream_->write(std::move(bytes)); }

  // The next server frame; nullopt at EOF. A masked server frame fails the test.
  Task<std::optional<ServerFrame>> read_frame() {
    ServerFrame f;
    try {
      std::string h = co_await stream_->read_bytes(2);
      f.first_byte = static_cast<uint8_t>(h[0]);
      const auto b1 = static_cast<uint8_t>(h[1]);
      if (b1 & 0x80) throw std::runtime_error("server frame is masked");
      uint64_t n = b1 & 0x7f;
      if (n >= 126) {
        std::string ext = co_await stream_->read_bytes(n == 126 ? 2 : 8);
        n = 0;
        for (char c : ext) n = (n << 8) | static_cast<unsigned char>(c);
      }
      f.payload = co_await stream_->read_bytes(static_cast<std::size_t>(n));
    } catch (const StreamClosedError&) {
      co_return std::nullopt;
    }
    co_return f;
  }

  // Reads frames until EOF, each as "text:..", "binary:..", "ping:..", "pong:..",
  // "close:<code>:<reason>" (or "close:" without a code), then "EOF".
  Task<std::vector<std::string>> read_all() {
    std::vector<std::string> out;
    for (;;) {
      auto f = co_await read_frame();
      if (!f) break;
      out.push_back(describe(*f));
    }
    out.push_back("EOF");
    co_return out;
  }

  static std::string describe(const ServerFrame& f) {
    std::string rsv = f.rsv1() ? "rsv1:" : "";
    switch (f.opcode()) {
      case 1:
        return rsv + "text:" + f.payload;
      case 2:
        return rsv + "binary:" + f.payload;
      case 9:
        return "ping:" + f.payload;
      case 10:
        return "pong:" + f.payload;
      case 8: {
        if (f.payload.size() < 2) return "close:";
        const int code = (static_cast<unsigned char>(f.payload[0]) << 8) |
                         static_cast<unsigned char>(f.payload[1]);
        return "close:" + std::to_string(code) + ":" + f.payload.substr(2);
      }
      default:
        return "opcode" + std::to_string(f.opcode()) + ":" + f.payload;
    }
  }

 private:
  std::shared_ptr<IOStream> stream_;
  std::string head_;
};

}  // namespace tornado::test
