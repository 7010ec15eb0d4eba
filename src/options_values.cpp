// Option values from text, as Tornado's _Option.parse, and Python's str()/repr() of them.
#include <fmt/format.h>

#include <cmath>
#include <cstdlib>
#include <functional>

#include "internal/options_parse.h"
#include "tornado/options.h"

namespace tornado::options {

namespace {

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_word(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

std::string_view strip(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

// Digits with single underscores between them (PEP 515), underscores dropped into `out`.
bool take_digits(std::string_view s, std::size_t& i, std::string& out) {
  if (i >= s.size() || !is_digit(s[i])) return false;
  while (i < s.size()) {
    if (is_digit(s[i])) {
      out.push_back(s[i++]);
    } else if (s[i] == '_' && i + 1 < s.size() && is_digit(s[i + 1])) {
      ++i;
    } else {
      break;
    }
  }
  return true;
}

bool leap_year(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }
int days_in_month(int y, int m) {
  static constexpr int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && leap_year(y) ? 29 : days[m - 1];
}

// ---- strptime for Tornado's formats: Python's _strptime regex, matched with backtracking
// in the regex's alternation order; the first path through the whole pattern wins and must
// then have consumed all the text ("unconverted data remains" otherwise).

struct Fields {
  int year = 1900, month = 1, day = 1, hour = 0, minute = 0, second = 0;
};

// Candidate lengths for a directive at `s[i..]`, in the order Python's regex tries them.
std::vector<std::size_t> directive_candidates(char directive, std::string_view s, std::size_t i) {
  auto d = [&](std::size_t k) { return i + k < s.size() && is_digit(s[i + k]); };
  auto c = [&](std::size_t k) { return i + k < s.size() ? s[i + k] : '\0'; };
  std::vector<std::size_t> out;
  switch (directive) {
    case 'Y':
      if (d(0) && d(1) && d(2) && d(3)) out.push_back(4);
      break;
    case 'm':  // 1[0-2]|0[1-9]|[1-9]
      if (c(0) == '1' && c(1) >= '0' && c(1) <= '2') out.push_back(2);
      if (c(0) == '0' && c(1) >= '1' && c(1) <= '9') out.push_back(2);
      if (c(0) >= '1' && c(0) <= '9') out.push_back(1);
      break;
    case 'd':  // 3[01]|[12]\d|0[1-9]|[1-9]| [1-9]
      if (c(0) == '3' && (c(1) == '0' || c(1) == '1')) out.push_back(2);
      if ((c(0) == '1' || c(0) == '2') && d(1)) out.push_back(2);
      if (c(0) == '0' && c(1) >= '1' && c(1) <= '9') out.push_back(2);
      if (c(0) >= '1' && c(0) <= '9') out.push_back(1);
      if (c(0) == ' ' && c(1) >= '1' && c(1) <= '9') out.push_back(2);
      break;
    case 'H':  // 2[0-3]|[0-1]\d|\d
      if (c(0) == '2' && c(1) >= '0' && c(1) <= '3') out.push_back(2);
      if ((c(0) == '0' || c(0) == '1') && d(1)) out.push_back(2);
      if (d(0)) out.push_back(1);
      break;
    case 'M':  // [0-5]\d|\d
      if (c(0) >= '0' && c(0) <= '5' && d(1)) out.push_back(2);
      if (d(0)) out.push_back(1);
      break;
    case 'S':  // 6[0-1]|[0-5]\d|\d
      if (c(0) == '6' && (c(1) == '0' || c(1) == '1')) out.push_back(2);
      if (c(0) >= '0' && c(0) <= '5' && d(1)) out.push_back(2);
      if (d(0)) out.push_back(1);
      break;
    case 'a':
    case 'b': {
      static constexpr const char* days[] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};
      static constexpr const char* months[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                               "jul", "aug", "sep", "oct", "nov", "dec"};
      if (i + 3 > s.size()) break;
      std::string_view word = s.substr(i, 3);
      if (directive == 'a') {
        for (const char* name : days) {
          if (iequals(word, name)) out.push_back(3);
        }
      } else {
        for (const char* name : months) {
          if (iequals(word, name)) out.push_back(3);
        }
      }
      break;
    }
  }
  return out;
}

void store(char directive, std::string_view text, Fields& f) {
  if (directive == 'a') return;  // the weekday is not checked against the date (as Python)
  if (directive == 'b') {
    static constexpr const char* months[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                             "jul", "aug", "sep", "oct", "nov", "dec"};
    for (int m = 0; m < 12; ++m) {
      if (iequals(text, months[m])) f.month = m + 1;
    }
    return;
  }
  int n = 0;
  for (char ch : text) {
    if (is_digit(ch)) n = n * 10 + (ch - '0');
  }
  switch (directive) {
    case 'Y':
      f.year = n;
      break;
    case 'm':
      f.month = n;
      break;
    case 'd':
      f.day = n;
      break;
    case 'H':
      f.hour = n;
      break;
    case 'M':
      f.minute = n;
      break;
    case 'S':
      f.second = n;
      break;
  }
}

// Matches `format[fi..]` against `s[si..]`; on the first complete path sets `end` and `f`.
bool match_format(std::string_view format, std::size_t fi, std::string_view s, std::size_t si,
                  Fields f, Fields& out, std::size_t& end) {
  if (fi == format.size()) {
    out = f;
    end = si;
    return true;
  }
  char fc = format[fi];
  if (fc == '%') {
    char directive = format[fi + 1];
    for (std::size_t len : directive_candidates(directive, s, si)) {
      Fields next = f;
      store(directive, s.substr(si, len), next);
      if (match_format(format, fi + 2, s, si + len, next, out, end)) return true;
    }
    return false;
  }
  if (is_space(fc)) {  // whitespace in the format is \s+ (greedy, backtracking)
    std::size_t n = 0;
    while (si + n < s.size() && is_space(s[si + n])) ++n;
    for (; n >= 1; --n) {
      if (match_format(format, fi + 1, s, si + n, f, out, end)) return true;
    }
    return false;
  }
  if (si < s.size() && lower(s[si]) == lower(fc)) {
    return match_format(format, fi + 1, s, si + 1, f, out, end);
  }
  return false;
}

// Python's timedelta keyword names and Tornado's abbreviations, in microseconds.
std::optional<long double> unit_microseconds(std::string_view unit) {
  static const std::pair<std::string_view, long double> units[] = {
      {"h", 3600e6L},         {"hours", 3600e6L}, {"m", 60e6L},
      {"min", 60e6L},         {"minutes", 60e6L}, {"s", 1e6L},
      {"sec", 1e6L},          {"seconds", 1e6L},  {"ms", 1e3L},
      {"milliseconds", 1e3L}, {"us", 1L},         {"microseconds", 1L},
      {"d", 86400e6L},        {"days", 86400e6L}, {"w", 7 * 86400e6L},
      {"weeks", 7 * 86400e6L}};
  for (const auto& [name, factor] : units) {
    if (name == unit) return factor;
  }
  return std::nullopt;
}

// Python's float pattern of _parse_timedelta at s[i..]: [-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?
std::optional<std::size_t> float_token_end(std::string_view s, std::size_t i) {
  std::size_t j = i;
  if (j < s.size() && (s[j] == '+' || s[j] == '-')) ++j;
  std::size_t digits = j;
  while (j < s.size() && is_digit(s[j])) ++j;
  if (j > digits) {
    if (j < s.size() && s[j] == '.') {
      ++j;
      while (j < s.size() && is_digit(s[j])) ++j;
    }
  } else {
    if (j >= s.size() || s[j] != '.' || j + 1 >= s.size() || !is_digit(s[j + 1])) {
      return std::nullopt;
    }
    j += 1;
    while (j < s.size() && is_digit(s[j])) ++j;
  }
  if (j < s.size() && (s[j] == 'e' || s[j] == 'E')) {
    std::size_t k = j + 1;
    if (k < s.size() && (s[k] == '+' || s[k] == '-')) ++k;
    if (k < s.size() && is_digit(s[k])) {
      while (k < s.size() && is_digit(s[k])) ++k;
      j = k;
    }
  }
  return j;
}

std::string format_float_repr(double d) {
  if (std::isnan(d)) return "nan";
  if (std::isinf(d)) return d > 0 ? "inf" : "-inf";
  std::string s = fmt::format("{}", d);
  if (s.find_first_of(".en") == std::string::npos) s += ".0";
  return s;
}

}  // namespace

std::string_view type_name(Type type) {
  switch (type) {
    case Type::Bool:
      return "bool";
    case Type::Int:
      return "int";
    case Type::Double:
      return "float";
    case Type::String:
      return "str";
    case Type::Duration:
      return "timedelta";
    case Type::DateTime:
      return "datetime";
  }
  return "?";
}

std::chrono::sys_seconds DateTime::as_utc() const {
  using namespace std::chrono;
  sys_days date =
      year_month_day(std::chrono::year(year), std::chrono::month(month), std::chrono::day(day));
  return date + hours(hour) + minutes(minute) + seconds(second);
}

std::string DateTime::str() const {
  return fmt::format("{:04}-{:02}-{:02} {:02}:{:02}:{:02}", year, month, day, hour, minute, second);
}

void Value::type_mismatch(std::string_view wanted) const {
  std::string have =
      multiple_ ? "list of " + std::string(type_name(type_)) : std::string(type_name(type_));
  throw Error("is a " + have + ", not a " + std::string(wanted));
}

std::string Value::str() const {
  if (none_) return "None";
  if (!multiple_) return internal::python_str(items_.front());
  std::string out = "[";
  for (std::size_t i = 0; i < items_.size(); ++i) {
    if (i > 0) out += ", ";
    out += internal::python_repr(items_[i]);
  }
  return out + "]";
}

namespace internal {

bool parse_bool(std::string_view text) {
  // Tornado: anything but false/0/f (any case) is true, so "--debug=no" is true.
  return !(iequals(text, "false") || text == "0" || iequals(text, "f"));
}

std::int64_t parse_int(std::string_view text) {
  std::string_view s = strip(text);
  std::size_t i = 0;
  bool negative = false;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) negative = s[i++] == '-';
  std::string digits;
  if (!take_digits(s, i, digits) || i != s.size()) {
    throw Error("invalid literal for int() with base 10: " + python_repr_string(text));
  }
  // Python allows leading zeros only for zero itself ("007" is an error, "000" is 0).
  if (digits.size() > 1 && digits[0] == '0' && digits.find_first_not_of('0') != std::string::npos) {
    throw Error("invalid literal for int() with base 10: " + python_repr_string(text));
  }
  errno = 0;
  char* end = nullptr;
  unsigned long long magnitude = std::strtoull(digits.c_str(), &end, 10);
  if (errno == ERANGE || magnitude > (negative ? 9223372036854775808ULL : 9223372036854775807ULL)) {
    throw Error("integer out of range: " + std::string(text));
  }
  return negative ? static_cast<std::int64_t>(0 - magnitude) : static_cast<std::int64_t>(magnitude);
}

double parse_float(std::string_view text) {
  std::string_view s = strip(text);
  std::size_t i = 0;
  std::string clean;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) clean.push_back(s[i++]);
  std::string_view rest = s.substr(i);
  for (std::string_view special : {"inf", "infinity", "nan"}) {
    if (iequals(rest, special)) return std::strtod((clean + std::string(special)).c_str(), nullptr);
  }
  bool int_part = take_digits(s, i, clean);
  bool frac_part = false;
  if (i < s.size() && s[i] == '.') {
    clean.push_back(s[i++]);
    frac_part = take_digits(s, i, clean);
  }
  bool ok = int_part || frac_part;
  if (ok && i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    clean.push_back(s[i++]);
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) clean.push_back(s[i++]);
    ok = take_digits(s, i, clean);
  }
  if (!ok || i != s.size()) {
    throw Error("could not convert string to float: " + python_repr_string(text));
  }
  return std::strtod(clean.c_str(), nullptr);
}

