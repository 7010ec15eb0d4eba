// The translations behind tornado::locale (locale.h): what a CSV file or a .mo file holds once
// parsed, and the parsers. Shared by src/locale*.cpp and the tests.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tornado/locale.h"

namespace tornado::locale::detail {

// A compiled gettext Plural-Forms formula (C syntax over `n`: ?: || && == != < > <= >= + - *
// / % ! and parentheses). Its default, with no header, is English's `n != 1`.
class PluralForm {
 public:
  PluralForm();
  // Parses the formula (the text after "plural="). Throws TranslationFileError for a syntax
  // error, an unknown token, nesting deeper than kMaxDepth or more than kMaxNodes nodes (a
  // long chain such as n+n+...+n is as deep for the recursive evaluator as its length).
  static PluralForm parse(std::string_view formula);
  // The index of the form for `n` (division by zero gives 0).
  std::int64_t evaluate(std::int64_t n) const;
  static constexpr int kMaxDepth = 64;
  static constexpr std::size_t kMaxNodes = 1024;  // real formulas have a few dozen

  struct Node {
    char op;  // 'n', '#' (number), '?', '!', or the operator's first char; see the parser
    char op2 = 0;
    std::int64_t value = 0;
    int a = -1, b = -1, c = -1;
  };

 private:
  std::int64_t eval(int node, std::int64_t n) const;
  std::vector<Node> nodes_;
  int root_ = 0;
};

struct Translations {
  enum class Kind { kCsv, kGettext };
  Kind kind = Kind::kCsv;
  // CSV: english → translation, by the row's form ("singular", "plural", "unknown").
  std::unordered_map<std::string, std::string> singular, plural, unknown;
  // gettext: msgid (with "context\x04" in front when it has one) → msgstr, and the
  // singular msgid of plural entries → their forms.
  std::unordered_map<std::string, std::string> messages;
  std::unordered_map<std::string, std::vector<std::string>> plural_forms;
  PluralForm plural_formula;

  bool empty() const noexcept {
    return singular.empty() && plural.empty() && unknown.empty() && messages.empty() &&
           plural_forms.empty();
  }
};

// Parses a GNU .mo file (either byte order). `name` is for messages. Throws
// TranslationFileError: bad magic, unknown major revision, a table or string outside the
// file, an unsupported charset, a bad Plural-Forms header, text that is not valid UTF-8.
Translations parse_mo(std::string_view bytes, std::string_view name);

// Decodes a CSV file's bytes to UTF-8 (encoding nullopt: by byte-order mark, as Tornado).
// Throws std::invalid_argument for an unknown encoding name, TranslationFileError for bytes
// the encoding cannot decode.
std::string decode_text(std::string_view bytes, const std::optional<std::string>& encoding);

// Splits CSV text (Python's csv "excel" dialect: commas, double quotes, "" inside quotes,
// newlines inside quoted fields) into rows of fields. An empty line is an empty row.
std::vector<std::vector<std::string>> parse_csv(std::string_view text);

// Reads a translation file whole; nullopt (with an error logged) when it cannot be read or is
// larger than `max_bytes`.
std::optional<std::string> read_translation_file(const std::filesystem::path& path,
                                                 std::size_t max_bytes);

// The code a translation file or directory name gives, if it is one ("[a-z]+(_[A-Z]+)?").
bool is_locale_code(std::string_view code) noexcept;

// Makes the translations current (the load functions' last step).
void install(std::map<std::string, std::shared_ptr<const Translations>> translations);

}  // namespace tornado::locale::detail
