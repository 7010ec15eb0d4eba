#include "tornado/log.h"

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/daily_file_sink.h>
#include <spdlog/sinks/hourly_file_sink.h>
#include <spdlog/sinks/rotating_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <mutex>
#include <stdexcept>
#include <string_view>
#include <vector>

#include "tornado/hot.h"

namespace tornado {
namespace {

struct Loggers {
  std::shared_ptr<spdlog::logger> access, app, general;

  Loggers() {
    auto sink = make_stderr_sink();
    access = make("tornado.access", sink);
    app = make("tornado.application", sink);
    general = make("tornado.general", sink);
  }
  static std::shared_ptr<spdlog::logger> make(const std::string& name,
                                              std::shared_ptr<spdlog::sinks::sink> sink) {
    auto logger = std::make_shared<spdlog::logger>(name, std::move(sink));
    logger->set_level(spdlog::level::info);
    return logger;
  }
  template <typename F>
  void each(F f) {
    f(*access);
    f(*app);
    f(*general);
  }
};

Loggers& loggers() {
  static Loggers instance;
  return instance;
}
std::mutex sink_mutex;  // spdlog's sink vectors are not safe to change concurrently

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// The ANSI foreground colour of a level, as Tornado's DEFAULT_COLORS; none for trace/off.
std::string_view color_of(spdlog::level::level_enum level) {
  switch (level) {
    case spdlog::level::debug: return "\033[34m";     // blue
    case spdlog::level::info: return "\033[32m";      // green
    case spdlog::level::warn: return "\033[33m";      // yellow
    case spdlog::level::err: return "\033[31m";       // red
    case spdlog::level::critical: return "\033[35m";  // magenta
    default: return {};
  }
}
constexpr std::string_view kNormal = "\033[0m";

void append(spdlog::memory_buf_t& dest, std::string_view s) {
  dest.append(s.data(), s.data() + s.size());
}

// Length of the well-formed UTF-8 sequence starting at s[i] (Unicode table 3-7: no
// overlong forms, no surrogates, nothing above U+10FFFF), or 0 if it is not one.
std::size_t utf8_sequence_length(std::string_view s, std::size_t i) {
  auto byte = [&](std::size_t k) -> unsigned {
    return i + k < s.size() ? static_cast<unsigned char>(s[i + k]) : 0x100;
  };
  auto in = [](unsigned b, unsigned lo, unsigned hi) { return b >= lo && b <= hi; };
  unsigned b0 = byte(0);
  if (b0 < 0x80) return 1;
  if (in(b0, 0xC2, 0xDF)) return in(byte(1), 0x80, 0xBF) ? 2 : 0;
  if (in(b0, 0xE0, 0xEF)) {
    unsigned lo = b0 == 0xE0 ? 0xA0 : 0x80;
    unsigned hi = b0 == 0xED ? 0x9F : 0xBF;
    return in(byte(1), lo, hi) && in(byte(2), 0x80, 0xBF) ? 3 : 0;
  }
  if (in(b0, 0xF0, 0xF4)) {
    unsigned lo = b0 == 0xF0 ? 0x90 : 0x80;
    unsigned hi = b0 == 0xF4 ? 0x8F : 0xBF;
    return in(byte(1), lo, hi) && in(byte(2), 0x80, 0xBF) && in(byte(3), 0x80, 0xBF) ? 4 : 0;
  }
  return 0;
}

// Appends the message: continuation lines indented by 4 spaces, each byte that is not
// part of well-formed UTF-8 written as \xNN (the readable rest of the line survives).
void append_message(spdlog::memory_buf_t& dest, std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.remove_suffix(1);
  static constexpr char kHex[] = "0123456789abcdef";
  std::size_t i = 0;
  while (i < text.size()) {
    char c = text[i];
    if (c == '\n') {
      append(dest, "\n    ");
      ++i;
      continue;
    }
    std::size_t n = utf8_sequence_length(text, i);
    if (n == 0) {
      auto b = static_cast<unsigned char>(c);
      const char escaped[] = {'\\', 'x', kHex[b >> 4], kHex[b & 0xF]};
      dest.append(escaped, escaped + sizeof escaped);
      ++i;
    } else {
      dest.append(text.data() + i, text.data() + i + n);
      i += n;
    }
  }
}

// The log file sink for `o` (validated; throws std::invalid_argument).
std::shared_ptr<spdlog::sinks::sink> make_file_sink(const LoggingOptions& o) {
  const std::string mode = lower(o.log_rotate_mode);
  if (mode == "size") {
    // As Python's RotatingFileHandler: a zero size or backup count means never rotate.
    if (o.log_file_max_size == 0 || o.log_file_num_backups == 0) {
      return std::make_shared<spdlog::sinks::basic_file_sink_mt>(o.log_file_prefix);
    }
    return std::make_shared<spdlog::sinks::rotating_file_sink_mt>(
        o.log_file_prefix, o.log_file_max_size, o.log_file_num_backups);
  }
  if (mode == "time") {
    if (o.log_rotate_interval != 1) {
      throw std::invalid_argument("log_rotate_interval " + std::to_string(o.log_rotate_interval) +
                                  " is not supported: only 1 (with log_rotate_when midnight or H)");
    }
    const std::string when = lower(o.log_rotate_when);
    auto backups = static_cast<uint16_t>(std::min<std::size_t>(o.log_file_num_backups, 65535));
    if (when == "midnight") {
      return std::make_shared<spdlog::sinks::daily_file_sink_mt>(o.log_file_prefix, 0, 0, false,
                                                                 backups);
    }
    if (when == "h") {
      return std::make_shared<spdlog::sinks::hourly_file_sink_mt>(o.log_file_prefix, false,
                                                                  backups);
    }
    throw std::invalid_argument("log_rotate_when must be \"midnight\" or \"H\", not \"" +
                                o.log_rotate_when + "\"");
  }
  throw std::invalid_argument("log_rotate_mode must be \"size\" or \"time\", not \"" +
                              o.log_rotate_mode + "\"");
}

}  // namespace

TORNADO_HOT spdlog::logger& access_log() { return *loggers().access; }
spdlog::logger& app_log() { return *loggers().app; }
spdlog::logger& gen_log() { return *loggers().general; }

void LogFormatter::format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) {
  std::string_view color = color_ ? color_of(msg.level) : std::string_view{};
  append(dest, color);
  dest.push_back('[');
  append(dest, spdlog::level::to_short_c_str(msg.level));
  dest.push_back(' ');
  const long long second =
      std::chrono::duration_cast<std::chrono::seconds>(msg.time.time_since_epoch()).count();
  if (second != cached_second_) {
    std::time_t t = static_cast<std::time_t>(second);
    std::tm tm{};
    localtime_r(&t, &tm);
    std::strftime(cached_time_, sizeof cached_time_, "%y%m%d %H:%M:%S", &tm);
    cached_second_ = second;
  }
  append(dest, cached_time_);
  dest.push_back(' ');
  append(dest, std::string_view(msg.logger_name.data(), msg.logger_name.size()));
  dest.push_back(']');
  if (!color.empty()) append(dest, kNormal);
  dest.push_back(' ');
  append_message(dest, std::string_view(msg.payload.data(), msg.payload.size()));
  append(dest, spdlog::details::os::default_eol);
}