Duration parse_timedelta(std::string_view text) {
  long double total = 0;
  std::size_t i = 0;
  auto fail = [&] { return Error("Unrecognized timedelta: " + python_repr_string(text)); };
  while (i < text.size()) {
    while (i < text.size() && is_space(text[i])) ++i;
    auto number_end = float_token_end(text, i);
    if (!number_end) throw fail();
    std::string number(text.substr(i, *number_end - i));
    i = *number_end;
    while (i < text.size() && is_space(text[i])) ++i;
    std::size_t unit_start = i;
    while (i < text.size() && is_word(text[i])) ++i;
    std::string_view unit = text.substr(unit_start, i - unit_start);
    while (i < text.size() && is_space(text[i])) ++i;
    auto factor = unit_microseconds(unit.empty() ? "seconds" : unit);
    if (!factor) {
      throw Error("Unrecognized timedelta unit " + python_repr_string(unit) + " in " +
                  python_repr_string(text));
    }
    long double value = std::strtold(number.c_str(), nullptr) * *factor;
    if (!std::isfinite(static_cast<double>(value))) throw fail();
    total += std::nearbyint(value);  // each term rounds to a microsecond, as timedelta()
  }
  if (std::fabs(static_cast<double>(total)) > 9.2e18) {
    throw Error("timedelta out of range: " + python_repr_string(text));
  }
  return Duration(static_cast<std::int64_t>(total));
}

