// Rendering the directive tree: output with autoescape, control flow (if/for/while/try with
// break and continue as return values, not exceptions), set, apply, include, and extends with
// Tornado's named-block resolution (the most derived template's block wins; each block
// renders with its own file's autoescape). Errors get the template name and line here.
#include "internal/template_render.h"

#include <map>
#include <string>

#include "internal/xhtml_escape.h"

namespace tornado::templates::detail {
namespace {

enum class Flow { Normal, Break, Continue };

bool exception_matches(std::string_view handler, std::string_view kind) {
  if (handler == kind || handler == "Exception" || handler == "BaseException") return true;
  if (handler == "LookupError") return kind == "KeyError" || kind == "IndexError";
  if (handler == "ArithmeticError") return kind == "ZeroDivisionError" || kind == "OverflowError";
  return false;
}
bool known_exception(std::string_view name) {
  static constexpr std::string_view kNames[] = {
      "Exception",         "BaseException", "LookupError", "ArithmeticError", "KeyError",
      "IndexError",        "TypeError",     "ValueError",  "NameError",       "AttributeError",
      "ZeroDivisionError", "OverflowError", "SyntaxError", "SystemError"};
  for (auto n : kNames)
    if (n == name) return true;
  return false;
}

struct BlockRef {
  const Node* node;
  const File* file;
};

class Renderer {
 public:
  Renderer(Ctx& ctx, std::string& out) : ctx_(ctx), out_(out) {}

  void render(const Template& t) {
    const File& self = File::of(t);
    const File* root = &self;
    if (self.has_blocks_or_includes) {
      std::vector<const File*> ancestors;
      collect_ancestors(t, ancestors, 0);
      for (auto it = ancestors.rbegin(); it != ancestors.rend(); ++it)
        find_blocks((*it)->body, **it, 0);
      root = ancestors.back();
      use_block_map_ = true;
    }
    current_ = root;
    body(root->body);
  }

 private:
  // Tornado's _get_ancestors: this file, then the ancestors of each {% extends %} in turn.
  void collect_ancestors(const Template& t, std::vector<const File*>& out, int depth) {
    const File& f = File::of(t);
    out.push_back(&f);
    for (const std::string& parent : f.extends) {
      if (depth + 1 > f.options.max_include_depth)
        throw LimitExceeded("extends nested deeper than " +
                            std::to_string(f.options.max_include_depth) + " levels");
      auto p = load(t, parent);
      collect_ancestors(*p, out, depth + 1);
    }
  }

  std::shared_ptr<const Template> load(const Template& from, const std::string& name) {
    if (!from.loader())
      throw LimitExceeded("{% include %} or {% extends %} found, but no template loader");
    auto t = from.loader()->load(name, from.name());
    keep_alive_.push_back(t);
    return t;
  }

  void find_blocks(const Body& b, const File& file, int depth) {
    for (const Node& n : b) {
      if (n.kind == NodeKind::Block) blocks_[n.text] = BlockRef{&n, &file};
      if (n.kind == NodeKind::Include) {
        if (depth + 1 > file.options.max_include_depth)
          throw LimitExceeded("include nested deeper than " +
                              std::to_string(file.options.max_include_depth) + " levels");
        auto t = load(*file.owner, n.text);
        find_blocks(File::of(*t).body, File::of(*t), depth + 1);
      }
      find_blocks(n.body, file, depth);
      for (const auto& [cond, elif_body] : n.elifs) find_blocks(elif_body, file, depth);
      if (n.else_body) find_blocks(*n.else_body, file, depth);
      for (const auto& h : n.handlers) find_blocks(h.body, file, depth);
      if (n.finally_body) find_blocks(*n.finally_body, file, depth);
    }
  }

  Flow body(const Body& b) {
    for (const Node& n : b) {
      Flow f = node(n);
      if (f != Flow::Normal) return f;
    }
    return Flow::Normal;
  }

  template <typename E>
  void locate(E& e, const Node& n) const {
    if (!e.located) {
      e.located = true;
      e.filename = current_->name;
      e.line = n.line;
    }
  }

  Flow node(const Node& n) {
    if (n.kind == NodeKind::Text) {
      emit(n.text);
      return Flow::Normal;
    }
    try {
      return run(n);
    } catch (PyError& e) {
      locate(e, n);
      throw;
    } catch (LimitExceeded& e) {
      locate(e, n);
      throw;
    }
  }

  void emit(std::string_view s) {
    out_ += s;
    check_output();
  }
  void check_output() const {
    if (ctx_.options.max_output_bytes && out_.size() > ctx_.options.max_output_bytes)
      throw LimitExceeded("output larger than max_output_bytes (" +
                          std::to_string(ctx_.options.max_output_bytes) + ")");
  }

