// The expression tokenizer: Python's names, numbers (0x/0o/0b, '_', floats, exponents),
// string literals (quotes, triple quotes, r/u/b prefixes, every escape, adjacent literals
// joined) and operators.
#include "internal/template_lexer.h"

#include <cctype>
#include <charconv>
#include <cmath>
#include <cstring>
#include <string>
#include <string_view>

namespace tornado::templates::detail {
namespace {

bool is_name_start(unsigned char c) { return c == '_' || std::isalpha(c) || c >= 0x80; }
bool is_name_char(unsigned char c) { return is_name_start(c) || std::isdigit(c); }

void append_utf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

class Lexer {
 public:
  Lexer(std::string_view text, const File& file, int line) : s_(text), file_(file), line_(line) {}

  [[noreturn]] void fail(const std::string& what) const {
    throw ParseError(what, file_.name, line_);
  }

  std::vector<Token> run() {
    std::vector<Token> out;
    while (true) {
      while (pos_ < s_.size() &&
             (std::isspace(static_cast<unsigned char>(s_[pos_])) || s_[pos_] == '\\')) {
        if (s_[pos_] == '\\' && (pos_ + 1 >= s_.size() || s_[pos_ + 1] != '\n'))
          fail("unexpected character '\\'");
        ++pos_;
      }
      if (pos_ >= s_.size()) break;
      unsigned char c = s_[pos_];
      if (is_name_start(c)) {
        std::size_t start = pos_;
        while (pos_ < s_.size() && is_name_char(s_[pos_])) ++pos_;
        std::string_view word = s_.substr(start, pos_ - start);
        if (pos_ < s_.size() && (s_[pos_] == '\'' || s_[pos_] == '"') && word.size() <= 2) {
          std::string lower;
          for (char ch : word)
            lower += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
          if (lower == "r" || lower == "u" || lower == "b" || lower == "rb" || lower == "br") {
            string_literal(out, lower.find('r') != std::string::npos);
            continue;
          }
          if (lower.find('f') != std::string::npos)
            fail("f-strings are not supported in templates");
        }
        out.push_back({Tok::Name, std::string(word), {}});
      } else if (std::isdigit(c) || (c == '.' && pos_ + 1 < s_.size() &&
                                     std::isdigit(static_cast<unsigned char>(s_[pos_ + 1])))) {
        out.push_back({Tok::Number, {}, number()});
      } else if (c == '\'' || c == '"') {
        string_literal(out, false);
      } else {
        static constexpr std::string_view ops3[] = {"**=", "//=", ">>=", "<<=", "..."};
        static constexpr std::string_view ops2[] = {
            "**", "//", "==", "!=", "<=", ">=", "<<", ">>", "+=",
            "-=", "*=", "/=", "%=", "&=", "|=", "^=", "->", ":="};
        std::string_view rest = s_.substr(pos_);
        std::string op;
        for (auto o : ops3)
          if (rest.starts_with(o)) op = o;
        if (op.empty())
          for (auto o : ops2)
            if (rest.starts_with(o)) op = o;
        if (op.empty()) {
          if (std::string_view("+-*/%<>=()[]{},.:~&|^").find(static_cast<char>(c)) ==
              std::string_view::npos)
            fail(std::string("unexpected character '") + static_cast<char>(c) + "' in expression");
          op = std::string(1, static_cast<char>(c));
        }
        pos_ += op.size();
        out.push_back({Tok::Op, op, {}});
      }
    }
    out.push_back({Tok::End, {}, {}});
    return out;
  }

