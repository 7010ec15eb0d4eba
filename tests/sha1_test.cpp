// internal::Sha1 against FIPS 180's examples and OpenSSL's EVP SHA-1 over every length around the
// block and padding boundaries, fed whole and in pieces.
#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <random>
#include <string>

#include "internal/hex.h"
#include "internal/sha1.h"

namespace sha1_test {

namespace {

using tornado::internal::hex_encode;
using tornado::internal::Sha1;
using tornado::internal::sha1;

std::string hex(const tornado::internal::Sha1Digest& d) {
  return hex_encode({reinterpret_cast<const char*>(d.data()), d.size()});
}

std::string openssl_sha1_hex(const std::string& data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EXPECT_EQ(EVP_Digest(data.data(), data.size(), md, &n, EVP_sha1(), nullptr), 1);
  return hex_encode({reinterpret_cast<const char*>(md), n});
}

TEST(Sha1Test, KnownAnswers) {
  EXPECT_EQ(hex(sha1("")), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
  EXPECT_EQ(hex(sha1("abc")), "a9993e364706816aba3e25717850c26c9cd0d89d");
  EXPECT_EQ(hex(sha1("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")),
            "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
  // Tornado's ETag of "Hello, World!" (hashlib.sha1(b"Hello, World!").hexdigest()).
  EXPECT_EQ(hex(sha1("Hello, World!")), "0a0a9f2a6772942557ab5355d76af442f8f65e01");
}

TEST(Sha1Test, MillionAs) {
  Sha1 h;
  const std::string thousand(1000, 'a');
  for (int i = 0; i < 1000; ++i) h.update(thousand);
  EXPECT_EQ(hex(h.finish()), "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
}

TEST(Sha1Test, EveryLengthUpTo300MatchesOpenSslWholeAndInPieces) {
  std::mt19937 rng(7);
  for (std::size_t len = 0; len <= 300; ++len) {
    std::string data(len, '\0');
    for (auto& c : data) c = static_cast<char>(rng());
    const std::string expected = openssl_sha1_hex(data);
    ASSERT_EQ(hex(sha1(data)), expected) << "length " << len;
    Sha1 pieces;
    std::size_t at = 0;
    while (at < len) {
      const std::size_t n = std::min<std::size_t>(len - at, 1 + rng() % 70);
      pieces.update(std::string_view(data).substr(at, n));
      at += n;
    }
    ASSERT_EQ(hex(pieces.finish()), expected) << "length " << len << " in pieces";
  }
}

}  // namespace

}  // namespace sha1_test
