// libFuzzer target: the WebSocket handshake checks (src/websocket_handshake.cpp) and the
// permessage-deflate negotiation (src/websocket_deflate.cpp).
//
// The input is a header block. The upgrade checks answer 0, 400 or 426 and never throw; a
// request that passes has a key whose accept value is 28 base64 characters. Every
// Sec-WebSocket-Extensions offer the server accepts yields a response header that parses
// back, is accepted by the client-side check, and carries the same parameters.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_common.h"
#include "internal/websocket_deflate.h"
#include "internal/websocket_handshake.h"
#include "tornado/httputil.h"

namespace wd = tornado::websocket::detail;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  tornado::httputil::HTTPHeaders headers;
  try {
    headers = tornado::httputil::HTTPHeaders::parse(text);
  } catch (const std::exception&) {
    return 0;  // not a header block
  }
  const auto first = wd::check_upgrade_headers(headers);
  FUZZ_CHECK(first.status == 0 || first.status == 400);
  const auto second = wd::check_upgrade_version(headers);
  FUZZ_CHECK(second.status == 0 || second.status == 400 || second.status == 426);
  if (second.status == 0) {
    auto key = *headers.get_first("Sec-WebSocket-Key");
    while (!key.empty() && (key.front() == ' ' || key.front() == '\t')) key.remove_prefix(1);
    while (!key.empty() && (key.back() == ' ' || key.back() == '\t')) key.remove_suffix(1);
    FUZZ_CHECK(wd::is_valid_key(key));
    FUZZ_CHECK(wd::compute_accept_value(key).size() == 28);
  }
  (void)wd::split_list(headers.get("Sec-WebSocket-Protocol", ""));
  if (auto origin = headers.get_first("Origin")) {
    (void)wd::same_origin(*origin, headers.get("Host", ""));
  }

  const auto offers = wd::parse_extensions(headers.get("Sec-WebSocket-Extensions", ""));
  if (!offers) return 0;
  for (const auto& offer : *offers) {
    for (bool force : {false, true}) {
      auto accepted = wd::accept_deflate_offer(offer, force);
      if (!accepted) continue;
      FUZZ_CHECK(accepted->server_max_window_bits >= 9 && accepted->server_max_window_bits <= 15);
      const std::string response = wd::deflate_response_header(*accepted);
      auto parsed = wd::parse_extensions(response);
      FUZZ_CHECK(parsed && parsed->size() == 1);
      auto back = wd::accept_deflate_response(parsed->front());
      FUZZ_CHECK(back.has_value());
      FUZZ_CHECK(back->server_no_context_takeover == accepted->server_no_context_takeover);
      FUZZ_CHECK(back->client_no_context_takeover == accepted->client_no_context_takeover);
      FUZZ_CHECK(back->server_max_window_bits == accepted->server_max_window_bits);
      FUZZ_CHECK(back->client_max_window_bits == accepted->client_max_window_bits);
    }
  }
  return 0;
}
