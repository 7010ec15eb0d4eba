// tornado/web/xsrf.h — Tornado's XSRF token formats (web.RequestHandler.xsrf_token and
// _decode_xsrf_token), so tokens and `_xsrf` cookies pass between Python Tornado and
// tornado-cpp apps.
//
//   using namespace tornado::web;
//   std::string raw = generate_xsrf_token();               // 16 random bytes
//   std::string text = encode_xsrf_token(raw, 1700000000);
//   // "2|<8 hex: mask>|<32 hex: token XOR mask>|1700000000" — a fresh mask every call,
//   // so the token in a page never repeats (BREACH).
//   auto t = decode_xsrf_token(text);                      // t->token == raw
//   constant_time_equal(t->token, raw);                    // true
//
// Formats: v2 `2|hex(mask)|hex(token ^ mask)|timestamp` with a 4-byte mask repeated over the
// token; v1 a plain hex token (or, as Tornado accepts, any text that is not hex: its bytes
// are the token) with no timestamp. See docs/web_security.md.
// Thread rule: pure functions, any thread (the random bytes come from OpenSSL's RAND_bytes).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tornado::web {

struct XsrfToken {
  int version = 2;             // 1 or 2
  std::string token;           // the raw token bytes (unmasked)
  std::int64_t timestamp = 0;  // Unix seconds; for v1 (no timestamp) the time of decoding
};

// Decodes a token from a cookie, a form field or a header. nullopt for text Tornado cannot
// decode (a version other than 2 before '|', a v2 token without exactly four fields, bad
// hex, a mask that is not 4 bytes, a bad timestamp) and for an empty token (Tornado keeps an
// empty token and then fails every check; here it counts as absent). Never throws.
std::optional<XsrfToken> decode_xsrf_token(std::string_view text);

// The v2 text of `token` stamped `timestamp`, with a fresh random 4-byte mask.
std::string encode_xsrf_token(std::string_view token, std::int64_t timestamp);
// The v1 text of `token`: its hex (setting xsrf_cookie_version = 1).
std::string encode_xsrf_token_v1(std::string_view token);

// A new random token: 16 bytes, as Tornado's os.urandom(16). Throws std::runtime_error if the
// system random generator fails.
std::string generate_xsrf_token();

// Compares two byte strings in time that depends only on their lengths (hmac.compare_digest;
// strings of different lengths are unequal).
bool constant_time_equal(std::string_view a, std::string_view b);

}  // namespace tornado::web
