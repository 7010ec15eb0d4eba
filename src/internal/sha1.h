// SHA-1 for the digests the web layer makes per response (Tornado's ETag is the SHA-1 of the
// body) and, later, WebSocket's Sec-WebSocket-Accept. Not for security: nothing here relies
// on SHA-1's collision resistance.
//
// Through OpenSSL's low-level SHA1_* functions (deprecated in OpenSSL 3, still shipped): they
// call the assembly block function (SHA-NI where the CPU has it) directly. The EVP interface
// costs more in setup than hashing a short body (a provider context per init: 340 ns against
// 160 ns for "Hello, World!" on the development machine; a portable C version was 1,100 ns).
#pragma once

#include <array>
#include <string_view>

namespace tornado::internal {

using Sha1Digest = std::array<unsigned char, 20>;

class Sha1 {
 public:
  Sha1() noexcept;
  void update(std::string_view data) noexcept;
  Sha1Digest finish() noexcept;  // the object must not be used again afterwards

 private:
  // OpenSSL's SHA_CTX (96 bytes), kept opaque so that its header stays out of ours.
  alignas(8) unsigned char ctx_[96];
};

inline Sha1Digest sha1(std::string_view data) noexcept {
  Sha1 h;
  h.update(data);
  return h.finish();
}

}  // namespace tornado::internal
