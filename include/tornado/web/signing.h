// tornado/web/signing.h — Tornado's signed values (the payload of signed cookies), byte for
// byte as Python Tornado's web.create_signed_value / decode_signed_value make and read them,
// so a Python Tornado app and a tornado-cpp app can share a cookie secret.
//
//   using namespace tornado::web;
//   std::string v = create_signed_value("secret", "user", "alice");
//   // "2|1:0|10:1700000000|4:user|8:YWxpY2U=|<64 hex digits of HMAC-SHA256>"
//   decode_signed_value("secret", "user", v);          // "alice"
//   decode_signed_value("secret", "other-name", v);    // nullopt
//
//   // Key rotation: sign with key 2, still accept values signed with key 1.
//   CookieSecret keys = std::map<int, std::string>{{1, "old"}, {2, "new"}};
//   create_signed_value(keys, "user", "alice", 2, {}, /*key_version=*/2);
//
// Formats (see docs/web_security.md):
//   v1  base64(value) "|" timestamp "|" hex(HMAC-SHA1(secret, name + base64 + timestamp))
//   v2  "2|" len ":" key_version "|" len ":" timestamp "|" len ":" name "|" len ":" base64 "|"
//       followed by hex(HMAC-SHA256(secret, everything before it)).
//
// Decoding never throws and never trusts the input: any malformed, tampered, expired or
// wrongly named value gives nullopt. Signatures are compared in constant time.
// Thread rule: pure functions, any thread.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace tornado::web {

// The `cookie_secret` setting: one secret, or several indexed by key version (Tornado's
// dict secret) so that keys can be rotated. Implicitly constructible from either form.
class CookieSecret {
 public:
  CookieSecret() = default;
  CookieSecret(const char* secret) : single_(secret) {}  // NOLINT: implicit on purpose
  CookieSecret(std::string secret) : single_(std::move(secret)) {}
  CookieSecret(std::string_view secret) : single_(secret) {}
  CookieSecret(std::map<int, std::string> versioned)
      : versioned_(std::move(versioned)), is_versioned_(true) {}

  // No secret at all (a single empty string, or no key versions).
  bool empty() const { return is_versioned_ ? versioned_.empty() : single_.empty(); }
  // True when built from a map of key versions (Tornado's dict secret).
  bool versioned() const { return is_versioned_; }
  // The single secret ("" when versioned).
  const std::string& single() const { return single_; }
  // The secret of `key_version` in a versioned secret; nullptr when absent or not versioned.
  const std::string* find(int key_version) const;
  const std::map<int, std::string>& versions() const { return versioned_; }

 private:
  std::string single_;
  std::map<int, std::string> versioned_;
  bool is_versioned_ = false;
};

// Signs `value` under `name` (Tornado's create_signed_value). `version` 1 or 2 (default 2);
// `clock` the Unix time to stamp (default now); `key_version` is written into a v2 value and,
// with a versioned secret, selects the key (required then).
// Throws std::invalid_argument for a version other than 1 or 2, a versioned secret with
// version 1 or without key_version, or a key_version missing from the versioned secret.
std::string create_signed_value(const CookieSecret& secret, std::string_view name,
                                std::string_view value, int version = 2,
                                std::optional<std::int64_t> clock = {},
                                std::optional<int> key_version = {});

// Checks and decodes a signed value (Tornado's decode_signed_value): the original value, or
// nullopt when the value is empty, malformed, signed with another secret or name, older
// than `max_age_days` (relative to `clock`, default now), of a version below `min_version`,
// or (v1 only) stamped more than 31 days in the future or with a leading-zero timestamp.
// A versioned secret reads v2 values with the key their key_version names (v1 values,
// which carry no key version, give nullopt; Python asserts instead).
// Throws std::invalid_argument only for a min_version above 2 (a programming error).
std::optional<std::string> decode_signed_value(const CookieSecret& secret, std::string_view name,
                                               std::string_view value, double max_age_days = 31,
                                               std::optional<std::int64_t> clock = {},
                                               int min_version = 1);

// The key version a v2 value was signed with (nullopt for v1 or a malformed value).
// Does not check the signature.
std::optional<int> get_signature_key_version(std::string_view value);

}  // namespace tornado::web
