// Locale's formatting: format_date, format_day, list, friendly_number, and the %(name)s
// placeholders their translated formats use (Tornado's rules, translated through the locale).
#include <chrono>
#include <cmath>
#include <stdexcept>

#include <fmt/format.h>

#include "tornado/locale.h"

namespace tornado::locale {

using Values = std::map<std::string, std::string, std::less<>>;

std::string format_named(std::string_view format, const Values& values) {
  std::string out;
  out.reserve(format.size() + 16);
  std::size_t i = 0;
  while (i < format.size()) {
    const std::size_t percent = format.find('%', i);
    if (percent == std::string_view::npos) {
      out.append(format.substr(i));
      break;
    }
    out.append(format.substr(i, percent - i));
    if (percent + 1 < format.size() && format[percent + 1] == '%') {
      out.push_back('%');
      i = percent + 2;
      continue;
    }
    const std::size_t close = format.find(')', percent);
    if (percent + 1 >= format.size() || format[percent + 1] != '(' ||
        close == std::string_view::npos || close + 1 >= format.size() ||
        (format[close + 1] != 's' && format[close + 1] != 'd')) {
      throw std::invalid_argument(
          fmt::format("format_named: only %(name)s, %(name)d and %% are supported in '{}'",
                      format));
    }
    const std::string_view name = format.substr(percent + 2, close - percent - 2);
    auto it = values.find(name);
    if (it == values.end()) {
      throw std::invalid_argument(fmt::format("format_named: no value for '{}'", name));
    }
    out.append(it->second);
    i = close + 2;
  }
  return out;
}

namespace {

using namespace std::chrono;

// A Python timedelta's split: whole days (floored) and the seconds left (0..86399).
struct Delta {
  std::int64_t days;
  std::int64_t seconds;
};

Delta split(microseconds d) {
  const std::int64_t us = d.count();
  constexpr std::int64_t kDay = 86'400'000'000;
  std::int64_t days = us / kDay;
  std::int64_t rest = us % kDay;
  if (rest < 0) {
    rest += kDay;
    --days;
  }
  return {days, rest / 1'000'000};
}

struct Civil {
  int year;
  unsigned month;    // 1..12
  unsigned day;      // 1..31
  unsigned weekday;  // 0 = Monday, as Python's weekday()
  int hour;
  int minute;
};

// Dates are reckoned in microseconds (Python's resolution): a system_clock date (about
// 1678-2262) minus any int gmt_offset, or the difference of any two dates, stays far inside
// int64 microseconds, where in nanoseconds it could overflow.
using Micros = sys_time<microseconds>;

Civil civil(Micros us) {
  const auto day = floor<days>(us);
  const year_month_day ymd(day);
  const auto in_day = duration_cast<minutes>(us - day);
  return {static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
          static_cast<unsigned>(ymd.day()), (weekday(day).c_encoding() + 6) % 7,
          static_cast<int>(in_day.count() / 60), static_cast<int>(in_day.count() % 60)};
}

std::string count_text(std::int64_t n) { return std::to_string(n); }

}  // namespace

std::string Locale::format_date(double unix_seconds, const DateFormat& format) const {
  // What the clock cannot hold is refused (Python's utcfromtimestamp: OverflowError or
  // ValueError), not converted with undefined behaviour. A second inside its range.
  static const double kLimit = duration<double>(system_clock::duration::max()).count() - 1;
  if (!(std::abs(unix_seconds) < kLimit)) {
    throw std::out_of_range(fmt::format("format_date: timestamp {} out of range", unix_seconds));
  }
  const auto since_epoch = duration_cast<system_clock::duration>(
      duration<double>(std::floor(unix_seconds * 1e6) / 1e6));
  return format_date(system_clock::time_point(since_epoch), format);
}

std::string Locale::format_date(system_clock::time_point when, const DateFormat& options) const {
  const Micros now = time_point_cast<microseconds>(options.now.value_or(system_clock::now()));
  Micros date = time_point_cast<microseconds>(when);
  bool full_format = options.full_format;
  if (date > now) {
    // Tornado rounds the near future (clock skew) down to now when relative; other future
    // dates get the full format. (Its test reads timedelta.seconds: the seconds past whole
    // days, kept here.)
    if (options.relative && split(date - now).seconds < 60) {
      date = now;
    } else {
      full_format = true;
    }
  }
  const microseconds offset = minutes(options.gmt_offset);
  const Civil local_date = civil(date - offset);
  const Civil local_yesterday = civil(now - offset - hours(24));
  const Delta difference = split(now - date);
  const std::int64_t seconds = difference.seconds;
  const std::int64_t days = difference.days;

  std::string pattern;
  if (!full_format) {
    if (options.relative && days == 0) {
      if (seconds < 50) {
        return format_named(translate("1 second ago", "%(seconds)d seconds ago", seconds),
                            {{"seconds", count_text(seconds)}});
      }
      if (seconds < 50 * 60) {
        const auto n = static_cast<std::int64_t>(std::nearbyint(seconds / 60.0));
        return format_named(translate("1 minute ago", "%(minutes)d minutes ago", n),
                            {{"minutes", count_text(n)}});
      }
      const auto n = static_cast<std::int64_t>(std::nearbyint(seconds / 3600.0));
      return format_named(translate("1 hour ago", "%(hours)d hours ago", n),
                          {{"hours", count_text(n)}});
    }
    if (days == 0) {
      pattern = translate("%(time)s");
    } else if (days == 1 && local_date.day == local_yesterday.day && options.relative) {
      pattern = options.shorter ? translate("yesterday") : translate("yesterday at %(time)s");
    } else if (days < 5) {
      pattern = options.shorter ? translate("%(weekday)s") : translate("%(weekday)s at %(time)s");
    } else if (days < 334) {  // eleven months: the same month a year ago would be confusing
      pattern = options.shorter ? translate("%(month_name)s %(day)s")
                                : translate("%(month_name)s %(day)s at %(time)s");
    }
  }
  if (pattern.empty()) {
    pattern = options.shorter ? translate("%(month_name)s %(day)s, %(year)s")
                              : translate("%(month_name)s %(day)s, %(year)s at %(time)s");
  }

  std::string time;
  const int hour12 = local_date.hour % 12 == 0 ? 12 : local_date.hour % 12;
  if (code_ == "zh_CN") {
    time = fmt::format("{}{}:{:02}", local_date.hour >= 12 ? "\u4e0b\u5348" : "\u4e0a\u5348",
                       hour12, local_date.minute);
  } else if (code_ == "en" || code_ == "en_US") {
    time = fmt::format("{}:{:02} {}", hour12, local_date.minute,
                       local_date.hour >= 12 ? "pm" : "am");
  } else {
    time = fmt::format("{}:{:02}", local_date.hour, local_date.minute);
  }
  return format_named(pattern, {{"month_name", months_[local_date.month - 1]},
                                {"weekday", weekdays_[local_date.weekday]},
                                {"day", std::to_string(local_date.day)},
                                {"year", std::to_string(local_date.year)},
                                {"time", time}});
}

std::string Locale::format_day(system_clock::time_point date, int gmt_offset, bool dow) const {
  const Civil local_date =
      civil(time_point_cast<microseconds>(date) - microseconds(minutes(gmt_offset)));
  if (dow) {
    return format_named(translate("%(weekday)s, %(month_name)s %(day)s"),
                        {{"month_name", months_[local_date.month - 1]},
                         {"weekday", weekdays_[local_date.weekday]},
                         {"day", std::to_string(local_date.day)}});
  }
  return format_named(translate("%(month_name)s %(day)s"),
                      {{"month_name", months_[local_date.month - 1]},
                       {"day", std::to_string(local_date.day)}});
}

std::string Locale::list(std::span<const std::string> parts) const {
  if (parts.empty()) return "";
  if (parts.size() == 1) return parts[0];
  const std::string_view comma = code_.starts_with("fa") ? " \u0648 " : ", ";
  std::string commas;
  for (std::size_t i = 0; i + 1 < parts.size(); ++i) {
    if (i) commas.append(comma);
    commas.append(parts[i]);
  }
  return format_named(translate("%(commas)s and %(last)s"),
                      {{"commas", commas}, {"last", parts.back()}});
}

std::string Locale::list(std::initializer_list<std::string_view> parts) const {
  std::vector<std::string> owned(parts.begin(), parts.end());
  return list(std::span<const std::string>(owned));
}

std::string Locale::friendly_number(std::int64_t value) const {
  std::string digits = std::to_string(value);
  if (code_ != "en" && code_ != "en_US") return digits;
  const std::size_t sign = value < 0 ? 1 : 0;  // Tornado would write "-,100"; the sign stays put
  std::string out = digits.substr(0, sign);
  const std::size_t n = digits.size() - sign;
  for (std::size_t i = 0; i < n; ++i) {
    if (i && (n - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[sign + i]);
  }
  return out;
}

}  // namespace tornado::locale
