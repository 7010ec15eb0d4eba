// The parsed form of a template: expression trees and directive nodes. Internal to
// src/template*.cpp.
#pragma once

#include <atomic>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "tornado/template.h"

namespace tornado::templates::detail {

using json = nlohmann::json;

enum class ExprKind {
  Literal,   // literal
  Name,      // name
  List,      // items
  Tuple,     // items (a list at run time)
  Dict,      // items: key, value, key, value...
  Attr,      // a.name
  Index,     // a[b]
  Slice,     // a[b:c:d]; b, c, d may be null
  Call,      // a(items..., keywords=...): the last keywords.size() items are keyword values
  Unary,     // op a  ("-", "+", "~", "not")
  Binary,    // a op b (arithmetic, bitwise)
  And,       // a and b
  Or,        // a or b
  Compare,   // items[0] ops[0] items[1] ops[1] items[2] ...
  Cond,      // a if b else c
  ListComp,  // [a for ... in ... if ...]; also a generator expression passed to a call
};

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

// An assignment target: a name, or a (possibly nested) tuple to unpack into.
struct Target {
  std::string name;  // empty for a tuple
  std::vector<Target> items;
  bool is_tuple() const { return name.empty(); }
};

struct Comprehension {
  Target target;
  ExprPtr iter;
  std::vector<ExprPtr> conditions;
};

struct Expr {
  ExprKind kind;
  json literal;
  std::string name;  // Name, Attr; the operator of Unary and Binary
  std::vector<ExprPtr> items;
  std::vector<std::string> keywords;  // Call
  std::vector<std::string> ops;       // Compare: "<", "==", "in", "not in", "is", "is not"...
  ExprPtr a, b, c, d;
  std::vector<Comprehension> comprehensions;  // ListComp
};

enum class NodeKind {
  Text,
  Expression,  // {{ }}, {% raw %}, {% module %} (raw = true for the last two)
  If,
  For,
  While,
  Set,
  Try,
  Include,
  Extends,
  Block,
  Apply,
  Break,
  Continue,
  Noop,  // import/from
};

struct Node;
using Body = std::vector<Node>;

struct ExceptClause {
  std::vector<std::string> types;  // empty: bare except
  std::string as_name;
  Body body;
};

struct Node {
  explicit Node(NodeKind k) : kind(k) {}
  NodeKind kind;
  int line = 0;
  std::string text;  // Text (already whitespace-filtered); Include/Extends/Block name
  bool raw = false;
  ExprPtr expr;   // Expression value, If/While condition, For iterable, Set value, Apply function
  Target target;  // For
  std::vector<Target> set_targets;  // Set: a = b = value
  std::string aug_op;               // Set: "+" for "+=", ... empty for "="
  Body body;
  std::vector<std::pair<ExprPtr, Body>> elifs;  // If
  std::optional<Body> else_body;                // If, For, While, Try
  std::vector<ExceptClause> handlers;           // Try
  std::optional<Body> finally_body;             // Try
};

struct File {
  static const File& of(const Template& t) { return *t.file_; }

  std::string name;
  std::optional<std::string> autoescape;
  Body body;
  TemplateOptions options;
  bool has_blocks_or_includes = false;            // a render needs the named-block map
  std::vector<std::string> extends;               // names in the top-level {% extends %}, in order
  const Template* owner = nullptr;                // kept current by Template's move operations
  mutable std::atomic<std::size_t> size_hint{0};  // the last output's size, to reserve
};

// Parses a template source into `file` (name and options set by the caller).
void parse_template(File& file, std::string_view source, const std::string& whitespace);

// Parses the text of one expression / directive argument. `line` is for errors.
ExprPtr parse_expression(std::string_view text, const File& file, int line);
Target parse_for_header(std::string_view text, const File& file, int line, ExprPtr& iterable);
void parse_assignment(std::string_view text, const File& file, int line, Node& node);
// {% except X, (A, B) as e %} arguments.
void parse_except(std::string_view text, const File& file, int line, ExceptClause& clause);

// Whitespace modes.
bool valid_whitespace_mode(std::string_view mode);
std::string filter_whitespace(std::string_view mode, std::string_view text);

}  // namespace tornado::templates::detail
