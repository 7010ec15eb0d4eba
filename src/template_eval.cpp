// The expression evaluator: names, attribute/index/slice access, calls, Python's arithmetic
// (ints are 64-bit and checked: an overflow is an OverflowError, not a big int), comparisons
// (chained), and/or/not, conditional expressions and comprehensions. Recursion follows the
// expression tree, whose depth the parser bounds (max_expression_depth).
#include "internal/template_eval.h"

#include <cmath>
#include <limits>
#include <string>

namespace tornado::templates::detail {
namespace {

bool fits_int64(const json& v) {
  return v.is_boolean() || (v.is_number_integer() &&
                            (!v.is_number_unsigned() || v.get<std::uint64_t>() <= INT64_MAX));
}
std::int64_t as_int(const json& v) {
  if (v.is_boolean()) return v.get<bool>();
  return v.get<std::int64_t>();
}

[[noreturn]] void unsupported(std::string_view op, const json& a, const json& b) {
  raise("TypeError", "unsupported operand type(s) for " + std::string(op) + ": '" +
                         std::string(type_name(a)) + "' and '" + std::string(type_name(b)) + "'");
}
[[noreturn]] void overflow() {
  raise("OverflowError", "integer overflow (template integers are 64-bit)");
}

std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  if (a == INT64_MIN && b == -1) overflow();
  std::int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}
std::int64_t floor_mod(std::int64_t a, std::int64_t b) {
  if (b == -1) return 0;
  std::int64_t m = a % b;
  if (m != 0 && ((m < 0) != (b < 0))) m += b;
  return m;
}

json repeat(const json& seq, std::int64_t times, Ctx& ctx) {
  if (times < 0) times = 0;
  if (seq.is_string()) {
    const auto& s = seq.get_ref<const std::string&>();
    if (!s.empty() &&
        static_cast<std::uint64_t>(times) > ctx.options.max_sequence_length / s.size())
      ctx.check_length(ctx.options.max_sequence_length + 1);
    std::string out;
    out.reserve(s.size() * times);
    for (std::int64_t i = 0; i < times; ++i) out += s;
    return out;
  }
  if (!seq.empty() &&
      static_cast<std::uint64_t>(times) > ctx.options.max_sequence_length / seq.size())
    ctx.check_length(ctx.options.max_sequence_length + 1);
  json out = json::array();
  for (std::int64_t i = 0; i < times; ++i)
    for (const auto& item : seq) out.push_back(item);
  return out;
}

json arithmetic(std::string_view op, const json& a, const json& b, Ctx& ctx) {
  bool ints = fits_int64(a) && fits_int64(b);
  bool nums = is_number(a) && is_number(b);
  if (op == "+") {
    if (ints) {
      std::int64_t r = 0;
      if (__builtin_add_overflow(as_int(a), as_int(b), &r)) overflow();
      return r;
    }
    if (nums) return as_double(a) + as_double(b);
    if (a.is_string() && b.is_string()) {
      ctx.check_length(a.get_ref<const std::string&>().size() +
                       b.get_ref<const std::string&>().size());
      return a.get<std::string>() + b.get_ref<const std::string&>();
    }
    if (a.is_array() && b.is_array()) {
      ctx.check_length(a.size() + b.size());
      json r = a;
      for (const auto& item : b) r.push_back(item);
      return r;
    }
    if (a.is_string() || a.is_array())
      raise("TypeError", "can only concatenate " + std::string(type_name(a)) + " (not \"" +
                             std::string(type_name(b)) + "\") to " + std::string(type_name(a)));
    unsupported(op, a, b);
  }
  if (op == "-") {
    if (ints) {
      std::int64_t r = 0;
      if (__builtin_sub_overflow(as_int(a), as_int(b), &r)) overflow();
      return r;
    }
    if (nums) return as_double(a) - as_double(b);
    unsupported(op, a, b);
  }
  if (op == "*") {
    if (ints) {
      std::int64_t r = 0;
      if (__builtin_mul_overflow(as_int(a), as_int(b), &r)) overflow();
      return r;
    }
    if (nums) return as_double(a) * as_double(b);
    if ((a.is_string() || a.is_array()) && is_int(b)) return repeat(a, as_int(b), ctx);
    if ((b.is_string() || b.is_array()) && is_int(a)) return repeat(b, as_int(a), ctx);
    if (a.is_string() || a.is_array() || b.is_string() || b.is_array()) {
      const json& seq = a.is_string() || a.is_array() ? a : b;
      const json& other = &seq == &a ? b : a;
      raise("TypeError",
            "can't multiply sequence by non-int of type '" + std::string(type_name(other)) + "'");
    }
    unsupported(op, a, b);
  }
  if (op == "/") {
    if (!nums) unsupported(op, a, b);
    double y = as_double(b);
    if (y == 0) raise("ZeroDivisionError", ints ? "division by zero" : "float division by zero");
    return as_double(a) / y;
  }
  if (op == "//" || op == "%") {
    if (op == "%" && a.is_string())
      raise("TypeError", "'%' string formatting is not supported in templates");
    if (ints) {
      if (as_int(b) == 0)
        raise("ZeroDivisionError",
              op == "//" ? "integer division or modulo by zero" : "integer modulo by zero");
      return op == "//" ? floor_div(as_int(a), as_int(b)) : floor_mod(as_int(a), as_int(b));
    }
    if (!nums) unsupported(op, a, b);
    double x = as_double(a), y = as_double(b);
    if (y == 0)
      raise("ZeroDivisionError", op == "//" ? "float floor division by zero" : "float modulo");
    // CPython's float_divmod, step by step, so the results match to the last bit.
    double mod = std::fmod(x, y);
    double div = (x - mod) / y;
    if (mod != 0) {
      if ((y < 0) != (mod < 0)) {
        mod += y;
        div -= 1.0;
      }
    } else {
      mod = std::copysign(0.0, y);
    }
    if (op == "%") return mod;
    double floordiv = 0;
    if (div != 0) {
      floordiv = std::floor(div);
      if (div - floordiv > 0.5) floordiv += 1.0;
    } else {
      floordiv = std::copysign(0.0, x / y);
    }
    return floordiv;
  }
  if (op == "**") {
    if (ints && as_int(b) >= 0) {
      std::int64_t base = as_int(a), e = as_int(b), r = 1;
      while (e > 0) {
        if (e & 1 && __builtin_mul_overflow(r, base, &r)) overflow();
        e >>= 1;
        if (e > 0 && __builtin_mul_overflow(base, base, &base)) overflow();
      }
      return r;
    }
    if (!nums) unsupported(op, a, b);
    double x = as_double(a), y = as_double(b);
    if (x == 0 && y < 0) raise("ZeroDivisionError", "0.0 cannot be raised to a negative power");
    if (x < 0 && y != std::floor(y))
      raise("ValueError", "negative number cannot be raised to a fractional power");
    double r = std::pow(x, y);
    if (std::isinf(r) && std::isfinite(x) && std::isfinite(y))
      raise("OverflowError", "(34, 'Numerical result out of range')");
    return r;
  }
  // Bitwise operators: ints only.
  if (!ints) unsupported(op, a, b);
  std::int64_t x = as_int(a), y = as_int(b);
  if (op == "&")
    return (a.is_boolean() && b.is_boolean()) ? json(static_cast<bool>(x & y)) : json(x & y);
  if (op == "|")
    return (a.is_boolean() && b.is_boolean()) ? json(static_cast<bool>(x | y)) : json(x | y);
  if (op == "^")
    return (a.is_boolean() && b.is_boolean()) ? json(static_cast<bool>(x ^ y)) : json(x ^ y);
  if (y < 0) raise("ValueError", "negative shift count");
  if (op == ">>") return y >= 64 ? (x < 0 ? -1 : 0) : x >> y;
  if (y >= 64 || (x != 0 && (x > (INT64_MAX >> y) || x < (INT64_MIN >> y)))) overflow();
  return static_cast<std::int64_t>(static_cast<std::uint64_t>(x) << y);
}

bool contains(const json& container, const json& item) {
  if (container.is_string()) {
    if (!item.is_string())
      raise("TypeError",
            "'in <string>' requires string as left operand, not " + std::string(type_name(item)));
    return container.get_ref<const std::string&>().find(item.get_ref<const std::string&>()) !=
           std::string::npos;
  }
  if (container.is_array()) {
    for (const auto& x : container)
      if (py_equal(x, item)) return true;
    return false;
  }
  if (container.is_object())
    return item.is_string() && container.contains(item.get_ref<const std::string&>());
  raise("TypeError",
        "argument of type '" + std::string(type_name(container)) + "' is not iterable");
}

bool compare(std::string_view op, const json& a, const json& b) {
  if (op == "==") return py_equal(a, b);
  if (op == "!=") return !py_equal(a, b);
  if (op == "in") return contains(b, a);
  if (op == "not in") return !contains(b, a);
  if (op == "is" || op == "is not") {
    // Identity is only meaningful for None, True and False here.
    bool same = a.type() == b.type() && (a.is_null() || a.is_boolean()) && a == b;
    return op == "is" ? same : !same;
  }
  int c = py_compare(a, b, op);
  if (c == 2) return false;  // NaN
  if (op == "<") return c < 0;
  if (op == "<=") return c <= 0;
  if (op == ">") return c > 0;
  return c >= 0;
}

std::int64_t index_of(const json& idx, std::size_t size, std::string_view what) {
  if (!is_int(idx) || !fits_int64(idx))
    raise("TypeError", std::string(what) + " indices must be integers or slices, not " +
                           std::string(type_name(idx)));
  std::int64_t i = as_int(idx);
  if (i < 0) i += static_cast<std::int64_t>(size);
  if (i < 0 || i >= static_cast<std::int64_t>(size))
    raise("IndexError", std::string(what) + " index out of range");
  return i;
}

Value subscript(const Value& obj, const json& idx) {
  const json& o = *obj;
  if (o.is_array()) return obj.part(o[index_of(idx, o.size(), "list")]);
  if (o.is_object()) {
    auto it = idx.is_string() ? o.find(idx.get_ref<const std::string&>()) : o.end();
    if (it == o.end()) raise("KeyError", py_repr(idx));
    return obj.part(*it);
  }
  if (o.is_string()) {
    const auto& s = o.get_ref<const std::string&>();
    auto offsets = code_point_offsets(s);
    std::int64_t i = index_of(idx, offsets.size() - 1, "string");
    return Value::own(s.substr(offsets[i], offsets[i + 1] - offsets[i]));
  }
  raise("TypeError", "'" + std::string(type_name(o)) + "' object is not subscriptable");
}

// Python's slice.indices(): clamps start/stop for the step's direction.
std::int64_t slice_bound(const Value* v, std::int64_t size, std::int64_t step, bool is_start) {
  if (!v || (*v)->is_null()) return step > 0 ? (is_start ? 0 : size) : (is_start ? size - 1 : -1);
  if (!is_int(**v) || !fits_int64(**v))
    raise("TypeError", "slice indices must be integers or None");
  std::int64_t i = as_int(**v);
  if (i < 0) {
    i += size;
    if (i < 0) i = step > 0 ? 0 : -1;
  } else if (i >= size) {
    i = step > 0 ? size : size - 1;
  }
  return i;
}

Value slice(const Value& obj, const Value* start, const Value* stop, const Value* step_v) {
  std::int64_t step = 1;
  if (step_v && !(*step_v)->is_null()) {
    if (!is_int(**step_v) || !fits_int64(**step_v))
      raise("TypeError", "slice indices must be integers or None");
    step = as_int(**step_v);
    if (step == 0) raise("ValueError", "slice step cannot be zero");
    if (step == INT64_MIN) step = INT64_MIN + 1;
  }
  const json& o = *obj;
  std::vector<std::size_t> offsets;
  std::int64_t size = 0;
  if (o.is_string()) {
    offsets = code_point_offsets(o.get_ref<const std::string&>());
    size = static_cast<std::int64_t>(offsets.size()) - 1;
  } else if (o.is_array()) {
    size = static_cast<std::int64_t>(o.size());
  } else {
    raise("TypeError", "'" + std::string(type_name(o)) + "' object is not subscriptable");
  }
  std::int64_t b = slice_bound(start, size, step, true), e = slice_bound(stop, size, step, false);
  std::vector<std::int64_t> picks;
  for (std::int64_t i = b; step > 0 ? i < e : i > e; i += step) {
    picks.push_back(i);
    if ((step > 0 && i > INT64_MAX - step) || (step < 0 && i < INT64_MIN - step)) break;
  }
  if (o.is_string()) {
    const auto& s = o.get_ref<const std::string&>();
    std::string out;
    for (auto i : picks) out.append(s, offsets[i], offsets[i + 1] - offsets[i]);
    return Value::own(std::move(out));
  }
  json out = json::array();
  for (auto i : picks) out.push_back(o[i]);
  return Value::own(std::move(out));
}

Value eval_call(const Expr& e, Ctx& ctx) {
  Args args;
  std::size_t positional = e.items.size() - e.keywords.size();
  for (std::size_t i = 0; i < e.items.size(); ++i) {
    Value v = eval(*e.items[i], ctx);
    if (i < positional) {
      args.positional.push_back(std::move(v));
    } else {
      const std::string& name = e.keywords[i - positional];
      if (args.keyword(name)) raise("SyntaxError", "keyword argument repeated: " + name);
      args.keywords.emplace_back(name, std::move(v));
    }
  }
  const Expr& callee = *e.a;
  if (callee.kind == ExprKind::Name) {
    if (const Value* local = ctx.scope->find(callee.name))
      raise("TypeError", "'" + std::string(type_name(**local)) + "' object is not callable");
    if (!has_function(callee.name, ctx)) {
      if (const json* value = find_value(callee.name, ctx))
        raise("TypeError", "'" + std::string(type_name(*value)) + "' object is not callable");
    }
    return call_function(callee.name, args, ctx);
  }
  if (callee.kind == ExprKind::Attr) {
    // A Function registered under a dotted name ("locale.format_date": the web layer's
    // locale methods) answers `name.method(...)` unless `name` is a local variable.
    if (callee.a->kind == ExprKind::Name && (!ctx.functions.empty() || ctx.defaults) &&
        !ctx.scope->find(callee.a->name)) {
      std::string dotted = callee.a->name;
      dotted.append(".").append(callee.name);
      if (has_own_function(dotted, ctx)) {
        return call_function(dotted, args, ctx);
      }
    }
    Value self = eval(*callee.a, ctx);
    return call_method(self, callee.name, args, ctx);
  }
  Value target = eval(callee, ctx);
  raise("TypeError", "'" + std::string(type_name(*target)) + "' object is not callable");
}

void comprehension(const Expr& e, std::size_t level, Ctx& ctx, json& out) {
  if (level == e.comprehensions.size()) {
    ctx.check_length(out.size() + 1);
    out.push_back(*eval(*e.a, ctx));
    return;
  }
  const Comprehension& comp = e.comprehensions[level];
  Value iterable = eval(*comp.iter, ctx);
  for (const Value& item : iterate(iterable, ctx)) {
    ctx.count_iteration();
    assign(comp.target, item, ctx);
    bool keep = true;
    for (const auto& cond : comp.conditions)
      if (!truthy(*eval(*cond, ctx))) {
        keep = false;
        break;
      }
    if (keep) comprehension(e, level + 1, ctx, out);
  }
}

}  // namespace

