// tornado/log.h — Tornado's three loggers, on spdlog.
//
//   access_log()  "tornado.access": one line per HTTP request.
//   app_log()     "tornado.application": errors from application code (uncaught
//                 exceptions in handlers and callbacks, failures nobody retrieved).
//   gen_log()     "tornado.general": everything else (protocol errors, bad input).
//
//   app_log().error("could not open {}: {}", path, why);
//
// All three write to one stderr sink in Tornado's LogFormatter shape:
//   [I 261122 12:00:00 tornado.access] 200 GET / (127.0.0.1) 0.31ms
// with the bracketed prefix coloured by level when stderr is a terminal, plain otherwise.
// Thread rule: any thread (spdlog's loggers are thread-safe).
#pragma once

#include <spdlog/spdlog.h>

#include <memory>
#include <string>

namespace tornado {

spdlog::logger& access_log();
spdlog::logger& app_log();
spdlog::logger& gen_log();

// Sets the level of all three loggers ("debug", "info", "warning", "error", "none").
// Throws std::invalid_argument on an unknown name. Default: info.
void set_logging_level(const std::string& level);

// Replaces the sink of all three loggers (tests capture output this way; ExpectLog uses it).
void set_log_sink(std::shared_ptr<spdlog::sinks::sink> sink);
// Adds a sink beside the current ones. Removing it again: remove_log_sink.
void add_log_sink(std::shared_ptr<spdlog::sinks::sink> sink);
void remove_log_sink(const std::shared_ptr<spdlog::sinks::sink>& sink);

// The pattern Tornado's LogFormatter uses, in spdlog syntax, with or without colour.
std::string log_pattern(bool color);

}  // namespace tornado
