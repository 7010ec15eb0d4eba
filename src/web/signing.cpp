// Tornado's signed values v1 and v2 (web.py create_signed_value / decode_signed_value).
// Every check is on bytes and bounds-checked: a decoder fed any text returns nullopt.
#include "tornado/web/signing.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <chrono>
#include <ctime>
#include <stdexcept>

#include "internal/hex.h"
#include "tornado/escape.h"
#include "tornado/web/xsrf.h"

namespace tornado::web {

const std::string* CookieSecret::find(int key_version) const {
  if (!is_versioned_) return nullptr;
  auto it = versioned_.find(key_version);
  return it == versioned_.end() ? nullptr : &it->second;
}

namespace {

constexpr double kSecondsPerDay = 86400;
// v1 values more than this far in the future are refused: v1 signs no delimiter between the
// payload and the timestamp, so digits could move from one to the other (Tornado's check).
constexpr double kV1MaxFutureSeconds = 31 * kSecondsPerDay;

enum class Digest { kSha1, kSha256 };

// One HMAC context per digest and thread, made once: OpenSSL 3's one-shot HMAC() fetches the
// MAC and the digest by name on every call (EVP_Q_mac), which is most of its cost.
// EVP_MAC_init with a new key re-keys the context and keeps its digest.
EVP_MAC_CTX* hmac_context(Digest digest) {
  struct Contexts {
    EVP_MAC* mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
    EVP_MAC_CTX* ctx[2] = {nullptr, nullptr};
    ~Contexts() {
      for (EVP_MAC_CTX* c : ctx) EVP_MAC_CTX_free(c);
      EVP_MAC_free(mac);
    }
  };
  thread_local Contexts contexts;
  int index = digest == Digest::kSha1 ? 0 : 1;
  if (contexts.ctx[index] == nullptr && contexts.mac != nullptr) {
    EVP_MAC_CTX* ctx = EVP_MAC_CTX_new(contexts.mac);
    char sha1[] = "SHA1", sha256[] = "SHA256";  // OSSL_PARAM wants a mutable buffer
    char* name = digest == Digest::kSha1 ? sha1 : sha256;
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string("digest", name, 0),
                           OSSL_PARAM_construct_end()};
    if (ctx != nullptr && EVP_MAC_CTX_set_params(ctx, params) == 1) {
      contexts.ctx[index] = ctx;
    } else {
      EVP_MAC_CTX_free(ctx);
    }
  }
  return contexts.ctx[index];
}

std::string hmac_hex(Digest digest, std::string_view key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  std::size_t out_len = 0;
  // An empty key still needs a non-null pointer for OpenSSL.
  static const unsigned char empty_key = 0;
  const auto* key_ptr =
      key.empty() ? &empty_key : reinterpret_cast<const unsigned char*>(key.data());
  EVP_MAC_CTX* ctx = hmac_context(digest);
  if (ctx == nullptr || EVP_MAC_init(ctx, key_ptr, key.size(), nullptr) != 1 ||
      EVP_MAC_update(ctx, reinterpret_cast<const unsigned char*>(data.data()), data.size()) != 1 ||
      EVP_MAC_final(ctx, out, &out_len, sizeof out) != 1) {
    throw std::runtime_error("HMAC failed (OpenSSL)");
  }
  return internal::hex_encode(std::string_view(reinterpret_cast<const char*>(out), out_len));
}

std::string signature_v1(std::string_view secret, std::string_view name, std::string_view value,
                         std::string_view timestamp) {
  std::string data;
  data.reserve(name.size() + value.size() + timestamp.size());
  data.append(name).append(value).append(timestamp);
  return hmac_hex(Digest::kSha1, secret, data);
}

std::string signature_v2(std::string_view secret, std::string_view to_sign) {
  return hmac_hex(Digest::kSha256, secret, to_sign);
}

// A decimal integer of ASCII digits (with an optional '-' when allowed); nullopt on
// anything else or on overflow. Stricter than Python's int(), which also takes spaces, '+'
// and '_': Tornado never writes those.
std::optional<std::int64_t> parse_decimal(std::string_view text, bool allow_negative = false) {
  bool negative = false;
  if (allow_negative && !text.empty() && text.front() == '-') {
    negative = true;
    text.remove_prefix(1);
  }
  if (text.empty() || text.size() > 18) return std::nullopt;  // 18 digits cannot overflow
  std::int64_t n = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + (c - '0');
  }
  return negative ? -n : n;
}

