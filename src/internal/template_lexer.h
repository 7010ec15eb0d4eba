// The expression tokenizer (src/template_lexer.cpp), used by the expression parser.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "internal/template_ast.h"

namespace tornado::templates::detail {

enum class Tok { Name, Number, String, Op, End };

struct Token {
  Tok kind;
  std::string text;  // name, operator, decoded string
  json number;
};

// Tokens of one expression or directive argument, ending with Tok::End. Throws ParseError
// (naming `file` and `line`) on a bad character, number or string literal.
std::vector<Token> tokenize(std::string_view text, const File& file, int line);
// Python keywords the parser treats specially (and, or, not, in, is, if, else, for, ...).
bool is_keyword(std::string_view word);

}  // namespace tornado::templates::detail
