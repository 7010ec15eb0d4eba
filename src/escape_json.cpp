// escape: json_encode / json_encode_to — Python's json.dumps(value) with ensure_ascii and
// compact separators, then "</" written as "<\/" (Tornado's json_encode).
//
// Objects, arrays, strings, integers, booleans and null are written here, straight into the
// caller's string; floats (and binary values) through nlohmann's serializer, whose shortest
// round-trip form the project's interop tests compare with Python's. Writing strings here
// is most of the gain: nlohmann's escaper decodes every byte through its UTF-8 automaton,
// this one copies runs of plain ASCII eight bytes at a time.
#include <charconv>
#include <cstdint>
#include <cstring>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>

#include "internal/swar.h"
#include "tornado/escape.h"
#include "tornado/hot.h"

namespace tornado::escape {
namespace {

// nlohmann's serializer writes through an output adapter; this one appends to the string
// being built.
class AppendToString final : public nlohmann::detail::output_adapter_protocol<char> {
 public:
  explicit AppendToString(std::string& out) : out_(out) {}
  void write_character(char c) override { out_.push_back(c); }
  void write_characters(const char* s, std::size_t n) override { out_.append(s, n); }

 private:
  std::string& out_;
};

// Bytes that a JSON string needs written otherwise: controls and DEL (\u00XX, as Python
// writes them), '"', '\\', '/' (escaped after '<'), and non-ASCII (\uXXXX: ensure_ascii).
bool is_plain(unsigned char c) noexcept {
  return c >= 0x20 && c < 0x7f && c != '"' && c != '\\' && c != '/';
}

// True if none of the eight bytes needs care (see is_plain).
bool word_is_plain(std::uint64_t w) noexcept {
  using namespace internal;
  return (swar::below(w, 0x20) | swar::non_ascii(w) | swar::equal(w, '"') | swar::equal(w, '\\') |
          swar::equal(w, '/') | swar::equal(w, 0x7f)) == 0;
}

constexpr char kHex[] = "0123456789abcdef";

void append_u_escape(std::string& out, uint32_t unit) {
  const char text[6] = {'\\', 'u', kHex[(unit >> 12) & 0xf], kHex[(unit >> 8) & 0xf],
                        kHex[(unit >> 4) & 0xf], kHex[unit & 0xf]};
  out.append(text, 6);
}

[[noreturn]] void invalid_utf8(std::size_t at, unsigned char byte) {
  throw std::invalid_argument("json_encode: invalid UTF-8 byte at index " + std::to_string(at) +
                              ": 0x" + std::string{kHex[byte >> 4], kHex[byte & 0xf]});
}

// The code point of the UTF-8 sequence at s[i] (RFC 3629: no overlong forms, no surrogates,
// nothing past U+10FFFF); advances i past it. Throws std::invalid_argument otherwise.
uint32_t decode_utf8(std::string_view s, std::size_t& i) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  std::size_t length;
  uint32_t cp, min;
  if (b0 >= 0xc2 && b0 <= 0xdf) {
    length = 2, cp = b0 & 0x1f, min = 0x80;
  } else if (b0 >= 0xe0 && b0 <= 0xef) {
    length = 3, cp = b0 & 0x0f, min = 0x800;
  } else if (b0 >= 0xf0 && b0 <= 0xf4) {
    length = 4, cp = b0 & 0x07, min = 0x10000;
  } else {
    invalid_utf8(i, b0);
  }
  for (std::size_t k = 1; k < length; ++k) {
    if (i + k >= s.size()) invalid_utf8(i + k - 1, static_cast<unsigned char>(s[i + k - 1]));
    const auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xc0) != 0x80) invalid_utf8(i + k, b);
    cp = (cp << 6) | (b & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) invalid_utf8(i, b0);
  i += length;
  return cp;
}

