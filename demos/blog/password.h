// Password hashes with scrypt (OpenSSL's EVP_PBE_scrypt). Slow on purpose (tens of ms and
// 32 MiB): call these on an executor, never on the loop thread.
//
// Stored form: "scrypt$<N>$<r>$<p>$<salt hex>$<hash hex>", so the parameters can be raised
// later without breaking older hashes.
#pragma once

#include <string>
#include <string_view>

namespace blog {

struct ScryptParams {
  unsigned long long n = 1ULL << 15;  // CPU/memory cost: 128 * n * r bytes (32 MiB)
  unsigned long long r = 8;
  unsigned long long p = 1;
};

// A fresh random salt, then scrypt; throws std::runtime_error if OpenSSL fails.
std::string hash_password(std::string_view password, ScryptParams params = {});
// True if `password` matches `stored` (compared in constant time). A malformed stored hash,
// or parameters beyond sane bounds (n > 2^20, r > 32, p > 16), is false.
bool verify_password(std::string_view password, std::string_view stored);

}  // namespace blog
