// load_gettext_translations: GNU .mo catalogs, read without libintl (either byte order,
// message contexts, plural forms with the catalog's own Plural-Forms formula).
#include <cstring>

#include <fmt/format.h>

#include "internal/locale_catalog.h"
#include "tornado/log.h"

namespace tornado::locale {

namespace detail {

// ---- Plural-Forms ----

namespace {

class FormulaParser {
 public:
  FormulaParser(std::string_view text, std::vector<PluralForm::Node>& nodes)
      : text_(text), nodes_(nodes) {}

  int parse() {
    const int root = ternary(0);
    skip_space();
    if (pos_ != text_.size()) fail("unexpected text");
    return root;
  }

 private:
  [[noreturn]] void fail(std::string_view what) const {
    // The formula quoted up to 100 bytes: a hostile one may be megabytes.
    throw TranslationFileError(fmt::format("bad Plural-Forms formula '{}{}': {} at offset {}",
                                           text_.substr(0, 100), text_.size() > 100 ? "..." : "",
                                           what, pos_));
  }
  void skip_space() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t' ||
                                   text_[pos_] == '\n' || text_[pos_] == '\r')) {
      ++pos_;
    }
  }
  bool take(std::string_view token) {
    skip_space();
    if (text_.substr(pos_).starts_with(token)) {
      // "<" must not take the first half of "<=", nor "!" the first half of "!=".
      if (token.size() == 1 && pos_ + 1 < text_.size() && text_[pos_ + 1] == '=' &&
          (token == "<" || token == ">" || token == "!" || token == "=")) {
        return false;
      }
      if ((token == "|" || token == "&") && pos_ + 1 < text_.size() && text_[pos_ + 1] == token[0]) {
        return false;
      }
      pos_ += token.size();
      return true;
    }
    return false;
  }
  int add(char op, char op2, int a, int b = -1, int c = -1) {
    if (nodes_.size() >= PluralForm::kMaxNodes) fail("too long");
    nodes_.push_back({op, op2, 0, a, b, c});
    return static_cast<int>(nodes_.size()) - 1;
  }
  void enter(int depth) const {
    if (depth > PluralForm::kMaxDepth) fail("nested too deeply");
  }

  int ternary(int depth) {
    enter(depth);
    const int condition = binary(0, depth);
    if (!take("?")) return condition;
    const int yes = ternary(depth + 1);
    if (!take(":")) fail("'?' without ':'");
    const int no = ternary(depth + 1);
    return add('?', 0, condition, yes, no);
  }

  // Levels from loosest to tightest: || && (== !=) (< > <= >=) (+ -) (* / %).
  int binary(int level, int depth) {
    static constexpr std::string_view kLevels[][4] = {
        {"||"}, {"&&"}, {"==", "!="}, {"<=", ">=", "<", ">"}, {"+", "-"}, {"*", "/", "%"}};
    if (level == 6) return unary(depth);
    int left = binary(level + 1, depth);
    for (;;) {
      std::string_view matched;
      for (std::string_view op : kLevels[level]) {
        if (!op.empty() && take(op)) {
          matched = op;
          break;
        }
      }
      if (matched.empty()) return left;
      const int right = binary(level + 1, depth);
      left = add(matched[0], matched.size() > 1 ? matched[1] : 0, left, right);
    }
  }

  int unary(int depth) {
    enter(depth);
    if (take("!")) return add('!', 0, unary(depth + 1));
    skip_space();
    if (pos_ < text_.size() && text_[pos_] == 'n') {
      ++pos_;
      return add('n', 0, -1);
    }
    if (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') {
      std::int64_t value = 0;
      while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') {
        if (value > 1'000'000'000'000) fail("number too large");
        value = value * 10 + (text_[pos_++] - '0');
      }
      const int node = add('#', 0, -1);
      nodes_[static_cast<std::size_t>(node)].value = value;
      return node;
    }
    if (take("(")) {
      const int inner = ternary(depth + 1);
      if (!take(")")) fail("'(' without ')'");
      return inner;
    }
    fail(pos_ < text_.size() ? "unexpected character" : "unexpected end");
  }

  std::string_view text_;
  std::vector<PluralForm::Node>& nodes_;
  std::size_t pos_ = 0;
};

}  // namespace

PluralForm::PluralForm() : nodes_{{'n', 0, 0}, {'#', 0, 1}, {'!', '=', 0, 0, 1}}, root_(2) {}

PluralForm PluralForm::parse(std::string_view formula) {
  PluralForm form;
  form.nodes_.clear();
  form.root_ = FormulaParser(formula, form.nodes_).parse();
  return form;
}

