// Tornado's XSRF token formats (web.py xsrf_token / _decode_xsrf_token).
#include "tornado/web/xsrf.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <ctime>
#include <stdexcept>

#include "internal/hex.h"

namespace tornado::web {

namespace {

constexpr std::size_t kMaskSize = 4;
constexpr std::size_t kTokenSize = 16;

std::string random_bytes(std::size_t n) {
  std::string out(n, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1) {
    throw std::runtime_error("RAND_bytes failed: no random bytes for the XSRF token");
  }
  return out;
}

// XORs `data` with the 4-byte `mask` repeated (the WebSocket masking Tornado reuses).
std::string apply_mask(std::string_view mask, std::string_view data) {
  std::string out(data);
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = static_cast<char>(out[i] ^ mask[i % 4]);
  return out;
}

std::optional<std::int64_t> parse_timestamp(std::string_view text) {
  if (text.empty() || text.size() > 18) return std::nullopt;
  std::int64_t n = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + (c - '0');
  }
  return n;
}

// True when `text` starts like a versioned token: [1-9][0-9]*'|' (Tornado's
// _signed_value_version_re, whose '.' stops at a newline that is not the last byte).
bool has_version_prefix(std::string_view text, std::string_view& version_digits) {
  if (text.empty() || text[0] < '1' || text[0] > '9') return false;
  std::size_t i = 0;
  while (i < text.size() && text[i] >= '0' && text[i] <= '9') ++i;
  if (i == text.size() || text[i] != '|') return false;
  std::string_view rest = text.substr(i + 1);
  std::size_t newline = rest.find('\n');
  if (newline != std::string_view::npos && newline + 1 != rest.size()) return false;
  version_digits = text.substr(0, i);
  return true;
}

}  // namespace

std::optional<XsrfToken> decode_xsrf_token(std::string_view text) {
  std::string_view version;
  if (!has_version_prefix(text, version)) {
    // v1: hex, or (Tornado accepts it) any other text taken as the token bytes.
    auto token = internal::hex_decode(text);
    XsrfToken out{1, token ? std::move(*token) : std::string(text),
                  static_cast<std::int64_t>(time(nullptr))};
    if (out.token.empty()) return std::nullopt;
    return out;
  }
  if (version != "2") return std::nullopt;  // unknown versions count as absent
  // "2|mask|masked|timestamp": exactly four fields.
  std::string_view fields[4];
  std::string_view rest = text;
  for (int i = 0; i < 3; ++i) {
    std::size_t bar = rest.find('|');
    if (bar == std::string_view::npos) return std::nullopt;
    fields[i] = rest.substr(0, bar);
    rest = rest.substr(bar + 1);
  }
  if (rest.find('|') != std::string_view::npos) return std::nullopt;
  fields[3] = rest;
  auto mask = internal::hex_decode(fields[1]);
  auto masked = internal::hex_decode(fields[2]);
  auto timestamp = parse_timestamp(fields[3]);
  if (!mask || mask->size() != kMaskSize || !masked || !timestamp) return std::nullopt;
  if (masked->empty()) return std::nullopt;
  return XsrfToken{2, apply_mask(*mask, *masked), *timestamp};
}

std::string encode_xsrf_token(std::string_view token, std::int64_t timestamp) {
  std::string mask = random_bytes(kMaskSize);
  std::string out = "2|";
  out.append(internal::hex_encode(mask)).push_back('|');
  out.append(internal::hex_encode(apply_mask(mask, token))).push_back('|');
  out.append(std::to_string(timestamp));
  return out;
}

std::string encode_xsrf_token_v1(std::string_view token) { return internal::hex_encode(token); }

std::string generate_xsrf_token() { return random_bytes(kTokenSize); }

bool constant_time_equal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace tornado::web
