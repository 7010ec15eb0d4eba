#include "tornado/log.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <unistd.h>

#include <algorithm>
#include <mutex>
#include <stdexcept>

namespace tornado {
namespace {

struct Loggers {
  std::shared_ptr<spdlog::logger> access, app, general;

  Loggers() {
    auto sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
    sink->set_pattern(log_pattern(isatty(STDERR_FILENO) != 0));
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

}  // namespace

spdlog::logger& access_log() { return *loggers().access; }
spdlog::logger& app_log() { return *loggers().app; }
spdlog::logger& gen_log() { return *loggers().general; }

std::string log_pattern(bool color) {
  // Tornado: "[%(levelname)1.1s %(asctime)s %(module)s:%(lineno)d] %(message)s",
  // datefmt "%C%m%d %H:%M:%S"; the logger name stands in for module:line.
  return color ? "%^[%L %C%m%d %H:%M:%S %n]%$ %v" : "[%L %C%m%d %H:%M:%S %n] %v";
}

void set_logging_level(const std::string& level) {
  spdlog::level::level_enum lv;
  if (level == "debug") lv = spdlog::level::debug;
  else if (level == "info") lv = spdlog::level::info;
  else if (level == "warning" || level == "warn") lv = spdlog::level::warn;
  else if (level == "error") lv = spdlog::level::err;
  else if (level == "critical") lv = spdlog::level::critical;
  else if (level == "none") lv = spdlog::level::off;
  else throw std::invalid_argument("unknown logging level: " + level);
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

}  // namespace tornado
