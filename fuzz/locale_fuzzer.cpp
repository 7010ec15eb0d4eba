// libFuzzer target: the translation file parsers of tornado::locale — GNU .mo catalogs
// (parse_mo), CSV text after decoding (decode_text + parse_csv), and gettext Plural-Forms
// formulas (PluralForm::parse + evaluate).
//
// Input: the first byte picks the parser (0 .mo, 1 CSV, 2 formula, modulo 3); the rest is
// the file or formula.
//
// Checked: only TranslationFileError (and, for CSV, nothing else) comes out; a parsed
// catalog's plural formula evaluates for any count; decoded CSV text is valid UTF-8 and
// re-parsing the rows written back (every field quoted) gives the same rows; a formula that
// parses evaluates without crashing for counts around the edges.
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

#include "fuzz_common.h"
#include "internal/locale_catalog.h"

namespace {

using tornado::locale::TranslationFileError;
namespace detail = tornado::locale::detail;

bool valid_utf8(std::string_view s) {
  try {
    detail::decode_text(s, std::string("utf-8"));
    return true;
  } catch (const TranslationFileError&) {
    return false;
  }
}

void check_mo(std::string_view bytes) {
  try {
    auto t = detail::parse_mo(bytes, "fuzz.mo");
    for (std::int64_t n : std::initializer_list<std::int64_t>{0, 1, 2, 5, 11, 21, 100, -1, INT64_MAX, INT64_MIN}) {
      (void)t.plural_formula.evaluate(n);
    }
    for (const auto& [k, v] : t.messages) FUZZ_CHECK(valid_utf8(k) && valid_utf8(v));
  } catch (const TranslationFileError&) {
  }
}

std::string quote(const std::string& field) {
  std::string out = "\"";
  for (char c : field) {
    if (c == '"') out.push_back('"');
    out.push_back(c);
  }
  return out + "\"";
}

void check_csv(std::string_view bytes) {
  std::string text;
  try {
    text = detail::decode_text(bytes, std::nullopt);
  } catch (const TranslationFileError&) {
    return;
  }
  FUZZ_CHECK(valid_utf8(text));
  const auto rows = detail::parse_csv(text);
  std::string written;
  for (const auto& row : rows) {
    for (std::size_t i = 0; i < row.size(); ++i) {
      if (i) written.push_back(',');
      written += quote(row[i]);
    }
    written.push_back('\n');
  }
  const auto again = detail::parse_csv(written);
  // An empty row written back is an empty line, which parses to an empty row: the same.
  FUZZ_CHECK(again == rows);
}

void check_formula(std::string_view text) {
  try {
    auto form = detail::PluralForm::parse(text);
    for (std::int64_t n : std::initializer_list<std::int64_t>{0, 1, 2, 3, 10, 11, 101, -7, INT64_MAX, INT64_MIN}) {
      (void)form.evaluate(n);
    }
  } catch (const TranslationFileError&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 3) {
    case 0:
      check_mo(rest);
      break;
    case 1:
      check_csv(rest);
      break;
    default:
      check_formula(rest);
      break;
  }
  return 0;
}