TORNADO_HOT void write_string(std::string& out, std::string_view s) {
  out.push_back('"');
  std::size_t run = 0, i = 0;
  while (i < s.size()) {
    if (i + 8 <= s.size()) {
      if (word_is_plain(internal::swar::load(s.data() + i))) {
        i += 8;
        continue;
      }
    }
    const auto c = static_cast<unsigned char>(s[i]);
    if (is_plain(c) || (c == '/' && (i == 0 || s[i - 1] != '<'))) {
      ++i;
      continue;
    }
    out.append(s.data() + run, i - run);
    if (c >= 0x80) {
      const uint32_t cp = decode_utf8(s, i);
      if (cp < 0x10000) {
        append_u_escape(out, cp);
      } else {  // a surrogate pair, as Python writes one
        append_u_escape(out, 0xd800 + ((cp - 0x10000) >> 10));
        append_u_escape(out, 0xdc00 + ((cp - 0x10000) & 0x3ff));
      }
      run = i;
      continue;
    }
    switch (c) {
      case '"': out.append("\\\""); break;
      case '\\': out.append("\\\\"); break;
      case '/': out.append("\\/"); break;  // after '<': "<\/" (Tornado's json_encode)
      case '\b': out.append("\\b"); break;
      case '\f': out.append("\\f"); break;
      case '\n': out.append("\\n"); break;
      case '\r': out.append("\\r"); break;
      case '\t': out.append("\\t"); break;
      default: append_u_escape(out, c); break;
    }
    run = ++i;
  }
  out.append(s.data() + run, s.size() - run);
  out.push_back('"');
}

class Writer {
 public:
  Writer(std::string& out, std::size_t max_depth)
      : out_(out), adapter_(out), max_depth_(max_depth), depth_left_(max_depth) {}

  void write(const nlohmann::json& v) {
    using T = nlohmann::json::value_t;
    switch (v.type()) {
      case T::object: {
        enter();
        out_.push_back('{');
        bool first = true;
        for (const auto& [key, value] : v.get_ref<const nlohmann::json::object_t&>()) {
          if (!first) out_.push_back(',');
          first = false;
          write_string(out_, key);
          out_.push_back(':');
          write(value);
        }
        out_.push_back('}');
        ++depth_left_;
        return;
      }
      case T::array: {
        enter();
        out_.push_back('[');
        bool first = true;
        for (const auto& value : v.get_ref<const nlohmann::json::array_t&>()) {
          if (!first) out_.push_back(',');
          first = false;
          write(value);
        }
        out_.push_back(']');
        ++depth_left_;
        return;
      }
      case T::string: write_string(out_, v.get_ref<const std::string&>()); return;
      case T::boolean: out_.append(v.get<bool>() ? "true" : "false"); return;
      case T::null: out_.append("null"); return;
      case T::number_integer: append_integer(v.get<std::int64_t>()); return;
      case T::number_unsigned: append_integer(v.get<std::uint64_t>()); return;
      default: serializer().dump(v, false, true, 0); return;  // floats, binary, discarded
    }
  }

 private:
  // One more level of arrays/objects: the recursion is bounded (no RAII needed to leave a
  // level on an exception: the whole write is abandoned).
  void enter() {
    if (depth_left_ == 0) {
      throw std::invalid_argument("json_encode: arrays/objects nested too deep (limit " +
                                  std::to_string(max_depth_) + ")");
    }
    --depth_left_;
  }

  template <typename Int>
  void append_integer(Int n) {
    char digits[24];
    const auto end = std::to_chars(digits, digits + sizeof digits, n).ptr;
    out_.append(digits, static_cast<std::size_t>(end - digits));
  }

  // Made on first use: its constructor reads the locale.
  nlohmann::detail::serializer<nlohmann::json>& serializer() {
    if (!serializer_) {
      // A shared_ptr that owns nothing (the aliasing constructor): no control block.
      serializer_.emplace(nlohmann::detail::output_adapter_t<char>(std::shared_ptr<void>(), &adapter_), ' ');
    }
    return *serializer_;
  }

  std::string& out_;
  AppendToString adapter_;
  std::optional<nlohmann::detail::serializer<nlohmann::json>> serializer_;
  std::size_t max_depth_;
  std::size_t depth_left_;  // levels still allowed below the current one
};

}  // namespace

TORNADO_HOT void json_encode_to(std::string& out, const nlohmann::json& value,
                                std::size_t max_depth) {
  const std::size_t start = out.size();
  try {
    Writer(out, max_depth).write(value);
  } catch (const nlohmann::json::exception& e) {
    out.resize(start);
    throw std::invalid_argument(std::string("json_encode: ") + e.what());
  } catch (...) {
    out.resize(start);
    throw;
  }
}

std::string json_encode(const nlohmann::json& value, std::size_t max_depth) {
  std::string out;
  json_encode_to(out, value, max_depth);
  return out;
}

}  // namespace tornado::escape
