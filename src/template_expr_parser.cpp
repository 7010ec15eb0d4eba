// The expression parser: recursive descent over the tokens of src/template_lexer.cpp for the
// Python subset templates use (Python's precedence, from `x if c else y` down to atoms). Nesting
// counts against max_expression_depth, so a hostile expression is a ParseError, never a deep
// recursion later.
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstring>
#include <string>
#include <string_view>

#include "internal/template_lexer.h"

namespace tornado::templates::detail {

struct ExprParser {
  ExprParser(std::string_view text, const File& file, int line)
      : toks(tokenize(text, file, line)), file(file), line(line) {}

  std::vector<Token> toks;
  std::size_t pos = 0;
  const File& file;
  int line;
  int depth = 0;

  [[noreturn]] void fail(const std::string& what) const { throw ParseError(what, file.name, line); }
  const Token& peek(std::size_t ahead = 0) const {
    return toks[std::min(pos + ahead, toks.size() - 1)];
  }
  bool is_op(std::string_view op, std::size_t ahead = 0) const {
    return peek(ahead).kind == Tok::Op && peek(ahead).text == op;
  }
  bool is_word(std::string_view w, std::size_t ahead = 0) const {
    return peek(ahead).kind == Tok::Name && peek(ahead).text == w;
  }
  bool at_end() const { return peek().kind == Tok::End; }
  void expect_op(std::string_view op) {
    if (!is_op(op))
      fail("expected '" + std::string(op) + "' in expression, found " + describe(peek()));
    ++pos;
  }
  static std::string describe(const Token& t) {
    switch (t.kind) {
      case Tok::End:
        return "end of expression";
      case Tok::String:
        return "a string";
      case Tok::Number:
        return "a number";
      default:
        return "'" + t.text + "'";
    }
  }

  struct DepthGuard {
    ExprParser& p;
    explicit DepthGuard(ExprParser& parser) : p(parser) {
      if (++p.depth > p.file.options.max_expression_depth)
        p.fail("expression nested too deeply (more than " +
               std::to_string(p.file.options.max_expression_depth) + " levels)");
    }
    ~DepthGuard() { --p.depth; }
  };

  // One more link of a chain (a + b + c, a.b.c): the tree is one level deeper.
  void deepen(int& links) {
    ++links;
    if (++depth > file.options.max_expression_depth)
      fail("expression nested too deeply (more than " +
           std::to_string(file.options.max_expression_depth) + " levels)");
  }

  static ExprPtr make(ExprKind kind) {
    auto e = std::make_unique<Expr>();
    e->kind = kind;
    return e;
  }
  ExprPtr binary(ExprKind kind, std::string op, ExprPtr a, ExprPtr b) {
    auto e = make(kind);
    e->name = std::move(op);
    e->a = std::move(a);
    e->b = std::move(b);
    return e;
  }

  // testlist: one expression, or a tuple when commas separate several ("1, 2").
  ExprPtr testlist() {
    ExprPtr first = test();
    if (!is_op(",")) return first;
    auto t = make(ExprKind::Tuple);
    t->items.push_back(std::move(first));
    while (is_op(",")) {
      ++pos;
      if (at_end() || is_op("=") || is_op(")")) break;
      t->items.push_back(test());
    }
    return t;
  }

  ExprPtr test() {
    if (is_word("lambda")) fail("lambda is not supported in templates");
    ExprPtr body = or_test();
    if (is_word("if")) {
      ++pos;
      DepthGuard g(*this);
      auto e = make(ExprKind::Cond);
      e->a = std::move(body);
      e->b = or_test();
      if (!is_word("else")) fail("expected 'else' in conditional expression");
      ++pos;
      e->c = test();
      return e;
    }
    return body;
  }

  ExprPtr or_test() {
    ExprPtr left = and_test();
    int links = 0;
    while (is_word("or")) {
      ++pos;
      deepen(links);  // a chain of N is N levels deep when evaluated
      left = binary(ExprKind::Or, "or", std::move(left), and_test());
    }
    depth -= links;
    return left;
  }
  ExprPtr and_test() {
    ExprPtr left = not_test();
    int links = 0;
    while (is_word("and")) {
      ++pos;
      deepen(links);
      left = binary(ExprKind::And, "and", std::move(left), not_test());
    }
    depth -= links;
    return left;
  }
  ExprPtr not_test() {
    if (is_word("not")) {
      ++pos;
      DepthGuard g(*this);
      auto e = make(ExprKind::Unary);
      e->name = "not";
      e->a = not_test();
      return e;
    }
    return comparison();
  }

