// load_translations: Tornado's CSV translation files (one per locale, UTF-8 or UTF-16).
#include <algorithm>
#include <fstream>
#include <iterator>

#include <fmt/format.h>

#include "internal/locale_catalog.h"
#include "internal/utf8.h"
#include "internal/websocket_frame.h"
#include "tornado/log.h"

namespace tornado::locale {

namespace detail {

namespace {

// The WebSocket layer's validator: Python's bytes.decode("utf-8") rules (no overlong
// forms, surrogates or values past U+10FFFF).
bool valid_utf8(std::string_view s) {
  websocket::detail::Utf8Validator v;
  return v.feed(s) && v.complete();
}

std::string decode_utf16(std::string_view bytes, bool big_endian) {
  if (bytes.size() % 2) throw TranslationFileError("UTF-16 text with an odd number of bytes");
  std::string out;
  out.reserve(bytes.size());
  auto unit = [&](std::size_t i) {
    const auto a = static_cast<unsigned char>(bytes[i]);
    const auto b = static_cast<unsigned char>(bytes[i + 1]);
    return static_cast<std::uint32_t>(big_endian ? (a << 8) | b : (b << 8) | a);
  };
  for (std::size_t i = 0; i < bytes.size(); i += 2) {
    std::uint32_t cp = unit(i);
    if (cp >= 0xd800 && cp <= 0xdbff) {
      if (i + 2 >= bytes.size()) throw TranslationFileError("UTF-16 text ends in a surrogate");
      const std::uint32_t low = unit(i + 2);
      if (low < 0xdc00 || low > 0xdfff) throw TranslationFileError("unpaired UTF-16 surrogate");
      cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
      i += 2;
    } else if (cp >= 0xdc00 && cp <= 0xdfff) {
      throw TranslationFileError("unpaired UTF-16 surrogate");
    }
    internal::append_utf8(out, cp);
  }
  return out;
}

std::string utf8_checked(std::string_view bytes) {
  if (!valid_utf8(bytes)) throw TranslationFileError("the text is not valid UTF-8");
  return std::string(bytes);
}

bool starts_with_bytes(std::string_view s, std::string_view prefix) { return s.starts_with(prefix); }

}  // namespace

std::string decode_text(std::string_view bytes, const std::optional<std::string>& encoding) {
  static constexpr std::string_view kUtf8Bom = "\xef\xbb\xbf";
  static constexpr std::string_view kUtf16Le = "\xff\xfe";
  static constexpr std::string_view kUtf16Be = "\xfe\xff";
  std::string name = encoding.value_or("");
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return c == '_' ? '-' : static_cast<char>(std::tolower(c)); });
  if (name.empty() || name == "utf-16" || name == "utf16") {
    if (starts_with_bytes(bytes, kUtf16Le)) return decode_utf16(bytes.substr(2), false);
    if (starts_with_bytes(bytes, kUtf16Be)) return decode_utf16(bytes.substr(2), true);
    if (!name.empty()) return decode_utf16(bytes, false);  // Python's utf-16 without a mark
    name = "utf-8-sig";
  }
  if (name == "utf-8-sig" || name == "utf8-sig") {
    if (starts_with_bytes(bytes, kUtf8Bom)) bytes.remove_prefix(kUtf8Bom.size());
    return utf8_checked(bytes);
  }
  if (name == "utf-8" || name == "utf8") return utf8_checked(bytes);
  if (name == "utf-16-le" || name == "utf-16le") return decode_utf16(bytes, false);
  if (name == "utf-16-be" || name == "utf-16be") return decode_utf16(bytes, true);
  if (name == "latin-1" || name == "latin1" || name == "iso-8859-1" || name == "iso8859-1") {
    std::string out;
    for (char c : bytes) internal::append_utf8(out, static_cast<unsigned char>(c));
    return out;
  }
  if (name == "ascii" || name == "us-ascii") {
    for (char c : bytes) {
      if (static_cast<unsigned char>(c) >= 0x80) throw TranslationFileError("a byte that is not ASCII");
    }
    return std::string(bytes);
  }
  throw std::invalid_argument("load_translations: unsupported encoding '" + *encoding +
                              "' (utf-8, utf-8-sig, utf-16, utf-16-le, utf-16-be, latin-1, ascii)");
}

