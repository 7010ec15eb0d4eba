// Functions callable from templates: Tornado's template namespace (escape, xhtml_escape,
// url_escape, json_encode, squeeze, linkify), the Python built-ins templates use (len, range,
// str, int, float, bool, sorted, enumerate, zip, min, max, abs, round, list, dict, sum, any,
// all, reversed, repr) and user Functions, which shadow the built-ins.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <string>

#include "internal/template_eval.h"
#include "tornado/escape.h"

namespace tornado::templates::detail {
namespace {

using Builtin = Value (*)(Args&, Ctx&);

void builtin_arity(const Args& a, std::string_view name, std::size_t min, std::size_t max) {
  std::size_t n = a.positional.size();
  if (n < min || n > max) {
    std::string expected = min == max ? std::to_string(min)
                           : min + 1 == max
                               ? std::to_string(min) + " or " + std::to_string(max)
                               : "from " + std::to_string(min) + " to " + std::to_string(max);
    raise("TypeError", std::string(name) + "() takes " + expected + " positional arguments but " +
                           std::to_string(n) + " were given");
  }
}
void no_keywords(const Args& a, std::string_view name,
                 std::initializer_list<std::string_view> allowed = {}) {
  for (const auto& [k, v] : a.keywords)
    if (std::find(allowed.begin(), allowed.end(), k) == allowed.end())
      raise("TypeError", std::string(name) + "() got an unexpected keyword argument '" + k + "'");
}
// Positional argument i, or keyword `name`, or nullptr.
const Value* arg(const Args& a, std::size_t i, std::string_view name) {
  if (i < a.positional.size()) return &a.positional[i];
  return a.keyword(name);
}
const std::string& want_str(const Value& v, std::string_view fn) {
  if (!v->is_string())
    raise("TypeError",
          std::string(fn) + "() expects a str, not '" + std::string(type_name(*v)) + "'");
  return v->get_ref<const std::string&>();
}
std::int64_t want_int(const Value& v, std::string_view fn) {
  if (!is_int(*v) || (v->is_number_unsigned() && v->get<std::uint64_t>() > INT64_MAX))
    raise("TypeError", "'" + std::string(type_name(*v)) +
                           "' object cannot be interpreted as an integer (in " + std::string(fn) +
                           "())");
  return v->is_boolean() ? v->get<bool>() : v->get<std::int64_t>();
}

Value b_xhtml_escape(Args& a, Ctx&) {
  builtin_arity(a, "xhtml_escape", 1, 1);
  no_keywords(a, "xhtml_escape");
  return Value::own(escape::xhtml_escape(want_str(a.positional[0], "xhtml_escape")));
}
Value b_url_escape(Args& a, Ctx&) {
  builtin_arity(a, "url_escape", 1, 2);
  no_keywords(a, "url_escape", {"plus"});
  const Value* plus = arg(a, 1, "plus");
  return Value::own(
      escape::url_escape(want_str(a.positional[0], "url_escape"), plus ? truthy(**plus) : true));
}
Value b_json_encode(Args& a, Ctx&) {
  builtin_arity(a, "json_encode", 1, 1);
  no_keywords(a, "json_encode");
  std::string s = py_json_dumps(*a.positional[0]);
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '<' && i + 1 < s.size() && s[i + 1] == '/') {
      out += "<\\/";
      ++i;
    } else {
      out += s[i];
    }
  }
  return Value::own(std::move(out));
}
Value b_squeeze(Args& a, Ctx&) {
  builtin_arity(a, "squeeze", 1, 1);
  no_keywords(a, "squeeze");
  return Value::own(escape::squeeze(want_str(a.positional[0], "squeeze")));
}
Value b_linkify(Args& a, Ctx&) {
  builtin_arity(a, "linkify", 1, 5);
  no_keywords(a, "linkify", {"shorten", "extra_params", "require_protocol", "permitted_protocols"});
  escape::LinkifyOptions o;
  if (const Value* v = arg(a, 1, "shorten")) o.shorten = truthy(**v);
  if (const Value* v = arg(a, 2, "extra_params")) o.extra_params = want_str(*v, "linkify");
  if (const Value* v = arg(a, 3, "require_protocol")) o.require_protocol = truthy(**v);
  if (const Value* v = arg(a, 4, "permitted_protocols")) {
    if (!(*v)->is_array()) raise("TypeError", "linkify() permitted_protocols must be a list");
    o.permitted_protocols.clear();
    for (const auto& p : **v)
      o.permitted_protocols.push_back(p.is_string() ? p.get<std::string>() : py_str(p));
  }
  return Value::own(escape::linkify(want_str(a.positional[0], "linkify"), o));
}

