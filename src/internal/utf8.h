// Small UTF-8 helpers for code that must count or cut text the way Python counts str
// characters (code points), while the data stays bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace tornado::internal {

inline bool is_continuation_byte(char c) noexcept {
  return (static_cast<unsigned char>(c) & 0xc0) == 0x80;
}

// Appends `cp` (at most U+10FFFF) as UTF-8.
inline void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xc0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xe0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  } else {
    out.push_back(static_cast<char>(0xf0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  }
}

// Number of code points (bytes that do not continue a sequence).
inline std::size_t code_point_count(std::string_view s) noexcept {
  std::size_t n = 0;
  for (char c : s) n += is_continuation_byte(c) ? 0 : 1;
  return n;
}

// Byte length of the first `n` code points of `s` (all of s if it has fewer).
inline std::size_t code_point_prefix(std::string_view s, std::size_t n) noexcept {
  std::size_t i = 0;
  while (i < s.size()) {
    if (!is_continuation_byte(s[i])) {
      if (n == 0) break;
      --n;
    }
    ++i;
  }
  return i;
}

}  // namespace tornado::internal
