// A raw WebSocket server for the client conformance test (websocket_client_conformance_test.cpp):
// it answers the upgrade by hand, sends frames built byte by byte, and reads and logs what
// our client sends, unmasking each frame itself.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "httpclient_test_peers.h"
#include "internal/websocket_deflate.h"
#include "internal/websocket_frame.h"
#include "internal/websocket_handshake.h"
#include "tornado/testing.h"
#include "websocket_frame_builder.h"

namespace tornado::test {
namespace {

using V = std::vector<std::string>;

std::string close_payload(int code, std::string_view reason = {}) {
  std::string p{static_cast<char>(code >> 8), static_cast<char>(code & 0xff)};
  p += reason;
  return p;
}
// Server frames: never masked unless a case says so.
std::string frame(uint8_t first_byte, std::string_view payload) {
  return ws_frame(first_byte, payload, /*masked=*/false);
}
std::string text(std::string_view payload) { return frame(0x81, payload); }
std::string server_close(int code, std::string_view reason = {}) {
  return frame(0x88, close_payload(code, reason));
}

// In a script: read the client's next frame (its echo) before sending on.
const std::string kEcho = "<wait for the echo>";

// A whole, valid close frame (the client then waits for the server to close TCP).
bool is_valid_close(std::string_view bytes) {
  if (bytes.size() < 2 || static_cast<uint8_t>(bytes[0]) != 0x88) return false;
  const std::size_t n = static_cast<uint8_t>(bytes[1]) & 0x7f;
  if (n > 125 || bytes.size() != 2 + n || n == 1) return false;
  if (n == 0) return true;
  const uint32_t code = (static_cast<uint8_t>(bytes[2]) << 8) | static_cast<uint8_t>(bytes[3]);
  websocket::detail::Utf8Validator utf8;
  return websocket::detail::is_valid_close_code(code) && utf8.feed(bytes.substr(4)) &&
         utf8.complete();
}

// What a case's server does after the handshake.
struct Script {
  std::string extensions;  // the 101's Sec-WebSocket-Extensions ("" for none)
  std::string extra_head;  // more header lines for the 101 ("Name: value\r\n")
  std::string accept;      // replaces the right Sec-WebSocket-Accept when set
  int status = 101;
  bool upgrade_header = true;
  std::vector<std::string> sends;  // written one by one after the 101
  bool inflate = false;            // the client's RSV1 frames are deflated (context takeover)
  // After the client's close frame the server closes TCP at once (a close handshake the
  // client started), instead of checking that the client closes TCP by itself (a failure).
  bool server_closes_first = false;
};

// A raw WebSocket server for one connection. It logs the client's frames as "text:..",
// "binary:..", "pong:..", "close:<code>" (reasons are ours), "close:" for an empty close,
// then "EOF" when the client closed TCP by itself after its close frame, or nothing when
// it waited for the server (which closes once it has its close frame after sending one).
class PeerServer {
 public:
  explicit PeerServer(Script script)
      : script_(std::move(script)),
        server_([this](std::shared_ptr<IOStream> s) { return serve(std::move(s)); }) {}
  std::string url() const { return "ws://127.0.0.1:" + std::to_string(server_.port()) + "/"; }
  Future<void> done;
  V log;
  std::string request_head;

 private:
  Task<> serve(std::shared_ptr<IOStream> stream) {
    try {
      co_await run(stream);
    } catch (const std::exception& e) {
      log.push_back(std::string("server error: ") + e.what());
    }
    stream->close();
    if (!done.done()) done.set_result();
  }

  Task<> run(std::shared_ptr<IOStream> stream) {
    request_head = co_await stream->read_until("\r\n\r\n", 65536);
    auto headers = httputil::HTTPHeaders::parse(request_head.substr(request_head.find("\r\n") + 2));
    std::string accept =
        script_.accept.empty()
            ? websocket::detail::compute_accept_value(headers.get("Sec-WebSocket-Key", ""))
            : script_.accept;
    std::string answer = "HTTP/1.1 " + std::to_string(script_.status) + " Switching Protocols\r\n" +
                         (script_.upgrade_header ? "Upgrade: websocket\r\n" : "") +
                         "Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + "\r\n" +
                         script_.extra_head;
    if (!script_.extensions.empty())
      answer += "Sec-WebSocket-Extensions: " + script_.extensions + "\r\n";
    co_await stream->write(answer + "\r\n");
    bool sent_close = false;
    for (const auto& bytes : script_.sends) {
      if (bytes == kEcho) {  // wait for the client's answer to what was sent so far
        log.push_back(co_await read_client_frame(*stream));
        continue;
      }
      sent_close = sent_close || is_valid_close(bytes);
      co_await stream->write(bytes);
    }
    for (;;) {
      std::optional<std::string> f;
      try {
        f = co_await read_client_frame(*stream);
      } catch (const StreamClosedError&) {
        log.push_back("EOF before close");
        co_return;
      }
      log.push_back(*f);
      if (!f->starts_with("close:")) continue;
      // The handshake is complete: the server closes TCP.
      if (sent_close || script_.server_closes_first) co_return;
      // The client started the close (a failure): it must close TCP itself.
      try {
        std::string more = co_await with_timeout(Duration(2.0), stream->read_bytes(1));
        log.push_back("data after close");
      } catch (const StreamClosedError&) {
        log.push_back("EOF");
      } catch (const TimeoutError&) {
        log.push_back("client kept TCP open");
      }
      co_return;
    }
  }

  // One client frame, unmasked here; an unmasked client frame is logged as an error.
  Task<std::string> read_client_frame(IOStream& stream) {
    std::string h = co_await stream.read_bytes(2);
    const auto b0 = static_cast<uint8_t>(h[0]);
    const auto b1 = static_cast<uint8_t>(h[1]);
    if (!(b1 & 0x80)) log.push_back("UNMASKED client frame");
    uint64_t n = b1 & 0x7f;
    if (n >= 126) {
      std::string ext = co_await stream.read_bytes(n == 126 ? 2 : 8);
      n = 0;
      for (char c : ext) n = (n << 8) | static_cast<unsigned char>(c);
    }
    std::string key(4, '\0');
    if (b1 & 0x80) key = co_await stream.read_bytes(4);
    std::string payload = co_await stream.read_bytes(static_cast<std::size_t>(n));
    for (std::size_t i = 0; i < payload.size(); ++i) payload[i] ^= key[i % 4];
    const bool rsv1 = (b0 & 0x40) != 0;
    if (rsv1 && script_.inflate) {
      std::string out;
      if (!inflater_.inflate(payload, out, 1 << 24) || !inflater_.finish_message(out, 1 << 24)) {
        co_return "bad deflate data";
      }
      payload = std::move(out);
    }
    const std::string prefix = rsv1 ? "rsv1:" : "";
    switch (b0 & 0x0f) {
      case 1:
        co_return prefix + "text:" + payload;
      case 2:
        co_return prefix + "binary:" + payload;
      case 9:
        co_return "ping:" + payload;
      case 10:
        co_return "pong:" + payload;
      case 8:
        if (payload.size() < 2) co_return std::string("close:");
        co_return "close:" + std::to_string((static_cast<unsigned char>(payload[0]) << 8) |
                                            static_cast<unsigned char>(payload[1]));
      default:
        co_return "opcode" + std::to_string(b0 & 0x0f);
    }
  }

  Script script_;
  tornado::test::RawServer server_;
  websocket::detail::Inflater inflater_{false};
};

}  // namespace
}  // namespace tornado::test
