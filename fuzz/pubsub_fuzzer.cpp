// libFuzzer target: the pub/sub hub's text formats (src/pubsub_message.cpp) — the stream
// position a client sends back (SSE Last-Event-ID, "<epoch hex>-<offset>") and the encodings
// a message is given once for every subscriber.
//
// StreamPosition::parse never throws and accepts exactly <hex digits> '-' <decimal digits>
// whose values fit 64 bits; what it accepts prints back to a text that parses to the same
// position. A Message made of the input keeps the bytes (data() == input, the WebSocket frame
// ends with them) and its SSE event decodes (WHATWG: data lines joined with LF) to the input
// with CRLF and CR turned into LF, in lines that never hold CR or LF themselves.
//
// The form a message takes in Redis (internal/pubsub_wire.h), met on a channel or in a
// history entry written by anyone: decode_wire never throws; what it accepts is text only
// if valid UTF-8, and encodes back to a form that decodes to the same message. Any bytes as
// binary data and a key made of the input's first bytes survive encode then decode.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_common.h"
#include "internal/pubsub_wire.h"
#include "tornado/pubsub.h"

using tornado::pubsub::Message;
using tornado::pubsub::StreamPosition;

namespace {

bool is_hex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
bool is_digit(char c) { return c >= '0' && c <= '9'; }

// The grammar alone (the 64-bit range is left to from_chars).
bool well_formed(std::string_view t) {
  const auto dash = t.find('-');
  if (dash == std::string_view::npos || dash == 0 || dash + 1 == t.size()) return false;
  for (std::size_t i = 0; i < dash; ++i) {
    if (!is_hex(t[i])) return false;
  }
  for (std::size_t i = dash + 1; i < t.size(); ++i) {
    if (!is_digit(t[i])) return false;
  }
  return true;
}

void check_position(std::string_view text) {
  const auto p = StreamPosition::parse(text);
  if (!p) return;
  FUZZ_CHECK(well_formed(text));
  const std::string printed = p->to_string();
  FUZZ_CHECK(well_formed(printed));
  FUZZ_CHECK(StreamPosition::parse(printed) == p);
}

void check_message(std::string_view data) {
  const Message m("topic", std::string(data), /*binary=*/true, "");
  FUZZ_CHECK(m.data() == data);
  const std::string_view frame = m.websocket_frame();
  FUZZ_CHECK(frame.size() > data.size() && frame.substr(frame.size() - data.size()) == data);
  FUZZ_CHECK(static_cast<unsigned char>(frame[0]) == 0x82);  // FIN, binary

  std::string expected;
  for (std::size_t i = 0; i < data.size(); ++i) {
    if (data[i] == '\r') {
      expected.push_back('\n');
      if (i + 1 < data.size() && data[i + 1] == '\n') ++i;
    } else {
      expected.push_back(data[i]);
    }
  }
  const std::string_view event = m.sse_event();
  FUZZ_CHECK(event.ends_with("\n\n"));
  FUZZ_CHECK(event.starts_with("id: " + StreamPosition{}.to_string() + "\n"));
  std::string decoded;
  bool first = true;
  std::size_t start = event.find('\n') + 1;
  while (start < event.size() - 1) {
    const std::size_t end = event.find('\n', start);
    const std::string_view line = event.substr(start, end - start);
    FUZZ_CHECK(line.find('\r') == std::string_view::npos);
    FUZZ_CHECK(line.starts_with("data: "));
    if (!first) decoded.push_back('\n');
    decoded.append(line.substr(6));
    first = false;
    start = end + 1;
  }
  FUZZ_CHECK(decoded == expected);
}

}  // namespace

void check_wire(std::string_view text) {
  using tornado::pubsub::detail::decode_wire;
  using tornado::pubsub::detail::encode_wire;
  if (const auto m = decode_wire("t", text)) {
    FUZZ_CHECK(text.size() >= 3 && (text[0] == 't' || text[0] == 'b'));
    FUZZ_CHECK(m->binary() == (text[0] == 'b'));
    FUZZ_CHECK(text.ends_with(m->data()) && text.find(m->key()) != std::string_view::npos);
    const auto again = decode_wire("t", encode_wire(m->data(), m->binary(), m->key()));
    FUZZ_CHECK(again && again->data() == m->data() && again->binary() == m->binary() &&
               again->key() == m->key());
  }
  const std::string_view key = text.substr(0, text.size() / 3);
  const auto binary = decode_wire("t", encode_wire(text, true, key));
  FUZZ_CHECK(binary && binary->data() == text && binary->key() == key && binary->binary());
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(bytes), size);
  check_position(text);
  check_message(text);
  check_wire(text);
  return 0;
}
