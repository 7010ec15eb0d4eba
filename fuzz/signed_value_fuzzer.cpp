// libFuzzer target: signed values and XSRF tokens (web/signing.h, web/xsrf.h).
//
// Input: any bytes, read as a signed value, as an XSRF token, and as a value to sign.
//
// Checked: decode_signed_value, get_signature_key_version and decode_xsrf_token never throw
// on any input (one secret and versioned secrets, every min_version); a random input never
// passes as signed; the input signed (v1, v2, v2 with key versions) decodes back to itself,
// and changing any one byte of the signed text makes it fail; the input as an XSRF token
// encodes and decodes back (v2 and v1); constant_time_equal agrees with ==.
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "fuzz_common.h"
#include "tornado/web/signing.h"
#include "tornado/web/xsrf.h"

namespace {

using namespace tornado::web;

const CookieSecret kSecret = "fuzz secret";
const CookieSecret kVersioned = std::map<int, std::string>{{0, "zero"}, {7, "seven"}};
constexpr std::int64_t kClock = 1300000000;

void check(std::string_view input) {
  for (int min_version : {1, 2}) {
    for (const CookieSecret* secret : {&kSecret, &kVersioned}) {
      // A forgery needs the HMAC: arbitrary bytes never decode.
      FUZZ_CHECK(!decode_signed_value(*secret, "name", input, 31, kClock, min_version));
    }
  }
  (void)get_signature_key_version(input);
  if (auto token = decode_xsrf_token(input)) {
    FUZZ_CHECK(!token->token.empty() && (token->version == 1 || token->version == 2));
  }

  // Round trips with the input as the value; one changed byte breaks the signature.
  fuzz::Splitter rng(input, 7);
  std::string name = "n" + std::to_string(input.size() % 10);
  struct Case {
    const CookieSecret* secret;
    int version;
    std::optional<int> key_version;
  };
  for (Case c : {Case{&kSecret, 1, {}}, Case{&kSecret, 2, {}}, Case{&kVersioned, 2, 7}}) {
    std::string signed_value =
        create_signed_value(*c.secret, name, input, c.version, kClock, c.key_version);
    auto decoded = decode_signed_value(*c.secret, name, signed_value, 31, kClock);
    FUZZ_CHECK(decoded && *decoded == input);
    if (c.key_version) FUZZ_CHECK(get_signature_key_version(signed_value) == c.key_version);
    std::size_t at = rng.next(signed_value.size()) - 1;
    std::string tampered = signed_value;
    tampered[at] = static_cast<char>(tampered[at] ^ (1 + rng.next(255) % 255));
    FUZZ_CHECK(!decode_signed_value(*c.secret, name, tampered, 31, kClock));
    FUZZ_CHECK(!decode_signed_value(*c.secret, name + "x", signed_value, 31, kClock));
  }

  if (!input.empty()) {
    auto v2 = decode_xsrf_token(encode_xsrf_token(input, kClock));
    FUZZ_CHECK(v2 && v2->version == 2 && v2->token == input && v2->timestamp == kClock);
    auto v1 = decode_xsrf_token(encode_xsrf_token_v1(input));
    FUZZ_CHECK(v1 && v1->token == input);
  }
  std::size_t half = input.size() / 2;
  std::string_view a = input.substr(0, half), b = input.substr(half, half);
  FUZZ_CHECK(constant_time_equal(a, b) == (a == b));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  check(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
