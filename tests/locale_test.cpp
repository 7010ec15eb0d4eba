// tornado::locale: Tornado's locale_test (CSV with and without byte-order marks, gettext
// with contexts and plurals, LOCALE_NAMES, English formatting), plus the CSV and .mo
// parsers' edge cases, get()'s closest match, and the web layer: Accept-Language,
// get_user_locale, and `_`/pgettext/locale in templates against a real server.
#include <gtest/gtest.h>

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>

#include "internal/locale_catalog.h"
#include "locale_test_util.h"
#include "tornado/locale.h"
#include "tornado/testing.h"
#include "tornado/web.h"

namespace locale_test {

using namespace tornado;
using namespace std::chrono;
using namespace std::string_literals;
using tornado::test::make_mo;
using tornado::test::TempDir;
using tornado::testing::ExpectLog;

// Every test starts and ends with no translations and the en_US default (the state is
// process-wide, as Tornado's module globals).
class LocaleTest : public ::testing::Test {
 protected:
  void SetUp() override { reset(); }
  void TearDown() override { reset(); }
  static void reset() {
    locale::detail::install({});
    locale::set_default_locale("en_US");
  }
};

const std::string kFrenchCsv = "\"school\",\"\xc3\xa9" "cole\"\n";

// UTF-16 with a byte-order mark, from ASCII-or-Latin-1 UTF-8 text (enough for these tests).
std::string utf16(std::string_view utf8, bool big_endian) {
  std::u32string cps;
  for (std::size_t i = 0; i < utf8.size(); ++i) {
    auto c = static_cast<unsigned char>(utf8[i]);
    if (c >= 0xc0) {
      cps.push_back(((c & 0x1f) << 6) | (static_cast<unsigned char>(utf8[++i]) & 0x3f));
    } else {
      cps.push_back(c);
    }
  }
  std::string out = big_endian ? "\xfe\xff" : "\xff\xfe";
  for (char32_t cp : cps) {
    const char hi = static_cast<char>(cp >> 8), lo = static_cast<char>(cp & 0xff);
    out.push_back(big_endian ? hi : lo);
    out.push_back(big_endian ? lo : hi);
  }
  return out;
}

// ---- CSV ----

TEST_F(LocaleTest, CsvTranslatesAMessage) {
  TempDir dir("locale-csv");
  dir.put("fr_FR.csv", kFrenchCsv);
  locale::load_translations(dir.path());
  auto fr = locale::get("fr_FR");
  EXPECT_EQ(fr->code(), "fr_FR");
  EXPECT_EQ(fr->translate("school"), "\xc3\xa9" "cole");
  EXPECT_EQ(fr->translate("not there"), "not there");
  EXPECT_EQ(locale::get_supported_locales(), (std::vector<std::string>{"en_US", "fr_FR"}));
}

TEST_F(LocaleTest, CsvWithUtf8BomAndUtf16BothByteOrders) {
  for (const std::string& bytes : {"\xef\xbb\xbf" + kFrenchCsv, utf16(kFrenchCsv, false),
                                   utf16(kFrenchCsv, true)}) {
    TempDir dir("locale-bom");
    dir.put("fr_FR.csv", bytes);
    locale::load_translations(dir.path());
    EXPECT_EQ(locale::get("fr_FR")->translate("school"), "\xc3\xa9" "cole");
  }
}

TEST_F(LocaleTest, CsvExplicitEncodings) {
  TempDir dir("locale-enc");
  dir.put("fr_FR.csv", "\"school\",\"\xe9" "cole\"\n");  // Latin-1
  locale::load_translations(dir.path(), "latin-1");
  EXPECT_EQ(locale::get("fr_FR")->translate("school"), "\xc3\xa9" "cole");
  EXPECT_THROW(locale::load_translations(dir.path(), "ebcdic"), std::invalid_argument);
}

TEST_F(LocaleTest, CsvSingularPluralAndUnknownForms) {
  TempDir dir("locale-plural");
  dir.put("es_LA.csv",
          "\"I love you\",\"Te amo\"\n"
          "\"%(name)s liked this\",\"A %(name)s les gust\xc3\xb3 esto\",\"plural\"\n"
          "\"%(name)s liked this\",\"A %(name)s le gust\xc3\xb3 esto\",\"singular\"\n"
          "\"one\",\"uno\",\"\"\n");
  locale::load_translations(dir.path());
  auto es = locale::get("es_LA");
  EXPECT_EQ(es->translate("I love you"), "Te amo");
  EXPECT_EQ(es->translate("one"), "uno");
  EXPECT_EQ(es->translate("%(name)s liked this", "%(name)s liked this", 1),
            "A %(name)s le gust\xc3\xb3 esto");
  EXPECT_EQ(es->translate("%(name)s liked this", "%(name)s liked this", 2),
            "A %(name)s les gust\xc3\xb3 esto");
  // The plural form is looked up by the plural message; untranslated, it is returned as is.
  EXPECT_EQ(es->translate("a dog", "%(n)d dogs", 3), "%(n)d dogs");
  EXPECT_EQ(es->translate("a dog", "%(n)d dogs", 1), "a dog");
  EXPECT_EQ(es->name(), "Espa\xc3\xb1ol");
}

TEST_F(LocaleTest, CsvQuotingWhitespaceAndShortRows) {
  TempDir dir("locale-quoting");
  dir.put("de_DE.csv",
          "\"a, b\",\"x \"\"quoted\"\" y\"\r\n"
          "\"multi\nline\",\" padded \"\n"
          "\n"
          "lonely\n"
          "plain,unquoted\n");
  locale::load_translations(dir.path());
  auto de = locale::get("de_DE");
  EXPECT_EQ(de->translate("a, b"), "x \"quoted\" y");
  EXPECT_EQ(de->translate("multi\nline"), "padded");
  EXPECT_EQ(de->translate("plain"), "unquoted");
  EXPECT_EQ(de->translate("lonely"), "lonely");
}

TEST_F(LocaleTest, CsvBadFileNamesAreLoggedAndSkipped) {
  TempDir dir("locale-names");
  dir.put("fr_FR.csv", kFrenchCsv);
  dir.put("FR.csv", kFrenchCsv);
  dir.put("fr-CA.csv", kFrenchCsv);
  dir.put("notes.txt", "ignored");
  {
    ExpectLog log(gen_log(), "Unrecognized locale 'FR'");
    ExpectLog log2(gen_log(), "Unrecognized locale 'fr-CA'");
    locale::load_translations(dir.path());
  }
  EXPECT_EQ(locale::get_supported_locales(), (std::vector<std::string>{"en_US", "fr_FR"}));
}

TEST_F(LocaleTest, CsvBadPluralIndicatorIsLoggedAndTheRowSkipped) {
  TempDir dir("locale-indicator");
  dir.put("fr_FR.csv", "\"school\",\"\xc3\xa9" "cole\",\"dual\"\n\"cat\",\"chat\"\n");
  {
    ExpectLog log(gen_log(), "Unrecognized plural indicator 'dual' in fr_FR.csv line 1");
    locale::load_translations(dir.path());
  }
  EXPECT_EQ(locale::get("fr_FR")->translate("school"), "school");
  EXPECT_EQ(locale::get("fr_FR")->translate("cat"), "chat");
}

TEST_F(LocaleTest, CsvUndecodableFileIsLoggedAndSkipped) {
  TempDir dir("locale-undecodable");
  dir.put("fr_FR.csv", "\"school\",\"\xff\xfe\xfd\"\n");  // no UTF-16 mark at the start
  dir.put("de_DE.csv", "\"cat\",\"Katze\"\n");
  {
    ExpectLog log(gen_log(), "Cannot decode translation file .*fr_FR.csv: .*UTF-8");
    locale::load_translations(dir.path());
  }
  EXPECT_EQ(locale::get_supported_locales(), (std::vector<std::string>{"de_DE", "en_US"}));
}

TEST_F(LocaleTest, CsvOverTheSizeLimitIsLoggedAndSkipped) {
  TempDir dir("locale-limit");
  dir.put("fr_FR.csv", kFrenchCsv);
  {
    ExpectLog log(gen_log(), "over the limit of 8");
    locale::load_translations(dir.path(), std::nullopt, 8);
  }
  EXPECT_EQ(locale::get_supported_locales(), (std::vector<std::string>{"en_US"}));
}

TEST_F(LocaleTest, CsvPgettextWarnsAndTranslates) {
  TempDir dir("locale-csv-pgettext");
  dir.put("fr_FR.csv", kFrenchCsv);
  locale::load_translations(dir.path());
  ExpectLog log(gen_log(), "pgettext is not supported by CSVLocale");
  EXPECT_EQ(locale::get("fr_FR")->pgettext("building", "school"), "\xc3\xa9" "cole");
}

TEST_F(LocaleTest, MissingDirectoryThrows) {
  EXPECT_THROW(locale::load_translations("/nonexistent/translations"),
               std::filesystem::filesystem_error);
}

// ---- gettext ----

// The catalog of Tornado's test/gettext_translations/fr_FR (tornado_test.po), built here.
std::string french_mo(bool big_endian) {
  return make_mo(
      {{"school", "\xc3\xa9" "cole"},
       {"law\x04right", "le droit"},
       {"good\x04right", "le bien"},
       {"organization\x04" "club\0clubs"s, "le club\0les clubs"s},
       {"stick\x04" "club\0clubs"s,
        "le b\xc3\xa2ton\0les b\xc3\xa2tons"s}},
      "Content-Type: text/plain; charset=utf-8\nPlural-Forms: nplurals=2; plural=(n > 1);\n",
      big_endian);
}

void expect_tornado_gettext_behaviour(const locale::Locale& fr) {
  EXPECT_EQ(fr.translate("school"), "\xc3\xa9" "cole");
  EXPECT_EQ(fr.pgettext("law", "right"), "le droit");
  EXPECT_EQ(fr.pgettext("good", "right"), "le bien");
  EXPECT_EQ(fr.pgettext("organization", "club", "clubs", 1), "le club");
  EXPECT_EQ(fr.pgettext("organization", "club", "clubs", 2), "les clubs");
  EXPECT_EQ(fr.pgettext("stick", "club", "clubs", 1), "le b\xc3\xa2ton");
  EXPECT_EQ(fr.pgettext("stick", "club", "clubs", 2), "les b\xc3\xa2tons");
}

TEST_F(LocaleTest, GettextContextsAndPluralsBothByteOrders) {
  for (bool big_endian : {false, true}) {
    TempDir dir("locale-mo");
    dir.put("fr_FR/LC_MESSAGES/tornado_test.mo", french_mo(big_endian));
    locale::load_gettext_translations(dir.path(), "tornado_test");
    auto fr = locale::get("fr_FR");
    ASSERT_EQ(fr->code(), "fr_FR");
    expect_tornado_gettext_behaviour(*fr);
    // French's formula (n > 1): 0 takes the singular.
    EXPECT_EQ(fr->pgettext("organization", "club", "clubs", 0), "le club");
    // No contextual translation: the plain one (plural), the message itself (singular).
    EXPECT_EQ(fr->pgettext("other", "school"), "school");
    EXPECT_EQ(fr->pgettext("other", "club", "clubs", 5), "clubs");
    EXPECT_EQ(fr->translate("dog", "dogs", 1), "dog");
    EXPECT_EQ(fr->translate("dog", "dogs", 2), "dogs");
  }
}

TEST_F(LocaleTest, TornadosOwnCompiledCatalog) {
  const std::filesystem::path dir = "/usr/lib/python3/dist-packages/tornado/test/gettext_translations";
  if (!std::filesystem::exists(dir / "fr_FR/LC_MESSAGES/tornado_test.mo")) {
    GTEST_SKIP() << "python3-tornado's test catalog is not installed";
  }
  locale::load_gettext_translations(dir, "tornado_test");
  expect_tornado_gettext_behaviour(*locale::get("fr_FR"));
}

TEST_F(LocaleTest, GettextPluralFormulaWithThreeForms) {
  TempDir dir("locale-pl");
  dir.put("pl_PL/LC_MESSAGES/app.mo",
          make_mo({{"file\0files"s, "plik\0pliki\0plik\xc3\xb3w"s}},
                  "Content-Type: text/plain; charset=UTF-8\n"
                  "Plural-Forms: nplurals=3; plural=(n==1 ? 0 : n%10>=2 && n%10<=4 && "
                  "(n%100<10 || n%100>=20) ? 1 : 2);\n"));
  locale::load_gettext_translations(dir.path(), "app");
  auto pl = locale::get("pl-pl");
  EXPECT_EQ(pl->translate("file", "files", 1), "plik");
  EXPECT_EQ(pl->translate("file", "files", 2), "pliki");
  EXPECT_EQ(pl->translate("file", "files", 5), "plik\xc3\xb3w");
  EXPECT_EQ(pl->translate("file", "files", 22), "pliki");
  EXPECT_EQ(pl->translate("file", "files", 12), "plik\xc3\xb3w");
  EXPECT_EQ(pl->translate("file"), "file");  // a plural entry is not a singular translation
}

TEST_F(LocaleTest, GettextLatin1CatalogIsDecoded) {
  TempDir dir("locale-latin1");
  dir.put("fr_FR/LC_MESSAGES/app.mo",
          make_mo({{"school", "\xe9" "cole"}}, "Content-Type: text/plain; charset=ISO-8859-1\n"));
  locale::load_gettext_translations(dir.path(), "app");
  EXPECT_EQ(locale::get("fr_FR")->translate("school"), "\xc3\xa9" "cole");
}

TEST_F(LocaleTest, PluralFormulaPrecedenceAndErrors) {
  using locale::detail::PluralForm;
  auto eval = [](std::string_view f, std::int64_t n) { return PluralForm::parse(f).evaluate(n); };
  EXPECT_EQ(eval("n != 1", 1), 0);
  EXPECT_EQ(eval("n != 1", 0), 1);
  EXPECT_EQ(eval("1 + 2 * 3", 0), 7);
  EXPECT_EQ(eval("(1 + 2) * 3", 0), 9);
  EXPECT_EQ(eval("n % 10 == 1 && n % 100 != 11 ? 0 : n != 0 ? 1 : 2", 21), 0);
  EXPECT_EQ(eval("n % 10 == 1 && n % 100 != 11 ? 0 : n != 0 ? 1 : 2", 11), 1);
  EXPECT_EQ(eval("n % 10 == 1 && n % 100 != 11 ? 0 : n != 0 ? 1 : 2", 0), 2);
  EXPECT_EQ(eval("!n", 0), 1);
  EXPECT_EQ(eval("n <= 2 || n >= 10", 5), 0);
  EXPECT_EQ(eval("n / 0", 5), 0);  // no crash on a division by zero
  EXPECT_EQ(PluralForm().evaluate(1), 0);
  EXPECT_EQ(PluralForm().evaluate(2), 1);
  for (std::string_view bad : {"", "n >", "(n", "n ? 1", "x", "n = 1", "n ** 2",
                               "1 2", "99999999999999999999"}) {
    EXPECT_THROW(PluralForm::parse(bad), locale::TranslationFileError) << bad;
  }
  EXPECT_THROW(PluralForm::parse(std::string(100, '(') + "n" + std::string(100, ')')),
               locale::TranslationFileError);
}

// A formula made long without nesting ("n+n+n+..." parses into a left-deep tree that the
// evaluator walks recursively) is refused by its size, not run until the stack overflows;
// a catalog may be up to max_file_bytes (64 MiB) of header.
TEST_F(LocaleTest, PluralFormulaTooLongIsAClearErrorNotAStackOverflow) {
  using locale::detail::PluralForm;
  std::string chain = "n";
  for (int i = 0; i < 2'000'000; ++i) chain += "+n";
  EXPECT_THROW(PluralForm::parse(chain).evaluate(1), locale::TranslationFileError);
  std::string ors = "n==0";
  for (int i = 0; i < 2'000'000; ++i) ors += "||n==0";
  EXPECT_THROW(PluralForm::parse(ors).evaluate(1), locale::TranslationFileError);
  // Real formulas are a few dozen nodes: Arabic's six forms.
  EXPECT_EQ(PluralForm::parse("n==0 ? 0 : n==1 ? 1 : n==2 ? 2 : n%100>=3 && n%100<=10 ? 3 : "
                              "n%100>=11 ? 4 : 5")
                .evaluate(105),
            3);
  std::string sum = "n";
  for (int i = 0; i < 100; ++i) sum += " + n";
  EXPECT_EQ(PluralForm::parse(sum).evaluate(2), 202);
}

// A .mo file whose tables point many entries at one large string (msgfmt never shares
// text between entries) would make each entry decode and store that string again: a file
// of a few megabytes becoming gigabytes. Refused by what it refers to, before any work.
TEST_F(LocaleTest, MoFileReferringToMoreTextThanItHoldsIsRefused) {
  constexpr std::uint32_t kEntries = 400, kBig = 1 << 20;
  std::string out;
  auto word = [&](std::uint32_t v) {
    for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  };
  const std::uint32_t originals = 28, translations = originals + 8 * kEntries;
  const std::uint32_t data = translations + 8 * kEntries;
  word(0x950412de);
  word(0);
  word(kEntries);
  word(originals);
  word(translations);
  word(0);
  word(data);
  std::string blob;
  for (std::uint32_t i = 0; i < kEntries; ++i) {  // distinct msgids "m0", "m1", ...
    const std::string id = "m" + std::to_string(i);
    word(static_cast<std::uint32_t>(id.size()));
    word(data + static_cast<std::uint32_t>(blob.size()));
    blob += id + '\0';
  }
  const std::uint32_t big_at = data + static_cast<std::uint32_t>(blob.size());
  for (std::uint32_t i = 0; i < kEntries; ++i) {  // every msgstr: the same megabyte
    word(kBig);
    word(big_at);
  }
  out += blob;
  out += std::string(kBig, 'x');
  try {
    locale::detail::parse_mo(out, "bomb.mo");
    ADD_FAILURE() << "a file of " << out.size() << " bytes decoded to " << kEntries << " MiB";
  } catch (const locale::TranslationFileError& e) {
    EXPECT_NE(std::string(e.what()).find("bomb.mo"), std::string::npos) << e.what();
  }
}

TEST_F(LocaleTest, BadMoFilesAreClearErrors) {
  using locale::detail::parse_mo;
  using locale::TranslationFileError;
  const std::string good = french_mo(false);
  auto message = [&](const std::string& bytes) {
    try {
      parse_mo(bytes, "x.mo");
    } catch (const TranslationFileError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_EQ(message("short"), "x.mo: shorter than a .mo header");
  EXPECT_EQ(message(std::string(28, 'x')), "x.mo: not a .mo file (bad magic number)");
  std::string revision = good;
  revision[6] = 2;  // major revision 2
  EXPECT_EQ(message(revision), "x.mo: unsupported .mo major revision 2");
  std::string table = good;
  table.replace(16, 4, "\x00\xff\xff\xff"s);  // the translations' table far past the end
  EXPECT_EQ(message(table), "x.mo: string table outside the file");
  EXPECT_EQ(message(good.substr(0, good.size() - 20)), "x.mo: string outside the file");
  std::string count = good;
  count[11] = 0x7f;  // a message count the file cannot hold
  EXPECT_EQ(message(count), "x.mo: more messages than the file can hold");
  EXPECT_NE(message(make_mo({}, "Content-Type: text/plain; charset=KOI8-R\n")).find("charset 'koi8-r'"),
            std::string::npos);
  EXPECT_NE(message(make_mo({}, "Plural-Forms: nplurals=2; plural=n >;\n")).find("bad Plural-Forms"),
            std::string::npos);
  EXPECT_NE(message(make_mo({{"a", "\xff"}}, "Content-Type: text/plain; charset=UTF-8\n"))
                .find("not valid UTF-8"),
            std::string::npos);

  TempDir dir("locale-badmo");
  dir.put("fr_FR/LC_MESSAGES/app.mo", "garbage that is not a catalog");
  dir.put("de_DE/LC_MESSAGES/app.mo", make_mo({{"cat", "Katze"}}, ""));
  {
    ExpectLog log(gen_log(), "Cannot load translation for 'fr_FR': .*bad magic number");
    locale::load_gettext_translations(dir.path(), "app");
  }
  EXPECT_EQ(locale::get_supported_locales(), (std::vector<std::string>{"de_DE", "en_US"}));
  EXPECT_EQ(locale::get("de")->code(), "en_US");  // "de" alone is not de_DE
  EXPECT_EQ(locale::get("de-de")->translate("cat"), "Katze");
}

// ---- get, names ----

TEST_F(LocaleTest, GetClosestMatch) {
  TempDir dir("locale-get");
  dir.put("en_US.csv", "");
  dir.put("es_LA.csv", "");
  dir.put("fr.csv", "");
  locale::load_translations(dir.path());
  EXPECT_EQ(locale::get("en-us")->code(), "en_US");
  EXPECT_EQ(locale::get("EN_us")->code(), "en_US");
  EXPECT_EQ(locale::get("fr-CA")->code(), "fr");  // the language alone
  EXPECT_EQ(locale::get("FR")->code(), "fr");
  EXPECT_EQ(locale::get("", "xx", "es-la", "fr")->code(), "es_LA");  // first that matches
  EXPECT_EQ(locale::get("fr_CA_x", "zz")->code(), "en_US");           // 3 parts: skipped
  EXPECT_EQ(locale::get()->code(), "en_US");
  std::vector<std::string> codes{"de", "fr_FR"};
  EXPECT_EQ(locale::get(std::span<const std::string>(codes))->code(), "fr");
  locale::set_default_locale("es_LA");
  EXPECT_EQ(locale::default_locale(), "es_LA");
  EXPECT_EQ(locale::get("zz")->code(), "es_LA");
  locale::set_default_locale("pt_BR");  // a default needs no translations
  EXPECT_EQ(locale::get("zz")->code(), "pt_BR");
  EXPECT_EQ(locale::get_supported_locales(),
            (std::vector<std::string>{"en_US", "es_LA", "fr", "pt_BR"}));
  // The same object for the same code until the next load.
  EXPECT_EQ(locale::get("es_LA").get(), locale::get("es-LA").get());
}

TEST_F(LocaleTest, LocaleNamesAndDirection) {
  const auto* es = locale::find_locale_name("es_LA");
  ASSERT_NE(es, nullptr);
  EXPECT_EQ(es->name, "Espa\xc3\xb1ol");
  EXPECT_EQ(es->name_en, "Spanish");
  EXPECT_EQ(locale::locale_names().size(), 62u);
  EXPECT_EQ(locale::find_locale_name("xx_XX"), nullptr);
  EXPECT_EQ(locale::Locale("en_US").name(), "English (US)");
  EXPECT_EQ(locale::Locale("xx").name(), "Unknown");
  for (const char* code : {"fa_IR", "ar_AR", "he_IL"}) EXPECT_TRUE(locale::Locale(code).rtl()) << code;
  EXPECT_FALSE(locale::Locale("en_US").rtl());
}

// ---- formatting (Tornado's EnglishTest, with a fixed now) ----

system_clock::time_point utc(int y, unsigned m, unsigned d, int hh = 0, int mm = 0, int ss = 0) {
  return sys_days(year(y) / month(m) / day(d)) + hours(hh) + minutes(mm) + seconds(ss);
}

TEST_F(LocaleTest, FormatDateFullFormat) {
  locale::Locale en("en_US");
  EXPECT_EQ(en.format_date(utc(2013, 4, 28, 18, 35), {.full_format = true}),
            "April 28, 2013 at 6:35 pm");
  EXPECT_EQ(en.format_date(utc(2013, 4, 28, 0, 5), {.full_format = true}),
            "April 28, 2013 at 12:05 am");
  EXPECT_EQ(en.format_date(utc(2013, 4, 28, 18, 35), {.shorter = true, .full_format = true}),
            "April 28, 2013");
  EXPECT_EQ(en.format_date(1367174100.0, {.full_format = true}), "April 28, 2013 at 6:35 pm");
  // gmt_offset: minutes west of UTC.
  EXPECT_EQ(en.format_date(utc(2013, 4, 28, 18, 35), {.gmt_offset = 300, .full_format = true}),
            "April 28, 2013 at 1:35 pm");
  // The clock: 24-hour unless en/en_US; zh_CN's own.
  EXPECT_EQ(locale::Locale("fr_FR").format_date(utc(2013, 4, 28, 18, 35), {.full_format = true}),
            "April 28, 2013 at 18:35");
  EXPECT_EQ(locale::Locale("zh_CN").format_date(utc(2013, 4, 28, 18, 35), {.full_format = true}),
            "April 28, 2013 at \xe4\xb8\x8b\xe5\x8d\x88" "6:35");
}

TEST_F(LocaleTest, FormatDateRelative) {
  locale::Locale en("en_US");
  const auto now = utc(2024, 3, 14, 16, 30);  // a Thursday
  auto ago = [&](system_clock::duration d, bool shorter = false, bool relative = true) {
    return en.format_date(now - d, {.relative = relative, .shorter = shorter, .now = now});
  };
  EXPECT_EQ(ago(seconds(1)), "1 second ago");
  EXPECT_EQ(ago(seconds(2)), "2 seconds ago");
  EXPECT_EQ(ago(seconds(49)), "49 seconds ago");
  EXPECT_EQ(ago(seconds(50)), "1 minute ago");
  EXPECT_EQ(ago(minutes(2)), "2 minutes ago");
  EXPECT_EQ(ago(seconds(150)), "2 minutes ago");  // 2.5 rounds to even, as Python's round()
  EXPECT_EQ(ago(seconds(210)), "4 minutes ago");  // 3.5 too
  EXPECT_EQ(ago(minutes(50)), "1 hour ago");
  EXPECT_EQ(ago(hours(2)), "2 hours ago");
  EXPECT_EQ(ago(hours(24), true), "yesterday");
  EXPECT_EQ(ago(hours(24)), "yesterday at 4:30 pm");
  EXPECT_EQ(ago(hours(48), true), "Tuesday");
  EXPECT_EQ(ago(hours(48)), "Tuesday at 4:30 pm");
  EXPECT_EQ(ago(days(300), true), "May 19");
  EXPECT_EQ(ago(days(300)), "May 19 at 4:30 pm");
  EXPECT_EQ(ago(days(500), true), "October 31, 2022");
  // Not relative: the time of day under a day old.
  EXPECT_EQ(ago(hours(2), false, false), "2:30 pm");
  // The near future is now; further ahead is the full date.
  EXPECT_EQ(en.format_date(now + seconds(30), {.now = now}), "0 seconds ago");
  EXPECT_EQ(en.format_date(now + hours(2), {.now = now}), "March 14, 2024 at 6:30 pm");
  // Without `now`: the clock.
  EXPECT_EQ(en.format_date(system_clock::now() - seconds(2)), "2 seconds ago");
}

TEST_F(LocaleTest, FormatDateTranslatesEveryPiece) {
  TempDir dir("locale-date");
  dir.put("fr_FR.csv",
          "\"%(month_name)s %(day)s, %(year)s at %(time)s\",\"%(day)s %(month_name)s %(year)s "
          "\xc3\xa0 %(time)s\"\n"
          "\"April\",\"avril\"\n"
          "\"%(minutes)d minutes ago\",\"il y a %(minutes)d minutes\",\"plural\"\n");
  locale::load_translations(dir.path());
  auto fr = locale::get("fr_FR");
  EXPECT_EQ(fr->format_date(utc(2013, 4, 28, 18, 35), {.full_format = true}),
            "28 avril 2013 \xc3\xa0 18:35");
  const auto now = utc(2013, 4, 28, 18, 35);
  EXPECT_EQ(fr->format_date(now - minutes(3), {.now = now}), "il y a 3 minutes");
  EXPECT_EQ(fr->months()[3], "avril");
}

TEST_F(LocaleTest, FormatDay) {
  locale::Locale en("en_US");
  EXPECT_EQ(en.format_day(utc(2013, 4, 28, 18, 35)), "Sunday, April 28");
  EXPECT_EQ(en.format_day(utc(2013, 4, 28, 18, 35), 0, false), "April 28");
  EXPECT_EQ(en.format_day(utc(2013, 4, 28, 2, 0), 180), "Saturday, April 27");
}

// Dates and offsets from outside (a timestamp argument, a user's gmt_offset setting) are
// never undefined behaviour: a timestamp the clock cannot hold is a clear error (Python's
// OverflowError/ValueError); an offset however large, and the clock's own extremes, format.
TEST_F(LocaleTest, HostileTimestampsAndOffsetsAreClearErrorsOrFormat) {
  locale::Locale en("en_US");
  EXPECT_THROW(en.format_date(1e300), std::out_of_range);
  EXPECT_THROW(en.format_date(-1e300), std::out_of_range);
  EXPECT_THROW(en.format_date(std::nan("")), std::out_of_range);
  EXPECT_THROW(en.format_date(std::numeric_limits<double>::infinity()), std::out_of_range);
  const auto date = utc(2013, 4, 28, 18, 35);
  for (int offset : {std::numeric_limits<int>::max(), std::numeric_limits<int>::min()}) {
    EXPECT_FALSE(en.format_date(date, {.gmt_offset = offset, .full_format = true}).empty());
    EXPECT_FALSE(en.format_date(date, {.gmt_offset = offset}).empty());
    EXPECT_FALSE(en.format_day(date, offset).empty());
  }
  for (auto extreme : {system_clock::time_point::min(), system_clock::time_point::max()}) {
    EXPECT_FALSE(en.format_date(extreme).empty());
    EXPECT_FALSE(en.format_date(extreme, {.gmt_offset = -1440, .relative = false}).empty());
    EXPECT_FALSE(en.format_date(date, {.now = extreme}).empty());
    EXPECT_FALSE(en.format_day(extreme, 1440).empty());
  }
}

TEST_F(LocaleTest, ListAndFriendlyNumber) {
  locale::Locale en("en_US");
  EXPECT_EQ(en.list({}), "");
  EXPECT_EQ(en.list({"A"}), "A");
  EXPECT_EQ(en.list({"A", "B"}), "A and B");
  EXPECT_EQ(en.list({"A", "B", "C"}), "A, B and C");
  EXPECT_EQ(locale::Locale("fa_IR").list({"A", "B", "C"}), "A \xd9\x88 B and C");
  EXPECT_EQ(en.friendly_number(1000000), "1,000,000");
  EXPECT_EQ(en.friendly_number(999), "999");
  EXPECT_EQ(en.friendly_number(1000), "1,000");
  EXPECT_EQ(en.friendly_number(0), "0");
  EXPECT_EQ(en.friendly_number(-1234567), "-1,234,567");
  EXPECT_EQ(en.friendly_number(-100), "-100");
  EXPECT_EQ(locale::Locale("en").friendly_number(12345), "12,345");
  EXPECT_EQ(locale::Locale("fr_FR").friendly_number(1000000), "1000000");
}

TEST_F(LocaleTest, FormatNamed) {
  EXPECT_EQ(locale::format_named("%(a)s and %(b)d%%", {{"a", "x"}, {"b", "2"}}), "x and 2%");
  EXPECT_THROW(locale::format_named("%(a)s", {}), std::invalid_argument);
  EXPECT_THROW(locale::format_named("%s", {}), std::invalid_argument);
  EXPECT_THROW(locale::format_named("%(a)r", {{"a", "x"}}), std::invalid_argument);
}

// ---- against Python Tornado ----

// Python Tornado's Locale formatting, with datetime.utcnow() fixed per case. Reads lines
// "code now date gmt_offset relative shorter full_format" (Unix seconds), writes one
// format_date result per line, then answers "list n" and "number v" lines.
const char* kPythonFormatter = R"PY(
import datetime as dt
import sys
import tornado.locale as L

class Clock(dt.datetime):
    now_value = None
    @classmethod
    def utcnow(cls):
        return cls.now_value

class Shim:
    datetime = Clock
    timedelta = dt.timedelta

L.datetime = Shim
utc = dt.datetime.utcfromtimestamp
for line in sys.stdin:
    f = line.split()
    if f[0] == "list":
        print(L.CSVLocale("en_US", {}).list([chr(65 + i) for i in range(int(f[1]))]))
    elif f[0] == "number":
        print(L.CSVLocale(f[2], {}).friendly_number(int(f[1])))
    else:
        code, now, date, offset, rel, short, full = f
        Clock.now_value = utc(int(now))
        d = Clock.fromtimestamp(int(date), dt.timezone.utc).replace(tzinfo=None)
        print(L.CSVLocale(code, {}).format_date(d, gmt_offset=int(offset), relative=rel == "1",
                                                shorter=short == "1", full_format=full == "1"))
)PY";

TEST_F(LocaleTest, FormattingMatchesPythonTornado) {
  if (::access("/usr/bin/python3", X_OK) != 0 ||
      std::system("/usr/bin/python3 -c 'import tornado.locale' >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "/usr/bin/python3 with python3-tornado is not installed";
  }
  TempDir dir("locale-interop");
  const auto script = dir.put("formatter.py", kPythonFormatter);
  std::string input;
  std::vector<std::string> expected_from_us;
  std::uint64_t seed = 0x9e3779b97f4a7c15ULL;
  auto next = [&](std::uint64_t bound) {
    seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
    return (seed >> 33) % bound;
  };
  const char* codes[] = {"en_US", "en", "fr_FR", "zh_CN", "fa_IR"};
  const std::int64_t spans[] = {120, 4000, 90'000, 8 * 86'400, 800 * 86'400};
  const int offsets[] = {0, 300, -330, 600, -720, 59};
  for (int i = 0; i < 3000; ++i) {
    const std::int64_t now = 1'700'000'000 + static_cast<std::int64_t>(next(100'000'000));
    const std::int64_t span = spans[next(5)];
    const std::int64_t date = now - static_cast<std::int64_t>(next(2 * span)) + span / 8;
    const std::string code = codes[next(5)];
    const int offset = offsets[next(6)];
    const bool relative = next(4) != 0, shorter = next(2), full = next(5) == 0;
    input += fmt::format("{} {} {} {} {:d} {:d} {:d}\n", code, now, date, offset, relative,
                         shorter, full);
    expected_from_us.push_back(locale::Locale(code).format_date(
        system_clock::time_point(seconds(date)),
        {.gmt_offset = offset, .relative = relative, .shorter = shorter, .full_format = full,
         .now = system_clock::time_point(seconds(now))}));
  }
  for (int n = 0; n < 6; ++n) {
    input += fmt::format("list {}\n", n);
    std::vector<std::string> parts;
    for (int k = 0; k < n; ++k) parts.push_back(std::string(1, static_cast<char>('A' + k)));
    expected_from_us.push_back(locale::Locale("en_US").list(parts));
  }
  for (std::int64_t v : {0LL, 7LL, 999LL, 1000LL, 123456LL, 1234567LL, 1000000000000LL}) {
    for (const char* code : {"en_US", "fr_FR"}) {
      input += fmt::format("number {} {}\n", v, code);
      expected_from_us.push_back(locale::Locale(code).friendly_number(v));
    }
  }
  dir.put("input.txt", input);
  const std::string command = "/usr/bin/python3 " + script.string() + " < " +
                              (dir.path() / "input.txt").string() + " > " +
                              (dir.path() / "output.txt").string();
  ASSERT_EQ(std::system(command.c_str()), 0);
  std::ifstream out(dir.path() / "output.txt");
  std::size_t i = 0, differences = 0;
  for (std::string line; std::getline(out, line); ++i) {
    ASSERT_LT(i, expected_from_us.size());
    if (line != expected_from_us[i] && ++differences <= 10) {
      ADD_FAILURE() << "case " << i << ": Python Tornado '" << line << "', tornado-cpp '"
                    << expected_from_us[i] << "'";
    }
  }
  EXPECT_EQ(i, expected_from_us.size());
  EXPECT_EQ(differences, 0u);
}

// ---- the web layer ----

struct AcceptLanguageHandler : web::RequestHandler {
  Task<> get() override {
    std::string code = get_browser_locale()->code();
    std::replace(code.begin(), code.end(), '_', '-');
    set_header("Content-Language", code);
    finish();
    co_return;
  }
};

struct UserLocaleHandler : web::RequestHandler {
  locale::LocalePtr get_user_locale() override {
    auto lang = get_argument("lang", "");
    return lang.empty() ? nullptr : locale::get(lang);
  }
  Task<> get() override {
    write(locale().code() + " " + locale().translate("school"));
    co_return;
  }
};

struct SetLocaleHandler : web::RequestHandler {
  locale::LocalePtr get_user_locale() override { throw std::logic_error("not called"); }
  Task<> prepare() override {
    set_locale(locale::get("en_US"));
    co_return;
  }
  Task<> get() override {
    write("Hello (" + locale().code() + ")");
    co_return;
  }
};

struct PageHandler : web::RequestHandler {
  Task<> get() override {
    render("page.html", {{"n", std::stoi(get_argument("n", "2"))}});
    co_return;
  }
};

struct TemplateNameHandler : web::RequestHandler {
  Task<> get() override {
    render(get_argument("t"));
    co_return;
  }
};

class LocaleWebTest : public tornado::testing::AsyncHTTPTest {
 protected:
  void SetUp() override {
    locale::detail::install({});
    dir_.put("fr_FR/LC_MESSAGES/tornado_test.mo", french_mo(false));
    locale::load_gettext_translations(dir_.path(), "tornado_test");
    AsyncHTTPTest::SetUp();
  }
  void TearDown() override {
    AsyncHTTPTest::TearDown();
    locale::detail::install({});
  }
  tornado::testing::HTTPApp get_app() override {
    web::Settings s;
    s.template_loader = std::make_shared<templates::DictLoader>(
        std::initializer_list<std::pair<const std::string, std::string>>{
            {"page.html",
             "{{ locale.code }}|{{ _(\"school\") }}|"
             "{{ pgettext(\"organization\", \"club\", \"clubs\", n) }}|"
             "{{ _(\"%(n)d dog\", \"%(n)d dogs\", n) % {\"n\": n} }}|"
             "{{ pgettext(\"law\", \"right\") }}|{{ locale.rtl }}|"
             "{{ locale.format_date(1367174100, full_format=True) }}|"
             "{{ locale.list([\"A\", \"B\", \"C\"]) }}|{{ locale.friendly_number(1234567) }}|"
             "{{ locale.translate(\"school\") }}|"
             "{{ locale.format_day(1367174100, dow=False) }}"},
            {"iso.html",
             "{{ locale.format_date('2013-04-28T18:35:00Z', full_format=True) }}|"
             "{{ locale.format_date('2013-04-28T18:35:00.250+00:00', full_format=True) }}|"
             "{{ locale.format_date(1367174100, full_format=True) }}|"
             "{{ locale.format_day('2013-04-28T18:35:00Z', dow=False) }}"},
            {"bad_iso.html", "{{ locale.format_date('2013-04-28 18:35') }}"}});
    return std::make_shared<web::Application>(
        std::vector<web::URLSpec>{{"/", web::handler<AcceptLanguageHandler>()},
                                  {"/user", web::handler<UserLocaleHandler>()},
                                  {"/set", web::handler<SetLocaleHandler>()},
                                  {"/page", web::handler<PageHandler>()},
                                  {"/t", web::handler<TemplateNameHandler>()}},
        s);
  }
  std::string content_language(const char* accept_language) {
    httpclient::HTTPRequest req;
    if (accept_language) req.headers.add("Accept-Language", accept_language);
    auto r = fetch("/", std::move(req));
    return r.headers.get("Content-Language", "");
  }
  httpclient::HTTPResponse fetch_with(const std::string& path, const char* accept_language) {
    httpclient::HTTPRequest req;
    req.headers.add("Accept-Language", accept_language);
    return fetch(path, std::move(req));
  }
  TempDir dir_{"locale-web"};
};

// JSON has no datetime: the template's date functions take Unix seconds or a UTC ISO 8601
// string (what JSON APIs and the blog's entries carry), and refuse anything else.
TEST_F(LocaleWebTest, TemplateDatesMayBeUtcIso8601Strings) {
  auto r = fetch("/t?t=iso.html");
  EXPECT_EQ(r.body, "April 28, 2013 at 6:35 pm|April 28, 2013 at 6:35 pm|"
                    "April 28, 2013 at 6:35 pm|April 28");
  ExpectLog log(app_log(), "must be UTC ISO 8601");
  EXPECT_EQ(fetch("/t?t=bad_iso.html").code, 500);
}

TEST_F(LocaleWebTest, AcceptLanguageQValues) {
  EXPECT_EQ(content_language("fr-FR;q=0.9"), "fr-FR");
  EXPECT_EQ(content_language("fr-FR; q=0.9"), "fr-FR");
  EXPECT_EQ(content_language("de, fr-FR;q=0.5"), "fr-FR");  // de is not supported
  EXPECT_EQ(content_language("en-US;q=0.5, fr-FR;q=0.8"), "fr-FR");
  EXPECT_EQ(content_language("fr-FR;q=0.8, en-US;q=0.9"), "en-US");
  EXPECT_EQ(content_language(nullptr), "en-US");
}

TEST_F(LocaleWebTest, AcceptLanguageZeroOrInvalidQIsIgnored) {
  EXPECT_EQ(content_language("fr-FR;q=0"), "en-US");
  EXPECT_EQ(content_language("fr-FR;q=-1"), "en-US");
  EXPECT_EQ(content_language("fr-FR;q=abc"), "en-US");
  EXPECT_EQ(content_language("fr-FR;q=0x1"), "en-US");
  EXPECT_EQ(content_language("fr-FR;q=nan"), "en-US");
  EXPECT_EQ(content_language(",,;q=1, fr-FR"), "fr-FR");
}

TEST_F(LocaleWebTest, UserLocaleWinsOverTheBrowser) {
  EXPECT_EQ(fetch_with("/user?lang=fr_FR", "en-US").body, "fr_FR \xc3\xa9" "cole");
  EXPECT_EQ(fetch_with("/user", "fr").body, "en_US school");  // "fr" alone is not fr_FR
  EXPECT_EQ(fetch_with("/user", "fr-fr").body, "fr_FR \xc3\xa9" "cole");
}

TEST_F(LocaleWebTest, SetLocaleInPrepare) {
  auto r = fetch_with("/set", "fr-FR");
  EXPECT_EQ(r.code, 200);
  EXPECT_EQ(r.body, "Hello (en_US)");
}

TEST_F(LocaleWebTest, TemplateTranslatesThroughTheBrowserLocale) {
  EXPECT_EQ(fetch_with("/page?n=2", "fr-FR,en;q=0.5").body,
            "fr_FR|\xc3\xa9" "cole|les clubs|2 dogs|le droit|False|April 28, 2013 at 18:35|"
            "A, B and C|1234567|\xc3\xa9" "cole|April 28");
  EXPECT_EQ(fetch_with("/page?n=1", "fr-FR").body,
            "fr_FR|\xc3\xa9" "cole|le club|1 dog|le droit|False|April 28, 2013 at 18:35|"
            "A, B and C|1234567|\xc3\xa9" "cole|April 28");
  EXPECT_EQ(fetch_with("/page?n=3", "en-US").body,
            "en_US|school|clubs|3 dogs|right|False|April 28, 2013 at 6:35 pm|A, B and C|"
            "1,234,567|school|April 28");
}

}  // namespace locale_test