  ExprPtr comparison() {
    ExprPtr first = bit_or();
    ExprPtr cmp;
    while (true) {
      std::string op;
      if (peek().kind == Tok::Op &&
          (peek().text == "<" || peek().text == ">" || peek().text == "==" || peek().text == ">=" ||
           peek().text == "<=" || peek().text == "!=")) {
        op = peek().text;
        ++pos;
      } else if (is_word("in")) {
        op = "in";
        ++pos;
      } else if (is_word("not") && is_word("in", 1)) {
        op = "not in";
        pos += 2;
      } else if (is_word("is")) {
        ++pos;
        op = "is";
        if (is_word("not")) {
          ++pos;
          op = "is not";
        }
      } else {
        break;
      }
      if (!cmp) {
        cmp = make(ExprKind::Compare);
        cmp->items.push_back(std::move(first));
      }
      cmp->ops.push_back(op);
      cmp->items.push_back(bit_or());
    }
    return cmp ? std::move(cmp) : std::move(first);
  }

  // Left-associative binary levels; each link of a chain deepens the tree by one.
  template <typename Next>
  ExprPtr left_chain(std::initializer_list<std::string_view> ops, Next next) {
    ExprPtr left = (this->*next)();
    int links = 0;
    while (peek().kind == Tok::Op) {
      std::string op;
      for (auto o : ops)
        if (peek().text == o) op = o;
      if (op.empty()) break;
      ++pos;
      deepen(links);
      left = binary(ExprKind::Binary, op, std::move(left), (this->*next)());
    }
    depth -= links;
    return left;
  }
  ExprPtr bit_or() { return left_chain({"|"}, &ExprParser::bit_xor); }
  ExprPtr bit_xor() { return left_chain({"^"}, &ExprParser::bit_and); }
  ExprPtr bit_and() { return left_chain({"&"}, &ExprParser::shift); }
  ExprPtr shift() { return left_chain({"<<", ">>"}, &ExprParser::arith); }
  ExprPtr arith() { return left_chain({"+", "-"}, &ExprParser::term); }
  ExprPtr term() { return left_chain({"*", "/", "//", "%"}, &ExprParser::factor); }

  ExprPtr factor() {
    if (is_op("-") || is_op("+") || is_op("~")) {
      DepthGuard g(*this);
      auto e = make(ExprKind::Unary);
      e->name = peek().text;
      ++pos;
      e->a = factor();
      return e;
    }
    return power();
  }
  ExprPtr power() {
    ExprPtr base = primary();
    if (is_op("**")) {
      ++pos;
      DepthGuard g(*this);
      return binary(ExprKind::Binary, "**", std::move(base), factor());
    }
    return base;
  }

  ExprPtr primary() {
    ExprPtr e = atom();
    int links = 0;
    while (true) {
      if (is_op(".")) {
        ++pos;
        if (peek().kind != Tok::Name || is_keyword(peek().text))
          fail("expected an attribute name after '.'");
        auto a = make(ExprKind::Attr);
        a->a = std::move(e);
        a->name = peek().text;
        ++pos;
        e = std::move(a);
      } else if (is_op("[")) {
        ++pos;
        e = subscript(std::move(e));
      } else if (is_op("(")) {
        ++pos;
        e = call(std::move(e));
      } else {
        break;
      }
      deepen(links);
    }
    depth -= links;
    return e;
  }

  ExprPtr subscript(ExprPtr object) {
    ExprPtr parts[3];
    int colons = 0;
    while (true) {
      if (is_op(":")) {
        if (++colons > 2) fail("invalid slice");
        ++pos;
        continue;
      }
      if (is_op("]")) break;
      if (parts[colons]) fail("invalid subscript");
      parts[colons] = colons == 0 ? testlist() : test();
    }
    ++pos;
    if (colons == 0) {
      if (!parts[0]) fail("empty subscript");
      return binary(ExprKind::Index, "[]", std::move(object), std::move(parts[0]));
    }
    auto s = make(ExprKind::Slice);
    s->a = std::move(object);
    s->b = std::move(parts[0]);
    s->c = std::move(parts[1]);
    s->d = std::move(parts[2]);
    return s;
  }