DateTime parse_datetime(std::string_view text) {
  static constexpr const char* formats[] = {"%a %b %d %H:%M:%S %Y",
                                            "%Y-%m-%d %H:%M:%S",
                                            "%Y-%m-%d %H:%M",
                                            "%Y-%m-%dT%H:%M",
                                            "%Y%m%d %H:%M:%S",
                                            "%Y%m%d %H:%M",
                                            "%Y-%m-%d",
                                            "%Y%m%d",
                                            "%H:%M:%S",
                                            "%H:%M"};
  for (const char* format : formats) {
    Fields f;
    std::size_t end = 0;
    if (!match_format(format, 0, text, 0, Fields{}, f, end) || end != text.size()) continue;
    if (f.second > 59 || f.day > days_in_month(f.year, f.month)) continue;  // datetime() refuses
    return DateTime{f.year, f.month, f.day, f.hour, f.minute, f.second};
  }
  throw Error("Unrecognized date/time format: " + python_repr_string(text));
}

Scalar parse_scalar(Type type, std::string_view text) {
  switch (type) {
    case Type::Bool:
      return parse_bool(text);
    case Type::Int:
      return parse_int(text);
    case Type::Double:
      return parse_float(text);
    case Type::String:
      return std::string(text);
    case Type::Duration:
      return parse_timedelta(text);
    case Type::DateTime:
      return parse_datetime(text);
  }
  return std::string(text);
}