json binary_op(std::string_view op, const json& a, const json& b, Ctx& ctx) {
  return arithmetic(op, a, b, ctx);
}

bool truthy(const json& v) {
  switch (v.type()) {
    case json::value_t::null:
      return false;
    case json::value_t::boolean:
      return v.get<bool>();
    case json::value_t::number_integer:
      return v.get<std::int64_t>() != 0;
    case json::value_t::number_unsigned:
      return v.get<std::uint64_t>() != 0;
    case json::value_t::number_float:
      return v.get<double>() != 0;
    case json::value_t::string:
      return !v.get_ref<const std::string&>().empty();
    default:
      return !v.empty();
  }
}

std::vector<Value> iterate(const Value& v, Ctx& ctx) {
  std::vector<Value> out;
  const json& j = *v;
  if (j.is_array()) {
    out.reserve(j.size());
    for (const auto& item : j) out.push_back(v.part(item));
  } else if (j.is_object()) {
    for (const auto& [k, item] : j.items()) out.push_back(Value::own(k));
  } else if (j.is_string()) {
    const auto& s = j.get_ref<const std::string&>();
    auto offsets = code_point_offsets(s);
    for (std::size_t i = 0; i + 1 < offsets.size(); ++i)
      out.push_back(Value::own(s.substr(offsets[i], offsets[i + 1] - offsets[i])));
  } else {
    raise("TypeError", "'" + std::string(type_name(j)) + "' object is not iterable");
  }
  (void)ctx;
  return out;
}