std::int64_t PluralForm::evaluate(std::int64_t n) const { return eval(root_, n); }

std::int64_t PluralForm::eval(int index, std::int64_t n) const {
  const Node& node = nodes_[static_cast<std::size_t>(index)];
  switch (node.op) {
    case 'n':
      return n;
    case '#':
      return node.value;
    case '?':
      return eval(node.a, n) ? eval(node.b, n) : eval(node.c, n);
    case '!':
      return node.op2 == '=' ? eval(node.a, n) != eval(node.b, n) : !eval(node.a, n);
    case '|':
      return eval(node.a, n) || eval(node.b, n);
    case '&':
      return eval(node.a, n) && eval(node.b, n);
    default:
      break;
  }
  const std::int64_t a = eval(node.a, n);
  const std::int64_t b = eval(node.b, n);
  switch (node.op) {
    case '=':
      return a == b;
    case '<':
      return node.op2 == '=' ? a <= b : a < b;
    case '>':
      return node.op2 == '=' ? a >= b : a > b;
    case '+':
      return static_cast<std::int64_t>(static_cast<std::uint64_t>(a) + static_cast<std::uint64_t>(b));
    case '-':
      return static_cast<std::int64_t>(static_cast<std::uint64_t>(a) - static_cast<std::uint64_t>(b));
    case '*':
      return static_cast<std::int64_t>(static_cast<std::uint64_t>(a) * static_cast<std::uint64_t>(b));
    case '/':
      return b == 0 || (a == INT64_MIN && b == -1) ? 0 : a / b;
    case '%':
      return b == 0 || (a == INT64_MIN && b == -1) ? 0 : a % b;
    default:
      return 0;
  }
}

// ---- .mo files ----

namespace {

class MoReader {
 public:
  MoReader(std::string_view bytes, std::string_view name) : bytes_(bytes), name_(name) {
    if (bytes.size() < 20) fail("shorter than a .mo header");
    const std::uint32_t magic = word_le(0);
    if (magic == 0x950412de) {
      big_endian_ = false;
    } else if (magic == 0xde120495) {
      big_endian_ = true;
    } else {
      fail("not a .mo file (bad magic number)");
    }
  }

  [[noreturn]] void fail(std::string_view what) const {
    throw TranslationFileError(fmt::format("{}: {}", name_, what));
  }

  std::uint32_t word(std::size_t offset) const {
    if (offset > bytes_.size() || bytes_.size() - offset < 4) fail("truncated");
    const auto* p = reinterpret_cast<const unsigned char*>(bytes_.data() + offset);
    return big_endian_ ? (std::uint32_t(p[0]) << 24) | (std::uint32_t(p[1]) << 16) |
                             (std::uint32_t(p[2]) << 8) | p[3]
                       : (std::uint32_t(p[3]) << 24) | (std::uint32_t(p[2]) << 16) |
                             (std::uint32_t(p[1]) << 8) | p[0];
  }

  // The string table entry `index` of the table at `table`.
  std::string_view string(std::uint32_t table, std::uint32_t index) const {
    const std::uint64_t entry = std::uint64_t(table) + std::uint64_t(index) * 8;
    if (entry + 8 > bytes_.size()) fail("string table outside the file");
    const std::uint32_t length = word(static_cast<std::size_t>(entry));
    const std::uint32_t offset = word(static_cast<std::size_t>(entry + 4));
    if (std::uint64_t(offset) + length > bytes_.size()) fail("string outside the file");
    return bytes_.substr(offset, length);
  }

 private:
  std::uint32_t word_le(std::size_t offset) const {
    const auto* p = reinterpret_cast<const unsigned char*>(bytes_.data() + offset);
    return (std::uint32_t(p[3]) << 24) | (std::uint32_t(p[2]) << 16) | (std::uint32_t(p[1]) << 8) |
           p[0];
  }

  std::string_view bytes_;
  std::string_view name_;
  bool big_endian_ = false;
};

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

std::vector<std::string_view> split_nul(std::string_view s) {
  std::vector<std::string_view> parts;
  for (;;) {
    const auto nul = s.find('\0');
    parts.push_back(s.substr(0, nul));
    if (nul == std::string_view::npos) return parts;
    s.remove_prefix(nul + 1);
  }
}

}  // namespace

