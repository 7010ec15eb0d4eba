// OptionParser::parse_config_file: `name = value` lines whose values are Python literals.
// Tornado executes the file as Python; here the file is data, read by a small literal
// parser, and then applied with Tornado's rules (a string for a non-string option is parsed
// as on the command line; anything else must already have the option's type).
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "internal/options_parse.h"
#include "tornado/options.h"

namespace tornado::options {

namespace {

constexpr std::size_t kMaxConfigBytes = 16 * 1024 * 1024;
constexpr int kMaxListDepth = 64;

struct Literal {
  enum Kind { None, Bool, Int, Float, Str, List } kind = None;
  bool b = false;
  std::int64_t i = 0;
  double f = 0;
  std::string s;
  std::vector<Literal> list;

  static Literal of(Kind kind) {
    Literal l;
    l.kind = kind;
    return l;
  }
  static Literal boolean(bool v) {
    Literal l = of(Bool);
    l.b = v;
    return l;
  }
  static Literal integer(std::int64_t v) {
    Literal l = of(Int);
    l.i = v;
    return l;
  }
  static Literal real(double v) {
    Literal l = of(Float);
    l.f = v;
    return l;
  }
  static Literal str(std::string v) {
    Literal l = of(Str);
    l.s = std::move(v);
    return l;
  }

