// SHA-1 through OpenSSL's low-level functions (see sha1.h for why not EVP).
#define OPENSSL_SUPPRESS_DEPRECATED
#include "internal/sha1.h"

#include <openssl/sha.h>

#include <new>

namespace tornado::internal {

static_assert(sizeof(SHA_CTX) <= 96 && alignof(SHA_CTX) <= 8, "Sha1::ctx_ too small for SHA_CTX");

namespace {
SHA_CTX* ctx(unsigned char* storage) noexcept {
  return std::launder(reinterpret_cast<SHA_CTX*>(storage));
}
}  // namespace

Sha1::Sha1() noexcept { SHA1_Init(new (ctx_) SHA_CTX); }

void Sha1::update(std::string_view data) noexcept { SHA1_Update(ctx(ctx_), data.data(), data.size()); }

Sha1Digest Sha1::finish() noexcept {
  Sha1Digest out;
  SHA1_Final(out.data(), ctx(ctx_));
  return out;
}

}  // namespace tornado::internal
