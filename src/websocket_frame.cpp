// The WebSocket frame parser and encoder (RFC 6455 §5), UTF-8 validation and close payloads.
#include "internal/websocket_frame.h"

#include <openssl/rand.h>

#include <algorithm>
#include <stdexcept>

#include "internal/websocket_deflate.h"

namespace tornado::websocket::detail {

// ---- UTF-8 ------------------------------------------------------------------------------

bool Utf8Validator::feed(std::string_view bytes) noexcept {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  const auto* end = p + bytes.size();
  while (p < end) {
    if (need_ == 0) {
      // ASCII runs (most text) eight bytes at a time.
      while (end - p >= 8) {
        uint64_t w;
        std::memcpy(&w, p, 8);
        if (w & 0x8080808080808080ull) break;
        p += 8;
      }
      if (p == end) break;
      const unsigned char c = *p++;
      if (c < 0x80) continue;
      lo_ = 0x80;
      hi_ = 0xBF;
      if (c >= 0xC2 && c <= 0xDF) {
        need_ = 1;
      } else if (c == 0xE0) {
        need_ = 2;
        lo_ = 0xA0;  // overlong below U+0800
      } else if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF) {
        need_ = 2;
      } else if (c == 0xED) {
        need_ = 2;
        hi_ = 0x9F;  // surrogates U+D800-DFFF
      } else if (c == 0xF0) {
        need_ = 3;
        lo_ = 0x90;  // overlong below U+10000
      } else if (c >= 0xF1 && c <= 0xF3) {
        need_ = 3;
      } else if (c == 0xF4) {
        need_ = 3;
        hi_ = 0x8F;  // past U+10FFFF
      } else {
        return false;  // 80-C1 (continuation or overlong lead), F5-FF
      }
    } else {
      const unsigned char c = *p++;
      if (c < lo_ || c > hi_) return false;
      lo_ = 0x80;
      hi_ = 0xBF;
      --need_;
    }
  }
  return true;
}

// ---- masking ----------------------------------------------------------------------------

void apply_mask(char* data, std::size_t n, const uint8_t mask[4], std::size_t phase) noexcept {
  uint8_t key[8];
  for (std::size_t i = 0; i < 8; ++i) key[i] = mask[(phase + i) & 3];
  uint64_t word_key;
  std::memcpy(&word_key, key, 8);
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    std::memcpy(&w, data + i, 8);
    w ^= word_key;
    std::memcpy(data + i, &w, 8);
  }
  for (; i < n; ++i) data[i] = static_cast<char>(data[i] ^ key[i & 7]);
}

// ---- parser -----------------------------------------------------------------------------