void assign(const Target& target, const Value& value, Ctx& ctx) {
  if (!target.is_tuple()) {
    ctx.scope->set(target.name, value);
    return;
  }
  std::vector<Value> items = iterate(value, ctx);
  if (items.size() != target.items.size()) {
    if (items.size() < target.items.size())
      raise("ValueError", "not enough values to unpack (expected " +
                              std::to_string(target.items.size()) + ", got " +
                              std::to_string(items.size()) + ")");
    raise("ValueError",
          "too many values to unpack (expected " + std::to_string(target.items.size()) + ")");
  }
  for (std::size_t i = 0; i < items.size(); ++i) assign(target.items[i], items[i], ctx);
}

Value eval(const Expr& e, Ctx& ctx) {
  switch (e.kind) {
    case ExprKind::Literal:
      return Value::borrow(e.literal);
    case ExprKind::Name: {
      if (const Value* local = ctx.scope->find(e.name)) return *local;
      if (const json* value = find_value(e.name, ctx)) return Value::borrow(*value);
      if (has_function(e.name, ctx))
        raise("TypeError",
              "function '" + e.name + "' can only be called in a template, not used as a value");
      raise("NameError", "name '" + e.name + "' is not defined");
    }
    case ExprKind::List:
    case ExprKind::Tuple: {
      json out = json::array();
      for (const auto& item : e.items) out.push_back(*eval(*item, ctx));
      return Value::own(std::move(out));
    }
    case ExprKind::Dict: {
      json out = json::object();
      for (std::size_t i = 0; i + 1 < e.items.size(); i += 2) {
        Value k = eval(*e.items[i], ctx);
        Value v = eval(*e.items[i + 1], ctx);
        if (!k->is_string())
          raise("TypeError", "dict keys must be strings in templates (JSON objects), not " +
                                 std::string(type_name(*k)));
        out[k->get<std::string>()] = *v;
      }
      return Value::own(std::move(out));
    }
    case ExprKind::Attr: {
      Value obj = eval(*e.a, ctx);
      if (obj->is_object()) {
        auto it = obj->find(e.name);
        if (it != obj->end()) return obj.part(*it);
      }
      raise("AttributeError",
            "'" + std::string(type_name(*obj)) + "' object has no attribute '" + e.name + "'");
    }
    case ExprKind::Index: {
      Value obj = eval(*e.a, ctx);
      Value idx = eval(*e.b, ctx);
      return subscript(obj, *idx);
    }
    case ExprKind::Slice: {
      Value obj = eval(*e.a, ctx);
      std::optional<Value> b, c, d;
      if (e.b) b = eval(*e.b, ctx);
      if (e.c) c = eval(*e.c, ctx);
      if (e.d) d = eval(*e.d, ctx);
      return slice(obj, b ? &*b : nullptr, c ? &*c : nullptr, d ? &*d : nullptr);
    }
    case ExprKind::Call:
      return eval_call(e, ctx);
    case ExprKind::Unary: {
      Value v = eval(*e.a, ctx);
      if (e.name == "not") return Value::own(!truthy(*v));
      if (e.name == "+" && is_number(*v)) return v->is_boolean() ? Value::own(as_int(*v)) : v;
      if (e.name == "-" && is_number(*v)) {
        if (fits_int64(*v)) {
          if (as_int(*v) == INT64_MIN) overflow();
          return Value::own(-as_int(*v));
        }
        return Value::own(-as_double(*v));
      }
      if (e.name == "~" && fits_int64(*v)) return Value::own(~as_int(*v));
      raise("TypeError",
            "bad operand type for unary " + e.name + ": '" + std::string(type_name(*v)) + "'");
    }
    case ExprKind::Binary: {
      Value a = eval(*e.a, ctx);
      Value b = eval(*e.b, ctx);
      if (e.name == "%" && a->is_string())
        return Value::own(percent_format(a->get_ref<const std::string&>(), *b,
                                         e.b->kind == ExprKind::Tuple, ctx));
      return Value::own(arithmetic(e.name, *a, *b, ctx));
    }
    case ExprKind::And: {
      Value a = eval(*e.a, ctx);
      return truthy(*a) ? eval(*e.b, ctx) : a;
    }
    case ExprKind::Or: {
      Value a = eval(*e.a, ctx);
      return truthy(*a) ? a : eval(*e.b, ctx);
    }
    case ExprKind::Compare: {
      Value left = eval(*e.items[0], ctx);
      for (std::size_t i = 0; i < e.ops.size(); ++i) {
        Value right = eval(*e.items[i + 1], ctx);
        if (!compare(e.ops[i], *left, *right)) return Value::own(false);
        left = std::move(right);
      }
      return Value::own(true);
    }
    case ExprKind::Cond:
      return truthy(*eval(*e.b, ctx)) ? eval(*e.a, ctx) : eval(*e.c, ctx);
    case ExprKind::ListComp: {
      Scope inner;
      inner.parent = ctx.scope;
      ctx.scope = &inner;
      json out = json::array();
      try {
        comprehension(e, 0, ctx, out);
      } catch (...) {
        ctx.scope = inner.parent;
        throw;
      }
      ctx.scope = inner.parent;
      return Value::own(std::move(out));
    }
  }
  raise("SystemError", "unknown expression");
}

}  // namespace tornado::templates::detail
