// The WebSocket wire format (RFC 6455 §5): an in-place frame parser that assembles messages,
// the frame encoder, incremental UTF-8 validation and the close-code rules. No I/O: the
// handler (src/websocket_handler.cpp), the tests and the fuzz targets feed it bytes.
//
//   FrameParser parser(/*server_side=*/true, 10 << 20);
//   for (;;) {
//     std::span<char> buf = ...;              // the read buffer, unmasked in place
//     FrameEvent ev = parser.parse(buf);
//     ... handle ev (payload views point into buf) ...
//     consume(ev.consumed);
//     if (ev.kind == FrameEvent::kNeedMore) wait for more bytes;
//   }
//
// Data payloads are taken as they arrive (a frame need not be buffered whole): each piece is
// unmasked in place, UTF-8-checked (text) or inflated (permessage-deflate), and appended to
// the message being assembled, so an invalid byte fails the connection as soon as it is
// read. Control frames (at most 125 bytes) are returned whole, as views into the buffer.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>

namespace tornado::websocket::detail {

class Inflater;

enum class Opcode : uint8_t {
  kContinuation = 0x0,
  kText = 0x1,
  kBinary = 0x2,
  kClose = 0x8,
  kPing = 0x9,
  kPong = 0xA,
};

// How long a closing handshake may take before the TCP connection is closed anyway
// (Tornado's 5 s), on either side: flushing what is queued when the peer does not read,
// then waiting for the peer's close frame and its TCP close.
inline constexpr std::chrono::seconds kCloseTimeout{5};

// RFC 6455 §7.4.1 codes the implementation itself sends or reports.
namespace close_codes {
inline constexpr uint16_t kNormal = 1000;
inline constexpr uint16_t kGoingAway = 1001;
inline constexpr uint16_t kProtocolError = 1002;
inline constexpr uint16_t kNoStatus = 1005;  // reported, never sent: a close without a code
inline constexpr uint16_t kAbnormal = 1006;  // reported, never sent: no close frame at all
inline constexpr uint16_t kInvalidPayload = 1007;
inline constexpr uint16_t kTooBig = 1009;
inline constexpr uint16_t kInternalError = 1011;
}  // namespace close_codes

// RFC 6455 §7.4: may this code appear in a close frame? 1000-1003, 1007-1011, the IANA codes
// 1012-1014, and 3000-4999 (registered and private). 1004-1006 and 1015 are reserved, below
// 1000 and 1016-2999 unassigned, 5000 and up out of range.
constexpr bool is_valid_close_code(uint32_t code) noexcept {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
         (code >= 3000 && code <= 4999);
}

// UTF-8 checked piece by piece (a code point may straddle fragments): rejects overlong
// forms, surrogates and values past U+10FFFF at the first byte that makes them so.
class Utf8Validator {
 public:
  // False at the first byte that cannot continue valid UTF-8.
  bool feed(std::string_view bytes) noexcept;
  // True when no code point is left open.
  bool complete() const noexcept { return need_ == 0; }
  void reset() noexcept { need_ = 0; }

 private:
  uint8_t need_ = 0;   // continuation bytes still expected
  uint8_t lo_ = 0x80;  // the next continuation byte's range (narrowed after E0, ED, F0, F4)
  uint8_t hi_ = 0xBF;
};

// XORs `n` bytes with the 4-byte `mask`, starting at mask byte `phase` (0-3), eight bytes at
// a time.
void apply_mask(char* data, std::size_t n, const uint8_t mask[4], std::size_t phase) noexcept;

// What parse() found. Views (payload, reason) point into the parsed buffer: use them before
// consuming `consumed` bytes.
struct FrameEvent {
  enum Kind : uint8_t {
    kNeedMore,  // more bytes are needed (data payload may have been taken: consume anyway)
    kMessage,   // a whole message: FrameParser::take_message()
    kPing,      // payload
    kPong,      // payload
    kClose,     // code (1005 when the frame has none) and reason
    kError,     // fail the connection: send a close with `code`, reason `error`
  };
  Kind kind = kNeedMore;
  std::size_t consumed = 0;
  std::string_view payload;  // ping/pong payload, close reason
  uint16_t code = 0;
  const char* error = "";
};

class FrameParser {
 public:
  // server_side: frames must be masked (a client's); otherwise they must not be (a
  // server's). Messages (after inflation) above max_message_size are a 1009 error.
  FrameParser(bool server_side, std::size_t max_message_size) noexcept
      : max_message_size_(max_message_size), server_side_(server_side) {}

  // permessage-deflate was negotiated: RSV1 marks a compressed message, inflated by
  // `inflater` (not owned; null turns compression off again).
  void set_inflater(Inflater* inflater) noexcept { inflater_ = inflater; }
  void set_max_message_size(std::size_t bytes) noexcept { max_message_size_ = bytes; }

  // Parses from the start of `buffer` (the bytes not yet consumed), unmasking in place.
  // Returns at the first event. After kError the parser must not be used again.
  FrameEvent parse(std::span<char> buffer);

  // The message of the last kMessage event (moved out; the parser keeps no capacity).
  std::string take_message() noexcept;
  bool message_is_binary() const noexcept { return message_opcode_ == Opcode::kBinary; }
  // A fragmented message is being assembled (or a frame's payload is partly read).
  bool in_message() const noexcept { return message_open_ || in_frame_; }

 private:
  FrameEvent error(uint16_t code, const char* reason) noexcept;
  FrameEvent parse_control(std::span<char> frame, std::size_t pos, std::size_t header_length);
  // Takes a piece of a data frame's payload (already unmasked); false: `event` is an error.
  bool take_payload(std::string_view piece, FrameEvent& event);
  bool finish_message(FrameEvent& event);
  bool check_new_bytes(std::size_t before, bool inflated, FrameEvent& event);

  std::string message_;
  std::size_t max_message_size_;
  Inflater* inflater_ = nullptr;
  uint64_t remaining_ = 0;  // payload bytes of the current data frame not yet read
  uint8_t mask_[4] = {};
  uint8_t mask_phase_ = 0;  // 0-3 (a byte: every idle connection holds a parser)
  Opcode message_opcode_ = Opcode::kText;
  Utf8Validator utf8_;
  bool server_side_;
  bool in_frame_ = false;  // a data frame's header was read, payload pending
  bool frame_fin_ = false;
  bool message_open_ = false;  // a message started and its last frame is not read yet
  bool compressed_ = false;    // the open message is compressed (RSV1 on its first frame)
  bool failed_ = false;
};

// Longest frame header: 2 + 8 (64-bit length) + 4 (mask).
inline constexpr std::size_t kMaxFrameHeader = 14;

// Writes a frame header into `out` (kMaxFrameHeader bytes of room); returns its length.
// `mask` (4 bytes) is set for a client's frames, null for a server's.
std::size_t encode_frame_header(char* out, Opcode opcode, uint64_t payload_length, bool fin,
                                bool rsv1, const uint8_t* mask) noexcept;
// A whole frame. With `masked` (a client) a random key from OpenSSL's RAND_bytes is used
// (RFC 6455 §10.3: unpredictable) and the payload is masked.
std::string encode_frame(Opcode opcode, std::string_view payload, bool rsv1 = false,
                         bool masked = false, bool fin = true);
// The payload of a close frame: the code (big-endian) and the reason (at most 123 bytes:
// longer reasons are cut at a UTF-8 boundary).
std::string close_payload(uint16_t code, std::string_view reason);

}  // namespace tornado::websocket::detail
