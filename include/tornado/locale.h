// tornado/locale.h — translations and locale-aware formatting (Tornado's `tornado.locale`).
//
//   locale::load_translations("translations");         // es_LA.csv, fr_FR.csv, ...
//   // or locale::load_gettext_translations("locale", "myapp");  // <dir>/fr_FR/LC_MESSAGES/myapp.mo
//   auto fr = locale::get("fr-FR", "en");               // closest supported: fr_FR, fr, else default
//   fr->translate("Sign out");                          // "Déconnexion"
//   fr->translate("%(n)d item", "%(n)d items", count);   // plural form chosen by count
//   fr->pgettext("law", "right");                       // gettext message context
//   en->format_date(posted);                            // "3 minutes ago", "yesterday at 4:30 pm"
//   en->list({"A", "B", "C"});                          // "A, B and C"
//   en->friendly_number(1000000);                       // "1,000,000"
//
// A web handler reaches its request's locale through RequestHandler::locale() (the user's,
// else the browser's Accept-Language), and templates through `_`, `pgettext` and `locale`
// (docs/locale.md).
//
// Thread rule: the loaded translations are process-wide, as in Tornado. The load_* and
// set_default_locale calls replace them as a whole (a lock guards the swap); get() and the
// Locale objects it returns may be used from any thread at once. A Locale stays valid while
// someone holds it, even after a reload.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace tornado::locale {

namespace detail {
struct Translations;
}

// One row of Tornado's LOCALE_NAMES: a locale code, its name in its own language and in
// English.
struct LocaleName {
  std::string_view code;     // "es_LA"
  std::string_view name;     // "Español"
  std::string_view name_en;  // "Spanish"
};
// The whole table (62 locales, sorted by code), and one entry (nullptr if unknown).
std::span<const LocaleName> locale_names() noexcept;
const LocaleName* find_locale_name(std::string_view code) noexcept;

// Arguments of Locale::format_date besides the date (Tornado's keyword arguments).
struct DateFormat {
  // Minutes to subtract from UTC for the reader's local time (Tornado's gmt_offset; 300 is
  // UTC-5, as JavaScript's getTimezoneOffset()).
  int gmt_offset = 0;
  // "3 minutes ago" for dates under a day old, "yesterday at ..." for yesterday.
  bool relative = true;
  // Without the time: "yesterday", "Monday", "April 28".
  bool shorter = false;
  // Always "April 28, 2013 at 6:35 pm".
  bool full_format = false;
  // The present; unset = the clock. For tests and for rendering a page as of one instant.
  std::optional<std::chrono::system_clock::time_point> now;
};

// A locale: its code, name, direction, translations and formatting. Obtained from get();
// immutable, any thread.
class Locale {
 public:
  // A locale without translations (translate returns its input). get() is the usual way.
  explicit Locale(std::string code);
  Locale(std::string code, std::shared_ptr<const detail::Translations> translations);
  ~Locale();

  const std::string& code() const noexcept { return code_; }
  // The locale's name in its own language (LOCALE_NAMES), "Unknown" when not listed.
  const std::string& name() const noexcept { return name_; }
  // Right to left: codes starting with fa, ar or he.
  bool rtl() const noexcept { return rtl_; }

  // The translation of `message`, or `message` itself when there is none.
  std::string translate(std::string_view message) const;
  // The singular form when count == 1, else the plural (gettext: the form the catalog's
  // Plural-Forms formula picks for count); untranslated: `message` or `plural_message`.
  std::string translate(std::string_view message, std::string_view plural_message,
                        std::int64_t count) const;
  // The translation of `message` in `context` (gettext's msgctxt). Without a contextual
  // translation: the plain (plural) translation for the plural form, `message` itself for
  // the singular one, as Tornado. CSV translations have no contexts: a warning, then
  // translate().
  std::string pgettext(std::string_view context, std::string_view message) const;
  std::string pgettext(std::string_view context, std::string_view message,
                       std::string_view plural_message, std::int64_t count) const;

