// Signed values and XSRF tokens (web/signing.h, web/xsrf.h): Tornado's web_test.py
// SignedValueTest, SecureCookieV1Test and SecureCookieV2Test, and the XSRF token formats of
// XSRFTest, on the functions themselves (the handler-level checks live with web.h).
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <set>
#include <string>

#include "tornado/web/signing.h"
#include "tornado/web/xsrf.h"

namespace web_signing_test {

namespace {

using namespace tornado::web;

const CookieSecret kSecret = "It's a secret to everybody";
const CookieSecret kSecretDict =
    std::map<int, std::string>{{0, "asdfbasdf"}, {1, "12312312"}, {2, "2342342"}};
constexpr std::int64_t kPresent = 1300000000;
constexpr std::int64_t kPast = kPresent - 86400 * 32;
const std::string kSignatureV2 = "3d4e60b996ff9c5d5788e333a0cba6f238a22c6c0f94788870e1a9ecd482e152";

TEST(SignedValueTest, KnownValuesOfBothVersions) {
  std::string v1 = create_signed_value(kSecret, "key", "value", 1, kPresent);
  EXPECT_EQ(v1, "dmFsdWU=|1300000000|31c934969f53e48164c50768b40cbd7e2daaaa4f");
  std::string v2 = create_signed_value(kSecret, "key", "value", 2, kPresent);
  EXPECT_EQ(v2, "2|1:0|10:1300000000|3:key|8:dmFsdWU=|" + kSignatureV2);
  EXPECT_EQ(create_signed_value(kSecret, "key", "value").substr(0, 6), "2|1:0|")
      << "the default version is 2";
  EXPECT_EQ(decode_signed_value(kSecret, "key", v1, 31, kPresent, 1), "value");
  EXPECT_EQ(decode_signed_value(kSecret, "key", v2, 31, kPresent, 2), "value");
}

TEST(SignedValueTest, NameSwapIsRejected) {
  std::string signed1 = create_signed_value(kSecret, "key1", "value", 2, kPresent);
  std::string signed2 = create_signed_value(kSecret, "key2", "value", 2, kPresent);
  EXPECT_EQ(decode_signed_value(kSecret, "key2", signed1, 31, kPresent), std::nullopt);
  EXPECT_EQ(decode_signed_value(kSecret, "key1", signed2, 31, kPresent), std::nullopt);
}

TEST(SignedValueTest, ExpiredValueIsRejected) {
  for (int version : {1, 2}) {
    std::string value = create_signed_value(kSecret, "key1", "value", version, kPast);
    EXPECT_EQ(decode_signed_value(kSecret, "key1", value, 31, kPast), "value");
    EXPECT_EQ(decode_signed_value(kSecret, "key1", value, 31, kPresent), std::nullopt);
    // max_age_days is a float of days, as in Tornado.
    EXPECT_EQ(decode_signed_value(kSecret, "key1", value, 32.5, kPresent), "value");
    EXPECT_EQ(decode_signed_value(kSecret, "key1", value, 31.9, kPresent), std::nullopt);
  }
}

TEST(SignedValueTest, PayloadTamperingIsRejected) {
  auto validate = [](const std::string& prefix) {
    return decode_signed_value(kSecret, "key", prefix + kSignatureV2, 31, kPresent) == "value";
  };
  EXPECT_TRUE(validate("2|1:0|10:1300000000|3:key|8:dmFsdWU=|"));
  EXPECT_FALSE(validate("2|1:1|10:1300000000|3:key|8:dmFsdWU=|"));   // key version changed
  EXPECT_FALSE(validate("2|1:0|10:130000000|3:key|8:dmFsdWU=|"));    // field too short
  EXPECT_FALSE(validate("2|1:0|10:1300000000|3:keey|8:dmFsdWU=|"));  // field too long
}

TEST(SignedValueTest, SignatureTamperingIsRejected) {
  auto validate = [](const std::string& sig) {
    return decode_signed_value(kSecret, "key", "2|1:0|10:1300000000|3:key|8:dmFsdWU=|" + sig, 31,
                               kPresent) == "value";
  };
  EXPECT_TRUE(validate(kSignatureV2));
  EXPECT_FALSE(validate(std::string(32, '0')));
  EXPECT_FALSE(validate("4" + kSignatureV2.substr(1)));      // first character
  EXPECT_FALSE(validate(kSignatureV2.substr(0, 63) + "3"));  // last character
  EXPECT_FALSE(validate(kSignatureV2.substr(0, 63)));        // truncated
  EXPECT_FALSE(validate(kSignatureV2 + "8"));                // lengthened
  EXPECT_FALSE(validate(""));                                // no signature
}

TEST(SignedValueTest, NonAsciiAndArbitraryBytesRoundTrip) {
  const std::string values[] = {"\xe9", std::string("\0\xff|:\n", 5), ""};
  for (const std::string& value : values) {
    for (int version : {1, 2}) {
      std::string signed_value = create_signed_value(kSecret, "key", value, version, kPresent);
      EXPECT_EQ(decode_signed_value(kSecret, "key", signed_value, 31, kPresent), value);
    }
  }
}

TEST(SignedValueTest, KeyVersioningReadWriteDefaultKey) {
  std::string value = create_signed_value(kSecretDict, "key", "\xe9", 2, kPresent, 0);
  EXPECT_EQ(decode_signed_value(kSecretDict, "key", value, 31, kPresent), "\xe9");
}

TEST(SignedValueTest, KeyVersioningReadWriteNonDefaultKey) {
  std::string value = create_signed_value(kSecretDict, "key", "\xe9", 2, kPresent, 1);
  EXPECT_EQ(value.substr(0, 6), "2|1:1|");
  EXPECT_EQ(decode_signed_value(kSecretDict, "key", value, 31, kPresent), "\xe9");
}

TEST(SignedValueTest, KeyVersioningInvalidKey) {
  std::string value = create_signed_value(kSecretDict, "key", "\xe9", 2, kPresent, 0);
  auto keys = kSecretDict.versions();
  keys.erase(0);
  EXPECT_EQ(decode_signed_value(keys, "key", value, 31, kPresent), std::nullopt);
}

TEST(SignedValueTest, KeyVersionRetrieval) {
  std::string value = create_signed_value(kSecretDict, "key", "\xe9", 2, kPresent, 1);
  EXPECT_EQ(get_signature_key_version(value), 1);
  EXPECT_EQ(get_signature_key_version(create_signed_value(kSecret, "key", "v", 2, kPresent)), 0);
  EXPECT_EQ(get_signature_key_version(create_signed_value(kSecret, "key", "v", 1, kPresent)),
            std::nullopt);
  EXPECT_EQ(get_signature_key_version("2|1:x|"), std::nullopt);
}

TEST(SignedValueTest, SingleSecretWithKeyVersionWritesTheVersionField) {
  // Tornado writes key_version even with one secret; reading ignores it then.
  std::string value = create_signed_value(kSecret, "key", "value", 2, kPresent, 7);
  EXPECT_EQ(value.substr(0, 6), "2|1:7|");
  EXPECT_EQ(decode_signed_value(kSecret, "key", value, 31, kPresent), "value");
}

TEST(SignedValueTest, MinVersionTwoRejectsVersionOne) {
  std::string v1 = create_signed_value(kSecret, "key", "value", 1, kPresent);
  EXPECT_EQ(decode_signed_value(kSecret, "key", v1, 31, kPresent, 1), "value");
  EXPECT_EQ(decode_signed_value(kSecret, "key", v1, 31, kPresent, 2), std::nullopt);
  EXPECT_THROW(decode_signed_value(kSecret, "key", v1, 31, kPresent, 3), std::invalid_argument);
}

// Vectors from Python Tornado 6.2. Signing with a key, then with the empty key, checks that
// the cached HMAC context is re-keyed (OpenSSL keeps the old key when given none).
TEST(SignedValueTest, EmptySecretSignsAsPythonAfterAnotherKey) {
  create_signed_value(kSecret, "n", "v", 2, kPresent);
  create_signed_value(kSecret, "n", "v", 1, kPresent);
  EXPECT_EQ(create_signed_value("", "n", "v", 2, kPresent),
            "2|1:0|10:1300000000|1:n|4:dg==|"
            "55849556b2ac54951ff86cd6acc0523f7348b518911aa0e0cfa16b2ec4ae84fa");
  EXPECT_EQ(create_signed_value("", "n", "v", 1, kPresent),
            "dg==|1300000000|055d1cb2761fc02393eaf282a302cce98498d448");
}

TEST(SignedValueTest, WrongSecretIsRejected) {
  for (int version : {1, 2}) {
    std::string value = create_signed_value(kSecret, "key", "value", version, kPresent);
    EXPECT_EQ(decode_signed_value("another secret", "key", value, 31, kPresent), std::nullopt);
  }
}

// SecureCookieV1Test.test_cookie_tampering_future_timestamp: v1 signs no delimiter between
// payload and timestamp, so digits can move from one to the other; the future check stops it.
TEST(SignedValueTest, V1DigitsShiftedIntoTheTimestampAreRejected) {
  const CookieSecret secret = "0123456789";
  const std::string payload("\xd7\x6d\xf8\xe7\xae\xfc", 6);  // base64 "12345678"
  std::string value = create_signed_value(secret, "foo", payload, 1, kPresent);
  ASSERT_EQ(value.substr(0, 20), "12345678|1300000000|");
  std::string sig = value.substr(20);
  std::string tampered = "1234|56781300000000|" + sig;
  EXPECT_EQ(decode_signed_value(secret, "foo", tampered, 31, kPresent), std::nullopt);
  // The same signature with a leading zero on the timestamp is refused too.
  std::string zero = create_signed_value(secret, "foo", "x", 1, kPresent);
  EXPECT_EQ(decode_signed_value(secret, "foo", zero, 31, kPresent), "x");
}

TEST(SignedValueTest, V1TimestampFarInTheFutureIsRejected) {
  std::string value = create_signed_value(kSecret, "key", "value", 1, kPresent + 32 * 86400);
  EXPECT_EQ(decode_signed_value(kSecret, "key", value, 31, kPresent), std::nullopt);
  std::string v2 = create_signed_value(kSecret, "key", "value", 2, kPresent + 32 * 86400);
  EXPECT_EQ(decode_signed_value(kSecret, "key", v2, 31, kPresent), "value")
      << "v2 signs its delimiters and has no future check, as in Tornado";
}

TEST(SignedValueTest, VersionedSecretReadsNoVersionOneValue) {
  std::string v1 = create_signed_value("asdfbasdf", "key", "value", 1, kPresent);
  EXPECT_EQ(decode_signed_value(kSecretDict, "key", v1, 31, kPresent), std::nullopt);
}

TEST(SignedValueTest, CreateRefusesWhatTornadoRefuses) {
  EXPECT_THROW(create_signed_value(kSecret, "key", "v", 3, kPresent), std::invalid_argument);
  EXPECT_THROW(create_signed_value(kSecretDict, "key", "v", 1, kPresent, 0), std::invalid_argument);
  EXPECT_THROW(create_signed_value(kSecretDict, "key", "v", 2, kPresent), std::invalid_argument);
  EXPECT_THROW(create_signed_value(kSecretDict, "key", "v", 2, kPresent, 9), std::invalid_argument);
}

TEST(SignedValueTest, MalformedValuesGiveNullopt) {
  const char* bad[] = {"",
                       "|",
                       "||",
                       "a|b|c|d",
                       "dmFsdWU=|1300000000",
                       "2|",
                       "2|1:0",
                       "2|1:0|",
                       "2|x:0|10:1300000000|3:key|8:dmFsdWU=|",
                       "2|99999999999999999999:0|",
                       "2|-1:0|10:1300000000|3:key|8:dmFsdWU=|",
                       "2|1:0|10:1300000000|3:key|8:dmFsdWU=",
                       "3|1:0|10:1300000000|3:key|8:dmFsdWU=|abc",
                       "999|x",
                       "1000|x|y"};
  for (const char* value : bad) {
    EXPECT_EQ(decode_signed_value(kSecret, "key", value, 31, kPresent), std::nullopt) << value;
    EXPECT_EQ(decode_signed_value(kSecretDict, "key", value, 31, kPresent), std::nullopt) << value;
  }
}

// Signs `to_sign` the v2 way with kSecret, for values no encoder would produce.
std::string sign_v2_by_hand(const std::string& to_sign) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  const std::string& key = kSecret.single();
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(to_sign.data()), to_sign.size(), mac, &len);
  std::string hex;
  for (unsigned i = 0; i < len; ++i) hex += fmt::format("{:02x}", mac[i]);
  return to_sign + hex;
}

