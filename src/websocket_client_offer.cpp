// The WebSocket client's side of the opening handshake without I/O: the key, the
// permessage-deflate offer, the checks of the server's 101 (RFC 6455 §4.1, RFC 7692 §7.1),
// and the compression settings the answer gives. Fuzzed by
// fuzz/websocket_client_handshake_fuzzer.cpp.
#include <openssl/rand.h>

#include <algorithm>

#include "internal/websocket_client.h"
#include "internal/websocket_handshake.h"
#include "tornado/escape.h"

namespace tornado::websocket::detail {

// ---- the offer and the checks of the answer ------------------------------------------------

std::string make_client_key() {
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof bytes) != 1) throw std::runtime_error("RAND_bytes failed");
  return escape::base64_encode(std::string_view(reinterpret_cast<char*>(bytes), sizeof bytes));
}

namespace {

void check_bits(const std::optional<int>& bits, const char* name) {
  if (bits && (*bits < 8 || *bits > 15)) {
    throw std::invalid_argument(std::string("CompressionOptions: ") + name + " must be 8-15");
  }
}

}  // namespace

std::string deflate_offer(const CompressionOptions& o) {
  if (o.compression_level < -1 || o.compression_level > 9 || o.mem_level < 1 || o.mem_level > 9) {
    throw std::invalid_argument("CompressionOptions: level 0-9 and mem_level 1-9");
  }
  check_bits(o.server_max_window_bits, "server_max_window_bits");
  check_bits(o.client_max_window_bits, "client_max_window_bits");
  std::string out = "permessage-deflate";
  if (o.server_no_context_takeover) out += "; server_no_context_takeover";
  if (o.client_no_context_takeover) out += "; client_no_context_takeover";
  if (o.server_max_window_bits) {
    out += "; server_max_window_bits=" + std::to_string(*o.server_max_window_bits);
  }
  // Always offered, so that a server that wants a smaller window for our messages can say
  // so (RFC 7692 §7.1.2.2); without a value the choice is the server's.
  out += "; client_max_window_bits";
  if (o.client_max_window_bits) out += "=" + std::to_string(*o.client_max_window_bits);
  return out;
}

namespace {

// The server's answer against our one offer (RFC 7692 §7.1); nullptr when it fits.
// What the server does with its own compressor is checked only where it matters to us:
// an answer without the server_no_context_takeover we asked for, or with a larger
// server_max_window_bits, is accepted (Python Tornado 6.2 drops both from its answer), as
// our inflater keeps a full 15-bit window and its context whatever the server does. Our
// own side must not exceed what we offered.
const char* deflate_answer_problem(const DeflateParams& a, const CompressionOptions& offer) {
  if (offer.client_max_window_bits && a.client_max_window_bits &&
      *a.client_max_window_bits > *offer.client_max_window_bits) {
    return "client_max_window_bits above the offer";
  }
  return nullptr;
}

}  // namespace

void check_handshake_response(const httputil::HTTPHeaders& headers, std::string_view key,
                              const std::vector<std::string>& subprotocols,
                              const std::optional<CompressionOptions>& compression,
                              ClientHandshake& out) {
  auto upgrade = headers.get_first("Upgrade");
  if (!upgrade || !has_token(*upgrade, "websocket")) {
    throw WebSocketError("WebSocket handshake: the 101 has no \"Upgrade: websocket\"");
  }
  bool upgrade_token = false;
  for (const auto& line : headers.get_list("Connection")) {
    upgrade_token = upgrade_token || has_token(line, "upgrade");
  }
  if (!upgrade_token) {
    throw WebSocketError("WebSocket handshake: the 101 has no \"Connection: Upgrade\"");
  }
  auto accept = headers.get_first("Sec-WebSocket-Accept");
  if (!accept || *accept != compute_accept_value(key)) {
    throw WebSocketError("WebSocket handshake: missing or wrong Sec-WebSocket-Accept");
  }

  if (headers.contains("Sec-WebSocket-Extensions")) {
    std::string all;
    for (const auto& line : headers.get_list("Sec-WebSocket-Extensions")) {
      all += (all.empty() ? "" : ", ") + line;
    }
    auto answers = parse_extensions(all);
    if (!answers) throw WebSocketError("WebSocket handshake: malformed Sec-WebSocket-Extensions");
    if (!answers->empty()) {
      if (answers->size() > 1 || (*answers)[0].name != "permessage-deflate" || !compression) {
        throw WebSocketError("WebSocket handshake: the server chose an extension not offered (" +
                             all + ")");
      }
      auto params = accept_deflate_response((*answers)[0]);
      if (!params) {
        throw WebSocketError("WebSocket handshake: invalid permessage-deflate answer (" + all +
                             ")");
      }
      if (const char* problem = deflate_answer_problem(*params, *compression)) {
        throw WebSocketError(std::string("WebSocket handshake: permessage-deflate: ") + problem);
      }
      out.deflate = *params;
    }
  }

  if (auto chosen = headers.get_first("Sec-WebSocket-Protocol")) {
    std::string protocol(*chosen);
    if (std::find(subprotocols.begin(), subprotocols.end(), protocol) == subprotocols.end()) {
      throw WebSocketError("WebSocket handshake: the server chose subprotocol \"" + protocol +
                           "\", which was not offered");
    }
    out.subprotocol = std::move(protocol);
  }
}

ClientDeflateSetup client_deflate_setup(const DeflateParams& a, const CompressionOptions& offer) {
  ClientDeflateSetup s;
  s.inflate_no_context_takeover = a.server_no_context_takeover;
  s.deflate_no_context_takeover = offer.client_no_context_takeover || a.client_no_context_takeover;
  s.deflate_window_bits =
      a.client_max_window_bits.value_or(offer.client_max_window_bits.value_or(15));
  s.deflate_level = offer.compression_level;
  if (s.deflate_window_bits == 8) {
    // zlib's raw deflate has no 256-byte window. Stored blocks (level 0) refer to nothing
    // before them, so they keep within any window.
    s.deflate_window_bits = 9;
    s.deflate_level = 0;
  }
  return s;
}

}  // namespace tornado::websocket::detail
