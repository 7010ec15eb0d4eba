// Methods templates call on values: str (upper, lower, strip, split, join, replace,
// startswith, endswith, find, count, format, ...), dict (items, keys, values, get) and list
// (index, count). Case mapping and the is*() tests are ASCII-only (docs/template.md).
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>

#include "internal/template_eval.h"

namespace tornado::templates::detail {
namespace {

void method_arity(const Args& a, std::string_view name, std::size_t min, std::size_t max) {
  if (!a.keywords.empty()) raise("TypeError", std::string(name) + "() takes no keyword arguments");
  std::size_t n = a.positional.size();
  if (n < min || n > max)
    raise("TypeError", std::string(name) + "() takes " +
                           (min == max ? std::to_string(min) : "at most " + std::to_string(max)) +
                           " arguments (" + std::to_string(n) + " given)");
}
const std::string& str_arg(const Value& v, std::string_view name) {
  if (!v->is_string())
    raise("TypeError",
          std::string(name) + "() argument must be str, not " + std::string(type_name(*v)));
  return v->get_ref<const std::string&>();
}
std::int64_t int_arg(const Value& v) {
  if (!v->is_number_integer() && !v->is_boolean())
    raise("TypeError",
          "'" + std::string(type_name(*v)) + "' object cannot be interpreted as an integer");
  return v->is_boolean() ? v->get<bool>() : v->get<std::int64_t>();
}
bool ascii_space(char c) {
  return c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1c && c <= 0x1f);
}

std::string strip(std::string_view s, const Value* chars, bool left, bool right) {
  auto drop = [&](char c) {
    if (!chars || (*chars)->is_null()) return ascii_space(c);
    return str_arg(*chars, "strip").find(c) != std::string::npos;
  };
  std::size_t b = 0, e = s.size();
  if (left)
    while (b < e && drop(s[b])) ++b;
  if (right)
    while (e > b && drop(s[e - 1])) --e;
  return std::string(s.substr(b, e - b));
}

json split(const std::string& s, const Value* sep_v, std::int64_t maxsplit, Ctx& ctx) {
  json out = json::array();
  if (!sep_v || (*sep_v)->is_null()) {
    std::size_t i = 0;
    while (true) {
      while (i < s.size() && ascii_space(s[i])) ++i;
      if (i >= s.size()) break;
      if (maxsplit >= 0 && static_cast<std::int64_t>(out.size()) == maxsplit) {
        std::size_t e = s.size();
        while (e > i && ascii_space(s[e - 1])) --e;
        out.push_back(s.substr(i, e - i));
        break;
      }
      std::size_t j = i;
      while (j < s.size() && !ascii_space(s[j])) ++j;
      out.push_back(s.substr(i, j - i));
      i = j;
    }
    return out;
  }
  const std::string& sep = str_arg(*sep_v, "split");
  if (sep.empty()) raise("ValueError", "empty separator");
  std::size_t start = 0;
  while (true) {
    std::size_t at = s.find(sep, start);
    if (at == std::string::npos ||
        (maxsplit >= 0 && static_cast<std::int64_t>(out.size()) == maxsplit))
      break;
    out.push_back(s.substr(start, at - start));
    ctx.check_length(out.size());
    start = at + sep.size();
  }
  out.push_back(s.substr(start));
  return out;
}

bool affix_match(const std::string& s, const Value& affix, bool prefix, std::string_view name) {
  auto one = [&](const json& a) {
    if (!a.is_string())
      raise("TypeError", std::string(name) + " first arg must be str or a tuple of str, not " +
                             std::string(type_name(a)));
    const auto& x = a.get_ref<const std::string&>();
    return prefix ? s.starts_with(x) : s.ends_with(x);
  };
  if (affix->is_array()) return std::any_of(affix->begin(), affix->end(), one);
  return one(*affix);
}

// str.format with {} / {0} / {name} / {name.attr} / {0[key]} fields; a format spec other than
// empty is refused (docs/template.md).
std::string format(const std::string& fmt, const Args& a) {
  std::string out;
  std::size_t auto_index = 0;
  for (std::size_t i = 0; i < fmt.size(); ++i) {
    char c = fmt[i];
    if (c == '}') {
      if (i + 1 < fmt.size() && fmt[i + 1] == '}') {
        out += '}';
        ++i;
        continue;
      }
      raise("ValueError", "Single '}' encountered in format string");
    }
    if (c != '{') {
      out += c;
      continue;
    }
    if (i + 1 < fmt.size() && fmt[i + 1] == '{') {
      out += '{';
      ++i;
      continue;
    }
    std::size_t close = fmt.find('}', i);
    if (close == std::string::npos) raise("ValueError", "Single '{' encountered in format string");
    std::string field = fmt.substr(i + 1, close - i - 1);
    i = close;
    bool repr = false;
    if (auto bang = field.find('!'); bang != std::string::npos) {
      repr = field.substr(bang) == "!r";
      if (!repr && field.substr(bang) != "!s")
        raise("ValueError", "unsupported conversion in format string");
      field.resize(bang);
    }
    if (field.find(':') != std::string::npos)
      raise("ValueError", "format specs are not supported in templates");
    std::size_t name_end = std::min(field.find('.'), field.find('['));
    std::string head = field.substr(0, name_end);
    const Value* v = nullptr;
    if (head.empty()) {
      if (auto_index >= a.positional.size())
        raise("IndexError", "Replacement index " + std::to_string(auto_index) +
                                " out of range for positional args tuple");
      v = &a.positional[auto_index++];
    } else if (std::all_of(head.begin(), head.end(),
                           [](char ch) { return std::isdigit(static_cast<unsigned char>(ch)); })) {
      std::size_t k = std::stoul(head);
      if (k >= a.positional.size())
        raise("IndexError",
              "Replacement index " + head + " out of range for positional args tuple");
      v = &a.positional[k];
    } else {
      v = a.keyword(head);
      if (!v) raise("KeyError", "'" + head + "'");
    }
    const json* cur = v->ptr;
    std::string rest = name_end == std::string::npos ? "" : field.substr(name_end);
    while (!rest.empty()) {
      std::string key;
      if (rest[0] == '.') {
        std::size_t e = std::min(rest.find('.', 1), rest.find('[', 1));
        key = rest.substr(1, e == std::string::npos ? std::string::npos : e - 1);
        rest = e == std::string::npos ? "" : rest.substr(e);
        if (!cur->is_object() || !cur->contains(key))
          raise("AttributeError",
                "'" + std::string(type_name(*cur)) + "' object has no attribute '" + key + "'");
        cur = &(*cur)[key];
      } else {
        std::size_t e = rest.find(']');
        if (e == std::string::npos) raise("ValueError", "Missing ']' in format string");
        key = rest.substr(1, e - 1);
        rest = rest.substr(e + 1);
        if (cur->is_array() && !key.empty() && std::all_of(key.begin(), key.end(), ::isdigit)) {
          std::size_t k = std::stoul(key);
          if (k >= cur->size()) raise("IndexError", "list index out of range");
          cur = &(*cur)[k];
        } else if (cur->is_object() && cur->contains(key)) {
          cur = &(*cur)[key];
        } else {
          raise("KeyError", "'" + key + "'");
        }
      }
    }
    out += repr ? py_repr(*cur) : py_str(*cur);
  }
  return out;
}

Value string_method(const Value& self, std::string_view name, Args& a, Ctx& ctx) {
  const std::string& s = self->get_ref<const std::string&>();
  auto map_chars = [&](auto f) {
    std::string out = s;
    for (char& c : out) c = static_cast<char>(f(static_cast<unsigned char>(c)));
    return Value::own(std::move(out));
  };
  auto test_all = [&](auto pred) {
    method_arity(a, name, 0, 0);
    bool ok = !s.empty() && std::all_of(s.begin(), s.end(), [&](char c) {
      return pred(static_cast<unsigned char>(c)) != 0;
    });
    return Value::own(ok);
  };
  if (name == "upper") return method_arity(a, name, 0, 0), map_chars(::toupper);
  if (name == "lower") return method_arity(a, name, 0, 0), map_chars(::tolower);
  if (name == "strip" || name == "lstrip" || name == "rstrip") {
    method_arity(a, name, 0, 1);
    const Value* chars = a.positional.empty() ? nullptr : &a.positional[0];
    return Value::own(strip(s, chars, name != "rstrip", name != "lstrip"));
  }
  if (name == "split") {
    if (a.positional.size() > 2) raise("TypeError", "split() takes at most 2 arguments");
    const Value* sep = a.positional.size() > 0 ? &a.positional[0] : a.keyword("sep");
    const Value* maxs = a.positional.size() > 1 ? &a.positional[1] : a.keyword("maxsplit");
    return Value::own(split(s, sep, maxs ? int_arg(*maxs) : -1, ctx));
  }
  if (name == "splitlines") {
    method_arity(a, name, 0, 0);
    json out = json::array();
    std::size_t start = 0;
    for (std::size_t i = 0; i < s.size(); ++i) {
      if (s[i] == '\n' || s[i] == '\r') {
        out.push_back(s.substr(start, i - start));
        if (s[i] == '\r' && i + 1 < s.size() && s[i + 1] == '\n') ++i;
        start = i + 1;
      }
    }
    if (start < s.size()) out.push_back(s.substr(start));
    return Value::own(std::move(out));
  }
  if (name == "join") {
    method_arity(a, name, 1, 1);
    std::string out;
    bool first = true;
    for (const Value& item : iterate(a.positional[0], ctx)) {
      if (!item->is_string())
        raise("TypeError",
              "sequence item: expected str instance, " + std::string(type_name(*item)) + " found");
      if (!first) out += s;
      first = false;
      out += item->get_ref<const std::string&>();
      ctx.check_length(out.size());
    }
    return Value::own(std::move(out));
  }
  if (name == "replace") {
    method_arity(a, name, 2, 3);
    const std::string& from = str_arg(a.positional[0], name);
    const std::string& to = str_arg(a.positional[1], name);
    std::int64_t count = a.positional.size() > 2 ? int_arg(a.positional[2]) : -1;
    std::string out;
    std::size_t pos = 0;
    std::int64_t done = 0;
    if (from.empty()) {  // Python inserts `to` between characters
      auto offsets = code_point_offsets(s);
      for (std::size_t i = 0; i + 1 < offsets.size() + 1; ++i) {
        if (count < 0 || done < count) {
          out += to;
          ++done;
        }
        if (i + 1 < offsets.size()) out.append(s, offsets[i], offsets[i + 1] - offsets[i]);
        ctx.check_length(out.size());
      }
      return Value::own(std::move(out));
    }
    while (count < 0 || done < count) {
      std::size_t at = s.find(from, pos);
      if (at == std::string::npos) break;
      out.append(s, pos, at - pos);
      out += to;
      ctx.check_length(out.size());
      pos = at + from.size();
      ++done;
    }
    out.append(s, pos);
    return Value::own(std::move(out));
  }
  if (name == "startswith" || name == "endswith") {
    method_arity(a, name, 1, 1);
    return Value::own(affix_match(s, a.positional[0], name == "startswith", name));
  }
  if (name == "find" || name == "count" || name == "index") {
    method_arity(a, name, 1, 1);
    const std::string& sub = str_arg(a.positional[0], name);
    if (name == "count") {
      if (sub.empty()) return Value::own(static_cast<std::int64_t>(code_point_count(s) + 1));
      std::int64_t n = 0;
      for (std::size_t p = s.find(sub); p != std::string::npos; p = s.find(sub, p + sub.size()))
        ++n;
      return Value::own(n);
    }
    std::size_t at = s.find(sub);
    if (at == std::string::npos) {
      if (name == "index") raise("ValueError", "substring not found");
      return Value::own(-1);
    }
    return Value::own(
        static_cast<std::int64_t>(code_point_count(std::string_view(s).substr(0, at))));
  }
  if (name == "capitalize" || name == "title") {
    method_arity(a, name, 0, 0);
    std::string out = s;
    bool start = true;
    for (char& c : out) {
      unsigned char u = c;
      if (name == "capitalize") {
        c = static_cast<char>(start ? std::toupper(u) : std::tolower(u));
        start = false;
      } else {
        c = static_cast<char>(start ? std::toupper(u) : std::tolower(u));
        start = !std::isalpha(u);
      }
    }
    return Value::own(std::move(out));
  }
  if (name == "isdigit") return test_all(::isdigit);
  if (name == "isalpha") return test_all(::isalpha);
  if (name == "isalnum") return test_all(::isalnum);
  if (name == "isspace")
    return test_all([](unsigned char c) { return ascii_space(static_cast<char>(c)); });
  if (name == "isupper" || name == "islower") {
    method_arity(a, name, 0, 0);
    bool cased = false, ok = true;
    for (unsigned char c : s) {
      if (std::isalpha(c)) {
        cased = true;
        ok &= name == "isupper" ? std::isupper(c) != 0 : std::islower(c) != 0;
      }
    }
    return Value::own(cased && ok);
  }
  if (name == "zfill" || name == "ljust" || name == "rjust" || name == "center") {
    method_arity(a, name, 1, name == "zfill" ? 1 : 2);
    std::int64_t width = int_arg(a.positional[0]);
    std::string fill = a.positional.size() > 1 ? str_arg(a.positional[1], name) : std::string(" ");
    if (code_point_count(fill) != 1)
      raise("TypeError", "The fill character must be exactly one character long");
    std::int64_t len = static_cast<std::int64_t>(code_point_count(s));
    if (width <= len) return self;
    ctx.check_length(static_cast<std::size_t>(width));
    std::int64_t pad = width - len;
    auto repeat = [&](std::int64_t n, const std::string& f) {
      std::string r;
      for (std::int64_t i = 0; i < n; ++i) r += f;
      return r;
    };
    if (name == "zfill") {
      bool sign = !s.empty() && (s[0] == '-' || s[0] == '+');
      return Value::own((sign ? s.substr(0, 1) : "") + repeat(pad, "0") + s.substr(sign ? 1 : 0));
    }
    if (name == "ljust") return Value::own(s + repeat(pad, fill));
    if (name == "rjust") return Value::own(repeat(pad, fill) + s);
    std::int64_t left = pad / 2 + (pad & width & 1);
    return Value::own(repeat(left, fill) + s + repeat(pad - left, fill));
  }
  if (name == "format") return Value::own(format(s, a));
  raise("AttributeError", "'str' object has no attribute '" + std::string(name) + "'");
}

}  // namespace