Value b_len(Args& a, Ctx&) {
  builtin_arity(a, "len", 1, 1);
  no_keywords(a, "len");
  const json& v = *a.positional[0];
  if (v.is_string())
    return Value::own(static_cast<std::int64_t>(code_point_count(v.get_ref<const std::string&>())));
  if (v.is_array() || v.is_object()) return Value::own(static_cast<std::int64_t>(v.size()));
  raise("TypeError", "object of type '" + std::string(type_name(v)) + "' has no len()");
}
Value b_range(Args& a, Ctx& ctx) {
  builtin_arity(a, "range", 1, 3);
  no_keywords(a, "range");
  std::int64_t start = 0, stop = 0, step = 1;
  if (a.positional.size() == 1) {
    stop = want_int(a.positional[0], "range");
  } else {
    start = want_int(a.positional[0], "range");
    stop = want_int(a.positional[1], "range");
    if (a.positional.size() == 3) step = want_int(a.positional[2], "range");
  }
  if (step == 0) raise("ValueError", "range() arg 3 must not be zero");
  // Count in unsigned arithmetic: stop - start may not fit an int64.
  std::uint64_t count = 0;
  if (step > 0 && start < stop) count = (static_cast<std::uint64_t>(stop) - start - 1) / step + 1;
  if (step < 0 && start > stop)
    count = (static_cast<std::uint64_t>(start) - stop - 1) /
                (static_cast<std::uint64_t>(-(step + 1)) + 1) +
            1;
  ctx.check_length(count);
  json out = json::array();
  std::int64_t v = start;
  for (std::uint64_t i = 0; i < count; ++i, v += (i < count ? step : 0)) out.push_back(v);
  return Value::own(std::move(out));
}
Value b_str(Args& a, Ctx&) {
  builtin_arity(a, "str", 0, 1);
  no_keywords(a, "str");
  if (a.positional.empty()) return Value::own("");
  if (a.positional[0]->is_string()) return a.positional[0];
  return Value::own(py_str(*a.positional[0]));
}
Value b_repr(Args& a, Ctx&) {
  builtin_arity(a, "repr", 1, 1);
  no_keywords(a, "repr");
  return Value::own(py_repr(*a.positional[0]));
}
std::string_view strip_space(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}
Value b_int(Args& a, Ctx&) {
  builtin_arity(a, "int", 0, 2);
  no_keywords(a, "int", {"base"});
  if (a.positional.empty()) return Value::own(0);
  const json& v = *a.positional[0];
  const Value* base_v = arg(a, 1, "base");
  if (v.is_string()) {
    int base = base_v ? static_cast<int>(want_int(*base_v, "int")) : 10;
    std::string digits;
    for (char c : strip_space(v.get_ref<const std::string&>()))
      if (c != '_') digits += c;
    bool neg = !digits.empty() && digits[0] == '-';
    if (!digits.empty() && (digits[0] == '-' || digits[0] == '+')) digits.erase(0, 1);
    std::int64_t r = 0;
    auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), r,
                                   base < 2 || base > 36 ? 10 : base);
    if (digits.empty() || ec == std::errc::invalid_argument || p != digits.data() + digits.size())
      raise("ValueError",
            "invalid literal for int() with base " + std::to_string(base) + ": " + py_repr(v));
    if (ec == std::errc::result_out_of_range)
      raise("OverflowError", "integer overflow (template integers are 64-bit)");
    return Value::own(neg ? -r : r);
  }
  if (base_v) raise("TypeError", "int() can't convert non-string with explicit base");
  if (is_int(v))
    return v.is_boolean() ? Value::own(static_cast<std::int64_t>(v.get<bool>())) : a.positional[0];
  if (v.is_number_float()) {
    double d = v.get<double>();
    if (std::isnan(d)) raise("ValueError", "cannot convert float NaN to integer");
    if (std::isinf(d)) raise("OverflowError", "cannot convert float infinity to integer");
    if (std::fabs(d) >= 9.2e18)
      raise("OverflowError", "integer overflow (template integers are 64-bit)");
    return Value::own(static_cast<std::int64_t>(std::trunc(d)));
  }
  raise("TypeError",
        "int() argument must be a string, a bytes-like object or a real number, not '" +
            std::string(type_name(v)) + "'");
}
Value b_float(Args& a, Ctx&) {
  builtin_arity(a, "float", 0, 1);
  no_keywords(a, "float");
  if (a.positional.empty()) return Value::own(0.0);
  const json& v = *a.positional[0];
  if (is_number(v)) return Value::own(as_double(v));
  if (v.is_string()) {
    std::string s(strip_space(v.get_ref<const std::string&>()));
    std::string lower;
    for (char c : s) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string_view body = lower;
    bool neg = !body.empty() && body[0] == '-';
    if (!body.empty() && (body[0] == '-' || body[0] == '+')) body.remove_prefix(1);
    if (body == "inf" || body == "infinity") return Value::own(neg ? -HUGE_VAL : HUGE_VAL);
    if (body == "nan") return Value::own(std::nan(""));
    double d = 0;
    const char* first = s.data() + (!s.empty() && s[0] == '+' ? 1 : 0);
    auto [p, ec] = std::from_chars(first, s.data() + s.size(), d);
    if (s.empty() || p != s.data() + s.size() ||
        (ec != std::errc() && ec != std::errc::result_out_of_range))
      raise("ValueError", "could not convert string to float: " + py_repr(v));
    return Value::own(d);
  }
  raise("TypeError", "float() argument must be a string or a real number, not '" +
                         std::string(type_name(v)) + "'");
}
Value b_bool(Args& a, Ctx&) {
  builtin_arity(a, "bool", 0, 1);
  no_keywords(a, "bool");
  return Value::own(!a.positional.empty() && truthy(*a.positional[0]));
}
Value b_list(Args& a, Ctx& ctx) {
  builtin_arity(a, "list", 0, 1);
  no_keywords(a, "list");
  json out = json::array();
  if (!a.positional.empty())
    for (const Value& v : iterate(a.positional[0], ctx)) out.push_back(*v);
  return Value::own(std::move(out));
}
Value b_dict(Args& a, Ctx& ctx) {
  builtin_arity(a, "dict", 0, 1);
  json out = json::object();
  if (!a.positional.empty()) {
    if (a.positional[0]->is_object()) {
      out = *a.positional[0];
    } else {
      for (const Value& pair : iterate(a.positional[0], ctx)) {
        if (!pair->is_array() || pair->size() != 2)
          raise("ValueError", "dictionary update sequence element has wrong length (need 2)");
        if (!(*pair)[0].is_string())
          raise("TypeError", "dict keys must be strings in templates (JSON objects)");
        out[(*pair)[0].get<std::string>()] = (*pair)[1];
      }
    }
  }
  for (const auto& [k, v] : a.keywords) out[k] = *v;
  return Value::own(std::move(out));
}
Value b_sorted(Args& a, Ctx& ctx) {
  builtin_arity(a, "sorted", 1, 1);
  no_keywords(a, "sorted", {"reverse"});
  std::vector<Value> items = iterate(a.positional[0], ctx);
  std::stable_sort(items.begin(), items.end(),
                   [](const Value& x, const Value& y) { return py_compare(*x, *y, "<") == -1; });
  if (const Value* r = a.keyword("reverse"); r && truthy(**r)) {
    // Python keeps equal items in their original order when reversing.
    std::vector<Value> rev;
    for (std::size_t end = items.size(); end > 0;) {
      std::size_t start = end - 1;
      while (start > 0 && py_compare(*items[start - 1], *items[end - 1], "<") == 0) --start;
      for (std::size_t i = start; i < end; ++i) rev.push_back(items[i]);
      end = start;
    }
    items = std::move(rev);
  }
  json out = json::array();
  for (const Value& v : items) out.push_back(*v);
  return Value::own(std::move(out));
}
Value b_reversed(Args& a, Ctx& ctx) {
  builtin_arity(a, "reversed", 1, 1);
  no_keywords(a, "reversed");
  if (a.positional[0]->is_object())
    raise("TypeError", "'dict' object is not reversible in templates");
  std::vector<Value> items = iterate(a.positional[0], ctx);
  json out = json::array();
  for (auto it = items.rbegin(); it != items.rend(); ++it) out.push_back(**it);
  return Value::own(std::move(out));
}
Value b_enumerate(Args& a, Ctx& ctx) {
  builtin_arity(a, "enumerate", 1, 2);
  no_keywords(a, "enumerate", {"start"});
  const Value* s = arg(a, 1, "start");
  std::int64_t i = s ? want_int(*s, "enumerate") : 0;
  json out = json::array();
  for (const Value& v : iterate(a.positional[0], ctx)) out.push_back(json::array({i++, *v}));
  return Value::own(std::move(out));
}
Value b_zip(Args& a, Ctx& ctx) {
  no_keywords(a, "zip");
  std::vector<std::vector<Value>> lists;
  std::size_t n = a.positional.empty() ? 0 : SIZE_MAX;
  for (const Value& v : a.positional) {
    lists.push_back(iterate(v, ctx));
    n = std::min(n, lists.back().size());
  }
  json out = json::array();
  for (std::size_t i = 0; i < n; ++i) {
    json row = json::array();
    for (const auto& l : lists) row.push_back(*l[i]);
    out.push_back(std::move(row));
  }
  return Value::own(std::move(out));
}
Value min_max(Args& a, Ctx& ctx, std::string_view name, int want) {
  no_keywords(a, name, {"default"});
  if (a.positional.empty())
    raise("TypeError", std::string(name) + " expected at least 1 argument, got 0");
  std::vector<Value> items =
      a.positional.size() == 1 ? iterate(a.positional[0], ctx) : a.positional;
  if (items.empty()) {
    if (const Value* d = a.keyword("default")) return *d;
    raise("ValueError", std::string(name) + "() arg is an empty sequence");
  }
  Value best = items[0];
  for (std::size_t i = 1; i < items.size(); ++i)
    if (py_compare(*items[i], *best, want < 0 ? "<" : ">") == want) best = items[i];
  return best;
}
Value b_min(Args& a, Ctx& ctx) { return min_max(a, ctx, "min", -1); }
Value b_max(Args& a, Ctx& ctx) { return min_max(a, ctx, "max", 1); }
Value b_abs(Args& a, Ctx&) {
  builtin_arity(a, "abs", 1, 1);
  no_keywords(a, "abs");
  const json& v = *a.positional[0];
  if (is_int(v) && !(v.is_number_unsigned() && v.get<std::uint64_t>() > INT64_MAX)) {
    std::int64_t i = v.is_boolean() ? v.get<bool>() : v.get<std::int64_t>();
    if (i == INT64_MIN) raise("OverflowError", "integer overflow (template integers are 64-bit)");
    return Value::own(i < 0 ? -i : i);
  }
  if (v.is_number()) return Value::own(std::fabs(v.get<double>()));
  raise("TypeError", "bad operand type for abs(): '" + std::string(type_name(v)) + "'");
}
Value b_round(Args& a, Ctx&) {
  builtin_arity(a, "round", 1, 2);
  no_keywords(a, "round", {"ndigits"});
  const json& v = *a.positional[0];
  const Value* nd = arg(a, 1, "ndigits");
  bool has_nd = nd && !(*nd)->is_null();
  if (!is_number(v))
    raise("TypeError", "type " + std::string(type_name(v)) + " doesn't define __round__ method");
  if (is_int(v)) {
    if (!has_nd || want_int(*nd, "round") >= 0)
      return Value::own(v.is_boolean() ? static_cast<std::int64_t>(v.get<bool>())
                                       : v.get<std::int64_t>());
    std::int64_t p = 1;
    for (std::int64_t k = want_int(*nd, "round"); k < 0 && p < INT64_MAX / 10; ++k) p *= 10;
    std::int64_t x = v.get<std::int64_t>();
    double q = std::nearbyint(static_cast<double>(x) / p);  // half to even
    return Value::own(static_cast<std::int64_t>(q) * p);
  }
  double d = v.get<double>();
  if (!has_nd) {
    if (std::isnan(d)) raise("ValueError", "cannot convert float NaN to integer");
    if (std::isinf(d)) raise("OverflowError", "cannot convert float infinity to integer");
    if (std::fabs(d) >= 9.2e18)
      raise("OverflowError", "integer overflow (template integers are 64-bit)");
    return Value::own(static_cast<std::int64_t>(std::nearbyint(d)));
  }
  std::int64_t n = want_int(*nd, "round");
  if (!std::isfinite(d) || n > 300) return Value::own(d);
  if (n < -308) return Value::own(std::copysign(0.0, d));
  if (n < 0) {
    double p = std::pow(10.0, static_cast<double>(-n));
    return Value::own(std::nearbyint(d / p) * p);
  }
  // printf rounds the exact binary value half to even, as Python's round() does.
  char buf[512];
  std::snprintf(buf, sizeof buf, "%.*f", static_cast<int>(n), d);
  return Value::own(std::strtod(buf, nullptr));
}
Value b_sum(Args& a, Ctx& ctx) {
  builtin_arity(a, "sum", 1, 2);
  no_keywords(a, "sum", {"start"});
  const Value* s = arg(a, 1, "start");
  Value total = s ? *s : Value::own(0);
  if (total->is_string()) raise("TypeError", "sum() can't sum strings [use ''.join(seq) instead]");
  for (const Value& v : iterate(a.positional[0], ctx)) {
    total = Value::own(binary_op("+", *total, *v, ctx));
  }
  return total;
}
Value b_any(Args& a, Ctx& ctx) {
  builtin_arity(a, "any", 1, 1);
  for (const Value& v : iterate(a.positional[0], ctx))
    if (truthy(*v)) return Value::own(true);
  return Value::own(false);
}
Value b_all(Args& a, Ctx& ctx) {
  builtin_arity(a, "all", 1, 1);
  for (const Value& v : iterate(a.positional[0], ctx))
    if (!truthy(*v)) return Value::own(false);
  return Value::own(true);
}

