// WebSocket framing for the load generators (bench/ws_load.cpp, bench/chat_load.cpp): the
// little of RFC 6455 a client needs to send text and read a server's messages, kept
// separate from the library so that the load generator does not measure the library with
// itself.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace bench {

// A masked client text frame (a fixed mask: the server unmasks whatever it is).
inline std::string client_frame(std::string_view payload) {
  std::string f;
  f.push_back(static_cast<char>(0x81));
  const std::size_t n = payload.size();
  if (n < 126) {
    f.push_back(static_cast<char>(0x80 | n));
  } else if (n < 65536) {
    f.push_back(static_cast<char>(0x80 | 126));
    f.push_back(static_cast<char>(n >> 8));
    f.push_back(static_cast<char>(n & 0xff));
  } else {
    f.push_back(static_cast<char>(0x80 | 127));
    for (int i = 7; i >= 0; --i) f.push_back(static_cast<char>((n >> (8 * i)) & 0xff));
  }
  const unsigned char mask[4] = {0x37, 0xfa, 0x21, 0x3d};
  f.append(reinterpret_cast<const char*>(mask), 4);
  for (std::size_t i = 0; i < n; ++i) f.push_back(static_cast<char>(payload[i] ^ mask[i % 4]));
  return f;
}

// Takes the whole server frames off the front of `buf`, calling on_message(payload) for text
// and binary ones; false on a close frame or a masked (malformed) one.
template <typename F>
bool take_frames(std::string& buf, F&& on_message) {
  std::size_t pos = 0;
  bool ok = true;
  for (;;) {
    if (buf.size() - pos < 2) break;
    const auto b0 = static_cast<unsigned char>(buf[pos]);
    const auto b1 = static_cast<unsigned char>(buf[pos + 1]);
    std::size_t header = 2;
    uint64_t n = b1 & 0x7f;
    if (n == 126) {
      if (buf.size() - pos < 4) break;
      n = (static_cast<unsigned char>(buf[pos + 2]) << 8) |
          static_cast<unsigned char>(buf[pos + 3]);
      header = 4;
    } else if (n == 127) {
      if (buf.size() - pos < 10) break;
      n = 0;
      for (int i = 0; i < 8; ++i) n = (n << 8) | static_cast<unsigned char>(buf[pos + 2 + i]);
      header = 10;
    }
    if (buf.size() - pos < header + n) break;
    const int opcode = b0 & 0x0f;
    if (opcode == 8 || (b1 & 0x80)) {
      ok = false;
      break;
    }
    if (opcode == 1 || opcode == 2) on_message(std::string_view(buf).substr(pos + header, n));
    pos += header + n;
  }
  buf.erase(0, pos);
  return ok;
}

}  // namespace bench
