#include "password.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <charconv>
#include <stdexcept>
#include <vector>

namespace blog {

namespace {

constexpr std::size_t kSaltBytes = 16;
constexpr std::size_t kHashBytes = 32;
constexpr std::uint64_t kMaxMem = 256ULL * 1024 * 1024;

std::string to_hex(const unsigned char* data, std::size_t size) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(size * 2);
  for (std::size_t i = 0; i < size; ++i) {
    out += kDigits[data[i] >> 4];
    out += kDigits[data[i] & 15];
  }
  return out;
}

bool from_hex(std::string_view hex, std::vector<unsigned char>& out) {
  if (hex.size() % 2) return false;
  out.clear();
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    unsigned value = 0;
    auto [end, ec] = std::from_chars(hex.data() + i, hex.data() + i + 2, value, 16);
    if (ec != std::errc() || end != hex.data() + i + 2) return false;
    out.push_back(static_cast<unsigned char>(value));
  }
  return true;
}

bool scrypt(std::string_view password, const std::vector<unsigned char>& salt,
            const ScryptParams& params, unsigned char* out, std::size_t out_size) {
  return EVP_PBE_scrypt(password.data(), password.size(), salt.data(), salt.size(), params.n,
                        params.r, params.p, kMaxMem, out, out_size) == 1;
}

// The next '$'-separated field of `s`, consumed.
std::string_view next_field(std::string_view& s) {
  auto at = s.find('$');
  std::string_view field = s.substr(0, at);
  s = at == std::string_view::npos ? std::string_view() : s.substr(at + 1);
  return field;
}

bool parse_number(std::string_view s, unsigned long long& value) {
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  return ec == std::errc() && end == s.data() + s.size() && !s.empty();
}

}  // namespace

std::string hash_password(std::string_view password, ScryptParams params) {
  std::vector<unsigned char> salt(kSaltBytes);
  if (RAND_bytes(salt.data(), static_cast<int>(salt.size())) != 1) {
    throw std::runtime_error("RAND_bytes failed");
  }
  unsigned char hash[kHashBytes];
  if (!scrypt(password, salt, params, hash, sizeof hash)) {
    throw std::runtime_error("EVP_PBE_scrypt failed");
  }
  return "scrypt$" + std::to_string(params.n) + "$" + std::to_string(params.r) + "$" +
         std::to_string(params.p) + "$" + to_hex(salt.data(), salt.size()) + "$" +
         to_hex(hash, sizeof hash);
}

bool verify_password(std::string_view password, std::string_view stored) {
  if (next_field(stored) != "scrypt") return false;
  ScryptParams params;
  if (!parse_number(next_field(stored), params.n) || !parse_number(next_field(stored), params.r) ||
      !parse_number(next_field(stored), params.p)) {
    return false;
  }
  // Bounds, so a tampered row cannot make a login take minutes or gigabytes.
  if (params.n < 2 || params.n > (1ULL << 20) || params.r < 1 || params.r > 32 || params.p < 1 ||
      params.p > 16) {
    return false;
  }
  std::vector<unsigned char> salt, expected;
  if (!from_hex(next_field(stored), salt) || !from_hex(next_field(stored), expected) ||
      !stored.empty() || salt.empty() || expected.size() != kHashBytes) {
    return false;
  }
  unsigned char actual[kHashBytes];
  if (!scrypt(password, salt, params, actual, sizeof actual)) return false;
  return CRYPTO_memcmp(actual, expected.data(), kHashBytes) == 0;
}

}  // namespace blog
