// Copies of a few bytes without a call: a response head is assembled from pieces of 2 to
// 30 bytes (field names, values, the status line), and for those libc's memcpy costs more
// in its call and size dispatch (about 13 instructions) than the copy itself. Word-sized
// moves, the last one overlapping the one before it instead of a byte-by-byte tail.
//
//   p = internal::put_small(p, name);   // returns p + name.size()
#pragma once

#include <cstdint>
#include <cstring>
#include <string_view>

#include "tornado/hot.h"

namespace tornado::internal {

// Copies `n` bytes from `src` to `dst` (the two do not overlap); any size works, sizes
// from 33 up go to memcpy.
TORNADO_HOT inline void copy_small(char* dst, const char* src, std::size_t n) noexcept {
  if (n >= 8) {
    if (n > 32) {
      std::memcpy(dst, src, n);
      return;
    }
    std::uint64_t w;
    for (std::size_t i = 0; i + 8 < n; i += 8) {
      std::memcpy(&w, src + i, 8);
      std::memcpy(dst + i, &w, 8);
    }
    std::memcpy(&w, src + n - 8, 8);
    std::memcpy(dst + n - 8, &w, 8);
  } else if (n >= 4) {
    std::uint32_t a, b;
    std::memcpy(&a, src, 4);
    std::memcpy(&b, src + n - 4, 4);
    std::memcpy(dst, &a, 4);
    std::memcpy(dst + n - 4, &b, 4);
  } else if (n != 0) {
    // 1 to 3 bytes: first, middle and last (some are the same byte).
    const char first = src[0], middle = src[n / 2], last = src[n - 1];
    dst[0] = first;
    dst[n / 2] = middle;
    dst[n - 1] = last;
  }
}

// Copies `bytes` to `p` and returns the end of the copy. An empty view may be null.
inline char* put_small(char* p, std::string_view bytes) noexcept {
  copy_small(p, bytes.data(), bytes.size());
  return p + bytes.size();
}

// The first and the last sizeof(Word) bytes of a[0, n) and b[0, n) are equal (n >= that).
template <typename Word>
inline bool ends_equal(const char* a, const char* b, std::size_t n) noexcept {
  Word a_first, b_first, a_last, b_last;
  std::memcpy(&a_first, a, sizeof(Word));
  std::memcpy(&b_first, b, sizeof(Word));
  std::memcpy(&a_last, a + n - sizeof(Word), sizeof(Word));
  std::memcpy(&b_last, b + n - sizeof(Word), sizeof(Word));
  return ((a_first ^ b_first) | (a_last ^ b_last)) == 0;
}

// a[0, n) == b[0, n) without a call, the same way (a route's path, a short body): words
// overlapping at the ends, the middle of anything over 16 bytes by memcmp.
inline bool equal_small(const char* a, const char* b, std::size_t n) noexcept {
  if (n >= 8) {
    if (!ends_equal<std::uint64_t>(a, b, n)) return false;
    return n <= 16 || std::memcmp(a + 8, b + 8, n - 16) == 0;
  }
  if (n >= 4) return ends_equal<std::uint32_t>(a, b, n);
  for (std::size_t i = 0; i < n; ++i) {
    if (a[i] != b[i]) return false;
  }
  return true;
}

}  // namespace tornado::internal