namespace {

// A %-format's width or precision (digits only): Python's "width too big" past INT_MAX, and
// the template's max_sequence_length bound, so a pad is never allocated past it.
std::size_t format_count(std::string_view digits, const char* what, Ctx& ctx) {
  std::size_t n = 0;
  for (char c : digits) {
    n = n * 10 + static_cast<std::size_t>(c - '0');
    if (n > 2147483647u) raise("ValueError", std::string(what) + " too big");
  }
  ctx.check_length(n);
  return n;
}

// snprintf into a string of the size it needs (a width may pass any fixed buffer).
template <typename T>
std::string c_format(const std::string& spec, T value) {
  const int n = std::snprintf(nullptr, 0, spec.c_str(), value);
  if (n < 0) raise("ValueError", "invalid format " + spec);
  std::string out(static_cast<std::size_t>(n) + 1, '\0');
  std::snprintf(out.data(), out.size(), spec.c_str(), value);
  out.resize(static_cast<std::size_t>(n));
  return out;
}

}  // namespace

json percent_format(const std::string& fmt, const json& args, bool args_is_tuple, Ctx& ctx) {
  std::vector<const json*> positional;
  if (args_is_tuple) {
    for (const auto& a : args) positional.push_back(&a);
  } else {
    positional.push_back(&args);
  }
  std::size_t next = 0;
  bool used_mapping = false;
  std::string out;
  for (std::size_t i = 0; i < fmt.size(); ++i) {
    if (fmt[i] != '%') {
      out += fmt[i];
      continue;
    }
    if (++i >= fmt.size()) raise("ValueError", "incomplete format");
    const json* value = nullptr;
    if (fmt[i] == '(') {
      std::size_t close = fmt.find(')', i);
      if (close == std::string::npos) raise("ValueError", "incomplete format key");
      if (args_is_tuple || !args.is_object()) raise("TypeError", "format requires a mapping");
      std::string key = fmt.substr(i + 1, close - i - 1);
      auto it = args.find(key);
      if (it == args.end()) raise("KeyError", py_repr(json(key)));
      value = &*it;
      used_mapping = true;
      i = close + 1;
    }
    std::string spec = "%";
    // (strchr would find a NUL byte: it matches the terminator.)
    while (i < fmt.size() && std::string_view("-+ 0#").find(fmt[i]) != std::string_view::npos) {
      spec += fmt[i++];
    }
    const std::size_t width_at = i;
    while (i < fmt.size() && std::isdigit(static_cast<unsigned char>(fmt[i]))) spec += fmt[i++];
    std::size_t width =
        format_count(std::string_view(fmt).substr(width_at, i - width_at), "width", ctx);
    std::size_t prec = std::string::npos;
    if (i < fmt.size() && fmt[i] == '.') {
      spec += fmt[i++];
      const std::size_t prec_at = i;
      while (i < fmt.size() && std::isdigit(static_cast<unsigned char>(fmt[i]))) spec += fmt[i++];
      prec = format_count(std::string_view(fmt).substr(prec_at, i - prec_at), "precision", ctx);
    }
    if (i >= fmt.size()) raise("ValueError", "incomplete format");
    char conv = fmt[i];
    if (conv == '%') {
      out += '%';
      continue;
    }
    if (!value) {
      if (next >= positional.size()) raise("TypeError", "not enough arguments for format string");
      value = positional[next++];
    }
    if (conv == 's' || conv == 'r') {
      std::string text = conv == 's' ? py_str(*value) : py_repr(*value);
      // Width and precision count code points, as Python does.
      const bool left = spec.find('-') != std::string::npos;
      if (prec != std::string::npos && code_point_count(text) > prec)
        text = text.substr(0, code_point_offsets(text)[prec]);
      std::size_t len = code_point_count(text);
      std::string pad(width > len ? width - len : 0, ' ');
      out += left ? text + pad : pad + text;
    } else if (conv != '\0' && std::strchr("dixXo", conv)) {
      if (!is_number(*value))
        raise("TypeError", std::string("%") + conv + " format: a real number is required, not " +
                               std::string(type_name(*value)));
      long long n = value->is_number_float()
                        ? static_cast<long long>(std::trunc(value->get<double>()))
                        : static_cast<long long>(as_double(*value));
      if (value->is_number_integer()) n = value->get<std::int64_t>();
      out += c_format(spec + "ll" + (conv == 'i' ? 'd' : conv), n);
    } else if (conv != '\0' && std::strchr("eEfFgG", conv)) {
      if (!is_number(*value))
        raise("TypeError", "must be real number, not " + std::string(type_name(*value)));
      out += c_format(spec + conv, as_double(*value));
    } else {
      // As Python words it: the character when printable, else '?', and its code.
      const auto code = static_cast<unsigned char>(conv);
      char hex[8];
      std::snprintf(hex, sizeof hex, "0x%x", code);
      raise("ValueError", std::string("unsupported format character '") +
                              (code >= 0x20 && code < 0x7f ? conv : '?') + "' (" + hex +
                              ") at index " + std::to_string(i));
    }
    ctx.check_length(out.size());
  }
  if (!used_mapping && next < positional.size() && !(positional.size() == 1 && args.is_object()))
    raise("TypeError", "not all arguments converted during string formatting");
  return out;
}