double now_seconds(std::optional<std::int64_t> clock) {
  if (clock) return static_cast<double>(*clock);
  using namespace std::chrono;
  return duration<double>(system_clock::now().time_since_epoch()).count();
}

// Tornado's _get_version: the regex ^([1-9][0-9]*)\|(.*)$ (no DOTALL, so the rest may hold a
// newline only as its last byte); a number above 999 or no match means version 1.
int signed_value_version(std::string_view value) {
  std::size_t i = 0;
  if (value.empty() || value[0] < '1' || value[0] > '9') return 1;
  while (i < value.size() && value[i] >= '0' && value[i] <= '9') ++i;
  if (i == value.size() || value[i] != '|') return 1;
  std::string_view rest = value.substr(i + 1);
  std::size_t newline = rest.find('\n');
  if (newline != std::string_view::npos && newline + 1 != rest.size()) return 1;
  if (i > 3) return 1;  // above 999: v1 base64 that happens to be digits
  return static_cast<int>(*parse_decimal(value.substr(0, i)));
}

struct FieldsV2 {
  std::string_view key_version;
  std::string_view timestamp;
  std::string_view name;
  std::string_view value;
  std::string_view signature;
};

// Consumes "<len>:<bytes>|" from the front of `rest`.
std::optional<std::string_view> consume_field(std::string_view& rest) {
  std::size_t colon = rest.find(':');
  if (colon == std::string_view::npos) return std::nullopt;
  auto length = parse_decimal(rest.substr(0, colon));
  if (!length) return std::nullopt;
  std::string_view after = rest.substr(colon + 1);
  auto n = static_cast<std::size_t>(*length);
  if (n >= after.size() || after[n] != '|') return std::nullopt;
  rest = after.substr(n + 1);
  return after.substr(0, n);
}

// Tornado's _decode_fields_v2 on a value known to start with "2|".
std::optional<FieldsV2> decode_fields_v2(std::string_view value) {
  std::string_view rest = value.substr(2);
  FieldsV2 fields;
  for (std::string_view* field :
       {&fields.key_version, &fields.timestamp, &fields.name, &fields.value}) {
    auto consumed = consume_field(rest);
    if (!consumed) return std::nullopt;
    *field = *consumed;
  }
  fields.signature = rest;
  return fields;
}

std::optional<std::string> base64_or_nullopt(std::string_view text) {
  try {
    return escape::base64_decode(text);
  } catch (const std::invalid_argument&) {
    return std::nullopt;
  }
}

std::optional<std::string> decode_v1(const CookieSecret& secret, std::string_view name,
                                     std::string_view value, double max_age_days, double now) {
  if (secret.versioned()) return std::nullopt;  // v1 has no key version to pick a key by
  std::size_t first = value.find('|');
  if (first == std::string_view::npos) return std::nullopt;
  std::size_t second = value.find('|', first + 1);
  if (second == std::string_view::npos) return std::nullopt;
  if (value.find('|', second + 1) != std::string_view::npos) return std::nullopt;
  std::string_view payload = value.substr(0, first);
  std::string_view timestamp_text = value.substr(first + 1, second - first - 1);
  std::string_view signature = value.substr(second + 1);
  if (!constant_time_equal(signature,
                           signature_v1(secret.single(), name, payload, timestamp_text))) {
    return std::nullopt;
  }
  auto timestamp = parse_decimal(timestamp_text);
  if (!timestamp) return std::nullopt;
  auto ts = static_cast<double>(*timestamp);
  if (ts < now - max_age_days * kSecondsPerDay) return std::nullopt;  // expired
  if (ts > now + kV1MaxFutureSeconds) return std::nullopt;            // possible tampering
  if (timestamp_text.front() == '0') return std::nullopt;             // tampered
  return base64_or_nullopt(payload);
}