  ExprPtr call(ExprPtr callee) {
    auto c = make(ExprKind::Call);
    c->a = std::move(callee);
    std::vector<ExprPtr> keyword_values;
    while (!is_op(")")) {
      if (is_op("*") || is_op("**")) fail("*args and **kwargs are not supported in templates");
      if (peek().kind == Tok::Name && is_op("=", 1) && !is_keyword(peek().text)) {
        c->keywords.push_back(peek().text);
        pos += 2;
        keyword_values.push_back(test());
      } else {
        if (!c->keywords.empty()) fail("positional argument follows keyword argument");
        ExprPtr arg = test();
        if (is_word("for")) arg = comprehension(std::move(arg));  // f(x for x in xs)
        c->items.push_back(std::move(arg));
      }
      if (!is_op(",")) break;
      ++pos;
    }
    expect_op(")");
    for (auto& v : keyword_values) c->items.push_back(std::move(v));
    return c;
  }

  ExprPtr comprehension(ExprPtr element) {
    auto lc = make(ExprKind::ListComp);
    lc->a = std::move(element);
    while (is_word("for")) {
      ++pos;
      Comprehension comp;
      comp.target = target_list();
      if (!is_word("in")) fail("expected 'in' in comprehension");
      ++pos;
      comp.iter = or_test();
      while (is_word("if")) {
        ++pos;
        comp.conditions.push_back(or_test());
      }
      lc->comprehensions.push_back(std::move(comp));
    }
    return lc;
  }

  ExprPtr atom() {
    const Token& t = peek();
    switch (t.kind) {
      case Tok::End:
        fail("unexpected end of expression");
      case Tok::Number: {
        auto e = make(ExprKind::Literal);
        e->literal = t.number;
        ++pos;
        return e;
      }
      case Tok::String: {
        auto e = make(ExprKind::Literal);
        e->literal = t.text;
        ++pos;
        return e;
      }
      case Tok::Name: {
        auto e = make(ExprKind::Literal);
        if (t.text == "True") {
          e->literal = true;
        } else if (t.text == "False") {
          e->literal = false;
        } else if (t.text == "None") {
          e->literal = nullptr;
        } else if (is_keyword(t.text)) {
          fail("unexpected '" + t.text + "' in expression");
        } else {
          e->kind = ExprKind::Name;
          e->name = t.text;
        }
        ++pos;
        return e;
      }
      case Tok::Op:
        break;
    }
    // Brackets nest: each level counts against max_expression_depth (as Python's 200).
    DepthGuard g(*this);
    if (is_op("(")) {
      ++pos;
      if (is_op(")")) {
        ++pos;
        return make(ExprKind::Tuple);
      }
      ExprPtr first = test();
      if (is_word("for")) {
        first = comprehension(std::move(first));
        expect_op(")");
        return first;
      }
      if (is_op(")")) {
        ++pos;
        return first;
      }
      auto tup = make(ExprKind::Tuple);
      tup->items.push_back(std::move(first));
      while (is_op(",")) {
        ++pos;
        if (is_op(")")) break;
        tup->items.push_back(test());
      }
      expect_op(")");
      return tup;
    }
    if (is_op("[")) {
      ++pos;
      auto list = make(ExprKind::List);
      if (!is_op("]")) {
        ExprPtr first = test();
        if (is_word("for")) {
          first = comprehension(std::move(first));
          expect_op("]");
          return first;
        }
        list->items.push_back(std::move(first));
        while (is_op(",")) {
          ++pos;
          if (is_op("]")) break;
          list->items.push_back(test());
        }
      }
      expect_op("]");
      return list;
    }
    if (is_op("{")) {
      ++pos;
      auto dict = make(ExprKind::Dict);
      while (!is_op("}")) {
        dict->items.push_back(test());
        if (!is_op(":")) fail("sets are not supported in templates (expected ':' in a dict)");
        ++pos;
        dict->items.push_back(test());
        if (!is_op(",")) break;
        ++pos;
      }
      expect_op("}");
      return dict;
    }
    fail("unexpected " + describe(t) + " in expression");
  }