Translations parse_mo(std::string_view bytes, std::string_view name) {
  MoReader mo(bytes, name);
  const std::uint32_t revision = mo.word(4);
  if ((revision >> 16) > 1) {
    mo.fail(fmt::format("unsupported .mo major revision {}", revision >> 16));
  }
  const std::uint32_t count = mo.word(8);
  const std::uint32_t originals = mo.word(12);
  const std::uint32_t translated = mo.word(16);
  if (std::uint64_t(count) * 16 > bytes.size()) mo.fail("more messages than the file can hold");
  // msgfmt stores each string once: tables that refer to more text than the file holds share
  // strings between entries, which would make each entry decode (and keep) that text again.
  std::uint64_t referred = 0;
  for (std::uint32_t i = 0; i < count; ++i) {
    referred += mo.string(originals, i).size() + mo.string(translated, i).size();
    if (referred > bytes.size()) mo.fail("the string tables refer to more text than the file holds");
  }

  Translations t;
  t.kind = Translations::Kind::kGettext;
  std::string charset = "utf-8";
  // The header (msgid "") comes first in a sorted catalog, but is looked for wherever it is.
  for (std::uint32_t i = 0; i < count; ++i) {
    if (!mo.string(originals, i).empty()) continue;
    std::string_view header = mo.string(translated, i);
    while (!header.empty()) {
      const auto eol = header.find('\n');
      std::string_view line = header.substr(0, eol);
      header = eol == std::string_view::npos ? std::string_view() : header.substr(eol + 1);
      const auto colon = line.find(':');
      if (colon == std::string_view::npos) continue;
      const std::string key = lower(trim(line.substr(0, colon)));
      const std::string_view value = trim(line.substr(colon + 1));
      if (key == "content-type") {
        const auto at = lower(value).find("charset=");
        if (at != std::string::npos) {
          std::string_view cs = value.substr(at + 8);
          cs = cs.substr(0, cs.find_first_of("; "));
          charset = lower(cs);
        }
      } else if (key == "plural-forms") {
        const auto at = value.find("plural=");
        if (at == std::string_view::npos) mo.fail("Plural-Forms without plural=");
        std::string_view formula = value.substr(at + 7);
        formula = formula.substr(0, formula.find(';'));
        try {
          t.plural_formula = PluralForm::parse(formula);
        } catch (const TranslationFileError& e) {
          mo.fail(e.what());
        }
      }
    }
  }
  const bool latin1 = charset == "iso-8859-1" || charset == "latin1" || charset == "latin-1";
  if (!latin1 && charset != "utf-8" && charset != "utf8" && charset != "ascii" &&
      charset != "us-ascii" && charset != "charset") {  // "CHARSET": the .pot placeholder
    mo.fail(fmt::format("unsupported charset '{}' (UTF-8, ASCII or ISO-8859-1)", charset));
  }
  auto text = [&](std::string_view raw) {
    try {
      return decode_text(raw, latin1 ? std::optional<std::string>("latin-1")
                                     : std::optional<std::string>("utf-8"));
    } catch (const TranslationFileError& e) {
      mo.fail(e.what());
    }
  };
  for (std::uint32_t i = 0; i < count; ++i) {
    const std::string_view original = mo.string(originals, i);
    const std::string_view translation = mo.string(translated, i);
    if (original.empty()) continue;  // the header
    const auto nul = original.find('\0');
    if (nul == std::string_view::npos) {
      t.messages[text(original)] = text(translation);
      continue;
    }
    auto& forms = t.plural_forms[text(original.substr(0, nul))];
    forms.clear();
    for (std::string_view form : split_nul(translation)) forms.push_back(text(form));
  }
  return t;
}

}  // namespace detail

void load_gettext_translations(const std::filesystem::path& directory, std::string_view domain,
                               std::size_t max_file_bytes) {
  std::map<std::string, std::shared_ptr<const detail::Translations>> all;
  std::vector<std::filesystem::path> dirs;
  for (const auto& entry : std::filesystem::directory_iterator(directory)) {
    if (entry.is_directory()) dirs.push_back(entry.path());
  }
  std::sort(dirs.begin(), dirs.end());
  const std::string file_name = std::string(domain) + ".mo";
  for (const auto& dir : dirs) {
    const auto path = dir / "LC_MESSAGES" / file_name;
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) continue;
    const std::string lang = dir.filename().string();
    auto bytes = detail::read_translation_file(path, max_file_bytes);
    if (!bytes) continue;
    try {
      all[lang] = std::make_shared<const detail::Translations>(
          detail::parse_mo(*bytes, path.string()));
    } catch (const TranslationFileError& e) {
      gen_log().error("Cannot load translation for '{}': {}", lang, e.what());
    }
  }
  detail::install(std::move(all));
}

}  // namespace tornado::locale
