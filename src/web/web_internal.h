// Helpers shared by the src/web/ files (not public).
#pragma once

#include <cstring>
#include <optional>
#include <string_view>

#include "internal/http_parser.h"
#include "internal/websocket_frame.h"
#include "tornado/httputil.h"

namespace tornado::web::detail {

// The first value of a request's field `name`, looked for inline and by size first: the
// per-request questions (a Content-Type? an If-None-Match?) that most requests answer no.
// (always_inline: GCC otherwise leaves one out-of-line copy for both, and a call each.)
[[gnu::always_inline]] inline std::optional<std::string_view> first_field(
    const httputil::HTTPHeaders& headers, std::string_view name) noexcept {
  for (std::size_t i = 0; i < headers.size(); ++i) {
    const auto [field_name, value] = headers.field(i);
    if (field_name.size() == name.size() && http1::iequals(field_name, name)) return value;
  }
  return std::nullopt;
}

// Tornado's default Server field, the first of every response's fields.
inline constexpr std::string_view kServerField = "Server";
inline constexpr std::string_view kServerHeader = "TornadoServer/6.2 (tornado-cpp)";

// True if `s` is well-formed UTF-8 (no overlong forms, surrogates or values past U+10FFFF),
// what Python's bytes.decode("utf-8") accepts. One validator for the library: the WebSocket
// layer's (ASCII eight bytes at a time).
inline bool is_valid_utf8(std::string_view s) noexcept {
  websocket::detail::Utf8Validator v;
  return v.feed(s) && v.complete();
}

// method == name for a literal name, inline: string_view's == is a call here (two per
// finish(), seven in the method dispatch, at about 20 instructions each).
template <std::size_t N>
inline bool method_is(std::string_view method, const char (&name)[N]) noexcept {
  return method.size() == N - 1 && std::memcmp(method.data(), name, N - 1) == 0;
}

}  // namespace tornado::web::detail
