#include "tornado/escape.h"

#include <array>
#include <cstdint>
#include <cstring>
#include <nlohmann/json.hpp>
#include <stdexcept>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "internal/html_entities.h"
#include "internal/swar.h"
#include "internal/xhtml_escape.h"
#include "internal/utf8.h"

namespace tornado::escape {
namespace {

constexpr char kHexUpper[] = "0123456789ABCDEF";

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Bytes Python's quote() never escapes; quote() with safe='/' adds '/'.
constexpr std::array<bool, 256> make_unreserved() {
  std::array<bool, 256> t{};
  for (int c = '0'; c <= '9'; ++c) t[c] = true;
  for (int c = 'a'; c <= 'z'; ++c) t[c] = true;
  for (int c = 'A'; c <= 'Z'; ++c) t[c] = true;
  t['_'] = t['.'] = t['-'] = t['~'] = true;
  return t;
}
constexpr auto kUnreserved = make_unreserved();

// Characters allowed in a named character reference name (HTML5 / html.unescape).
bool is_reference_name_char(char c) noexcept {
  return c != '\t' && c != '\n' && c != '\f' && c != ' ' && c != '<' && c != '&' && c != '#' &&
         c != ';';
}

// Code points html.unescape drops from numeric references (HTML5's "parse errors" that
// produce nothing): C0/C1 controls other than TAB LF FF CR, noncharacters.
bool is_dropped_code_point(uint32_t cp) noexcept {
  if ((cp >= 0x1 && cp <= 0x8) || cp == 0xb || (cp >= 0xe && cp <= 0x1f)) return true;
  if (cp >= 0x7f && cp <= 0x9f) return true;
  if (cp >= 0xfdd0 && cp <= 0xfdef) return true;
  return (cp & 0xfffe) == 0xfffe;  // U+xFFFE and U+xFFFF on every plane
}

// Decodes one "&#..." reference at text[pos] (pos at '&'). Returns the bytes consumed, or
// 0 if there is no numeric reference here.
std::size_t decode_numeric(std::string_view text, std::size_t pos, std::string& out) {
  std::size_t i = pos + 2;  // past "&#"
  bool hex = i < text.size() && (text[i] == 'x' || text[i] == 'X');
  if (hex) ++i;
  std::size_t digits_start = i;
  uint64_t value = 0;
  while (i < text.size()) {
    int d = hex ? hex_value(text[i]) : (text[i] >= '0' && text[i] <= '9' ? text[i] - '0' : -1);
    if (d < 0) break;
    // Saturate: anything past U+10FFFF becomes U+FFFD either way.
    value = std::min<uint64_t>(value * (hex ? 16 : 10) + static_cast<uint64_t>(d), 0x7fffffff);
    ++i;
  }
  if (i == digits_start) return 0;
  if (i < text.size() && text[i] == ';') ++i;
  uint32_t cp = static_cast<uint32_t>(value);
  if (int32_t fixed = internal::numeric_replacement(cp); fixed >= 0) {
    internal::append_utf8(out, static_cast<uint32_t>(fixed));
  } else if ((cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff) {
    internal::append_utf8(out, 0xfffd);
  } else if (!is_dropped_code_point(cp)) {
    internal::append_utf8(out, cp);
  }
  return i - pos;
}

// Decodes one named reference at text[pos] (pos at '&'). Returns the bytes consumed, or 0
// if nothing that looks like a name follows.
std::size_t decode_named(std::string_view text, std::size_t pos, std::string& out) {
  std::size_t start = pos + 1;
  std::size_t i = start;
  int code_points = 0;
  // Up to 32 characters (code points, as Python counts them) then an optional ';'.
  while (i < text.size() && is_reference_name_char(text[i])) {
    if (!internal::is_continuation_byte(text[i])) {
      if (code_points == 32) break;
      ++code_points;
    }
    ++i;
  }
  if (i == start) return 0;
  if (i < text.size() && text[i] == ';') ++i;
  std::string_view name = text.substr(start, i - start);
  if (const std::string_view* v = internal::find_named_entity(name)) {
    out.append(*v);
    return i - pos;
  }
  // The longest known prefix (only the legacy names work without ';'), as HTML5 does.
  for (std::size_t len = name.size() - 1; len >= 2; --len) {
    if (const std::string_view* v = internal::find_named_entity(name.substr(0, len))) {
      out.append(*v).append(name.substr(len));
      return i - pos;
    }
  }
  out.push_back('&');
  out.append(name);
  return i - pos;
}

}  // namespace

std::string xhtml_escape(std::string_view value) {
  std::string out;
  out.reserve(value.size() + value.size() / 8);
  internal::append_xhtml_escaped(out, value);
  return out;
}

std::string xhtml_unescape(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  std::size_t i = 0;
  while (i < value.size()) {
    std::size_t amp = value.find('&', i);
    if (amp == std::string_view::npos) {
      out.append(value.substr(i));
      break;
    }
    out.append(value.substr(i, amp - i));
    std::size_t used = 0;
    if (amp + 1 < value.size() && value[amp + 1] == '#') {
      used = decode_numeric(value, amp, out);
    } else {
      used = decode_named(value, amp, out);
    }
    if (used == 0) {
      out.push_back('&');
      used = 1;
    }
    i = amp + used;
  }
  return out;
}

std::string url_escape(std::string_view value, bool plus) {
  std::string out;
  out.reserve(value.size() + value.size() / 4);
  for (char c : value) {
    unsigned char b = static_cast<unsigned char>(c);
    if (kUnreserved[b] || (!plus && c == '/')) {
      out.push_back(c);
    } else if (plus && c == ' ') {
      out.push_back('+');
    } else {
      out.push_back('%');
      out.push_back(kHexUpper[b >> 4]);
      out.push_back(kHexUpper[b & 0xf]);
    }
  }
  return out;
}

std::string url_unescape(std::string_view value, bool plus) {
  std::string out;
  out.reserve(value.size());
  for (std::size_t i = 0; i < value.size(); ++i) {
    char c = value[i];
    if (c == '%' && i + 2 < value.size() && hex_value(value[i + 1]) >= 0 &&
        hex_value(value[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hex_value(value[i + 1]) * 16 + hex_value(value[i + 2])));
      i += 2;
    } else if (plus && c == '+') {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

namespace {

// The deepest nesting of arrays and objects in JSON text (brackets inside strings do not
// count), stopping as soon as it passes `limit`: one linear pass, no recursion.
bool nesting_exceeds(std::string_view text, std::size_t limit) {
  std::size_t depth = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;  // the escaped character cannot end the string
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > limit) return true;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return false;
}

}  // namespace

nlohmann::json json_decode(std::string_view text, std::size_t max_depth) {
  if (nesting_exceeds(text, max_depth)) {
    throw std::invalid_argument("json_decode: arrays/objects nested too deep (limit " +
                                std::to_string(max_depth) + ")");
  }
  try {
    return nlohmann::json::parse(text.begin(), text.end());
  } catch (const nlohmann::json::exception& e) {
    throw std::invalid_argument(std::string("json_decode: ") + e.what());
  }
}

std::string squeeze(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  bool in_space = false;
  for (char c : value) {
    if (static_cast<unsigned char>(c) <= 0x20) {
      in_space = true;
      continue;
    }
    if (in_space && !out.empty()) out.push_back(' ');
    in_space = false;
    out.push_back(c);
  }
  return out;
}

std::string base64_encode(std::string_view data, bool urlsafe) {
  const char* alphabet = urlsafe
                             ? "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
                             : "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((data.size() + 2) / 3 * 4);
  std::size_t i = 0;
  auto byte = [&](std::size_t k) {
    return static_cast<uint32_t>(static_cast<unsigned char>(data[k]));
  };
  for (; i + 3 <= data.size(); i += 3) {
    uint32_t n = byte(i) << 16 | byte(i + 1) << 8 | byte(i + 2);
    out.push_back(alphabet[n >> 18 & 63]);
    out.push_back(alphabet[n >> 12 & 63]);
    out.push_back(alphabet[n >> 6 & 63]);
    out.push_back(alphabet[n & 63]);
  }
  if (std::size_t rest = data.size() - i; rest > 0) {
    uint32_t n = byte(i) << 16 | (rest == 2 ? byte(i + 1) << 8 : 0);
    out.push_back(alphabet[n >> 18 & 63]);
    out.push_back(alphabet[n >> 12 & 63]);
    out.push_back(rest == 2 ? alphabet[n >> 6 & 63] : '=');
    out.push_back('=');
  }
  return out;
}

std::string base64_decode(std::string_view text, bool urlsafe) {
  auto value = [urlsafe](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == (urlsafe ? '-' : '+')) return 62;
    if (c == (urlsafe ? '_' : '/')) return 63;
    return -1;
  };
  // Padding is optional, but when present it must be at the end and complete the quantum.
  std::size_t end = text.size();
  std::size_t pad = 0;
  while (end > 0 && text[end - 1] == '=' && pad < 2) {
    --end;
    ++pad;
  }
  if (pad > 0 && text.size() % 4 != 0) {
    throw std::invalid_argument("base64_decode: incorrect padding");
  }
  if (end % 4 == 1) throw std::invalid_argument("base64_decode: invalid length");
  std::string out;
  out.reserve(end / 4 * 3 + 2);
  uint32_t acc = 0;
  int bits = 0;
  for (std::size_t i = 0; i < end; ++i) {
    int v = value(text[i]);
    if (v < 0) throw std::invalid_argument("base64_decode: invalid character in input");
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  return out;
}

}  // namespace tornado::escape

namespace tornado::internal {

void append_xhtml_escaped(std::string& out, std::string_view value) {
  const char* p = value.data();
  const char* const end = p + value.size();
  const char* run = p;  // the start of the bytes not yet appended
  while (p < end) {
#if defined(__SSE2__)
    // Sixteen bytes at a time where SSE2 is (every x86-64): a rendered page's text is mostly
    // runs with nothing to escape.
    if (end - p >= 16) {
      const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
      const __m128i hits = _mm_or_si128(
          _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('&')), _mm_cmpeq_epi8(v, _mm_set1_epi8('<'))),
          _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('>')),
                                    _mm_cmpeq_epi8(v, _mm_set1_epi8('"'))),
                       _mm_cmpeq_epi8(v, _mm_set1_epi8('\''))));
      if (_mm_movemask_epi8(hits) == 0) {
        p += 16;
        continue;
      }
    }
#endif
    if (end - p >= 8) {
      const uint64_t w = swar::load(p);
      if ((swar::equal(w, '&') | swar::equal(w, '<') | swar::equal(w, '>') | swar::equal(w, '"') |
           swar::equal(w, '\'')) == 0) {
        p += 8;
        continue;
      }
    }
    const char* const stop = end - p >= 8 ? p + 8 : end;
    for (; p < stop; ++p) {
      std::string_view entity;
      switch (*p) {
        case '&':
          entity = "&amp;";
          break;
        case '<':
          entity = "&lt;";
          break;
        case '>':
          entity = "&gt;";
          break;
        case '"':
          entity = "&quot;";
          break;
        case '\'':
          entity = "&#x27;";
          break;
        default:
          continue;
      }
      out.append(run, static_cast<std::size_t>(p - run));
      out.append(entity);
      run = p + 1;
    }
  }
  out.append(run, static_cast<std::size_t>(end - run));
}

}  // namespace tornado::internal