std::vector<std::vector<std::string>> parse_csv(std::string_view text) {
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> row;
  std::string field;
  bool in_quotes = false;
  bool row_started = false;  // a line with nothing on it is an empty row (Python gives [])
  std::size_t i = 0;
  auto end_field = [&] {
    row.push_back(std::move(field));
    field.clear();
  };
  auto end_row = [&] {
    if (row_started) end_field();
    rows.push_back(std::move(row));
    row.clear();
    row_started = false;
  };
  while (i < text.size()) {
    const char c = text[i];
    if (in_quotes) {
      if (c == '"') {
        if (i + 1 < text.size() && text[i + 1] == '"') {
          field.push_back('"');
          i += 2;
          continue;
        }
        in_quotes = false;
      } else {
        field.push_back(c);
      }
      ++i;
      continue;
    }
    if (c == '\r' || c == '\n') {
      end_row();
      i += (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ? 2 : 1;
      continue;
    }
    row_started = true;
    if (c == ',') {
      end_field();
    } else if (c == '"' && field.empty()) {
      in_quotes = true;  // a quote opens only at a field's start; elsewhere it is text
    } else {
      field.push_back(c);
    }
    ++i;
  }
  if (row_started || in_quotes) end_row();
  return rows;
}

}  // namespace detail

namespace {

std::string_view strip(std::string_view s) {
  const auto space = [](char c) { return c == ' ' || (c >= '\t' && c <= '\r'); };
  while (!s.empty() && space(s.front())) s.remove_prefix(1);
  while (!s.empty() && space(s.back())) s.remove_suffix(1);
  return s;
}

// The file's bytes, or nullopt (logged) when it cannot be read or is too large.
std::optional<std::string> read_file(const std::filesystem::path& path, std::size_t max_bytes) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  if (ec) {
    gen_log().error("Cannot read translation file {}: {}", path.string(), ec.message());
    return std::nullopt;
  }
  if (size > max_bytes) {
    gen_log().error("Translation file {} is {} bytes, over the limit of {}", path.string(), size,
                    max_bytes);
    return std::nullopt;
  }
  std::ifstream in(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (!in && !in.eof()) {
    gen_log().error("Cannot read translation file {}", path.string());
    return std::nullopt;
  }
  return bytes;
}

}  // namespace

namespace detail {
std::optional<std::string> read_translation_file(const std::filesystem::path& path,
                                                 std::size_t max_bytes) {
  return read_file(path, max_bytes);
}
}  // namespace detail

void load_translations(const std::filesystem::path& directory, std::optional<std::string> encoding,
                       std::size_t max_file_bytes) {
  if (encoding) detail::decode_text({}, encoding);  // an unknown name fails before anything loads
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(directory)) {
    if (entry.path().extension() == ".csv") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());  // the log's order does not depend on the directory's
  std::map<std::string, std::shared_ptr<const detail::Translations>> all;
  for (const auto& path : files) {
    const std::string code = path.stem().string();
    if (!detail::is_locale_code(code)) {
      gen_log().error("Unrecognized locale '{}' (path: {})", code, path.string());
      continue;
    }
    auto bytes = read_file(path, max_file_bytes);
    if (!bytes) continue;
    std::string text;
    try {
      text = detail::decode_text(*bytes, encoding);
    } catch (const TranslationFileError& e) {
      gen_log().error("Cannot decode translation file {}: {}", path.string(), e.what());
      continue;
    }
    auto translations = std::make_shared<detail::Translations>();
    const auto rows = detail::parse_csv(text);
    for (std::size_t i = 0; i < rows.size(); ++i) {
      const auto& row = rows[i];
      if (row.size() < 2) continue;
      const std::string english(strip(row[0]));
      std::string translation(strip(row[1]));
      std::string_view form = row.size() > 2 ? strip(row[2]) : std::string_view();
      if (form.empty()) form = "unknown";
      auto& target = form == "plural"     ? translations->plural
                     : form == "singular" ? translations->singular
                                          : translations->unknown;
      if (form != "plural" && form != "singular" && form != "unknown") {
        gen_log().error("Unrecognized plural indicator '{}' in {} line {}", form,
                        path.filename().string(), i + 1);
        continue;
      }
      target[english] = std::move(translation);
    }
    all[code] = std::move(translations);
  }
  detail::install(std::move(all));
}

}  // namespace tornado::locale
