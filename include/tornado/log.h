// tornado/log.h — Tornado's three loggers and its log format, on spdlog (Tornado's `log`).
//
//   access_log()  "tornado.access": one line per HTTP request.
//   app_log()     "tornado.application": errors from application code (uncaught
//                 exceptions in handlers and callbacks, failures nobody retrieved).
//   gen_log()     "tornado.general": everything else (protocol errors, bad input).
//
//   app_log().error("could not open {}: {}", path, why);
//   tornado::enable_pretty_logging({.logging = "debug", .log_file_prefix = "/var/log/app.log"});
//
// Every line has the shape of Tornado's LogFormatter:
//   [I 261122 12:00:00 tornado.access] 200 GET / (127.0.0.1) 0.31ms
// the bracketed prefix coloured by level when the output is a terminal, plain otherwise;
// the continuation lines of a multi-line message (a stack, a dump) indented by 4 spaces;
// bytes that are not valid UTF-8 written as \xNN, so a bad byte never breaks a log line.
// (Tornado prints module:line where we print the logger name.)
//
// Until configured, the three loggers write to stderr at level info.
//
// Thread rule: logging from any thread (spdlog's loggers are thread-safe). Configuration
// (enable_pretty_logging, set_log_sink, add_log_sink, remove_log_sink, set_logging_level)
// should happen before other threads log: spdlog does not lock a logger's sink list.
#pragma once

#include <spdlog/formatter.h>
#include <spdlog/spdlog.h>

#include <cstddef>
#include <memory>
#include <optional>
#include <string>

namespace tornado {

spdlog::logger& access_log();
spdlog::logger& app_log();
spdlog::logger& gen_log();

// Tornado's LogFormatter as an spdlog formatter; put it on any sink with set_formatter().
// With `color`, the prefix is wrapped in the ANSI colour of the level (Tornado's colours:
// debug blue, info green, warning yellow, error red, critical magenta). The time is local.
class LogFormatter final : public spdlog::formatter {
 public:
  explicit LogFormatter(bool color = false) : color_(color) {}

  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override;
  std::unique_ptr<spdlog::formatter> clone() const override;

  bool color() const noexcept { return color_; }

 private:
  bool color_;
  // The "yymmdd HH:MM:SS" text of the last second formatted: localtime_r is not free.
  long long cached_second_ = -1;
  char cached_time_[16] = {};
};

// True when `fd` is a terminal that can show colours (a tty, TERM set and not "dumb").
bool stream_supports_color(int fd);

// A stderr sink with the LogFormatter, coloured when stderr supports it. What the loggers
// use until configured otherwise, and what testing.h forwards unclaimed records to.
std::shared_ptr<spdlog::sinks::sink> make_stderr_sink();

// Parses Tornado's level names, case-insensitively: "debug", "info", "warning" (or
// "warn"), "error", "critical", "none" (everything off). Throws std::invalid_argument.
spdlog::level::level_enum parse_logging_level(const std::string& level);

// Sets the level of all three loggers. Throws std::invalid_argument on an unknown name.
void set_logging_level(const std::string& level);

// Replaces the sinks of all three loggers (tests capture output this way; ExpectLog uses it).
void set_log_sink(std::shared_ptr<spdlog::sinks::sink> sink);
// Adds a sink beside the current ones. Removing it again: remove_log_sink.
void add_log_sink(std::shared_ptr<spdlog::sinks::sink> sink);
void remove_log_sink(const std::shared_ptr<spdlog::sinks::sink>& sink);

// The LogFormatter's shape as an spdlog pattern, for sinks that only take a pattern.
// Unlike LogFormatter it does not indent continuation lines nor escape bad UTF-8.
std::string log_pattern(bool color);

// The settings of Tornado's logging options (define_logging_options), with its defaults.
struct LoggingOptions {
  // Level name as for parse_logging_level. "none": leave the logging configuration alone.
  std::string logging = "info";
  // Log to stderr (coloured on a terminal). Unset: only if no log file is configured.
  std::optional<bool> log_to_stderr;
  // Path of the log file; empty: no file. Multiple processes need different paths.
  std::string log_file_prefix;
  // "size": rotate when the file reaches log_file_max_size bytes, keeping
  // log_file_num_backups older files (prefix.1 ... prefix.N; spdlog puts the number
  // before an extension: app.1.log); 0 in either means never rotate, as in Python.
  // "time": rotate on log_rotate_when.
  std::string log_rotate_mode = "size";
  std::size_t log_file_max_size = 100 * 1000 * 1000;
  std::size_t log_file_num_backups = 10;
  // With mode "time": "midnight" (or "D") for one file per day, "H" for one per hour;
  // spdlog names them prefix_YYYY-MM-DD[_HH]. Only log_rotate_interval 1 is supported.
  std::string log_rotate_when = "midnight";
  int log_rotate_interval = 1;
};

// Tornado's enable_pretty_logging: sets the level of the three loggers and replaces their
// sinks with a rotating log file and/or stderr, as `options` says. A file is flushed after
// every record, so nothing is lost when the process dies. Throws std::invalid_argument on
// an unknown level, rotate mode or rotate interval, and spdlog::spdlog_ex when the log
// file cannot be opened.
void enable_pretty_logging(const LoggingOptions& options = {});

}  // namespace tornado