TEST(SignedValueTest, CorrectlySignedButUndecodableFieldsGiveNullopt) {
  // Python raises ValueError on the timestamp and returns None on the base64; both nullopt.
  EXPECT_EQ(
      decode_signed_value(kSecret, "key", sign_v2_by_hand("2|1:0|10:13000000x0|3:key|8:dmFsdWU=|"),
                          31, kPresent),
      std::nullopt);
  EXPECT_EQ(
      decode_signed_value(kSecret, "key", sign_v2_by_hand("2|1:0|10:1300000000|3:key|8:dm*sdWU=|"),
                          31, kPresent),
      std::nullopt);
  EXPECT_EQ(
      decode_signed_value(kSecret, "key", sign_v2_by_hand("2|1:0|10:1300000000|3:key|8:dmFsdWU=|"),
                          31, kPresent),
      "value")
      << "the hand signer agrees with the library";
}

// ---- XSRF tokens ----

TEST(XsrfTokenTest, V2RoundTripsWithAFreshMaskEveryTime) {
  std::string raw = generate_xsrf_token();
  ASSERT_EQ(raw.size(), 16u);
  std::set<std::string> texts;
  for (int i = 0; i < 20; ++i) {
    std::string text = encode_xsrf_token(raw, 1700000000);
    ASSERT_EQ(text.size(), 2 + 8 + 1 + 32 + 1 + 10);
    EXPECT_EQ(text.substr(0, 2), "2|");
    EXPECT_EQ(text.substr(text.size() - 11), "|1700000000");
    texts.insert(text);
    auto decoded = decode_xsrf_token(text);
    ASSERT_TRUE(decoded);
    EXPECT_EQ(decoded->version, 2);
    EXPECT_EQ(decoded->token, raw);
    EXPECT_EQ(decoded->timestamp, 1700000000);
  }
  EXPECT_GT(texts.size(), 15u) << "each encoding draws a new mask (BREACH)";
}

