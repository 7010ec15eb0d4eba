// The template reader: splits the source into text, {{ }}, {% %} and {# #} the way Tornado's
// _parse does (innermost curlies, the {{! escapes, a trailing '{' is text), and builds the
// directive tree with its block structure checked at parse time.
#include <string>
#include <string_view>

#include "internal/template_ast.h"

namespace tornado::templates::detail {
namespace {

// Python's str.isspace() on one code point (what \s matches in a str regex).
bool is_py_space(std::uint32_t cp) {
  return (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x20) || cp == 0x85 || cp == 0xA0 ||
         cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 ||
         cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

// Length of the whitespace code point at text[i], 0 if none.
std::size_t space_at(std::string_view text, std::size_t i) {
  unsigned char c = text[i];
  if (c < 0x80) return is_py_space(c) ? 1 : 0;
  std::uint32_t cp = 0;
  std::size_t n = 0;
  if ((c & 0xE0) == 0xC0) {
    cp = c & 0x1F;
    n = 2;
  } else if ((c & 0xF0) == 0xE0) {
    cp = c & 0x0F;
    n = 3;
  } else {
    return 0;
  }
  if (i + n > text.size()) return 0;
  for (std::size_t k = 1; k < n; ++k) {
    if ((static_cast<unsigned char>(text[i + k]) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (text[i + k] & 0x3F);
  }
  return is_py_space(cp) ? n : 0;
}

std::string_view py_strip(std::string_view s) {
  while (!s.empty() && space_at(s, 0)) s.remove_prefix(space_at(s, 0));
  while (!s.empty()) {
    // Find the start of the last code point.
    std::size_t i = s.size() - 1;
    while (i > 0 && (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) --i;
    std::size_t n = space_at(s, i);
    if (n == 0 || i + n != s.size()) break;
    s.remove_suffix(n);
  }
  return s;
}

std::string_view strip_chars(std::string_view s, char c) {
  while (!s.empty() && s.front() == c) s.remove_prefix(1);
  while (!s.empty() && s.back() == c) s.remove_suffix(1);
  return s;
}

class Reader {
 public:
  Reader(File& file, std::string_view text, std::string whitespace)
      : file_(file), text_(text), whitespace_(std::move(whitespace)) {}

  [[noreturn]] void fail(const std::string& what) const {
    throw ParseError(what, file_.name, line_);
  }

  Body parse(std::string_view in_block, bool in_loop, int block_depth, std::string* stopped_at,
             int* stop_line) {
    if (block_depth > file_.options.max_block_depth)
      fail("blocks nested too deeply (more than " + std::to_string(file_.options.max_block_depth) +
           " levels)");
    Body body;
    while (true) {
      std::size_t curly = pos_;
      while (true) {
        curly = text_.find('{', curly);
        if (curly == std::string_view::npos || curly + 1 == text_.size()) {
          if (!in_block.empty()) fail("Missing {% end %} block for " + std::string(in_block));
          add_text(body, consume(text_.size() - pos_));
          return body;
        }
        char next = text_[curly + 1];
        if (next != '{' && next != '%' && next != '#') {
          ++curly;
          continue;
        }
        // More than two curlies in a row: use the innermost ones.
        if (curly + 2 < text_.size() && next == '{' && text_[curly + 2] == '{') {
          ++curly;
          continue;
        }
        break;
      }
      if (curly > pos_) add_text(body, consume(curly - pos_));
      std::string start_brace(consume(2));
      int line = line_;
      if (pos_ < text_.size() && text_[pos_] == '!') {
        consume(1);
        add_text(body, start_brace);
        continue;
      }
      if (start_brace == "{#") {
        if (text_.find("#}", pos_) == std::string_view::npos) fail("Missing end comment #}");
        consume(text_.find("#}", pos_) - pos_ + 2);
        continue;
      }
      if (start_brace == "{{") {
        std::size_t end = text_.find("}}", pos_);
        if (end == std::string_view::npos) fail("Missing end expression }}");
        std::string_view contents = py_strip(consume(end - pos_));
        consume(2);
        if (contents.empty()) fail("Empty expression");
        Node n{NodeKind::Expression};
        n.line = line;
        n.expr = parse_expression(contents, file_, line);
        body.push_back(std::move(n));
        continue;
      }
      std::size_t end = text_.find("%}", pos_);
      if (end == std::string_view::npos) fail("Missing end block %}");
      std::string_view contents = py_strip(consume(end - pos_));
      consume(2);
      if (contents.empty()) fail("Empty block tag ({% %})");
      std::size_t space = contents.find(' ');
      std::string_view op = contents.substr(0, space);
      std::string_view suffix = space == std::string_view::npos
                                    ? std::string_view()
                                    : py_strip(contents.substr(space + 1));

      if (op == "else" || op == "elif" || op == "except" || op == "finally") {
        bool allowed = op == "else"   ? (in_block == "if" || in_block == "for" ||
                                       in_block == "while" || in_block == "try")
                       : op == "elif" ? in_block == "if"
                                      : in_block == "try";
        if (in_block.empty()) fail(std::string(op) + " outside " + parents_of(op) + " block");
        if (!allowed)
          fail(std::string(op) + " block cannot be attached to " + std::string(in_block) +
               " block");
        if (stopped_at) *stopped_at = std::string(contents);
        if (stop_line) *stop_line = line;
        return body;
      }
      if (op == "end") {
        if (in_block.empty()) fail("Extra {% end %} block");
        if (stopped_at) *stopped_at = "end";
        return body;
      }
      if (op == "comment") continue;
      if (op == "autoescape") {
        file_.autoescape = suffix == "None" ? std::nullopt : std::optional<std::string>(suffix);
        continue;
      }
      if (op == "whitespace") {
        if (!valid_whitespace_mode(suffix)) fail("invalid whitespace mode " + std::string(suffix));
        whitespace_ = std::string(suffix);
        continue;
      }
      Node n{NodeKind::Noop};
      n.line = line;
      if (op == "extends" || op == "include") {
        std::string_view path = strip_chars(strip_chars(suffix, '"'), '\'');
        if (path.empty()) fail(std::string(op) + " missing file path");
        n.kind = op == "extends" ? NodeKind::Extends : NodeKind::Include;
        n.text = std::string(path);
        if (op == "extends") {
          if (block_depth != 0) fail("{% extends %} must be at the top level of a template");
          file_.extends.push_back(n.text);
        }
        file_.has_blocks_or_includes = true;
      } else if (op == "import" || op == "from") {
        if (suffix.empty()) fail("import missing statement");
      } else if (op == "set") {
        if (suffix.empty()) fail("set missing statement");
        n.kind = NodeKind::Set;
        parse_assignment(suffix, file_, line, n);
      } else if (op == "raw" || op == "module") {
        if (suffix.empty()) fail(std::string(op) + " missing expression");
        n.kind = NodeKind::Expression;
        n.raw = true;
        n.expr = parse_expression(suffix, file_, line);
      } else if (op == "apply" || op == "block" || op == "try" || op == "if" || op == "for" ||
                 op == "while") {
        parse_block(n, op, suffix, in_loop, block_depth);
      } else if (op == "break" || op == "continue") {
        if (!in_loop) fail(std::string(op) + " outside {'for', 'while'} block");
        n.kind = op == "break" ? NodeKind::Break : NodeKind::Continue;
      } else {
        fail("unknown operator: '" + std::string(op) + "'");
      }
      body.push_back(std::move(n));
    }
  }

 private:
  static std::string parents_of(std::string_view op) {
    if (op == "else") return "{'if', 'for', 'while', 'try'}";
    if (op == "elif") return "{'if'}";
    return "{'try'}";
  }

  void parse_block(Node& n, std::string_view op, std::string_view suffix, bool in_loop,
                   int block_depth) {
    int line = n.line;
    bool body_in_loop = op == "for" || op == "while" ? true : op == "apply" ? false : in_loop;
    std::string stop;
    int stop_line = line;
    auto sub = [&](std::string_view block) {
      stop.clear();
      return parse(block, body_in_loop, block_depth + 1, &stop, &stop_line);
    };
    if (op == "apply") {
      if (suffix.empty()) fail("apply missing method name");
      n.kind = NodeKind::Apply;
      n.expr = parse_expression(suffix, file_, line);
      n.body = sub(op);
    } else if (op == "block") {
      if (suffix.empty()) fail("block missing name");
      n.kind = NodeKind::Block;
      n.text = std::string(suffix);
      n.body = sub(op);
      file_.has_blocks_or_includes = true;
    } else if (op == "if" || op == "while") {
      if (suffix.empty()) fail(std::string(op) + " missing condition");
      n.kind = op == "if" ? NodeKind::If : NodeKind::While;
      n.expr = parse_expression(suffix, file_, line);
      n.body = sub(op);
    } else if (op == "for") {
      n.kind = NodeKind::For;
      n.target = parse_for_header(suffix, file_, line, n.expr);
      n.body = sub(op);
    } else {
      if (!suffix.empty()) fail("try takes no argument");
      n.kind = NodeKind::Try;
      n.body = sub(op);
    }
    // Intermediate clauses, in the order Python allows them.
    bool seen_else = false;
    while (stop != "end") {
      std::string clause = stop;
      std::size_t space = clause.find(' ');
      std::string word = clause.substr(0, space);
      std::string_view arg = space == std::string::npos
                                 ? std::string_view()
                                 : py_strip(std::string_view(clause).substr(space + 1));
      auto fail_at = [&](const std::string& what) {
        throw ParseError(what, file_.name, stop_line);
      };
      if (seen_else && word != "finally") fail_at("'" + word + "' after else");
      if (n.finally_body) fail_at("'" + word + "' after finally");
      int clause_line = stop_line;
      if (word == "elif") {
        if (arg.empty()) fail_at("elif missing condition");
        ExprPtr cond = parse_expression(arg, file_, clause_line);
        n.elifs.emplace_back(std::move(cond), sub(op));
      } else if (word == "else") {
        if (!arg.empty()) fail_at("else takes no argument");
        if (n.kind == NodeKind::Try && n.handlers.empty())
          fail_at("try's else needs an except before it");
        seen_else = true;
        n.else_body = sub(op);
      } else if (word == "except") {
        ExceptClause c;
        parse_except(arg, file_, clause_line, c);
        c.body = sub(op);
        n.handlers.push_back(std::move(c));
      } else {  // finally
        if (!arg.empty()) fail_at("finally takes no argument");
        n.finally_body = sub(op);
      }
    }
    if (n.kind == NodeKind::Try && n.handlers.empty() && !n.finally_body)
      throw ParseError("try block needs an except or a finally", file_.name, line);
  }

  void add_text(Body& body, std::string_view value) {
    std::string filtered = value.find("<pre>") == std::string_view::npos
                               ? filter_whitespace(whitespace_, value)
                               : std::string(value);
    if (filtered.empty()) return;
    Node n{NodeKind::Text};
    n.line = line_;
    n.text = std::move(filtered);
    body.push_back(std::move(n));
  }

  std::string_view consume(std::size_t count) {
    std::string_view s = text_.substr(pos_, count);
    for (char c : s) line_ += c == '\n';
    pos_ += s.size();
    return s;
  }

  File& file_;
  std::string_view text_;
  std::string whitespace_;
  std::size_t pos_ = 0;
  int line_ = 1;
};

}  // namespace

bool valid_whitespace_mode(std::string_view mode) {
  return mode == "all" || mode == "single" || mode == "oneline";
}

std::string filter_whitespace(std::string_view mode, std::string_view text) {
  if (mode == "all") return std::string(text);
  std::string out;
  out.reserve(text.size());
  std::size_t i = 0;
  while (i < text.size()) {
    std::size_t n = space_at(text, i);
    if (n == 0) {
      out += text[i++];
      continue;
    }
    // A maximal run of whitespace.
    std::size_t start = i;
    bool newline = false;
    while (i < text.size() && (n = space_at(text, i)) != 0) {
      newline |= text[i] == '\n';
      i += n;
    }
    if (mode == "oneline") {
      out += ' ';
    } else if (newline) {
      out += '\n';
    } else {
      // "single" without a newline: runs of [\t ] become one space, other spaces stay.
      for (std::size_t k = start; k < i;) {
        std::size_t m = space_at(text, k);
        if (text[k] == ' ' || text[k] == '\t') {
          out += ' ';
          while (k < i && (text[k] == ' ' || text[k] == '\t')) ++k;
        } else {
          out.append(text.substr(k, m));
          k += m;
        }
      }
    }
  }
  return out;
}

void parse_template(File& file, std::string_view source, const std::string& whitespace) {
  Reader reader(file, source, whitespace);
  file.body = reader.parse({}, false, 0, nullptr, nullptr);
}

}  // namespace tornado::templates::detail
