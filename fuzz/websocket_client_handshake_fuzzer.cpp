// libFuzzer target: the WebSocket client's checks of a server's 101 answer
// (src/websocket_client_offer.cpp) — untrusted input from any server a client connects to.
//
// The input's first byte chooses what the client offered (permessage-deflate and its four
// parameters; a correct Sec-WebSocket-Accept added or not), the rest is the answer's header
// block. The check either accepts or raises WebSocketError — never anything else — and what
// it accepts keeps the rules: a subprotocol only if offered, permessage-deflate only if
// offered, and a deflate setup within zlib's limits and within the window we offered. Our
// offer itself parses back and is accepted by the server-side negotiation.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_common.h"
#include "internal/websocket_client.h"
#include "internal/websocket_deflate.h"
#include "internal/websocket_handshake.h"
#include "tornado/httputil.h"

namespace wd = tornado::websocket::detail;
using tornado::websocket::CompressionOptions;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const uint8_t flags = data[0];
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  tornado::httputil::HTTPHeaders headers;
  try {
    headers = tornado::httputil::HTTPHeaders::parse(text);
  } catch (const std::exception&) {
    return 0;  // not a header block
  }
  const std::string key = "dGhlIHNhbXBsZSBub25jZQ==";
  if (flags & 1) headers.set("Sec-WebSocket-Accept", wd::compute_accept_value(key));

  std::optional<CompressionOptions> offer;
  if (flags & 2) {
    CompressionOptions o;
    o.server_no_context_takeover = (flags & 4) != 0;
    o.client_no_context_takeover = (flags & 8) != 0;
    if (flags & 16) o.server_max_window_bits = 9 + (flags >> 6);
    if (flags & 32) o.client_max_window_bits = 8 + (flags >> 6);
    offer = o;
    const auto offers = wd::parse_extensions(wd::deflate_offer(o));
    FUZZ_CHECK(offers && offers->size() == 1);
    FUZZ_CHECK(wd::accept_deflate_offer(offers->front(), false).has_value() ||
               o.server_max_window_bits == 8);
  }
  const std::vector<std::string> subprotocols = {"chat", "superchat"};

  wd::ClientHandshake out;
  try {
    wd::check_handshake_response(headers, key, subprotocols, offer, out);
  } catch (const tornado::websocket::WebSocketError&) {
    return 0;
  }
  // Accepted only with the right accept value.
  FUZZ_CHECK(headers.get_first("Sec-WebSocket-Accept") == wd::compute_accept_value(key));
  if (!out.subprotocol.empty()) {
    FUZZ_CHECK(out.subprotocol == "chat" || out.subprotocol == "superchat");
  }
  if (out.deflate) {
    FUZZ_CHECK(offer.has_value());
    const auto setup = wd::client_deflate_setup(*out.deflate, *offer);
    FUZZ_CHECK(setup.deflate_window_bits >= 9 && setup.deflate_window_bits <= 15);
    FUZZ_CHECK(setup.deflate_level >= -1 && setup.deflate_level <= 9);
    if (offer->client_max_window_bits && setup.deflate_level != 0) {
      FUZZ_CHECK(setup.deflate_window_bits <= *offer->client_max_window_bits);
    }
    if (offer->client_no_context_takeover) FUZZ_CHECK(setup.deflate_no_context_takeover);
    // The deflater and inflater the setup describes can be made and round-trip a message.
    wd::Deflater deflater(setup.deflate_level, 8, setup.deflate_window_bits,
                          setup.deflate_no_context_takeover);
    wd::Inflater inflater(setup.inflate_no_context_takeover);
    std::string compressed, back;
    deflater.compress(text, compressed);
    FUZZ_CHECK(inflater.inflate(compressed, back, 1 << 20));
    FUZZ_CHECK(inflater.finish_message(back, 1 << 20));
    FUZZ_CHECK(back == text);
  }
  return 0;
}