TEST(XsrfTokenTest, KnownV2Token) {
  // mask 01020304 over token 00112233 4455 → 01132137 4557.
  auto decoded = decode_xsrf_token("2|01020304|011321374557|1300000000");
  ASSERT_TRUE(decoded);
  EXPECT_EQ(decoded->token, std::string("\x00\x11\x22\x33\x44\x55", 6));
  EXPECT_EQ(decoded->timestamp, 1300000000);
  // Upper-case hex is accepted, as binascii.a2b_hex does.
  EXPECT_EQ(decode_xsrf_token("2|0A020304|0B|1")->token, "\x01");
}

TEST(XsrfTokenTest, V1HexTokenDecodesToItsBytes) {
  auto decoded = decode_xsrf_token("00112233");
  ASSERT_TRUE(decoded);
  EXPECT_EQ(decoded->version, 1);
  EXPECT_EQ(decoded->token, std::string("\x00\x11\x22\x33", 4));
  EXPECT_GT(decoded->timestamp, 1600000000) << "v1 has no timestamp: now is used";
  EXPECT_EQ(encode_xsrf_token_v1(decoded->token), "00112233");
}

TEST(XsrfTokenTest, ShortAndNonHexV1TokensAreTheirBytes) {
  // XSRFTest.test_xsrf_success_short_token / non_hex_token.
  EXPECT_EQ(decode_xsrf_token("a")->token, "a");
  EXPECT_EQ(decode_xsrf_token("xoxo")->token, "xoxo");
}

