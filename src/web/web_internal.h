// Helpers shared by the src/web/ files (not public).
#pragma once

#include <string_view>

#include "internal/websocket_frame.h"

namespace tornado::web::detail {

// True if `s` is well-formed UTF-8 (no overlong forms, surrogates or values past U+10FFFF),
// what Python's bytes.decode("utf-8") accepts. One validator for the library: the WebSocket
// layer's (ASCII eight bytes at a time).
inline bool is_valid_utf8(std::string_view s) noexcept {
  websocket::detail::Utf8Validator v;
  return v.feed(s) && v.complete();
}

}  // namespace tornado::web::detail