  void output(const Node& n) {
    Value v = eval(*n.expr, ctx_);
    const std::optional<std::string>& esc = current_->autoescape;
    std::string text_storage;
    std::string_view text;
    if (v->is_string()) {
      text = v->get_ref<const std::string&>();
    } else {
      text_storage = py_str(*v);
      text = text_storage;
    }
    if (n.raw || !esc) {
      emit(text);
      return;
    }
    if (builtin_escaper()) {
      internal::append_xhtml_escaped(out_, text);
      check_output();
      return;
    }
    Args args;
    args.positional.push_back(Value::own(std::string(text)));
    Value escaped = call_function(*esc, args, ctx_);
    if (!escaped->is_string())
      raise("TypeError", "Expected bytes, unicode, or None; got " +
                             std::string(type_name(*escaped)) + " from autoescape " + *esc);
    emit(escaped->get_ref<const std::string&>());
  }

  // Whether the current file escapes with the built-in xhtml_escape: decided once per file
  // and render, not per expression (a Fortunes page made 54 string comparisons for it).
  bool builtin_escaper() {
    if (escaper_file_ != current_) {
      escaper_file_ = current_;
      const std::optional<std::string>& esc = current_->autoescape;
      builtin_escaper_ =
          esc && (*esc == "xhtml_escape" || *esc == "escape") && !own_escaper(*esc);
    }
    return builtin_escaper_;
  }

  // Whether the functions or the defaults replace the built-in escaper `name`: asked once
  // per render (they cannot change during one), not once per expression.
  bool own_escaper(const std::string& name) {
    std::optional<bool>& known = name == "escape" ? own_escape_ : own_xhtml_escape_;
    if (!known) known = has_own_function(name, ctx_);
    return *known;
  }

  Flow run(const Node& n) {
    switch (n.kind) {
      case NodeKind::Text:
        emit(n.text);
        return Flow::Normal;
      case NodeKind::Expression:
        output(n);
        return Flow::Normal;
      case NodeKind::If: {
        if (truthy(*eval(*n.expr, ctx_))) return body(n.body);
        for (const auto& [cond, b] : n.elifs)
          if (truthy(*eval(*cond, ctx_))) return body(b);
        if (n.else_body) return body(*n.else_body);
        return Flow::Normal;
      }
      case NodeKind::For: {
        Value iterable = eval(*n.expr, ctx_);
        for (const Value& item : iterate(iterable, ctx_)) {
          ctx_.count_iteration();
          assign(n.target, item, ctx_);
          if (body(n.body) == Flow::Break) return Flow::Normal;
        }
        if (n.else_body) return body(*n.else_body);
        return Flow::Normal;
      }
      case NodeKind::While: {
        while (truthy(*eval(*n.expr, ctx_))) {
          ctx_.count_iteration();
          if (body(n.body) == Flow::Break) return Flow::Normal;
        }
        if (n.else_body) return body(*n.else_body);
        return Flow::Normal;
      }
      case NodeKind::Set:
        run_set(n);
        return Flow::Normal;
      case NodeKind::Try:
        return run_try(n);
      case NodeKind::Include:
        return include(n);
      case NodeKind::Extends:
        return Flow::Normal;  // resolved before rendering
      case NodeKind::Block:
        return block(n);
      case NodeKind::Apply:
        return apply(n);
      case NodeKind::Break:
        return Flow::Break;
      case NodeKind::Continue:
        return Flow::Continue;
      case NodeKind::Noop:
        return Flow::Normal;
    }
    return Flow::Normal;
  }

  void run_set(const Node& n) {
    Value v = eval(*n.expr, ctx_);
    if (n.set_targets.empty()) return;  // an expression statement
    if (!n.aug_op.empty()) {
      const std::string& name = n.set_targets[0].name;
      const Value* old = ctx_.scope->find(name);
      Value current;
      if (old) {
        current = *old;
      } else if (const json* value = find_value(name, ctx_)) {
        current = Value::borrow(*value);
      } else {
        raise("NameError", "name '" + name + "' is not defined");
      }
      ctx_.scope->set(name, Value::own(binary_op(n.aug_op, *current, *v, ctx_)));
      return;
    }
    for (const Target& t : n.set_targets) assign(t, v, ctx_);
  }

  Flow run_try(const Node& n) {
    Flow flow = Flow::Normal;
    try {
      flow = try_except(n);
    } catch (...) {
      // finally runs on the way out; a break or continue in it drops the error, as in Python.
      if (n.finally_body) {
        Flow f = body(*n.finally_body);
        if (f != Flow::Normal) return f;
      }
      throw;
    }
    if (n.finally_body) {
      Flow f = body(*n.finally_body);
      if (f != Flow::Normal) return f;
    }
    return flow;
  }