  // A UTC date as people read it, Tornado's rules: under 50 s "N seconds ago", under 50
  // minutes "N minutes ago", under a day "N hours ago" (relative); then "yesterday at 4:30
  // pm", "Monday at 4:30 pm" (under 5 days), "April 28 at 4:30 pm" (under 334 days),
  // "April 28, 2013 at 4:30 pm"; the `shorter` forms drop the time. Future dates use the
  // full format (those under a minute ahead count as now when relative). The clock is 12-hour
  // for en and en_US, 上午/下午 for zh_CN, 24-hour otherwise. Every piece goes through
  // translate().
  std::string format_date(std::chrono::system_clock::time_point date,
                          const DateFormat& format = {}) const;
  // The same for Unix seconds; std::out_of_range for one the clock cannot hold (NaN, inf,
  // beyond about 1678-2262), as Python's utcfromtimestamp refuses it.
  std::string format_date(double unix_seconds, const DateFormat& format = {}) const;
  // "Sunday, April 28" (or "April 28" without `dow`), at gmt_offset minutes west of UTC.
  std::string format_day(std::chrono::system_clock::time_point date, int gmt_offset = 0,
                         bool dow = true) const;
  // "A, B and C", "A and B", "A", "" (fa: joined with " و ").
  std::string list(std::span<const std::string> parts) const;
  std::string list(std::initializer_list<std::string_view> parts) const;
  // 1000000 → "1,000,000" for en and en_US; other locales: the plain digits.
  std::string friendly_number(std::int64_t value) const;

  // The translated month (0 = January) and weekday (0 = Monday) names format_date uses.
  const std::vector<std::string>& months() const noexcept { return months_; }
  const std::vector<std::string>& weekdays() const noexcept { return weekdays_; }

 private:
  std::string code_;
  std::string name_;
  bool rtl_ = false;
  std::shared_ptr<const detail::Translations> translations_;
  std::vector<std::string> months_;
  std::vector<std::string> weekdays_;
};

using LocalePtr = std::shared_ptr<const Locale>;

// The closest supported locale to the codes, tried in order: each code as given ("en-us"
// and "en_us" mean en_US), then its language alone ("en"); codes with more than two parts
// are skipped. None matches: the default locale.
LocalePtr get(std::span<const std::string> codes);
LocalePtr get(std::initializer_list<std::string_view> codes);
template <typename... Codes>
LocalePtr get(const Codes&... codes) {
  return get({std::string_view(codes)...});
}

// The language all strings are written in (default "en_US"); it needs no translation file.
void set_default_locale(std::string code);
std::string default_locale();
// The codes with translations, plus the default, sorted.
std::vector<std::string> get_supported_locales();

// Loads Tornado's CSV translations from `directory`: one file per locale named after its
// code (es_LA.csv; other names are logged and skipped), rows "english","translation"[,form]
// with form "plural", "singular", "unknown" or empty (a bad form: the row is logged and
// skipped). `encoding` nullopt: UTF-16 if the file starts with a UTF-16 byte-order mark,
// else UTF-8 (a UTF-8 mark is dropped); or one of "utf-8", "utf-8-sig", "utf-16",
// "utf-16-le", "utf-16-be", "latin-1", "ascii" (another: std::invalid_argument). A file that
// cannot be read or decoded, or is over `max_file_bytes`, is logged and skipped. Replaces
// whatever was loaded before. A missing directory: std::filesystem::filesystem_error.
void load_translations(const std::filesystem::path& directory,
                       std::optional<std::string> encoding = std::nullopt,
                       std::size_t max_file_bytes = 64 * 1024 * 1024);

// Loads gettext translations: <directory>/<code>/LC_MESSAGES/<domain>.mo for each code
// (GNU .mo files of either byte order, with contexts and plural forms; the catalog's
// charset must be UTF-8, ASCII or Latin-1). A file that is not a valid .mo, or is over
// `max_file_bytes`, is logged with the reason and skipped. Replaces whatever was loaded. A
// missing directory: std::filesystem::filesystem_error.
void load_gettext_translations(const std::filesystem::path& directory, std::string_view domain,
                               std::size_t max_file_bytes = 64 * 1024 * 1024);

// A .mo file or a Plural-Forms formula that cannot be used; what() says where and why.
class TranslationFileError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Formats Python's named placeholders: "%(name)s" and "%(name)d" are replaced by `values`'s
// entry, "%%" by "%". An unknown name or another conversion: std::invalid_argument.
// (Translated strings keep Tornado's placeholders, so the same CSV and .mo files serve both.)
std::string format_named(std::string_view format,
                         const std::map<std::string, std::string, std::less<>>& values);

}  // namespace tornado::locale