Value call_method(const Value& self, std::string_view name, Args& a, Ctx& ctx) {
  const json& v = *self;
  if (v.is_string()) return string_method(self, name, a, ctx);
  if (v.is_object()) {
    if (name == "items" || name == "keys" || name == "values") {
      method_arity(a, name, 0, 0);
      json out = json::array();
      for (const auto& [k, item] : v.items()) {
        if (name == "items") {
          out.push_back(json::array({k, item}));
        } else if (name == "keys") {
          out.push_back(k);
        } else {
          out.push_back(item);
        }
      }
      return Value::own(std::move(out));
    }
    if (name == "get") {
      method_arity(a, name, 1, 2);
      const json& key = *a.positional[0];
      if (key.is_string()) {
        auto it = v.find(key.get_ref<const std::string&>());
        if (it != v.end()) return self.part(*it);
      }
      return a.positional.size() > 1 ? a.positional[1] : Value::own(nullptr);
    }
    if (v.contains(name))
      raise("TypeError",
            "'" + std::string(type_name(v[std::string(name)])) + "' object is not callable");
  }
  if (v.is_array() && (name == "index" || name == "count")) {
    method_arity(a, name, 1, 1);
    std::int64_t n = 0;
    for (std::size_t i = 0; i < v.size(); ++i) {
      if (!py_equal(v[i], *a.positional[0])) continue;
      if (name == "index") return Value::own(static_cast<std::int64_t>(i));
      ++n;
    }
    if (name == "index") raise("ValueError", py_repr(*a.positional[0]) + " is not in list");
    return Value::own(n);
  }
  raise("AttributeError",
        "'" + std::string(type_name(v)) + "' object has no attribute '" + std::string(name) + "'");
}

}  // namespace tornado::templates::detail
