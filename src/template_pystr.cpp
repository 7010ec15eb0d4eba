// Python's text forms of values, byte for byte: str() (what {{ }} prints), repr() (items of a
// printed list or dict), float repr (shortest round trip, fixed between 1e-4 and 1e16) and
// json.dumps (Tornado's json_encode); equality and ordering across Python's types.
#include <charconv>
#include <cmath>
#include <string>

#include "internal/template_eval.h"
#include "internal/unicode_nonprintable.h"

namespace tornado::templates::detail {
namespace {

// Decodes one UTF-8 code point at s[i]; returns its length, or 0 for an invalid byte.
std::size_t decode_utf8(std::string_view s, std::size_t i, char32_t& cp) {
  unsigned char c = s[i];
  if (c < 0x80) {
    cp = c;
    return 1;
  }
  std::size_t n = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
  if (n == 0 || i + n > s.size()) return 0;
  cp = c & (0x7F >> n);
  for (std::size_t k = 1; k < n; ++k) {
    unsigned char cc = s[i + k];
    if ((cc & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (cc & 0x3F);
  }
  return n;
}

void append_hex(std::string& out, std::uint32_t v, int digits) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (int i = digits - 1; i >= 0; --i) out += kHex[(v >> (i * 4)) & 0xF];
}

void repr_string(std::string& out, std::string_view s) {
  char quote =
      s.find('\'') != std::string_view::npos && s.find('"') == std::string_view::npos ? '"' : '\'';
  out += quote;
  for (std::size_t i = 0; i < s.size();) {
    char32_t cp = 0;
    std::size_t n = decode_utf8(s, i, cp);
    if (n == 0) {  // not UTF-8: shown as the byte (Python strings cannot hold one)
      out += "\\x";
      append_hex(out, static_cast<unsigned char>(s[i]), 2);
      ++i;
      continue;
    }
    if (cp == static_cast<char32_t>(quote) || cp == '\\') {
      out += '\\';
      out += static_cast<char>(cp);
    } else if (cp == '\t') {
      out += "\\t";
    } else if (cp == '\n') {
      out += "\\n";
    } else if (cp == '\r') {
      out += "\\r";
    } else if (is_printable(cp)) {
      out.append(s.substr(i, n));
    } else if (cp <= 0xFF) {
      out += "\\x";
      append_hex(out, cp, 2);
    } else if (cp <= 0xFFFF) {
      out += "\\u";
      append_hex(out, cp, 4);
    } else {
      out += "\\U";
      append_hex(out, cp, 8);
    }
    i += n;
  }
  out += quote;
}

void json_string(std::string& out, std::string_view s) {
  out += '"';
  for (std::size_t i = 0; i < s.size();) {
    char32_t cp = 0;
    std::size_t n = decode_utf8(s, i, cp);
    if (n == 0) {
      cp = 0xFFFD;
      n = 1;
    }
    i += n;
    switch (cp) {
      case '"':
        out += "\\\"";
        continue;
      case '\\':
        out += "\\\\";
        continue;
      case '\n':
        out += "\\n";
        continue;
      case '\r':
        out += "\\r";
        continue;
      case '\t':
        out += "\\t";
        continue;
      case '\b':
        out += "\\b";
        continue;
      case '\f':
        out += "\\f";
        continue;
      default:
        break;
    }
    if (cp >= 0x20 && cp < 0x7F) {
      out += static_cast<char>(cp);
    } else if (cp <= 0xFFFF) {
      out += "\\u";
      append_hex(out, cp, 4);
    } else {
      char32_t v = cp - 0x10000;
      out += "\\u";
      append_hex(out, 0xD800 + (v >> 10), 4);
      out += "\\u";
      append_hex(out, 0xDC00 + (v & 0x3FF), 4);
    }
  }
  out += '"';
}

void json_dump(std::string& out, const json& v) {
  switch (v.type()) {
    case json::value_t::object: {
      out += '{';
      bool first = true;
      for (const auto& [k, item] : v.items()) {
        if (!first) out += ", ";
        first = false;
        json_string(out, k);
        out += ": ";
        json_dump(out, item);
      }
      out += '}';
      return;
    }
    case json::value_t::array: {
      out += '[';
      for (std::size_t i = 0; i < v.size(); ++i) {
        if (i) out += ", ";
        json_dump(out, v[i]);
      }
      out += ']';
      return;
    }
    case json::value_t::string:
      json_string(out, v.get_ref<const std::string&>());
      return;
    case json::value_t::boolean:
      out += v.get<bool>() ? "true" : "false";
      return;
    case json::value_t::number_float: {
      double d = v.get<double>();
      if (std::isnan(d)) {
        out += "NaN";
      } else if (std::isinf(d)) {
        out += d > 0 ? "Infinity" : "-Infinity";
      } else {
        out += py_float_repr(d);
      }
      return;
    }
    case json::value_t::null:
    case json::value_t::discarded:
      out += "null";
      return;
    default:
      out += py_str(v);
      return;
  }
}

}  // namespace

std::string py_float_repr(double d) {
  if (std::isnan(d)) return "nan";
  if (std::isinf(d)) return d > 0 ? "inf" : "-inf";
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
  std::string_view sci(buf, res.ptr - buf);  // [-]d[.ddd]e[+-]XX
  std::string out;
  if (sci.front() == '-') {
    out += '-';
    sci.remove_prefix(1);
  }
  std::size_t e = sci.find('e');
  std::string digits;
  for (char c : sci.substr(0, e))
    if (c != '.') digits += c;
  int exp = std::stoi(std::string(sci.substr(e + 1)));
  if (exp >= -4 && exp < 16) {
    if (exp < 0) {
      out += "0.";
      out.append(static_cast<std::size_t>(-exp - 1), '0');
      out += digits;
    } else if (static_cast<std::size_t>(exp) + 1 >= digits.size()) {
      out += digits;
      out.append(exp + 1 - digits.size(), '0');
      out += ".0";
    } else {
      out += digits.substr(0, exp + 1);
      out += '.';
      out += digits.substr(exp + 1);
    }
    return out;
  }
  out += digits[0];
  if (digits.size() > 1) {
    out += '.';
    out += digits.substr(1);
  }
  out += 'e';
  out += exp < 0 ? '-' : '+';
  std::string e_digits = std::to_string(exp < 0 ? -exp : exp);
  if (e_digits.size() < 2) out += '0';
  out += e_digits;
  return out;
}

std::string_view type_name(const json& v) {
  switch (v.type()) {
    case json::value_t::string:
      return "str";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
      return "int";
    case json::value_t::number_float:
      return "float";
    case json::value_t::boolean:
      return "bool";
    case json::value_t::array:
      return "list";
    case json::value_t::object:
      return "dict";
    case json::value_t::binary:
      return "bytes";
    default:
      return "NoneType";
  }
}

void py_repr_append(std::string& out, const json& v) {
  switch (v.type()) {
    case json::value_t::string:
      repr_string(out, v.get_ref<const std::string&>());
      return;
    case json::value_t::array:
      out += '[';
      for (std::size_t i = 0; i < v.size(); ++i) {
        if (i) out += ", ";
        py_repr_append(out, v[i]);
      }
      out += ']';
      return;
    case json::value_t::object: {
      out += '{';
      bool first = true;
      for (const auto& [k, item] : v.items()) {
        if (!first) out += ", ";
        first = false;
        repr_string(out, k);
        out += ": ";
        py_repr_append(out, item);
      }
      out += '}';
      return;
    }
    case json::value_t::boolean:
      out += v.get<bool>() ? "True" : "False";
      return;
    case json::value_t::number_integer:
      out += std::to_string(v.get<std::int64_t>());
      return;
    case json::value_t::number_unsigned:
      out += std::to_string(v.get<std::uint64_t>());
      return;
    case json::value_t::number_float:
      out += py_float_repr(v.get<double>());
      return;
    case json::value_t::binary:
      out += "b''";
      return;
    default:
      out += "None";
      return;
  }
}

std::string py_repr(const json& v) {
  std::string out;
  py_repr_append(out, v);
  return out;
}

std::string py_str(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  return py_repr(v);
}

std::string py_json_dumps(const json& v) {
  std::string out;
  json_dump(out, v);
  return out;
}

bool is_number(const json& v) { return v.is_number() || v.is_boolean(); }

double as_double(const json& v) {
  if (v.is_boolean()) return v.get<bool>() ? 1.0 : 0.0;
  return v.get<double>();
}

namespace {
// Exact comparison of two Python ints (bools included): -1, 0, 1.
int compare_ints(const json& a, const json& b) {
  auto sign_and_mag = [](const json& v, bool& neg) -> std::uint64_t {
    if (v.is_boolean()) {
      neg = false;
      return v.get<bool>();
    }
    if (v.is_number_unsigned()) {
      neg = false;
      return v.get<std::uint64_t>();
    }
    std::int64_t i = v.get<std::int64_t>();
    neg = i < 0;
    return neg ? static_cast<std::uint64_t>(-(i + 1)) + 1 : static_cast<std::uint64_t>(i);
  };
  bool na = false, nb = false;
  std::uint64_t ma = sign_and_mag(a, na), mb = sign_and_mag(b, nb);
  if (na != nb) return na ? -1 : 1;
  if (ma == mb) return 0;
  return (ma < mb) != na ? -1 : 1;
}
}  // namespace

bool py_equal(const json& a, const json& b) {
  if (is_number(a) && is_number(b)) {
    if (is_int(a) && is_int(b)) return compare_ints(a, b) == 0;
    return as_double(a) == as_double(b);
  }
  if (a.type() != b.type()) return false;
  switch (a.type()) {
    case json::value_t::array:
      if (a.size() != b.size()) return false;
      for (std::size_t i = 0; i < a.size(); ++i)
        if (!py_equal(a[i], b[i])) return false;
      return true;
    case json::value_t::object: {
      if (a.size() != b.size()) return false;
      for (const auto& [k, item] : a.items()) {
        auto it = b.find(k);
        if (it == b.end() || !py_equal(item, *it)) return false;
      }
      return true;
    }
    default:
      return a == b;
  }
}

int py_compare(const json& a, const json& b, std::string_view op) {
  if (is_number(a) && is_number(b)) {
    if (is_int(a) && is_int(b)) return compare_ints(a, b);
    double x = as_double(a), y = as_double(b);
    if (std::isnan(x) || std::isnan(y)) return 2;  // unordered: every comparison is false
    return x < y ? -1 : x > y ? 1 : 0;
  }
  if (a.is_string() && b.is_string()) {
    int c = a.get_ref<const std::string&>().compare(b.get_ref<const std::string&>());
    return c < 0 ? -1 : c > 0 ? 1 : 0;
  }
  if (a.is_array() && b.is_array()) {
    for (std::size_t i = 0; i < a.size() && i < b.size(); ++i) {
      if (py_equal(a[i], b[i])) continue;
      return py_compare(a[i], b[i], op);
    }
    return a.size() < b.size() ? -1 : a.size() > b.size() ? 1 : 0;
  }
  raise("TypeError", "'" + std::string(op) + "' not supported between instances of '" +
                         std::string(type_name(a)) + "' and '" + std::string(type_name(b)) + "'");
}

std::size_t code_point_count(std::string_view s) {
  std::size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

std::vector<std::size_t> code_point_offsets(std::string_view s) {
  std::vector<std::size_t> offsets;
  offsets.reserve(s.size() + 1);
  for (std::size_t i = 0; i < s.size(); ++i)
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) offsets.push_back(i);
  offsets.push_back(s.size());
  return offsets;
}

}  // namespace tornado::templates::detail
