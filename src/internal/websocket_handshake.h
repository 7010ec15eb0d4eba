// The server's checks of a WebSocket upgrade request (RFC 6455 §4.2.1, in the order and with
// the answers of Tornado's WebSocketHandler.get), the accept value, and the header helpers
// the handshake needs. No I/O.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "tornado/httputil.h"

namespace tornado::websocket::detail {

// RFC 6455 §4.2.2: base64(SHA-1(key + GUID)).
std::string compute_accept_value(std::string_view key);
// The key is base64 of 16 bytes (RFC 6455 §4.1: 24 characters ending in "==").
bool is_valid_key(std::string_view key) noexcept;
// `value` (a comma-separated header value) holds `token`, compared case-insensitively.
bool has_token(std::string_view value, std::string_view token) noexcept;
// A comma-separated list, each item trimmed, empty items dropped (Sec-WebSocket-Protocol).
std::vector<std::string> split_list(std::string_view value);
// Tornado's default check_origin: the Origin's host[:port], lower-cased, equals `host` (the
// request's Host header as sent).
bool same_origin(std::string_view origin, std::string_view host);

// The outcome of check_upgrade_request: status 0 when the request may be upgraded.
struct UpgradeCheck {
  int status = 0;
  const char* message = "";
};
// Upgrade: websocket (400), Connection: upgrade (400), Sec-WebSocket-Version: 13 (426; the
// answer carries Sec-WebSocket-Version: 13), Host and a valid Sec-WebSocket-Key (400). The
// Origin check sits between the second and third steps (the handler's check_origin) and
// is not made here.
UpgradeCheck check_upgrade_headers(const httputil::HTTPHeaders& headers);
UpgradeCheck check_upgrade_version(const httputil::HTTPHeaders& headers);

}  // namespace tornado::websocket::detail