 private:
  json number() {
    std::size_t start = pos_;
    std::string digits;
    auto take_digits = [&](auto is_digit) {
      while (pos_ < s_.size() &&
             (is_digit(static_cast<unsigned char>(s_[pos_])) || s_[pos_] == '_')) {
        if (s_[pos_] != '_') digits += s_[pos_];
        ++pos_;
      }
    };
    if (s_[pos_] == '0' && pos_ + 1 < s_.size() && std::strchr("xXoObB", s_[pos_ + 1]) &&
        s_[pos_ + 1] != '\0') {
      char kind = static_cast<char>(std::tolower(static_cast<unsigned char>(s_[pos_ + 1])));
      pos_ += 2;
      int base = kind == 'x' ? 16 : kind == 'o' ? 8 : 2;
      take_digits([&](unsigned char ch) { return std::isxdigit(ch) != 0; });
      std::int64_t v = 0;
      auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v, base);
      if (digits.empty() || ec != std::errc() || p != digits.data() + digits.size())
        fail("invalid number '" + std::string(s_.substr(start, pos_ - start)) + "'");
      return v;
    }
    bool is_float = false;
    take_digits([](unsigned char ch) { return std::isdigit(ch) != 0; });
    if (pos_ < s_.size() && s_[pos_] == '.') {
      is_float = true;
      digits += '.';
      ++pos_;
      take_digits([](unsigned char ch) { return std::isdigit(ch) != 0; });
    }
    if (pos_ < s_.size() && (s_[pos_] == 'e' || s_[pos_] == 'E')) {
      is_float = true;
      digits += 'e';
      ++pos_;
      if (pos_ < s_.size() && (s_[pos_] == '+' || s_[pos_] == '-')) digits += s_[pos_++];
      take_digits([](unsigned char ch) { return std::isdigit(ch) != 0; });
    }
    if (pos_ < s_.size() && (s_[pos_] == 'j' || s_[pos_] == 'J'))
      fail("complex numbers are not supported");
    if (pos_ < s_.size() && is_name_char(s_[pos_]))
      fail("invalid number '" + std::string(s_.substr(start, pos_ + 1 - start)) + "'");
    if (is_float) {
      double d = 0;
      auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), d);
      if (ec == std::errc::result_out_of_range)
        return digits.find("e-") != std::string::npos ? 0.0 : HUGE_VAL;
      if (ec != std::errc() || p != digits.data() + digits.size())
        fail("invalid number '" + digits + "'");
      return d;
    }
    if (digits.size() > 1 && digits[0] == '0' && digits.find_first_not_of('0') != std::string::npos)
      fail("leading zeros in a decimal integer are not permitted");
    std::int64_t v = 0;
    auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
    if (ec == std::errc::result_out_of_range) {
      std::uint64_t u = 0;
      auto [p2, ec2] = std::from_chars(digits.data(), digits.data() + digits.size(), u);
      if (ec2 != std::errc()) fail("integer literal too large: " + digits);
      return u;
    }
    if (ec != std::errc()) fail("invalid number '" + digits + "'");
    return v;
  }

  void string_literal(std::vector<Token>& out, bool raw) {
    char quote = s_[pos_];
    bool triple = s_.substr(pos_, 3) == std::string(3, quote);
    pos_ += triple ? 3 : 1;
    std::string value;
    while (true) {
      if (pos_ >= s_.size()) fail("unterminated string literal");
      char c = s_[pos_];
      if (c == quote && (!triple || s_.substr(pos_, 3) == std::string(3, quote))) {
        pos_ += triple ? 3 : 1;
        break;
      }
      if (c == '\n' && !triple) fail("unterminated string literal");
      if (c != '\\') {
        value += c;
        ++pos_;
        continue;
      }
      if (pos_ + 1 >= s_.size()) fail("unterminated string literal");
      char e = s_[pos_ + 1];
      if (raw) {
        value += c;
        value += e;
        pos_ += 2;
        continue;
      }
      pos_ += 2;
      switch (e) {
        case '\n':
          break;
        case '\\':
          value += '\\';
          break;
        case '\'':
          value += '\'';
          break;
        case '"':
          value += '"';
          break;
        case 'a':
          value += '\a';
          break;
        case 'b':
          value += '\b';
          break;
        case 'f':
          value += '\f';
          break;
        case 'n':
          value += '\n';
          break;
        case 'r':
          value += '\r';
          break;
        case 't':
          value += '\t';
          break;
        case 'v':
          value += '\v';
          break;
        case 'x':
          append_utf8(value, hex_escape(2));
          break;
        case 'u':
          append_utf8(value, hex_escape(4));
          break;
        case 'U': {
          std::uint32_t cp = hex_escape(8);
          if (cp > 0x10FFFF) fail("illegal Unicode character in \\U escape");
          append_utf8(value, cp);
          break;
        }
        default:
          if (e >= '0' && e <= '7') {
            std::uint32_t cp = e - '0';
            for (int i = 0; i < 2 && pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '7'; ++i)
              cp = cp * 8 + (s_[pos_++] - '0');
            append_utf8(value, cp);
          } else {
            value += '\\';
            value += e;
          }
      }
    }
    // Adjacent literals concatenate, as in Python.
    if (!out.empty() && out.back().kind == Tok::String && adjacent_string_) {
      out.back().text += value;
    } else {
      out.push_back({Tok::String, std::move(value), {}});
    }
    adjacent_string_ = true;
    std::size_t save = pos_;
    while (save < s_.size() && std::isspace(static_cast<unsigned char>(s_[save]))) ++save;
    if (save >= s_.size() || (s_[save] != '\'' && s_[save] != '"' && !is_name_start(s_[save])))
      adjacent_string_ = false;
  }

  std::uint32_t hex_escape(int n) {
    if (pos_ + n > s_.size()) fail("truncated \\x/\\u escape in string literal");
    std::uint32_t cp = 0;
    for (int i = 0; i < n; ++i) {
      unsigned char h = s_[pos_ + i];
      if (!std::isxdigit(h)) fail("truncated \\x/\\u escape in string literal");
      cp = cp * 16 + (std::isdigit(h) ? h - '0' : std::tolower(h) - 'a' + 10);
    }
    pos_ += n;
    return cp;
  }

  std::string_view s_;
  const File& file_;
  int line_;
  std::size_t pos_ = 0;
  bool adjacent_string_ = false;
};

}  // namespace

bool is_keyword(std::string_view w) {
  static constexpr std::string_view kw[] = {"and",   "or",   "not",   "in",     "is",
                                            "if",    "else", "for",   "lambda", "True",
                                            "False", "None", "await", "yield"};
  for (auto k : kw)
    if (w == k) return true;
  return false;
}

std::vector<Token> tokenize(std::string_view text, const File& file, int line) {
  return Lexer(text, file, line).run();
}

}  // namespace tornado::templates::detail
