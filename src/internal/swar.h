// Eight bytes at a time in a 64-bit word ("SIMD within a register"): the scans that look
// for a few byte values in text (header values, escapes, JSON strings) test a word at once
// and look at single bytes only in a word that has one.
//
//   std::uint64_t w = swar::load(p);
//   if ((swar::below(w, 0x20) | swar::equal(w, 0x7f)) == 0) { /* no control byte, no DEL */ }
//
// Each mask is non-zero exactly when some byte matches; which bits are set may include
// bytes after a match (borrows), so only "any" is meaningful.
#pragma once

#include <cstdint>
#include <cstring>

namespace tornado::internal::swar {

inline constexpr std::uint64_t kOnes = 0x0101010101010101ULL;
inline constexpr std::uint64_t kHighs = 0x8080808080808080ULL;

inline std::uint64_t load(const char* p) noexcept {
  std::uint64_t w;
  std::memcpy(&w, p, 8);
  return w;
}

// Some byte is below `n` (n at most 0x80; bytes from 0x80 up are never below it).
constexpr std::uint64_t below(std::uint64_t w, unsigned char n) noexcept {
  return (w - kOnes * n) & ~w & kHighs;
}

// Some byte equals `c`.
constexpr std::uint64_t equal(std::uint64_t w, unsigned char c) noexcept {
  return below(w ^ (kOnes * c), 1);
}

// Some byte is 0x80 or above.
constexpr std::uint64_t non_ascii(std::uint64_t w) noexcept { return w & kHighs; }

}  // namespace tornado::internal::swar