std::unique_ptr<spdlog::formatter> LogFormatter::clone() const {
  return std::make_unique<LogFormatter>(color_);
}

bool stream_supports_color(int fd) {
  if (isatty(fd) == 0) return false;
  const char* term = std::getenv("TERM");
  return term != nullptr && *term != '\0' && std::string_view(term) != "dumb";
}

std::shared_ptr<spdlog::sinks::sink> make_stderr_sink() {
  auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  sink->set_formatter(std::make_unique<LogFormatter>(stream_supports_color(STDERR_FILENO)));
  return sink;
}

std::string log_pattern(bool color) {
  // Tornado: "[%(levelname)1.1s %(asctime)s %(module)s:%(lineno)d] %(message)s",
  // datefmt "%y%m%d %H:%M:%S"; the logger name stands in for module:line.
  return color ? "%^[%L %C%m%d %H:%M:%S %n]%$ %v" : "[%L %C%m%d %H:%M:%S %n] %v";
}

spdlog::level::level_enum parse_logging_level(const std::string& level) {
  const std::string name = lower(level);
  if (name == "debug") return spdlog::level::debug;
  if (name == "info") return spdlog::level::info;
  if (name == "warning" || name == "warn") return spdlog::level::warn;
  if (name == "error") return spdlog::level::err;
  if (name == "critical") return spdlog::level::critical;
  if (name == "none") return spdlog::level::off;
  throw std::invalid_argument("unknown logging level \"" + level +
                              "\" (expected debug, info, warning, error, critical or none)");
}

void set_logging_level(const std::string& level) {
  spdlog::level::level_enum lv = parse_logging_level(level);
  loggers().each([lv](spdlog::logger& l) { l.set_level(lv); });
}

void set_log_sink(std::shared_ptr<spdlog::sinks::sink> sink) {
  std::lock_guard lock(sink_mutex);
  loggers().each([&](spdlog::logger& l) { l.sinks() = {sink}; });
}

void add_log_sink(std::shared_ptr<spdlog::sinks::sink> sink) {
  std::lock_guard lock(sink_mutex);
  loggers().each([&](spdlog::logger& l) { l.sinks().push_back(sink); });
}

void remove_log_sink(const std::shared_ptr<spdlog::sinks::sink>& sink) {
  std::lock_guard lock(sink_mutex);
  loggers().each([&](spdlog::logger& l) { std::erase(l.sinks(), sink); });
}

void enable_pretty_logging(const LoggingOptions& options) {
  if (lower(options.logging) == "none") return;  // Tornado: "none" leaves logging alone
  // Everything that can fail happens before the loggers change.
  const spdlog::level::level_enum level = parse_logging_level(options.logging);
  std::vector<spdlog::sink_ptr> sinks;
  if (!options.log_file_prefix.empty()) {
    auto file = make_file_sink(options);
    file->set_formatter(std::make_unique<LogFormatter>(false));
    sinks.push_back(std::move(file));
  }
  if (options.log_to_stderr.value_or(sinks.empty())) sinks.push_back(make_stderr_sink());
  // A file is flushed on every record, as Python's FileHandler does; stderr always is.
  const auto flush_level =
      options.log_file_prefix.empty() ? spdlog::level::off : spdlog::level::trace;
  std::lock_guard lock(sink_mutex);
  loggers().each([&](spdlog::logger& l) {
    l.sinks() = sinks;
    l.set_level(level);
    l.flush_on(flush_level);
  });
}

}  // namespace tornado