  std::string_view kind_name() const {
    static constexpr std::string_view names[] = {"NoneType", "bool", "int", "float", "str", "list"};
    return names[kind];
  }
};

void append_utf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | cp >> 6));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | cp >> 12));
    out.push_back(static_cast<char>(0x80 | (cp >> 6 & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | cp >> 18));
    out.push_back(static_cast<char>(0x80 | (cp >> 12 & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp >> 6 & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

bool is_ident_start(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
         static_cast<unsigned char>(c) >= 0x80;
}
bool is_ident(char c) { return is_ident_start(c) || (c >= '0' && c <= '9'); }

class ConfigReader {
 public:
  ConfigReader(std::string_view text, std::string path, std::string abs_path)
      : text_(text), path_(std::move(path)), abs_path_(std::move(abs_path)) {}

  // name -> value in first-assignment order, later assignments replacing the value.
  std::vector<std::pair<std::string, Literal>> read() {
    std::vector<std::pair<std::string, Literal>> out;
    while (true) {
      skip_blank_lines();
      if (pos_ >= text_.size()) break;
      std::size_t statement_line = line_;
      std::string name = identifier();
      if (name.empty()) fail("expected `name = value`");
      skip_inline_space();
      if (peek() != '=' || peek(1) == '=') fail("expected '=' after " + name);
      ++pos_;
      skip_inline_space();
      Literal value = expression(0);
      skip_inline_space();
      if (peek() == '#') skip_comment();
      if (pos_ < text_.size() && peek() != '\n' && peek() != ';') {
        fail("unexpected text after the value of " + name);
      }
      if (peek() == ';') ++pos_;
      (void)statement_line;
      auto it = std::find_if(out.begin(), out.end(), [&](auto& p) { return p.first == name; });
      if (it != out.end()) {
        it->second = std::move(value);
      } else {
        out.emplace_back(std::move(name), std::move(value));
      }
    }
    return out;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw Error(path_ + ":" + std::to_string(line_) + ": " + what +
                " (config files hold `name = value` lines with Python literal values)");
  }

  char peek(std::size_t ahead = 0) const {
    return pos_ + ahead < text_.size() ? text_[pos_ + ahead] : '\0';
  }

  void skip_comment() {
    while (pos_ < text_.size() && text_[pos_] != '\n') ++pos_;
  }

  void skip_inline_space() {
    while (pos_ < text_.size()) {
      char c = text_[pos_];
      if (c == ' ' || c == '\t' || c == '\f' || c == '\r') {
        ++pos_;
      } else if (c == '\\' && peek(1) == '\n') {  // explicit line joining
        pos_ += 2;
        ++line_;
      } else {
        break;
      }
    }
  }

  // Inside brackets newlines and comments are whitespace too.
  void skip_space_in_brackets() {
    while (pos_ < text_.size()) {
      skip_inline_space();
      if (peek() == '#') skip_comment();
      if (peek() == '\n') {
        ++pos_;
        ++line_;
      } else {
        break;
      }
    }
  }

  void skip_blank_lines() {
    while (pos_ < text_.size()) {
      skip_inline_space();
      if (peek() == '#') skip_comment();
      if (peek() == '\n' || peek() == ';') {
        if (peek() == '\n') ++line_;
        ++pos_;
      } else {
        break;
      }
    }
  }

  std::string identifier() {
    if (!is_ident_start(peek())) return {};
    std::size_t start = pos_;
    while (pos_ < text_.size() && is_ident(text_[pos_])) ++pos_;
    return std::string(text_.substr(start, pos_ - start));
  }

  Literal expression(int depth) {
    if (depth > kMaxListDepth) fail("lists nested too deeply");
    char c = peek();
    if (c == '-' || c == '+') {
      ++pos_;
      skip_inline_space();
      Literal operand = expression(depth + 1);
      if (operand.kind == Literal::Bool) {
        operand = Literal::integer(operand.b ? 1 : 0);
      }
      if (operand.kind == Literal::Int) {
        if (c == '-') {
          if (operand.i == INT64_MIN) fail("integer out of range");
          operand.i = -operand.i;
        }
      } else if (operand.kind == Literal::Float) {
        if (c == '-') operand.f = -operand.f;
      } else {
        fail(std::string("bad operand for unary ") + c);
      }
      return operand;
    }
    if (c == '[') return list(depth);
    if (c == '"' || c == '\'') return strings();
    if ((c >= '0' && c <= '9') || (c == '.' && peek(1) >= '0' && peek(1) <= '9')) return number();
    std::size_t start = pos_;
    std::string word = identifier();
    if (word == "True" || word == "False") return Literal::boolean(word == "True");
    if (word == "None") return Literal{};
    if (word == "__file__") return Literal::str(abs_path_);
    std::string lower = word;
    for (char& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    if ((lower == "r" || lower == "u") && (peek() == '"' || peek() == '\'')) {
      pos_ = start;
      return strings();
    }
    if ((lower == "b" || lower == "rb" || lower == "br") && (peek() == '"' || peek() == '\'')) {
      fail("bytes literals are not option values");
    }
    if (word.empty()) fail("expected a value");
    fail("`" + word + "` is not a literal (only strings, numbers, True/False/None and lists)");
  }

  Literal list(int depth) {
    ++pos_;  // '['
    Literal out = Literal::of(Literal::List);
    while (true) {
      skip_space_in_brackets();
      if (peek() == ']') {
        ++pos_;
        return out;
      }
      if (pos_ >= text_.size()) fail("unclosed '['");
      out.list.push_back(expression(depth + 1));
      if (out.list.size() > internal::kMaxListItems) fail("list too long");
      skip_space_in_brackets();
      if (peek() == ',') {
        ++pos_;
      } else if (peek() != ']') {
        fail("expected ',' or ']' in a list");
      }
    }
  }

  // One or more adjacent string literals (Python concatenates them).
  Literal strings() {
    Literal out = Literal::of(Literal::Str);
    do {
      out.s += string_literal();
      skip_inline_space();
    } while (peek() == '"' || peek() == '\'' ||
             ((peek() == 'r' || peek() == 'R' || peek() == 'u' || peek() == 'U') &&
              (peek(1) == '"' || peek(1) == '\'')));
    return out;
  }

  std::string string_literal() {
    bool raw = false;
    while (peek() == 'r' || peek() == 'R' || peek() == 'u' || peek() == 'U') {
      raw = raw || peek() == 'r' || peek() == 'R';
      ++pos_;
    }
    char quote = peek();
    bool triple = peek(1) == quote && peek(2) == quote;
    pos_ += triple ? 3 : 1;
    std::string out;
    while (true) {
      if (pos_ >= text_.size()) fail("unterminated string");
      char c = text_[pos_];
      if (c == quote && (!triple || (peek(1) == quote && peek(2) == quote))) {
        pos_ += triple ? 3 : 1;
        return out;
      }
      if (c == '\n') {
        if (!triple) fail("unterminated string");
        ++line_;
      }
      if (c == '\\' && pos_ + 1 < text_.size()) {
        if (raw) {
          out.push_back(c);
          out.push_back(text_[pos_ + 1]);
          if (text_[pos_ + 1] == '\n') ++line_;
          pos_ += 2;
          continue;
        }
        ++pos_;
        escape(out);
        continue;
      }
      out.push_back(c);
      ++pos_;
    }
  }

  void escape(std::string& out) {
    char e = text_[pos_++];
    auto hex = [&](int digits) {
      std::uint32_t cp = 0;
      for (int k = 0; k < digits; ++k) {
        char h = peek();
        int v = (h >= '0' && h <= '9')   ? h - '0'
                : (h >= 'a' && h <= 'f') ? h - 'a' + 10
                : (h >= 'A' && h <= 'F') ? h - 'A' + 10
                                         : -1;
        if (v < 0) fail("truncated \\x, \\u or \\U escape");
        cp = cp * 16 + static_cast<std::uint32_t>(v);
        ++pos_;
      }
      return cp;
    };
    switch (e) {
      case '\n':
        ++line_;
        break;
      case '\\':
        out.push_back('\\');
        break;
      case '\'':
        out.push_back('\'');
        break;
      case '"':
        out.push_back('"');
        break;
      case 'a':
        out.push_back('\a');
        break;
      case 'b':
        out.push_back('\b');
        break;
      case 'f':
        out.push_back('\f');
        break;
      case 'n':
        out.push_back('\n');
        break;
      case 'r':
        out.push_back('\r');
        break;
      case 't':
        out.push_back('\t');
        break;
      case 'v':
        out.push_back('\v');
        break;
      case 'x':
        append_utf8(out, hex(2));
        break;
      case 'u':
        append_utf8(out, hex(4));
        break;
      case 'U': {
        std::uint32_t cp = hex(8);
        if (cp > 0x10FFFF) fail("\\U escape past U+10FFFF");
        append_utf8(out, cp);
        break;
      }
      default:
        if (e >= '0' && e <= '7') {
          std::uint32_t cp = static_cast<std::uint32_t>(e - '0');
          for (int k = 0; k < 2 && peek() >= '0' && peek() <= '7'; ++k) {
            cp = cp * 8 + static_cast<std::uint32_t>(text_[pos_++] - '0');
          }
          append_utf8(out, cp);
        } else {
          out.push_back('\\');  // unknown escapes stay as written, as in Python
          out.push_back(e);
        }
    }
  }

  Literal number() {
    std::size_t start = pos_;
    auto digits_of = [&](auto accept) {
      while (pos_ < text_.size() && (accept(text_[pos_]) || text_[pos_] == '_')) ++pos_;
    };
    auto dec = [](char c) { return c >= '0' && c <= '9'; };
    if (peek() == '0' && (peek(1) == 'x' || peek(1) == 'X' || peek(1) == 'o' || peek(1) == 'O' ||
                          peek(1) == 'b' || peek(1) == 'B')) {
      char base_char = static_cast<char>(std::tolower(static_cast<unsigned char>(peek(1))));
      int base = base_char == 'x' ? 16 : base_char == 'o' ? 8 : 2;
      pos_ += 2;
      std::size_t body = pos_;
      digits_of([](char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; });
      std::string clean;
      for (char c : text_.substr(body, pos_ - body)) {
        if (c != '_') clean.push_back(c);
      }
      errno = 0;
      char* end = nullptr;
      unsigned long long v = std::strtoull(clean.c_str(), &end, base);
      if (clean.empty() || *end != '\0' || errno == ERANGE || v > INT64_MAX) {
        fail("bad integer literal");
      }
      return Literal::integer(static_cast<std::int64_t>(v));
    }
    digits_of(dec);
    bool is_float = false;
    if (peek() == '.') {
      is_float = true;
      ++pos_;
      digits_of(dec);
    }
    if (peek() == 'e' || peek() == 'E') {
      is_float = true;
      ++pos_;
      if (peek() == '+' || peek() == '-') ++pos_;
      digits_of(dec);
    }
    if (is_ident(peek())) fail("bad number literal");
    std::string_view token = text_.substr(start, pos_ - start);
    try {
      if (is_float) return Literal::real(internal::parse_float(token));
      return Literal::integer(internal::parse_int(token));
    } catch (const Error& e) {
      fail(e.what());
    }
  }

  std::string_view text_;
  std::string path_;
  std::string abs_path_;
  std::size_t pos_ = 0;
  std::size_t line_ = 1;
};

// A literal as a value of `type`, or nullopt when it is not one (Python's isinstance).
std::optional<Scalar> literal_scalar(const Literal& v, Type type) {
  switch (v.kind) {
    case Literal::Bool:
      if (type == Type::Bool) return v.b;
      if (type == Type::Int) return static_cast<std::int64_t>(v.b);  // bool is an int
      return std::nullopt;
    case Literal::Int:
      if (type == Type::Int) return v.i;
      return std::nullopt;
    case Literal::Float:
      if (type == Type::Double) return v.f;
      return std::nullopt;
    case Literal::Str:
      if (type == Type::String) return v.s;
      return std::nullopt;
    default:
      return std::nullopt;
  }
}

}  // namespace

void OptionParser::parse_config_file(const std::string& path, bool final) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("cannot open config file " + path + ": " + std::strerror(errno));
  std::string text;
  char buffer[64 * 1024];
  while (in.read(buffer, sizeof buffer) || in.gcount() > 0) {
    text.append(buffer, static_cast<std::size_t>(in.gcount()));
    if (text.size() > kMaxConfigBytes) throw Error("config file " + path + " is over 16 MiB");
  }
  std::error_code ec;
  std::string abs_path = std::filesystem::absolute(path, ec).lexically_normal().string();

  auto assignments = ConfigReader(text, path, abs_path).read();
  for (auto& [name, literal] : assignments) {
    const Option* option = find_ptr(name);
    if (option == nullptr) continue;  // other names are the file's own variables
    std::string kind(type_name(option->type));
    auto wrong = [&](const std::string& wanted) {
      return Error(path + ": Option " + internal::python_repr_string(option->name) +
                   " is required to be " + wanted + " (" + std::string(literal.kind_name()) +
                   " given)");
    };
    if (literal.kind == Literal::Str && (option->type != Type::String || option->multiple)) {
      // Tornado parses a string for a non-string option as on the command line; for a
      // multiple option, as the comma-separated list its documentation promises.
      parse_value(name, literal.s);
      continue;
    }
    if (option->multiple) {
      if (literal.kind != Literal::List) {
        throw wrong("a list of " + kind + " or a comma-separated string");
      }
      std::vector<Scalar> items;
      for (const Literal& item : literal.list) {
        auto scalar = literal_scalar(item, option->type);
        if (!scalar) throw wrong("a list of " + kind);
        items.push_back(std::move(*scalar));
      }
      set(name, Value::list(option->type, std::move(items)));
      continue;
    }
    if (literal.kind == Literal::None) {
      set(name, Value::none(option->type));
      continue;
    }
    auto scalar = literal_scalar(literal, option->type);
    if (!scalar) throw wrong("a " + kind);
    set(name, Value(option->type, std::move(*scalar)));
  }
  if (final) run_parse_callbacks();
}

}  // namespace tornado::options