std::optional<std::string> decode_v2(const CookieSecret& secret, std::string_view name,
                                     std::string_view value, double max_age_days, double now) {
  auto fields = decode_fields_v2(value);
  if (!fields) return std::nullopt;
  auto key_version = parse_decimal(fields->key_version, /*allow_negative=*/true);
  if (!key_version) return std::nullopt;
  const std::string* key = &secret.single();
  if (secret.versioned()) {
    if (*key_version < INT32_MIN || *key_version > INT32_MAX) return std::nullopt;
    key = secret.find(static_cast<int>(*key_version));
    if (key == nullptr) return std::nullopt;
  }
  std::string_view signed_part = value.substr(0, value.size() - fields->signature.size());
  if (!constant_time_equal(fields->signature, signature_v2(*key, signed_part))) {
    return std::nullopt;
  }
  if (fields->name != name) return std::nullopt;
  auto timestamp = parse_decimal(fields->timestamp);
  if (!timestamp) return std::nullopt;
  if (static_cast<double>(*timestamp) < now - max_age_days * kSecondsPerDay) return std::nullopt;
  return base64_or_nullopt(fields->value);
}

void append_field(std::string& out, std::string_view field) {
  out.append(std::to_string(field.size())).push_back(':');
  out.append(field).push_back('|');
}

}  // namespace

std::string create_signed_value(const CookieSecret& secret, std::string_view name,
                                std::string_view value, int version,
                                std::optional<std::int64_t> clock, std::optional<int> key_version) {
  if (version != 1 && version != 2) {
    throw std::invalid_argument("Unsupported signed value version " + std::to_string(version));
  }
  std::string timestamp = std::to_string(clock ? *clock : static_cast<std::int64_t>(time(nullptr)));
  std::string encoded = escape::base64_encode(value);
  if (version == 1) {
    if (secret.versioned()) {
      throw std::invalid_argument("versioned cookie secrets need signed value version 2");
    }
    std::string out = encoded;
    out.append("|").append(timestamp).append("|");
    out.append(signature_v1(secret.single(), name, encoded, timestamp));
    return out;
  }
  const std::string* key = &secret.single();
  if (secret.versioned()) {
    if (!key_version) {
      throw std::invalid_argument("a key_version is needed to sign with versioned secrets");
    }
    key = secret.find(*key_version);
    if (key == nullptr) {
      throw std::invalid_argument("no cookie secret for key_version " +
                                  std::to_string(*key_version));
    }
  }
  std::string out = "2|";
  append_field(out, std::to_string(key_version.value_or(0)));
  append_field(out, timestamp);
  append_field(out, name);
  append_field(out, encoded);
  out.append(signature_v2(*key, out));
  return out;
}

std::optional<std::string> decode_signed_value(const CookieSecret& secret, std::string_view name,
                                               std::string_view value, double max_age_days,
                                               std::optional<std::int64_t> clock, int min_version) {
  if (min_version > 2) {
    throw std::invalid_argument("Unsupported min_version " + std::to_string(min_version));
  }
  if (value.empty()) return std::nullopt;
  int version = signed_value_version(value);
  if (version < min_version) return std::nullopt;
  double now = now_seconds(clock);
  if (version == 1) return decode_v1(secret, name, value, max_age_days, now);
  if (version == 2) return decode_v2(secret, name, value, max_age_days, now);
  return std::nullopt;
}

std::optional<int> get_signature_key_version(std::string_view value) {
  // As Tornado: any version from 2 up is read with the v2 field layout.
  if (signed_value_version(value) < 2) return std::nullopt;
  auto fields = decode_fields_v2(value);
  if (!fields) return std::nullopt;
  auto key_version = parse_decimal(fields->key_version, /*allow_negative=*/true);
  if (!key_version || *key_version < INT32_MIN || *key_version > INT32_MAX) return std::nullopt;
  return static_cast<int>(*key_version);
}

}  // namespace tornado::web
