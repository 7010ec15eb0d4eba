// httputil: HTTP-date formatting and parsing (RFC 9110 5.6.7).
#include <array>
#include <chrono>
#include <cmath>
#include <string>

#include "tornado/httputil.h"

namespace tornado::httputil {
namespace {

using namespace std::chrono;

constexpr std::array<std::string_view, 7> kDays = {"Sun", "Mon", "Tue", "Wed",
                                                   "Thu", "Fri", "Sat"};
constexpr std::array<std::string_view, 7> kLongDays = {
    "Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"};
constexpr std::array<std::string_view, 12> kMonths = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

void append_2(std::string& out, unsigned v) {
  out.push_back(static_cast<char>('0' + v / 10 % 10));
  out.push_back(static_cast<char>('0' + v % 10));
}

// A small cursor over the date text; each take_* consumes on success only.
struct Cursor {
  std::string_view s;
  bool take(std::string_view lit) {
    if (s.substr(0, lit.size()) != lit) return false;
    s.remove_prefix(lit.size());
    return true;
  }
  // Exactly `n` digits (n_min..n digits if n_min given).
  bool take_digits(int n, int& out, int n_min = -1) {
    if (n_min < 0) n_min = n;
    int value = 0, count = 0;
    while (count < n && count < static_cast<int>(s.size()) && s[count] >= '0' && s[count] <= '9') {
      value = value * 10 + (s[count] - '0');
      ++count;
    }
    if (count < n_min) return false;
    s.remove_prefix(count);
    out = value;
    return true;
  }
  bool take_month(int& month) {
    for (std::size_t i = 0; i < kMonths.size(); ++i) {
      if (take(kMonths[i])) {
        month = static_cast<int>(i) + 1;
        return true;
      }
    }
    return false;
  }
  bool take_time(int& h, int& m, int& sec) {
    return take_digits(2, h) && take(":") && take_digits(2, m) && take(":") &&
           take_digits(2, sec);
  }
};

std::optional<int64_t> to_unix(int year, int month, int day, int h, int m, int sec) {
  // RFC 9110 allows a leap second (60); it folds into the next minute.
  if (h > 23 || m > 59 || sec > 60) return std::nullopt;
  year_month_day ymd{std::chrono::year(year), std::chrono::month(static_cast<unsigned>(month)),
                     std::chrono::day(static_cast<unsigned>(day))};
  if (!ymd.ok()) return std::nullopt;
  int64_t days = sys_days(ymd).time_since_epoch().count();
  return days * 86400 + h * 3600 + m * 60 + sec;
}

}  // namespace

std::string format_timestamp(int64_t unix_seconds) {
  // Floor division, so times before 1970 land on the right day.
  int64_t days = unix_seconds / 86400;
  int64_t secs = unix_seconds % 86400;
  if (secs < 0) {
    secs += 86400;
    --days;
  }
  sys_days day_point{std::chrono::days(days)};
  year_month_day ymd{day_point};
  weekday wd{day_point};
  std::string out;
  out.reserve(29);
  out.append(kDays[wd.c_encoding()]).append(", ");
  append_2(out, static_cast<unsigned>(ymd.day()));
  out.append(" ").append(kMonths[static_cast<unsigned>(ymd.month()) - 1]).append(" ");
  int year = static_cast<int>(ymd.year());
  out.append(std::to_string(year));
  out.push_back(' ');
  append_2(out, static_cast<unsigned>(secs / 3600));
  out.push_back(':');
  append_2(out, static_cast<unsigned>(secs / 60 % 60));
  out.push_back(':');
  append_2(out, static_cast<unsigned>(secs % 60));
  out.append(" GMT");
  return out;
}

std::string format_timestamp(system_clock::time_point t) {
  return format_timestamp(
      static_cast<int64_t>(std::floor(duration<double>(t.time_since_epoch()).count())));
}

std::optional<int64_t> parse_http_date(std::string_view text) {
  int year = 0, month = 0, day = 0, h = 0, m = 0, sec = 0;
  // IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT"
  for (std::string_view name : kDays) {
    Cursor c{text};
    if (c.take(name) && c.take(", ") && c.take_digits(2, day) && c.take(" ") &&
        c.take_month(month) && c.take(" ") && c.take_digits(4, year) && c.take(" ") &&
        c.take_time(h, m, sec) && c.take(" GMT") && c.s.empty()) {
      return to_unix(year, month, day, h, m, sec);
    }
  }
  // RFC 850: "Sunday, 06-Nov-94 08:49:37 GMT"
  for (std::string_view name : kLongDays) {
    Cursor c{text};
    if (c.take(name) && c.take(", ") && c.take_digits(2, day) && c.take("-") &&
        c.take_month(month) && c.take("-") && c.take_digits(2, year) && c.take(" ") &&
        c.take_time(h, m, sec) && c.take(" GMT") && c.s.empty()) {
      // RFC 9110 5.6.7: a two-digit year more than 50 years in the future is in the past.
      int now_year = static_cast<int>(
          year_month_day{floor<std::chrono::days>(system_clock::now())}.year());
      int full = now_year / 100 * 100 + year;
      if (full > now_year + 50) full -= 100;
      return to_unix(full, month, day, h, m, sec);
    }
  }
  // asctime: "Sun Nov  6 08:49:37 1994" (day padded with a space)
  for (std::string_view name : kDays) {
    Cursor c{text};
    if (c.take(name) && c.take(" ") && c.take_month(month) && c.take(" ") &&
        (c.take(" ") ? c.take_digits(1, day) : c.take_digits(2, day)) && c.take(" ") &&
        c.take_time(h, m, sec) && c.take(" ") && c.take_digits(4, year) && c.s.empty()) {
      return to_unix(year, month, day, h, m, sec);
    }
  }
  return std::nullopt;
}

}  // namespace tornado::httputil
