// ws_frame: a WebSocket frame built by hand, for tests that speak raw frames (the codec's
// unit tests and the black-box ones).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace tornado::test {

// A client frame: `first_byte` (FIN, RSV, opcode) and the payload, masked with a fixed key
// (or not, to test the refusal). length_form 7/16/64 forces a length encoding.
inline std::string ws_frame(uint8_t first_byte, std::string_view payload, bool masked = true,
                            int length_form = 0) {
  std::string out;
  out += static_cast<char>(first_byte);
  const uint8_t mask_bit = masked ? 0x80 : 0;
  const uint64_t n = payload.size();
  if (length_form == 0) length_form = n < 126 ? 7 : n <= 0xFFFF ? 16 : 64;
  if (length_form == 7) {
    out += static_cast<char>(mask_bit | n);
  } else if (length_form == 16) {
    out += static_cast<char>(mask_bit | 126);
    out += static_cast<char>(n >> 8);
    out += static_cast<char>(n);
  } else {
    out += static_cast<char>(mask_bit | 127);
    for (int s = 56; s >= 0; s -= 8) out += static_cast<char>(n >> s);
  }
  const uint8_t key[4] = {0x9a, 0x15, 0xc3, 0x7e};
  if (masked) out.append(reinterpret_cast<const char*>(key), 4);
  for (std::size_t i = 0; i < payload.size(); ++i) {
    out += static_cast<char>(payload[i] ^ (masked ? key[i % 4] : 0));
  }
  return out;
}

}  // namespace tornado::test