TEST(XsrfTokenTest, UndecodableTokensGiveNullopt) {
  const char* bad[] = {"",
                       "3|01020304|0011|1",    // unknown version
                       "2|01020304|0011",      // three fields
                       "2|01020304|0011|1|5",  // five fields
                       "2|010203|0011|1",      // 3-byte mask
                       "2|0102030405|0011|1",  // 5-byte mask
                       "2|0102030x|0011|1",    // bad hex mask
                       "2|01020304|001|1",     // odd hex
                       "2|01020304|0011|",     // no timestamp
                       "2|01020304|0011|12a",  // bad timestamp
                       "2|01020304||1"};       // empty token
  for (const char* text : bad) EXPECT_EQ(decode_xsrf_token(text), std::nullopt) << text;
}

TEST(XsrfTokenTest, ConstantTimeEqualComparesBytes) {
  EXPECT_TRUE(constant_time_equal("", ""));
  EXPECT_TRUE(constant_time_equal(std::string("a\0b", 3), std::string("a\0b", 3)));
  EXPECT_FALSE(constant_time_equal(std::string("a\0b", 3), std::string("a\0c", 3)));
  EXPECT_FALSE(constant_time_equal("abc", "abcd"));
  EXPECT_FALSE(constant_time_equal("abc", ""));
}

}  // namespace

}  // namespace web_signing_test