namespace {

bool is_control(uint8_t opcode) noexcept { return (opcode & 0x8) != 0; }

bool is_known(uint8_t opcode) noexcept { return opcode <= 0x2 || (opcode >= 0x8 && opcode <= 0xA); }

uint64_t read_be(const char* p, std::size_t n) noexcept {
  uint64_t v = 0;
  for (std::size_t i = 0; i < n; ++i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

}  // namespace

FrameEvent FrameParser::error(uint16_t code, const char* reason) noexcept {
  failed_ = true;
  FrameEvent ev;
  ev.kind = FrameEvent::kError;
  ev.code = code;
  ev.error = reason;
  return ev;
}

FrameEvent FrameParser::parse(std::span<char> buffer) {
  if (failed_) return error(close_codes::kProtocolError, "parser used after an error");
  std::size_t pos = 0;
  FrameEvent ev;
  for (;;) {
    const std::size_t avail = buffer.size() - pos;
    if (!in_frame_) {
      if (avail < 2) break;
      const char* p = buffer.data() + pos;
      const auto b0 = static_cast<uint8_t>(p[0]);
      const auto b1 = static_cast<uint8_t>(p[1]);
      const bool fin = (b0 & 0x80) != 0;
      const bool rsv1 = (b0 & 0x40) != 0;
      const uint8_t opcode = b0 & 0x0F;
      const bool masked = (b1 & 0x80) != 0;
      const uint8_t len7 = b1 & 0x7F;
      // Everything the first two bytes can tell is checked before waiting for the rest.
      if ((b0 & 0x30) != 0) return error(close_codes::kProtocolError, "reserved bits set");
      if (!is_known(opcode)) return error(close_codes::kProtocolError, "unknown opcode");
      if (masked != server_side_) {
        return error(close_codes::kProtocolError,
                     server_side_ ? "client frame not masked" : "server frame masked");
      }
      if (is_control(opcode)) {
        // RFC 6455 §5.5: control frames are never fragmented and carry at most 125 bytes.
        if (!fin) return error(close_codes::kProtocolError, "fragmented control frame");
        if (len7 > 125) return error(close_codes::kProtocolError, "control frame too long");
        if (rsv1) return error(close_codes::kProtocolError, "reserved bit on a control frame");
      } else if (opcode == 0) {
        if (!message_open_) return error(close_codes::kProtocolError, "continuation of nothing");
        if (rsv1) return error(close_codes::kProtocolError, "RSV1 on a continuation frame");
      } else {
        if (message_open_) {
          return error(close_codes::kProtocolError, "new message inside a fragmented one");
        }
        // RFC 7692 §6: RSV1 on a message's first frame means compressed, if negotiated.
        if (rsv1 && inflater_ == nullptr) {
          return error(close_codes::kProtocolError, "RSV1 set without permessage-deflate");
        }
      }
      const std::size_t length_bytes = len7 == 126 ? 2 : len7 == 127 ? 8 : 0;
      const std::size_t header_length = 2 + length_bytes + (masked ? 4 : 0);
      if (avail < header_length) break;
      uint64_t length = len7;
      if (len7 == 126) {
        length = read_be(p + 2, 2);
        if (length < 126) return error(close_codes::kProtocolError, "length not minimal");
      } else if (len7 == 127) {
        length = read_be(p + 2, 8);
        if (length >> 63) return error(close_codes::kProtocolError, "64-bit length top bit set");
        if (length <= 0xFFFF) return error(close_codes::kProtocolError, "length not minimal");
      }
      if (masked) std::memcpy(mask_, p + 2 + length_bytes, 4);
      if (is_control(opcode)) {
        if (avail < header_length + length) break;  // whole control frames only (<= 139 bytes)
        return parse_control(buffer, pos, header_length);
      }
      // Counted before any payload is read. A compressed frame is bounded by the limit
      // too (deflate never grows data by more than a few bytes per block).
      if (length > max_message_size_ ||
          message_.size() + (compressed_ ? 0 : length) > max_message_size_) {
        return error(close_codes::kTooBig, "message too big");
      }
      if (opcode != 0) {
        message_open_ = true;
        message_opcode_ = static_cast<Opcode>(opcode);
        compressed_ = rsv1;
        utf8_.reset();
      }
      in_frame_ = true;
      frame_fin_ = fin;
      remaining_ = length;
      mask_phase_ = 0;
      pos += header_length;
      continue;
    }
    // Inside a data frame: take what has arrived of its payload.
    const std::size_t take = static_cast<std::size_t>(std::min<uint64_t>(remaining_, avail));
    char* piece = buffer.data() + pos;
    if (server_side_) apply_mask(piece, take, mask_, mask_phase_);
    mask_phase_ = static_cast<uint8_t>((mask_phase_ + take) & 3);
    pos += take;
    remaining_ -= take;
    ev.consumed = pos;
    if (!take_payload({piece, take}, ev)) return ev;
    if (remaining_ > 0) break;
    in_frame_ = false;
    if (frame_fin_) {
      if (!finish_message(ev)) return ev;
      ev.kind = FrameEvent::kMessage;
      ev.consumed = pos;
      return ev;
    }
  }
  ev.kind = FrameEvent::kNeedMore;
  ev.consumed = pos;
  return ev;
}

FrameEvent FrameParser::parse_control(std::span<char> buffer, std::size_t pos,
                                      std::size_t header_length) {
  char* p = buffer.data() + pos;
  const auto opcode = static_cast<Opcode>(static_cast<uint8_t>(p[0]) & 0x0F);
  const std::size_t length = static_cast<uint8_t>(p[1]) & 0x7F;
  char* payload = p + header_length;
  if (server_side_) apply_mask(payload, length, mask_, 0);
  FrameEvent ev;
  ev.consumed = pos + header_length + length;
  ev.payload = {payload, length};
  if (opcode == Opcode::kPing) {
    ev.kind = FrameEvent::kPing;
  } else if (opcode == Opcode::kPong) {
    ev.kind = FrameEvent::kPong;
  } else {
    // RFC 6455 §5.5.1: empty, or a 2-byte code and a UTF-8 reason.
    ev.kind = FrameEvent::kClose;
    ev.code = close_codes::kNoStatus;
    if (length == 1) return error(close_codes::kProtocolError, "close frame of one byte");
    if (length >= 2) {
      const auto code = static_cast<uint16_t>(read_be(payload, 2));
      if (!is_valid_close_code(code))
        return error(close_codes::kProtocolError, "invalid close code");
      ev.code = code;
      ev.payload = {payload + 2, length - 2};
      Utf8Validator v;
      if (!v.feed(ev.payload) || !v.complete()) {
        return error(close_codes::kInvalidPayload, "close reason not UTF-8");
      }
    }
  }
  return ev;
}

bool FrameParser::take_payload(std::string_view piece, FrameEvent& event) {
  if (piece.empty()) return true;
  const std::size_t before = message_.size();
  bool inflated = true;
  if (compressed_) {
    // The inflater stops one byte past the limit: a compression bomb costs at most that.
    inflated = inflater_->inflate(piece, message_, max_message_size_);
  } else {
    message_.append(piece);
  }
  return check_new_bytes(before, inflated, event);
}

// The bytes the message grew by are checked as text first, so that the same input gives the
// same error however it was split (an invalid byte before the limit is a 1007 either way).
bool FrameParser::check_new_bytes(std::size_t before, bool inflated, FrameEvent& event) {
  if (message_opcode_ == Opcode::kText && !utf8_.feed(std::string_view(message_).substr(before))) {
    event = error(close_codes::kInvalidPayload, "invalid UTF-8 in a text message");
    return false;
  }
  if (!inflated) {
    event = inflater_->failed()
                ? error(close_codes::kInvalidPayload, "invalid deflate data")
                : error(close_codes::kTooBig, "message too big after decompression");
    return false;
  }
  return true;
}

bool FrameParser::finish_message(FrameEvent& event) {
  if (compressed_) {
    const std::size_t before = message_.size();
    const bool inflated = inflater_->finish_message(message_, max_message_size_);
    if (!check_new_bytes(before, inflated, event)) return false;
  }
  if (message_opcode_ == Opcode::kText && !utf8_.complete()) {
    event = error(close_codes::kInvalidPayload, "text message ends inside a code point");
    return false;
  }
  message_open_ = false;
  compressed_ = false;
  return true;
}

std::string FrameParser::take_message() noexcept {
  std::string out = std::move(message_);
  message_ = std::string();
  return out;
}

// ---- encoder ----------------------------------------------------------------------------

std::size_t encode_frame_header(char* out, Opcode opcode, uint64_t payload_length, bool fin,
                                bool rsv1, const uint8_t* mask) noexcept {
  std::size_t n = 0;
  out[n++] = static_cast<char>((fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | static_cast<uint8_t>(opcode));
  const uint8_t mask_bit = mask ? 0x80 : 0;
  if (payload_length < 126) {
    out[n++] = static_cast<char>(mask_bit | payload_length);
  } else if (payload_length <= 0xFFFF) {
    out[n++] = static_cast<char>(mask_bit | 126);
    out[n++] = static_cast<char>(payload_length >> 8);
    out[n++] = static_cast<char>(payload_length);
  } else {
    out[n++] = static_cast<char>(mask_bit | 127);
    for (int shift = 56; shift >= 0; shift -= 8)
      out[n++] = static_cast<char>(payload_length >> shift);
  }
  if (mask) {
    std::memcpy(out + n, mask, 4);
    n += 4;
  }
  return n;
}

std::string encode_frame(Opcode opcode, std::string_view payload, bool rsv1, bool masked,
                         bool fin) {
  uint8_t key[4];
  if (masked && RAND_bytes(key, 4) != 1) throw std::runtime_error("RAND_bytes failed");
  std::string out(kMaxFrameHeader + payload.size(), '\0');
  const std::size_t header =
      encode_frame_header(out.data(), opcode, payload.size(), fin, rsv1, masked ? key : nullptr);
  std::memcpy(out.data() + header, payload.data(), payload.size());
  if (masked) apply_mask(out.data() + header, payload.size(), key, 0);
  out.resize(header + payload.size());
  return out;
}

std::string close_payload(uint16_t code, std::string_view reason) {
  // 125 bytes of payload at most: the code and 123 bytes of reason, cut before a
  // continuation byte so that the reason stays UTF-8.
  if (reason.size() > 123) {
    std::size_t cut = 123;
    while (cut > 0 && (static_cast<unsigned char>(reason[cut]) & 0xC0) == 0x80) --cut;
    reason = reason.substr(0, cut);
  }
  std::string out;
  out.reserve(2 + reason.size());
  out += static_cast<char>(code >> 8);
  out += static_cast<char>(code & 0xFF);
  out += reason;
  return out;
}

}  // namespace tornado::websocket::detail