Value parse_text(Type type, bool multiple, std::string_view text) {
  if (!multiple) return Value(type, parse_scalar(type, text));
  std::vector<Scalar> items;
  std::size_t start = 0;
  while (true) {
    std::size_t comma = text.find(',', start);
    std::string_view part =
        text.substr(start, comma == std::string_view::npos ? text.npos : comma - start);
    if (type == Type::Int) {
      // "lo:hi" is every integer from lo to hi inclusive (empty when hi < lo), as Tornado.
      std::size_t colon = part.find(':');
      std::int64_t lo = parse_int(part.substr(0, colon));
      std::int64_t hi = lo;
      if (colon != std::string_view::npos && colon + 1 < part.size()) {
        hi = parse_int(part.substr(colon + 1));
      }
      if (hi >= lo) {
        // In unsigned arithmetic: hi - lo and n + 1 overflow int64 at the type's ends.
        const std::uint64_t span = static_cast<std::uint64_t>(hi) - static_cast<std::uint64_t>(lo);
        if (span >= kMaxListItems - items.size()) {
          throw Error("range " + std::string(part) + " has more than " +
                      std::to_string(kMaxListItems) + " values");
        }
        for (std::uint64_t i = 0; i <= span; ++i) {
          items.emplace_back(static_cast<std::int64_t>(static_cast<std::uint64_t>(lo) + i));
        }
      }
    } else {
      items.push_back(parse_scalar(type, part));
    }
    if (items.size() > kMaxListItems) {
      throw Error("more than " + std::to_string(kMaxListItems) + " values");
    }
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return Value::list(type, std::move(items));
}

std::string python_repr_string(std::string_view s) {
  char quote =
      s.find('\'') != std::string_view::npos && s.find('"') == std::string_view::npos ? '"' : '\'';
  std::string out(1, quote);
  for (unsigned char c : s) {
    if (c == '\\' || c == static_cast<unsigned char>(quote)) {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c == 0x7f) {
      out += fmt::format("\\x{:02x}", c);
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  out.push_back(quote);
  return out;
}

std::string python_str(const Scalar& item) {
  return std::visit(
      [](const auto& v) -> std::string {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, bool>) {
          return v ? "True" : "False";
        } else if constexpr (std::is_same_v<T, std::int64_t>) {
          return std::to_string(v);
        } else if constexpr (std::is_same_v<T, double>) {
          return format_float_repr(v);
        } else if constexpr (std::is_same_v<T, std::string>) {
          return v;
        } else if constexpr (std::is_same_v<T, Duration>) {
          // timedelta: days may be negative, seconds and microseconds never are.
          std::int64_t us = v.count();
          std::int64_t day_us = 86400LL * 1000000;
          std::int64_t days = us >= 0 ? us / day_us : -((-us + day_us - 1) / day_us);
          std::int64_t rest = us - days * day_us;
          std::int64_t secs = rest / 1000000;
          std::int64_t micros = rest % 1000000;
          std::string out;
          if (days != 0) out = fmt::format("{} day{}, ", days, days == 1 || days == -1 ? "" : "s");
          out += fmt::format("{}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60);
          if (micros != 0) out += fmt::format(".{:06}", micros);
          return out;
        } else {
          return v.str();
        }
      },
      item);
}

std::string python_repr(const Scalar& item) {
  if (auto* s = std::get_if<std::string>(&item)) return python_repr_string(*s);
  if (auto* d = std::get_if<Duration>(&item)) {
    std::int64_t us = d->count();
    std::int64_t day_us = 86400LL * 1000000;
    std::int64_t days = us >= 0 ? us / day_us : -((-us + day_us - 1) / day_us);
    std::int64_t rest = us - days * day_us;
    std::vector<std::string> parts;
    if (days != 0) parts.push_back(fmt::format("days={}", days));
    if (rest / 1000000 != 0) parts.push_back(fmt::format("seconds={}", rest / 1000000));
    if (rest % 1000000 != 0) parts.push_back(fmt::format("microseconds={}", rest % 1000000));
    if (parts.empty()) return "datetime.timedelta(0)";
    return fmt::format("datetime.timedelta({})", fmt::join(parts, ", "));
  }
  if (auto* t = std::get_if<DateTime>(&item)) {
    std::vector<int> fields = {t->year, t->month, t->day, t->hour, t->minute, t->second};
    if (fields.back() == 0) fields.pop_back();  // Python drops a zero second (and microsecond)
    return fmt::format("datetime.datetime({})", fmt::join(fields, ", "));
  }
  return python_str(item);
}

}  // namespace internal
}  // namespace tornado::options
