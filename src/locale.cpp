// tornado::locale: the process-wide translations, get()'s closest match, and translation
// lookups (Tornado's CSVLocale and GettextLocale in one class: the catalog knows its kind).
#include "tornado/locale.h"

#include <algorithm>
#include <cctype>
#include <mutex>

#include "internal/locale_catalog.h"
#include "tornado/log.h"

namespace tornado::locale {

namespace detail {
namespace {

// What get() reads: replaced whole by the load functions and set_default_locale, so a
// reader holds one consistent snapshot without a lock while it uses it.
struct State {
  std::string default_code = "en_US";
  std::map<std::string, std::shared_ptr<const Translations>> translations;
  std::map<std::string, LocalePtr, std::less<>> locales;  // every supported code
};

std::mutex& state_mutex() {
  static std::mutex mutex;
  return mutex;
}

std::shared_ptr<const State>& state_slot() {
  static std::shared_ptr<const State> state;
  return state;
}

std::shared_ptr<const State> make_state(
    std::string default_code, std::map<std::string, std::shared_ptr<const Translations>> t) {
  auto state = std::make_shared<State>();
  state->default_code = std::move(default_code);
  state->translations = std::move(t);
  for (const auto& [code, translations] : state->translations) {
    state->locales.emplace(code, std::make_shared<const Locale>(code, translations));
  }
  if (!state->locales.contains(state->default_code)) {
    state->locales.emplace(state->default_code, std::make_shared<const Locale>(state->default_code));
  }
  return state;
}

std::shared_ptr<const State> current_state() {
  std::lock_guard lock(state_mutex());
  auto& slot = state_slot();
  if (!slot) slot = make_state("en_US", {});
  return slot;
}

std::string supported_list(const State& state) {
  std::string out;
  for (const auto& [code, _] : state.locales) {
    if (!out.empty()) out += ", ";
    out += code;
  }
  return out;
}

}  // namespace

void install(std::map<std::string, std::shared_ptr<const Translations>> translations) {
  std::shared_ptr<const State> state;
  {
    std::lock_guard lock(state_mutex());
    auto& slot = state_slot();
    std::string default_code = slot ? slot->default_code : "en_US";
    state = make_state(std::move(default_code), std::move(translations));
    slot = state;
  }
  gen_log().debug("Supported locales: {}", supported_list(*state));
}

bool is_locale_code(std::string_view code) noexcept {
  std::size_t i = 0;
  while (i < code.size() && code[i] >= 'a' && code[i] <= 'z') ++i;
  if (i == 0) return false;
  if (i == code.size()) return true;
  if (code[i] != '_' || i + 1 == code.size()) return false;
  for (++i; i < code.size(); ++i) {
    if (code[i] < 'A' || code[i] > 'Z') return false;
  }
  return true;
}

}  // namespace detail

using detail::Translations;

// ---- get ----

namespace {

std::string ascii_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string ascii_upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

template <typename Range>
LocalePtr closest(const Range& codes) {
  auto state = detail::current_state();
  auto find = [&](const std::string& code) -> LocalePtr {
    auto it = state->locales.find(code);
    return it == state->locales.end() ? nullptr : it->second;
  };
  for (std::string_view given : codes) {
    if (given.empty()) continue;
    std::string code(given);
    std::replace(code.begin(), code.end(), '-', '_');
    const auto first_sep = code.find('_');
    std::string language = code.substr(0, first_sep);
    if (first_sep != std::string::npos) {
      std::string_view region = std::string_view(code).substr(first_sep + 1);
      if (region.find('_') != std::string_view::npos) continue;  // more than two parts
      code = ascii_lower(language) + "_" + ascii_upper(region);
    }
    if (auto exact = find(code)) return exact;
    if (auto lang = find(ascii_lower(language))) return lang;
  }
  return find(state->default_code);
}

}  // namespace

LocalePtr get(std::span<const std::string> codes) { return closest(codes); }
LocalePtr get(std::initializer_list<std::string_view> codes) { return closest(codes); }

void set_default_locale(std::string code) {
  if (code.empty()) throw std::invalid_argument("set_default_locale: empty locale code");
  std::lock_guard lock(detail::state_mutex());
  auto& slot = detail::state_slot();
  auto translations = slot ? slot->translations
                           : std::map<std::string, std::shared_ptr<const Translations>>{};
  slot = detail::make_state(std::move(code), std::move(translations));
}

std::string default_locale() { return detail::current_state()->default_code; }

std::vector<std::string> get_supported_locales() {
  auto state = detail::current_state();
  std::vector<std::string> out;
  for (const auto& [code, _] : state->locales) out.push_back(code);
  return out;
}

// ---- Locale ----

Locale::Locale(std::string code) : Locale(std::move(code), nullptr) {}

Locale::Locale(std::string code, std::shared_ptr<const Translations> translations)
    : code_(std::move(code)), translations_(std::move(translations)) {
  const LocaleName* known = find_locale_name(code_);
  name_ = known ? std::string(known->name) : "Unknown";
  for (std::string_view prefix : {"fa", "ar", "he"}) {
    if (code_.starts_with(prefix)) rtl_ = true;
  }
  for (const char* month : {"January", "February", "March", "April", "May", "June", "July",
                            "August", "September", "October", "November", "December"}) {
    months_.push_back(translate(month));
  }
  for (const char* day :
       {"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"}) {
    weekdays_.push_back(translate(day));
  }
}

Locale::~Locale() = default;

namespace {

const std::string* lookup(const std::unordered_map<std::string, std::string>& map,
                          std::string_view key) {
  auto it = map.find(std::string(key));
  return it == map.end() ? nullptr : &it->second;
}

// gettext's ngettext: the catalog's form for `count`, or nullptr when it has none.
const std::string* plural_lookup(const Translations& t, std::string_view key, std::int64_t count) {
  auto it = t.plural_forms.find(std::string(key));
  if (it == t.plural_forms.end()) return nullptr;
  const std::int64_t index = t.plural_formula.evaluate(count);
  if (index < 0 || static_cast<std::uint64_t>(index) >= it->second.size()) return nullptr;
  return &it->second[static_cast<std::size_t>(index)];
}

std::string with_context(std::string_view context, std::string_view message) {
  std::string key;
  key.reserve(context.size() + 1 + message.size());
  key.append(context).push_back('\x04');
  key.append(message);
  return key;
}

}  // namespace

std::string Locale::translate(std::string_view message) const {
  if (!translations_) return std::string(message);
  const Translations& t = *translations_;
  const auto& map = t.kind == Translations::Kind::kGettext ? t.messages : t.unknown;
  const std::string* found = lookup(map, message);
  return found ? *found : std::string(message);
}

std::string Locale::translate(std::string_view message, std::string_view plural_message,
                              std::int64_t count) const {
  std::string_view fallback = count == 1 ? message : plural_message;
  if (!translations_) return std::string(fallback);
  const Translations& t = *translations_;
  if (t.kind == Translations::Kind::kGettext) {
    const std::string* found = plural_lookup(t, message, count);
    return found ? *found : std::string(fallback);
  }
  const std::string* found =
      count == 1 ? lookup(t.singular, message) : lookup(t.plural, plural_message);
  return found ? *found : std::string(fallback);
}

std::string Locale::pgettext(std::string_view context, std::string_view message) const {
  if (!translations_ || translations_->kind != Translations::Kind::kGettext) {
    if (translations_ && !translations_->empty()) {
      gen_log().warn("pgettext is not supported by CSVLocale");
    }
    return translate(message);
  }
  const std::string* found = lookup(translations_->messages, with_context(context, message));
  return found ? *found : std::string(message);
}

std::string Locale::pgettext(std::string_view context, std::string_view message,
                             std::string_view plural_message, std::int64_t count) const {
  if (!translations_ || translations_->kind != Translations::Kind::kGettext) {
    if (translations_ && !translations_->empty()) {
      gen_log().warn("pgettext is not supported by CSVLocale");
    }
    return translate(message, plural_message, count);
  }
  const std::string* found =
      plural_lookup(*translations_, with_context(context, message), count);
  return found ? *found : translate(message, plural_message, count);
}

}  // namespace tornado::locale