struct Entry {
  std::string_view name;
  Builtin fn;
};
constexpr Entry kBuiltins[] = {
    {"abs", b_abs},
    {"all", b_all},
    {"any", b_any},
    {"bool", b_bool},
    {"dict", b_dict},
    {"enumerate", b_enumerate},
    {"escape", b_xhtml_escape},
    {"float", b_float},
    {"int", b_int},
    {"json_encode", b_json_encode},
    {"len", b_len},
    {"linkify", b_linkify},
    {"list", b_list},
    {"max", b_max},
    {"min", b_min},
    {"range", b_range},
    {"repr", b_repr},
    {"reversed", b_reversed},
    {"round", b_round},
    {"sorted", b_sorted},
    {"squeeze", b_squeeze},
    {"str", b_str},
    {"sum", b_sum},
    {"tuple", b_list},
    {"url_escape", b_url_escape},
    {"xhtml_escape", b_xhtml_escape},
    {"zip", b_zip},
};

Builtin find_builtin(std::string_view name) {
  for (const auto& e : kBuiltins)
    if (e.name == name) return e.fn;
  return nullptr;
}

}  // namespace

bool is_builtin(std::string_view name) { return find_builtin(name) != nullptr; }

bool call_builtin(std::string_view name, Args& args, Ctx& ctx, Value& out) {
  Builtin fn = find_builtin(name);
  if (!fn) return false;
  out = fn(args, ctx);
  return true;
}

