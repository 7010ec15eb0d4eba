// libFuzzer target: the WebSocket frame parser (src/websocket_frame.cpp), with and without
// permessage-deflate.
//
// The first input byte picks the side (server: frames must be masked) and compression; the
// rest is the wire. Parsed in one go and in two random splits, the same events come out
// (messages, pings, pongs, closes, and the same error at the same point), whatever the
// split. Each event keeps the contract: consumed within the buffer, messages within the
// size limit, text messages valid UTF-8, close codes valid.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_common.h"
#include "internal/websocket_deflate.h"
#include "internal/websocket_frame.h"

namespace {

using tornado::websocket::detail::FrameEvent;
using tornado::websocket::detail::FrameParser;
using tornado::websocket::detail::Inflater;
using tornado::websocket::detail::Utf8Validator;

constexpr std::size_t kMaxMessage = 64 * 1024;

struct Run {
  std::vector<std::string> events;
  bool operator==(const Run&) const = default;
};

bool valid_utf8(std::string_view s) {
  Utf8Validator v;
  return v.feed(s) && v.complete();
}

// Parses `wire` handing it over in pieces from `next_piece` (0: everything at once).
template <typename NextPiece>
Run parse(std::string_view wire, bool server_side, bool compression, NextPiece next_piece) {
  FrameParser parser(server_side, kMaxMessage);
  std::unique_ptr<Inflater> inflater;
  if (compression) {
    inflater = std::make_unique<Inflater>(false);
    parser.set_inflater(inflater.get());
  }
  std::string buffer;
  std::size_t fed = 0;
  Run out;
  for (;;) {
    // An exact-size copy of what is buffered, so that ASan sees any read past it.
    std::unique_ptr<char[]> exact(new char[buffer.size() + 1]);
    std::memcpy(exact.get(), buffer.data(), buffer.size());
    FrameEvent ev = parser.parse({exact.get(), buffer.size()});
    std::memcpy(buffer.data(), exact.get(), buffer.size());  // unmasked in place
    FUZZ_CHECK(ev.consumed <= buffer.size());
    const std::string_view whole(exact.get(), buffer.size());
    switch (ev.kind) {
      case FrameEvent::kNeedMore: {
        buffer.erase(0, ev.consumed);
        if (fed == wire.size()) return out;
        const std::size_t n = next_piece(wire.size() - fed);
        buffer.append(wire.substr(fed, n));
        fed += n;
        continue;
      }
      case FrameEvent::kMessage: {
        const bool binary = parser.message_is_binary();
        std::string m = parser.take_message();
        FUZZ_CHECK(m.size() <= kMaxMessage);
        if (!binary) FUZZ_CHECK(valid_utf8(m));
        out.events.push_back((binary ? "B" : "T") + m);
        break;
      }
      case FrameEvent::kPing:
      case FrameEvent::kPong:
        FUZZ_CHECK(ev.payload.size() <= 125 && fuzz::inside(ev.payload, whole));
        out.events.push_back((ev.kind == FrameEvent::kPing ? "P" : "O") + std::string(ev.payload));
        break;
      case FrameEvent::kClose:
        FUZZ_CHECK(ev.code == 1005 || tornado::websocket::detail::is_valid_close_code(ev.code));
        FUZZ_CHECK(valid_utf8(ev.payload) && fuzz::inside(ev.payload, whole));
        out.events.push_back("C" + std::to_string(ev.code) + std::string(ev.payload));
        break;
      case FrameEvent::kError:
        FUZZ_CHECK(ev.code == 1002 || ev.code == 1007 || ev.code == 1009);
        out.events.push_back("E" + std::to_string(ev.code));
        return out;
    }
    buffer.erase(0, ev.consumed);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const bool server_side = (data[0] & 1) != 0;
  const bool compression = (data[0] & 2) != 0;
  const std::string_view wire(reinterpret_cast<const char*>(data) + 1, size - 1);
  const Run whole = parse(wire, server_side, compression, [](std::size_t left) { return left; });
  for (uint64_t salt : {1, 2}) {
    fuzz::Splitter split(wire, salt);
    const Run pieces = parse(wire, server_side, compression,
                             [&split](std::size_t left) { return split.next(left); });
    FUZZ_CHECK(pieces == whole);
  }
  return 0;
}