  Target target_atom() {
    DepthGuard g(*this);
    if (is_op("(") || is_op("[")) {
      std::string close = is_op("(") ? ")" : "]";
      ++pos;
      Target t = target_list();
      if (!t.is_tuple()) {
        Target wrapped;
        wrapped.items.push_back(std::move(t));
        t = std::move(wrapped);
        if (!is_op(",") && close == ")") {  // "(x)" is just x
          Target inner = std::move(t.items[0]);
          expect_op(close);
          return inner;
        }
      }
      expect_op(close);
      return t;
    }
    if (peek().kind != Tok::Name || is_keyword(peek().text))
      fail("expected a variable name, found " + describe(peek()));
    Target t;
    t.name = peek().text;
    ++pos;
    return t;
  }

  Target target_list() {
    Target first = target_atom();
    if (!is_op(",")) return first;
    Target tuple;
    tuple.items.push_back(std::move(first));
    while (is_op(",")) {
      ++pos;
      if (is_word("in") || is_op("=") || is_op(")") || is_op("]") || at_end()) break;
      tuple.items.push_back(target_atom());
    }
    return tuple;
  }

  void expect_end() {
    if (!at_end()) fail("unexpected " + describe(peek()) + " in expression");
  }
};

ExprPtr parse_expression(std::string_view text, const File& file, int line) {
  ExprParser p(text, file, line);
  ExprPtr e = p.testlist();
  p.expect_end();
  return e;
}

Target parse_for_header(std::string_view text, const File& file, int line, ExprPtr& iterable) {
  ExprParser p(text, file, line);
  Target t = p.target_list();
  if (!p.is_word("in")) p.fail("expected 'in' in for directive");
  ++p.pos;
  iterable = p.testlist();
  p.expect_end();
  return t;
}

namespace {
Target expr_to_target(const Expr& e, const ExprParser& p) {
  Target t;
  if (e.kind == ExprKind::Name) {
    t.name = e.name;
  } else if (e.kind == ExprKind::Tuple || e.kind == ExprKind::List) {
    for (const auto& item : e.items) t.items.push_back(expr_to_target(*item, p));
    if (t.items.empty()) p.fail("cannot assign to ()");
  } else {
    p.fail("set can only assign to names and tuples of names");
  }
  return t;
}
}  // namespace

void parse_assignment(std::string_view text, const File& file, int line, Node& node) {
  ExprParser p(text, file, line);
  ExprPtr e = p.testlist();
  static constexpr std::string_view aug[] = {
      "+=", "-=", "*=", "/=", "//=", "%=", "**=", "&=", "|=", "^=", "<<=", ">>="};
  for (auto a : aug) {
    if (p.is_op(a)) {
      if (e->kind != ExprKind::Name) p.fail("augmented assignment needs a single name");
      ++p.pos;
      node.set_targets.push_back(expr_to_target(*e, p));
      node.aug_op = std::string(a.substr(0, a.size() - 1));
      node.expr = p.testlist();
      p.expect_end();
      return;
    }
  }
  if (!p.is_op("=")) {
    // A bare expression statement ({% set f(x) %}): evaluated for its effect.
    p.expect_end();
    node.expr = std::move(e);
    return;
  }
  while (p.is_op("=")) {
    ++p.pos;
    node.set_targets.push_back(expr_to_target(*e, p));
    e = p.testlist();
  }
  p.expect_end();
  node.expr = std::move(e);
}

void parse_except(std::string_view text, const File& file, int line, ExceptClause& clause) {
  if (text.empty()) return;
  ExprParser p(text, file, line);
  ExprPtr e = p.test();
  std::vector<const Expr*> names;
  if (e->kind == ExprKind::Tuple) {
    for (const auto& item : e->items) names.push_back(item.get());
  } else {
    names.push_back(e.get());
  }
  for (const Expr* n : names) {
    if (n->kind != ExprKind::Name) p.fail("except takes exception class names");
    clause.types.push_back(n->name);
  }
  if (p.is_word("as")) {
    ++p.pos;
    if (p.peek().kind != Tok::Name) p.fail("expected a name after 'as'");
    clause.as_name = p.peek().text;
    ++p.pos;
  }
  p.expect_end();
}

}  // namespace tornado::templates::detail