const Function* find_own_function(std::string_view name, const Ctx& ctx) {
  auto it = ctx.functions.find(name);
  if (it != ctx.functions.end()) return &it->second;
  return ctx.defaults ? ctx.defaults->function(name) : nullptr;
}

const json* find_value(std::string_view name, const Ctx& ctx) {
  if (ctx.values.is_object()) {
    auto it = ctx.values.find(name);
    if (it != ctx.values.end()) return &*it;
  }
  return ctx.defaults ? ctx.defaults->value(name) : nullptr;
}

bool has_function(std::string_view name, const Ctx& ctx) {
  return has_own_function(name, ctx) || is_builtin(name);
}

Value call_function(std::string_view name, Args& args, Ctx& ctx) {
  if (const Function* fn = find_own_function(name, ctx)) {
    std::vector<json> positional;
    positional.reserve(args.positional.size());
    for (const Value& v : args.positional) positional.push_back(*v);
    json kwargs = json::object();
    for (const auto& [k, v] : args.keywords) kwargs[k] = *v;
    try {
      return Value::own((*fn)(positional, kwargs));
    } catch (const TemplateError& e) {  // a nested render (a UI module) failed
      PyError err(e.kind(), e.message());
      err.filename = e.filename();
      err.line = e.lineno();
      err.located = true;
      throw err;
    } catch (const PyError&) {
      throw;
    } catch (const LimitExceeded&) {
      throw;
    } catch (const std::exception& e) {
      raise("Exception", std::string(name) + "(): " + e.what());
    }
  }
  Value out;
  if (call_builtin(name, args, ctx, out)) return out;
  raise("NameError", "name '" + std::string(name) + "' is not defined");
}

}  // namespace tornado::templates::detail