  Flow try_except(const Node& n) {
    const ExceptClause* handler = nullptr;
    std::string message;
    std::size_t mark = out_.size();
    (void)mark;  // output written before the error stays, as in Tornado
    try {
      Flow f = body(n.body);
      if (f != Flow::Normal || !n.else_body) return f;
    } catch (PyError& e) {
      for (const auto& h : n.handlers) {
        bool match = h.types.empty();
        for (const auto& type : h.types) {
          if (!known_exception(type)) raise("NameError", "name '" + type + "' is not defined");
          match |= exception_matches(type, e.kind);
        }
        if (match) {
          handler = &h;
          message = e.message;
          break;
        }
      }
      if (!handler) throw;
    }
    if (handler) {
      if (!handler->as_name.empty()) ctx_.scope->set(handler->as_name, Value::own(message));
      return body(handler->body);
    }
    return body(*n.else_body);
  }

  Flow include(const Node& n) {
    if (++include_depth_ > current_->options.max_include_depth)
      throw LimitExceeded("include nested deeper than " +
                          std::to_string(current_->options.max_include_depth) + " levels");
    auto t = load(*current_->owner, n.text);
    Flow f = with_file(File::of(*t), n, [&] { return body(File::of(*t).body); });
    --include_depth_;
    return f;
  }

  Flow block(const Node& n) {
    if (!use_block_map_) return body(n.body);
    auto it = blocks_.find(n.text);
    const BlockRef ref = it == blocks_.end() ? BlockRef{&n, current_} : it->second;
    return with_file(*ref.file, n, [&] { return body(ref.node->body); });
  }

  // Renders with `file` as the current template (autoescape, error names); an error inside
  // records this node as the place it came through.
  template <typename F>
  Flow with_file(const File& file, const Node& via, F render) {
    const File* saved = current_;
    current_ = &file;
    try {
      Flow f = render();
      current_ = saved;
      return f;
    } catch (PyError& e) {
      current_ = saved;
      add_via(e, via);
      throw;
    } catch (LimitExceeded& e) {
      current_ = saved;
      add_via(e, via);
      throw;
    }
  }
  template <typename E>
  void add_via(E& e, const Node& via) const {
    if (!e.located) return;
    std::string here = current_->name + ":" + std::to_string(via.line);
    e.via = e.via.empty() ? here : e.via + ", " + here;
  }

  Flow apply(const Node& n) {
    if (n.expr->kind != ExprKind::Name) raise("TypeError", "apply takes the name of a function");
    std::string inner;
    std::swap(inner, out_);
    Scope scope;
    scope.parent = ctx_.scope;
    ctx_.scope = &scope;
    try {
      body(n.body);
    } catch (...) {
      ctx_.scope = scope.parent;
      std::swap(inner, out_);
      throw;
    }
    ctx_.scope = scope.parent;
    std::swap(inner, out_);
    Args args;
    args.positional.push_back(Value::own(std::move(inner)));
    Value result = call_function(n.expr->name, args, ctx_);
    if (result->is_string()) {
      emit(result->get_ref<const std::string&>());
    } else {
      raise("TypeError", "Expected bytes, unicode, or None; got " +
                             std::string(type_name(*result)) + " from apply " + n.expr->name);
    }
    return Flow::Normal;
  }

  Ctx& ctx_;
  std::string& out_;
  const File* current_ = nullptr;
  bool use_block_map_ = false;
  std::optional<bool> own_escape_, own_xhtml_escape_;
  const File* escaper_file_ = nullptr;  // the file builtin_escaper_ was decided for
  bool builtin_escaper_ = false;
  std::map<std::string, BlockRef, std::less<>> blocks_;
  std::vector<std::shared_ptr<const Template>> keep_alive_;
  int include_depth_ = 0;
};

}  // namespace

std::string render(const Template& t, const json& values, const Functions& functions,
                   Defaults* defaults) {
  static const json kEmpty = json::object();
  const File& file = File::of(t);
  Scope scope;
  Ctx ctx{values.is_null() ? kEmpty : values, functions, file.options, &scope, defaults};
  std::string out;
  out.reserve(file.size_hint.load(std::memory_order_relaxed));
  Renderer r(ctx, out);
  auto fail = [&](const std::string& kind, const std::string& message, const std::string& filename,
                  int line, const std::string& via) -> TemplateError {
    return TemplateError(kind, message, filename, line, via);
  };
  try {
    r.render(t);
  } catch (const PyError& e) {
    throw fail(e.kind, e.message, e.filename, e.line, e.via);
  } catch (const LimitExceeded& e) {
    throw fail("LimitError", e.message, e.filename, e.line, e.via);
  } catch (const ParseError&) {
    throw;  // a template loaded during the render has a syntax error
  }
  file.size_hint.store(out.size(), std::memory_order_relaxed);
  return out;
}

}  // namespace tornado::templates::detail
