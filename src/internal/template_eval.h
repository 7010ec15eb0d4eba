// The evaluator's run-time model: values (borrowed or shared JSON), scopes, the Python-style
// errors templates raise, and the built-ins. Internal to src/template*.cpp.
#pragma once

#include <cstdint>
#include <exception>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "internal/template_ast.h"

namespace tornado::templates::detail {

// A value during a render: a pointer to JSON kept alive by `owner` when it was computed
// (owner is null when it points into the caller's values or the parsed tree, which outlive
// the render). Copying a Value never copies the JSON, as Python passes references.
struct Value {
  std::shared_ptr<const json> owner;
  const json* ptr = nullptr;

  const json& operator*() const { return *ptr; }
  const json* operator->() const { return ptr; }
  static Value borrow(const json& j) { return Value{nullptr, &j}; }
  static Value own(json j) {
    auto p = std::make_shared<const json>(std::move(j));
    const json* raw = p.get();
    return Value{std::move(p), raw};
  }
  // A part of this value (an item, a dict entry) that lives as long as this value.
  Value part(const json& j) const { return Value{owner, &j}; }
};

// A Python exception raised by a template: `kind` is the class name. {% except %} catches it.
struct PyError : std::exception {
  PyError(std::string k, std::string m) : kind(std::move(k)), message(std::move(m)) {}
  const char* what() const noexcept override { return message.c_str(); }
  std::string kind, message;
  std::string filename;
  int line = 0;
  bool located = false;
  std::string via;  // " (via base.html:1, ...)": the include/block chain, innermost first
};

// A broken render budget (TemplateOptions): not catchable by {% except %}.
struct LimitExceeded : std::exception {
  explicit LimitExceeded(std::string m) : message(std::move(m)) {}
  const char* what() const noexcept override { return message.c_str(); }
  std::string message;
  std::string filename;
  int line = 0;
  bool located = false;
  std::string via;
};

[[noreturn]] inline void raise(std::string kind, std::string message) {
  throw PyError(std::move(kind), std::move(message));
}

// Local variables: {% set %}, loop variables, comprehension variables. A name set inside
// {% apply %} or a comprehension lives in a child scope, as in Python's nested functions.
struct Scope {
  std::vector<std::pair<std::string, Value>> vars;
  Scope* parent = nullptr;
  const Value* find(std::string_view name) const {
    for (const Scope* s = this; s; s = s->parent)
      for (const auto& [n, v] : s->vars)
        if (n == name) return &v;
    return nullptr;
  }
  void set(std::string_view name, Value v) {
    for (auto& [n, old] : vars)
      if (n == name) {
        old = std::move(v);
        return;
      }
    vars.emplace_back(std::string(name), std::move(v));
  }
};

struct Ctx {
  const json& values;
  const Functions& functions;
  const TemplateOptions& options;
  Scope* scope;
  Defaults* defaults = nullptr;  // looked up after values / functions (template.h)
  std::uint64_t iterations = 0;
  void count_iteration() {
    if (options.max_loop_iterations && ++iterations > options.max_loop_iterations)
      throw LimitExceeded("more than " + std::to_string(options.max_loop_iterations) +
                          " loop iterations");
  }
  void check_length(std::size_t n) const {
    if (n > options.max_sequence_length)
      throw LimitExceeded("a value of " + std::to_string(n) +
                          " items or bytes is past max_sequence_length (" +
                          std::to_string(options.max_sequence_length) + ")");
  }
};

struct Args {
  std::vector<Value> positional;
  std::vector<std::pair<std::string, Value>> keywords;
  const Value* keyword(std::string_view name) const {
    for (const auto& [n, v] : keywords)
      if (n == name) return &v;
    return nullptr;
  }
};

Value eval(const Expr& e, Ctx& ctx);
// a op b for the arithmetic and bitwise operators ("+", "//", "**", "&", ...).
json binary_op(std::string_view op, const json& a, const json& b, Ctx& ctx);
bool truthy(const json& v);
// Assigns `value` to `target` in the current scope (unpacking tuples).
void assign(const Target& target, const Value& value, Ctx& ctx);
// The items a for loop or a comprehension walks: list items, string characters, dict keys.
std::vector<Value> iterate(const Value& v, Ctx& ctx);
// Calls a function by name (user Functions first, then built-ins). Raises NameError.
Value call_function(std::string_view name, Args& args, Ctx& ctx);
bool has_function(std::string_view name, const Ctx& ctx);
// A Function from `functions` or the defaults (not a built-in), or nullptr.
const Function* find_own_function(std::string_view name, const Ctx& ctx);
inline bool has_own_function(std::string_view name, const Ctx& ctx) {
  return find_own_function(name, ctx) != nullptr;
}
// A variable from `values` or the defaults (not a local), or nullptr.
const json* find_value(std::string_view name, const Ctx& ctx);
// Built-ins; false if `name` is not one.
bool call_builtin(std::string_view name, Args& args, Ctx& ctx, Value& out);
bool is_builtin(std::string_view name);
// Python's `fmt % args` (%s %r %d %i %x %X %o %e %f %g %%, flags, width, precision,
// %(key)s with a dict); args_is_tuple when the right operand was a tuple literal.
json percent_format(const std::string& fmt, const json& args, bool args_is_tuple, Ctx& ctx);
// obj.name(args): string, list and dict methods.
Value call_method(const Value& self, std::string_view name, Args& args, Ctx& ctx);

// Python's type names, str(), repr() and json.dumps() of a JSON value.
std::string_view type_name(const json& v);
std::string py_str(const json& v);
std::string py_repr(const json& v);
void py_repr_append(std::string& out, const json& v);
std::string py_float_repr(double d);
std::string py_json_dumps(const json& v);
// Comparison helpers shared by the evaluator and sorted()/min()/max().
bool py_equal(const json& a, const json& b);
// <0, 0, >0; raises TypeError for unorderable types.
int py_compare(const json& a, const json& b, std::string_view op);
// UTF-8 helpers: code point count, and the byte offsets of each code point.
std::size_t code_point_count(std::string_view s);
std::vector<std::size_t> code_point_offsets(std::string_view s);
bool is_number(const json& v);  // int, float or bool (bool is an int in Python)
// An int in Python's sense: a JSON integer or a bool.
inline bool is_int(const json& v) { return v.is_number_integer() || v.is_boolean(); }
double as_double(const json& v);

}  // namespace tornado::templates::detail
